/*
 * binlog_pipe.c
 *	  The binary log's reader thread (binlog_pipe.h).
 */
#include "binlog_pipe.h"
#include "seterr.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

typedef struct qevent
{
	struct qevent *next;
	bs_event	ev;				/* body points into data */
	char		file[BS_FILE_MAX];
	size_t		len;
	uint8_t		data[];
} qevent;

struct bp_pipe
{
	bs_stream  *stream;
	pthread_t	thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;		/* an event queued, room made, or the end */
	qevent	   *head;
	qevent	   *tail;
	size_t		bytes;
	size_t		max_bytes;
	bool		stopping;
	bool		failed;
	bool		consumer_waits; /* the main thread waits for an event */
	bool		producer_waits; /* the reader waits for room */
	bool		purged;
	char		err[512];
	qevent	   *current;		/* returned by the last bp_next: freed by the next */
};

static void *
reader(void *arg)
{
	bp_pipe    *p = arg;

	for (;;)
	{
		bs_event	ev;
		bool		purged = false;
		char		err[512];
		qevent	   *q;
		int			rc = bs_next(p->stream, &ev, &purged, err, sizeof(err));

		pthread_mutex_lock(&p->mu);
		if (p->stopping)
		{
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		pthread_mutex_unlock(&p->mu);
		if (rc < 0 || (q = malloc(sizeof(qevent) + ev.len)) == NULL)
		{
			pthread_mutex_lock(&p->mu);
			p->failed = true;
			p->purged = purged;
			if (rc < 0)
				snprintf(p->err, sizeof(p->err), "%s", err);
			else
				snprintf(p->err, sizeof(p->err), "out of memory queueing a binary log event of %zu bytes", ev.len);
			pthread_cond_broadcast(&p->cond);
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		q->next = NULL;
		q->ev = ev;
		q->len = ev.len;
		memcpy(q->data, ev.body, ev.len);
		q->ev.body = q->data;
		snprintf(q->file, sizeof(q->file), "%s", bs_file(p->stream));

		pthread_mutex_lock(&p->mu);
		while (!p->stopping && p->head != NULL && p->bytes + q->len > p->max_bytes)
		{
			/* (woken when the queue is half empty, or on stop) */
			p->producer_waits = true;
			pthread_cond_wait(&p->cond, &p->mu);
			p->producer_waits = false;
		}
		if (p->stopping)
		{
			pthread_mutex_unlock(&p->mu);
			free(q);
			return NULL;
		}
		if (p->tail)
			p->tail->next = q;
		else
			p->head = q;
		p->tail = q;
		p->bytes += q->len;
		/* a wake-up costs a system call: only for a thread that waits */
		if (p->consumer_waits)
			pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->mu);
	}
}

bp_pipe *
bp_start(bs_stream *s, size_t max_bytes, char *err, size_t errlen)
{
	bp_pipe    *p = calloc(1, sizeof(bp_pipe));
	sigset_t	all,
				old;
	int			rc;

	if (p == NULL)
	{
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	p->stream = s;
	p->max_bytes = max_bytes;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cond, NULL);
	/* the thread inherits this mask: every signal stays with the main thread */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&p->thread, NULL, reader, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
	{
		seterr(err, errlen, "could not start the binary log reader thread: %s", strerror(rc));
		pthread_mutex_destroy(&p->mu);
		pthread_cond_destroy(&p->cond);
		free(p);
		return NULL;
	}
	return p;
}

int
bp_next(bp_pipe *p, bs_event *ev, const char **file, int timeout_ms,
		bool *purged, char *err, size_t errlen)
{
	struct timespec until;
	qevent	   *q;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L)
	{
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	*purged = false;
	pthread_mutex_lock(&p->mu);
	if (p->current)
	{
		p->bytes -= p->current->len;
		free(p->current);
		p->current = NULL;
		/* the reader waits for room: wake it once half the queue is free, not per event */
		if (p->producer_waits && p->bytes <= p->max_bytes / 2)
			pthread_cond_broadcast(&p->cond);
	}
	while (p->head == NULL && !p->failed)
	{
		int			rc;

		p->consumer_waits = true;
		rc = pthread_cond_timedwait(&p->cond, &p->mu, &until);
		p->consumer_waits = false;
		if (rc == ETIMEDOUT)
			break;
	}
	if (p->head == NULL)
	{
		int			rc = 0;

		if (p->failed)
		{
			*purged = p->purged;
			seterr(err, errlen, "%s", p->err);
			rc = -1;
		}
		pthread_mutex_unlock(&p->mu);
		return rc;
	}
	q = p->head;
	p->head = q->next;
	if (p->head == NULL)
		p->tail = NULL;
	p->current = q;				/* its bytes count until it is freed */
	pthread_mutex_unlock(&p->mu);
	*ev = q->ev;
	*file = q->file;
	return 1;
}

bool
bp_pending(bp_pipe *p)
{
	bool		pending;

	pthread_mutex_lock(&p->mu);
	pending = p->head != NULL;
	pthread_mutex_unlock(&p->mu);
	return pending;
}

void
bp_stop(bp_pipe *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mu);
	/* a read that blocks ends at once */
	shutdown(bs_socket(p->stream), SHUT_RDWR);
	pthread_join(p->thread, NULL);
	bs_close(p->stream);
	while (p->head)
	{
		qevent	   *q = p->head;

		p->head = q->next;
		free(q);
	}
	free(p->current);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cond);
	free(p);
}
