/*
 * copy_pipe.c
 *	  MySQL rows to COPY text on a reader thread, through a bounded ring.
 */
#include "copy_pipe.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "copy_binary.h"
#include "copy_text.h"
#include "csv_write.h"
#include "seterr.h"

typedef struct chunk
{
	ebuf		data;
} chunk;

struct copy_pipe
{
	copy_pipe_spec spec;
	pthread_t	thread;
	pthread_mutex_t lock;
	pthread_cond_t changed;

	/* the ring: filled[head .. head+count) are ready for the reader */
	chunk		chunks[PIPE_CHUNKS];
	int			head;
	int			count;

	/* state shared under lock */
	bool		done;			/* the thread has finished (EOF or error) */
	bool		failed;
	bool		stop;			/* the main thread wants the thread gone */
	char		error[MS_ERRLEN];
	uint64_t	rows;

	/* the main thread's position in chunks[head] */
	size_t		pos;
};

/*
 * row_failed records why row rowno could not be encoded (a column's value,
 * or, with column NULL, memory) and returns false
 */
static bool
row_failed(copy_pipe *p, uint64_t rowno, const char *column, const char *why)
{
	if (column != NULL)
		seterr(p->error, sizeof(p->error),
			   "could not convert column \"%s\" of MySQL row %llu: %s",
			   column, (unsigned long long) rowno, why);
	else
		seterr(p->error, sizeof(p->error), "%s encoding MySQL row %llu",
			   why, (unsigned long long) rowno);
	return false;
}

/* encode_row_binary appends one row as binary COPY; false with a message */
static bool
encode_row_binary(copy_pipe *p, ebuf *out, char **values,
				  unsigned long *lengths, uint64_t rowno)
{
	char		err[MS_ERRLEN];

	if (!cb_row_start(out, p->spec.ncols))
		goto oom;
	for (int i = 0; i < p->spec.ncols; i++)
	{
		if (values[i] == NULL)
		{
			if (!cb_null(out))
				goto oom;
			continue;
		}
		if (!cb_value(out, p->spec.conv[i], p->spec.wire[i], p->spec.bits[i],
					  values[i], lengths[i], err, sizeof(err)))
			return row_failed(p, rowno, p->spec.colnames[i], err);
	}
	return true;
oom:
	return row_failed(p, rowno, NULL, "out of memory");
}

/* encode_row_typed appends one row of MySQL's binary protocol as binary COPY */
static bool
encode_row_typed(copy_pipe *p, ebuf *out, const ms_value *values, uint64_t rowno)
{
	char		err[MS_ERRLEN];

	if (!cb_row_start(out, p->spec.ncols))
		return row_failed(p, rowno, NULL, "out of memory");
	for (int i = 0; i < p->spec.ncols; i++)
		if (!cb_typed_value(out, p->spec.conv[i], p->spec.wire[i], p->spec.bits[i],
							&values[i], err, sizeof(err)))
			return row_failed(p, rowno, p->spec.colnames[i], err);
	return true;
}

/* encode_row appends one row as COPY text or CSV; false with a message */
static bool
encode_row(copy_pipe *p, ebuf *out, ebuf *scratch, char **values,
		   unsigned long *lengths, uint64_t rowno)
{
	char		err[MS_ERRLEN];
	bool		csv = p->spec.format == CP_CSV;

	if (p->spec.format == CP_BINARY)
		return encode_row_binary(p, out, values, lengths, rowno);
	for (int i = 0; i < p->spec.ncols; i++)
	{
		const char *v;
		size_t		vlen;
		bool		is_null;
		bool		ok;

		if (i > 0 && !ebuf_putc(out, csv ? ',' : '\t'))
			goto oom;
		if (values[i] == NULL)
		{
			/* CSV: NULL is an empty field */
			if (!csv && !ct_append_null(out))
				goto oom;
			continue;
		}
		if (!tp_convert(p->spec.conv[i], p->spec.bits[i], values[i], lengths[i],
						scratch, &v, &vlen, &is_null, err, sizeof(err)))
			return row_failed(p, rowno, p->spec.colnames[i], err);
		if (csv)
			ok = is_null || (tp_needs_escape(p->spec.conv[i]) ?
							 csv_append(out, v, vlen) : ebuf_append(out, v, vlen));
		else
			ok = is_null ? ct_append_null(out) :
				ct_append(out, v, vlen, tp_needs_escape(p->spec.conv[i]));
		if (!ok)
			goto oom;
	}
	if (ebuf_putc(out, '\n'))
		return true;
oom:
	return row_failed(p, rowno, NULL, "out of memory");
}

/* cp_publish hands the filled chunk to the reader; waits while the ring is full */
static bool
cp_publish(copy_pipe *p, int *slot)
{
	pthread_mutex_lock(&p->lock);
	p->count++;
	pthread_cond_broadcast(&p->changed);
	while (p->count == PIPE_CHUNKS && !p->stop)
		pthread_cond_wait(&p->changed, &p->lock);
	*slot = (p->head + p->count) % PIPE_CHUNKS;
	pthread_mutex_unlock(&p->lock);
	return !p->stop;
}

static void *
reader_main(void *arg)
{
	copy_pipe  *p = arg;
	ebuf		scratch;
	int			slot;
	bool		failed = false;
	bool		typed;
	uint64_t	rows = 0;

	ebuf_init(&scratch);
	pthread_mutex_lock(&p->lock);
	slot = (p->head + p->count) % PIPE_CHUNKS;
	pthread_mutex_unlock(&p->lock);
	if (p->spec.format == CP_BINARY && !cb_header(&p->chunks[slot].data))
	{
		seterr(p->error, sizeof(p->error), "out of memory");
		failed = true;
	}
	for (int i = 0; p->spec.format == CP_CSV && i < p->spec.ncols; i++)
		if ((i > 0 && !ebuf_putc(&p->chunks[slot].data, ',')) ||
			!csv_append(&p->chunks[slot].data, p->spec.colnames[i], strlen(p->spec.colnames[i])) ||
			(i == p->spec.ncols - 1 && !ebuf_putc(&p->chunks[slot].data, '\n')))
		{
			seterr(p->error, sizeof(p->error), "out of memory");
			failed = true;
			break;
		}

	/* a prepared statement's rows come typed (binary COPY only) */
	typed = ms_typed(p->spec.conn);
	if (typed && p->spec.format != CP_BINARY)
	{
		seterr(p->error, sizeof(p->error), "internal error: typed MySQL rows for a text COPY");
		failed = true;
	}
	for (; !failed;)
	{
		ebuf	   *out = &p->chunks[slot].data;
		char	  **values;
		unsigned long *lengths;
		const ms_value *tvalues;
		int			r;

		if (p->stop)
			break;
		r = typed ? ms_fetch_typed(p->spec.conn, &tvalues, p->error, sizeof(p->error)) :
			ms_fetch(p->spec.conn, &values, &lengths, p->error, sizeof(p->error));
		if (r < 0)
		{
			failed = true;
			break;
		}
		if (r == 0)
			break;
		if (typed ? !encode_row_typed(p, out, tvalues, rows + 1) :
			!encode_row(p, out, &scratch, values, lengths, rows + 1))
		{
			failed = true;
			break;
		}
		rows++;
		if (out->len >= PIPE_CHUNK_SIZE - 1024)
		{
			__atomic_store_n(&p->rows, rows, __ATOMIC_RELAXED);
			if (!cp_publish(p, &slot))
				break;
		}
	}
	ebuf_free(&scratch);

	if (!failed && !p->stop && p->spec.format == CP_BINARY && !cb_trailer(&p->chunks[slot].data))
	{
		seterr(p->error, sizeof(p->error), "out of memory");
		failed = true;
	}
	pthread_mutex_lock(&p->lock);
	/* the last, partly filled chunk */
	if (!failed && !p->stop && p->chunks[slot].data.len > 0)
		p->count++;
	p->rows = rows;
	p->failed = failed;
	p->done = true;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

copy_pipe *
copy_pipe_start(const copy_pipe_spec *spec, char *err, size_t errlen)
{
	copy_pipe  *p = calloc(1, sizeof(copy_pipe));
	sigset_t	all,
				old;
	int			rc;

	if (p == NULL)
	{
		seterr(err, errlen, "out of memory starting the MySQL reader");
		return NULL;
	}
	p->spec = *spec;
	for (int i = 0; i < PIPE_CHUNKS; i++)
	{
		ebuf_init(&p->chunks[i].data);
		if (!ebuf_reserve(&p->chunks[i].data, PIPE_CHUNK_SIZE))
		{
			for (int j = 0; j <= i; j++)
				ebuf_free(&p->chunks[j].data);
			free(p);
			seterr(err, errlen, "out of memory starting the MySQL reader");
			return NULL;
		}
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->changed, NULL);

	/* the thread must never run a signal handler of the backend */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&p->thread, NULL, reader_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
	{
		seterr(err, errlen, "could not start the MySQL reader thread: %s", strerror(rc));
		for (int i = 0; i < PIPE_CHUNKS; i++)
			ebuf_free(&p->chunks[i].data);
		free(p);
		return NULL;
	}
	return p;
}

int
copy_pipe_read(copy_pipe *p, char *buf, size_t maxlen, int timeout_ms,
			   char *err, size_t errlen)
{
	chunk	   *c;
	size_t		n;

	pthread_mutex_lock(&p->lock);
	while (p->count == 0 && !p->done)
	{
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long) timeout_ms * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		if (pthread_cond_timedwait(&p->changed, &p->lock, &until) == ETIMEDOUT &&
			p->count == 0 && !p->done)
		{
			pthread_mutex_unlock(&p->lock);
			return PIPE_TIMEOUT;
		}
	}
	if (p->count == 0)
	{
		/* done, and every chunk delivered */
		bool		failed = p->failed;

		if (failed)
			seterr(err, errlen, "%s", p->error);
		pthread_mutex_unlock(&p->lock);
		return failed ? PIPE_ERROR : PIPE_EOF;
	}
	c = &p->chunks[p->head];
	pthread_mutex_unlock(&p->lock);

	/* chunks[head] belongs to this thread until it is released below */
	n = c->data.len - p->pos;
	if (n > maxlen)
		n = maxlen;
	memcpy(buf, c->data.data + p->pos, n);
	p->pos += n;
	if (p->pos == c->data.len)
	{
		ebuf_reset(&c->data);
		p->pos = 0;
		pthread_mutex_lock(&p->lock);
		p->head = (p->head + 1) % PIPE_CHUNKS;
		p->count--;
		pthread_cond_broadcast(&p->changed);
		pthread_mutex_unlock(&p->lock);
	}
	return (int) n;
}

uint64_t
copy_pipe_rows(copy_pipe *p)
{
	return __atomic_load_n(&p->rows, __ATOMIC_RELAXED);
}

void
copy_pipe_stop(copy_pipe *p)
{
	bool		running;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	running = !p->done;
	p->stop = true;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
	/* a thread blocked in a MySQL read is woken by failing the read */
	if (running)
		ms_cancel(p->spec.conn);
	pthread_join(p->thread, NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->changed);
	for (int i = 0; i < PIPE_CHUNKS; i++)
		ebuf_free(&p->chunks[i].data);
	free(p);
}
