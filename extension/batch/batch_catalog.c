/*-------------------------------------------------------------------------
 *
 * batch_catalog.c
 *	  Every statement the batch worker runs on ecsync's catalog: the run's
 *	  record (started, failed, finished), the registrations it syncs, each
 *	  table's result, watermark and snapshot.  The worker runs as the
 *	  registrations' owner, who may only read the catalog: these statements
 *	  run as the catalog's owner (ecsync_catalog_enter).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"

#include "batch_worker.h"
#include "binlog_source.h"

/*
 * catalog_spi runs one of ecsync's own statements on its catalog, as the
 * catalog's owner: the worker itself runs as the registrations' owner,
 * who may only read its own rows there.
 */
static int
catalog_spi(const char *sql, int nargs, Oid *types, Datum *values,
			const char *nulls, bool read_only, long count)
{
	CatalogAccess saved;
	int			rc;

	ecsync_catalog_enter(&saved);
	rc = SPI_execute_with_args(sql, nargs, types, values, nulls, read_only, count);
	ecsync_catalog_leave(&saved);
	return rc;
}

static char *
spi_getstr(int row, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}


/* ------------------------------------------------------------------ runs */

/*
 * bc_start_run marks runs whose worker is gone as failed and inserts this
 * run, committed, so that other sessions see it while it works.
 */
int64
bc_start_run(const BatchRequest *req)
{
	Datum		args[5];
	Oid			types[5] = {NAMEOID, INT4OID, INT4OID, OIDOID, TEXTOID};
	char		nulls[5] = {' ', ' ', req->only_table ? ' ' : 'n', ' ', ' '};
	int64		run_id;
	bool		isnull;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "ecsync batch: starting");

	/* a run whose worker is gone failed (whoever may see that worker) */
	if (catalog_spi("UPDATE ecsync.runs SET status = 'failed', finished_at = clock_timestamp(), "
					"error = 'the batch worker exited unexpectedly (see the server log)' "
					"WHERE status = 'running' AND NOT ecsync.batch_worker_alive(worker_pid)",
					0, NULL, NULL, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not mark the runs of exited workers");

	/* a name Datum is a whole NameData (64 bytes), not a C string */
	args[0] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(req->requested_by, false)));
	args[1] = Int32GetDatum(MyProcPid);
	args[2] = Int32GetDatum(req->only_table);
	args[3] = ObjectIdGetDatum(req->userid);
	/* as the worker runs it: a reconciliation is always one transaction */
	args[4] = CStringGetTextDatum(req->per_table && !req->reconcile ? "table" : "run");
	if (catalog_spi("INSERT INTO ecsync.runs (requested_by, worker_pid, only_table, owner, isolation) "
					"VALUES ($1, $2, $3, $4, $5) RETURNING run_id",
					5, types, args, nulls, false, 1) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not record the run");
	run_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										 SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	return run_id;
}

/*
 * bc_record_failure stores the error of a failed run, in its own
 * transaction: its message, detail and hint apart, as PostgreSQL raised
 * them (ecsync_run_batch() raises them again as they were).
 */
void
bc_record_failure(int64 run_id, ErrorData *edata)
{
	Datum		args[5];
	Oid			types[5] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	char		nulls[5] = {' ', ' ', edata->detail ? ' ' : 'n', edata->hint ? ' ' : 'n',
	edata->context ? ' ' : 'n'};

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	args[0] = Int64GetDatum(run_id);
	args[1] = CStringGetTextDatum(edata->message ? edata->message : "unknown error");
	args[2] = edata->detail ? CStringGetTextDatum(edata->detail) : (Datum) 0;
	args[3] = edata->hint ? CStringGetTextDatum(edata->hint) : (Datum) 0;
	args[4] = edata->context ? CStringGetTextDatum(edata->context) : (Datum) 0;
	if (catalog_spi("UPDATE ecsync.runs SET status = 'failed', finished_at = clock_timestamp(), "
					"error = $2, error_detail = $3, error_hint = $4, error_context = $5 WHERE run_id = $1",
					5, types, args, nulls, false, 0) != SPI_OK_UPDATE)
		elog(WARNING, "could not record the failure of ecsync run " INT64_FORMAT, run_id);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/* ecsync_text_array_to_list: a text[]'s non-NULL elements, as C strings */
List *
ecsync_text_array_to_list(Datum d)
{
	ArrayType  *arr = DatumGetArrayTypeP(d);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	List	   *out = NIL;

	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (!nulls[i])
			out = lappend(out, TextDatumGetCString(elems[i]));
	return out;
}

/*
 * bc_load_tables reads the enabled tables the run's role registered (or
 * only the one asked for, which is that role's)
 */
List *
bc_load_tables(int32 only_table, Oid owner, bool incremental_only, const char *cdc_server)
{
	Datum		args[4] = {Int32GetDatum(only_table), ObjectIdGetDatum(owner),
	BoolGetDatum(incremental_only), CStringGetTextDatum(cdc_server ? cdc_server : "")};
	Oid			types[4] = {INT4OID, OIDOID, BOOLOID, TEXTOID};
	List	   *tables = NIL;

	/*
	 * A run syncs the full and incremental tables; a cdc table is copied
	 * only by its server's snapshot run (asked for by the change-capture
	 * worker), and only while it waits for one.
	 */
	if (catalog_spi("SELECT id, server_name, source_database, source_table, "
					"target_schema, target_table, mode = 'incremental', key_columns, "
					"cursor_column, extract(epoch FROM lookback)::bigint, watermark, "
					"columns, exclude_columns, reread_from, mode = 'cdc', "
					"EXISTS (SELECT 1 FROM ecsync.cdc_tables c WHERE c.sync_table_id = t.id "
					"AND c.snapshot_at IS NOT NULL) "
					"FROM ecsync.sync_tables t WHERE enabled AND owner = $2 AND ($1 = 0 OR id = $1) "
					"AND (NOT $3 OR mode = 'incremental') "
					"AND CASE WHEN $4 = '' THEN mode <> 'cdc' "
					"ELSE mode = 'cdc' AND server_name = $4 AND EXISTS (SELECT 1 FROM ecsync.cdc_tables c "
					"WHERE c.sync_table_id = t.id AND c.state = 'snapshot') END ORDER BY id",
					4, types, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read ecsync.sync_tables");

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		SyncTable  *t = palloc0(sizeof(SyncTable));
		bool		isnull;
		Datum		d;

		t->id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		t->server = spi_getstr(i, 2);
		t->source_db = spi_getstr(i, 3);
		t->source_table = spi_getstr(i, 4);
		t->target_schema = spi_getstr(i, 5);
		t->target_table = spi_getstr(i, 6);
		t->incremental = DatumGetBool(SPI_getbinval(tup, desc, 7, &isnull));
		d = SPI_getbinval(tup, desc, 8, &isnull);
		t->key_columns = isnull ? NIL : ecsync_text_array_to_list(d);
		t->cursor_column = spi_getstr(i, 9);
		t->lookback_secs = DatumGetInt64(SPI_getbinval(tup, desc, 10, &isnull));
		t->watermark = spi_getstr(i, 11);
		d = SPI_getbinval(tup, desc, 12, &isnull);
		t->columns = isnull ? NIL : ecsync_text_array_to_list(d);
		d = SPI_getbinval(tup, desc, 13, &isnull);
		t->exclude_columns = isnull ? NIL : ecsync_text_array_to_list(d);
		t->reread_from = spi_getstr(i, 14);
		t->cdc = DatumGetBool(SPI_getbinval(tup, desc, 15, &isnull));
		t->cdc_copied_before = DatumGetBool(SPI_getbinval(tup, desc, 16, &isnull));
		tables = lappend(tables, t);
	}
	return tables;
}


/* bc_record_table stores one table's result of the run */
void
bc_record_table(int64 run_id, SyncTable *t, const char *mode, bool binary,
			 uint64 rows_read, uint64 rows_written, instr_time start)
{
	bc_record_table_status(run_id, t, mode, binary, rows_read, rows_written, start,
						"succeeded", NULL);
}

void
bc_record_table_status(int64 run_id, SyncTable *t, const char *mode, bool binary,
					uint64 rows_read, uint64 rows_written, instr_time start,
					const char *status, const char *note)
{
	instr_time	elapsed;
	Datum		args[10];
	Oid			types[10] = {INT8OID, INT4OID, TEXTOID, TEXTOID, INT8OID, INT8OID, FLOAT8OID, TEXTOID,
	TEXTOID, TEXTOID};
	char		nulls[10] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', note ? ' ' : 'n'};

	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);
	args[0] = Int64GetDatum(run_id);
	args[1] = Int32GetDatum(t->id);
	args[2] = CStringGetTextDatum(psprintf("%s.%s", t->target_schema, t->target_table));
	args[3] = CStringGetTextDatum(mode);
	args[4] = Int64GetDatum((int64) rows_read);
	args[5] = Int64GetDatum((int64) rows_written);
	args[6] = Float8GetDatum(INSTR_TIME_GET_DOUBLE(elapsed));
	args[7] = CStringGetTextDatum(binary ? "binary" : "text");
	args[8] = CStringGetTextDatum(status);
	args[9] = note ? CStringGetTextDatum(note) : (Datum) 0;
	if (catalog_spi("INSERT INTO ecsync.run_tables (run_id, sync_table_id, table_name, "
					"mode, rows_read, rows_written, seconds, copy_format, status, error) "
					"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
					10, types, args, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record table results");
}


/*
 * bc_claim_snapshot records that the table is synced from sc's snapshot,
 * unless a run that committed since this one began synced it from a
 * snapshot certainly newer (taken after this one was): the older data
 * must not overwrite it, nor move its watermark back.  Called holding the
 * table's lock; reads the committed state.
 */
bool
bc_claim_snapshot(SyncTable *t, TimestampTz before, TimestampTz after)
{
	Datum		args[3] = {Int32GetDatum(t->id), TimestampTzGetDatum(before),
	TimestampTzGetDatum(after)};
	Oid			types[3] = {INT4OID, TIMESTAMPTZOID, TIMESTAMPTZOID};

	if (catalog_spi("UPDATE ecsync.sync_tables SET snapshot_before = $2 "
					"WHERE id = $1 AND (snapshot_before IS NULL OR snapshot_before < $3)",
					3, types, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record the snapshot of table %s.%s", t->target_schema, t->target_table);
	return SPI_processed == 1;
}


/* bc_finish_run records the run's outcome in the current transaction */
void
bc_finish_run(int64 run_id, const char *status, const char *error)
{
	Datum		args[3] = {Int64GetDatum(run_id), CStringGetTextDatum(status),
	error ? CStringGetTextDatum(error) : (Datum) 0};
	Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
	char		nulls[3] = {' ', ' ', error ? ' ' : 'n'};

	if (catalog_spi("UPDATE ecsync.runs SET status = $2, finished_at = clock_timestamp(), error = $3, "
					"rows_written = (SELECT sum(rows_written) FROM ecsync.run_tables WHERE run_id = $1) "
					"WHERE run_id = $1", 3, types, args, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record the run's outcome");
}


/* bc_error_text renders an error as ecsync.runs and run_tables store it */
char *
bc_error_text(ErrorData *edata)
{
	StringInfoData msg;

	initStringInfo(&msg);
	appendStringInfoString(&msg, edata->message ? edata->message : "unknown error");
	if (edata->detail)
		appendStringInfo(&msg, " (%s)", edata->detail);
	if (edata->hint)
		appendStringInfo(&msg, " Hint: %s", edata->hint);
	if (edata->context)
		appendStringInfo(&msg, "; context: %s", edata->context);
	return msg.data;
}

/* bc_other_run describes a running run other than this one, or NULL */
char *
bc_other_run(void)
{
	if (catalog_spi("SELECT format('run %s of role %s (worker pid %s, started %s)', run_id, "
					"owner::regrole, worker_pid, started_at) "
					"FROM ecsync.runs WHERE status = 'running' AND worker_pid <> pg_backend_pid() "
					"ORDER BY run_id LIMIT 1", 0, NULL, NULL, NULL, true, 1) == SPI_OK_SELECT &&
		SPI_processed > 0)
		return spi_getstr(0, 1);
	return NULL;
}

/* bc_store_watermark stores an incremental table's new watermark */
void
bc_store_watermark(SyncTable *t, const char *watermark)
{
	Datum		args[2] = {Int32GetDatum(t->id), CStringGetTextDatum(watermark)};
	Oid			types[2] = {INT4OID, TEXTOID};

	if (catalog_spi("UPDATE ecsync.sync_tables SET watermark = $2, reread_from = watermark WHERE id = $1",
					2, types, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not store the watermark");
}

/* bc_record_table_failure records a table that failed alone (isolation 'table') */
void
bc_record_table_failure(int64 run_id, int32 table_id, const char *name, const char *error,
						double seconds)
{
	Datum		args[5] = {Int64GetDatum(run_id), Int32GetDatum(table_id),
		CStringGetTextDatum(name), CStringGetTextDatum(error), Float8GetDatum(seconds)};
	Oid			types[5] = {INT8OID, INT4OID, TEXTOID, TEXTOID, FLOAT8OID};

	if (catalog_spi("INSERT INTO ecsync.run_tables (run_id, sync_table_id, table_name, "
					"mode, rows_read, rows_written, seconds, copy_format, status, error) "
					"SELECT $1, $2, $3, mode, 0, 0, $5, 'none', 'failed', $4 "
					"FROM ecsync.sync_tables WHERE id = $2",
					5, types, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record the failure of table %s", name);
}

/*
 * bc_store_cdc_snapshot records, in the snapshot run's transaction, the
 * binary log position the copy of cdc table t corresponds to: its
 * change-capture worker applies the changes after it.
 */
void
bc_store_cdc_snapshot(SyncTable *t, const bs_pos *pos)
{
	Datum		args[3] = {Int32GetDatum(t->id), CStringGetTextDatum(pos->file),
	Int64GetDatum((int64) pos->pos)};
	Oid			types[3] = {INT4OID, TEXTOID, INT8OID};

	if (catalog_spi("UPDATE ecsync.cdc_tables SET state = 'streaming', snapshot_file = $2, "
					"snapshot_pos = $3, snapshot_at = now(), error = NULL, error_at = NULL "
					"WHERE sync_table_id = $1",
					3, types, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not update ecsync.cdc_tables");
}
