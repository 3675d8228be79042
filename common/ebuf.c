/*
 * ebuf.c
 *	  A growable byte buffer on malloc.
 */
#include "ebuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void
ebuf_init(ebuf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void
ebuf_free(ebuf *b)
{
	free(b->data);
	ebuf_init(b);
}

bool
ebuf_grow(ebuf *b, size_t n)
{
	size_t		cap = b->cap ? b->cap : 256;
	char	   *d;

	while (cap < b->len + n)
		cap *= 2;
	d = realloc(b->data, cap);
	if (d == NULL)
		return false;
	b->data = d;
	b->cap = cap;
	return true;
}

bool
ebuf_printf(ebuf *b, const char *fmt,...)
{
	va_list		ap,
				again;
	int			n;

	if (!ebuf_reserve(b, 64))
		return false;
	va_start(ap, fmt);
	va_copy(again, ap);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t) n >= b->cap - b->len)
	{
		/* it did not fit: make room, then format again */
		if (!ebuf_reserve(b, (size_t) n + 1))
			n = -1;
		else
			n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, again);
	}
	va_end(again);
	if (n < 0)
		return false;
	b->len += (size_t) n;
	return true;
}
