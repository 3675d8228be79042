/*
 * fuzz_copy_typed.c
 *	  libFuzzer target for the batch's reading of MySQL's binary protocol
 *	  (cb_typed_value in common/copy_binary.c), checked against the text
 *	  protocol's path: an integer or a date and time the input describes
 *	  is written as the server's text protocol would send it and given to
 *	  cb_value, and cb_typed_value must write the same bytes, or fail
 *	  where cb_value fails.  The first input byte chooses the value's kind
 *	  and the column's wire, the rest its value.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copy_binary.h"
#include "mysql_source.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t
take(const uint8_t **p, size_t *n, int bytes)
{
	uint64_t	v = 0;

	for (int i = 0; i < bytes; i++)
	{
		v = (v << 8) | (*n > 0 ? **p : 0);
		if (*n > 0)
		{
			(*p)++;
			(*n)--;
		}
	}
	return v;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const tp_wire int_wires[] = {TW_INT2, TW_INT4, TW_INT8, TW_NUMERIC, TW_BOOL};
	const uint8_t *p = data;
	size_t		n = size;
	uint8_t		sel = (uint8_t) take(&p, &n, 1);
	ms_value	v;
	char		text[64];
	int			len;
	tp_conv		conv;
	tp_wire		wire;
	ebuf		a,
				b;
	char		erra[256],
				errb[256];
	bool		oka,
				okb;

	memset(&v, 0, sizeof(v));
	if (sel % 2 == 0)
	{
		/* an integer, signed or not, into one of the integer wires */
		v.kind = (sel / 2) % 2 ? MS_UINT : MS_INT;
		wire = int_wires[(sel / 4) % 5];
		conv = wire == TW_BOOL ? TP_BOOL : TP_NUMBER;
		v.u = take(&p, &n, 8);
		v.i = (int64_t) v.u;
		/* small values often: the columns' ranges are where it matters */
		if ((sel / 32) % 2)
		{
			v.i %= 70000;
			v.u %= 70000;
		}
		len = v.kind == MS_UINT ? snprintf(text, sizeof(text), "%llu", (unsigned long long) v.u) :
			snprintf(text, sizeof(text), "%lld", (long long) v.i);
	}
	else
	{
		/* a DATE, or a DATETIME or TIMESTAMP with 0 to 6 digits */
		int			digits = (int) ((sel / 4) % 7);

		v.kind = MS_DATETIME;
		wire = (sel / 2) % 2 ? TW_DATE : TW_TIMESTAMP;
		conv = wire == TW_DATE ? TP_DATE : (sel / 32) % 2 ? TP_TIMESTAMP : TP_DATETIME;
		v.year = (int) (take(&p, &n, 2) % 10000);
		v.month = (int) (take(&p, &n, 1) % 13);
		v.day = (int) (take(&p, &n, 1) % 32);
		v.hour = (int) (take(&p, &n, 1) % 24);
		v.minute = (int) (take(&p, &n, 1) % 60);
		v.second = (int) (take(&p, &n, 1) % 60);
		v.usec = (long) (take(&p, &n, 3) % 1000000);
		/* the server sends as many fraction digits as the column has */
		{
			long		scale = 1;

			for (int i = digits; i < 6; i++)
				scale *= 10;
			v.usec -= v.usec % scale;
		}
		if (wire == TW_DATE)
		{
			v.hour = v.minute = v.second = 0;
			v.usec = 0;
			len = snprintf(text, sizeof(text), "%04d-%02d-%02d", v.year, v.month, v.day);
		}
		else
		{
			len = snprintf(text, sizeof(text), "%04d-%02d-%02d %02d:%02d:%02d",
						   v.year, v.month, v.day, v.hour, v.minute, v.second);
			if (digits > 0)
			{
				char		frac[8];

				snprintf(frac, sizeof(frac), "%06ld", v.usec);
				len += snprintf(text + len, sizeof(text) - (size_t) len, ".%.*s", digits, frac);
			}
		}
	}

	ebuf_init(&a);
	ebuf_init(&b);
	oka = cb_value(&a, conv, wire, 0, text, (size_t) len, erra, sizeof(erra));
	okb = cb_typed_value(&b, conv, wire, 0, &v, errb, sizeof(errb));
	if (oka != okb)
	{
		fprintf(stderr, "%s: text %s, typed %s\n", text, oka ? "ok" : erra, okb ? "ok" : errb);
		abort();
	}
	if (oka && (a.len != b.len || memcmp(a.data, b.data, a.len) != 0))
	{
		fprintf(stderr, "%s: the typed value's bytes differ from the text's\n", text);
		abort();
	}
	ebuf_free(&a);
	ebuf_free(&b);
	return 0;
}
