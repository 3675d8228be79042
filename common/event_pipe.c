/*
 * event_pipe.c
 *	  Decoding threads between a librdkafka queue and one consumer (see
 *	  event_pipe.h).
 *
 *	  One thread at a time fetches (it holds the "fetching" token, which
 *	  also guards the positions), so fetch order and sequence numbers
 *	  agree; decoding happens outside the lock, several chunks at once;
 *	  finished chunks wait in a list sorted by sequence until the consumer
 *	  takes them in order.
 */
#include "event_pipe.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "seterr.h"

#define EP_MAX_THREADS 8
#define EP_WAIT_MS 100

struct ep_pipe
{
	rd_kafka_queue_t *q;
	const ev_spec *spec;
	ep_encoder	encode;
	int			notify_fd;
	int			qfd[2];			/* the queue's IO event */

	pthread_mutex_t mu;
	pthread_cond_t changed;
	int			nthreads;
	pthread_t	threads[EP_MAX_THREADS];
	bool		stop;
	bool		pause_req;
	bool		fetching;		/* a thread is fetching: positions are its */
	int			active;			/* threads fetching or decoding */
	int			inflight;		/* chunks fetched and not yet taken */
	int			max_inflight;
	uint64_t	next_seq;		/* of the next fetch */
	uint64_t	next_out;		/* of the next chunk ep_take returns */
	ep_chunk   *done;			/* decoded, sorted by seq */
	uint64_t	decoded;

	/* next offset expected per partition, or EP_NOT_OWNED / EP_ANY_OFFSET */
	int64_t    *pos;
	int32_t		npos;
};

static void
item_clear(ep_item *it)
{
	if (it->msg)
		rd_kafka_message_destroy(it->msg);
	free(it->reason);
	it->msg = NULL;
	it->reason = NULL;
}

void
ep_chunk_free(ep_chunk *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < c->nitems; i++)
		item_clear(&c->items[i]);
	ebuf_free(&c->data);
	free(c);
}

static int64_t
position(ep_pipe *p, int32_t partition)
{
	return partition >= 0 && partition < p->npos ? p->pos[partition] : EP_NOT_OWNED;
}

/*
 * fetch takes up to EP_CHUNK_MAX messages into a new chunk, keeping those
 * the consumer owns at or past its position.  Called holding the fetching
 * token (not the mutex).  NULL when nothing came (or out of memory).
 */
static ep_chunk *
fetch(ep_pipe *p, rd_kafka_message_t **msgs)
{
	ssize_t		n = rd_kafka_consume_batch_queue(p->q, 0, msgs, EP_CHUNK_MAX);
	ep_chunk   *c;

	if (n <= 0)
	{
		struct pollfd pfd = {.fd = p->qfd[0], .events = POLLIN};
		char		buf[64];

		/* the IO event fires when the empty queue gets an element */
		if (poll(&pfd, 1, EP_WAIT_MS) > 0)
			while (read(p->qfd[0], buf, sizeof(buf)) > 0)
				;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	for (ssize_t i = 0; i < n; i++)
	{
		rd_kafka_message_t *m = msgs[i];
		int64_t		at;

		if (c == NULL)
		{
			rd_kafka_message_destroy(m);	/* lost from the pipe, not the stream */
			continue;
		}
		if (m->err)
		{
			if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
			{
				rd_kafka_message_destroy(m);
				continue;
			}
			c->items[c->nitems].msg = m;
			c->items[c->nitems].is_error = true;
			c->items[c->nitems].reason = strdup(rd_kafka_message_errstr(m));
			c->nitems++;
			c->nerrors++;
			continue;
		}
		at = position(p, m->partition);
		if (at == EP_NOT_OWNED || (at >= 0 && m->offset < at))
		{
			rd_kafka_message_destroy(m);
			continue;
		}
		p->pos[m->partition] = m->offset + 1;
		c->items[c->nitems++].msg = m;
	}
	if (c && c->nitems == 0)
	{
		free(c);
		c = NULL;
	}
	return c;
}

static void
decode(ep_pipe *p, ev_decoder *d, ep_chunk *c)
{
	char		reason[512];

	ebuf_init(&c->data);
	for (int i = 0; i < c->nitems; i++)
	{
		ep_item    *it = &c->items[i];
		rd_kafka_message_t *m = it->msg;
		ev_msg		em;
		rd_kafka_timestamp_type_t tstype;

		if (it->is_error)
			continue;
		em.payload = m->payload;
		em.len = m->len;
		em.key = m->key;
		em.keylen = m->key_len;
		em.partition = m->partition;
		em.offset = m->offset;
		em.timestamp_ms = rd_kafka_message_timestamp(m, &tstype);
		em.topic = m->rkt ? rd_kafka_topic_name(m->rkt) : NULL;
		it->row_start = c->data.len;
		it->kind = ev_decode(d, &em, reason, sizeof(reason));
		if (it->kind == EV_OK && !p->encode(d, &c->data))
		{
			it->kind = EV_TOO_LARGE;
			seterr(reason, sizeof(reason), "out of memory encoding the row");
			c->data.len = it->row_start;
		}
		it->row_end = c->data.len;
		if (it->kind == EV_OK)
			c->nrows++;
		else
		{
			it->reason = strdup(reason);
			c->ndead++;
		}
	}
}

/* ep_publish puts c into the sorted done list; called with the mutex held */
static void
ep_publish(ep_pipe *p, ep_chunk *c)
{
	ep_chunk  **at = &p->done;

	while (*at && (*at)->seq < c->seq)
		at = &(*at)->next;
	c->next = *at;
	*at = c;
	if (p->done->seq == p->next_out && p->notify_fd >= 0)
	{
		ssize_t		r = write(p->notify_fd, "c", 1);

		(void) r;				/* a full pipe is already a notification */
	}
}

static void *
worker_main(void *arg)
{
	ep_pipe    *p = arg;
	ev_decoder *d = ev_decoder_new(p->spec);
	rd_kafka_message_t **msgs = malloc(sizeof(*msgs) * EP_CHUNK_MAX);

	pthread_mutex_lock(&p->mu);
	while (!p->stop)
	{
		ep_chunk   *c;
		uint64_t	seq;

		if (d == NULL || msgs == NULL || p->pause_req || p->fetching ||
			p->inflight >= p->max_inflight)
		{
			pthread_cond_wait(&p->changed, &p->mu);
			continue;
		}
		p->fetching = true;
		p->active++;
		pthread_mutex_unlock(&p->mu);

		c = fetch(p, msgs);

		pthread_mutex_lock(&p->mu);
		p->fetching = false;
		if (c)
		{
			c->seq = seq = p->next_seq++;
			p->inflight++;
		}
		pthread_cond_broadcast(&p->changed);
		pthread_mutex_unlock(&p->mu);

		if (c)
			decode(p, d, c);

		pthread_mutex_lock(&p->mu);
		if (c)
		{
			p->decoded += c->nitems;
			ep_publish(p, c);
		}
		p->active--;
		pthread_cond_broadcast(&p->changed);
		(void) seq;
	}
	pthread_mutex_unlock(&p->mu);
	free(msgs);
	ev_decoder_free(d);
	return NULL;
}

ep_pipe *
ep_start(rd_kafka_queue_t *q, const ev_spec *spec, ep_encoder encode,
		 int nthreads, int notify_fd, char *err, size_t errlen)
{
	ep_pipe    *p = calloc(1, sizeof(*p));
	sigset_t	all,
				old;

	if (p == NULL)
	{
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	if (nthreads < 1)
		nthreads = 1;
	if (nthreads > EP_MAX_THREADS)
		nthreads = EP_MAX_THREADS;
	p->q = q;
	p->spec = spec;
	p->encode = encode;
	p->notify_fd = notify_fd;
	p->max_inflight = 2 * nthreads + 6;
	if (pipe(p->qfd) != 0)
	{
		seterr(err, errlen, "could not create a pipe: %s", strerror(errno));
		free(p);
		return NULL;
	}
	fcntl(p->qfd[0], F_SETFL, O_NONBLOCK);
	fcntl(p->qfd[1], F_SETFL, O_NONBLOCK);
	rd_kafka_queue_io_event_enable(q, p->qfd[1], "q", 1);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->changed, NULL);

	/* the threads must never run a signal handler of the host process */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (int i = 0; i < nthreads; i++)
	{
		int			rc = pthread_create(&p->threads[i], NULL, worker_main, p);

		if (rc != 0)
		{
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			seterr(err, errlen, "could not start a decoding thread: %s", strerror(rc));
			ep_stop(p);
			return NULL;
		}
		p->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return p;
}

ep_chunk *
ep_take(ep_pipe *p)
{
	ep_chunk   *c = NULL;

	pthread_mutex_lock(&p->mu);
	if (!p->pause_req && p->done && p->done->seq == p->next_out)
	{
		c = p->done;
		p->done = c->next;
		c->next = NULL;
		p->next_out++;
		p->inflight--;
		pthread_cond_broadcast(&p->changed);
	}
	pthread_mutex_unlock(&p->mu);
	return c;
}

void
ep_pause(ep_pipe *p)
{
	rd_kafka_message_t *msgs[256];
	ssize_t		n;

	pthread_mutex_lock(&p->mu);
	p->pause_req = true;
	while (p->active > 0)
		pthread_cond_wait(&p->changed, &p->mu);
	while (p->done)
	{
		ep_chunk   *c = p->done;

		p->done = c->next;
		ep_chunk_free(c);
	}
	p->inflight = 0;
	p->next_out = p->next_seq;
	pthread_mutex_unlock(&p->mu);

	/* what was fetched for the old owner is fetched again from the stored offsets */
	while ((n = rd_kafka_consume_batch_queue(p->q, 0, msgs, 256)) > 0)
		for (ssize_t i = 0; i < n; i++)
			rd_kafka_message_destroy(msgs[i]);
}

void
ep_disown_all(ep_pipe *p)
{
	for (int32_t i = 0; i < p->npos; i++)
		p->pos[i] = EP_NOT_OWNED;
}

bool
ep_set_position(ep_pipe *p, int32_t partition, int64_t next_offset)
{
	if (partition < 0)
		return false;
	if (partition >= p->npos)
	{
		int32_t		n = partition + 16;
		int64_t    *pos = realloc(p->pos, sizeof(*pos) * n);

		if (pos == NULL)
			return false;
		for (int32_t i = p->npos; i < n; i++)
			pos[i] = EP_NOT_OWNED;
		p->pos = pos;
		p->npos = n;
	}
	p->pos[partition] = next_offset;
	return true;
}

void
ep_resume(ep_pipe *p)
{
	pthread_mutex_lock(&p->mu);
	p->pause_req = false;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->mu);
}

uint64_t
ep_decoded(ep_pipe *p)
{
	uint64_t	n;

	pthread_mutex_lock(&p->mu);
	n = p->decoded;
	pthread_mutex_unlock(&p->mu);
	return n;
}

void
ep_stop(ep_pipe *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	rd_kafka_queue_io_event_enable(p->q, -1, NULL, 0);
	while (p->done)
	{
		ep_chunk   *c = p->done;

		p->done = c->next;
		ep_chunk_free(c);
	}
	close(p->qfd[0]);
	close(p->qfd[1]);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->changed);
	free(p->pos);
	free(p);
}
