/*-------------------------------------------------------------------------
 *
 * cdc_catalog.c
 *	  Every statement the change-capture worker runs on ecsync's catalog,
 *	  as the catalog's owner (the worker itself runs as the owner of the
 *	  registrations, who may only read the catalog).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "cdc_catalog.h"
#include "cdc_state.h"

static CatalogAccess tx_access;
static MemoryContext tx_caller_cxt;

/* cc_begin and cc_commit bracket a transaction on the catalog alone */
void
cc_begin(void)
{
	tx_caller_cxt = CurrentMemoryContext;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
}

void
cc_commit(void)
{
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(tx_caller_cxt);
}

/* spi runs one catalog statement as the catalog's owner */
static void
spi(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls, int expect)
{
	int			rc;

	ecsync_catalog_enter(&tx_access);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);
	if (rc != expect)
		elog(ERROR, "ecsync catalog statement failed (%d): %s", rc, sql);
	/* the caller reads the result before spi_done */
}

static void
spi_done(void)
{
	SPI_finish();
	ecsync_catalog_leave(&tx_access);
}

static char *
top_str(int row, int col)
{
	char	   *v = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);

	return v ? MemoryContextStrdup(TopMemoryContext, v) : NULL;
}

/*
 * load_gtid_state takes the stored GTID set and server (MySQL), which
 * belong to the position: without one (a first start, a re-snapshot of
 * every table) the worker finds the set at its new position.
 */
static void
load_gtid_state(const char *set, const char *uuid)
{
	char		err[256];

	if (cw.executed)
		mg_set_free(cw.executed);
	cw.executed = NULL;
	cw.executed_dirty = false;
	cw.server_uuid[0] = '\0';
	if (cw.pos.file[0] == '\0')
		return;
	if (uuid)
		strlcpy(cw.server_uuid, uuid, sizeof(cw.server_uuid));
	if (set == NULL)
		return;
	if ((cw.executed = mg_set_new()) == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	if (!mg_set_parse(cw.executed, set, err, sizeof(err)))
	{
		/* found anew from the binary log at the next start */
		ereport(LOG,
				(errmsg("ecsync cdc of server \"%s\": the stored GTID set is not valid (%s); it is read anew "
						"from the binary log", cw.server, err)));
		mg_set_free(cw.executed);
		cw.executed = NULL;
	}
}

/*
 * executed_text: the GTID set to store, as a text Datum, or NULL when it
 * has not changed (or is not kept); *isnull says which
 */
static Datum
executed_text(char *isnull)
{
	char	   *text;
	Datum		d;

	*isnull = 'n';
	if (cw.executed == NULL || !cw.executed_dirty)
		return (Datum) 0;
	if ((text = mg_set_text(cw.executed)) == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	d = CStringGetTextDatum(text);
	free(text);
	*isnull = ' ';
	cw.executed_dirty = false;
	return d;
}

/*
 * cc_load reads the server's registration and its tables into cw; false
 * when the registration is gone or stopped (the worker then exits).
 * Called inside cc_begin/cc_commit.
 */
bool
cc_load(void)
{
	Datum		args[2] = {Int32GetDatum(cw.req.cdc_id), ObjectIdGetDatum(cw.req.owner)};
	Oid			types[2] = {INT4OID, OIDOID};

	spi("SELECT server_name, state, binlog_file, binlog_pos, gtid, gtid_executed, server_uuid "
		"FROM ecsync.cdc_servers WHERE id = $1 AND owner = $2", 2, types, args, NULL, SPI_OK_SELECT);
	if (SPI_processed != 1 || strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2), "started") != 0)
	{
		spi_done();
		return false;
	}
	cw.server = top_str(0, 1);
	memset(&cw.pos, 0, sizeof(cw.pos));
	if (SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3) != NULL)
	{
		strlcpy(cw.pos.file, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3), BS_FILE_MAX);
		cw.pos.pos = strtoull(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4), NULL, 10);
	}
	if (SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5) != NULL)
		strlcpy(cw.gtid, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5), sizeof(cw.gtid));
	load_gtid_state(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 6),
					SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 7));
	SPI_finish();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	{
		Datum		a[2] = {CStringGetTextDatum(cw.server), ObjectIdGetDatum(cw.req.owner)};
		Oid			ty[2] = {TEXTOID, OIDOID};

		if (SPI_execute_with_args("SELECT t.id, t.target_schema, t.target_table, t.source_database, t.source_table, "
								  "t.key_columns, t.columns, t.exclude_columns, c.state, c.snapshot_file, c.snapshot_pos "
								  "FROM ecsync.sync_tables t JOIN ecsync.cdc_tables c ON c.sync_table_id = t.id "
								  "WHERE t.server_name = $1 AND t.owner = $2 AND t.enabled AND t.mode = 'cdc' "
								  "ORDER BY t.id", 2, ty, a, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read ecsync.cdc_tables");
	}
	cw.ntables = (int) SPI_processed;
	cw.tables = MemoryContextAllocZero(TopMemoryContext, sizeof(CdcTable) * Max(cw.ntables, 1));
	for (int i = 0; i < cw.ntables; i++)
	{
		CdcTable   *t = &cw.tables[i];
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;
		const char *state = SPI_getvalue(tup, d, 9);
		MemoryContext old;

		t->id = DatumGetInt32(SPI_getbinval(tup, d, 1, &isnull));
		t->target_schema = top_str(i, 2);
		t->target_table = top_str(i, 3);
		t->source_db = top_str(i, 4);
		t->source_table = top_str(i, 5);
		old = MemoryContextSwitchTo(TopMemoryContext);
		for (int col = 6; col <= 8; col++)
		{
			Datum		v = SPI_getbinval(tup, d, col, &isnull);
			List	  **dst = col == 6 ? &t->key_columns : col == 7 ? &t->columns : &t->exclude_columns;

			if (!isnull)
				*dst = ecsync_text_array_to_list(v);
		}
		MemoryContextSwitchTo(old);
		t->state = strcmp(state, "streaming") == 0 ? 's' : strcmp(state, "paused") == 0 ? 'p' : 'n';
		if (SPI_getvalue(tup, d, 10) != NULL)
		{
			strlcpy(t->from.file, SPI_getvalue(tup, d, 10), BS_FILE_MAX);
			t->from.pos = strtoull(SPI_getvalue(tup, d, 11), NULL, 10);
		}
	}
	spi_done();
	return true;
}

/*
 * cc_set_start_position: a server without a position (its first start, or
 * after a full re-snapshot) starts at the earliest of its tables'
 * snapshots.
 */
void
cc_set_start_position(void)
{
	Datum		args[3];
	Oid			types[3] = {INT4OID, TEXTOID, INT8OID};

	args[0] = Int32GetDatum(cw.req.cdc_id);
	args[1] = CStringGetTextDatum(cw.pos.file);
	args[2] = Int64GetDatum((int64) cw.pos.pos);
	spi("UPDATE ecsync.cdc_servers SET binlog_file = $2, binlog_pos = $3, last_error = NULL, last_error_at = NULL "
		"WHERE id = $1",
		3, types, args, NULL, SPI_OK_UPDATE);
	spi_done();
}

/* cc_save_cascade_note: what table t's foreign-key cascades get (NULL: none) */
void
cc_save_cascade_note(CdcTable *t, const char *note)
{
	Datum		args[2] = {Int32GetDatum(t->id), note ? CStringGetTextDatum(note) : (Datum) 0};
	Oid			types[2] = {INT4OID, TEXTOID};
	char		nulls[2] = {' ', note ? ' ' : 'n'};

	spi("UPDATE ecsync.cdc_tables SET cascades = $2 WHERE sync_table_id = $1 AND cascades IS DISTINCT FROM $2",
		2, types, args, nulls, SPI_OK_UPDATE);
	spi_done();
}

/*
 * cc_save_gtid_state stores the GTID set found at the position and the
 * server it belongs to (MySQL), in a transaction of its own.
 */
void
cc_save_gtid_state(void)
{
	Datum		args[3];
	Oid			types[3] = {INT4OID, TEXTOID, TEXTOID};
	char		nulls[3] = "   ";

	cw.executed_dirty = true;
	args[0] = Int32GetDatum(cw.req.cdc_id);
	args[1] = executed_text(&nulls[1]);
	args[2] = CStringGetTextDatum(cw.server_uuid);
	cc_begin();
	spi("UPDATE ecsync.cdc_servers SET gtid_executed = coalesce($2, gtid_executed), server_uuid = $3 WHERE id = $1",
		3, types, args, nulls, SPI_OK_UPDATE);
	spi_done();
	cc_commit();
}

/*
 * cc_switched_server records, in a transaction of its own, that the
 * stream goes on from another MySQL server (uuid), from new_pos, by the
 * GTID set: the positions of the previous server mean nothing on it.  A
 * table whose snapshot the stream had passed (at or before old_pos) takes
 * every change from now on; a table snapshotted ahead of the stream is
 * copied anew (true: the worker must restart for it).
 */
bool
cc_switched_server(const bs_pos *old_pos, const bs_pos *new_pos, const char *uuid)
{
	bool		resnapshot = false;
	Datum		args[4];
	Oid			types[4] = {INT4OID, TEXTOID, INT8OID, TEXTOID};

	cc_begin();
	args[0] = Int32GetDatum(cw.req.cdc_id);
	args[1] = CStringGetTextDatum(new_pos->file);
	args[2] = Int64GetDatum((int64) new_pos->pos);
	args[3] = CStringGetTextDatum(uuid);
	spi("UPDATE ecsync.cdc_servers SET binlog_file = $2, binlog_pos = $3, server_uuid = $4, "
		"last_error = NULL, last_error_at = NULL WHERE id = $1",
		4, types, args, NULL, SPI_OK_UPDATE);
	SPI_finish();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	for (int i = 0; i < cw.ntables; i++)
	{
		CdcTable   *t = &cw.tables[i];
		Datum		a[2];
		Oid			ty[2] = {INT4OID, TEXTOID};
		bool		ahead = bs_pos_cmp(&t->from, old_pos) > 0;

		if (t->state != 's')
			continue;
		a[0] = Int32GetDatum(t->id);
		a[1] = CStringGetTextDatum(psprintf("the MySQL server changed (to %s) before the stream reached this "
											"table's snapshot (%s:%llu of the previous one); copied anew",
											uuid, t->from.file, (unsigned long long) t->from.pos));
		if (SPI_execute_with_args(ahead ?
								  "UPDATE ecsync.cdc_tables SET state = 'snapshot', snapshot_file = NULL, "
								  "snapshot_pos = NULL, schema_change = $2, schema_change_at = now() "
								  "WHERE sync_table_id = $1" :
								  "UPDATE ecsync.cdc_tables SET snapshot_file = NULL, snapshot_pos = NULL "
								  "WHERE sync_table_id = $1",
								  ahead ? 2 : 1, ty, a, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not update ecsync.cdc_tables");
		if (ahead)
		{
			ereport(LOG, (errmsg("ecsync cdc of server \"%s\": table %s.%s: %s", cw.server,
								 t->target_schema, t->target_table, TextDatumGetCString(a[1]))));
			t->state = 'n';
			resnapshot = true;
		}
		memset(&t->from, 0, sizeof(t->from));
	}
	spi_done();
	cc_commit();
	return resnapshot;
}

/*
 * cc_save_group writes, in the group's transaction, the position after
 * its last source transaction, its GTID, the counts, and each table's
 * counts and pauses.
 */
void
cc_save_group(void)
{
	Datum		args[8];
	Oid			types[8] = {INT4OID, TEXTOID, INT8OID, TEXTOID, TIMESTAMPTZOID, INT8OID, INT8OID, TEXTOID};
	char		nulls[8] = "        ";

	args[0] = Int32GetDatum(cw.req.cdc_id);
	args[1] = CStringGetTextDatum(cw.pos.file);
	args[2] = Int64GetDatum((int64) cw.pos.pos);
	args[3] = CStringGetTextDatum(cw.gtid);
	if (cw.gtid[0] == '\0')
		nulls[3] = 'n';
	args[4] = TimestampTzGetDatum(cw.source_time);
	if (cw.source_time == 0)
		nulls[4] = 'n';
	args[5] = Int64GetDatum(cw.group_txns);
	args[6] = Int64GetDatum(cw.group_rows);
	args[7] = executed_text(&nulls[7]);
	spi("UPDATE ecsync.cdc_servers SET binlog_file = $2, binlog_pos = $3, gtid = coalesce($4, gtid), "
		"source_time = coalesce($5, source_time), applied_at = now(), "
		"transactions = transactions + $6, rows_applied = rows_applied + $7, "
		"gtid_executed = coalesce($8, gtid_executed) WHERE id = $1",
		8, types, args, nulls, SPI_OK_UPDATE);
	SPI_finish();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	for (int i = 0; i < cw.ntables; i++)
	{
		CdcTable   *t = &cw.tables[i];
		Datum		a[7];
		Oid			ty[7] = {INT4OID, INT8OID, INT8OID, INT8OID, TEXTOID, BOOLOID, BOOLOID};
		char		n[7] = "       ";

		if (!t->changed && t->pause == NULL)
			continue;
		a[0] = Int32GetDatum(t->id);
		a[1] = Int64GetDatum(t->ins);
		a[2] = Int64GetDatum(t->upd);
		a[3] = Int64GetDatum(t->del);
		a[4] = t->pause ? CStringGetTextDatum(t->pause) : (Datum) 0;
		if (t->pause == NULL)
			n[4] = 'n';
		a[5] = BoolGetDatum(t->ins + t->upd + t->del > 0);
		a[6] = BoolGetDatum(t->resnapshot);
		/* a schema change followed: the table is copied anew, and says why */
		if (SPI_execute_with_args("UPDATE ecsync.cdc_tables SET inserts = inserts + $2, updates = updates + $3, "
								  "deletes = deletes + $4, "
								  "last_change_at = CASE WHEN $6 THEN now() ELSE last_change_at END, "
								  "state = CASE WHEN $5 IS NULL THEN state WHEN $7 THEN 'snapshot' ELSE 'paused' END, "
								  "error = CASE WHEN $7 THEN error ELSE coalesce($5, error) END, "
								  "error_at = CASE WHEN $5 IS NULL OR $7 THEN error_at ELSE now() END, "
								  "schema_change = CASE WHEN $7 THEN $5 ELSE schema_change END, "
								  "schema_change_at = CASE WHEN $7 THEN now() ELSE schema_change_at END, "
								  "snapshot_file = CASE WHEN $7 THEN NULL ELSE snapshot_file END, "
								  "snapshot_pos = CASE WHEN $7 THEN NULL ELSE snapshot_pos END "
								  "WHERE sync_table_id = $1", 7, ty, a, n, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not update ecsync.cdc_tables");
		if (t->pause)
		{
			t->state = t->resnapshot ? 'n' : 'p';
			t->resnapshot = false;
			pfree(t->pause);
			t->pause = NULL;
		}
		t->ins = t->upd = t->del = 0;
		t->changed = false;
	}
	spi_done();
}

/*
 * cc_resnapshot_table has table t copied anew by the next start, in a
 * transaction of its own, with why as the schema change it follows.
 */
void
cc_resnapshot_table(CdcTable *t, const char *why)
{
	Datum		args[2] = {Int32GetDatum(t->id), CStringGetTextDatum(why)};
	Oid			types[2] = {INT4OID, TEXTOID};

	ereport(LOG, (errmsg("ecsync cdc of server \"%s\": table %s.%s: %s", cw.server,
						 t->target_schema, t->target_table, why)));
	cc_begin();
	spi("UPDATE ecsync.cdc_tables SET state = 'snapshot', snapshot_file = NULL, snapshot_pos = NULL, "
		"schema_change = $2, schema_change_at = now() WHERE sync_table_id = $1",
		2, types, args, NULL, SPI_OK_UPDATE);
	spi_done();
	cc_commit();
}

/*
 * cc_record_error keeps msg as the server's last error, in a transaction
 * of its own, and pauses table pause_table (0: none) with it.
 */
void
cc_record_error(const char *msg, int32 pause_table)
{
	Datum		args[3] = {Int32GetDatum(cw.req.cdc_id), CStringGetTextDatum(msg), Int32GetDatum(pause_table)};
	Oid			types[3] = {INT4OID, TEXTOID, INT4OID};

	cc_begin();
	spi("UPDATE ecsync.cdc_servers SET last_error = $2, last_error_at = now() WHERE id = $1",
		3, types, args, NULL, SPI_OK_UPDATE);
	if (pause_table != 0 &&
		SPI_execute_with_args("UPDATE ecsync.cdc_tables SET state = 'paused', error = $2, error_at = now() "
							  "WHERE sync_table_id = $3", 3, types, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not update ecsync.cdc_tables");
	spi_done();
	cc_commit();
}

/* cc_save_stats stores the rate, the server's position and the lag */
void
cc_save_stats(bs_pos *server_pos, int64 lag_bytes)
{
	Datum		args[6];
	Oid			types[6] = {INT4OID, FLOAT8OID, TEXTOID, INT8OID, INT8OID, INT4OID};
	char		nulls[6] = "      ";

	args[0] = Int32GetDatum(cw.req.cdc_id);
	args[1] = Float8GetDatum(cw.rate);
	if (server_pos && server_pos->file[0])
	{
		args[2] = CStringGetTextDatum(server_pos->file);
		args[3] = Int64GetDatum((int64) server_pos->pos);
	}
	else
		nulls[2] = nulls[3] = 'n';
	args[4] = Int64GetDatum(lag_bytes);
	if (lag_bytes < 0)
		nulls[4] = 'n';
	args[5] = Int32GetDatum(MyProcPid);
	spi("UPDATE ecsync.cdc_servers SET rows_per_second = $2, server_file = coalesce($3, server_file), "
		"server_pos = coalesce($4, server_pos), lag_bytes = $5, stats_at = now(), worker_pid = $6 WHERE id = $1",
		6, types, args, nulls, SPI_OK_UPDATE);
	spi_done();
}

/*
 * cc_snapshot_result reads how the snapshot run of batch worker pid ended:
 * *error is NULL when it succeeded.
 */
void
cc_snapshot_result(pid_t pid, char **error)
{
	Datum		args[1] = {Int32GetDatum(pid)};
	Oid			types[1] = {INT4OID};

	spi("SELECT run_id, status, error FROM ecsync.runs WHERE worker_pid = $1 ORDER BY run_id DESC LIMIT 1",
		1, types, args, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		*error = MemoryContextStrdup(TopMemoryContext, "the snapshot's batch worker exited before it recorded a run");
	else if (strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2), "partial") == 0)
	{
		/* the tables that failed pause with their error; the others stream */
		Datum		a[1] = {Int64GetDatum(pg_strtoint64(SPI_getvalue(SPI_tuptable->vals[0],
																	 SPI_tuptable->tupdesc, 1)))};
		Oid			ty[1] = {INT8OID};

		if (SPI_execute_with_args("UPDATE ecsync.cdc_tables c SET state = 'paused', error_at = now(), "
								  "error = format('its snapshot (batch run %s) failed: %s (fix it, then call "
								  "ecsync_cdc_resnapshot(%L, %L))', r.run_id, r.error, t.server_name, "
								  "t.target_schema || '.' || t.target_table) "
								  "FROM ecsync.run_tables r JOIN ecsync.sync_tables t ON t.id = r.sync_table_id "
								  "WHERE r.run_id = $1 AND r.status = 'failed' AND c.sync_table_id = r.sync_table_id "
								  "AND c.state = 'snapshot'", 1, ty, a, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not update ecsync.cdc_tables");
		*error = NULL;
	}
	else if (strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2), "succeeded") != 0)
		*error = MemoryContextStrdup(TopMemoryContext,
									 psprintf("the snapshot (batch run %s) failed: %s",
											  SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
											  SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3)
											  ? SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3)
											  : "it exited unexpectedly"));
	else
		*error = NULL;
	spi_done();
}
