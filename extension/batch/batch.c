/*-------------------------------------------------------------------------
 *
 * batch.c
 *	  ecsync_run_batch(): starts a batch worker (batch_worker.c) as the
 *	  owner of the registrations it syncs, waits for it, and returns its
 *	  per-table summary or raises its error.  Cancelling the caller
 *	  cancels the worker.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "storage/latch.h"
#include "pgstat.h"
#include "utils/syscache.h"
#include "catalog/pg_authid.h"

#include "ecsync.h"

PG_FUNCTION_INFO_V1(ecsync_run_batch);
PG_FUNCTION_INFO_V1(ecsync_reconcile_deletes);

/*
 * resolve_target returns the sync table id of "schema.table" or "table"
 * among the registrations the caller may see (row-level security: its own
 * and those of roles whose privileges it has), and its owner in *owner.
 */
static int32
resolve_target(const char *target, Oid *owner)
{
	Datum		args[1] = {CStringGetTextDatum(target)};
	Oid			types[1] = {TEXTOID};
	bool		isnull;

	if (SPI_execute_with_args("SELECT id, owner, mode FROM ecsync.sync_tables "
							  "WHERE $1 IN (format('%I.%I', target_schema, target_table), "
							  "             target_schema || '.' || target_table, target_table) "
							  "ORDER BY target_schema <> 'public', id",
							  1, types, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read ecsync.sync_tables");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table \"%s\" is not registered with ecsync", target),
				 errhint("See ecsync.sync_tables; register it with ecsync_register_table().")));
	if (SPI_processed > 1)
		ereport(ERROR,
				(errcode(ERRCODE_AMBIGUOUS_ALIAS),
				 errmsg("table name \"%s\" is ambiguous", target),
				 errhint("Qualify it with its schema.")));
	if (strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3), "cdc") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" is kept live by change capture, not by batch runs", target),
				 errhint("See ecsync.cdc_table_status; ecsync_cdc_resnapshot() copies it anew.")));
	*owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	return DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * check_own_registrations raises an error unless role has an enabled
 * registration, before a worker is started for nothing.
 */
static void
check_own_registrations(Oid role)
{
	Datum		args[1] = {ObjectIdGetDatum(role)};
	Oid			types[1] = {OIDOID};

	if (SPI_execute_with_args("SELECT 1 FROM ecsync.sync_tables WHERE enabled AND owner = $1 AND mode <> 'cdc' LIMIT 1",
							  1, types, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read ecsync.sync_tables");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("role \"%s\" has no table registered for ecsync_run_batch()",
						GetUserNameFromId(role, false)),
				 errdetail("ecsync_run_batch() without a target syncs the tables the calling role registered; "
						   "another role's tables are synced by that role, or by naming them."),
				 errhint("Register tables with ecsync_register_table() or ecsync_register_shop().")));
}

/* blocked_by_me: is backend pid waiting for a lock this session holds? */
static bool
blocked_by_me(pid_t pid)
{
	ArrayType  *blockers = DatumGetArrayTypeP(DirectFunctionCall1(pg_blocking_pids,
																 Int32GetDatum(pid)));
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	deconstruct_array(blockers, INT4OID, 4, true, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (!nulls[i] && DatumGetInt32(elems[i]) == MyProcPid)
			return true;
	return false;
}

/*
 * wait_for_worker waits until the batch worker exits.  The worker is
 * another backend: if it waits for a lock this session holds (the caller's
 * transaction block read a target, say), neither would ever go on, and the
 * deadlock detector cannot see a latch wait.  So the wait checks, each
 * second, and cancels the run with an error that says what to do.
 */
static void
wait_for_worker(BackgroundWorkerHandle *handle, pid_t pid)
{
	for (;;)
	{
		pid_t		p;

		if (GetBackgroundWorkerPid(handle, &p) == BGWH_STOPPED)
			return;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (blocked_by_me(pid))
			ereport(ERROR,
					(errcode(ERRCODE_T_R_DEADLOCK_DETECTED),
					 errmsg("ecsync_run_batch() would wait for ever: its batch worker needs a lock "
							"that this transaction holds"),
					 errdetail("The worker syncs in a transaction of its own; this transaction block "
							   "holds a lock on a table the run writes (it read a target, or "
							   "changed a registration, say).  The run is cancelled."),
					 errhint("Call ecsync_run_batch() outside a transaction block, or commit first.")));
	}
}

/*
 * ecsync_launch_batch_worker starts a batch worker for req (which it tells
 * this process about when it exits) and waits until it runs.
 */
BackgroundWorkerHandle *
ecsync_launch_batch_worker(const BatchRequest *req, pid_t *pid)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "ecsync");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "ecsync_batch_worker_main");
	if (req->cdc_server[0])
		snprintf(worker.bgw_name, BGW_MAXLEN, "ecsync snapshot of server %s", req->cdc_server);
	else
		snprintf(worker.bgw_name, BGW_MAXLEN, "ecsync batch for pid %d", MyProcPid);
	snprintf(worker.bgw_type, BGW_MAXLEN, ECSYNC_BATCH_WORKER_TYPE);
	StaticAssertStmt(sizeof(BatchRequest) <= BGW_EXTRALEN, "BatchRequest too large for bgw_extra");
	memcpy(worker.bgw_extra, req, sizeof(*req));
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start an ecsync batch worker"),
				 errhint("Raise max_worker_processes.")));
	if (WaitForBackgroundWorkerStartup(handle, pid) != BGWH_STARTED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("the ecsync batch worker did not start"),
				 errhint("See the server log.")));
	return handle;
}

/*
 * run_in_worker runs a batch (or a delete reconciliation) in a batch
 * worker and returns its per-table summary as the function's result set.
 */
static Datum
run_in_worker(FunctionCallInfo fcinfo, bool reconcile)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	BackgroundWorkerHandle *handle;
	BatchRequest req;
	pid_t		pid;
	Datum		args[1];
	Oid			types[1] = {INT4OID};
	bool		isnull;
	int64		run_id;
	char	   *status;

	/* the worker commits on its own; this session must see that */
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("ecsync_run_batch() cannot run in a REPEATABLE READ or SERIALIZABLE transaction")));

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();

	memset(&req, 0, sizeof(req));
	req.dboid = MyDatabaseId;
	req.requested_by = GetUserId();
	req.caller_pid = MyProcPid;
	req.reconcile = reconcile;
	if (!reconcile && !PG_ARGISNULL(1))
	{
		char	   *isolation = text_to_cstring(PG_GETARG_TEXT_PP(1));

		if (strcmp(isolation, "table") == 0)
			req.per_table = true;
		else if (strcmp(isolation, "run") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("isolation must be 'run' or 'table', not '%s'", isolation),
					 errdetail("'run' syncs every table in one transaction; "
							   "'table' commits or fails each table on its own.")));
	}

	/*
	 * A run syncs one role's registrations, as that role: the caller's own,
	 * or the named table's owner's (whose privileges the caller must have).
	 */
	if (PG_ARGISNULL(0))
	{
		req.userid = GetUserId();
		check_own_registrations(req.userid);
	}
	else
	{
		req.only_table = resolve_target(text_to_cstring(PG_GETARG_TEXT_PP(0)), &req.userid);
		if (!has_privs_of_role(GetUserId(), req.userid))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("table \"%s\" belongs to role \"%s\"",
							text_to_cstring(PG_GETARG_TEXT_PP(0)), GetUserNameFromId(req.userid, false))));
	}

	/* the worker connects as the run's role (PostgreSQL 15 has no bypass) */
	{
		HeapTuple	tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(req.userid));

		if (!HeapTupleIsValid(tup))
			elog(ERROR, "role %u does not exist", req.userid);
		if (!((Form_pg_authid) GETSTRUCT(tup))->rolcanlogin)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("role \"%s\" cannot log in, so the batch worker cannot run as it",
							GetUserNameFromId(req.userid, false)),
					 errhint("ALTER ROLE %s LOGIN (it needs no password: the worker starts inside the server).",
							 quote_identifier(GetUserNameFromId(req.userid, false)))));
		ReleaseSysCache(tup);
	}

	handle = ecsync_launch_batch_worker(&req, &pid);

	PG_TRY();
	{
		wait_for_worker(handle, pid);
	}
	PG_CATCH();
	{
		/* cancelled or terminated: cancel the run, which rolls it back */
		kill(pid, SIGINT);
		PG_RE_THROW();
	}
	PG_END_TRY();

	/* read-write SPI calls take a new snapshot, which sees the worker's commit */
	args[0] = Int32GetDatum(pid);
	if (SPI_execute_with_args("SELECT run_id, status, error, error_detail, error_hint, error_context FROM ecsync.runs "
							  "WHERE worker_pid = $1 AND started_at >= statement_timestamp() "
							  "ORDER BY run_id DESC LIMIT 1",
							  1, types, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read ecsync.runs");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("the ecsync batch worker exited before it recorded a run"),
				 errhint("See the server log.")));
	run_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	if (strcmp(status, "succeeded") != 0 && strcmp(status, "partial") != 0)
	{
		char	   *error = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
		char	   *detail = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);
		char	   *hint = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5);
		char	   *context = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 6);

		/* the worker's message, detail and hint, each where it belongs */
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("ecsync batch run " INT64_FORMAT " failed: %s", run_id,
						error ? error : "the worker exited unexpectedly"),
				 detail ? errdetail("%s\nEvery target table is as it was before the run.", detail)
				 : errdetail("Every target table is as it was before the run."),
				 hint ? errhint("%s", hint) : errhint("See ecsync.runs and ecsync.status."),
				 context ? errcontext("%s", context) : 0));
	}
	if (strcmp(status, "partial") == 0)
		ereport(WARNING,
				(errmsg("ecsync batch run " INT64_FORMAT ": %s", run_id,
						SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3)),
				 errdetail("Each table that failed is as it was before the run; the others are committed."),
				 errhint("See the error column of the result, ecsync.run_tables and ecsync.status.")));

	{
		Datum		rargs[1] = {Int64GetDatum(run_id)};
		Oid			rtypes[1] = {INT8OID};

		if (SPI_execute_with_args("SELECT table_name, mode, rows_read, rows_written, seconds, status, error "
								  "FROM ecsync.run_tables WHERE run_id = $1 ORDER BY sync_table_id",
								  1, rtypes, rargs, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read ecsync.run_tables");
	}
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		Datum		values[7];
		bool		nulls[7];

		for (int c = 0; c < 7; c++)
			values[c] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, c + 1, &nulls[c]);
		/* text values must outlive SPI: the tuplestore copies them */
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_finish();
	return (Datum) 0;
}

/* ecsync_run_batch syncs every registered table, or only the one named */
Datum
ecsync_run_batch(PG_FUNCTION_ARGS)
{
	return run_in_worker(fcinfo, false);
}

/*
 * ecsync_reconcile_deletes deletes, from every registered target (or the
 * one named), the rows whose key no longer exists in MySQL.
 */
Datum
ecsync_reconcile_deletes(PG_FUNCTION_ARGS)
{
	return run_in_worker(fcinfo, true);
}
