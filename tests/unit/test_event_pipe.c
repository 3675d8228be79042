/*
 * test_event_pipe.c
 *	  The decoding pipeline (common/event_pipe.c) against the real broker,
 *	  as the stream worker drives it: partition queues forwarded to one
 *	  queue, several decoding threads, and, half-way, a pause, a discard and
 *	  a re-assignment from the positions taken so far (a rebalance).  Every
 *	  offset of every partition must come out exactly once, in order.
 *	  Built with ASan and UBSan (tests/integration/pipe.sh).  (ThreadSanitizer
 *	  cannot run it: it does not intercept the C11 threads librdkafka starts.)
 *
 *	  test_event_pipe BROKERS TOPIC PARTITIONS EVENTS THREADS
 */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "event_pipe.h"

#define MAXP 64

static ev_field fields[] = {
	{"p", NULL, EV_INTEGER, EV_FROM_PARTITION, false},
	{"o", NULL, EV_BIGINT, EV_FROM_OFFSET, false},
	{"user_id", "user_id", EV_BIGINT, EV_FROM_JSON, true},
	{"viewed_at", "viewed_at", EV_TIMESTAMPTZ, EV_FROM_JSON, true},
};
static ev_spec spec = {4, fields, 1 << 20};

static rd_kafka_t *rk;
static rd_kafka_queue_t *fetchq;
static const char *topic;
static int	nparts;

static void
die(const char *msg)
{
	fprintf(stderr, "test_event_pipe: %s\n", msg);
	exit(1);
}

/* assign forwards every partition to the fetch queue and assigns it at next[p] */
static void
assign(ep_pipe *pipe_, const int64_t *next)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(nparts);

	for (int p = 0; p < nparts; p++)
	{
		rd_kafka_queue_t *pq = rd_kafka_queue_get_partition(rk, topic, p);

		rd_kafka_queue_forward(pq, fetchq);
		rd_kafka_queue_destroy(pq);
		rd_kafka_topic_partition_list_add(l, topic, p)->offset = next[p];
		if (!ep_set_position(pipe_, p, next[p]))
			die("ep_set_position");
	}
	if (rd_kafka_assign(rk, l))
		die("rd_kafka_assign");
	rd_kafka_topic_partition_list_destroy(l);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char		errstr[512];
	int			fds[2];
	long		events;
	int			threads;
	ep_pipe    *pipe_;
	int64_t		next[MAXP] = {0};
	long		seen = 0,
				rows = 0;
	bool		paused_once = false;
	double		deadline;

	if (argc != 6)
		die("usage: test_event_pipe BROKERS TOPIC PARTITIONS EVENTS THREADS");
	topic = argv[2];
	nparts = atoi(argv[3]);
	events = atol(argv[4]);
	threads = atoi(argv[5]);
	if (nparts < 1 || nparts > MAXP)
		die("bad partition count");
	if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], errstr, sizeof(errstr)) ||
		rd_kafka_conf_set(conf, "group.id", "test_event_pipe", errstr, sizeof(errstr)) ||
		rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr)))
		die(errstr);
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (rk == NULL)
		die(errstr);
	rd_kafka_poll_set_consumer(rk);
	fetchq = rd_kafka_queue_new(rk);
	if (pipe(fds) != 0)
		die("pipe");
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	fcntl(fds[1], F_SETFL, O_NONBLOCK);
	pipe_ = ep_start(fetchq, &spec, ev_encode_binary, threads, fds[1], errstr, sizeof(errstr));
	if (pipe_ == NULL)
		die(errstr);
	assign(pipe_, next);

	deadline = now() + 120;
	while (seen < events)
	{
		ep_chunk   *c = ep_take(pipe_);

		if (now() > deadline)
		{
			rd_kafka_topic_partition_list_t *pos = rd_kafka_topic_partition_list_new(nparts);

			for (int p = 0; p < nparts; p++)
				rd_kafka_topic_partition_list_add(pos, topic, p);
			rd_kafka_position(rk, pos);
			fprintf(stderr, "test_event_pipe: only %ld of %ld events in 120 s; %zu messages queued; positions:",
					seen, events, rd_kafka_queue_length(fetchq));
			for (int p = 0; p < nparts; p++)
				fprintf(stderr, " %d@%lld (want %lld)", p, (long long) pos->elems[p].offset, (long long) next[p]);
			fputc('\n', stderr);
			rd_kafka_topic_partition_list_destroy(pos);
			return 1;
		}
		if (c == NULL)
		{
			struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
			char		buf[64];
			rd_kafka_message_t *m;

			/* the consumer queue: errors only here (no group subscription) */
			while ((m = rd_kafka_consumer_poll(rk, 0)) != NULL)
			{
				if (m->err)
					fprintf(stderr, "consumer: %s\n", rd_kafka_message_errstr(m));
				rd_kafka_message_destroy(m);
			}
			if (poll(&pfd, 1, 100) > 0)
				while (read(fds[0], buf, sizeof(buf)) > 0)
					;
			continue;
		}
		for (int i = 0; i < c->nitems; i++)
		{
			ep_item    *it = &c->items[i];

			if (it->is_error)
			{
				fprintf(stderr, "consumer error: %s\n", it->reason);
				continue;
			}
			if (it->msg->partition < 0 || it->msg->partition >= nparts)
				die("message of an unknown partition");
			if (it->msg->offset != next[it->msg->partition])
			{
				fprintf(stderr, "test_event_pipe: partition %d: offset %lld, expected %lld\n",
						(int) it->msg->partition, (long long) it->msg->offset,
						(long long) next[it->msg->partition]);
				return 1;
			}
			next[it->msg->partition]++;
			seen++;
			if (it->kind == EV_OK)
			{
				if (it->row_end <= it->row_start)
					die("an empty row");
				rows++;
			}
		}
		ep_chunk_free(c);

		/* half-way: a rebalance that gives back the same partitions */
		if (!paused_once && seen >= events / 2)
		{
			paused_once = true;
			ep_pause(pipe_);
			ep_disown_all(pipe_);
			if (rd_kafka_assign(rk, NULL))
				die("unassign");
			/*
			 * as between a worker's revoke and assign events, serve the
			 * consumer queue: librdkafka 2.0 can leave partitions assigned
			 * again at once without fetching
			 */
			{
				double		until = now() + 0.2;

				while (now() < until)
				{
					rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 10);

					if (m)
						rd_kafka_message_destroy(m);
				}
			}
			assign(pipe_, next);
			ep_resume(pipe_);
		}
	}
	ep_pause(pipe_);
	ep_stop(pipe_);
	rd_kafka_assign(rk, NULL);
	rd_kafka_queue_destroy(fetchq);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	close(fds[0]);
	close(fds[1]);
	printf("test_event_pipe: %ld events (%ld rows) in order, exactly once, with %d threads and a re-assignment\n",
		   seen, rows, threads);
	return seen == events && rows == events ? 0 : 1;
}
