/*-------------------------------------------------------------------------
 *
 * stream_catalog.h
 *	  Every statement the stream worker runs on ecsync's catalog: the
 *	  stream's configuration, the offsets, dead letters, errors and
 *	  statistics.  It uses the worker's state (stream_state.h) and nothing
 *	  of the parts above it: the consumer, the batch and the main loop.
 *
 *	  Exactly once: the next offset of every partition lives in
 *	  ecsync.stream_offsets and is written in the transaction that inserts
 *	  the rows (and the dead letters) it covers (sc_write_offsets, in the
 *	  batch's transaction).  On assignment the worker reads those offsets
 *	  (sc_claim_partition) and hands them to librdkafka explicitly; the
 *	  offset update is conditional on the value the worker started from,
 *	  so a worker that lost its partition to another can never commit a
 *	  batch twice.  Committing to the Kafka group afterwards only serves
 *	  outside lag tooling.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ECSYNC_STREAM_CATALOG_H
#define ECSYNC_STREAM_CATALOG_H

#include "stream_state.h"

/* transactions work on the catalog as its owner ... */
extern void sc_begin(void);
extern void sc_commit(void);
/* ... and leave it for the target, which the stream's owner writes */
extern void sc_as_owner(void);
extern void sc_as_catalog(void);
extern bool sc_load_config(StreamWorker *w);
extern int32 sc_config_version(StreamWorker *w);
extern void sc_prepare(void);
extern void sc_record_error(StreamWorker *w, int32 partition, const char *msg);
extern int64 sc_claim_partition(StreamWorker *w, int32 p);
extern void sc_pin_partition(StreamWorker *w, int32 p, int64 next);
extern void sc_partition_beyond_end(StreamWorker *w, int32 p, int64 next, int64 low, int64 high);
extern void sc_check_positions(StreamWorker *w);
extern void sc_write_dead_letters(StreamWorker *w, Batch *b);
extern void sc_write_offsets(StreamWorker *w, Batch *b);
extern bool sc_write_stats(StreamWorker *w, int32 p, int64 low, int64 high, double rate);

#endif							/* ECSYNC_STREAM_CATALOG_H */
