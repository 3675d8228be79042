/*
 * csv_write.c
 *	  RFC 4180 CSV fields, and counting the records of CSV text.
 */
#include "csv_write.h"

#include <string.h>

bool
csv_needs_quotes(const char *v, size_t len)
{
	if (len == 0)
		return true;			/* "" is the empty string; nothing is NULL */
	if (len == 2 && v[0] == '\\' && v[1] == '.')
		return true;			/* COPY's end-of-data marker */
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) v[i];

		if (c == ',' || c == '"' || c == '\n' || c == '\r')
			return true;
	}
	return false;
}

bool
csv_append(ebuf *dst, const char *v, size_t len)
{
	size_t		start = 0;

	if (!csv_needs_quotes(v, len))
		return ebuf_append(dst, v, len);
	/* worst case: every byte a quote, plus the two around */
	if (!ebuf_reserve(dst, 2 * len + 2))
		return false;
	dst->data[dst->len++] = '"';
	for (size_t i = 0; i < len; i++)
	{
		if (v[i] != '"')
			continue;
		memcpy(dst->data + dst->len, v + start, i + 1 - start);
		dst->len += i + 1 - start;
		dst->data[dst->len++] = '"';
		start = i + 1;
	}
	memcpy(dst->data + dst->len, v + start, len - start);
	dst->len += len - start;
	dst->data[dst->len++] = '"';
	return true;
}

bool
csv_append_hex(ebuf *dst, const void *v, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = v;

	if (!ebuf_reserve(dst, 2 + 2 * len))
		return false;
	dst->data[dst->len++] = '\\';
	dst->data[dst->len++] = 'x';
	for (size_t i = 0; i < len; i++)
	{
		dst->data[dst->len++] = hex[p[i] >> 4];
		dst->data[dst->len++] = hex[p[i] & 15];
	}
	return true;
}

void
csv_count(csv_counter *c, const char *buf, size_t len)
{
	if (!c->started)
	{
		c->started = true;
		c->at_record_start = true;
	}
	for (size_t i = 0; i < len; i++)
	{
		char		ch = buf[i];

		if (c->in_quotes)
		{
			/* a doubled quote leaves and re-enters at once: same result */
			if (ch == '"')
				c->in_quotes = false;
			continue;
		}
		if (ch == '"')
			c->in_quotes = true;
		if (ch == '\n')
		{
			c->records++;
			c->at_record_start = true;
		}
		else
			c->at_record_start = false;
	}
}

unsigned long long
csv_count_finish(csv_counter *c, bool *unterminated_quote)
{
	*unterminated_quote = c->in_quotes;
	return c->records + (c->started && !c->at_record_start ? 1 : 0);
}
