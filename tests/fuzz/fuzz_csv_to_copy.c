/*
 * fuzz_csv_to_copy.c
 *	  libFuzzer target for the archive's CSV-to-COPY-text converter
 *	  (ingester/csv_to_copy.c), what every load script reads the archive
 *	  through.  The input is split into fields at 0xFE bytes (a field that
 *	  is exactly 0xFD is NULL); a header and the fields are written as CSV
 *	  records by the archive's own writer (common/csv_write.c), fed to the
 *	  converter in pieces whose sizes the input also decides, and the COPY
 *	  text that comes out is read back here, independently: it must hold
 *	  the same fields, twice (the record is written twice, the second time
 *	  ended by CR LF), and no line may be exactly "\." (which psql takes
 *	  for the end of the data).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "csv_to_copy.h"
#include "csv_write.h"

#define MAX_FIELDS 64

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* read_copy_field unescapes one COPY text field at *p; NULL on bad text */
static const char *
read_copy_field(const char *p, const char *end, ebuf *out, int *is_null)
{
	*is_null = 0;
	if (end - p >= 2 && p[0] == '\\' && p[1] == 'N' &&
		(end - p == 2 || p[2] == '\t' || p[2] == '\n'))
	{
		*is_null = 1;
		return p + 2;
	}
	while (p < end && *p != '\t' && *p != '\n')
	{
		if (*p == '\\')
		{
			if (p + 1 == end)
				return NULL;
			switch (p[1])
			{
				case '\\':
					ebuf_putc(out, '\\');
					break;
				case 't':
					ebuf_putc(out, '\t');
					break;
				case 'n':
					ebuf_putc(out, '\n');
					break;
				case 'r':
					ebuf_putc(out, '\r');
					break;
				default:
					return NULL;
			}
			p += 2;
			continue;
		}
		if (*p == '\r')
			return NULL;		/* a raw CR would be read as a line end */
		ebuf_putc(out, *p++);
	}
	return p;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *fields[MAX_FIELDS];
	size_t		lens[MAX_FIELDS];
	int			nulls[MAX_FIELDS];
	int			n = 0;
	size_t		start = 0;
	ebuf		csv,
				copy,
				f;
	csv2copy   *c;
	bool		unclosed;
	unsigned	step = size ? data[0] % 7 + 1 : 1;

	for (size_t i = 0; i <= size && n < MAX_FIELDS; i++)
		if (i == size || data[i] == 0xFE)
		{
			fields[n] = (const char *) data + start;
			lens[n] = i - start;
			nulls[n] = lens[n] == 1 && data[start] == 0xFD;
			n++;
			start = i + 1;
		}
	ebuf_init(&csv);
	ebuf_init(&copy);
	ebuf_init(&f);
	ebuf_puts(&csv, "h\n");
	for (int rec = 0; rec < 2; rec++)
	{
		for (int k = 0; k < n; k++)
		{
			if (k > 0)
				ebuf_putc(&csv, ',');
			if (!nulls[k] && !csv_append(&csv, fields[k], lens[k]))
				abort();
		}
		ebuf_puts(&csv, rec == 0 ? "\n" : "\r\n");
	}
	if ((c = c2c_new()) == NULL)
		abort();
	for (size_t off = 0; off < csv.len; off += step)
		if (!c2c_feed(c, csv.data + off, csv.len - off < step ? csv.len - off : step, &copy))
			abort();
	if (!c2c_finish(c, &copy, &unclosed))
		abort();
	c2c_free(c);

	/* read it back: two records of the same fields */
	{
		const char *p = copy.data,
				   *end = copy.data + copy.len;

		for (int rec = 0; rec < 2; rec++)
			for (int k = 0; k < n; k++)
			{
				int			is_null;

				ebuf_reset(&f);
				p = read_copy_field(p, end, &f, &is_null);
				if (p == NULL || is_null != nulls[k] ||
					(!is_null && (f.len != lens[k] || (lens[k] > 0 && memcmp(f.data, fields[k], lens[k]) != 0))))
					abort();
				if (p == end || *p != (k + 1 < n ? '\t' : '\n'))
					abort();
				p++;
			}
		if (p != end)
			abort();
	}
	/* no line of the output is "\." */
	for (size_t i = 0; i + 1 < copy.len; i++)
		if ((i == 0 || copy.data[i - 1] == '\n') && copy.data[i] == '\\' && copy.data[i + 1] == '.' &&
			(i + 2 == copy.len || copy.data[i + 2] == '\n' || copy.data[i + 2] == '\r'))
			abort();
	ebuf_free(&csv);
	ebuf_free(&copy);
	ebuf_free(&f);
	return 0;
}
