/*-------------------------------------------------------------------------
 *
 * stream_batch.c
 *	  One batch of a stream: the decoded chunks are fed to PostgreSQL's COPY
 *	  machinery as binary COPY (the decoders keep decoding while COPY
 *	  inserts), then the dead letters and the offsets are written, all in
 *	  one transaction.  A batch closes by count (batch_size events) or by
 *	  time (max_latency after its first event), and at once for a rebalance
 *	  or a stop.
 *
 *	  A batch the target refuses (a constraint, a value out of a column's
 *	  range, a trigger that raises) is split in halves, each tried in a
 *	  subtransaction, down to the rows that fail alone: those become dead
 *	  letters with PostgreSQL's message, and the rest commits.  k bad rows
 *	  among n cost about 2k log n subtransactions, not n.  An error that is
 *	  no row's fault (a lost privilege, a dropped table, a full disk)
 *	  fails the batch, which is read again after a restart.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/copy.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_node.h"
#include "parser/parse_relation.h"
#include "pgstat.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"

#include "copy_binary.h"
#include "stream_batch.h"
#include "stream_catalog.h"
#include "stream_consumer.h"

/* one row of the batch: its chunk and item */
typedef struct RowRef
{
	ep_chunk   *c;
	ep_item    *it;
} RowRef;

/* the COPY being fed: COPY's data-source callback takes no argument */
static struct
{
	StreamWorker *w;			/* the worker whose batch it is */
	Batch	   *b;
	RowRef	   *rows;			/* a range of rows, not the batch's chunks */
	int			nrows;
	int			ri;				/* row being copied */
	int			ci;				/* chunk being copied */
	size_t		off;			/* within it */
	ebuf		pending;		/* header, trailer */
	size_t		pending_off;
	bool		closing;
	bool		eof;
	TimestampTz deadline;
} feed;

/* where a batch's time went, for DEBUG1 */
static int64 batch_wait_us;

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

void
stream_batch_free(Batch *b)
{
	for (int i = 0; i < b->n; i++)
		ep_chunk_free(b->chunks[i]);
	if (b->chunks)
		pfree(b->chunks);
	memset(b, 0, sizeof(*b));
}

static bool
batch_should_close(StreamWorker *w, Batch *b)
{
	return b->items >= w->cfg.batch_size || w->got_sigterm ||
		GetCurrentTimestamp() >= feed.deadline ||
		rd_kafka_queue_length(w->kc.consumer_q) > 0;
}

/* copy_out copies up to maxread bytes of src[*off..len) to outbuf */
static int
copy_out(void *outbuf, int maxread, const char *src, size_t len, size_t *off)
{
	size_t		n = Min((size_t) maxread, len - *off);

	memcpy(outbuf, src + *off, n);
	*off += n;
	return (int) n;
}

/*
 * feed_read is COPY's data source: the batch's chunks as they come (or a
 * range of its rows), framed as binary COPY
 */
static int
feed_read(void *outbuf, int minread, int maxread)
{
	for (;;)
	{
		if (feed.pending_off < feed.pending.len)
			return copy_out(outbuf, maxread, feed.pending.data, feed.pending.len, &feed.pending_off);
		if (feed.eof)
			return 0;
		if (feed.rows)
		{
			/* a range of rows, one after the other */
			if (feed.ri < feed.nrows)
			{
				ep_chunk   *c = feed.rows[feed.ri].c;
				ep_item    *it = feed.rows[feed.ri].it;

				if (feed.off < it->row_end - it->row_start)
					return copy_out(outbuf, maxread, c->data.data + it->row_start,
									it->row_end - it->row_start, &feed.off);
				feed.ri++;
				feed.off = 0;
				continue;
			}
			feed.closing = true;
		}
		else if (feed.ci < feed.b->n)
		{
			ep_chunk   *c = feed.b->chunks[feed.ci];

			if (feed.off < c->data.len)
				return copy_out(outbuf, maxread, c->data.data, c->data.len, &feed.off);
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
		if (batch_should_close(feed.w, feed.b))
		{
			feed.closing = true;
			continue;
		}
		{
			ep_chunk   *c = ep_take(feed.w->kc.pipe);

			if (c)
			{
				batch_add(feed.b, c);
				continue;
			}
		}
		{
			long		ms = (long) ((feed.deadline - GetCurrentTimestamp()) / 1000);
			TimestampTz w0 = GetCurrentTimestamp();

			stream_wait_for_events(feed.w, Max(ms, 1));
			batch_wait_us += GetCurrentTimestamp() - w0;
		}
	}
}

static void
feed_begin(StreamWorker *w, Batch *b, RowRef *rows, int nrows)
{
	if (feed.pending.data == NULL)
		ebuf_init(&feed.pending);
	feed.w = w;
	feed.b = b;
	feed.rows = rows;
	feed.nrows = nrows;
	feed.ri = 0;
	feed.ci = 0;
	feed.off = 0;
	feed.closing = false;
	feed.eof = false;
	ebuf_reset(&feed.pending);
	feed.pending_off = 0;
	if (!cb_header(&feed.pending))
		elog(ERROR, "out of memory");
}

static uint64
copy_into(StreamWorker *w, Relation rel)
{
	ParseState *pstate = make_parsestate(NULL);
	CopyFromState cstate;
	uint64		n;

	(void) addRangeTableEntryForRelation(pstate, rel, RowExclusiveLock, NULL, false, false);
	cstate = BeginCopyFrom(pstate, rel, NULL, NULL, false, feed_read, w->cfg.attnames,
						   list_make1(makeDefElem("format", (Node *) makeString("binary"), -1)));
	n = CopyFrom(cstate);
	EndCopyFrom(cstate);
	free_parsestate(pstate);
	return n;
}

/*
 * row_fault: could this error be one row's fault, so that splitting the
 * batch isolates it?  Not a lost privilege, a missing object, a lock or
 * serialization failure, a shortage of resources, an operator's
 * intervention or an internal error: those fail every row alike, and the
 * batch must fail rather than become dead letters.
 */
static bool
row_fault(int sqlerrcode)
{
	switch (ERRCODE_TO_CATEGORY(sqlerrcode))
	{
		case ERRCODE_INSUFFICIENT_RESOURCES:
		case ERRCODE_PROGRAM_LIMIT_EXCEEDED:
		case ERRCODE_OPERATOR_INTERVENTION:
		case ERRCODE_SYSTEM_ERROR:
		case ERRCODE_INTERNAL_ERROR:
		case ERRCODE_TRANSACTION_ROLLBACK:
		case ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE:
		case ERRCODE_CONNECTION_EXCEPTION:
		case ERRCODE_CONFIG_FILE_ERROR:
		case ERRCODE_FDW_ERROR:
			return false;
		case ERRCODE_SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION:
			/* a privilege or a dropped column: every row alike */
			return false;
		default:
			return true;
	}
}

/*
 * copy_range inserts rows[0..n) in a subtransaction; if the target
 * refuses them, the halves are tried on their own, down to single rows,
 * which become dead letters with the target's message.
 */
typedef struct CopyRange
{
	StreamWorker *w;
	Relation	rel;
	Batch	   *b;
	RowRef	   *rows;
	int			n;
} CopyRange;

static void
copy_range_try(void *arg)
{
	CopyRange  *r = arg;

	feed_begin(r->w, r->b, r->rows, r->n);
	(void) copy_into(r->w, r->rel);
}

static void
copy_range(StreamWorker *w, Relation rel, Batch *b, RowRef *rows, int n)
{
	CopyRange	r = {w, rel, b, rows, n};
	ErrorData  *e;

	if (n == 0)
		return;
	CHECK_FOR_INTERRUPTS();
	e = ecsync_try(copy_range_try, &r);
	if (e == NULL)
		return;
	if (!row_fault(e->sqlerrcode))
		ReThrowError(e);
	if (n > 1)
	{
		copy_range(w, rel, b, rows, n / 2);
		copy_range(w, rel, b, rows + n / 2, n - n / 2);
	}
	else
	{
		/* the row failed alone, as it did with the others: a dead letter */
		ep_item    *it = rows[0].it;

		it->reason = strdup(psprintf("%s%s%s", e->message,
									 e->detail ? ": " : "", e->detail ? e->detail : ""));
		it->kind = EV_REJECTED;
		rows[0].c->nrows--;
		rows[0].c->ndead++;
		b->rows--;
		b->dead++;
	}
	FreeErrorData(e);
}

/* copy_split isolates the rows the target refuses (see copy_range) */
static void
copy_split(StreamWorker *w, Relation rel, Batch *b)
{
	RowRef	   *rows = palloc(sizeof(RowRef) * Max(b->rows, 1));
	int			n = 0;

	for (int ci = 0; ci < b->n; ci++)
	{
		ep_chunk   *c = b->chunks[ci];

		for (int i = 0; i < c->nitems; i++)
			if (!c->items[i].is_error && c->items[i].kind == EV_OK)
				rows[n++] = (RowRef)
				{
					c, &c->items[i]
				};
	}
	copy_range(w, rel, b, rows, n);
	pfree(rows);
}

static void
reset_batch_marks(StreamWorker *w)
{
	for (int32 p = 0; p < w->nparts; p++)
	{
		w->parts[p].batch_last = -1;
		w->parts[p].batch_rows = 0;
		w->parts[p].batch_dead = 0;
	}
}

/*
 * ingest runs one batch in one transaction: COPY of its rows (split when
 * isolated), its dead letters, its offsets.
 */
static void
ingest(StreamWorker *w, Batch *b, bool isolated)
{
	Oid			relid;
	Relation	rel;
	TimestampTz t0 = GetCurrentTimestamp(),
				t1;

	batch_wait_us = 0;
	reset_batch_marks(w);
	sc_begin();
	sc_check_positions(w);
	/* the target, as the stream's owner */
	sc_as_owner();
	relid = RangeVarGetRelid(makeRangeVar(w->cfg.schema, w->cfg.table, -1), RowExclusiveLock, false);
	if (pg_class_aclcheck(relid, GetUserId(), ACL_INSERT) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, w->cfg.table);
	ecsync_refuse_rls(relid, GetUserId());
	rel = table_open(relid, NoLock);
	if (isolated)
		copy_split(w, rel, b);
	else
	{
		feed_begin(w, b, NULL, 0);
		(void) copy_into(w, rel);
	}
	feed.b = NULL;
	table_close(rel, NoLock);
	sc_as_catalog();
	sc_write_dead_letters(w, b);
	t1 = GetCurrentTimestamp();
	sc_write_offsets(w, b);
	sc_commit();
	elog(DEBUG1, "ecsync stream \"%s\": batch of %lld rows and %lld dead letters: "
		 "copy %.1f ms (%.1f ms waiting for events), offsets and commit %.1f ms",
		 w->cfg.name, (long long) b->rows, (long long) b->dead, (t1 - t0) / 1000.0,
		 batch_wait_us / 1000.0, (GetCurrentTimestamp() - t1) / 1000.0);
}

/* update_rate closes a partition's rate window once it is window_ms old */
static void
update_rate(PartState *ps, TimestampTz now, int window_ms)
{
	long		secs;
	int			usecs;

	if (!TimestampDifferenceExceeds(ps->win_start, now, window_ms))
		return;
	TimestampDifference(ps->win_start, now, &secs, &usecs);
	ps->rate = ps->win_rows / (secs + usecs / 1e6);
	ps->win_rows = 0;
	ps->win_start = now;
}

/* after_commit moves positions and rates on, and reports decoding errors */
static void
after_commit(StreamWorker *w, Batch *b)
{
	TimestampTz now = GetCurrentTimestamp();

	for (int32 p = 0; p < w->nparts; p++)
	{
		PartState  *ps = &w->parts[p];

		if (ps->batch_last < 0)
			continue;
		ps->next = ps->batch_last + 1;
		ps->win_rows += ps->batch_rows + ps->batch_dead;
		update_rate(ps, now, 1000);
	}
	stream_consumer_committed(w);
	for (int ci = 0; ci < b->n; ci++)
	{
		ep_chunk   *c = b->chunks[ci];

		for (int i = 0; i < c->nitems; i++)
			if (c->items[i].is_error)
			{
				ereport(LOG,
						(errmsg("ecsync stream \"%s\": partition %d: %s", w->cfg.name,
								c->items[i].msg->partition, c->items[i].reason)));
				sc_record_error(w, c->items[i].msg->partition,
								psprintf("partition %d: %s", c->items[i].msg->partition, c->items[i].reason));
			}
	}
	reset_batch_marks(w);
}

/*
 * stream_ingest_batch ingests the batch that starts with chunk first:
 * whole, or if the target refuses a row, split (see the file's comment).
 */
void
stream_ingest_batch(StreamWorker *w, ep_chunk *first)
{
	static Batch b;
	MemoryContext cxt = CurrentMemoryContext;

	memset(&b, 0, sizeof(b));
	w->inflight = &b;
	batch_add(&b, first);
	feed.deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), w->cfg.max_latency_ms);
	pgstat_report_activity(STATE_RUNNING, psprintf("ingesting a batch into %s.%s",
												   quote_identifier(w->cfg.schema),
												   quote_identifier(w->cfg.table)));
	PG_TRY();
	{
		ingest(w, &b, false);
	}
	PG_CATCH();
	{
		ErrorData  *e;

		MemoryContextSwitchTo(cxt);
		e = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(cxt);
		if (!row_fault(e->sqlerrcode) || b.rows == 0)
			ReThrowError(e);
		ereport(LOG,
				(errmsg("ecsync stream \"%s\": a batch of %lld rows was refused (%s); isolating the rows at fault",
						w->cfg.name, (long long) b.rows, e->message)));
		ingest(w, &b, true);
	}
	PG_END_TRY();
	after_commit(w, &b);
	stream_batch_free(&b);
	w->inflight = NULL;
	stream_report_idle(w);
}

/*
 * stream_refresh_stats keeps watermarks and rates fresh while no batch
 * writes them, and notices a stored offset beyond the partition's end (the
 * topic was deleted and created again while the worker ran): the worker
 * then stops with an error, and the next one pauses that partition.
 */
void
stream_refresh_stats(StreamWorker *w)
{
	TimestampTz now = GetCurrentTimestamp();
	bool		began = false;

	if (!TimestampDifferenceExceeds(w->last_stats, now, STATS_INTERVAL_MS))
		return;
	w->last_stats = now;
	for (int32 p = 0; p < w->nparts; p++)
	{
		PartState  *ps = &w->parts[p];
		int64		lo,
					hi;

		if (!ps->owned)
			continue;
		update_rate(ps, now, STATS_INTERVAL_MS);
		stream_watermarks(w, p, &lo, &hi);
		if (hi >= 0 && ps->next > hi)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("stream \"%s\": partition %d: the stored offset " INT64_FORMAT
							" is beyond the end of topic \"%s\" (" INT64_FORMAT ")",
							w->cfg.name, p, ps->next, w->cfg.topic, hi),
					 errhint("The topic was deleted and created again?  See \"Streams\" in ecsync's docs/operations.md.")));
		if (hi == ps->written_hw && ps->rate == ps->written_rate)
			continue;
		if (!began)
			sc_begin();
		began = true;
		if (!sc_write_stats(w, p, lo, hi, ps->rate))
			continue;
		ps->written_hw = hi;
		ps->written_rate = ps->rate;
	}
	if (began)
		sc_commit();
}
