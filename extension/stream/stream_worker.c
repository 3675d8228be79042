/*-------------------------------------------------------------------------
 *
 * stream_worker.c
 *	  A stream worker: a dynamic background worker, started by the
 *	  launcher, that consumes one stream's topic as a member of its consumer
 *	  group and ingests the events into the target table, exactly once (see
 *	  stream_worker.h for how, and for the other parts).  This file is the
 *	  entry point and the main loop.
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
#include "lib/stringinfo.h"
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

#include "stream_worker.h"

PGDLLEXPORT void ecsync_stream_main(Datum main_arg);

#define SLOT_LOCK_FIELD4 0x4543	/* "EC": not an advisory lock of SQL's */

StreamWorker sw = {.kc = {.cq_fd = {-1, -1}, .notify_fd = {-1, -1}}};
volatile sig_atomic_t stream_got_sigterm = false;

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

	stream_got_sigterm = true;
	if (MyProc != NULL && MyProc->waitLock != NULL)
	{
		InterruptPending = true;
		ProcDiePending = true;
	}
	SetLatch(MyLatch);
	errno = save_errno;
}

PartState *
stream_part(int32 p)
{
	if (p < 0)
		elog(ERROR, "invalid Kafka partition %d", p);
	if (p >= sw.nparts)
	{
		int32		n = p + 16;

		sw.parts = sw.parts ? repalloc(sw.parts, sizeof(PartState) * n) :
			MemoryContextAlloc(TopMemoryContext, sizeof(PartState) * n);
		for (int32 i = sw.nparts; i < n; i++)
		{
			memset(&sw.parts[i], 0, sizeof(PartState));
			sw.parts[i].next = -1;
			sw.parts[i].batch_last = -1;
			sw.parts[i].written_hw = -1;
			sw.parts[i].written_rate = -1;
		}
		sw.nparts = n;
	}
	return &sw.parts[p];
}

/* stream_wait_for_events sleeps until a chunk, a consumer event, a signal or timeout_ms */
void
stream_wait_for_events(long timeout_ms)
{
	WaitEvent	events[4];

	(void) WaitEventSetWait(sw.wes, timeout_ms, events, 4, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	kc_drain_fd(sw.kc.notify_fd[0]);
	CHECK_FOR_INTERRUPTS();
}

void
stream_report_idle(void)
{
	StringInfoData s;
	int			n = 0;

	initStringInfo(&s);
	appendStringInfo(&s, "waiting for events of %s, partitions ", sw.cfg.topic);
	for (int32 p = 0; p < sw.nparts; p++)
		if (sw.parts[p].owned)
			appendStringInfo(&s, "%s%d", n++ ? "," : "", p);
	if (n == 0)
		appendStringInfoString(&s, "(none assigned)");
	pgstat_report_activity(STATE_IDLE, s.data);
	pfree(s.data);
}

/*
 * lock_slot takes a session lock on (stream, index): a worker left over
 * from a launcher that died makes its successor wait rather than consume
 * beside it.  False if asked to stop first.
 */
static bool
lock_slot(void)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) sw.req.stream_id, (uint32) sw.req.index,
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
		if (stream_got_sigterm)
			return false;
	}
}

static bool
launcher_alive(void)
{
	const char *type;

	if (kill(sw.req.launcher_pid, 0) != 0)
		return false;
	type = GetBackgroundWorkerTypeByPid(sw.req.launcher_pid);
	return type != NULL && strcmp(type, ECSYNC_LAUNCHER_TYPE) == 0;
}

/* should_go_on: false when asked to stop, reconfigured, or orphaned */
static bool
should_go_on(TimestampTz *last_launcher_check)
{
	if (stream_got_sigterm)
		return false;
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
		if (sc_config_version() != sw.cfg.config_version)
		{
			ereport(LOG,
					(errmsg("ecsync stream \"%s\" worker %d: the stream was changed or stopped; restarting",
							sw.cfg.name, sw.req.index)));
			return false;
		}
	}
	if (TimestampDifferenceExceeds(*last_launcher_check, GetCurrentTimestamp(), 1000))
	{
		*last_launcher_check = GetCurrentTimestamp();
		if (!launcher_alive())
		{
			ereport(LOG,
					(errmsg("ecsync stream \"%s\" worker %d: the launcher is gone; stopping",
							sw.cfg.name, sw.req.index)));
			return false;
		}
	}
	return true;
}

/* stream_loop: serve the consumer, ingest what is decoded, sleep */
static void
stream_loop(void)
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
		if (!should_go_on(&last_launcher_check))
			return;
		stream_consumer_serve();
		if ((c = ep_take(sw.kc.pipe)) != NULL)
			stream_ingest_batch(c);
		else
		{
			stream_refresh_stats();
			stream_wait_for_events(STATS_INTERVAL_MS);
		}
	}
}

void
ecsync_stream_main(Datum main_arg)
{
	memcpy(&sw.req, MyBgworkerEntry->bgw_extra, sizeof(sw.req));
	pqsignal(SIGTERM, stream_sigterm);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(sw.req.dboid, sw.req.owner, 0);
	StartTransactionCommand();
	ecsync_worker_client_encoding();
	CommitTransactionCommand();

	if (!lock_slot())
		proc_exit(0);
	if (!sc_load_config() || !sw.cfg.started)
		proc_exit(0);
	pgstat_report_appname(psprintf("ecsync stream %s", sw.cfg.name));
	ereport(LOG,
			(errmsg("ecsync stream \"%s\" worker %d started: topic \"%s\", group \"%s\", into %s.%s",
					sw.cfg.name, sw.req.index, sw.cfg.topic, sw.cfg.group, sw.cfg.schema, sw.cfg.table)));

	PG_TRY();
	{
		sc_prepare();
		stream_consumer_start();
		stream_report_idle();
		stream_loop();
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
		sc_record_error(-1, e->message);
		if (sw.inflight)
			stream_batch_free(sw.inflight);
		sw.inflight = NULL;
		stream_consumer_stop();
		proc_exit(1);
	}
	PG_END_TRY();

	stream_consumer_stop();
	ereport(LOG, (errmsg("ecsync stream \"%s\" worker %d stopped", sw.cfg.name, sw.req.index)));
	proc_exit(0);
}
