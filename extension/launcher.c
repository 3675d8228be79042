/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  The ecsync launcher: a background worker registered at preload that
 *	  keeps one stream worker running per started stream and worker index
 *	  (ecsync.streams), restarts those that exit, stops those no longer
 *	  wanted and tells them when their stream's configuration changes.
 *	  SQL functions wake it with SIGHUP (ecsync_wake_launcher); a worker's
 *	  exit wakes it through bgw_notify_pid.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "ecsync.h"

#define MAX_SLOTS 256
#define QUICK_EXIT_MS 10000		/* a worker that ran less than this ... */
#define RESTART_BACKOFF_MS 5000 /* ... is restarted after this */

/* kinds of worker: a stream's, or a MySQL server's change capture */
#define KIND_STREAM 's'
#define KIND_CDC 'c'

/* a worker the launcher started */
typedef struct Slot
{
	bool		used;
	char		kind;
	int32		stream_id;		/* or ecsync.cdc_servers.id */
	int32		index;
	int32		config_version;
	BackgroundWorkerHandle *handle;
	TimestampTz started_at;
	bool		terminating;
} Slot;

/* what ecsync.streams and ecsync.cdc_servers want */
typedef struct Wanted
{
	char		kind;
	int32		stream_id;
	int32		workers;
	int32		config_version;
	Oid			owner;
	char		name[NAMEDATALEN];
} Wanted;

/* when a slot's worker last exited quickly, to back off */
typedef struct Exit
{
	char		kind;
	int32		stream_id;
	int32		index;
	TimestampTz at;
} Exit;

static Slot slots[MAX_SLOTS];
static int	workers_running;	/* as of the last reconcile */
static Exit exits[MAX_SLOTS];

PGDLLEXPORT void ecsync_launcher_main(Datum main_arg);

/*
 * ecsync_register_launcher registers the launcher with the postmaster.  It
 * restarts ten seconds after an abnormal exit.
 */
void
ecsync_register_launcher(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 10;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "ecsync");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "ecsync_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "ecsync launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "ecsync launcher");
	RegisterBackgroundWorker(&worker);
}

/*
 * ExtensionInstalled says whether CREATE EXTENSION ecsync has run in the
 * launcher's database.
 */
static bool
ExtensionInstalled(void)
{
	bool		installed;
	MemoryContext outer = CurrentMemoryContext;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	installed = OidIsValid(get_extension_oid("ecsync", true));
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(outer);
	return installed;
}

/* wanted_streams reads the started streams; *n is set */
static Wanted *
wanted_streams(int *n)
{
	Wanted	   *w = NULL;
	MemoryContext outer = CurrentMemoryContext;

	*n = 0;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (OidIsValid(get_extension_oid("ecsync", true)))
	{
		SPI_connect();
		/* an extension older than streams has no table: no streams */
		SPI_execute("SELECT id, workers, config_version, owner, name FROM ecsync.streams "
					"WHERE state = 'started' AND to_regclass('ecsync.streams') IS NOT NULL ORDER BY id",
					true, 0);
		w = MemoryContextAllocZero(outer, sizeof(Wanted) * Max(SPI_processed, 1));
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	t = SPI_tuptable->vals[i];
			TupleDesc	d = SPI_tuptable->tupdesc;

			w[i].kind = KIND_STREAM;
			w[i].stream_id = atoi(SPI_getvalue(t, d, 1));
			w[i].workers = atoi(SPI_getvalue(t, d, 2));
			w[i].config_version = atoi(SPI_getvalue(t, d, 3));
			w[i].owner = (Oid) strtoul(SPI_getvalue(t, d, 4), NULL, 10);
			strlcpy(w[i].name, SPI_getvalue(t, d, 5), NAMEDATALEN);
		}
		*n = (int) SPI_processed;
		/* an extension older than change capture has no table: no servers */
		SPI_execute("SELECT to_regclass('ecsync.cdc_servers') IS NOT NULL", true, 1);
		if (SPI_processed == 1 &&
			strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), "t") == 0 &&
			SPI_execute("SELECT id, 1, config_version, owner, server_name FROM ecsync.cdc_servers "
						"WHERE state = 'started' ORDER BY id", true, 0) == SPI_OK_SELECT &&
			SPI_processed > 0)
		{
			Wanted	   *more = MemoryContextAllocZero(outer, sizeof(Wanted) * (*n + SPI_processed));

			memcpy(more, w, sizeof(Wanted) * *n);
			w = more;
			for (uint64 i = 0; i < SPI_processed; i++)
			{
				HeapTuple	t = SPI_tuptable->vals[i];
				TupleDesc	d = SPI_tuptable->tupdesc;
				Wanted	   *x = &w[*n + i];

				x->kind = KIND_CDC;
				x->stream_id = atoi(SPI_getvalue(t, d, 1));
				x->workers = 1;
				x->config_version = atoi(SPI_getvalue(t, d, 3));
				x->owner = (Oid) strtoul(SPI_getvalue(t, d, 4), NULL, 10);
				strlcpy(x->name, SPI_getvalue(t, d, 5), NAMEDATALEN);
			}
			*n += (int) SPI_processed;
		}
		SPI_finish();
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(outer);	/* not TopMemoryContext, where commit leaves us */
	return w;
}

static bool
streams_table_exists(void)
{
	bool		exists;
	MemoryContext outer = CurrentMemoryContext;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	SPI_execute("SELECT to_regclass('ecsync.streams') IS NOT NULL", true, 1);
	exists = SPI_processed == 1 &&
		strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), "t") == 0;
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(outer);
	return exists;
}

static Exit *
exit_record(char kind, int32 stream_id, int32 index)
{
	Exit	   *free_one = NULL;

	for (int i = 0; i < MAX_SLOTS; i++)
	{
		if (exits[i].kind == kind && exits[i].stream_id == stream_id && exits[i].index == index &&
			exits[i].at != 0)
			return &exits[i];
		if (exits[i].at == 0 && free_one == NULL)
			free_one = &exits[i];
	}
	if (free_one)
	{
		free_one->kind = kind;
		free_one->stream_id = stream_id;
		free_one->index = index;
	}
	return free_one;
}

static bool
start_worker(const Wanted *w, int32 index, Slot *slot)
{
	BackgroundWorker worker;
	StreamRequest req;
	MemoryContext old;
	bool		registered;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "ecsync");
	worker.bgw_notify_pid = MyProcPid;
	if (w->kind == KIND_CDC)
	{
		CdcRequest	creq;

		snprintf(worker.bgw_function_name, BGW_MAXLEN, "ecsync_cdc_main");
		snprintf(worker.bgw_name, BGW_MAXLEN, "ecsync cdc of server %s", w->name);
		snprintf(worker.bgw_type, BGW_MAXLEN, ECSYNC_CDC_WORKER_TYPE);
		memset(&creq, 0, sizeof(creq));
		creq.dboid = MyDatabaseId;
		creq.owner = w->owner;
		creq.cdc_id = w->stream_id;
		creq.config_version = w->config_version;
		creq.launcher_pid = MyProcPid;
		StaticAssertStmt(sizeof(creq) <= BGW_EXTRALEN, "CdcRequest too large for bgw_extra");
		memcpy(worker.bgw_extra, &creq, sizeof(creq));
	}
	else
	{
		snprintf(worker.bgw_function_name, BGW_MAXLEN, "ecsync_stream_main");
		snprintf(worker.bgw_name, BGW_MAXLEN, "ecsync stream %s #%d", w->name, index);
		snprintf(worker.bgw_type, BGW_MAXLEN, ECSYNC_STREAM_WORKER_TYPE);
		memset(&req, 0, sizeof(req));
		req.dboid = MyDatabaseId;
		req.owner = w->owner;
		req.stream_id = w->stream_id;
		req.index = index;
		req.config_version = w->config_version;
		req.launcher_pid = MyProcPid;
		StaticAssertStmt(sizeof(req) <= BGW_EXTRALEN, "StreamRequest too large for bgw_extra");
		memcpy(worker.bgw_extra, &req, sizeof(req));
	}

	/* the handle outlives this round's memory */
	old = MemoryContextSwitchTo(TopMemoryContext);
	registered = RegisterDynamicBackgroundWorker(&worker, &slot->handle);
	MemoryContextSwitchTo(old);
	if (!registered)
	{
		ereport(WARNING,
				(errmsg("ecsync launcher: no background worker slot for %s \"%s\"",
						w->kind == KIND_CDC ? "change capture of server" : "stream", w->name),
				 errhint("Raise max_worker_processes.")));
		return false;
	}
	slot->used = true;
	slot->kind = w->kind;
	slot->stream_id = w->stream_id;
	slot->index = index;
	slot->config_version = w->config_version;
	slot->started_at = GetCurrentTimestamp();
	slot->terminating = false;
	return true;
}

/*
 * reconcile makes the running workers what ecsync.streams wants.  Returns
 * the milliseconds until a backed-off restart is due, or -1.
 */
static long
reconcile(Wanted *w, int nw)
{
	TimestampTz now = GetCurrentTimestamp();
	long		next_ms = -1;
	int			running = 0;

	/* reap, stop and signal */
	for (int i = 0; i < MAX_SLOTS; i++)
	{
		Slot	   *s = &slots[i];
		pid_t		pid;
		const Wanted *want = NULL;

		if (!s->used)
			continue;
		if (GetBackgroundWorkerPid(s->handle, &pid) == BGWH_STOPPED)
		{
			if (!TimestampDifferenceExceeds(s->started_at, now, QUICK_EXIT_MS))
			{
				Exit	   *e = exit_record(s->kind, s->stream_id, s->index);

				if (e)
					e->at = now;
			}
			pfree(s->handle);
			memset(s, 0, sizeof(*s));
			continue;
		}
		for (int k = 0; k < nw; k++)
			if (w[k].kind == s->kind && w[k].stream_id == s->stream_id && s->index < w[k].workers)
				want = &w[k];
		if (want == NULL)
		{
			if (!s->terminating)
				TerminateBackgroundWorker(s->handle);
			s->terminating = true;
		}
		else if (want->config_version != s->config_version)
		{
			/* the worker rereads the stream and restarts itself if it changed */
			if (pid > 0)
				kill(pid, SIGHUP);
			s->config_version = want->config_version;
		}
		running++;
	}

	/* start what is missing */
	for (int k = 0; k < nw; k++)
		for (int32 index = 0; index < w[k].workers; index++)
		{
			bool		have = false;
			Slot	   *free_slot = NULL;
			Exit	   *e;

			for (int i = 0; i < MAX_SLOTS; i++)
			{
				if (slots[i].used && slots[i].kind == w[k].kind &&
					slots[i].stream_id == w[k].stream_id && slots[i].index == index)
					have = true;
				if (!slots[i].used && free_slot == NULL)
					free_slot = &slots[i];
			}
			if (have || free_slot == NULL)
				continue;
			e = exit_record(w[k].kind, w[k].stream_id, index);
			if (e && e->at != 0)
			{
				TimestampTz due = TimestampTzPlusMilliseconds(e->at, RESTART_BACKOFF_MS);

				if (now < due)
				{
					long		ms = (long) ((due - now) / 1000) + 1;

					next_ms = next_ms < 0 ? ms : Min(next_ms, ms);
					continue;
				}
				e->at = 0;
			}
			if (start_worker(&w[k], index, free_slot))
				running++;
		}

	workers_running = running;
	return next_ms;
}

/*
 * ecsync_launcher_main is the launcher's entry point: connect, then keep
 * the stream workers as wanted, sleeping on the latch between rounds.
 */
void
ecsync_launcher_main(Datum main_arg)
{
	MemoryContext loop_context;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(ecsync_database, NULL, 0);
	ereport(LOG,
			(errmsg("ecsync launcher started in database \"%s\"",
					ecsync_database)));

	loop_context = AllocSetContextCreate(TopMemoryContext,
										 "ecsync launcher loop",
										 ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		MemoryContext old_context;
		long		timeout = ecsync_launcher_naptime * 1000L;

		CHECK_FOR_INTERRUPTS();

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		old_context = MemoryContextSwitchTo(loop_context);
		if (!ExtensionInstalled())
		{
			pgstat_report_activity(STATE_IDLE,
								   "waiting for CREATE EXTENSION ecsync");
			(void) reconcile(NULL, 0);
		}
		else if (!streams_table_exists())
		{
			pgstat_report_activity(STATE_IDLE,
								   "waiting for ALTER EXTENSION ecsync UPDATE");
			(void) reconcile(NULL, 0);
		}
		else
		{
			int			n;
			Wanted	   *w = wanted_streams(&n);
			long		due = reconcile(w, n);

			if (due >= 0)
				timeout = Min(timeout, due);
			pgstat_report_activity(STATE_IDLE,
								   psprintf("managing %d stream worker%s", workers_running,
											workers_running == 1 ? "" : "s"));
		}
		MemoryContextSwitchTo(old_context);
		MemoryContextReset(loop_context);

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

PG_FUNCTION_INFO_V1(ecsync_wake_launcher);

static pid_t wake_pid = 0;
static bool wake_callback_registered = false;

/* wake_at_commit signals the launcher once the change it should see is visible */
static void
wake_at_commit(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT && wake_pid > 0)
		kill(wake_pid, SIGHUP);
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT)
		wake_pid = 0;
}

/*
 * ecsync_wake_launcher makes the launcher (found among the backends by its
 * type) look at ecsync.streams as soon as this transaction commits; false
 * if it is not running.  Without it the launcher still looks every
 * ecsync.launcher_naptime.
 */
Datum
ecsync_wake_launcher(PG_FUNCTION_ARGS)
{
	int			n = pgstat_fetch_stat_numbackends();

	for (int i = 1; i <= n; i++)
	{
		LocalPgBackendStatus *local = pgstat_fetch_stat_local_beentry(i);
		PgBackendStatus *be = local ? &local->backendStatus : NULL;
		const char *type;

		if (be == NULL || be->st_backendType != B_BG_WORKER)
			continue;
		type = GetBackgroundWorkerTypeByPid(be->st_procpid);
		if (type && strcmp(type, ECSYNC_LAUNCHER_TYPE) == 0 &&
			be->st_databaseid == MyDatabaseId)
		{
			if (!wake_callback_registered)
				RegisterXactCallback(wake_at_commit, NULL);
			wake_callback_registered = true;
			wake_pid = be->st_procpid;
			PG_RETURN_BOOL(true);
		}
	}
	PG_RETURN_BOOL(false);
}
