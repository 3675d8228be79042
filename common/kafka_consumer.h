/*
 * kafka_consumer.h
 *	  The Kafka consumer as the stream worker and ecsync-ingest both run
 *	  it: ecsync's default properties, a consumer whose rebalances, errors
 *	  and logs arrive as events on one queue (with an IO-event pipe to
 *	  sleep on), a second queue every owned partition forwards its messages
 *	  to, decoded by common/event_pipe.c's threads, and a close with a time
 *	  limit.  Plain C, no PostgreSQL header.
 */
#ifndef ECSYNC_KAFKA_CONSUMER_H
#define ECSYNC_KAFKA_CONSUMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "event_pipe.h"

/*
 * kc_set_defaults sets ecsync's defaults on conf, before any property of
 * the user's: offsets are ecsync's to store (never auto-committed), the
 * fetch queue bounds suit librdkafka 2.0 (see kafka_consumer.c).  False
 * with librdkafka's message if it refuses one.
 */
extern bool kc_set_defaults(rd_kafka_conf_t *conf, char *err, size_t errlen);

typedef struct kc_consumer
{
	rd_kafka_t *rk;
	rd_kafka_queue_t *consumer_q;	/* rebalances, errors, logs */
	rd_kafka_queue_t *fetch_q;	/* the messages of every owned partition */
	ep_pipe    *pipe;			/* decoding fetch_q */
	int			cq_fd[2];		/* consumer_q's IO event: read [0] */
	int			notify_fd[2];	/* the decoders' chunks ready: read [0] */
} kc_consumer;

/*
 * kc_start creates the consumer from conf (which it takes over, also on
 * failure) with its events on the consumer queue (logs included), the fetch
 * queue, and the decoding pipe; librdkafka's and the decoders' threads are
 * started with every signal blocked.  False with a message on failure
 * (kc_stop then frees what was made).
 */
extern bool kc_start(kc_consumer *kc, rd_kafka_conf_t *conf, const ev_spec *spec,
					 ep_encoder encode, int threads, char *err, size_t errlen);

/* kc_forward makes partition p of topic deliver into the fetch queue */
extern bool kc_forward(kc_consumer *kc, const char *topic, int32_t p);

/* kc_drain_fd empties a non-blocking pipe */
extern void kc_drain_fd(int fd);

/*
 * kc_stop tears the consumer down: pauses the pipe, closes the consumer
 * within timeout_ms (librdkafka's own close waits for the group
 * coordinator without limit: for ever while the broker is away), stops
 * the pipe, destroys queues and consumer, closes the pipes' fds.  Returns
 * whether the close finished in time; if not, the group moves the
 * partitions after session.timeout.ms.
 */
extern bool kc_stop(kc_consumer *kc, int timeout_ms);

/*
 * kc_offset_beyond_end: is next, a partition's stored next offset, beyond
 * the partition's end (the topic was deleted and created again, say)?
 * Then every message below it would be taken for an old copy.  Sets *low
 * and *high (the broker's watermarks, -1 if it could not be asked within
 * timeout_ms; the answer is then false).
 */
extern bool kc_offset_beyond_end(kc_consumer *kc, const char *topic, int32_t p,
								 int64_t next, int timeout_ms,
								 int64_t *low, int64_t *high);

#endif							/* ECSYNC_KAFKA_CONSUMER_H */
