/*
 * binlog_rows.c
 *	  TABLE_MAP and ROWS events of a row-based binary log, decoded from
 *	  their bytes (see binlog_rows.h).  The formats are MySQL's
 *	  (sql/log_event.cc, libbinlogevents) as MariaDB writes them; the
 *	  value encodings are those of each Field's pack(): little-endian
 *	  integers and lengths, big-endian temporal and DECIMAL forms.
 */
#include "binlog_rows.h"

#include "mysql_json.h"
#include "seterr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- memory */

/* what a br_table owns: every block, freed together */
typedef struct arena
{
	void	  **blocks;
	int			n;
	int			cap;
} arena;

static void *
arena_alloc(arena *a, size_t size)
{
	void	   *p;

	if (a->n == a->cap)
	{
		int			cap = a->cap ? a->cap * 2 : 16;
		void	  **b = realloc(a->blocks, cap * sizeof(void *));

		if (b == NULL)
			return NULL;
		a->blocks = b;
		a->cap = cap;
	}
	p = calloc(1, size ? size : 1);
	if (p)
		a->blocks[a->n++] = p;
	return p;
}

static char *
arena_strndup(arena *a, const uint8_t *s, size_t n)
{
	char	   *p = arena_alloc(a, n + 1);

	if (p)
		memcpy(p, s, n);
	return p;
}

void
br_table_free(br_table *t)
{
	arena	   *a = t->mem;

	if (a)
	{
		for (int i = 0; i < a->n; i++)
			free(a->blocks[i]);
		free(a->blocks);
		free(a);
	}
	memset(t, 0, sizeof(*t));
}

/* ---------------------------------------------------------------- reading */

/* a bounded reader over an event body */
typedef struct rd
{
	const uint8_t *p;
	size_t		len;
	size_t		pos;
	bool		bad;
} rd;

static bool
has(rd *r, size_t n)
{
	if (r->bad || n > r->len - r->pos)
	{
		r->bad = true;
		return false;
	}
	return true;
}

static uint64_t
le(rd *r, int n)
{
	uint64_t	v = 0;

	if (!has(r, n))
		return 0;
	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | r->p[r->pos + i];
	r->pos += n;
	return v;
}

static uint64_t
be_bytes(const uint8_t *p, int n)
{
	uint64_t	v = 0;

	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t
be(rd *r, int n)
{
	uint64_t	v;

	if (!has(r, n))
		return 0;
	v = be_bytes(r->p + r->pos, n);
	r->pos += n;
	return v;
}

/* a length-encoded ("packed") integer */
static uint64_t
packed(rd *r)
{
	uint8_t		b;

	if (!has(r, 1))
		return 0;
	b = r->p[r->pos++];
	if (b < 251)
		return b;
	if (b == 252)
		return le(r, 2);
	if (b == 253)
		return le(r, 3);
	if (b == 254)
		return le(r, 8);
	r->bad = true;				/* 251 (NULL) and 255 have no place here */
	return 0;
}

static const uint8_t *
take(rd *r, size_t n)
{
	const uint8_t *p;

	if (!has(r, n))
		return NULL;
	p = r->p + r->pos;
	r->pos += n;
	return p;
}

static inline bool
bit(const uint8_t *bits, int i)
{
	return (bits[i / 8] >> (i % 8)) & 1;
}

/* --------------------------------------------------------------- TABLE_MAP */

const char *
br_type_name(int type)
{
	switch (type)
	{
		case BR_DECIMAL: return "old decimal";
		case BR_TINY: return "tinyint";
		case BR_SHORT: return "smallint";
		case BR_LONG: return "int";
		case BR_FLOAT: return "float";
		case BR_DOUBLE: return "double";
		case BR_NULL: return "null";
		case BR_TIMESTAMP: case BR_TIMESTAMP2: return "timestamp";
		case BR_LONGLONG: return "bigint";
		case BR_INT24: return "mediumint";
		case BR_DATE: case BR_NEWDATE: return "date";
		case BR_TIME: case BR_TIME2: return "time";
		case BR_DATETIME: case BR_DATETIME2: return "datetime";
		case BR_YEAR: return "year";
		case BR_VARCHAR: case BR_VAR_STRING: return "varchar";
		case BR_BIT: return "bit";
		case BR_JSON: return "json";
		case BR_NEWDECIMAL: return "decimal";
		case BR_ENUM: return "enum";
		case BR_SET: return "set";
		case BR_TINY_BLOB: case BR_MEDIUM_BLOB: case BR_LONG_BLOB:
		case BR_BLOB: return "blob";
		case BR_STRING: return "char";
		case BR_GEOMETRY: return "geometry";
	}
	return "unknown";
}

static bool
is_numeric(int type)
{
	/* YEAR counts too: MariaDB's Field_year is a numeric field */
	return type == BR_TINY || type == BR_SHORT || type == BR_INT24 || type == BR_YEAR ||
		type == BR_LONG || type == BR_LONGLONG || type == BR_FLOAT ||
		type == BR_DOUBLE || type == BR_NEWDECIMAL || type == BR_DECIMAL;
}

static bool
is_character(int type)
{
	return type == BR_STRING || type == BR_VARCHAR || type == BR_VAR_STRING ||
		type == BR_BLOB || type == BR_TINY_BLOB || type == BR_MEDIUM_BLOB ||
		type == BR_LONG_BLOB;
}

/* read_meta decodes column c's metadata from the metadata block */
static void
read_meta(rd *m, br_column *c)
{
	switch (c->type)
	{
		case BR_FLOAT:
		case BR_DOUBLE:
		case BR_BLOB:
		case BR_TINY_BLOB:
		case BR_MEDIUM_BLOB:
		case BR_LONG_BLOB:
		case BR_GEOMETRY:
		case BR_JSON:
		case BR_TIMESTAMP2:
		case BR_DATETIME2:
		case BR_TIME2:
			c->meta = (uint32_t) le(m, 1);
			break;
		case BR_VARCHAR:
		case BR_VAR_STRING:
			c->meta = (uint32_t) le(m, 2);
			break;
		case BR_BIT:
			{
				uint32_t	partial = (uint32_t) le(m, 1);
				uint32_t	bytes = (uint32_t) le(m, 1);

				c->meta = bytes * 8 + partial;	/* the width in bits */
				break;
			}
		case BR_NEWDECIMAL:
			{
				uint32_t	precision = (uint32_t) le(m, 1);
				uint32_t	scale = (uint32_t) le(m, 1);

				c->meta = precision << 8 | scale;
				break;
			}
		case BR_STRING:
		case BR_ENUM:
		case BR_SET:
			{
				uint32_t	b0 = (uint32_t) le(m, 1);
				uint32_t	b1 = (uint32_t) le(m, 1);

				if ((b0 & 0x30) != 0x30)
				{
					/* a CHAR longer than 255 bytes keeps 2 length bits in b0 */
					c->meta = b1 | (((b0 & 0x30) ^ 0x30) << 4);
					c->type = (uint8_t) (b0 | 0x30);
				}
				else
				{
					c->type = (uint8_t) b0;
					c->meta = b1;
				}
				break;
			}
		default:
			c->meta = 0;
	}
}

/* read_strings reads a list of ENUM or SET strings */
static bool
read_strings(rd *r, arena *a, br_column *c)
{
	uint64_t	n = packed(r);

	if (r->bad || n > r->len)
		return false;
	c->nvalues = (int) n;
	c->values = arena_alloc(a, sizeof(char *) * (n ? n : 1));
	if (c->values == NULL)
		return false;
	for (uint64_t k = 0; k < n; k++)
	{
		uint64_t	l = packed(r);
		const uint8_t *s = r->bad ? NULL : take(r, l);

		if (s == NULL || (c->values[k] = arena_strndup(a, s, l)) == NULL)
			return false;
	}
	return true;
}

/* the optional metadata that binlog_row_metadata adds */
enum
{
	OM_SIGNEDNESS = 1, OM_DEFAULT_CHARSET, OM_COLUMN_CHARSET, OM_COLUMN_NAME,
	OM_SET_STR_VALUE, OM_ENUM_STR_VALUE, OM_GEOMETRY_TYPE, OM_SIMPLE_PRIMARY_KEY,
	OM_PRIMARY_KEY_WITH_PREFIX, OM_ENUM_AND_SET_DEFAULT_CHARSET,
	OM_ENUM_AND_SET_COLUMN_CHARSET
};

static bool
read_optional(rd *r, arena *a, br_table *t)
{
	while (r->pos < r->len)
	{
		int			kind = (int) le(r, 1);
		uint64_t	l = packed(r);
		const uint8_t *v = r->bad ? NULL : take(r, l);
		rd			f;
		int			k;

		if (v == NULL)
			return false;
		f = (rd) {v, (size_t) l, 0, false};
		switch (kind)
		{
			case OM_SIGNEDNESS:
				k = 0;
				for (int i = 0; i < t->ncols; i++)
					if (is_numeric(t->cols[i].type))
					{
						if ((size_t) (k / 8) >= l)
							return false;
						t->cols[i].is_unsigned = (v[k / 8] >> (7 - k % 8)) & 1;
						k++;
					}
				break;
			case OM_DEFAULT_CHARSET:
				{
					uint32_t	def = (uint32_t) packed(&f);

					for (int i = 0; i < t->ncols; i++)
						if (is_character(t->cols[i].type))
							t->cols[i].charset = def;
					while (!f.bad && f.pos < f.len)
					{
						uint64_t	idx = packed(&f);
						uint32_t	cs = (uint32_t) packed(&f);

						k = 0;
						for (int i = 0; i < t->ncols; i++)
							if (is_character(t->cols[i].type) && (uint64_t) k++ == idx)
								t->cols[i].charset = cs;
					}
					break;
				}
			case OM_COLUMN_CHARSET:
				for (int i = 0; i < t->ncols && !f.bad; i++)
					if (is_character(t->cols[i].type))
						t->cols[i].charset = (uint32_t) packed(&f);
				break;
			case OM_COLUMN_NAME:
				for (int i = 0; i < t->ncols; i++)
				{
					uint64_t	nl = packed(&f);
					const uint8_t *s = f.bad ? NULL : take(&f, nl);

					if (s == NULL || (t->cols[i].name = arena_strndup(a, s, nl)) == NULL)
						return false;
				}
				t->has_names = true;
				break;
			case OM_SET_STR_VALUE:
			case OM_ENUM_STR_VALUE:
				for (int i = 0; i < t->ncols; i++)
					if (t->cols[i].type == (kind == OM_SET_STR_VALUE ? BR_SET : BR_ENUM) &&
						!read_strings(&f, a, &t->cols[i]))
						return false;
				break;
			case OM_SIMPLE_PRIMARY_KEY:
			case OM_PRIMARY_KEY_WITH_PREFIX:
				t->pk = arena_alloc(a, sizeof(int) * (t->ncols + 1));
				if (t->pk == NULL)
					return false;
				t->npk = 0;
				while (!f.bad && f.pos < f.len && t->npk < t->ncols)
				{
					uint64_t	idx = packed(&f);

					if (kind == OM_PRIMARY_KEY_WITH_PREFIX)
						(void) packed(&f);
					if (idx >= (uint64_t) t->ncols)
						return false;
					t->pk[t->npk++] = (int) idx;
				}
				break;
			default:
				break;			/* geometry types, ENUM/SET charsets, newer kinds */
		}
		if (f.bad)
			return false;
	}
	return !r->bad;
}

bool
br_parse_table_map(const uint8_t *body, size_t len, int table_id_size,
				   br_table *t, char *err, size_t errlen)
{
	rd			r = {body, len, 0, false};
	rd			m;
	arena	   *a;
	uint64_t	n,
				metalen;
	const uint8_t *s,
			   *types,
			   *meta,
			   *nulls;
	uint64_t	l;

	memset(t, 0, sizeof(*t));
	if ((a = calloc(1, sizeof(arena))) == NULL)
	{
		seterr(err, errlen, "out of memory");
		return false;
	}
	t->mem = a;
	t->table_id = le(&r, table_id_size);
	(void) le(&r, 2);			/* flags */
	l = le(&r, 1);
	if ((s = take(&r, l + 1)) == NULL || (t->db = arena_strndup(a, s, l)) == NULL)
		goto bad;
	l = le(&r, 1);
	if ((s = take(&r, l + 1)) == NULL || (t->table = arena_strndup(a, s, l)) == NULL)
		goto bad;
	n = packed(&r);
	if (r.bad || n == 0 || n > 4096 || (types = take(&r, n)) == NULL)
		goto bad;
	t->ncols = (int) n;
	if ((t->cols = arena_alloc(a, sizeof(br_column) * n)) == NULL)
		goto bad;
	metalen = packed(&r);
	if (r.bad || (meta = take(&r, metalen)) == NULL)
		goto bad;
	m = (rd) {meta, (size_t) metalen, 0, false};
	for (int i = 0; i < t->ncols; i++)
	{
		t->cols[i].type = types[i];
		read_meta(&m, &t->cols[i]);
	}
	if (m.bad || (nulls = take(&r, (n + 7) / 8)) == NULL)
		goto bad;
	for (int i = 0; i < t->ncols; i++)
		t->cols[i].nullable = bit(nulls, i);
	if (!read_optional(&r, a, t))
		goto bad;
	return true;

bad:
	seterr(err, errlen, "malformed TABLE_MAP event (%zu bytes)", len);
	br_table_free(t);
	return false;
}

/* ---------------------------------------------------------------- ROWS */

bool
br_is_rows_event(int type)
{
	return (type >= BR_EV_WRITE_ROWS_V1 && type <= BR_EV_DELETE_ROWS_V1) ||
		(type >= BR_EV_WRITE_ROWS && type <= BR_EV_DELETE_ROWS) || type == BR_EV_PARTIAL_UPDATE_ROWS ||
		(type >= BR_EV_WRITE_ROWS_COMPRESSED_V1 && type <= BR_EV_DELETE_ROWS_COMPRESSED_V1);
}

bool
br_parse_rows(int type, const uint8_t *body, size_t len, int table_id_size,
			  br_rows *out, char *err, size_t errlen)
{
	rd			r = {body, len, 0, false};
	uint64_t	n;
	size_t		nb;

	memset(out, 0, sizeof(*out));
	if (type >= BR_EV_WRITE_ROWS_COMPRESSED_V1 && type <= BR_EV_DELETE_ROWS_COMPRESSED_V1)
	{
		seterr(err, errlen, "the binary log is compressed (log_bin_compress=ON), which change capture does not read; "
			   "set log_bin_compress=OFF on the MySQL server");
		return false;
	}
	switch (type)
	{
		case BR_EV_WRITE_ROWS_V1:
		case BR_EV_WRITE_ROWS:
			out->kind = BR_INSERT;
			break;
		case BR_EV_UPDATE_ROWS_V1:
		case BR_EV_UPDATE_ROWS:
			out->kind = BR_UPDATE;
			break;
		case BR_EV_PARTIAL_UPDATE_ROWS:
			/* an UPDATE_ROWS (v2) whose after images start with value_options */
			out->kind = BR_UPDATE;
			out->partial = true;
			break;
		case BR_EV_DELETE_ROWS_V1:
		case BR_EV_DELETE_ROWS:
			out->kind = BR_DELETE;
			break;
		default:
			seterr(err, errlen, "event type %d is not a rows event", type);
			return false;
	}
	out->table_id = le(&r, table_id_size);
	out->flags = (uint16_t) le(&r, 2);
	if (type >= BR_EV_WRITE_ROWS)
	{
		uint64_t	extra = le(&r, 2);	/* counts its own two bytes */

		if (extra < 2 || take(&r, extra - 2) == NULL)
			goto bad;
	}
	n = packed(&r);
	if (r.bad || n == 0 || n > 4096)
		goto bad;
	out->ncols = (int) n;
	nb = (n + 7) / 8;
	if ((out->present = take(&r, nb)) == NULL)
		goto bad;
	out->present_after = out->present;
	if (out->kind == BR_UPDATE && (out->present_after = take(&r, nb)) == NULL)
		goto bad;
	out->data = body + r.pos;
	out->len = len - r.pos;
	return true;

bad:
	seterr(err, errlen, "malformed rows event (%zu bytes)", len);
	return false;
}

/* ---------------------------------------------------------------- values */

void
br_image_init(br_image *img)
{
	memset(img, 0, sizeof(*img));
	ebuf_init(&img->text);
}

void
br_image_free(br_image *img)
{
	free(img->off);
	free(img->len);
	free(img->raw);
	ebuf_free(&img->text);
	memset(img, 0, sizeof(*img));
}

static bool
put(ebuf *b, const char *s, size_t n)
{
	return ebuf_append(b, s, n);
}

/*
 * The hot path formats numbers by hand: snprintf was a tenth of a change's
 * cost.  ebuf_put_u64 and ebuf_put_i64 (ebuf.h) append
 * integers; put_z zero-padded to width digits (more when v needs them).
 */
static bool
put_z(ebuf *b, uint64_t v, int width)
{
	char		tmp[24];
	int			n = 0;

	do
	{
		tmp[sizeof(tmp) - 1 - n++] = (char) ('0' + v % 10);
		v /= 10;
	} while (v && n < 23);
	while (n < width && n < 23)
		tmp[sizeof(tmp) - 1 - n++] = '0';
	return put(b, tmp + sizeof(tmp) - n, (size_t) n);
}

/* put_datetime appends YYYY-MM-DD HH:MM:SS */
static bool
put_datetime(ebuf *b, uint64_t y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s)
{
	return put_z(b, y, 4) && ebuf_putc(b, '-') && put_z(b, mo, 2) && ebuf_putc(b, '-') &&
		put_z(b, d, 2) && ebuf_putc(b, ' ') && put_z(b, h, 2) && ebuf_putc(b, ':') &&
		put_z(b, mi, 2) && ebuf_putc(b, ':') && put_z(b, s, 2);
}

/* fraction appends ".ffffff" cut to fsp digits (MySQL prints exactly fsp) */
static bool
fraction(ebuf *b, uint32_t micro, int fsp)
{
	char		tmp[8];

	if (fsp <= 0)
		return true;
	micro %= 1000000;
	for (int i = 5; i >= 0; i--)
	{
		tmp[i] = (char) ('0' + micro % 10);
		micro /= 10;
	}
	return ebuf_putc(b, '.') && put(b, tmp, fsp > 6 ? 6 : fsp);
}

/* the fractional part of a TIME2/DATETIME2/TIMESTAMP2: bytes and scale */
static int
frac_bytes(int fsp)
{
	return (fsp + 1) / 2;
}

static uint32_t
frac_micro(uint64_t raw, int fsp)
{
	switch (frac_bytes(fsp))
	{
		case 1: return (uint32_t) raw * 10000;
		case 2: return (uint32_t) raw * 100;
		case 3: return (uint32_t) raw;
	}
	return 0;
}

/* civil date of days since 1970-01-01 (Howard Hinnant's algorithm) */
static void
civil(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t		era;
	unsigned	doe,
				yoe,
				doy,
				mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned) (z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t) yoe + era * 400 + (*m <= 2);
}

/* decimal appends a DECIMAL column's value (mysql_json.h prints the form) */
static bool
decimal(rd *r, int precision, int scale, ebuf *b)
{
	const uint8_t *src;

	if (precision < 1 || precision > 65 || scale < 0 || scale > 38 || scale > precision)
		return false;
	if ((src = take(r, mj_decimal_size(precision, scale))) == NULL)
		return false;
	return mj_decimal_text(src, precision, scale, b);
}

/* time_text appends a TIME from its packed form (MySQL's my_time_packed) */
static bool
time_text(ebuf *b, int64_t packed_time, int fsp)
{
	bool		neg = packed_time < 0;
	uint64_t	v = neg ? (uint64_t) (-packed_time) : (uint64_t) packed_time;
	uint64_t	hms = v >> 24;
	uint32_t	micro = (uint32_t) (v % (1 << 24));
	unsigned	h = (unsigned) ((hms >> 12) % (1 << 10));
	unsigned	mi = (unsigned) ((hms >> 6) % (1 << 6));
	unsigned	s = (unsigned) (hms % (1 << 6));

	if (mi > 59 || s > 59 || micro > 999999)
		return false;
	return ebuf_printf(b, "%s%02u:%02u:%02u", neg ? "-" : "", h, mi, s) && fraction(b, micro, fsp);
}

static bool
value(rd *r, const br_column *c, ebuf *b, char *err, size_t errlen)
{
	switch (c->type)
	{
		case BR_TINY:
			return c->is_unsigned ? ebuf_put_u64(b, le(r, 1)) : ebuf_put_i64(b, (int8_t) le(r, 1));
		case BR_SHORT:
			return c->is_unsigned ? ebuf_put_u64(b, le(r, 2)) : ebuf_put_i64(b, (int16_t) le(r, 2));
		case BR_INT24:
			{
				uint32_t	v = (uint32_t) le(r, 3);

				if (c->is_unsigned)
					return ebuf_put_u64(b, v);
				return ebuf_put_i64(b, (int32_t) (v ^ 0x800000) - 0x800000);
			}
		case BR_LONG:
			return c->is_unsigned ? ebuf_put_u64(b, (uint32_t) le(r, 4)) : ebuf_put_i64(b, (int32_t) (uint32_t) le(r, 4));
		case BR_LONGLONG:
			{
				uint64_t	v = le(r, 8);

				return c->is_unsigned ? ebuf_put_u64(b, v) : ebuf_put_i64(b, (int64_t) v);
			}
		case BR_FLOAT:
			{
				uint32_t	v = (uint32_t) le(r, 4);
				float		f;

				memcpy(&f, &v, 4);
				/* the double of a float, exactly: it parses back to the float */
				return ebuf_printf(b, "%.17g", (double) f);
			}
		case BR_DOUBLE:
			{
				uint64_t	v = le(r, 8);
				double		d;

				memcpy(&d, &v, 8);
				return ebuf_printf(b, "%.17g", d);
			}
		case BR_NEWDECIMAL:
			if (!decimal(r, (int) (c->meta >> 8), (int) (c->meta & 0xff), b))
			{
				if (!r->bad)
					seterr(err, errlen, "malformed decimal(%u,%u) value", c->meta >> 8, c->meta & 0xff);
				return false;
			}
			return true;
		case BR_YEAR:
			{
				unsigned	v = (unsigned) le(r, 1);

				return put_z(b, v ? 1900 + v : 0, 4);
			}
		case BR_DATE:
		case BR_NEWDATE:
			{
				uint32_t	v = (uint32_t) le(r, 3);

				return put_z(b, v >> 9, 4) && ebuf_putc(b, '-') && put_z(b, (v >> 5) & 15, 2) &&
					ebuf_putc(b, '-') && put_z(b, v & 31, 2);
			}
		case BR_TIMESTAMP:
		case BR_TIMESTAMP2:
			{
				uint64_t	secs = c->type == BR_TIMESTAMP ? le(r, 4) : be(r, 4);
				int			fsp = c->type == BR_TIMESTAMP ? 0 : (int) c->meta;
				uint32_t	micro = fsp ? frac_micro(be(r, frac_bytes(fsp)), fsp) : 0;
				int64_t		y;
				unsigned	mo,
							d;

				if (r->bad)
					return false;
				if (secs == 0 && micro == 0)
					return ebuf_printf(b, "0000-00-00 00:00:00") && fraction(b, 0, fsp);
				civil((int64_t) (secs / 86400), &y, &mo, &d);
				return put_datetime(b, (uint64_t) y, mo, d, (unsigned) (secs % 86400 / 3600),
									(unsigned) (secs % 3600 / 60), (unsigned) (secs % 60)) &&
					fraction(b, micro, fsp);
			}
		case BR_DATETIME2:
			{
				int			fsp = (int) c->meta;
				int64_t		v = (int64_t) be(r, 5) - INT64_C(0x8000000000);
				uint32_t	micro = fsp ? frac_micro(be(r, frac_bytes(fsp)), fsp) : 0;
				int64_t		ymd,
							hms,
							ym;

				if (r->bad)
					return false;
				if (v < 0 || fsp > 6)
				{
					seterr(err, errlen, "malformed datetime value");
					return false;
				}
				ymd = v >> 17;
				hms = v % (1 << 17);
				ym = ymd >> 5;
				return put_datetime(b, (uint64_t) (ym / 13), (unsigned) (ym % 13), (unsigned) (ymd % 32),
									(unsigned) (hms >> 12), (unsigned) ((hms >> 6) % 64),
									(unsigned) (hms % 64)) &&
					fraction(b, micro, fsp);
			}
		case BR_DATETIME:
			{
				uint64_t	v = le(r, 8);
				uint64_t	date = v / 1000000,
							t = v % 1000000;

				return ebuf_printf(b, "%04u-%02u-%02u %02u:%02u:%02u", (unsigned) (date / 10000 % 10000),
							(unsigned) (date / 100 % 100), (unsigned) (date % 100),
							(unsigned) (t / 10000), (unsigned) (t / 100 % 100), (unsigned) (t % 100));
			}
		case BR_TIME2:
			{
				int			fsp = (int) c->meta;
				int64_t		intpart,
							frac,
							packed_time;

				if (fsp > 6)
					return false;
				if (frac_bytes(fsp) == 3)
					/* six fraction digits: the 6 bytes are one offset integer */
					packed_time = (int64_t) be(r, 6) - INT64_C(0x800000000000);
				else
				{
					intpart = (int64_t) be(r, 3) - 0x800000;
					frac = frac_bytes(fsp) ? (int64_t) be(r, frac_bytes(fsp)) : 0;
					if (intpart < 0 && frac)
					{
						intpart++;
						frac -= frac_bytes(fsp) == 1 ? 0x100 : 0x10000;
					}
					packed_time = intpart * (INT64_C(1) << 24) +
						frac * (frac_bytes(fsp) == 1 ? 10000 : 100);
				}
				if (r->bad)
					return false;
				if (!time_text(b, packed_time, fsp))
				{
					seterr(err, errlen, "malformed time value");
					return false;
				}
				return true;
			}
		case BR_TIME:
			{
				uint32_t	u = (uint32_t) le(r, 3);
				int32_t		v = (int32_t) (u ^ 0x800000) - 0x800000;
				bool		neg = v < 0;
				uint32_t	a = (uint32_t) (neg ? -v : v);

				return ebuf_printf(b, "%s%02u:%02u:%02u", neg ? "-" : "", a / 10000, a / 100 % 100, a % 100);
			}
		case BR_BIT:
			{
				uint32_t	nbytes = (c->meta + 7) / 8;
				const uint8_t *p = take(r, nbytes);

				return p != NULL && put(b, (const char *) p, nbytes);
			}
		case BR_VARCHAR:
		case BR_VAR_STRING:
		case BR_STRING:
			{
				uint64_t	l = le(r, c->meta < 256 ? 1 : 2);
				const uint8_t *p = take(r, l);

				if (p == NULL || !put(b, (const char *) p, l))
					return false;
				/*
				 * The binary log drops a CHAR's trailing pad: spaces, which
				 * SELECT drops too, or for BINARY(n) (charset binary) the
				 * zero bytes SELECT returns: put them back.
				 */
				if (c->type == BR_STRING && c->charset == 63)
					for (; l < c->meta; l++)
						if (!ebuf_putc(b, '\0'))
							return false;
				return true;
			}
		case BR_BLOB:
		case BR_TINY_BLOB:
		case BR_MEDIUM_BLOB:
		case BR_LONG_BLOB:
		case BR_GEOMETRY:
			{
				uint64_t	l;
				const uint8_t *p;

				if (c->meta < 1 || c->meta > 4)
				{
					seterr(err, errlen, "blob length of %u bytes", c->meta);
					return false;
				}
				l = le(r, (int) c->meta);
				if ((p = take(r, l)) == NULL)
					return false;
				if (c->type == BR_GEOMETRY)
				{
					/* MySQL's internal form: a 4-byte SRID, then WKB (what ST_AsBinary gives) */
					if (l < 4)
					{
						seterr(err, errlen, "malformed geometry value");
						return false;
					}
					return put(b, (const char *) p + 4, l - 4);
				}
				return put(b, (const char *) p, l);
			}
		case BR_JSON:
			{
				/* MySQL's binary JSON, as a blob (MariaDB's JSON is a LONGTEXT) */
				uint64_t	l;
				const uint8_t *p;
				char		jerr[256];

				if (c->meta < 1 || c->meta > 4)
				{
					seterr(err, errlen, "json length of %u bytes", c->meta);
					return false;
				}
				l = le(r, (int) c->meta);
				if ((p = take(r, l)) == NULL)
					return false;
				if (!mj_text(p, l, b, jerr, sizeof(jerr)))
				{
					seterr(err, errlen, "column \"%s\": %s", c->name ? c->name : "?", jerr);
					return false;
				}
				return true;
			}
		case BR_ENUM:
			{
				uint64_t	v;

				if (c->meta != 1 && c->meta != 2)
					return false;
				v = le(r, (int) c->meta);
				if (r->bad)
					return false;
				if (v == 0)
					return true;	/* MySQL's empty string for an invalid value */
				if (v > (uint64_t) c->nvalues)
				{
					seterr(err, errlen, "ENUM index %llu of %d strings%s", (unsigned long long) v,
						   c->nvalues, c->values ? "" : " (set binlog_row_metadata=FULL on the MySQL server)");
					return false;
				}
				return ebuf_puts(b, c->values[v - 1]);
			}
		case BR_SET:
			{
				uint64_t	v;
				bool		first = true;

				if (c->meta < 1 || c->meta > 8)
					return false;
				v = le(r, (int) c->meta);
				if (r->bad)
					return false;
				for (int i = 0; i < 64 && v; i++, v >>= 1)
				{
					if (!(v & 1))
						continue;
					if (i >= c->nvalues)
					{
						seterr(err, errlen, "SET member %d of %d strings%s", i + 1, c->nvalues,
							   c->values ? "" : " (set binlog_row_metadata=FULL on the MySQL server)");
						return false;
					}
					if ((!first && !ebuf_putc(b, ',')) || !ebuf_puts(b, c->values[i]))
						return false;
					first = false;
				}
				return true;
			}
		default:
			seterr(err, errlen, "column type %s (%d) is not read by change capture",
				   br_type_name(c->type), c->type);
			return false;
	}
}

/*
 * partial_json decodes a JSON column of a PARTIAL_UPDATE_ROWS after image
 * held as diffs (at r, after its length): they apply to the column's
 * value in the row's before image, which is at offset before in the
 * event's data (or -1 when it is NULL or not in that image)
 */
static bool
partial_json(rd *r, const br_rows *rows, const br_column *c, int64_t before, ebuf *b,
			 char *err, size_t errlen)
{
	uint64_t	l,
				bl;
	const uint8_t *diff,
			   *bv;
	rd			br;
	char		jerr[256];

	if (c->meta < 1 || c->meta > 4)
	{
		seterr(err, errlen, "json length of %u bytes", c->meta);
		return false;
	}
	l = le(r, (int) c->meta);
	if ((diff = take(r, l)) == NULL)
		return false;
	if (before < 0)
	{
		seterr(err, errlen, "column \"%s\": a partial JSON update of a value the before image does not have "
			   "(NULL or not in it)", c->name ? c->name : "?");
		return false;
	}
	br = (rd) {rows->data, rows->len, (size_t) before, false};
	bl = le(&br, (int) c->meta);
	if ((bv = take(&br, bl)) == NULL)
		return false;
	if (!mj_apply_diff(bv, bl, diff, l, b, jerr, sizeof(jerr)))
	{
		seterr(err, errlen, "column \"%s\": %s", c->name ? c->name : "?", jerr);
		return false;
	}
	return true;
}

/*
 * image decodes the image at *pos into img.  before_raw is NULL but for
 * the after image of a PARTIAL_UPDATE_ROWS row, where it holds the before
 * image's raw offsets: such an after image starts with value_options
 * (a length-encoded integer; bit 1, PARTIAL_JSON_UPDATES, is the only one)
 * and, when that has the bit, partial_bits, one bit for each JSON column
 * of the table (in or out of the image) telling whether it is held as
 * diffs (rpl_record.cc: pack_row, unpack_row).
 */
static bool
image(const br_rows *rows, const br_table *t, const uint8_t *present, size_t *pos,
	  br_image *img, const int64_t *before_raw, char *err, size_t errlen)
{
	rd			r = {rows->data, rows->len, *pos, false};
	int			npresent = 0;
	const uint8_t *nulls;
	const uint8_t *partial = NULL;
	int			k = 0,
				j = 0;
	bool		own = before_raw != NULL && before_raw == img->raw;

	err[0] = '\0';
	if (rows->ncols != t->ncols)
	{
		seterr(err, errlen, "rows event of %d columns for table %s.%s of %d", rows->ncols,
			   t->db, t->table, t->ncols);
		return false;
	}
	if (img->cap < t->ncols)
	{
		int64_t    *off = realloc(img->off, sizeof(int64_t) * t->ncols);
		int64_t    *len;
		int64_t    *raw;

		if (off == NULL)
			goto oom;
		img->off = off;
		if ((len = realloc(img->len, sizeof(int64_t) * t->ncols)) == NULL)
			goto oom;
		img->len = len;
		/* twice: a before image's offsets are kept there while its after image is decoded */
		if ((raw = realloc(img->raw, sizeof(int64_t) * 2 * t->ncols)) == NULL)
			goto oom;
		img->raw = raw;
		img->cap = t->ncols;
	}
	if (own)
	{
		/* img holds the before image itself: keep its offsets aside */
		memcpy(img->raw + t->ncols, img->raw, sizeof(int64_t) * t->ncols);
		before_raw = img->raw + t->ncols;
	}
	img->ncols = t->ncols;
	img->from = NULL;
	ebuf_reset(&img->text);
	if (before_raw)
	{
		uint64_t	options = packed(&r);

		if (r.bad || options > 1)
		{
			seterr(err, errlen, "malformed partial update in a rows event of %s.%s (value_options %llu)",
				   t->db, t->table, (unsigned long long) options);
			return false;
		}
		if (options & 1)
		{
			int			njson = 0;

			for (int i = 0; i < t->ncols; i++)
				njson += t->cols[i].type == BR_JSON;
			if ((partial = take(&r, (njson + 7) / 8)) == NULL)
				goto bad;
		}
	}
	for (int i = 0; i < t->ncols; i++)
		npresent += bit(present, i);
	if ((nulls = take(&r, (npresent + 7) / 8)) == NULL)
		goto bad;
	for (int i = 0; i < t->ncols; i++)
	{
		bool		diffs = false;
		bool		ok;

		if (partial && t->cols[i].type == BR_JSON)
			diffs = bit(partial, j++);
		img->raw[i] = -1;
		if (!bit(present, i))
		{
			img->len[i] = BR_ABSENT;
			continue;
		}
		if (bit(nulls, k++))
		{
			img->len[i] = BR_NULL_VALUE;
			continue;
		}
		img->raw[i] = (int64_t) r.pos;
		img->off[i] = (int64_t) img->text.len;
		if (diffs)
			ok = partial_json(&r, rows, &t->cols[i], before_raw[i], &img->text, err, errlen);
		else
			ok = value(&r, &t->cols[i], &img->text, err, errlen);
		/* a value cut short reads as zeros: r.bad says so */
		if (!ok || r.bad)
		{
			if (err[0])
				return false;
			goto bad;
		}
		img->len[i] = (int64_t) img->text.len - img->off[i];
		if (!ebuf_putc(&img->text, '\0'))
			goto oom;
	}
	*pos = r.pos;
	img->from = rows->data;
	img->end = r.pos;
	img->partial_before = rows->partial && before_raw == NULL && present == rows->present;
	return true;

bad:
	seterr(err, errlen, "malformed row image in a rows event of %s.%s", t->db, t->table);
	return false;
oom:
	seterr(err, errlen, "out of memory");
	return false;
}

bool
br_next_image(const br_rows *rows, const br_table *t, const uint8_t *present,
			  size_t *pos, br_image *img, char *err, size_t errlen)
{
	if (rows->partial && present == rows->present_after)
	{
		/* the row's before image must be the one img holds */
		if (img->from != rows->data || img->end != *pos || !img->partial_before)
		{
			seterr(err, errlen, "the after image of a partial update of %s.%s read without its before image",
				   t->db, t->table);
			return false;
		}
		return image(rows, t, present, pos, img, img->raw, err, errlen);
	}
	return image(rows, t, present, pos, img, NULL, err, errlen);
}

bool
br_next_row(const br_rows *rows, const br_table *t, size_t *pos, br_image *img,
			br_image *after, char *err, size_t errlen)
{
	if (!image(rows, t, rows->present, pos, img, NULL, err, errlen))
		return false;
	if (rows->kind != BR_UPDATE)
		return true;
	return image(rows, t, rows->present_after, pos, after, rows->partial ? img->raw : NULL, err, errlen);
}
