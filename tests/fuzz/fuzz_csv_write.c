/*
 * fuzz_csv_write.c
 *	  libFuzzer target for the CSV writer (common/csv_write.c).  The input
 *	  is split into fields at 0xFE bytes; the fields are written as one CSV
 *	  record, which an independent strict RFC 4180 reader here must read
 *	  back as the same fields, and which the record counter, fed in pieces,
 *	  must count as exactly one record.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "csv_write.h"

#define MAX_FIELDS 64

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * read_field reads one field at *p (quoted or not) into out; returns the
 * position after it, or NULL if the text is not RFC 4180
 */
static const char *
read_field(const char *p, const char *end, ebuf *out)
{
	if (p < end && *p == '"')
	{
		p++;
		for (;;)
		{
			if (p == end)
				return NULL;
			if (*p == '"')
			{
				if (p + 1 < end && p[1] == '"')
				{
					ebuf_putc(out, '"');
					p += 2;
					continue;
				}
				return p + 1;
			}
			ebuf_putc(out, *p++);
		}
	}
	while (p < end && *p != ',' && *p != '\n')
	{
		/* unquoted fields hold no quote, CR or LF */
		if (*p == '"' || *p == '\r')
			return NULL;
		ebuf_putc(out, *p++);
	}
	return p;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *fields[MAX_FIELDS];
	size_t		lens[MAX_FIELDS];
	int			n = 0;
	size_t		start = 0;
	ebuf		rec,
				f;
	const char *p,
			   *end;
	csv_counter cc = {0};
	bool		open;

	for (size_t i = 0; i <= size && n < MAX_FIELDS; i++)
		if (i == size || data[i] == 0xFE)
		{
			fields[n] = (const char *) data + start;
			lens[n++] = i - start;
			start = i + 1;
		}
	ebuf_init(&rec);
	for (int i = 0; i < n; i++)
		if ((i > 0 && !ebuf_putc(&rec, ',')) || !csv_append(&rec, fields[i], lens[i]))
			abort();
	if (!ebuf_putc(&rec, '\n'))
		abort();

	/* read it back */
	p = rec.data;
	end = rec.data + rec.len;
	ebuf_init(&f);
	for (int i = 0; i < n; i++)
	{
		ebuf_reset(&f);
		p = read_field(p, end, &f);
		if (p == NULL || f.len != lens[i] || (f.len && memcmp(f.data, fields[i], f.len) != 0))
			abort();			/* not the field that was written */
		if (p == end || *p != (i == n - 1 ? '\n' : ','))
			abort();
		p++;
	}
	if (p != end)
		abort();

	/* one record, whatever the pieces the counter is fed */
	for (size_t i = 0, step = size % 7 + 1; i < rec.len; i += step)
		csv_count(&cc, rec.data + i, rec.len - i < step ? rec.len - i : step);
	if (csv_count_finish(&cc, &open) != 1 || open)
		abort();
	ebuf_free(&f);
	ebuf_free(&rec);
	return 0;
}
