/*
 * copy_text.c
 *	  COPY text format escaping.
 */
#include "copy_text.h"

bool
ct_append(ebuf *dst, const char *v, size_t len, bool escape)
{
	size_t		start = 0;

	if (!escape)
		return ebuf_append(dst, v, len);
	/* worst case every byte doubles */
	if (!ebuf_reserve(dst, 2 * len))
		return false;
	for (size_t i = 0; i < len; i++)
	{
		char		c = v[i];
		char		e;

		switch (c)
		{
			case '\\':
				e = '\\';
				break;
			case '\t':
				e = 't';
				break;
			case '\n':
				e = 'n';
				break;
			case '\r':
				e = 'r';
				break;
			default:
				continue;
		}
		memcpy(dst->data + dst->len, v + start, i - start);
		dst->len += i - start;
		dst->data[dst->len++] = '\\';
		dst->data[dst->len++] = e;
		start = i + 1;
	}
	memcpy(dst->data + dst->len, v + start, len - start);
	dst->len += len - start;
	return true;
}
