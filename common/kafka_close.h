/*
 * kafka_close.h
 *	  Closing a librdkafka consumer within a bounded time.  librdkafka's own
 *	  close (in rd_kafka_destroy) waits for the group coordinator without a
 *	  limit, for ever while the broker is away.  Shared by the stream
 *	  worker and ecsync-ingest; plain C, no PostgreSQL header.
 */
#ifndef ECSYNC_KAFKA_CLOSE_H
#define ECSYNC_KAFKA_CLOSE_H

#include <stdbool.h>

#include <librdkafka/rdkafka.h>

#include "event_pipe.h"

/*
 * kc_close_bounded starts the consumer's close on consumer_q and serves it
 * for at most timeout_ms: rebalance events get an empty assignment, other
 * events are dropped, and messages fetched into fetch_q meanwhile are
 * destroyed, so that they cannot hold the close up.  Returns whether the
 * consumer closed; if not, destroy it with RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE
 * (its group moves the partitions after session.timeout.ms).
 */
extern bool kc_close_bounded(rd_kafka_t *rk, rd_kafka_queue_t *consumer_q,
							 rd_kafka_queue_t *fetch_q, int timeout_ms);

/*
 * kc_shutdown tears a consumer down: pauses the decoding pipe (if any),
 * closes the consumer within timeout_ms, stops the pipe, destroys both
 * queues and the consumer.  Returns whether the close finished in time.
 */
extern bool kc_shutdown(rd_kafka_t *rk, rd_kafka_queue_t *consumer_q,
						rd_kafka_queue_t *fetch_q, ep_pipe *pipe, int timeout_ms);

#endif							/* ECSYNC_KAFKA_CLOSE_H */
