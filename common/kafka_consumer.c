/*
 * kafka_consumer.c
 *	  The consumer set-up and close shared by the stream worker and
 *	  ecsync-ingest (see kafka_consumer.h).
 */
#include "kafka_consumer.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "seterr.h"

static const char *const default_properties[][2] = {
	{"enable.auto.commit", "false"},
	{"enable.auto.offset.store", "false"},
	{"enable.partition.eof", "false"},
	{"auto.offset.reset", "earliest"},
	{"session.timeout.ms", "10000"},
	{"heartbeat.interval.ms", "2000"},

	/*
	 * librdkafka 2.0 stops fetching when its queue passes either bound and
	 * looks again only about a second later: the bytes bound
	 * (queued.max.messages.kbytes, set by each program for its own rate)
	 * must hold more than a second of events, and the count bound must not
	 * come first (memory stays bounded by the bytes)
	 */
	{"queued.min.messages", "10000000"},
	{"partition.assignment.strategy", "range,roundrobin"},
	{"log.connection.close", "false"},
	{NULL, NULL}
};

bool
kc_set_defaults(rd_kafka_conf_t *conf, char *err, size_t errlen)
{
	char		errstr[512];

	for (int i = 0; default_properties[i][0]; i++)
		if (rd_kafka_conf_set(conf, default_properties[i][0], default_properties[i][1],
							  errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
		{
			seterr(err, errlen, "librdkafka refused ecsync's default %s: %s",
				   default_properties[i][0], errstr);
			return false;
		}
	return true;
}

static bool
open_pipe(int fds[2])
{
	if (pipe(fds) != 0)
		return false;
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	fcntl(fds[1], F_SETFL, O_NONBLOCK);
	return true;
}

bool
kc_start(kc_consumer *kc, rd_kafka_conf_t *conf, const ev_spec *spec,
		 ep_encoder encode, int threads, char *err, size_t errlen)
{
	char		errstr[512];
	sigset_t	all,
				old;

	memset(kc, 0, sizeof(*kc));
	kc->cq_fd[0] = kc->cq_fd[1] = kc->notify_fd[0] = kc->notify_fd[1] = -1;
	if (!open_pipe(kc->cq_fd) || !open_pipe(kc->notify_fd))
	{
		seterr(err, errlen, "could not create a pipe: %s", strerror(errno));
		rd_kafka_conf_destroy(conf);
		return false;
	}
	if (rd_kafka_conf_set(conf, "log.queue", "true", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
	{
		seterr(err, errlen, "%s", errstr);
		rd_kafka_conf_destroy(conf);
		return false;
	}

	/* librdkafka's and the decoders' threads must never take a signal */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	kc->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (kc->rk == NULL)
	{
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		rd_kafka_conf_destroy(conf);
		seterr(err, errlen, "could not create a Kafka consumer: %s", errstr);
		return false;
	}
	rd_kafka_poll_set_consumer(kc->rk);
	rd_kafka_set_log_queue(kc->rk, NULL);
	kc->consumer_q = rd_kafka_queue_get_consumer(kc->rk);
	kc->fetch_q = rd_kafka_queue_new(kc->rk);
	rd_kafka_queue_io_event_enable(kc->consumer_q, kc->cq_fd[1], "e", 1);
	kc->pipe = ep_start(kc->fetch_q, spec, encode, threads, kc->notify_fd[1],
						errstr, sizeof(errstr));
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (kc->pipe == NULL)
	{
		seterr(err, errlen, "%s", errstr);
		return false;
	}
	return true;
}

bool
kc_forward(kc_consumer *kc, const char *topic, int32_t p)
{
	rd_kafka_queue_t *pq = rd_kafka_queue_get_partition(kc->rk, topic, p);

	if (pq == NULL)
		return false;
	rd_kafka_queue_forward(pq, kc->fetch_q);
	rd_kafka_queue_destroy(pq);
	return true;
}

void
kc_drain_fd(int fd)
{
	char		buf[256];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * close_bounded starts the consumer's close and serves it for at most
 * timeout_ms: rebalance events get an empty assignment, other events are
 * dropped, and messages fetched meanwhile are destroyed, so that they
 * cannot hold the close up.
 */
static bool
close_bounded(kc_consumer *kc, int timeout_ms)
{
	rd_kafka_error_t *error = rd_kafka_consumer_close_queue(kc->rk, kc->consumer_q);
	double		give_up = now_s() + timeout_ms / 1000.0;
	bool		closed = false;

	if (error)
	{
		rd_kafka_error_destroy(error);
		return false;
	}
	while (!(closed = rd_kafka_consumer_closed(kc->rk)) && now_s() < give_up)
	{
		rd_kafka_event_t *ev = rd_kafka_queue_poll(kc->consumer_q, 50);
		rd_kafka_message_t *msgs[256];
		ssize_t		n;

		if (ev && rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
			rd_kafka_assign(kc->rk, NULL);
		if (ev)
			rd_kafka_event_destroy(ev);
		while (kc->fetch_q && (n = rd_kafka_consume_batch_queue(kc->fetch_q, 0, msgs, 256)) > 0)
			for (ssize_t i = 0; i < n; i++)
				rd_kafka_message_destroy(msgs[i]);
	}
	return closed;
}

bool
kc_stop(kc_consumer *kc, int timeout_ms)
{
	bool		closed = false;

	if (kc->rk != NULL)
	{
		if (kc->pipe)
			ep_pause(kc->pipe);
		if (kc->consumer_q)
			closed = close_bounded(kc, timeout_ms);
		if (kc->pipe)
			ep_stop(kc->pipe);
		if (kc->fetch_q)
			rd_kafka_queue_destroy(kc->fetch_q);
		if (kc->consumer_q)
			rd_kafka_queue_destroy(kc->consumer_q);
		rd_kafka_destroy_flags(kc->rk, closed ? 0 : RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	}
	for (int i = 0; i < 2; i++)
	{
		if (kc->cq_fd[i] >= 0)
			close(kc->cq_fd[i]);
		if (kc->notify_fd[i] >= 0)
			close(kc->notify_fd[i]);
	}
	memset(kc, 0, sizeof(*kc));
	kc->cq_fd[0] = kc->cq_fd[1] = kc->notify_fd[0] = kc->notify_fd[1] = -1;
	return closed;
}

bool
kc_offset_beyond_end(kc_consumer *kc, const char *topic, int32_t p, int64_t next,
					 int timeout_ms, int64_t *low, int64_t *high)
{
	int64_t		lo,
				hi;

	*low = *high = -1;
	if (rd_kafka_query_watermark_offsets(kc->rk, topic, p, &lo, &hi, timeout_ms) !=
		RD_KAFKA_RESP_ERR_NO_ERROR)
		return false;
	*low = lo;
	*high = hi;
	return next > hi;
}
