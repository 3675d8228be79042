/*
 * binlog_pipe.h
 *	  A reader thread between a binary log dump (binlog_source.h) and its
 *	  consumer, the change-capture worker's main thread.
 *
 *	  The thread blocks every signal: a blocking read of the replication
 *	  connection is never interrupted by the signals a PostgreSQL backend
 *	  receives (a configuration reload, a procsignal barrier), which would
 *	  make Connector/C fail the read.  It also lets reading and decoding
 *	  the network overlap with applying.  Events are copied into a queue
 *	  bounded by bytes (an event larger than the bound passes alone); the
 *	  thread calls no PostgreSQL function.
 */
#ifndef ECSYNC_BINLOG_PIPE_H
#define ECSYNC_BINLOG_PIPE_H

#include <stdbool.h>
#include <stddef.h>

#include "binlog_source.h"

typedef struct bp_pipe bp_pipe;

/* bp_start starts the thread on stream s, which it owns from then on */
extern bp_pipe *bp_start(bs_stream *s, size_t max_bytes, char *err, size_t errlen);

/*
 * bp_next returns 1 with the next event and the file it is in (both valid
 * until the next call), 0 when none came within timeout_ms, or -1 with the
 * read's error (*purged: the server no longer has the file asked for).
 */
extern int	bp_next(bp_pipe *p, bs_event *ev, const char **file, int timeout_ms,
					bool *purged, char *err, size_t errlen);

/* bp_pending: is another event already queued? */
extern bool bp_pending(bp_pipe *p);

/* bp_stop ends the read (shutting the socket down), joins the thread, frees all */
extern void bp_stop(bp_pipe *p);

#endif							/* ECSYNC_BINLOG_PIPE_H */
