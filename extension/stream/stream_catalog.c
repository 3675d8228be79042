/*-------------------------------------------------------------------------
 *
 * stream_catalog.c
 *	  Every statement the stream worker runs on ecsync's catalog: the
 *	  stream's configuration, the offsets (claimed, checked and moved on in
 *	  the batch's transaction), dead letters, errors and statistics.  The
 *	  worker runs as the stream's owner, who may only read the catalog: its
 *	  transactions work here as the catalog's owner, and switch back to the
 *	  stream's owner for the target table alone (stream_batch.c), so that
 *	  whatever runs on the target (triggers, defaults, constraints) runs
 *	  with the owner's rights.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "stream_catalog.h"

#define ERROR_RECORD_INTERVAL_MS 5000

static SPIPlanPtr dead_letter_plan;
static SPIPlanPtr offset_plan;
static SPIPlanPtr stats_plan;

static TimestampTz last_error_record;
static char last_error_text[256];

/* the context sc_begin was called in, where sc_commit returns */
static MemoryContext tx_caller_cxt;
static CatalogAccess tx_access;

/* ------------------------------------------------------------ transactions */

void
sc_begin(void)
{
	tx_caller_cxt = CurrentMemoryContext;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	ecsync_catalog_enter(&tx_access);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
}

void
sc_commit(void)
{
	SPI_finish();
	PopActiveSnapshot();
	ecsync_catalog_leave(&tx_access);
	CommitTransactionCommand();
	MemoryContextSwitchTo(tx_caller_cxt);
}

void
sc_as_owner(void)
{
	ecsync_catalog_leave(&tx_access);
}

void
sc_as_catalog(void)
{
	ecsync_catalog_enter(&tx_access);
}

static char *
spi_text(int row, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

static char *
top_strdup(const char *s)
{
	return s ? MemoryContextStrdup(TopMemoryContext, s) : NULL;
}

/*
 * sc_record_error keeps msg as the stream's last error (and the
 * partition's, if one is given), in a transaction of its own; called
 * outside any transaction.  Repeats of the same message are recorded at
 * most every few seconds.
 */
void
sc_record_error(StreamWorker *w, int32 partition, const char *msg)
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
		Datum		values[3] = {Int32GetDatum(w->req.stream_id), CStringGetTextDatum(msg),
		Int32GetDatum(partition)};

		sc_begin();
		SPI_execute_with_args("UPDATE ecsync.streams SET last_error = $2, last_error_at = now() WHERE id = $1",
							  2, types, values, NULL, false, 0);
		if (partition >= 0)
			SPI_execute_with_args("UPDATE ecsync.stream_offsets SET last_error = $2, last_error_at = now() "
								  "WHERE stream_id = $1 AND kafka_partition = $3",
								  3, types, values, NULL, false, 0);
		sc_commit();
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
 * sc_load_config reads the stream and its mapping; false when the stream is
 * gone.  The mapping's column types come from the target table itself.
 */
bool
sc_load_config(StreamWorker *w)
{
	StreamConfig *cfg = &w->cfg;
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(w->req.stream_id)};
	MemoryContext old;
	int			n;

	sc_begin();
	SPI_execute_with_args(
						  "SELECT name, server_name, topic, target_schema, target_table, consumer_group, "
						  "       batch_size, greatest(1, extract(epoch FROM max_latency) * 1000)::int, "
						  "       decode_threads, start_from = 'latest', state = 'started', config_version, "
						  "       max_message_bytes, to_regclass(format('%I.%I', target_schema, target_table)) IS NOT NULL "
						  "  FROM ecsync.streams WHERE id = $1",
						  1, types, values, NULL, true, 0);
	if (SPI_processed == 0)
	{
		sc_commit();
		return false;
	}
	old = MemoryContextSwitchTo(TopMemoryContext);
	cfg->id = w->req.stream_id;
	cfg->name = top_strdup(spi_text(0, 1));
	cfg->server = top_strdup(spi_text(0, 2));
	cfg->topic = top_strdup(spi_text(0, 3));
	cfg->schema = top_strdup(spi_text(0, 4));
	cfg->table = top_strdup(spi_text(0, 5));
	cfg->group = top_strdup(spi_text(0, 6));
	cfg->batch_size = atoi(spi_text(0, 7));
	cfg->max_latency_ms = atoi(spi_text(0, 8));
	cfg->decode_threads = atoi(spi_text(0, 9));
	cfg->start_latest = strcmp(spi_text(0, 10), "t") == 0;
	cfg->started = strcmp(spi_text(0, 11), "t") == 0;
	cfg->config_version = atoi(spi_text(0, 12));
	cfg->spec.max_bytes = (size_t) atol(spi_text(0, 13));
	MemoryContextSwitchTo(old);
	if (strcmp(spi_text(0, 14), "t") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("stream \"%s\": target table %s.%s does not exist",
						cfg->name, quote_identifier(cfg->schema), quote_identifier(cfg->table)),
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
	cfg->spec.fields = palloc0(sizeof(ev_field) * Max(n, 1));
	cfg->spec.nfields = n;
	cfg->attnames = NIL;
	for (int i = 0; i < n; i++)
	{
		ev_field   *f = &cfg->spec.fields[i];
		char	   *type = spi_text(i, 5);
		char	   *source = spi_text(i, 2);

		f->column = top_strdup(spi_text(i, 1));
		f->key = top_strdup(spi_text(i, 3));
		f->required = strcmp(spi_text(i, 4), "t") == 0;
		if (type == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("stream \"%s\": table %s.%s has no column \"%s\"",
							cfg->name, cfg->schema, cfg->table, f->column)));
		if (!ev_type_from_name(type, &f->type))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("stream \"%s\": column \"%s\" has type %s, which streams do not fill",
							cfg->name, f->column, type)));
		if (!ev_source_from_name(source, &f->source))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("stream \"%s\": column \"%s\" has unknown source \"%s\"",
							cfg->name, f->column, source)));
		cfg->attnames = lappend(cfg->attnames, makeString(f->column));
	}
	MemoryContextSwitchTo(old);
	sc_commit();
	return true;
}

/* sc_config_version: the stream's version now, or -1 if it is gone or stopped */
int32
sc_config_version(StreamWorker *w)
{
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(w->req.stream_id)};
	int32		v = -1;

	sc_begin();
	SPI_execute_with_args("SELECT config_version FROM ecsync.streams WHERE id = $1 AND state = 'started'",
						  1, types, values, NULL, true, 0);
	if (SPI_processed == 1)
		v = atoi(spi_text(0, 1));
	sc_commit();
	return v;
}

void
sc_prepare(void)
{
	Oid			dl_types[11] = {INT4OID, TEXTOID, TEXTOID, INT4OID, INT8OID,
	TIMESTAMPTZOID, BYTEAOID, BYTEAOID, TEXTOID, TEXTOID, OIDOID};
	Oid			off_types[10] = {INT4OID, INT4OID, INT8OID, INT8OID, INT8OID,
	INT8OID, INT8OID, FLOAT8OID, INT4OID, INT8OID};
	Oid			st_types[6] = {INT4OID, INT4OID, INT8OID, INT8OID, FLOAT8OID, INT4OID};

	sc_begin();

	/*
	 * A dead letter already filed for the same message (read again after
	 * its stream was re-pointed, say) is not filed twice, and never fails
	 * the batch: a batch that cannot commit would be read again for ever.
	 */
	dead_letter_plan = SPI_prepare(
								   "INSERT INTO ecsync.dead_letters (stream_id, stream, topic, kafka_partition, kafka_offset, "
								   "  kafka_timestamp, message_key, payload, kind, reason, owner) "
								   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
								   "ON CONFLICT (stream_id, topic, kafka_partition, kafka_offset) DO NOTHING",
								   11, dl_types);
	offset_plan = SPI_prepare(
							  "UPDATE ecsync.stream_offsets SET next_offset = $3, rows_total = rows_total + $4, "
							  "  dead_total = dead_total + $5, low_watermark = $6, high_watermark = $7, "
							  "  rate_eps = $8, worker_pid = $9, updated_at = now(), last_batch_at = now(), "
							  "  last_error = NULL, beyond_end = false "
							  "WHERE stream_id = $1 AND kafka_partition = $2 AND next_offset IS NOT DISTINCT FROM $10",
							  10, off_types);
	/*
	 * Statistics never wait: a row another transaction holds (a frozen
	 * batch of the partition's previous owner, say) is skipped and written
	 * at the next interval.  A worker waiting here would serve no rebalance,
	 * and its group would assign nobody the partitions meanwhile.
	 */
	stats_plan = SPI_prepare(
							 "UPDATE ecsync.stream_offsets SET low_watermark = $3, high_watermark = $4, rate_eps = $5, "
							 "  worker_pid = $6, updated_at = now() "
							 "WHERE ctid = ANY (ARRAY(SELECT ctid FROM ecsync.stream_offsets "
							 "  WHERE stream_id = $1 AND kafka_partition = $2 FOR UPDATE SKIP LOCKED))",
							 6, st_types);
	if (!dead_letter_plan || !offset_plan || !stats_plan)
		elog(ERROR, "could not prepare the stream worker's statements: %s",
			 SPI_result_code_string(SPI_result));
	SPI_keepplan(dead_letter_plan);
	SPI_keepplan(offset_plan);
	SPI_keepplan(stats_plan);
	sc_commit();
}

/* ------------------------------------------------------------ offsets */

/*
 * sc_claim_partition makes sure the partition has its row (created for a
 * new one) and returns its stored next offset, -1 for none yet.  Inside
 * the caller's transaction; it waits for no lock: the previous owner may
 * be frozen in the middle of a batch, holding its offset row, and the
 * stored offset it had last committed is the one to start from (its
 * successor's first offset update waits for that batch, and the
 * conditional update finds out if it committed).  So the row is read
 * first: INSERT ... ON CONFLICT DO NOTHING would wait on a row another
 * transaction has updated, and is run only for a partition with no row.
 */
int64
sc_claim_partition(StreamWorker *w, int32 p)
{
	Oid			types[3] = {INT4OID, INT4OID, INT4OID};
	Datum		values[3] = {Int32GetDatum(w->req.stream_id), Int32GetDatum(p),
	Int32GetDatum(MyProcPid)};
	char	   *next;

	SPI_execute_with_args(
						  "SELECT next_offset FROM ecsync.stream_offsets WHERE stream_id = $1 AND kafka_partition = $2",
						  2, types, values, NULL, false, 0);
	if (SPI_processed == 0)
	{
		SPI_execute_with_args(
							  "INSERT INTO ecsync.stream_offsets (stream_id, kafka_partition, worker_pid, updated_at) "
							  "VALUES ($1, $2, $3, now()) ON CONFLICT (stream_id, kafka_partition) DO NOTHING",
							  3, types, values, NULL, false, 0);
		SPI_execute_with_args(
							  "SELECT next_offset FROM ecsync.stream_offsets WHERE stream_id = $1 AND kafka_partition = $2",
							  2, types, values, NULL, false, 0);
	}
	if (SPI_processed != 1)
		elog(ERROR, "could not read the stored offset of partition %d", p);
	next = spi_text(0, 1);
	return next ? strtoll(next, NULL, 10) : -1;
}

/*
 * sc_pin_partition stores next as where a partition that had no offset
 * starts ("latest", resolved once): a restart before the first batch
 * commits resumes there, and skips nothing that came meanwhile.
 */
void
sc_pin_partition(StreamWorker *w, int32 p, int64 next)
{
	Oid			types[3] = {INT4OID, INT4OID, INT8OID};
	Datum		values[3] = {Int32GetDatum(w->req.stream_id), Int32GetDatum(p), Int64GetDatum(next)};

	SPI_execute_with_args("UPDATE ecsync.stream_offsets SET next_offset = $3 "
						  "WHERE stream_id = $1 AND kafka_partition = $2 AND next_offset IS NULL",
						  3, types, values, NULL, false, 0);
}

/* sc_partition_beyond_end marks a partition whose stored offset is past the topic's end */
void
sc_partition_beyond_end(StreamWorker *w, int32 p, int64 next, int64 low, int64 high)
{
	Oid			types[5] = {INT4OID, INT4OID, INT8OID, INT8OID, TEXTOID};
	Datum		values[5] = {Int32GetDatum(w->req.stream_id), Int32GetDatum(p),
		Int64GetDatum(low), Int64GetDatum(high),
		CStringGetTextDatum(psprintf("partition %d: the stored offset " INT64_FORMAT
									 " is beyond the end of topic \"%s\" (" INT64_FORMAT
									 "): the topic was deleted and created again?  "
									 "The partition is paused; see \"Streams\" in ecsync's docs/operations.md.",
									 p, next, w->cfg.topic, high))};

	SPI_execute_with_args("UPDATE ecsync.stream_offsets SET beyond_end = true, low_watermark = $3, "
						  "  high_watermark = $4, last_error = $5, last_error_at = now(), updated_at = now() "
						  "WHERE stream_id = $1 AND kafka_partition = $2",
						  5, types, values, NULL, false, 0);
	SPI_execute_with_args("UPDATE ecsync.streams SET last_error = $5, last_error_at = now() WHERE id = $1",
						  5, types, values, NULL, false, 0);
}

/*
 * sc_check_positions checks that the stored offsets of every owned
 * partition are still where this worker started from: if another worker
 * moved one on, the partition is no longer this worker's and the batch is
 * dropped before any work.  It takes no lock (a worker frozen mid-batch
 * must not hold up the one that took its partitions): the conditional
 * update in sc_write_offsets is the fence; this only fails early.
 */
void
sc_check_positions(StreamWorker *w)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(w->nparts, 1));
	int			n = 0;
	Oid			types[2] = {INT4OID, INT4ARRAYOID};
	Datum		values[2];

	for (int32 p = 0; p < w->nparts; p++)
		if (w->parts[p].owned)
			elems[n++] = Int32GetDatum(p);
	if (n == 0)
		return;
	values[0] = Int32GetDatum(w->req.stream_id);
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

		if (stored != stream_part(w, p)->next)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("stream \"%s\": partition %d was moved on by another worker; this batch is dropped",
							w->cfg.name, p),
					 errdetail("The stored offset is " INT64_FORMAT ", not " INT64_FORMAT " where this worker started.",
							   stored, stream_part(w, p)->next)));
	}
	if (SPI_processed != (uint64) n)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("stream \"%s\": the stored offsets were reset; this batch is dropped", w->cfg.name)));
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

void
sc_write_dead_letters(StreamWorker *w, Batch *b)
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
			values[0] = Int32GetDatum(w->req.stream_id);
			values[1] = CStringGetTextDatum(w->cfg.name);
			values[2] = CStringGetTextDatum(rd_kafka_topic_name(m->rkt));
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
			values[10] = ObjectIdGetDatum(w->req.owner);
			if (SPI_execute_plan(dead_letter_plan, values, nulls, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "could not insert a dead letter");
		}
	}
}

/*
 * sc_write_offsets moves every partition of the batch past its last
 * message, if and only if the stored offset is still the one this worker
 * started from: otherwise another worker owns the partition and this
 * batch must not commit.
 */
void
sc_write_offsets(StreamWorker *w, Batch *b)
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
			ps = stream_part(w, it->msg->partition);
			ps->batch_last = Max(ps->batch_last, it->msg->offset);
			if (it->kind == EV_OK)
				ps->batch_rows++;
			else
				ps->batch_dead++;
		}
	}
	for (int32 p = 0; p < w->nparts; p++)
	{
		PartState  *ps = &w->parts[p];
		Datum		values[10];
		char		nulls[10] = "          ";
		int64		lo,
					hi;

		if (ps->batch_last < 0)
			continue;
		values[0] = Int32GetDatum(w->req.stream_id);
		values[1] = Int32GetDatum(p);
		values[2] = Int64GetDatum(ps->batch_last + 1);
		values[3] = Int64GetDatum(ps->batch_rows);
		values[4] = Int64GetDatum(ps->batch_dead);
		stream_watermarks(w, p, &lo, &hi);
		values[5] = Int64GetDatum(lo);
		values[6] = Int64GetDatum(hi);
		if (lo < 0)
			nulls[5] = 'n';
		if (hi < 0)
			nulls[6] = 'n';
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
							w->cfg.name, p),
					 errdetail("The stored offset is no longer " INT64_FORMAT ", where this worker started.",
							   ps->next)));
		ps->written_hw = hi;
		ps->written_rate = ps->rate;
	}
}

/*
 * sc_write_stats stores a partition's watermarks and rate (in a
 * transaction); false when its row was locked and nothing was written.
 */
bool
sc_write_stats(StreamWorker *w, int32 p, int64 low, int64 high, double rate)
{
	Datum		values[6];
	char		nulls[6] = "      ";

	values[0] = Int32GetDatum(w->req.stream_id);
	values[1] = Int32GetDatum(p);
	values[2] = Int64GetDatum(low);
	values[3] = Int64GetDatum(high);
	if (low < 0)
		nulls[2] = 'n';
	if (high < 0)
		nulls[3] = 'n';
	values[4] = Float8GetDatum(rate);
	values[5] = Int32GetDatum(MyProcPid);
	SPI_execute_plan(stats_plan, values, nulls, false, 0);
	return SPI_processed == 1;
}
