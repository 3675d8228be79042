/*
 * ebuf.c
 *	  A growable byte buffer on malloc.
 */
#include "ebuf.h"

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
