/*
 * ebuf.h
 *	  A growable byte buffer on malloc, for code that includes no PostgreSQL
 *	  header (common/ is shared by the extension and ecsync-ingest).
 */
#ifndef ECSYNC_EBUF_H
#define ECSYNC_EBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct ebuf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} ebuf;

extern void ebuf_init(ebuf *b);
/* ebuf_printf appends printf-style text; false when out of memory or on a bad format */
extern bool ebuf_printf(ebuf *b, const char *fmt,...) __attribute__((format(printf, 2, 3)));
extern void ebuf_free(ebuf *b);

/* ebuf_reserve makes room for n more bytes; false when out of memory */
extern bool ebuf_grow(ebuf *b, size_t n);

static inline bool
ebuf_reserve(ebuf *b, size_t n)
{
	return b->len + n <= b->cap || ebuf_grow(b, n);
}

static inline bool
ebuf_append(ebuf *b, const void *p, size_t n)
{
	if (n == 0)
		return true;
	if (!ebuf_reserve(b, n))
		return false;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return true;
}

/* ebuf_puts appends a NUL-terminated string (without the NUL) */
static inline bool
ebuf_puts(ebuf *b, const char *s)
{
	return ebuf_append(b, s, strlen(s));
}

static inline bool
ebuf_putc(ebuf *b, char c)
{
	if (!ebuf_reserve(b, 1))
		return false;
	b->data[b->len++] = c;
	return true;
}

/*
 * ebuf_put_u64 appends v in decimal, ebuf_put_i64 with its sign: by hand,
 * as the decoders' hot paths need (snprintf was a tenth of a change's cost)
 */
static inline bool
ebuf_put_u64(ebuf *b, uint64_t v)
{
	char		tmp[24];
	int			n = 0;

	do
	{
		tmp[sizeof(tmp) - 1 - n++] = (char) ('0' + v % 10);
		v /= 10;
	} while (v);
	return ebuf_append(b, tmp + sizeof(tmp) - n, (size_t) n);
}

static inline bool
ebuf_put_i64(ebuf *b, int64_t v)
{
	if (v < 0)
		return ebuf_putc(b, '-') && ebuf_put_u64(b, (uint64_t) 0 - (uint64_t) v);
	return ebuf_put_u64(b, (uint64_t) v);
}

static inline void
ebuf_reset(ebuf *b)
{
	b->len = 0;
}

#endif							/* ECSYNC_EBUF_H */
