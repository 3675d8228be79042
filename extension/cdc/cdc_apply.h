/*-------------------------------------------------------------------------
 *
 * cdc_apply.h
 *	  Row images applied to the targets, in groups of whole source
 *	  transactions (cdc_apply.c).  Uses the state and the catalog.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ECSYNC_CDC_APPLY_H
#define ECSYNC_CDC_APPLY_H

#include "cdc_state.h"

extern void cdc_open_tables(ms_conn *conn);
extern void cdc_before_statement(CdcTable *t);
extern void cdc_cascaded(CdcTable *t, bool deleted, int64 rows);
extern void cdc_group_begin(void);
extern void cdc_group_commit(void);
extern bool cdc_table_map(CdcTable *t, const br_table *bt, const bs_pos *at);
extern void cdc_apply_rows(CdcTable *t, const br_table *bt, const br_rows *r, const bs_pos *at);
extern void cdc_truncate(CdcTable *t, const bs_pos *at);
extern void cdc_pause(CdcTable *t, const char *fmt,...) pg_attribute_printf(2, 3);
extern CdcTable *cdc_applying;	/* the table whose row is being applied */

#endif							/* ECSYNC_CDC_APPLY_H */
