/*
 * copy_pipe.h
 *	  A reader thread that streams a MySQL result, converts every value by
 *	  the type policy and writes COPY text, binary COPY or CSV into a
 *	  bounded ring of chunks, so that reading MySQL overlaps with
 *	  PostgreSQL inserting (or ecsync-ingest writing its archive).
 *
 *	  The thread calls no PostgreSQL function (it is plain C with malloc)
 *	  and blocks every signal, so signal handlers run on the main thread.
 *	  Memory is bounded by the ring: PIPE_CHUNKS chunks of PIPE_CHUNK_SIZE
 *	  bytes (a row longer than a chunk gets a chunk of its own size).
 */
#ifndef ECSYNC_COPY_PIPE_H
#define ECSYNC_COPY_PIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mysql_source.h"
#include "type_policy.h"

#define PIPE_CHUNK_SIZE (256 * 1024)
#define PIPE_CHUNKS 8

typedef struct copy_pipe copy_pipe;

typedef enum cp_format
{
	CP_TEXT,					/* COPY text */
	CP_BINARY,					/* binary COPY, with header and trailer */
	CP_CSV						/* RFC 4180 CSV with a header record */
} cp_format;

/* what to read: conn must already be streaming (ms_stream) the SELECT */
typedef struct copy_pipe_spec
{
	ms_conn    *conn;
	int			ncols;
	const tp_conv *conv;
	const tp_wire *wire;		/* used when binary */
	const int  *bits;
	const char *const *colnames;
	cp_format	format;
} copy_pipe_spec;

/* copy_pipe_start starts the reader thread; NULL with a message on failure */
extern copy_pipe *copy_pipe_start(const copy_pipe_spec *spec,
								  char *err, size_t errlen);

#define PIPE_EOF 0
#define PIPE_ERROR (-1)
#define PIPE_TIMEOUT (-2)

/*
 * copy_pipe_read copies up to maxlen bytes of COPY data into buf.  Returns
 * the byte count, PIPE_EOF when all rows were delivered, PIPE_ERROR with a
 * message (MySQL failed, or a value cannot be converted) or PIPE_TIMEOUT
 * when nothing arrived within timeout_ms (the caller checks for
 * interrupts and calls again).
 */
extern int	copy_pipe_read(copy_pipe *p, char *buf, size_t maxlen,
						   int timeout_ms, char *err, size_t errlen);

/* copy_pipe_rows: rows the thread has read so far */
extern uint64_t copy_pipe_rows(copy_pipe *p);

/*
 * copy_pipe_stop stops the thread (aborting the MySQL read if it is still
 * going: the connection is unusable afterwards), joins it and frees p.
 */
extern void copy_pipe_stop(copy_pipe *p);

#endif							/* ECSYNC_COPY_PIPE_H */
