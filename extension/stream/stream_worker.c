/*-------------------------------------------------------------------------
 *
 * stream_worker.c
 *	  A stream worker: a dynamic background worker, started by the
 *	  launcher, that consumes one stream's topic as a member of its consumer
 *	  group and ingests the events into the target table, exactly once (see
 *	  stream_catalog.h for how).  This file is the entry point and the main
 *	  loop, the top of the worker's parts (stream_state.h lists them): it
 *	  owns the one StreamWorker of the process and passes it down.
 *
 *	  Threads: librdkafka's own, and the decoding threads of
 *	  common/event_pipe.c, which fetch from a queue that every owned
 *	  partition forwards to and decode JSON into binary COPY rows.  None of
 *	  them calls PostgreSQL.  The main thread serves the consumer's events
 *	  and feeds the decoded rows to COPY, so decoding and inserting overlap.
 *	  It sleeps on a WaitEventSet of its latch, the consumer queue's
 *	  IO-event pipe and the decoders' pipe: no busy polling.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"

#include "stream_batch.h"
#include "stream_catalog.h"
#include "stream_consumer.h"
#include "stream_state.h"

PGDLLEXPORT void ecsync_stream_main(Datum main_arg);

#define SLOT_LOCK_FIELD4 0x4543	/* "EC": not an advisory lock of SQL's */

/* the worker's state: only the entry point and the signal handler use it by name */
static StreamWorker sw = {.kc = {.cq_fd = {-1, -1}, .notify_fd = {-1, -1}}};

/*
 * stream_sigterm asks the worker to stop after the batch it is in, which
 * it closes early and commits.  A worker waiting for a lock on the target
 * (someone holds it) would never get there: it dies at once instead, as
 * a backend would, and the uncommitted batch is read again by the next.
 */
static void
stream_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	sw.got_sigterm = true;
	if (MyProc != NULL && MyProc->waitLock != NULL)
	{
		InterruptPending = true;
		ProcDiePending = true;
	}
	SetLatch(MyLatch);
	errno = save_errno;
}

/*
 * lock_slot takes a session lock on (stream, index): a worker left over
 * from a launcher that died makes its successor wait rather than consume
 * beside it.  False if asked to stop first.
 */
static bool
lock_slot(StreamWorker *w)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) w->req.stream_id, (uint32) w->req.index,
						 SLOT_LOCK_FIELD4);
	for (;;)
	{
		LockAcquireResult r;

		StartTransactionCommand();
		r = LockAcquire(&tag, ExclusiveLock, true, true);
		CommitTransactionCommand();
		if (r != LOCKACQUIRE_NOT_AVAIL)
			return true;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (w->got_sigterm)
			return false;
	}
}

static bool
launcher_alive(StreamWorker *w)
{
	const char *type;

	if (kill(w->req.launcher_pid, 0) != 0)
		return false;
	type = GetBackgroundWorkerTypeByPid(w->req.launcher_pid);
	return type != NULL && strcmp(type, ECSYNC_LAUNCHER_TYPE) == 0;
}

/* should_go_on: false when asked to stop, reconfigured, or orphaned */
static bool
should_go_on(StreamWorker *w, TimestampTz *last_launcher_check)
{
	if (w->got_sigterm)
		return false;
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
		if (sc_config_version(w) != w->cfg.config_version)
		{
			ereport(LOG,
					(errmsg("ecsync stream \"%s\" worker %d: the stream was changed or stopped; restarting",
							w->cfg.name, w->req.index)));
			return false;
		}
	}
	if (TimestampDifferenceExceeds(*last_launcher_check, GetCurrentTimestamp(), 1000))
	{
		*last_launcher_check = GetCurrentTimestamp();
		if (!launcher_alive(w))
		{
			ereport(LOG,
					(errmsg("ecsync stream \"%s\" worker %d: the launcher is gone; stopping",
							w->cfg.name, w->req.index)));
			return false;
		}
	}
	return true;
}

/* stream_loop: serve the consumer, ingest what is decoded, sleep */
static void
stream_loop(StreamWorker *w)
{
	TimestampTz last_launcher_check = GetCurrentTimestamp();

	/* what one round allocates outside transactions dies with the round */
	MemoryContext loop_cxt = AllocSetContextCreate(TopMemoryContext,
												   "ecsync stream loop",
												   ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		ep_chunk   *c;

		MemoryContextSwitchTo(loop_cxt);
		MemoryContextReset(loop_cxt);
		CHECK_FOR_INTERRUPTS();
		if (!should_go_on(w, &last_launcher_check))
			return;
		stream_consumer_serve(w);
		if ((c = ep_take(w->kc.pipe)) != NULL)
			stream_ingest_batch(w, c);
		else
		{
			stream_refresh_stats(w);
			stream_wait_for_events(w, STATS_INTERVAL_MS);
		}
	}
}

void
ecsync_stream_main(Datum main_arg)
{
	StreamWorker *w = &sw;

	memcpy(&w->req, MyBgworkerEntry->bgw_extra, sizeof(w->req));
	pqsignal(SIGTERM, stream_sigterm);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(w->req.dboid, w->req.owner, 0);
	StartTransactionCommand();
	ecsync_worker_client_encoding();
	CommitTransactionCommand();

	if (!lock_slot(w))
		proc_exit(0);
	if (!sc_load_config(w) || !w->cfg.started)
		proc_exit(0);
	pgstat_report_appname(psprintf("ecsync stream %s", w->cfg.name));
	ereport(LOG,
			(errmsg("ecsync stream \"%s\" worker %d started: topic \"%s\", group \"%s\", into %s.%s",
					w->cfg.name, w->req.index, w->cfg.topic, w->cfg.group, w->cfg.schema, w->cfg.table)));

	PG_TRY();
	{
		sc_prepare();
		stream_consumer_start(w);
		stream_report_idle(w);
		stream_loop(w);
	}
	PG_CATCH();
	{
		ErrorData  *e;

		HOLD_INTERRUPTS();
		EmitErrorReport();
		MemoryContextSwitchTo(TopMemoryContext);
		e = CopyErrorData();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		RESUME_INTERRUPTS();
		sc_record_error(w, -1, e->message);
		if (w->inflight)
			stream_batch_free(w->inflight);
		w->inflight = NULL;
		stream_consumer_stop(w);
		proc_exit(1);
	}
	PG_END_TRY();

	stream_consumer_stop(w);
	ereport(LOG, (errmsg("ecsync stream \"%s\" worker %d stopped", w->cfg.name, w->req.index)));
	proc_exit(0);
}
