/*-------------------------------------------------------------------------
 *
 * cdc_state.c
 *	  The change-capture worker's state (cdc_state.h): the one CdcWorker
 *	  of the process, and lookups in its tables.  The bottom of the
 *	  worker's parts: it calls none of them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "cdc_state.h"

CdcWorker	cw;

CdcTable *
cdc_tracked(const char *db, const char *table)
{
	for (int i = 0; i < cw.ntables; i++)
		if (strcmp(cw.tables[i].source_db, db) == 0 && strcmp(cw.tables[i].source_table, table) == 0)
			return &cw.tables[i];
	return NULL;
}

bool
cdc_after_snapshot(CdcTable *t, const bs_pos *at)
{
	return bs_pos_cmp(at, &t->from) > 0;
}
