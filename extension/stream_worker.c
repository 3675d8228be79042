/*-------------------------------------------------------------------------
 *
 * stream_worker.c
 *	  A stream worker: a dynamic background worker, started by the
 *	  launcher, that consumes one stream's topic as a member of its consumer
 *	  group and ingests the events into the target table, exactly once.
 *
 *	  Exactly once: the next offset of every partition lives in
 *	  ecsync.stream_offsets and is written in the transaction that inserts
 *	  the rows (and the dead letters) it covers.  On assignment the worker
 *	  reads those offsets and hands them to librdkafka explicitly; the
 *	  offset update is conditional on the value the worker started from,
 *	  so a worker that lost its partition to another can never commit a
 *	  batch twice.  Committing to the Kafka group afterwards only serves
 *	  outside lag tooling.
 *
 *	  Threads: librdkafka's own, and the decoding threads of
 *	  common/event_pipe.c, which fetch from a queue that every owned
 *	  partition forwards to and decode JSON into binary COPY rows.  None of
 *	  them calls PostgreSQL.  The main thread serves the consumer queue
 *	  (rebalances, errors and librdkafka's logs, all as events) and feeds
 *	  the decoded rows to PostgreSQL's COPY machinery, so decoding and
 *	  inserting overlap.  It sleeps on a WaitEventSet of its latch, the
 *	  consumer queue's IO-event pipe and the decoders' pipe: no busy
 *	  polling.
 *
 *	  A batch closes by count (batch_size events) or by time (max_latency
 *	  after its first event), and at once for a rebalance or a stop.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/copy.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_node.h"
#include "parser/parse_relation.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "copy_binary.h"
#include "ecsync.h"
#include "event_decode.h"
#include "event_pipe.h"
#include "kafka_close.h"

PGDLLEXPORT void ecsync_stream_main(Datum main_arg);

#define STATS_INTERVAL_MS 2000
#define ERROR_RECORD_INTERVAL_MS 5000
#define SLOT_LOCK_FIELD4 0x4543	/* "EC": not an advisory lock of SQL's */

/* the stream, as ecsync.streams says when the worker starts */
typedef struct StreamConfig
{
	int32		id;
	int32		config_version;
	char	   *name;
	char	   *server;
	char	   *topic;
	char	   *schema;
	char	   *table;
	char	   *group;
	int			batch_size;
	int			max_latency_ms;
	int			decode_threads;
	bool		start_latest;
	bool		started;
	ev_spec		spec;
	List	   *attnames;		/* the COPY column list */
} StreamConfig;

/* what the worker knows of a partition it may own */
typedef struct PartState
{
	bool		owned;
	int64		next;			/* offset the stored row holds; -1: NULL */
	int64		win_rows;		/* rate window */
	TimestampTz win_start;
	double		rate;
	int64		written_hw;		/* what the last stats update wrote */
	double		written_rate;
	/* this batch */
	int64		batch_last;		/* -1: not in the batch */
	int64		batch_rows;
	int64		batch_dead;
} PartState;

typedef struct Batch
{
	ep_chunk  **chunks;
	int			n;
	int			cap;
	int64		items;			/* events (rows + dead letters) */
	int64		rows;
	int64		dead;
} Batch;

static StreamRequest req;
static StreamConfig cfg;
static volatile sig_atomic_t got_sigterm = false;

static rd_kafka_t *rk;
static rd_kafka_queue_t *consumer_q;
static rd_kafka_queue_t *fetch_q;
static ep_pipe *pipe_;
static int	cq_fd[2] = {-1, -1};	/* consumer queue's IO event */
static int	notify_fd[2] = {-1, -1};	/* chunks ready */
static WaitEventSet *wes;

static PartState *parts;
static int32 nparts;

static SPIPlanPtr dead_letter_plan;
static SPIPlanPtr offset_plan;
static SPIPlanPtr stats_plan;

static TimestampTz last_stats;
static TimestampTz last_error_record;
static char last_error_text[256];

/* the COPY being fed: COPY's data-source callback takes no argument */
static struct
{
	Batch	   *b;
	bool		single;			/* one row, already in pending */
	int			ci;				/* chunk being copied */
	size_t		off;			/* within it */
	ebuf		pending;		/* header, trailer, or a single row */
	size_t		pending_off;
	bool		closing;
	bool		eof;
	TimestampTz deadline;
} feed;

/*
 * stream_sigterm asks the worker to stop after the batch it is in, which
 * it closes early and commits.  A worker waiting for a lock on the target
 * (someone holds it) would never get there: it dies at once instead, as
 * a backend would, and the uncommitted batch is read again by the next.
 */
static void
stream_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	got_sigterm = true;
	if (MyProc != NULL && MyProc->waitLock != NULL)
	{
		InterruptPending = true;
		ProcDiePending = true;
	}
	SetLatch(MyLatch);
	errno = save_errno;
}

static PartState *
part(int32 p)
{
	if (p < 0)
		elog(ERROR, "invalid Kafka partition %d", p);
	if (p >= nparts)
	{
		int32		n = p + 16;

		parts = parts ? repalloc(parts, sizeof(PartState) * n) :
			MemoryContextAlloc(TopMemoryContext, sizeof(PartState) * n);
		for (int32 i = nparts; i < n; i++)
		{
			memset(&parts[i], 0, sizeof(PartState));
			parts[i].next = -1;
			parts[i].batch_last = -1;
			parts[i].written_hw = -1;
			parts[i].written_rate = -1;
		}
		nparts = n;
	}
	return &parts[p];
}

static char *
top_strdup(const char *s)
{
	return s ? MemoryContextStrdup(TopMemoryContext, s) : NULL;
}

/* ------------------------------------------------------------ transactions */

/* the context begin_tx was called in, where commit_tx returns */
static MemoryContext tx_caller_cxt;

/*
 * The worker runs as the stream's owner, who may only read ecsync's
 * catalog.  Its transactions work on the catalog as the catalog's owner,
 * and switch back to the stream's owner for the target table alone (see
 * ingest): whatever runs on the target (triggers, defaults, constraints)
 * runs with the owner's rights.
 */
static CatalogAccess tx_access;

static void
begin_tx(void)
{
	tx_caller_cxt = CurrentMemoryContext;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	ecsync_catalog_enter(&tx_access);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
}

static void
commit_tx(void)
{
	SPI_finish();
	PopActiveSnapshot();
	ecsync_catalog_leave(&tx_access);
	CommitTransactionCommand();
	MemoryContextSwitchTo(tx_caller_cxt);
}

static char *
spi_text(int row, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

/*
 * record_error keeps msg as the stream's last error (and the partition's,
 * if one is given), in a transaction of its own; called outside any
 * transaction.  Repeats of the same message are recorded at most every few
 * seconds.
 */
static void
record_error(int32 partition, const char *msg)
{
	TimestampTz now = GetCurrentTimestamp();

	if (strncmp(last_error_text, msg, sizeof(last_error_text) - 1) == 0 &&
		!TimestampDifferenceExceeds(last_error_record, now, ERROR_RECORD_INTERVAL_MS))
		return;
	strlcpy(last_error_text, msg, sizeof(last_error_text));
	last_error_record = now;
	PG_TRY();
	{
		Oid			types[3] = {INT4OID, TEXTOID, INT4OID};
		Datum		values[3] = {Int32GetDatum(req.stream_id), CStringGetTextDatum(msg),
		Int32GetDatum(partition)};

		begin_tx();
		SPI_execute_with_args("UPDATE ecsync.streams SET last_error = $2, last_error_at = now() WHERE id = $1",
							  2, types, values, NULL, false, 0);
		if (partition >= 0)
			SPI_execute_with_args("UPDATE ecsync.stream_offsets SET last_error = $2, last_error_at = now() "
								  "WHERE stream_id = $1 AND kafka_partition = $3",
								  3, types, values, NULL, false, 0);
		commit_tx();
	}
	PG_CATCH();
	{
		MemoryContext cxt = tx_caller_cxt;

		/* the log has it; never let reporting an error become the error */
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(cxt);
	}
	PG_END_TRY();
}

/* ------------------------------------------------------------ configuration */

/*
 * load_config reads the stream and its mapping; false when the stream is
 * gone.  The mapping's column types come from the target table itself.
 */
static bool
load_config(void)
{
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(req.stream_id)};
	MemoryContext old;
	int			n;

	begin_tx();
	SPI_execute_with_args(
						  "SELECT name, server_name, topic, target_schema, target_table, consumer_group, "
						  "       batch_size, greatest(1, extract(epoch FROM max_latency) * 1000)::int, "
						  "       decode_threads, start_from = 'latest', state = 'started', config_version, "
						  "       max_message_bytes, to_regclass(format('%I.%I', target_schema, target_table)) IS NOT NULL "
						  "  FROM ecsync.streams WHERE id = $1",
						  1, types, values, NULL, true, 0);
	if (SPI_processed == 0)
	{
		commit_tx();
		return false;
	}
	old = MemoryContextSwitchTo(TopMemoryContext);
	cfg.id = req.stream_id;
	cfg.name = top_strdup(spi_text(0, 1));
	cfg.server = top_strdup(spi_text(0, 2));
	cfg.topic = top_strdup(spi_text(0, 3));
	cfg.schema = top_strdup(spi_text(0, 4));
	cfg.table = top_strdup(spi_text(0, 5));
	cfg.group = top_strdup(spi_text(0, 6));
	cfg.batch_size = atoi(spi_text(0, 7));
	cfg.max_latency_ms = atoi(spi_text(0, 8));
	cfg.decode_threads = atoi(spi_text(0, 9));
	cfg.start_latest = strcmp(spi_text(0, 10), "t") == 0;
	cfg.started = strcmp(spi_text(0, 11), "t") == 0;
	cfg.config_version = atoi(spi_text(0, 12));
	cfg.spec.max_bytes = (size_t) atol(spi_text(0, 13));
	MemoryContextSwitchTo(old);
	if (strcmp(spi_text(0, 14), "t") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("stream \"%s\": target table %s.%s does not exist",
						cfg.name, quote_identifier(cfg.schema), quote_identifier(cfg.table)),
				 errhint("Register the stream again to create it.")));

	SPI_execute_with_args(
						  "SELECT e.m->>'column', coalesce(e.m->>'source', 'json'), coalesce(e.m->>'key', e.m->>'column'), "
						  "       coalesce((e.m->>'required')::boolean, true), "
						  "       (SELECT format_type(a.atttypid, NULL) FROM pg_attribute a "
						  "         WHERE a.attrelid = format('%I.%I', s.target_schema, s.target_table)::regclass "
						  "           AND a.attname = e.m->>'column' AND a.attnum > 0 AND NOT a.attisdropped) "
						  "  FROM ecsync.streams s, jsonb_array_elements(s.mapping) WITH ORDINALITY AS e(m, n) "
						  " WHERE s.id = $1 AND coalesce(e.m->>'source', 'json') <> 'ingest_time' ORDER BY e.n",
						  1, types, values, NULL, true, 0);
	n = (int) SPI_processed;
	old = MemoryContextSwitchTo(TopMemoryContext);
	cfg.spec.fields = palloc0(sizeof(ev_field) * Max(n, 1));
	cfg.spec.nfields = n;
	cfg.attnames = NIL;
	for (int i = 0; i < n; i++)
	{
		ev_field   *f = &cfg.spec.fields[i];
		char	   *type = spi_text(i, 5);
		char	   *source = spi_text(i, 2);

		f->column = top_strdup(spi_text(i, 1));
		f->key = top_strdup(spi_text(i, 3));
		f->required = strcmp(spi_text(i, 4), "t") == 0;
		if (type == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("stream \"%s\": table %s.%s has no column \"%s\"",
							cfg.name, cfg.schema, cfg.table, f->column)));
		if (!ev_type_from_name(type, &f->type))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("stream \"%s\": column \"%s\" has type %s, which streams do not fill",
							cfg.name, f->column, type)));
		if (!ev_source_from_name(source, &f->source))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("stream \"%s\": column \"%s\" has unknown source \"%s\"",
							cfg.name, f->column, source)));
		cfg.attnames = lappend(cfg.attnames, makeString(f->column));
	}
	MemoryContextSwitchTo(old);
	commit_tx();
	return true;
}

/* current_config_version: the stream's version now, or -1 if it is gone or stopped */
static int32
current_config_version(void)
{
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(req.stream_id)};
	int32		v = -1;

	begin_tx();
	SPI_execute_with_args("SELECT config_version FROM ecsync.streams WHERE id = $1 AND state = 'started'",
						  1, types, values, NULL, true, 0);
	if (SPI_processed == 1)
		v = atoi(spi_text(0, 1));
	commit_tx();
	return v;
}

static void
prepare_plans(void)
{
	Oid			dl_types[11] = {INT4OID, TEXTOID, TEXTOID, INT4OID, INT8OID,
	TIMESTAMPTZOID, BYTEAOID, BYTEAOID, TEXTOID, TEXTOID, OIDOID};
	Oid			off_types[10] = {INT4OID, INT4OID, INT8OID, INT8OID, INT8OID,
	INT8OID, INT8OID, FLOAT8OID, INT4OID, INT8OID};
	Oid			st_types[6] = {INT4OID, INT4OID, INT8OID, INT8OID, FLOAT8OID, INT4OID};

	begin_tx();
	dead_letter_plan = SPI_prepare(
								   "INSERT INTO ecsync.dead_letters (stream_id, stream, topic, kafka_partition, kafka_offset, "
								   "  kafka_timestamp, message_key, payload, kind, reason, owner) "
								   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
								   11, dl_types);
	offset_plan = SPI_prepare(
							  "UPDATE ecsync.stream_offsets SET next_offset = $3, rows_total = rows_total + $4, "
							  "  dead_total = dead_total + $5, low_watermark = $6, high_watermark = $7, "
							  "  rate_eps = $8, worker_pid = $9, updated_at = now(), last_error = NULL "
							  "WHERE stream_id = $1 AND kafka_partition = $2 AND next_offset IS NOT DISTINCT FROM $10",
							  10, off_types);
	stats_plan = SPI_prepare(
							 "UPDATE ecsync.stream_offsets SET low_watermark = $3, high_watermark = $4, rate_eps = $5, "
							 "  worker_pid = $6, updated_at = now() "
							 "WHERE stream_id = $1 AND kafka_partition = $2",
							 6, st_types);
	if (!dead_letter_plan || !offset_plan || !stats_plan)
		elog(ERROR, "could not prepare the stream worker's statements: %s",
			 SPI_result_code_string(SPI_result));
	SPI_keepplan(dead_letter_plan);
	SPI_keepplan(offset_plan);
	SPI_keepplan(stats_plan);
	commit_tx();
}

/* ------------------------------------------------------------ the consumer */

static void
report_idle(void)
{
	StringInfoData s;
	int			n = 0;

	initStringInfo(&s);
	appendStringInfo(&s, "waiting for events of %s, partitions ", cfg.topic);
	for (int32 p = 0; p < nparts; p++)
		if (parts[p].owned)
			appendStringInfo(&s, "%s%d", n++ ? "," : "", p);
	if (n == 0)
		appendStringInfoString(&s, "(none assigned)");
	pgstat_report_activity(STATE_IDLE, s.data);
	pfree(s.data);
}

static void
open_pipe_fd(int fds[2])
{
	if (pipe(fds) != 0)
		ereport(ERROR, (errcode_for_file_access(), errmsg("could not create a pipe: %m")));
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	fcntl(fds[1], F_SETFL, O_NONBLOCK);
}

static void
drain_fd(int fd)
{
	char		buf[256];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static void
start_consumer(void)
{
	ForeignServer *server;
	rd_kafka_conf_t *conf;
	rd_kafka_topic_partition_list_t *topics;
	char		errstr[512];
	char		client_id[128];
	sigset_t	all,
				old;
	rd_kafka_resp_err_t err;

	begin_tx();
	server = GetForeignServerByName(cfg.server, false);
	if (strcmp(GetForeignDataWrapper(server->fdwid)->fdwname, "ecsync_kafka") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("stream \"%s\": server \"%s\" is not an ecsync_kafka server",
						cfg.name, cfg.server)));
	conf = ecsync_kafka_conf(server, req.owner);
	commit_tx();
	snprintf(client_id, sizeof(client_id), "ecsync-%s-%d", cfg.name, req.index);
	if (rd_kafka_conf_set(conf, "group.id", cfg.group, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK ||
		rd_kafka_conf_set(conf, "client.id", client_id, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
		ereport(ERROR, (errmsg("stream \"%s\": %s", cfg.name, errstr)));
	if (cfg.start_latest)
		(void) rd_kafka_conf_set(conf, "auto.offset.reset", "latest", errstr, sizeof(errstr));

	/* rebalances, errors and logs come as events, served on this thread */
	rd_kafka_conf_set_events(conf, RD_KAFKA_EVENT_REBALANCE | RD_KAFKA_EVENT_ERROR |
							 RD_KAFKA_EVENT_LOG);
	if (rd_kafka_conf_set(conf, "log.queue", "true", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
		ereport(ERROR, (errmsg("stream \"%s\": %s", cfg.name, errstr)));

	/* librdkafka's threads must never run a backend signal handler */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rk == NULL)
	{
		rd_kafka_conf_destroy(conf);
		ereport(ERROR,
				(errmsg("stream \"%s\": could not create a Kafka consumer: %s", cfg.name, errstr)));
	}
	rd_kafka_poll_set_consumer(rk);
	rd_kafka_set_log_queue(rk, NULL);
	consumer_q = rd_kafka_queue_get_consumer(rk);
	fetch_q = rd_kafka_queue_new(rk);
	open_pipe_fd(cq_fd);
	open_pipe_fd(notify_fd);
	rd_kafka_queue_io_event_enable(consumer_q, cq_fd[1], "e", 1);

	pipe_ = ep_start(fetch_q, &cfg.spec, ev_encode_binary, cfg.decode_threads,
					 notify_fd[1], errstr, sizeof(errstr));
	if (pipe_ == NULL)
		ereport(ERROR, (errmsg("stream \"%s\": %s", cfg.name, errstr)));

	wes = CreateWaitEventSet(TopMemoryContext, 4);
	AddWaitEventToSet(wes, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(wes, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	AddWaitEventToSet(wes, WL_SOCKET_READABLE, cq_fd[0], NULL, NULL);
	AddWaitEventToSet(wes, WL_SOCKET_READABLE, notify_fd[0], NULL, NULL);

	topics = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(topics, cfg.topic, RD_KAFKA_PARTITION_UA);
	err = rd_kafka_subscribe(rk, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (err)
		ereport(ERROR,
				(errmsg("stream \"%s\": could not subscribe to topic \"%s\": %s",
						cfg.name, cfg.topic, rd_kafka_err2str(err))));
}

/*
 * assign takes the partitions of an assignment from the offsets stored in
 * PostgreSQL (rows are created for new partitions), makes them forward to
 * the decoders' queue, and assigns them.  The pipe is paused.
 */
static void
assign(rd_kafka_topic_partition_list_t *list)
{
	StringInfoData s;

	begin_tx();
	for (int i = 0; i < list->cnt; i++)
	{
		rd_kafka_topic_partition_t *tp = &list->elems[i];
		Oid			types[3] = {INT4OID, INT4OID, INT4OID};
		Datum		values[3] = {Int32GetDatum(req.stream_id), Int32GetDatum(tp->partition),
		Int32GetDatum(MyProcPid)};
		char	   *next;
		PartState  *ps = part(tp->partition);

		/* no row lock: the previous owner may still hold one */
		SPI_execute_with_args(
							  "INSERT INTO ecsync.stream_offsets (stream_id, kafka_partition, worker_pid, updated_at) "
							  "VALUES ($1, $2, $3, now()) ON CONFLICT (stream_id, kafka_partition) DO NOTHING",
							  3, types, values, NULL, false, 0);
		SPI_execute_with_args(
							  "SELECT next_offset FROM ecsync.stream_offsets WHERE stream_id = $1 AND kafka_partition = $2",
							  2, types, values, NULL, false, 0);
		if (SPI_processed != 1)
			elog(ERROR, "could not read the stored offset of partition %d", tp->partition);
		next = spi_text(0, 1);
		ps->owned = true;
		ps->next = next ? strtoll(next, NULL, 10) : -1;
		ps->win_start = GetCurrentTimestamp();
		ps->win_rows = 0;
		tp->offset = ps->next >= 0 ? ps->next :
			cfg.start_latest ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
		if (!ep_set_position(pipe_, tp->partition, ps->next >= 0 ? ps->next : EP_ANY_OFFSET))
			elog(ERROR, "out of memory");
	}
	commit_tx();

	for (int i = 0; i < list->cnt; i++)
	{
		rd_kafka_queue_t *pq = rd_kafka_queue_get_partition(rk, list->elems[i].topic,
															list->elems[i].partition);

		if (pq == NULL)
			elog(ERROR, "librdkafka has no queue for partition %d", list->elems[i].partition);
		rd_kafka_queue_forward(pq, fetch_q);
		rd_kafka_queue_destroy(pq);
	}

	initStringInfo(&s);
	for (int i = 0; i < list->cnt; i++)
		appendStringInfo(&s, "%s%d@%s", i ? ", " : "", list->elems[i].partition,
						 parts[list->elems[i].partition].next >= 0 ?
						 psprintf(INT64_FORMAT, parts[list->elems[i].partition].next) :
						 (cfg.start_latest ? "latest" : "earliest"));
	ereport(LOG,
			(errmsg("ecsync stream \"%s\" worker %d: assigned partitions %s of topic \"%s\"",
					cfg.name, req.index, list->cnt ? s.data : "(none)", cfg.topic)));
	if (rd_kafka_assign(rk, list) != RD_KAFKA_RESP_ERR_NO_ERROR)
		ereport(ERROR, (errmsg("stream \"%s\": could not assign partitions", cfg.name)));
}

static void
handle_rebalance(rd_kafka_event_t *ev)
{
	rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
	rd_kafka_topic_partition_list_t *list = rd_kafka_event_topic_partition_list(ev);

	/* between batches: nothing of the old assignment is uncommitted */
	ep_pause(pipe_);
	ep_disown_all(pipe_);
	for (int32 p = 0; p < nparts; p++)
		parts[p].owned = false;
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
		assign(list);
	else
	{
		ereport(LOG,
				(errmsg("ecsync stream \"%s\" worker %d: partitions revoked (%s)",
						cfg.name, req.index, rd_kafka_err2str(err))));
		rd_kafka_assign(rk, NULL);
	}
	ep_resume(pipe_);
	report_idle();
}

static int
log_level(int syslog_level)
{
	return syslog_level <= 4 ? LOG : DEBUG1;
}

/* serve_consumer_queue handles every event waiting: called between batches */
static void
serve_consumer_queue(void)
{
	rd_kafka_event_t *ev;

	drain_fd(cq_fd[0]);
	while ((ev = rd_kafka_queue_poll(consumer_q, 0)) != NULL)
	{
		switch (rd_kafka_event_type(ev))
		{
			case RD_KAFKA_EVENT_REBALANCE:
				handle_rebalance(ev);
				break;
			case RD_KAFKA_EVENT_LOG:
				{
					const char *fac,
							   *str;
					int			level;

					/* FAIL lines repeat what the error events say */
					if (rd_kafka_event_log(ev, &fac, &str, &level) == 0)
						ereport(strcmp(fac, "FAIL") == 0 ? DEBUG1 : log_level(level),
								(errmsg("ecsync stream \"%s\": librdkafka %s: %s", cfg.name, fac, str)));
					break;
				}
			case RD_KAFKA_EVENT_ERROR:
				{
					const char *msg = rd_kafka_event_error_string(ev);

					if (rd_kafka_event_error_is_fatal(ev))
					{
						char		fatal[512];

						rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
						ereport(ERROR,
								(errmsg("stream \"%s\": fatal Kafka error: %s", cfg.name, fatal)));
					}
					ereport(LOG, (errmsg("ecsync stream \"%s\": Kafka error: %s", cfg.name, msg)));
					record_error(-1, psprintf("Kafka: %s", msg));
					break;
				}
			default:
				break;
		}
		rd_kafka_event_destroy(ev);
	}
}

/* ------------------------------------------------------------ batches */

static void
batch_add(Batch *b, ep_chunk *c)
{
	if (b->n == b->cap)
	{
		b->cap = b->cap ? b->cap * 2 : 16;
		b->chunks = b->chunks ? repalloc(b->chunks, sizeof(ep_chunk *) * b->cap) :
			MemoryContextAlloc(TopMemoryContext, sizeof(ep_chunk *) * b->cap);
	}
	b->chunks[b->n++] = c;
	b->items += c->nitems - c->nerrors;
	b->rows += c->nrows;
	b->dead += c->ndead;
}

static void
batch_free(Batch *b)
{
	for (int i = 0; i < b->n; i++)
		ep_chunk_free(b->chunks[i]);
	if (b->chunks)
		pfree(b->chunks);
	memset(b, 0, sizeof(*b));
}

static bool
batch_should_close(Batch *b)
{
	return b->items >= cfg.batch_size || got_sigterm ||
		GetCurrentTimestamp() >= feed.deadline ||
		rd_kafka_queue_length(consumer_q) > 0;
}

/* wait_for_events sleeps until a chunk, a consumer event, a signal or timeout_ms */
/* where a batch's time went, for DEBUG1 */
static int64 batch_wait_us;

static void
wait_for_events(long timeout_ms)
{
	WaitEvent	events[4];
	TimestampTz w0 = GetCurrentTimestamp();

	(void) WaitEventSetWait(wes, timeout_ms, events, 4, PG_WAIT_EXTENSION);
	if (feed.b)
		batch_wait_us += GetCurrentTimestamp() - w0;
	ResetLatch(MyLatch);
	drain_fd(notify_fd[0]);
	CHECK_FOR_INTERRUPTS();
}

/* feed_read is COPY's data source: the batch's chunks, framed as binary COPY */
static int
feed_read(void *outbuf, int minread, int maxread)
{
	for (;;)
	{
		if (feed.pending_off < feed.pending.len)
		{
			size_t		n = Min((size_t) maxread, feed.pending.len - feed.pending_off);

			memcpy(outbuf, feed.pending.data + feed.pending_off, n);
			feed.pending_off += n;
			return (int) n;
		}
		if (feed.eof)
			return 0;
		if (feed.single)
		{
			feed.eof = true;
			continue;
		}
		if (feed.ci < feed.b->n)
		{
			ep_chunk   *c = feed.b->chunks[feed.ci];

			if (feed.off < c->data.len)
			{
				size_t		n = Min((size_t) maxread, c->data.len - feed.off);

				memcpy(outbuf, c->data.data + feed.off, n);
				feed.off += n;
				return (int) n;
			}
			feed.ci++;
			feed.off = 0;
			continue;
		}
		if (feed.closing)
		{
			ebuf_reset(&feed.pending);
			feed.pending_off = 0;
			if (!cb_trailer(&feed.pending))
				elog(ERROR, "out of memory");
			feed.eof = true;
			continue;
		}
		if (batch_should_close(feed.b))
		{
			feed.closing = true;
			continue;
		}
		{
			ep_chunk   *c = ep_take(pipe_);

			if (c)
			{
				batch_add(feed.b, c);
				continue;
			}
		}
		{
			long		ms = (long) ((feed.deadline - GetCurrentTimestamp()) / 1000);

			wait_for_events(Max(ms, 1));
		}
	}
}

static void
feed_begin(Batch *b, const char *row, size_t rowlen)
{
	feed.b = b;
	feed.single = row != NULL;
	feed.ci = 0;
	feed.off = 0;
	feed.closing = false;
	feed.eof = false;
	ebuf_reset(&feed.pending);
	feed.pending_off = 0;
	if (!cb_header(&feed.pending) ||
		(row && (!ebuf_append(&feed.pending, row, rowlen) || !cb_trailer(&feed.pending))))
		elog(ERROR, "out of memory");
}

static uint64
copy_into(Relation rel)
{
	ParseState *pstate = make_parsestate(NULL);
	CopyFromState cstate;
	uint64		n;

	(void) addRangeTableEntryForRelation(pstate, rel, RowExclusiveLock, NULL, false, false);
	cstate = BeginCopyFrom(pstate, rel, NULL, NULL, false, feed_read, cfg.attnames,
						   list_make1(makeDefElem("format", (Node *) makeString("binary"), -1)));
	n = CopyFrom(cstate);
	EndCopyFrom(cstate);
	free_parsestate(pstate);
	return n;
}

/* copy_one_row inserts one row in a subtransaction; false if the target refused it */
static bool
copy_one_row(Relation rel, Batch *b, ep_chunk *c, ep_item *it)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		feed_begin(b, c->data.data + it->row_start, it->row_end - it->row_start);
		(void) copy_into(rel);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *e;

		MemoryContextSwitchTo(cxt);
		e = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		it->reason = strdup(psprintf("%s%s%s", e->message,
									 e->detail ? ": " : "", e->detail ? e->detail : ""));
		FreeErrorData(e);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/*
 * copy_isolated inserts each row of the batch in a subtransaction of its
 * own; a row the target refuses (a constraint, a value out of the
 * column's range) becomes a dead letter with PostgreSQL's message.
 */
static void
copy_isolated(Relation rel, Batch *b)
{
	for (int ci = 0; ci < b->n; ci++)
	{
		ep_chunk   *c = b->chunks[ci];

		for (int i = 0; i < c->nitems; i++)
		{
			ep_item    *it = &c->items[i];

			if (it->is_error || it->kind != EV_OK)
				continue;
			if (!copy_one_row(rel, b, c, it))
			{
				it->kind = EV_REJECTED;
				c->nrows--;
				c->ndead++;
				b->rows--;
				b->dead++;
			}
		}
	}
}

static Datum
bytea_datum(const void *p, size_t len)
{
	bytea	   *b = palloc(VARHDRSZ + len);

	SET_VARSIZE(b, VARHDRSZ + len);
	if (len)
		memcpy(VARDATA(b), p, len);
	return PointerGetDatum(b);
}

static void
write_dead_letters(Batch *b)
{
	for (int ci = 0; ci < b->n; ci++)
	{
		ep_chunk   *c = b->chunks[ci];

		for (int i = 0; i < c->nitems; i++)
		{
			ep_item    *it = &c->items[i];
			rd_kafka_message_t *m = it->msg;
			Datum		values[11];
			char		nulls[11] = "           ";
			rd_kafka_timestamp_type_t tstype;
			int64		ts;

			if (it->is_error || it->kind == EV_OK)
				continue;
			ts = rd_kafka_message_timestamp(m, &tstype);
			values[0] = Int32GetDatum(req.stream_id);
			values[1] = CStringGetTextDatum(cfg.name);
			values[2] = CStringGetTextDatum(cfg.topic);
			values[3] = Int32GetDatum(m->partition);
			values[4] = Int64GetDatum(m->offset);
			values[5] = TimestampTzGetDatum((ts - INT64CONST(946684800000)) * 1000);
			if (ts < 0)
				nulls[5] = 'n';
			if (m->key)
				values[6] = bytea_datum(m->key, m->key_len);
			else
				nulls[6] = 'n';
			if (m->payload)
				values[7] = bytea_datum(m->payload, m->len);
			else
				nulls[7] = 'n';
			values[8] = CStringGetTextDatum(ev_kind_name(it->kind));
			values[9] = CStringGetTextDatum(it->reason ? it->reason : "?");
			values[10] = ObjectIdGetDatum(req.owner);
			if (SPI_execute_plan(dead_letter_plan, values, nulls, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "could not insert a dead letter");
		}
	}
}

static void
watermarks(int32 p, Datum *lo_d, Datum *hi_d, char *lo_null, char *hi_null, int64 *hi_out)
{
	int64_t		lo,
				hi;

	if (rd_kafka_get_watermark_offsets(rk, cfg.topic, p, &lo, &hi) == RD_KAFKA_RESP_ERR_NO_ERROR &&
		hi >= 0)
	{
		*lo_d = Int64GetDatum(lo >= 0 ? lo : 0);
		*hi_d = Int64GetDatum(hi);
		*lo_null = lo >= 0 ? ' ' : 'n';
		*hi_null = ' ';
		*hi_out = hi;
	}
	else
	{
		*lo_d = *hi_d = (Datum) 0;
		*lo_null = *hi_null = 'n';
		*hi_out = -1;
	}
}

/*
 * write_offsets moves every partition of the batch past its last message,
 * if and only if the stored offset is still the one this worker started
 * from: otherwise another worker owns the partition and this batch must
 * not commit.
 */
static void
write_offsets(Batch *b)
{
	for (int ci = 0; ci < b->n; ci++)
	{
		ep_chunk   *c = b->chunks[ci];

		for (int i = 0; i < c->nitems; i++)
		{
			ep_item    *it = &c->items[i];
			PartState  *ps;

			if (it->is_error)
				continue;
			ps = part(it->msg->partition);
			ps->batch_last = Max(ps->batch_last, it->msg->offset);
			if (it->kind == EV_OK)
				ps->batch_rows++;
			else
				ps->batch_dead++;
		}
	}
	for (int32 p = 0; p < nparts; p++)
	{
		PartState  *ps = &parts[p];
		Datum		values[10];
		char		nulls[10] = "          ";
		int64		hi;

		if (ps->batch_last < 0)
			continue;
		values[0] = Int32GetDatum(req.stream_id);
		values[1] = Int32GetDatum(p);
		values[2] = Int64GetDatum(ps->batch_last + 1);
		values[3] = Int64GetDatum(ps->batch_rows);
		values[4] = Int64GetDatum(ps->batch_dead);
		watermarks(p, &values[5], &values[6], &nulls[5], &nulls[6], &hi);
		values[7] = Float8GetDatum(ps->rate);
		values[8] = Int32GetDatum(MyProcPid);
		values[9] = Int64GetDatum(ps->next);
		if (ps->next < 0)
			nulls[9] = 'n';
		if (SPI_execute_plan(offset_plan, values, nulls, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not store the offsets of partition %d", p);
		if (SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("stream \"%s\": partition %d was moved on by another worker; this batch is dropped",
							cfg.name, p),
					 errdetail("The stored offset is no longer " INT64_FORMAT ", where this worker started.",
							   ps->next)));
		ps->written_hw = hi;
		ps->written_rate = ps->rate;
	}
}

static void
reset_batch_marks(void)
{
	for (int32 p = 0; p < nparts; p++)
	{
		parts[p].batch_last = -1;
		parts[p].batch_rows = 0;
		parts[p].batch_dead = 0;
	}
}

/*
 * check_positions checks that the stored offsets of every owned partition
 * are still where this worker started from: if another worker moved one
 * on, the partition is no longer this worker's and the batch is dropped
 * before any work.  It takes no lock (a worker frozen mid-batch must not
 * hold up the one that took its partitions): the conditional update in
 * write_offsets is the fence; this only fails early.
 */
static void
check_positions(void)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(nparts, 1));
	int			n = 0;
	Oid			types[2] = {INT4OID, INT4ARRAYOID};
	Datum		values[2];

	for (int32 p = 0; p < nparts; p++)
		if (parts[p].owned)
			elems[n++] = Int32GetDatum(p);
	if (n == 0)
		return;
	values[0] = Int32GetDatum(req.stream_id);
	values[1] = PointerGetDatum(construct_array(elems, n, INT4OID, 4, true, TYPALIGN_INT));
	if (SPI_execute_with_args("SELECT kafka_partition, coalesce(next_offset, -1) FROM ecsync.stream_offsets "
							  "WHERE stream_id = $1 AND kafka_partition = ANY ($2) "
							  "ORDER BY kafka_partition",
							  2, types, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the stored offsets");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		int32		p = atoi(spi_text(i, 1));
		int64		stored = strtoll(spi_text(i, 2), NULL, 10);

		if (stored != part(p)->next)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("stream \"%s\": partition %d was moved on by another worker; this batch is dropped",
							cfg.name, p),
					 errdetail("The stored offset is " INT64_FORMAT ", not " INT64_FORMAT " where this worker started.",
							   stored, part(p)->next)));
	}
	if (SPI_processed != (uint64) n)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("stream \"%s\": the stored offsets were reset; this batch is dropped", cfg.name)));
}

/*
 * ingest runs one batch in one transaction: COPY of its rows, its dead
 * letters, its offsets.
 */
static void
ingest(Batch *b, bool isolated)
{
	Oid			relid;
	Relation	rel;
	TimestampTz t0 = GetCurrentTimestamp(),
				t1;

	batch_wait_us = 0;
	reset_batch_marks();
	begin_tx();
	check_positions();
	/* the target, as the stream's owner */
	ecsync_catalog_leave(&tx_access);
	relid = RangeVarGetRelid(makeRangeVar(cfg.schema, cfg.table, -1), RowExclusiveLock, false);
	if (pg_class_aclcheck(relid, GetUserId(), ACL_INSERT) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, cfg.table);
	ecsync_refuse_rls(relid, GetUserId());
	rel = table_open(relid, NoLock);
	if (isolated)
		copy_isolated(rel, b);
	else
	{
		feed_begin(b, NULL, 0);
		(void) copy_into(rel);
	}
	feed.b = NULL;
	table_close(rel, NoLock);
	ecsync_catalog_enter(&tx_access);
	write_dead_letters(b);
	t1 = GetCurrentTimestamp();
	write_offsets(b);
	commit_tx();
	elog(DEBUG1, "ecsync stream \"%s\": batch of %lld rows and %lld dead letters: "
		 "copy %.1f ms (%.1f ms waiting for events), offsets and commit %.1f ms",
		 cfg.name, (long long) b->rows, (long long) b->dead, (t1 - t0) / 1000.0,
		 batch_wait_us / 1000.0, (GetCurrentTimestamp() - t1) / 1000.0);
}

static bool
is_data_error(int sqlerrcode)
{
	int			category = ERRCODE_TO_CATEGORY(sqlerrcode);

	return category == ERRCODE_DATA_EXCEPTION ||
		category == ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION;
}

/* after_commit moves positions on and tells the Kafka group, for lag tools */
static void
after_commit(Batch *b)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(4);
	TimestampTz now = GetCurrentTimestamp();

	for (int32 p = 0; p < nparts; p++)
	{
		PartState  *ps = &parts[p];

		if (ps->batch_last < 0)
			continue;
		ps->next = ps->batch_last + 1;
		ps->win_rows += ps->batch_rows + ps->batch_dead;
		if (TimestampDifferenceExceeds(ps->win_start, now, 1000))
		{
			long		secs;
			int			usecs;

			TimestampDifference(ps->win_start, now, &secs, &usecs);
			ps->rate = ps->win_rows / (secs + usecs / 1e6);
			ps->win_rows = 0;
			ps->win_start = now;
		}
		rd_kafka_topic_partition_list_add(list, cfg.topic, p)->offset = ps->next;
	}
	if (list->cnt > 0)
		(void) rd_kafka_commit(rk, list, 1);
	rd_kafka_topic_partition_list_destroy(list);
	for (int ci = 0; ci < b->n; ci++)
	{
		ep_chunk   *c = b->chunks[ci];

		for (int i = 0; i < c->nitems; i++)
			if (c->items[i].is_error)
			{
				ereport(LOG,
						(errmsg("ecsync stream \"%s\": partition %d: %s", cfg.name,
								c->items[i].msg->partition, c->items[i].reason)));
				record_error(c->items[i].msg->partition,
							 psprintf("partition %d: %s", c->items[i].msg->partition, c->items[i].reason));
			}
	}
	reset_batch_marks();
}

/* the batch being written: freed on error, as librdkafka waits for its messages */
static Batch *inflight_batch;

static void
run_batch(ep_chunk *first)
{
	static Batch b;
	MemoryContext cxt = CurrentMemoryContext;

	memset(&b, 0, sizeof(b));
	inflight_batch = &b;
	batch_add(&b, first);
	feed.deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), cfg.max_latency_ms);
	pgstat_report_activity(STATE_RUNNING, psprintf("ingesting a batch into %s.%s",
												   quote_identifier(cfg.schema),
												   quote_identifier(cfg.table)));
	PG_TRY();
	{
		ingest(&b, false);
	}
	PG_CATCH();
	{
		ErrorData  *e;

		MemoryContextSwitchTo(cxt);
		e = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(cxt);
		if (!is_data_error(e->sqlerrcode) || b.rows == 0)
			ReThrowError(e);
		ereport(LOG,
				(errmsg("ecsync stream \"%s\": a batch of %lld rows was refused (%s); inserting it row by row",
						cfg.name, (long long) b.rows, e->message)));
		ingest(&b, true);
	}
	PG_END_TRY();
	after_commit(&b);
	batch_free(&b);
	inflight_batch = NULL;
	report_idle();
}

/* refresh_stats keeps watermarks and rates fresh while no batch writes them */
static void
refresh_stats(void)
{
	TimestampTz now = GetCurrentTimestamp();
	bool		began = false;

	if (!TimestampDifferenceExceeds(last_stats, now, STATS_INTERVAL_MS))
		return;
	last_stats = now;
	for (int32 p = 0; p < nparts; p++)
	{
		PartState  *ps = &parts[p];
		Datum		values[6];
		char		nulls[6] = "      ";
		int64		hi;

		if (!ps->owned)
			continue;
		if (TimestampDifferenceExceeds(ps->win_start, now, STATS_INTERVAL_MS))
		{
			long		secs;
			int			usecs;

			TimestampDifference(ps->win_start, now, &secs, &usecs);
			ps->rate = ps->win_rows / (secs + usecs / 1e6);
			ps->win_rows = 0;
			ps->win_start = now;
		}
		values[0] = Int32GetDatum(req.stream_id);
		values[1] = Int32GetDatum(p);
		watermarks(p, &values[2], &values[3], &nulls[2], &nulls[3], &hi);
		values[4] = Float8GetDatum(ps->rate);
		values[5] = Int32GetDatum(MyProcPid);
		if (hi == ps->written_hw && ps->rate == ps->written_rate)
			continue;
		if (!began)
			begin_tx();
		began = true;
		SPI_execute_plan(stats_plan, values, nulls, false, 0);
		ps->written_hw = hi;
		ps->written_rate = ps->rate;
	}
	if (began)
		commit_tx();
}

/* ------------------------------------------------------------ lifecycle */

/*
 * shutdown_consumer leaves the group and destroys the consumer, within a
 * bounded time: librdkafka's own close in rd_kafka_destroy waits for the
 * group coordinator without limit (with the broker down, for ever).  If
 * the close does not finish in time, the consumer is destroyed without it;
 * the group moves the partitions after session.timeout.ms, and nothing is
 * lost, as the offsets are PostgreSQL's.
 */
static void
shutdown_consumer(void)
{
	if (rk == NULL)
		return;
	if (!kc_shutdown(rk, consumer_q, fetch_q, pipe_, 5000))
		ereport(LOG,
				(errmsg("ecsync stream \"%s\" worker %d: could not leave the consumer group within 5 s; "
						"its partitions move after session.timeout.ms",
						cfg.name, req.index)));
	pipe_ = NULL;
	fetch_q = consumer_q = NULL;
	rk = NULL;
}

/*
 * lock_slot takes a session lock on (stream, index): a worker left over
 * from a launcher that died makes its successor wait rather than consume
 * beside it.  False if asked to stop first.
 */
static bool
lock_slot(void)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) req.stream_id, (uint32) req.index,
						 SLOT_LOCK_FIELD4);
	for (;;)
	{
		LockAcquireResult r;

		StartTransactionCommand();
		r = LockAcquire(&tag, ExclusiveLock, true, true);
		CommitTransactionCommand();
		if (r != LOCKACQUIRE_NOT_AVAIL)
			return true;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (got_sigterm)
			return false;
	}
}

static bool
launcher_alive(void)
{
	const char *type;

	if (kill(req.launcher_pid, 0) != 0)
		return false;
	type = GetBackgroundWorkerTypeByPid(req.launcher_pid);
	return type != NULL && strcmp(type, ECSYNC_LAUNCHER_TYPE) == 0;
}

static void
stream_loop(void)
{
	TimestampTz last_launcher_check = GetCurrentTimestamp();
	/* what one round allocates outside transactions dies with the round */
	MemoryContext loop_cxt = AllocSetContextCreate(TopMemoryContext,
												   "ecsync stream loop",
												   ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		ep_chunk   *c;

		MemoryContextSwitchTo(loop_cxt);
		MemoryContextReset(loop_cxt);
		CHECK_FOR_INTERRUPTS();
		if (got_sigterm)
			return;
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			if (current_config_version() != cfg.config_version)
			{
				ereport(LOG,
						(errmsg("ecsync stream \"%s\" worker %d: the stream was changed or stopped; restarting",
								cfg.name, req.index)));
				return;
			}
		}
		if (TimestampDifferenceExceeds(last_launcher_check, GetCurrentTimestamp(), 1000))
		{
			last_launcher_check = GetCurrentTimestamp();
			if (!launcher_alive())
			{
				ereport(LOG,
						(errmsg("ecsync stream \"%s\" worker %d: the launcher is gone; stopping",
								cfg.name, req.index)));
				return;
			}
		}
		serve_consumer_queue();
		c = ep_take(pipe_);
		if (c)
		{
			run_batch(c);
			continue;
		}
		refresh_stats();
		wait_for_events(STATS_INTERVAL_MS);
	}
}

void
ecsync_stream_main(Datum main_arg)
{
	memcpy(&req, MyBgworkerEntry->bgw_extra, sizeof(req));
	pqsignal(SIGTERM, stream_sigterm);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(req.dboid, req.owner, 0);
	ebuf_init(&feed.pending);
	StartTransactionCommand();
	ecsync_worker_client_encoding();
	CommitTransactionCommand();

	if (!lock_slot())
		proc_exit(0);
	if (!load_config() || !cfg.started)
		proc_exit(0);
	pgstat_report_appname(psprintf("ecsync stream %s", cfg.name));
	ereport(LOG,
			(errmsg("ecsync stream \"%s\" worker %d started: topic \"%s\", group \"%s\", into %s.%s",
					cfg.name, req.index, cfg.topic, cfg.group, cfg.schema, cfg.table)));

	PG_TRY();
	{
		prepare_plans();
		start_consumer();
		report_idle();
		stream_loop();
	}
	PG_CATCH();
	{
		ErrorData  *e;

		HOLD_INTERRUPTS();
		EmitErrorReport();
		MemoryContextSwitchTo(TopMemoryContext);
		e = CopyErrorData();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		RESUME_INTERRUPTS();
		record_error(-1, e->message);
		if (inflight_batch)
			batch_free(inflight_batch);
		inflight_batch = NULL;
		shutdown_consumer();
		proc_exit(1);
	}
	PG_END_TRY();

	shutdown_consumer();
	ereport(LOG, (errmsg("ecsync stream \"%s\" worker %d stopped", cfg.name, req.index)));
	proc_exit(0);
}
