/*
 * event_pipe.h
 *	  Decoding threads between a librdkafka queue and one consumer (the
 *	  stream worker's main thread, or ecsync-ingest's writer).
 *
 *	  The threads take messages from the queue in fetch order, drop those
 *	  of partitions the consumer does not own and those below the position
 *	  it expects (stale copies from before a rebalance), and decode the
 *	  rest into chunks: up to EP_CHUNK_MAX messages each, with their rows
 *	  encoded back to back and, per message, its row or the reason it is
 *	  a dead letter.  Chunks come out in fetch order whatever thread decoded
 *	  them.  Messages stay alive in their chunk until it is freed, so that
 *	  offsets are committed and raw bytes dead-lettered only after the rows
 *	  are durable.
 *
 *	  The threads never call PostgreSQL; they wait on the queue's IO event
 *	  file descriptor (no busy polling) and write a byte to notify_fd when
 *	  a chunk is ready.  Memory is bounded by the chunks in flight.
 */
#ifndef ECSYNC_EVENT_PIPE_H
#define ECSYNC_EVENT_PIPE_H

#include <stdbool.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "ebuf.h"
#include "event_decode.h"

#define EP_CHUNK_MAX 1024

/* positions: not owned (messages dropped), or owned from any offset */
#define EP_NOT_OWNED INT64_C(-1)
#define EP_ANY_OFFSET INT64_C(-2)

typedef struct ep_item
{
	rd_kafka_message_t *msg;
	size_t		row_start;		/* the row's bytes in the chunk's data */
	size_t		row_end;
	ev_kind		kind;			/* EV_OK: a row; else a dead letter */
	char	   *reason;			/* dead letters and consumer errors */
	bool		is_error;		/* a consumer error, not a message */
} ep_item;

typedef struct ep_chunk
{
	struct ep_chunk *next;
	uint64_t	seq;
	int			nitems;
	ep_item		items[EP_CHUNK_MAX];
	ebuf		data;
	int			nrows;
	int			ndead;
	int			nerrors;
} ep_chunk;

/* how a decoded row is written into the chunk */
typedef bool (*ep_encoder) (ev_decoder *d, ebuf *out);

typedef struct ep_pipe ep_pipe;

/*
 * ep_start starts nthreads decoding threads on q (whose IO event it takes
 * over).  No partition is owned until ep_set_position.  NULL with a
 * message on failure.
 */
extern ep_pipe *ep_start(rd_kafka_queue_t *q, const ev_spec *spec,
						 ep_encoder encode, int nthreads, int notify_fd,
						 char *err, size_t errlen);

/* ep_take returns the next chunk in fetch order, or NULL if none is ready */
extern ep_chunk *ep_take(ep_pipe *p);

/* ep_chunk_free frees a chunk and destroys its messages */
extern void ep_chunk_free(ep_chunk *c);

/*
 * ep_pause waits until no thread holds a message, then drops every chunk
 * not yet taken and every message still in the queue: the consumer is
 * about to change what it owns.  ep_set_position and ep_disown_all may be
 * called only while paused; ep_resume restarts the threads.
 */
extern void ep_pause(ep_pipe *p);
extern void ep_disown_all(ep_pipe *p);
extern bool ep_set_position(ep_pipe *p, int32_t partition, int64_t next_offset);
extern void ep_resume(ep_pipe *p);

/* ep_stop stops and joins the threads and frees everything */
extern void ep_stop(ep_pipe *p);

/* messages decoded so far, for progress reports */
extern uint64_t ep_decoded(ep_pipe *p);

#endif							/* ECSYNC_EVENT_PIPE_H */
