/*-------------------------------------------------------------------------
 *
 * cdc_catalog.h
 *	  Every statement the change-capture worker runs on ecsync's catalog
 *	  (cdc_catalog.c).  Uses the state (cdc_state.h) only.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ECSYNC_CDC_CATALOG_H
#define ECSYNC_CDC_CATALOG_H

#include "cdc_state.h"

extern void cc_begin(void);
extern void cc_commit(void);
extern bool cc_load(void);
extern void cc_save_group(void);
extern void cc_set_start_position(void);
extern void cc_save_gtid_state(void);
extern bool cc_switched_server(const bs_pos *old_pos, const bs_pos *new_pos, const char *uuid);
extern void cc_resnapshot_table(CdcTable *t, const char *why);
extern void cc_record_error(const char *msg, int32 pause_table);
extern void cc_save_stats(bs_pos *server_pos, int64 lag_bytes);
extern void cc_save_cascade_note(CdcTable *t, const char *note);
extern void cc_snapshot_result(pid_t pid, char **error);

#endif							/* ECSYNC_CDC_CATALOG_H */
