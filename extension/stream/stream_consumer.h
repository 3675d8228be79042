/*-------------------------------------------------------------------------
 *
 * stream_consumer.h
 *	  The stream worker's Kafka consumer: its set-up, the events it serves
 *	  between batches (rebalances, errors, librdkafka's logs), the commit
 *	  to the Kafka group for lag tools, and its end.  It uses the worker's
 *	  state (stream_state.h) and the catalog (stream_catalog.h), which
 *	  holds the offsets an assignment starts from; nothing of the batch or
 *	  the main loop above it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ECSYNC_STREAM_CONSUMER_H
#define ECSYNC_STREAM_CONSUMER_H

#include "stream_state.h"

extern void stream_consumer_start(StreamWorker *w);
extern void stream_consumer_serve(StreamWorker *w);
extern void stream_consumer_committed(StreamWorker *w);
extern void stream_consumer_stop(StreamWorker *w);

#endif							/* ECSYNC_STREAM_CONSUMER_H */
