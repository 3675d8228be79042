/*-------------------------------------------------------------------------
 *
 * copy_sink.c
 *	  Feeds rows streamed from MySQL into PostgreSQL's own COPY FROM
 *	  machinery through a data-source callback (as the logical replication
 *	  table sync does), so that bulk insertion, index maintenance,
 *	  constraints, triggers and pg_stat_progress_copy are PostgreSQL's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/copy.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_node.h"
#include "parser/parse_relation.h"
#include "utils/rel.h"

#include "ecsync.h"

/* COPY's callback takes no argument: the one source being read */
static CopySource *active_source = NULL;

/* encode_row appends one MySQL row to the source's buffer as COPY text */
static void
encode_row(CopySource *src, char **values, unsigned long *lengths)
{
	char		err[MS_ERRLEN];

	for (int i = 0; i < src->ncols; i++)
	{
		const char *out;
		size_t		outlen;
		bool		is_null;
		bool		ok;

		if (i > 0 && !ebuf_putc(&src->buf, '\t'))
			goto oom;
		if (values[i] == NULL)
		{
			if (!ct_append_null(&src->buf))
				goto oom;
			continue;
		}
		if (!tp_convert(src->conv[i], src->bits[i], values[i], lengths[i],
						&src->scratch, &out, &outlen, &is_null,
						err, sizeof(err)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("could not convert column \"%s\" of MySQL row %llu: %s",
							src->colnames[i],
							(unsigned long long) src->rows_read + 1, err)));
		if (is_null)
			ok = ct_append_null(&src->buf);
		else
			ok = ct_append(&src->buf, out, outlen, tp_needs_escape(src->conv[i]));
		if (!ok)
			goto oom;
	}
	if (!ebuf_putc(&src->buf, '\n'))
		goto oom;
	src->rows_read++;
	return;

oom:
	ereport(ERROR,
			(errcode(ERRCODE_OUT_OF_MEMORY),
			 errmsg("out of memory encoding MySQL row %llu",
					(unsigned long long) src->rows_read + 1)));
}

/* copy_source_read is COPY's data source: at least one row per call */
static int
copy_source_read(void *outbuf, int minread, int maxread)
{
	CopySource *src = active_source;
	size_t		avail;
	size_t		n;

	if (src->pos == src->buf.len)
	{
		char		err[MS_ERRLEN];

		ebuf_reset(&src->buf);
		src->pos = 0;
		while (!src->eof && src->buf.len < (size_t) maxread)
		{
			char	  **values;
			unsigned long *lengths;
			int			r;

			CHECK_FOR_INTERRUPTS();
			r = ms_fetch(src->conn, &values, &lengths, err, sizeof(err));
			if (r < 0)
				ereport(ERROR,
						(errcode(ERRCODE_CONNECTION_FAILURE),
						 errmsg("lost MySQL while reading: %s", err)));
			if (r == 0)
				src->eof = true;
			else
				encode_row(src, values, lengths);
		}
	}
	avail = src->buf.len - src->pos;
	n = avail < (size_t) maxread ? avail : (size_t) maxread;
	memcpy(outbuf, src->buf.data + src->pos, n);
	src->pos += n;
	return (int) n;
}

/*
 * ecsync_copy_from_mysql copies the rows of the query the source's
 * connection is streaming into rel's columns attnames (a List of String),
 * with COPY FREEZE when freeze.  Returns the rows COPY inserted.
 */
uint64
ecsync_copy_from_mysql(Relation rel, List *attnames, CopySource *src, bool freeze)
{
	ParseState *pstate = make_parsestate(NULL);
	List	   *options = NIL;
	CopyFromState cstate;
	uint64		processed = 0;

	(void) addRangeTableEntryForRelation(pstate, rel, RowExclusiveLock,
										 NULL, false, false);
	if (freeze)
		options = list_make1(makeDefElem("freeze", (Node *) makeBoolean(true), -1));

	ebuf_init(&src->buf);
	ebuf_init(&src->scratch);
	src->pos = 0;
	src->eof = false;
	src->rows_read = 0;
	active_source = src;
	PG_TRY();
	{
		cstate = BeginCopyFrom(pstate, rel, NULL, NULL, false,
							   copy_source_read, attnames, options);
		processed = CopyFrom(cstate);
		EndCopyFrom(cstate);
	}
	PG_FINALLY();
	{
		active_source = NULL;
		ebuf_free(&src->buf);
		ebuf_free(&src->scratch);
	}
	PG_END_TRY();
	return processed;
}
