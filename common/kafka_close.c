/*
 * kafka_close.c
 *	  A consumer close with a time limit (see kafka_close.h).
 */
#include "kafka_close.h"

#include <time.h>

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

bool
kc_close_bounded(rd_kafka_t *rk, rd_kafka_queue_t *consumer_q,
				 rd_kafka_queue_t *fetch_q, int timeout_ms)
{
	rd_kafka_error_t *error = rd_kafka_consumer_close_queue(rk, consumer_q);
	double		give_up = now_s() + timeout_ms / 1000.0;
	bool		closed = false;

	if (error)
	{
		rd_kafka_error_destroy(error);
		return false;
	}
	while (!(closed = rd_kafka_consumer_closed(rk)) && now_s() < give_up)
	{
		rd_kafka_event_t *ev = rd_kafka_queue_poll(consumer_q, 50);
		rd_kafka_message_t *msgs[256];
		ssize_t		n;

		if (ev && rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
			rd_kafka_assign(rk, NULL);
		if (ev)
			rd_kafka_event_destroy(ev);
		while (fetch_q && (n = rd_kafka_consume_batch_queue(fetch_q, 0, msgs, 256)) > 0)
			for (ssize_t i = 0; i < n; i++)
				rd_kafka_message_destroy(msgs[i]);
	}
	return closed;
}

bool
kc_shutdown(rd_kafka_t *rk, rd_kafka_queue_t *consumer_q, rd_kafka_queue_t *fetch_q,
			ep_pipe *pipe, int timeout_ms)
{
	bool		closed = false;

	if (pipe)
		ep_pause(pipe);
	if (consumer_q)
		closed = kc_close_bounded(rk, consumer_q, fetch_q, timeout_ms);
	if (pipe)
		ep_stop(pipe);
	if (fetch_q)
		rd_kafka_queue_destroy(fetch_q);
	if (consumer_q)
		rd_kafka_queue_destroy(consumer_q);
	rd_kafka_destroy_flags(rk, closed ? 0 : RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	return closed;
}
