/*-------------------------------------------------------------------------
 *
 * cdc_cascade.h
 *	  The foreign-key cascades MySQL ran but did not log (cdc_cascade.c),
 *	  applied through the apply.  Uses the state, the catalog and the apply.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ECSYNC_CDC_CASCADE_H
#define ECSYNC_CDC_CASCADE_H

#include "cdc_state.h"

extern void cdc_cascades_load(ms_conn *conn, const bs_source *src);
extern bool cdc_cascade_parent(const char *db, const char *table);
extern void cdc_cascade_row(const br_table *bt, const br_image *before, const br_image *after,
							const bs_pos *at);
extern void cdc_cascade_rows(const br_table *bt, const br_rows *r, const bs_pos *at);

#endif							/* ECSYNC_CDC_CASCADE_H */
