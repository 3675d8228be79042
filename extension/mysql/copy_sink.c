/*-------------------------------------------------------------------------
 *
 * copy_sink.c
 *	  Feeds rows streamed from MySQL into PostgreSQL's own COPY FROM
 *	  machinery through a data-source callback (as the logical replication
 *	  table sync does), so that bulk insertion, index maintenance,
 *	  constraints, triggers and pg_stat_progress_copy are PostgreSQL's.
 *
 *	  A reader thread (common/copy_pipe.c) fetches and converts the rows,
 *	  into binary COPY where the target's columns have exactly the policy's
 *	  types (the backend then skips text parsing), else into COPY text,
 *	  while this process parses and inserts them: the two overlap on two
 *	  cores.  The thread never calls PostgreSQL; this side waits for it in
 *	  short slices so that cancels are served promptly.
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

#include "copy_binary.h"
#include "copy_pipe.h"
#include "ecsync.h"

/* COPY's callback takes no argument: the one pipe being read */
static copy_pipe *active_pipe = NULL;

/* the error context outside COPY's own (whose "line N" means nothing here) */
static ErrorContextCallback *outer_context = NULL;

/* copy_source_read is COPY's data source */
static int
copy_source_read(void *outbuf, int minread, int maxread)
{
	char		err[MS_ERRLEN];

	for (;;)
	{
		int			r;

		CHECK_FOR_INTERRUPTS();
		r = copy_pipe_read(active_pipe, outbuf, (size_t) maxread, 100,
						   err, sizeof(err));
		if (r == PIPE_TIMEOUT)
			continue;
		if (r == PIPE_ERROR)
		{
			/*
			 * The reader converts ahead of COPY: COPY's "line N" is not the
			 * row the message names.  PG_TRY in ecsync_copy_from_mysql
			 * restores the stack.
			 */
			CHECK_FOR_INTERRUPTS();	/* a cancel shuts the connection down */
			error_context_stack = outer_context;
			ereport(ERROR,
					(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
					 errmsg("%s", err)));
		}
		return r;
	}
}

/*
 * ecsync_copy_from_mysql copies the rows of the query the source's
 * connection is streaming into rel's columns attnames (a List of String),
 * with COPY FREEZE when freeze.  Returns the rows COPY inserted; sets
 * src->rows_read.
 */
uint64
ecsync_copy_from_mysql(Relation rel, List *attnames, CopySource *src, bool freeze)
{
	ParseState *pstate = make_parsestate(NULL);
	List	   *options = NIL;
	CopyFromState cstate;
	uint64		processed = 0;
	copy_pipe_spec spec;
	char		err[MS_ERRLEN];

	(void) addRangeTableEntryForRelation(pstate, rel, RowExclusiveLock,
										 NULL, false, false);
	if (freeze)
		options = lappend(options, makeDefElem("freeze", (Node *) makeBoolean(true), -1));
	if (src->binary)
		options = lappend(options, makeDefElem("format", (Node *) makeString("binary"), -1));

	spec.conn = src->conn;
	spec.ncols = src->ncols;
	spec.conv = src->conv;
	spec.wire = src->wire;
	spec.bits = src->bits;
	spec.format = src->binary ? CP_BINARY : CP_TEXT;
	spec.colnames = src->colnames;
	active_pipe = copy_pipe_start(&spec, err, sizeof(err));
	if (active_pipe == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("%s", err)));
	outer_context = error_context_stack;
	PG_TRY();
	{
		cstate = BeginCopyFrom(pstate, rel, NULL, NULL, false,
							   copy_source_read, attnames, options);
		processed = CopyFrom(cstate);
		EndCopyFrom(cstate);
	}
	PG_FINALLY();
	{
		src->rows_read = copy_pipe_rows(active_pipe);
		copy_pipe_stop(active_pipe);
		active_pipe = NULL;
	}
	PG_END_TRY();
	return processed;
}

void
ecsync_stream_rows(CopySource *src, const char *sql)
{
	char		err[MS_ERRLEN];
	int			rc = 0;

	if (src->binary && ecsync_batch_binary_protocol)
	{
		bool	   *native = palloc(sizeof(bool) * (src->ncols > 0 ? src->ncols : 1));

		for (int i = 0; i < src->ncols; i++)
			native[i] = cb_typed_native(src->conv[i], src->wire[i]);
		rc = ms_stream_typed(src->conn, sql, src->ncols, native, err, sizeof(err));
		pfree(native);
	}
	/* 0: a column the binary protocol would not hand over as text does */
	if (rc == 0 && !ms_stream(src->conn, sql, err, sizeof(err)))
		rc = -1;
	if (rc < 0)
	{
		CHECK_FOR_INTERRUPTS();
		ereport(ERROR, (errcode(ERRCODE_CONNECTION_FAILURE), errmsg("%s", err)));
	}
}
