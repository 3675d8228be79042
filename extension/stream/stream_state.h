/*-------------------------------------------------------------------------
 *
 * stream_state.h
 *	  The bottom layer of the stream worker: its state, in one StreamWorker
 *	  that the entry point (stream_worker.c) owns and passes down to every
 *	  part as "w", and the small functions on that state alone.  It uses
 *	  nothing of the other parts.
 *
 *	  The parts, bottom to top; each may use only what is below it:
 *
 *	  stream_state.c     the state, a partition's PartState, the wait
 *	  stream_catalog.c   every statement on ecsync's catalog (the stream's
 *	                     configuration, offsets, dead letters, errors)
 *	  stream_consumer.c  the Kafka consumer: set-up, rebalances, events
 *	  stream_batch.c     a batch: COPY into the target, bad rows isolated
 *	  stream_worker.c    the entry point and the main loop
 *
 *	  (tests/integration/layers.sh checks that it stays so.)
 *
 *-------------------------------------------------------------------------
 */
#ifndef ECSYNC_STREAM_STATE_H
#define ECSYNC_STREAM_STATE_H

#include <signal.h>

#include "nodes/pg_list.h"
#include "storage/latch.h"
#include "utils/timestamp.h"

#include "ecsync.h"
#include "event_decode.h"
#include "event_pipe.h"
#include "kafka_consumer.h"

#define STATS_INTERVAL_MS 2000

/* the stream, as ecsync.streams says when the worker starts */
typedef struct StreamConfig
{
	int32		id;
	int32		config_version;
	char	   *name;
	char	   *server;
	char	   *topic;
	char	   *schema;
	char	   *table;
	char	   *group;
	int			batch_size;
	int			max_latency_ms;
	int			decode_threads;
	bool		start_latest;
	bool		started;
	ev_spec		spec;
	List	   *attnames;		/* the COPY column list */
} StreamConfig;

/* what the worker knows of a partition it may own */
typedef struct PartState
{
	bool		owned;
	int64		next;			/* offset the stored row holds; -1: NULL */
	int64		win_rows;		/* rate window */
	TimestampTz win_start;
	double		rate;
	int64		written_hw;		/* what the last stats update wrote */
	double		written_rate;
	/* this batch */
	int64		batch_last;		/* -1: not in the batch */
	int64		batch_rows;
	int64		batch_dead;
} PartState;

/* the events of one transaction: decoded chunks, in fetch order */
typedef struct Batch
{
	ep_chunk  **chunks;
	int			n;
	int			cap;
	int64		items;			/* events (rows + dead letters) */
	int64		rows;
	int64		dead;
} Batch;

/*
 * The worker's state.  What it points to lives in TopMemoryContext (or
 * outside PostgreSQL's memory: librdkafka's and the decoders'), so it
 * outlives every transaction and every reset of the loop's context.
 */
typedef struct StreamWorker
{
	StreamRequest req;
	StreamConfig cfg;
	kc_consumer kc;
	WaitEventSet *wes;			/* latch, consumer events, decoded chunks */
	PartState  *parts;			/* by partition number */
	int32		nparts;
	Batch	   *inflight;		/* being written: freed on error */
	TimestampTz last_stats;
	/* set by the SIGTERM handler: stop after the batch the worker is in */
	volatile sig_atomic_t got_sigterm;
} StreamWorker;

extern PartState *stream_part(StreamWorker *w, int32 p);
extern void stream_watermarks(StreamWorker *w, int32 p, int64 *low, int64 *high);
extern void stream_wait_for_events(StreamWorker *w, long timeout_ms);
extern void stream_report_idle(StreamWorker *w);

#endif							/* ECSYNC_STREAM_STATE_H */
