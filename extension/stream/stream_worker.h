/*-------------------------------------------------------------------------
 *
 * stream_worker.h
 *	  The stream worker's parts, around the one StreamWorker of the process:
 *
 *	  stream_worker.c    the entry point and the main loop
 *	  stream_catalog.c   every statement on ecsync's catalog (the stream's
 *	                     configuration, offsets, dead letters, errors)
 *	  stream_consumer.c  the Kafka consumer: set-up, rebalances, events
 *	  stream_batch.c     a batch: COPY into the target, bad rows isolated
 *
 *	  Exactly once: the next offset of every partition lives in
 *	  ecsync.stream_offsets and is written in the transaction that inserts
 *	  the rows (and the dead letters) it covers.  On assignment the worker
 *	  reads those offsets and hands them to librdkafka explicitly; the
 *	  offset update is conditional on the value the worker started from,
 *	  so a worker that lost its partition to another can never commit a
 *	  batch twice.  Committing to the Kafka group afterwards only serves
 *	  outside lag tooling.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ECSYNC_STREAM_WORKER_H
#define ECSYNC_STREAM_WORKER_H

#include <signal.h>

#include "nodes/pg_list.h"
#include "storage/latch.h"
#include "utils/timestamp.h"

#include "ecsync.h"
#include "event_decode.h"
#include "event_pipe.h"
#include "kafka_consumer.h"

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
} StreamWorker;

extern StreamWorker sw;
extern volatile sig_atomic_t stream_got_sigterm;

/* stream_worker.c */
extern PartState *stream_part(int32 p);
extern void stream_wait_for_events(long timeout_ms);
extern void stream_report_idle(void);

/* stream_catalog.c: transactions work on the catalog as its owner ... */
extern void sc_begin(void);
extern void sc_commit(void);
/* ... and leave it for the target, which the stream's owner writes */
extern void sc_as_owner(void);
extern void sc_as_catalog(void);
extern bool sc_load_config(void);
extern int32 sc_config_version(void);
extern void sc_prepare(void);
extern void sc_record_error(int32 partition, const char *msg);
extern int64 sc_claim_partition(int32 p);
extern void sc_pin_partition(int32 p, int64 next);
extern void sc_partition_beyond_end(int32 p, int64 next, int64 low, int64 high);
extern void sc_check_positions(void);
extern void sc_write_dead_letters(Batch *b);
extern void sc_write_offsets(Batch *b);
extern bool sc_write_stats(int32 p, int64 low, int64 high, double rate);

/* stream_consumer.c */
extern void stream_consumer_start(void);
extern void stream_consumer_serve(void);
extern void stream_consumer_watermarks(int32 p, int64 *low, int64 *high);
extern void stream_consumer_committed(void);
extern void stream_consumer_stop(void);

/* stream_batch.c */
extern void stream_ingest_batch(ep_chunk *first);
extern void stream_batch_free(Batch *b);
extern void stream_refresh_stats(void);

#define STATS_INTERVAL_MS 2000

#endif							/* ECSYNC_STREAM_WORKER_H */
