/*-------------------------------------------------------------------------
 *
 * batch_worker.h
 *	  The batch worker's parts: batch_worker.c (the run: snapshot, targets,
 *	  full, incremental and reconcile, isolation) and batch_catalog.c
 *	  (every statement on ecsync's catalog).
 *
 *-------------------------------------------------------------------------
 */
#ifndef ECSYNC_BATCH_WORKER_H
#define ECSYNC_BATCH_WORKER_H

#include "nodes/pg_list.h"
#include "portability/instr_time.h"
#include "utils/elog.h"
#include "utils/timestamp.h"

#include "ecsync.h"

/* a registered table, as read from ecsync.sync_tables */
typedef struct SyncTable
{
	int32		id;
	char	   *server;
	char	   *source_db;		/* NULL: the server's database */
	char	   *source_table;
	char	   *target_schema;
	char	   *target_table;
	bool		incremental;
	bool		cdc;			/* mode 'cdc': copied by a snapshot run only */
	bool		cdc_copied_before;	/* ... and this copy is not its first: the
									 * target follows MySQL's new columns */
	List	   *key_columns;	/* of char *, NIL: MySQL primary key */
	char	   *cursor_column;
	int64		lookback_secs;
	char	   *watermark;
	char	   *reread_from;	/* non-temporal cursor: the last run's start */
	List	   *columns;		/* of char *, NIL: all */
	List	   *exclude_columns;	/* of char * */
} SyncTable;

/* batch_catalog.c */
extern int64 bc_start_run(const BatchRequest *req);
extern void bc_record_failure(int64 run_id, ErrorData *edata);
extern char *bc_error_text(ErrorData *edata);
extern List *bc_load_tables(int32 only_table, Oid owner, bool incremental_only,
							 const char *cdc_server);
struct bs_pos;
extern void bc_store_cdc_snapshot(SyncTable *t, const struct bs_pos *pos);
extern char *bc_other_run(void);
extern void bc_record_table(int64 run_id, SyncTable *t, const char *mode, bool binary,
							uint64 rows_read, uint64 rows_written, instr_time start);
extern void bc_record_table_status(int64 run_id, SyncTable *t, const char *mode, bool binary,
								   uint64 rows_read, uint64 rows_written, instr_time start,
								   const char *status, const char *note);
extern void bc_record_table_failure(int64 run_id, int32 table_id, const char *name,
									const char *error, double seconds);
extern bool bc_claim_snapshot(SyncTable *t, TimestampTz before, TimestampTz after);
extern void bc_store_watermark(SyncTable *t, const char *watermark);
extern void bc_finish_run(int64 run_id, const char *status, const char *error);

/* foreign_keys.c */
struct ms_conn;
extern void fk_carry(SyncTable *t, struct ms_conn *conn, const char *db, const char *server_db);
extern bool fk_touched(Oid relid);
extern List *fk_detach_incoming(Oid relid);
extern void fk_attach(List *readd);
extern void fk_replica_mode(void);

#endif							/* ECSYNC_BATCH_WORKER_H */
