/*
 * csv_to_copy.c
 *	  ecsync-ingest --copy-text FILE: an archived CSV file (gzip or not),
 *	  its header skipped, as PostgreSQL's COPY text format on stdout.  The
 *	  load script reads every file through it (\copy ... FROM PROGRAM),
 *	  because psql's \copy (up to PostgreSQL 15 at least) takes a line that
 *	  is exactly "\." for the end of the data even inside a quoted CSV
 *	  field, so a text value holding "\n\\.\n" would cut a CSV load short.
 *	  In COPY text, a newline in a value is written "\n": no line of data
 *	  can be "\.".
 *
 *	  The CSV is the archive's own (csv_write.c, PostgreSQL's CSV): fields
 *	  quoted with doubled quotes inside, NULL an unquoted empty field.
 */
#include "csv_to_copy.h"

#include "archive_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <stdlib.h>

struct csv2copy
{
	ebuf		field;
	bool		in_quotes;
	bool		quote_seen;		/* a quote inside quotes: doubled, or the end */
	bool		was_quoted;		/* the current field was quoted */
	bool		header;			/* still in the header record */
	bool		pending_cr;
	bool		field_open;		/* something of the record was read */
};

csv2copy *
c2c_new(void)
{
	csv2copy   *c = calloc(1, sizeof(csv2copy));

	if (c == NULL)
		return NULL;
	ebuf_init(&c->field);
	c->header = true;
	return c;
}

void
c2c_free(csv2copy *c)
{
	if (c == NULL)
		return;
	ebuf_free(&c->field);
	free(c);
}

/* end_field writes the field read so far, escaped for COPY text */
static bool
end_field(csv2copy *c, ebuf *out, char sep)
{
	if (!c->header)
	{
		if (c->field.len == 0 && !c->was_quoted)
		{
			if (!ebuf_puts(out, "\\N"))
				return false;
		}
		else
			for (size_t i = 0; i < c->field.len; i++)
			{
				char		ch = c->field.data[i];
				const char *esc = ch == '\\' ? "\\\\" : ch == '\t' ? "\\t" :
					ch == '\n' ? "\\n" : ch == '\r' ? "\\r" : NULL;

				if (esc ? !ebuf_puts(out, esc) : !ebuf_putc(out, ch))
					return false;
			}
		if (!ebuf_putc(out, sep))
			return false;
	}
	ebuf_reset(&c->field);
	c->was_quoted = false;
	c->quote_seen = false;
	c->field_open = sep == '\t';
	if (sep == '\n')
		c->header = false;
	return true;
}

bool
c2c_feed(csv2copy *c, const char *buf, size_t len, ebuf *out)
{
	for (size_t i = 0; i < len; i++)
	{
		char		ch = buf[i];

		if (c->in_quotes)
		{
			if (c->quote_seen)
			{
				c->quote_seen = false;
				if (ch == '"')
				{
					if (!ebuf_putc(&c->field, '"'))
						return false;
					continue;
				}
				c->in_quotes = false;
				/* fall through to the unquoted handling of ch */
			}
			else if (ch == '"')
			{
				c->quote_seen = true;
				continue;
			}
			else
			{
				if (!ebuf_putc(&c->field, ch))
					return false;
				continue;
			}
		}
		/* outside quotes, CR LF ends a record as LF does */
		if (c->pending_cr)
		{
			c->pending_cr = false;
			if (ch != '\n' && !ebuf_putc(&c->field, '\r'))
				return false;
		}
		if (ch == '\r')
		{
			c->pending_cr = true;
			c->field_open = true;
			continue;
		}
		if (ch == '"' && c->field.len == 0 && !c->was_quoted)
		{
			c->in_quotes = true;
			c->was_quoted = true;
			c->field_open = true;
		}
		else if (ch == ',')
		{
			if (!end_field(c, out, '\t'))
				return false;
		}
		else if (ch == '\n')
		{
			if (!end_field(c, out, '\n'))
				return false;
		}
		else
		{
			c->field_open = true;
			if (!ebuf_putc(&c->field, ch))
				return false;
		}
	}
	return true;
}

bool
c2c_finish(csv2copy *c, ebuf *out, bool *unclosed)
{
	*unclosed = c->in_quotes && !c->quote_seen;
	if (*unclosed)
		return false;
	c->in_quotes = false;
	if (c->pending_cr)
	{
		c->pending_cr = false;
		if (!ebuf_putc(&c->field, '\r'))
			return false;
	}
	/* an unterminated last record: end it */
	if (c->field_open || c->field.len > 0 || c->was_quoted)
		return end_field(c, out, '\n');
	return true;
}

static bool
write_all(ebuf *out)
{
	for (size_t off = 0; off < out->len;)
	{
		ssize_t		n = write(STDOUT_FILENO, out->data + off, out->len - off);

		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			return false;
		}
		off += (size_t) n;
	}
	ebuf_reset(out);
	return true;
}

/* the file being converted: the converter, and what it wrote not yet out */
typedef struct file_conversion
{
	csv2copy   *c;
	ebuf		out;
} file_conversion;

static bool
convert_chunk(const void *buf, size_t len, void *arg)
{
	file_conversion *fc = arg;

	return c2c_feed(fc->c, buf, len, &fc->out) &&
		(fc->out.len < (1 << 18) || write_all(&fc->out));
}

int
csv_to_copy_text(const char *path)
{
	file_conversion fc;
	char		err[512] = "";
	bool		ok,
				unclosed = false;

	if ((fc.c = c2c_new()) == NULL)
	{
		fprintf(stderr, "ecsync-ingest: \"%s\": out of memory\n", path);
		return 1;
	}
	ebuf_init(&fc.out);
	ok = af_read_file(path, NULL, convert_chunk, &fc, err, sizeof(err)) &&
		c2c_finish(fc.c, &fc.out, &unclosed) && write_all(&fc.out);
	c2c_free(fc.c);
	ebuf_free(&fc.out);
	if (!ok)
	{
		fprintf(stderr, "ecsync-ingest: could not convert \"%s\"%s%s\n", path,
				unclosed ? ": a quoted field is not closed" : err[0] ? ": " : "", err);
		return 1;
	}
	return 0;
}
