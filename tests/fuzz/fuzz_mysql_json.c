/*
 * fuzz_mysql_json.c
 *	  libFuzzer target for MySQL's binary JSON (common/mysql_json.c), which
 *	  reads values a MySQL server sends into a PostgreSQL backend: any
 *	  value and any diff list must decode or give a message, never crash,
 *	  leak, read outside its bytes, recurse without bound or hit undefined
 *	  behaviour.
 *
 *	  Input: a mode byte; mode 0 (even): a binary JSON value, the rest;
 *	  mode 1 (odd): the before value's length (2 bytes, little-endian), the
 *	  before value, then a diff list (the seeds are real values and diffs
 *	  of a MySQL 9.7 binary log, tests/fuzz/corpus/mysql_json).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mysql_json.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check: text appended (or nothing on failure), never a NUL in JSON text */
static void
check(bool ok, const ebuf *b, size_t before)
{
	if (!ok && b->len != before)
		abort();				/* a failure leaves the output as it was */
	if (ok && (b->len == before || memchr(b->data + before, '\0', b->len - before) != NULL))
		abort();				/* JSON text: something, and escaped control characters */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ebuf b;
	static bool init;
	char		err[512];

	if (!init)
	{
		ebuf_init(&b);
		init = true;
	}
	if (size < 1)
		return 0;
	ebuf_reset(&b);
	ebuf_puts(&b, "x");
	if ((data[0] & 1) == 0)
	{
		/* a copy of the exact size, so that ASan sees any read past it */
		uint8_t    *v = malloc(size - 1 ? size - 1 : 1);

		memcpy(v, data + 1, size - 1);
		check(mj_text(v, size - 1, &b, err, sizeof(err)), &b, 1);
		free(v);
	}
	else
	{
		size_t		blen,
					dlen;
		uint8_t    *before,
				   *diff;

		if (size < 3)
			return 0;
		blen = data[1] | (size_t) data[2] << 8;
		if (blen > size - 3)
			return 0;
		dlen = size - 3 - blen;
		before = malloc(blen ? blen : 1);
		diff = malloc(dlen ? dlen : 1);
		memcpy(before, data + 3, blen);
		memcpy(diff, data + 3 + blen, dlen);
		check(mj_apply_diff(before, blen, diff, dlen, &b, err, sizeof(err)), &b, 1);
		free(before);
		free(diff);
	}
	return 0;
}
