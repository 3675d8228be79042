/*
 * type_policy.c
 *	  MySQL column types and values to PostgreSQL ones; docs/batch.md's "Type
 *	  policy" section is the user's description of this file.
 */
#include "type_policy.h"

#include "seterr.h"

#include <stdio.h>
#include <string.h>

static bool
is(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

bool
tp_is_spatial(const char *t)
{
	static const char *const spatial[] = {
		"geometry", "point", "linestring", "polygon", "multipoint",
		"multilinestring", "multipolygon", "geometrycollection",
		"geomcollection", NULL
	};

	for (int i = 0; spatial[i]; i++)
		if (is(t, spatial[i]))
			return true;
	return false;
}

bool
tp_select_expr(ebuf *out, const tp_column *col, const char *qname)
{
	if (is(col->data_type, "float"))
		return ebuf_puts(out, "CAST(") && ebuf_puts(out, qname) &&
			ebuf_puts(out, " AS DOUBLE)");
	if (tp_is_spatial(col->data_type))
		return ebuf_puts(out, "ST_AsBinary(") && ebuf_puts(out, qname) &&
			ebuf_putc(out, ')');
	return ebuf_puts(out, qname);
}

const tp_options tp_default_options = {false, NULL};

bool
tp_map_column(const tp_column *col, const tp_options *opts, char *pgtype, size_t typelen,
			  tp_conv *conv, tp_wire *wire, int *bits, bool *nullable,
			  char *err, size_t errlen)
{
	const char *t = col->data_type;
	bool		is_unsigned = strstr(col->column_type, "unsigned") != NULL;

	*wire = TW_NONE;
	*conv = TP_NUMBER;
	*bits = 0;
	*nullable = col->nullable;

	if (is(t, "tinyint"))
	{
		/* tinyint(1) is MySQL's BOOLEAN */
		if (!is_unsigned && strncmp(col->column_type, "tinyint(1)", 10) == 0)
		{
			snprintf(pgtype, typelen, "boolean");
			*conv = TP_BOOL;
			*wire = TW_BOOL;
		}
		else
		{
			snprintf(pgtype, typelen, "smallint");
			*wire = TW_INT2;
		}
	}
	else if (is(t, "smallint"))
	{
		snprintf(pgtype, typelen, is_unsigned ? "integer" : "smallint");
		*wire = is_unsigned ? TW_INT4 : TW_INT2;
	}
	else if (is(t, "mediumint"))
	{
		snprintf(pgtype, typelen, "integer");
		*wire = TW_INT4;
	}
	else if (is(t, "int") || is(t, "integer"))
	{
		snprintf(pgtype, typelen, is_unsigned ? "bigint" : "integer");
		*wire = is_unsigned ? TW_INT8 : TW_INT4;
	}
	else if (is(t, "bigint"))
	{
		bool		as_numeric = is_unsigned &&
			!(opts ? opts : &tp_default_options)->bigint_unsigned_as_bigint;

		snprintf(pgtype, typelen, as_numeric ? "numeric(20,0)" : "bigint");
		*wire = as_numeric ? TW_NUMERIC : TW_INT8;
	}
	else if (is(t, "decimal") || is(t, "numeric"))
	{
		snprintf(pgtype, typelen, "numeric(%d,%d)", col->precision,
				 col->scale < 0 ? 0 : col->scale);
		*wire = TW_NUMERIC;
	}
	else if (is(t, "float"))
	{
		snprintf(pgtype, typelen, "real");
		*wire = TW_FLOAT4;
	}
	else if (is(t, "double") || is(t, "real"))
	{
		snprintf(pgtype, typelen, "double precision");
		*wire = TW_FLOAT8;
	}
	else if (is(t, "bit"))
	{
		*bits = col->precision > 0 ? col->precision : 1;
		snprintf(pgtype, typelen, "bit(%d)", *bits);
		*conv = TP_BIT;
		*wire = TW_BIT;
	}
	else if (is(t, "year"))
	{
		snprintf(pgtype, typelen, "smallint");
		*wire = TW_INT2;
	}
	else if (is(t, "date"))
	{
		snprintf(pgtype, typelen, "date");
		*conv = TP_DATE;
		*wire = TW_DATE;
		*nullable = true;
	}
	else if (is(t, "datetime"))
	{
		bool		zoned = (opts ? opts : &tp_default_options)->datetime_zone != NULL;

		snprintf(pgtype, typelen, "timestamp(%d) %s time zone",
				 col->datetime_precision > 0 ? col->datetime_precision : 0,
				 zoned ? "with" : "without");
		*conv = TP_DATETIME;
		/* a zoned wall-clock time is PostgreSQL's to resolve: text COPY */
		*wire = zoned ? TW_NONE : TW_TIMESTAMP;
		*nullable = true;
	}
	else if (is(t, "timestamp"))
	{
		snprintf(pgtype, typelen, "timestamp(%d) with time zone",
				 col->datetime_precision > 0 ? col->datetime_precision : 0);
		*conv = TP_TIMESTAMP;
		*wire = TW_TIMESTAMP;
		*nullable = true;
	}
	else if (is(t, "time"))
	{
		snprintf(pgtype, typelen, "interval");
		*conv = TP_TIME;
		*wire = TW_INTERVAL;
	}
	else if (is(t, "char") || is(t, "varchar"))
	{
		/* MySQL strips CHAR padding on read; bpchar would add it back */
		if (col->char_length > 0 && col->char_length <= 10485760)
			snprintf(pgtype, typelen, "character varying(%ld)", col->char_length);
		else
			snprintf(pgtype, typelen, "text");
		*conv = TP_TEXT;
		*wire = TW_TEXT;
	}
	else if (is(t, "json") || (col->is_json && strstr(t, "text") != NULL))
	{
		snprintf(pgtype, typelen, "jsonb");
		*conv = TP_JSON;
		*wire = TW_JSONB;
	}
	else if (is(t, "tinytext") || is(t, "text") || is(t, "mediumtext") ||
			 is(t, "longtext") || is(t, "enum"))
	{
		snprintf(pgtype, typelen, "text");
		*conv = TP_TEXT;
		*wire = TW_TEXT;
	}
	else if (is(t, "set"))
	{
		snprintf(pgtype, typelen, "text[]");
		*conv = TP_SET;
		*wire = TW_TEXT_ARRAY;
	}
	else if (tp_is_spatial(t))
	{
		/* read as WKB by tp_select_expr; the SRID is not kept */
		snprintf(pgtype, typelen, "bytea");
		*conv = TP_BYTEA;
		*wire = TW_BYTEA;
	}
	else if (is(t, "binary") || is(t, "varbinary") || is(t, "tinyblob") ||
			 is(t, "blob") || is(t, "mediumblob") || is(t, "longblob"))
	{
		snprintf(pgtype, typelen, "bytea");
		*conv = TP_BYTEA;
		*wire = TW_BYTEA;
	}
	else if (is(t, "uuid"))
	{
		snprintf(pgtype, typelen, "uuid");
		*conv = TP_TEXT;
	}
	else if (is(t, "inet4") || is(t, "inet6"))
	{
		snprintf(pgtype, typelen, "inet");
		*conv = TP_TEXT;
	}
	else
	{
		seterr(err, errlen, "column \"%s\" has MySQL type %s, which ecsync does not sync",
			   col->name, col->column_type);
		return false;
	}
	return true;
}

/* zero_date: '0000-00-00' and any date with a zero year, month or day */
static bool
zero_date(const char *v, size_t len)
{
	if (len < 10)
		return false;
	return memcmp(v, "0000", 4) == 0 || memcmp(v + 5, "00", 2) == 0 ||
		memcmp(v + 8, "00", 2) == 0;
}

static const char hexdigits[] = "0123456789abcdef";

bool
tp_convert(tp_conv conv, int bits, const char *val, size_t len,
		   ebuf *scratch, const char **out, size_t *outlen,
		   bool *is_null, char *err, size_t errlen)
{
	*is_null = false;
	*out = val;
	*outlen = len;

	switch (conv)
	{
		case TP_NUMBER:
		case TP_TEXT:
		case TP_JSON:
		case TP_TIME:
		case TP_DATETIME:
			if (conv == TP_DATETIME && zero_date(val, len))
				*is_null = true;
			return true;

		case TP_DATE:
			if (zero_date(val, len))
				*is_null = true;
			return true;

		case TP_TIMESTAMP:
			if (zero_date(val, len))
			{
				*is_null = true;
				return true;
			}
			/* the session runs with time_zone '+00:00' */
			ebuf_reset(scratch);
			if (!ebuf_append(scratch, val, len) || !ebuf_append(scratch, "+00", 3))
				goto oom;
			break;

		case TP_BOOL:
			if (len == 1 && (val[0] == '0' || val[0] == '1'))
			{
				*out = val[0] == '1' ? "t" : "f";
				*outlen = 1;
				return true;
			}
			seterr(err, errlen, "value %.*s of a tinyint(1) column is neither 0 nor 1; "
				   "it cannot become a boolean without loss", (int) (len > 20 ? 20 : len), val);
			return false;

		case TP_BYTEA:
			ebuf_reset(scratch);
			if (!ebuf_reserve(scratch, 2 + 2 * len))
				goto oom;
			scratch->data[scratch->len++] = '\\';
			scratch->data[scratch->len++] = 'x';
			for (size_t i = 0; i < len; i++)
			{
				unsigned char c = (unsigned char) val[i];

				scratch->data[scratch->len++] = hexdigits[c >> 4];
				scratch->data[scratch->len++] = hexdigits[c & 15];
			}
			break;

		case TP_BIT:
			/* big-endian bytes; keep the low 'bits' bits */
			ebuf_reset(scratch);
			if (!ebuf_reserve(scratch, (size_t) bits))
				goto oom;
			for (int i = bits - 1; i >= 0; i--)
			{
				size_t		byte = (size_t) i / 8;
				int			bit = i % 8;
				char		c = '0';

				if (byte < len)
					c = (((unsigned char) val[len - 1 - byte]) >> bit) & 1 ? '1' : '0';
				scratch->data[scratch->len++] = c;
			}
			break;

		case TP_SET:
			ebuf_reset(scratch);
			if (!ebuf_putc(scratch, '{'))
				goto oom;
			for (size_t i = 0; i < len;)
			{
				size_t		j = i;

				while (j < len && val[j] != ',')
					j++;
				if (i > 0 && !ebuf_putc(scratch, ','))
					goto oom;
				if (!ebuf_putc(scratch, '"'))
					goto oom;
				for (size_t k = i; k < j; k++)
				{
					if ((val[k] == '"' || val[k] == '\\') && !ebuf_putc(scratch, '\\'))
						goto oom;
					if (!ebuf_putc(scratch, val[k]))
						goto oom;
				}
				if (!ebuf_putc(scratch, '"'))
					goto oom;
				i = j + 1;
			}
			if (!ebuf_putc(scratch, '}'))
				goto oom;
			break;
	}
	*out = scratch->data;
	*outlen = scratch->len;
	return true;

oom:
	seterr(err, errlen, "out of memory converting a value of %zu bytes", len);
	return false;
}
