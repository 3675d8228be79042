/*-------------------------------------------------------------------------
 *
 * stream_consumer.c
 *	  The stream worker's Kafka consumer (common/kafka_consumer.c, shared
 *	  with ecsync-ingest): a member of the stream's consumer group whose
 *	  rebalances, errors and librdkafka's logs arrive as events, served on
 *	  the main thread between batches.  An assignment starts each partition
 *	  from the offset stored in PostgreSQL; "latest" is resolved once and
 *	  stored; a stored offset beyond the partition's end (the topic was
 *	  deleted and created again) pauses that partition with an error, where
 *	  reading on would take every new message for an old copy.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/memutils.h"

#include "stream_catalog.h"
#include "stream_consumer.h"

/*
 * stream_consumer_start creates the consumer with the server's properties
 * (checked against the server's owner by ecsync_kafka_conf), its
 * decoders, and the wait set the main loop sleeps on, and subscribes.
 */
void
stream_consumer_start(StreamWorker *w)
{
	ForeignServer *server;
	rd_kafka_conf_t *conf;
	rd_kafka_topic_partition_list_t *topics;
	char		errstr[512];
	char		client_id[128];
	rd_kafka_resp_err_t err;

	sc_begin();
	server = GetForeignServerByName(w->cfg.server, false);
	if (strcmp(GetForeignDataWrapper(server->fdwid)->fdwname, "ecsync_kafka") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("stream \"%s\": server \"%s\" is not an ecsync_kafka server",
						w->cfg.name, w->cfg.server)));
	conf = ecsync_kafka_conf(server, w->req.owner);
	sc_commit();
	snprintf(client_id, sizeof(client_id), "ecsync-%s-%d", w->cfg.name, w->req.index);
	if (rd_kafka_conf_set(conf, "group.id", w->cfg.group, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK ||
		rd_kafka_conf_set(conf, "client.id", client_id, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
	{
		rd_kafka_conf_destroy(conf);
		ereport(ERROR, (errmsg("stream \"%s\": %s", w->cfg.name, errstr)));
	}
	if (w->cfg.start_latest)
		(void) rd_kafka_conf_set(conf, "auto.offset.reset", "latest", errstr, sizeof(errstr));
	rd_kafka_conf_set_events(conf, RD_KAFKA_EVENT_REBALANCE | RD_KAFKA_EVENT_ERROR |
							 RD_KAFKA_EVENT_LOG);
	if (!kc_start(&w->kc, conf, &w->cfg.spec, ev_encode_binary, w->cfg.decode_threads,
				  errstr, sizeof(errstr)))
		ereport(ERROR, (errmsg("stream \"%s\": %s", w->cfg.name, errstr)));

	w->wes = CreateWaitEventSet(TopMemoryContext, 4);
	AddWaitEventToSet(w->wes, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(w->wes, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	AddWaitEventToSet(w->wes, WL_SOCKET_READABLE, w->kc.cq_fd[0], NULL, NULL);
	AddWaitEventToSet(w->wes, WL_SOCKET_READABLE, w->kc.notify_fd[0], NULL, NULL);

	topics = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(topics, w->cfg.topic, RD_KAFKA_PARTITION_UA);
	err = rd_kafka_subscribe(w->kc.rk, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (err)
		ereport(ERROR,
				(errmsg("stream \"%s\": could not subscribe to topic \"%s\": %s",
						w->cfg.name, w->cfg.topic, rd_kafka_err2str(err))));
}

/*
 * assign takes the partitions of an assignment from the offsets stored in
 * PostgreSQL (rows are created for new partitions), makes them forward to
 * the decoders' queue, and assigns them.  The pipe is paused.
 */
static void
assign(StreamWorker *w, rd_kafka_topic_partition_list_t *list)
{
	rd_kafka_topic_partition_list_t *take = rd_kafka_topic_partition_list_new(list->cnt);
	StringInfoData s;

	initStringInfo(&s);
	sc_begin();
	for (int i = 0; i < list->cnt; i++)
	{
		int32		p = list->elems[i].partition;
		PartState  *ps = stream_part(w, p);
		int64		next = sc_claim_partition(w, p);
		int64_t		lo,
					hi;

		if (next >= 0 && kc_offset_beyond_end(&w->kc, w->cfg.topic, p, next, 5000, &lo, &hi))
		{
			sc_partition_beyond_end(w, p, next, lo, hi);
			ereport(LOG,
					(errmsg("ecsync stream \"%s\": partition %d: the stored offset " INT64_FORMAT
							" is beyond the end of topic \"%s\" (" INT64_FORMAT "); the partition is paused",
							w->cfg.name, p, next, w->cfg.topic, (int64) hi)));
			appendStringInfo(&s, "%s%d (paused)", s.len ? ", " : "", p);
			continue;
		}
		/* "latest" is resolved once, and kept, before anything is read */
		if (next < 0 && w->cfg.start_latest &&
			rd_kafka_query_watermark_offsets(w->kc.rk, w->cfg.topic, p, &lo, &hi, 5000) ==
			RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			next = hi;
			sc_pin_partition(w, p, next);
		}
		ps->owned = true;
		ps->next = next;
		ps->win_start = GetCurrentTimestamp();
		ps->win_rows = 0;
		rd_kafka_topic_partition_list_add(take, w->cfg.topic, p)->offset =
			next >= 0 ? next : w->cfg.start_latest ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
		if (!ep_set_position(w->kc.pipe, p, next >= 0 ? next : EP_ANY_OFFSET))
			elog(ERROR, "out of memory");
		appendStringInfo(&s, "%s%d@%s", s.len ? ", " : "", p,
						 next >= 0 ? psprintf(INT64_FORMAT, next) :
						 (w->cfg.start_latest ? "latest" : "earliest"));
	}
	sc_commit();

	for (int i = 0; i < take->cnt; i++)
		if (!kc_forward(&w->kc, w->cfg.topic, take->elems[i].partition))
			elog(ERROR, "librdkafka has no queue for partition %d", take->elems[i].partition);
	ereport(LOG,
			(errmsg("ecsync stream \"%s\" worker %d: assigned partitions %s of topic \"%s\"",
					w->cfg.name, w->req.index, s.len ? s.data : "(none)", w->cfg.topic)));
	/* an incremental assign of what is taken: a paused partition stays in the group's assignment */
	if (rd_kafka_assign(w->kc.rk, take) != RD_KAFKA_RESP_ERR_NO_ERROR)
		ereport(ERROR, (errmsg("stream \"%s\": could not assign partitions", w->cfg.name)));
	rd_kafka_topic_partition_list_destroy(take);
}

static void
handle_rebalance(StreamWorker *w, rd_kafka_event_t *ev)
{
	rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
	rd_kafka_topic_partition_list_t *list = rd_kafka_event_topic_partition_list(ev);

	/* between batches: nothing of the old assignment is uncommitted */
	ep_pause(w->kc.pipe);
	ep_disown_all(w->kc.pipe);
	for (int32 p = 0; p < w->nparts; p++)
		w->parts[p].owned = false;
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
		assign(w, list);
	else
	{
		ereport(LOG,
				(errmsg("ecsync stream \"%s\" worker %d: partitions revoked (%s)",
						w->cfg.name, w->req.index, rd_kafka_err2str(err))));
		rd_kafka_assign(w->kc.rk, NULL);
	}
	ep_resume(w->kc.pipe);
	stream_report_idle(w);
}

static int
log_level(int syslog_level)
{
	return syslog_level <= 4 ? LOG : DEBUG1;
}

/* stream_consumer_serve handles every event waiting: called between batches */
void
stream_consumer_serve(StreamWorker *w)
{
	rd_kafka_event_t *ev;

	kc_drain_fd(w->kc.cq_fd[0]);
	while ((ev = rd_kafka_queue_poll(w->kc.consumer_q, 0)) != NULL)
	{
		switch (rd_kafka_event_type(ev))
		{
			case RD_KAFKA_EVENT_REBALANCE:
				handle_rebalance(w, ev);
				break;
			case RD_KAFKA_EVENT_LOG:
				{
					const char *fac,
							   *str;
					int			level;

					/* FAIL lines repeat what the error events say */
					if (rd_kafka_event_log(ev, &fac, &str, &level) == 0)
						ereport(strcmp(fac, "FAIL") == 0 ? DEBUG1 : log_level(level),
								(errmsg("ecsync stream \"%s\": librdkafka %s: %s", w->cfg.name, fac, str)));
					break;
				}
			case RD_KAFKA_EVENT_ERROR:
				{
					const char *msg = rd_kafka_event_error_string(ev);

					if (rd_kafka_event_error_is_fatal(ev))
					{
						char		fatal[512];

						rd_kafka_fatal_error(w->kc.rk, fatal, sizeof(fatal));
						ereport(ERROR,
								(errmsg("stream \"%s\": fatal Kafka error: %s", w->cfg.name, fatal)));
					}
					ereport(LOG, (errmsg("ecsync stream \"%s\": Kafka error: %s", w->cfg.name, msg)));
					sc_record_error(w, -1, psprintf("Kafka: %s", msg));
					break;
				}
			default:
				break;
		}
		rd_kafka_event_destroy(ev);
	}
}

/*
 * stream_consumer_committed tells the Kafka group where the committed
 * batch left each partition, for outside lag tools (PostgreSQL holds the
 * offsets that count)
 */
void
stream_consumer_committed(StreamWorker *w)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(4);

	for (int32 p = 0; p < w->nparts; p++)
		if (w->parts[p].batch_last >= 0)
			rd_kafka_topic_partition_list_add(list, w->cfg.topic, p)->offset = w->parts[p].next;
	if (list->cnt > 0)
		(void) rd_kafka_commit(w->kc.rk, list, 1);
	rd_kafka_topic_partition_list_destroy(list);
}

/*
 * stream_consumer_stop leaves the group and destroys the consumer, within
 * 5 s: if the close does not finish in time, the group moves the
 * partitions after session.timeout.ms, and nothing is lost, as the offsets
 * are PostgreSQL's.
 */
void
stream_consumer_stop(StreamWorker *w)
{
	if (w->kc.rk == NULL)
		return;
	if (!kc_stop(&w->kc, 5000))
		ereport(LOG,
				(errmsg("ecsync stream \"%s\" worker %d: could not leave the consumer group within 5 s; "
						"its partitions move after session.timeout.ms",
						w->cfg.name, w->req.index)));
}
