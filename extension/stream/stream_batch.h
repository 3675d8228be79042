/*-------------------------------------------------------------------------
 *
 * stream_batch.h
 *	  One batch of a stream: the decoded events COPYed into the target,
 *	  the rows it refuses isolated as dead letters, the offsets moved on,
 *	  in one transaction; and the statistics written while no batch runs.
 *	  It uses the worker's state (stream_state.h), the catalog
 *	  (stream_catalog.h) and the consumer (stream_consumer.h); nothing of
 *	  the main loop (stream_worker.c) above it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ECSYNC_STREAM_BATCH_H
#define ECSYNC_STREAM_BATCH_H

#include "stream_state.h"

extern void stream_ingest_batch(StreamWorker *w, ep_chunk *first);
extern void stream_batch_free(Batch *b);
extern void stream_refresh_stats(StreamWorker *w);

#endif							/* ECSYNC_STREAM_BATCH_H */
