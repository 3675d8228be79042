/*
 * pvproduce.c
 *	  Sends page-view events of the sample shop's users to a Kafka topic,
 *	  keyed by user_id, as fast as possible or at a steady rate:
 *
 *	  {"user_id":42,"age":31,"gender":"female","occupation":"会社員",
 *	   "page":"/products/118","viewed_at":"2026-11-28T10:15:00.123+09:00"}
 *
 *	  Users' attributes come from shop_model.c, so they match the users
 *	  table shopgen writes for the same scale and seed.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "shop_model.h"

#define STREAM_VIEW 5
#define JST_OFFSET (9 * 3600)

static volatile sig_atomic_t stop_requested = 0;
static long delivered = 0;
static long failed = 0;

#define FATAL(...) do { \
	fprintf(stderr, "pvproduce: " __VA_ARGS__); \
	fputc('\n', stderr); \
	exit(1); \
} while (0)

static void
on_signal(int sig)
{
	(void) sig;
	stop_requested = 1;
}

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void) rk;
	(void) opaque;
	if (m->err)
	{
		if (failed++ < 5)
			fprintf(stderr, "pvproduce: delivery failed: %s\n",
					rd_kafka_err2str(m->err));
	}
	else
		delivered++;
}

/*
 * wait_for_topic waits up to 30 s until the broker's metadata lists topic
 * (listed) or no longer does: creations and deletions complete in the
 * background, and a producer that asks too early caches the topic as
 * unknown and fails its messages with "Local: Unknown topic".
 */
static bool
wait_for_topic(rd_kafka_t *rk, const char *topic, bool listed)
{
	for (int i = 0; i < 300; i++)
	{
		const struct rd_kafka_metadata *md = NULL;
		rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
		bool		done = false;

		if (rd_kafka_metadata(rk, 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			done = md->topic_cnt == 1 &&
				(listed ? md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
				 md->topics[0].partition_cnt > 0 :
				 md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
			rd_kafka_metadata_destroy(md);
		}
		rd_kafka_topic_destroy(t);
		if (done)
			return true;
		usleep(100000);
	}
	return false;
}

/*
 * create_topic makes topic with the given number of partitions through the
 * Admin API; a topic that already exists is fine.
 */
static void
create_topic(rd_kafka_t *rk, const char *topic, int partitions)
{
	char		errstr[512];
	rd_kafka_NewTopic_t *nt;
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_event_t *ev;
	const rd_kafka_CreateTopics_result_t *res;
	const rd_kafka_topic_result_t **results;
	size_t		n;

	nt = rd_kafka_NewTopic_new(topic, partitions, 1, errstr, sizeof(errstr));
	if (nt == NULL)
		FATAL("topic %s: %s", topic, errstr);
	rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
	ev = rd_kafka_queue_poll(q, 30000);
	if (ev == NULL)
		FATAL("creating topic %s timed out", topic);
	if (rd_kafka_event_error(ev))
		FATAL("creating topic %s: %s", topic, rd_kafka_event_error_string(ev));
	res = rd_kafka_event_CreateTopics_result(ev);
	results = rd_kafka_CreateTopics_result_topics(res, &n);
	for (size_t i = 0; i < n; i++)
	{
		rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);

		if (err != RD_KAFKA_RESP_ERR_NO_ERROR &&
			err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
			FATAL("creating topic %s: %s", topic,
				  rd_kafka_topic_result_error_string(results[i]));
	}
	rd_kafka_event_destroy(ev);
	rd_kafka_NewTopic_destroy(nt);
	rd_kafka_queue_destroy(q);
	if (!wait_for_topic(rk, topic, true))
		FATAL("topic %s not listed 30 s after its creation", topic);
}

/*
 * delete_topic deletes topic through the Admin API and waits until the
 * broker no longer lists it; a topic that does not exist is fine.
 */
static void
delete_topic(rd_kafka_t *rk, const char *topic)
{
	rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(topic);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_event_t *ev;
	const rd_kafka_DeleteTopics_result_t *res;
	const rd_kafka_topic_result_t **results;
	size_t		n;

	rd_kafka_DeleteTopics(rk, &dt, 1, NULL, q);
	ev = rd_kafka_queue_poll(q, 30000);
	if (ev == NULL)
		FATAL("deleting topic %s timed out", topic);
	if (rd_kafka_event_error(ev))
		FATAL("deleting topic %s: %s", topic, rd_kafka_event_error_string(ev));
	res = rd_kafka_event_DeleteTopics_result(ev);
	results = rd_kafka_DeleteTopics_result_topics(res, &n);
	for (size_t i = 0; i < n; i++)
	{
		rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);

		if (err != RD_KAFKA_RESP_ERR_NO_ERROR &&
			err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
			FATAL("deleting topic %s: %s", topic, rd_kafka_topic_result_error_string(results[i]));
	}
	rd_kafka_event_destroy(ev);
	rd_kafka_DeleteTopic_destroy(dt);
	rd_kafka_queue_destroy(q);
	/* the deletion completes in the background: wait until it shows */
	if (!wait_for_topic(rk, topic, false))
		FATAL("topic %s still listed 30 s after its deletion", topic);
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* format_viewed_at writes epoch milliseconds as ISO 8601 in JST */
static void
format_viewed_at(char *buf, size_t len, int64_t ms)
{
	time_t		secs = (time_t) (ms / 1000) + JST_OFFSET;
	struct tm	tm;

	gmtime_r(&secs, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03d+09:00",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec, (int) (ms % 1000));
}

/* page_for picks a realistic page for event i of a user's visit */
static void
page_for(uint64_t seed, long i, long products, char *buf, size_t len)
{
	uint64_t	r = shop_rand(seed, STREAM_VIEW, (uint64_t) i, 2);
	int			p = (int) (r % 100);
	long		product = 1 + (long) ((r >> 8) % (uint64_t) products);
	int			cat = (int) ((r >> 40) % SHOP_CATEGORY_COUNT);

	if (p < 15)
		snprintf(buf, len, "/");
	else if (p < 35)
		snprintf(buf, len, "/category/%s", shop_category_slug(cat));
	else if (p < 70)
		snprintf(buf, len, "/products/%ld", product);
	else if (p < 78)
		snprintf(buf, len, "/search?q=%s", shop_category_slug(cat));
	else if (p < 88)
		snprintf(buf, len, "/cart");
	else if (p < 94)
		snprintf(buf, len, "/checkout");
	else if (p < 97)
		snprintf(buf, len, "/checkout/complete");
	else
		snprintf(buf, len, "/mypage");
}

static void
usage(FILE *f)
{
	fprintf(f,
			"Usage: pvproduce -b BROKERS [options]\n"
			"\n"
			"  -b, --brokers LIST     bootstrap servers (or $ECSYNC_KAFKA_BROKERS)\n"
			"  -t, --topic NAME       topic (default page_views)\n"
			"  -p, --partitions N     first create the topic with N partitions\n"
			"      --delete-topic     first delete the topic (then -p creates it anew)\n"
			"  -n, --count N          events to send (default 1000)\n"
			"  -r, --rate N           events per second (default: as fast as possible)\n"
			"      --scale S          shop scale, as for shopgen (default 0.01)\n"
			"      --seed N           shop seed, as for shopgen (default 1)\n"
			"      --start-ms MS      viewed_at of the first event in epoch ms, then\n"
			"                         +250 ms per event (default: the wall clock)\n"
			"      --echo FILE        also write each event, one per line, to FILE\n"
			"  -X key=value           librdkafka producer property\n"
			"  -q, --quiet            no progress on stderr\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"brokers", required_argument, NULL, 'b'},
		{"topic", required_argument, NULL, 't'},
		{"partitions", required_argument, NULL, 'p'},
		{"delete-topic", no_argument, NULL, 'D'},
		{"count", required_argument, NULL, 'n'},
		{"rate", required_argument, NULL, 'r'},
		{"scale", required_argument, NULL, 's'},
		{"seed", required_argument, NULL, 'S'},
		{"start-ms", required_argument, NULL, 'm'},
		{"echo", required_argument, NULL, 'e'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	const char *brokers = getenv("ECSYNC_KAFKA_BROKERS");
	const char *topic = "page_views";
	long		count = 1000;
	double		rate = 0;
	double		scale = 0.01;
	uint64_t	seed = 1;
	int64_t		start_ms = -1;
	const char *echo_path = NULL;
	FILE	   *echo = NULL;
	int			quiet = 0;
	int			partitions = 0;
	int			delete_first = 0;
	int			opt;
	char		errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;
	shop_size	size;
	double		t0,
				last_report;
	long		sent = 0;
	struct sigaction sa;

#define SETCONF(k, v) \
	if (rd_kafka_conf_set(conf, k, v, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) \
		FATAL("%s: %s", k, errstr)

	/* idempotent and fully acknowledged: no loss, no duplicates on retry */
	SETCONF("enable.idempotence", "true");
	SETCONF("linger.ms", "5");
	SETCONF("batch.num.messages", "10000");
	SETCONF("queue.buffering.max.messages", "500000");
	SETCONF("compression.codec", "lz4");
	/* a new broker answers "coordinator load in progress" at first; that
	 * warning is retried away, so only errors are shown (-X log_level=6) */
	SETCONF("log_level", "3");

	while ((opt = getopt_long(argc, argv, "b:t:p:n:r:X:qh", longopts, NULL)) != -1)
	{
		char	   *eq;

		switch (opt)
		{
			case 'b':
				brokers = optarg;
				break;
			case 't':
				topic = optarg;
				break;
			case 'p':
				partitions = atoi(optarg);
				break;
			case 'D':
				delete_first = 1;
				break;
			case 'n':
				count = atol(optarg);
				break;
			case 'r':
				rate = atof(optarg);
				break;
			case 's':
				scale = atof(optarg);
				break;
			case 'S':
				seed = strtoull(optarg, NULL, 10);
				break;
			case 'm':
				start_ms = strtoll(optarg, NULL, 10);
				break;
			case 'e':
				echo_path = optarg;
				break;
			case 'q':
				quiet = 1;
				break;
			case 'X':
				eq = strchr(optarg, '=');
				if (eq == NULL)
					FATAL("-X expects key=value");
				*eq = '\0';
				SETCONF(optarg, eq + 1);
				break;
			case 'h':
				usage(stdout);
				return 0;
			default:
				usage(stderr);
				return 2;
		}
	}
	if (brokers == NULL || count < 0 || scale <= 0)
	{
		usage(stderr);
		return 2;
	}
	SETCONF("bootstrap.servers", brokers);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	shop_size_for(scale, &size);

	if (echo_path != NULL && (echo = fopen(echo_path, "w")) == NULL)
		FATAL("could not create \"%s\": %s", echo_path, strerror(errno));

	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (rk == NULL)
		FATAL("could not create producer: %s", errstr);

	if (delete_first)
		delete_topic(rk, topic);
	if (partitions > 0)
		create_topic(rk, topic, partitions);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	t0 = last_report = now_seconds();
	for (long i = 0; i < count && !stop_requested; i++)
	{
		/* users visit in sessions of a few pages */
		long		user_id = 1 + (long) (shop_rand(seed, STREAM_VIEW, (uint64_t) i / 4, 1) %
										  (uint64_t) size.users);
		shop_user	u;
		char		page[96];
		char		viewed_at[96];
		char		key[24];
		char		payload[512];
		int			klen,
					plen;
		int64_t		ms;

		if (rate > 0)
		{
			/* steady rate: wait until event i is due */
			double		due = t0 + (double) i / rate;
			double		wait = due - now_seconds();

			if (wait > 0)
			{
				rd_kafka_poll(rk, 0);
				usleep((useconds_t) (wait * 1e6));
			}
		}
		ms = start_ms >= 0 ? start_ms + (int64_t) i * 250 :
			(int64_t) (now_seconds() * 1000);
		shop_user_get(seed, user_id, &u);
		page_for(seed, i, size.products, page, sizeof(page));
		format_viewed_at(viewed_at, sizeof(viewed_at), ms);
		klen = snprintf(key, sizeof(key), "%ld", user_id);
		plen = snprintf(payload, sizeof(payload),
						"{\"user_id\":%ld,\"age\":%d,\"gender\":\"%s\","
						"\"occupation\":\"%s\",\"page\":\"%s\",\"viewed_at\":\"%s\"}",
						user_id, u.age, u.gender, u.occupation, page, viewed_at);

		rd_kafka_resp_err_t err;

		while ((err = rd_kafka_producev(rk,
								 RD_KAFKA_V_TOPIC(topic),
								 RD_KAFKA_V_KEY(key, (size_t) klen),
								 RD_KAFKA_V_VALUE(payload, (size_t) plen),
								 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
								 RD_KAFKA_V_END)) != RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
				FATAL("produce failed: %s", rd_kafka_err2str(err));
			rd_kafka_poll(rk, 50);	/* let deliveries free the queue */
		}
		if (echo != NULL)
			fprintf(echo, "%s\t%s\n", key, payload);
		sent++;
		rd_kafka_poll(rk, 0);

		if (!quiet && (i & 1023) == 0 && now_seconds() - last_report >= 1.0)
		{
			last_report = now_seconds();
			fprintf(stderr, "pvproduce: %ld sent, %ld delivered (%.0f/s)\n",
					sent, delivered, (double) sent / (last_report - t0));
		}
	}

	if (rd_kafka_flush(rk, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR)
		fprintf(stderr, "pvproduce: %d events still undelivered after 60 s\n",
				rd_kafka_outq_len(rk));
	rd_kafka_destroy(rk);
	if (echo != NULL && fclose(echo) != 0)
		FATAL("could not write \"%s\": %s", echo_path, strerror(errno));

	if (!quiet || failed > 0 || delivered != sent)
		fprintf(stderr, "pvproduce: %ld events delivered to %s in %.2f s (%.0f/s), %ld failed\n",
				delivered, topic, now_seconds() - t0,
				(double) delivered / (now_seconds() - t0), failed);
	return (failed > 0 || delivered != sent) ? 1 : 0;
}
