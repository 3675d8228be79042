/*
 * mysql_json.c
 *	  MySQL's binary JSON decoded into the text SELECT gives, and
 *	  PARTIAL_JSON diffs applied to it (see mysql_json.h).  The formats are
 *	  MySQL's: sql-common/json_binary.cc (the binary format),
 *	  sql-common/json_dom.cc (wrapper_to_string, double_quote: the text),
 *	  strings/dtoa.cc (my_gcvt: doubles), mysys/my_time.cc (temporal
 *	  values), sql-common/json_diff.cc and json_path.cc (diffs and their
 *	  paths).
 */
#include "mysql_json.h"

#include "seterr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the type bytes of binary JSON */
enum
{
	JB_SMALL_OBJECT = 0x00, JB_LARGE_OBJECT = 0x01, JB_SMALL_ARRAY = 0x02,
	JB_LARGE_ARRAY = 0x03, JB_LITERAL = 0x04, JB_INT16 = 0x05, JB_UINT16 = 0x06,
	JB_INT32 = 0x07, JB_UINT32 = 0x08, JB_INT64 = 0x09, JB_UINT64 = 0x0a,
	JB_DOUBLE = 0x0b, JB_STRING = 0x0c, JB_OPAQUE = 0x0f
};

enum
{
	JB_NULL_LITERAL = 0, JB_TRUE_LITERAL = 1, JB_FALSE_LITERAL = 2
};

/* the MySQL field types of opaque values that print as values of their own */
enum
{
	FT_TIMESTAMP = 7, FT_DATE = 10, FT_TIME = 11, FT_DATETIME = 12,
	FT_NEWDECIMAL = 246, FT_VAR_STRING = 253
};

/* where text goes and where a message goes */
typedef struct jctx
{
	ebuf	   *out;
	char	   *err;
	size_t		errlen;
} jctx;

static bool
bad(jctx *c, const char *what)
{
	seterr(c->err, c->errlen, "malformed JSON value: %s", what);
	return false;
}

static bool
oom(jctx *c)
{
	seterr(c->err, c->errlen, "out of memory");
	return false;
}

static bool
put(jctx *c, const void *s, size_t n)
{
	return ebuf_append(c->out, s, n) || oom(c);
}

static bool
putc_(jctx *c, char ch)
{
	return ebuf_putc(c->out, ch) || oom(c);
}

static bool
puts_(jctx *c, const char *s)
{
	return put(c, s, strlen(s));
}

static uint64_t
rd_le(const uint8_t *p, int n)
{
	uint64_t	v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t
rd_be(const uint8_t *p, int n)
{
	uint64_t	v = 0;

	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

static bool
put_u64(jctx *c, uint64_t v)
{
	return ebuf_put_u64(c->out, v) || oom(c);
}

static bool
put_i64(jctx *c, int64_t v)
{
	return ebuf_put_i64(c->out, v) || oom(c);
}

/* ---------------------------------------------------------------- strings */

/*
 * quote appends s as a JSON string the way double_quote() does: only '"',
 * '\\' and control characters are escaped (\b \t \n \f \r by name, the
 * others as \u00xx in lower case); everything else, non-ASCII included,
 * goes as it is.
 */
static bool
quote(jctx *c, const uint8_t *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t		run = 0;

	if (!putc_(c, '"'))
		return false;
	for (size_t i = 0; i < n; i++)
	{
		uint8_t		ch = s[i];
		char		esc[6];
		size_t		elen = 2;

		if (ch > 0x1f && ch != '"' && ch != '\\')
			continue;
		/* the characters before it, at once */
		if (!put(c, s + run, i - run))
			return false;
		run = i + 1;
		esc[0] = '\\';
		switch (ch)
		{
			case '\b': esc[1] = 'b'; break;
			case '\t': esc[1] = 't'; break;
			case '\n': esc[1] = 'n'; break;
			case '\f': esc[1] = 'f'; break;
			case '\r': esc[1] = 'r'; break;
			case '"': case '\\': esc[1] = (char) ch; break;
			default:
				esc[1] = 'u';
				esc[2] = '0';
				esc[3] = '0';
				esc[4] = hex[ch >> 4];
				esc[5] = hex[ch & 15];
				elen = 6;
		}
		if (!put(c, esc, elen))
			return false;
	}
	return put(c, s + run, n - run) && putc_(c, '"');
}

/*
 * varlen reads the length of a string or opaque value: 7 bits a byte,
 * least significant first, the high bit saying another byte follows; at
 * most 5 bytes (read_variable_length)
 */
static bool
varlen(const uint8_t *p, size_t len, uint32_t *v, size_t *n)
{
	uint64_t	l = 0;

	for (size_t i = 0; i < len && i < 5; i++)
	{
		l |= (uint64_t) (p[i] & 0x7f) << (7 * i);
		if ((p[i] & 0x80) == 0)
		{
			if (l > UINT32_MAX)
				return false;
			*v = (uint32_t) l;
			*n = i + 1;
			return true;
		}
	}
	return false;
}

/* ---------------------------------------------------------------- numbers */

/*
 * shortest writes the fewest significant digits that read back as x
 * (finite, > 0), as dtoa's shortest mode gives them (my_gcvt asks dtoa
 * for 34 digits in mode 4, which stops at the shortest string that reads
 * back): digits without trailing zeros, and decpt with x = 0.digits *
 * 10^decpt.  Returns the number of digits.
 *
 * The C library's printf rounds correctly, so the first precision whose
 * correctly rounded digits read back is the shortest, but for one case:
 * at a power of two the doubles below are twice as close as those above,
 * so the nearest digits of a precision may fall below the interval that
 * reads back as x while the next ones up are inside it; dtoa returns
 * those, and so does this.
 */
static int
shortest(double x, char *digits, int *decpt)
{
	char		buf[48];

	for (int prec = 1; prec <= 17; prec++)
	{
		char		d[24];
		int			nd = 0,
					e;
		char	   *p;
		double		back;

		snprintf(buf, sizeof(buf), "%.*e", prec - 1, x);
		/* d.ddde[+-]XX into digits and exponent */
		for (p = buf; *p && *p != 'e'; p++)
			if (*p >= '0' && *p <= '9')
				d[nd++] = *p;
		if (*p != 'e' || nd != prec)
			return 0;
		e = atoi(p + 1);
		back = strtod(buf, NULL);
		if (back != x)
		{
			int			i;

			if (back > x)
				continue;
			/* the next prec-digit number up */
			for (i = nd - 1; i >= 0 && d[i] == '9'; i--)
				d[i] = '0';
			if (i < 0)
			{
				d[0] = '1';
				e++;
			}
			else
				d[i]++;
			snprintf(buf, sizeof(buf), "%c%s%.*se%d", d[0], nd > 1 ? "." : "", nd - 1, d + 1, e);
			if (strtod(buf, NULL) != x)
				continue;
		}
		while (nd > 1 && d[nd - 1] == '0')
			nd--;
		memcpy(digits, d, nd);
		*decpt = e + 1;
		return nd;
	}
	return 0;					/* 17 digits always read back */
}

/*
 * put_double appends x as wrapper_to_string does: my_gcvt(x,
 * MY_GCVT_ARG_DOUBLE, MY_GCVT_MAX_FIELD_WIDTH), then ".0" when that has
 * neither a '.' nor an 'e' (1.0 stays "1.0", 1e15 is "1e15", 0.1 "0.1").
 * my_gcvt chooses between the 'f' and the 'e' format by the field width
 * (34, one less for a negative number); with at most 17 significant
 * digits its truncating paths cannot be reached, so they are not here.
 */
static bool
put_double(jctx *c, double x)
{
	const int	max_decpt_f = 15;	/* MAX_DECPT_FOR_F_FORMAT (DBL_DIG) */
	int			width = 15 + 4 + 15;	/* MY_GCVT_MAX_FIELD_WIDTH */
	char		digits[24];
	char		out[64];
	int			len,
				decpt,
				exp_len,
				n = 0;
	bool		have_space,
				force_e,
				dot = false;

	if (!isfinite(x))
		return bad(c, "a double that is not a number");
	if (x < 0.)
		width--;
	if (x == 0.)
	{
		/* dtoa's zero: "0" at decpt 1 (its sign kept, as dtoa keeps it) */
		digits[0] = '0';
		len = 1;
		decpt = 1;
	}
	else if ((len = shortest(x < 0 ? -x : x, digits, &decpt)) == 0)
		return bad(c, "a double that cannot be printed");
	if (signbit(x))
		out[n++] = '-';

	exp_len = 1 + (decpt >= 101 || decpt <= -99) + (decpt >= 11 || decpt <= -9);
	have_space = (decpt <= 0 ? len - decpt + 2 : decpt < len ? len + 1 : decpt) <= width;
	force_e = decpt <= 0 && width <= 2 - decpt && width >= 3 + exp_len;
	if ((have_space ||
		 ((decpt <= width && (decpt >= -1 || (decpt == -2 && (len > 1 || !force_e)))) && !force_e)) &&
		(!have_space || (decpt >= -max_decpt_f + 1 && (decpt <= max_decpt_f || len > decpt))))
	{
		/* 'f' format */
		int			i;

		if (decpt <= 0)
		{
			out[n++] = '0';
			out[n++] = '.';
			dot = true;
			for (i = decpt; i < 0; i++)
				out[n++] = '0';
		}
		for (i = 1; i <= len; i++)
		{
			out[n++] = digits[i - 1];
			if (i == decpt && i < len)
			{
				out[n++] = '.';
				dot = true;
			}
		}
		for (; i <= decpt; i++)
			out[n++] = '0';
		if (!dot)
		{
			out[n++] = '.';
			out[n++] = '0';
		}
	}
	else
	{
		/* 'e' format: d.ddde-X, the exponent without padding or '+' */
		int			e = decpt - 1;

		out[n++] = digits[0];
		if (len > 1)
		{
			out[n++] = '.';
			memcpy(out + n, digits + 1, len - 1);
			n += len - 1;
		}
		out[n++] = 'e';
		if (e < 0)
		{
			out[n++] = '-';
			e = -e;
		}
		if (e >= 100)
			out[n++] = (char) ('0' + e / 100);
		if (e >= 10)
			out[n++] = (char) ('0' + e / 10 % 10);
		out[n++] = (char) ('0' + e % 10);
	}
	return put(c, out, n);
}

/* zdigits writes v as exactly width digits at dst; returns width */
static int
zdigits(char *dst, uint32_t v, int width)
{
	for (int i = width - 1; i >= 0; i--)
	{
		dst[i] = (char) ('0' + v % 10);
		v /= 10;
	}
	return width;
}

int
mj_decimal_size(int precision, int scale)
{
	static const int dig2bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
	int			intg = precision - scale;

	return intg / 9 * 4 + dig2bytes[intg % 9] + scale / 9 * 4 + dig2bytes[scale % 9];
}

bool
mj_decimal_text(const uint8_t *p, int precision, int scale, ebuf *b)
{
	static const int dig2bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
	static const uint32_t pow10[10] = {1, 10, 100, 1000, 10000, 100000, 1000000,
	10000000, 100000000, 1000000000};
	int			intg = precision - scale;
	int			intg0 = intg / 9,
				intg0x = intg % 9,
				frac0 = scale / 9,
				frac0x = scale % 9,
				size = mj_decimal_size(precision, scale);
	uint8_t		buf[64];
	bool		negative,
				nonzero = false;
	char		digits[96];
	char		text[200];
	int			nd = 0,
				pos = 0,
				n = 0,
				lead = 0;

	if (precision < 0 || precision > 81 || scale < 0 || scale > precision)
		return false;
	if (size == 0)
		return ebuf_putc(b, '0');	/* a zero without digits */
	memcpy(buf, p, size);
	negative = (buf[0] & 0x80) == 0;
	buf[0] ^= 0x80;
	if (negative)
		for (int i = 0; i < size; i++)
			buf[i] = (uint8_t) ~buf[i];

	/* the integer part's digits, then the fraction's */
	if (intg0x)
	{
		uint32_t	v = (uint32_t) rd_be(buf, dig2bytes[intg0x]);

		if (v >= pow10[intg0x])
			return false;
		nd += zdigits(digits + nd, v, intg0x);
		pos += dig2bytes[intg0x];
	}
	for (int i = 0; i < intg0; i++, pos += 4)
	{
		uint32_t	v = (uint32_t) rd_be(buf + pos, 4);

		if (v >= pow10[9])
			return false;
		nd += zdigits(digits + nd, v, 9);
	}
	while (lead < nd - 1 && digits[lead] == '0')
		lead++;
	if (nd == 0)
		digits[nd++] = '0';
	for (int i = lead; i < nd; i++)
		nonzero |= digits[i] != '0';
	text[n++] = '-';
	memcpy(text + n, digits + lead, nd - lead);
	n += nd - lead;
	if (scale > 0)
	{
		nd = 0;
		for (int i = 0; i < frac0; i++, pos += 4)
		{
			uint32_t	v = (uint32_t) rd_be(buf + pos, 4);

			if (v >= pow10[9])
				return false;
			nd += zdigits(digits + nd, v, 9);
		}
		if (frac0x)
		{
			uint32_t	v = (uint32_t) rd_be(buf + pos, dig2bytes[frac0x]);

			if (v >= pow10[frac0x])
				return false;
			nd += zdigits(digits + nd, v, frac0x);
		}
		for (int i = 0; i < nd; i++)
			nonzero |= digits[i] != '0';
		text[n++] = '.';
		memcpy(text + n, digits, nd);
		n += nd;
	}
	/* the sign went first; a positive value or a zero has none */
	if (!negative || !nonzero)
		return ebuf_append(b, text + 1, n - 1);
	return ebuf_append(b, text, n);
}

/*
 * put_decimal appends a JSON DECIMAL (Json_decimal): its precision and
 * scale bytes, then the value in the DECIMAL binary form of the binary
 * log.  A my_decimal's precision, not a column's: up to its nine groups
 * of nine digits (MySQL writes 66 for 35 + 30 digits), and 0 for a zero
 * without digits.
 */
static bool
put_decimal(jctx *c, const uint8_t *p, size_t len)
{
	int			precision,
				scale;

	if (len < 2)
		return bad(c, "a decimal without its precision and scale");
	precision = (int8_t) p[0];
	scale = (int8_t) p[1];
	if (precision < 0 || precision > 81 || scale < 0 || scale > precision)
		return bad(c, "a decimal of impossible precision or scale");
	if ((size_t) mj_decimal_size(precision, scale) != len - 2)
		return bad(c, "a decimal of the wrong length");
	if (!mj_decimal_text(p + 2, precision, scale, c->out))
		return bad(c, "a decimal digit group out of range");
	return true;
}

/* ---------------------------------------------------------------- opaque */

/* two appends v as two digits, "00" when it has more (format_two_digits) */
static int
two(char *dst, unsigned v)
{
	if (v >= 100)
		v = 0;
	dst[0] = (char) ('0' + v / 10);
	dst[1] = (char) ('0' + v % 10);
	return 2;
}

/*
 * put_temporal appends a DATE, TIME, DATETIME or TIMESTAMP held as
 * MySQL's packed integer (8 bytes, little-endian), quoted, as
 * my_TIME_to_str(..., 6) prints it: six fraction digits on times and
 * datetimes, hours of a TIME with as many digits as they need.
 */
static bool
put_temporal(jctx *c, int ft, const uint8_t *p, size_t len)
{
	int64_t		packed;
	uint64_t	v;
	bool		neg;
	uint32_t	frac;
	char		t[64];
	int			n = 0;

	if (len != 8)
		return bad(c, "a date or time of the wrong length");
	packed = (int64_t) rd_le(p, 8);
	neg = packed < 0;
	v = neg ? (uint64_t) 0 - (uint64_t) packed : (uint64_t) packed;
	frac = (uint32_t) (v % (1 << 24));
	if (frac > 999999)
		return bad(c, "a fraction of a second out of range");
	t[n++] = '"';
	if (ft == FT_TIME)
	{
		uint64_t	hms = v >> 24;
		unsigned	h = (unsigned) ((hms >> 12) % (1 << 10));

		if (neg)
			t[n++] = '-';
		/* hours: at least two digits (up to 1023 in ten bits) */
		if (h >= 100)
			n += zdigits(t + n, h, h >= 1000 ? 4 : 3);
		else
			n += two(t + n, h);
		t[n++] = ':';
		n += two(t + n, (unsigned) ((hms >> 6) % (1 << 6)));
		t[n++] = ':';
		n += two(t + n, (unsigned) (hms % (1 << 6)));
	}
	else
	{
		/* a datetime's packed form; its sign is not printed */
		uint64_t	ymdhms = v >> 24;
		uint64_t	ymd = ymdhms >> 17;
		uint64_t	ym = ymd >> 5;
		uint64_t	hms = ymdhms % (1 << 17);
		unsigned	y = (unsigned) (ym / 13);

		n += two(t + n, y / 100);
		n += two(t + n, y % 100);
		t[n++] = '-';
		n += two(t + n, (unsigned) (ym % 13));
		t[n++] = '-';
		n += two(t + n, (unsigned) (ymd % (1 << 5)));
		if (ft != FT_DATE)
		{
			t[n++] = ' ';
			n += two(t + n, (unsigned) (hms >> 12));
			t[n++] = ':';
			n += two(t + n, (unsigned) ((hms >> 6) % (1 << 6)));
			t[n++] = ':';
			n += two(t + n, (unsigned) (hms % (1 << 6)));
		}
	}
	if (ft != FT_DATE)
	{
		t[n++] = '.';
		n += zdigits(t + n, frac, 6);
	}
	t[n++] = '"';
	return put(c, t, n);
}

/*
 * put_opaque_base64 appends any other opaque value as
 * "base64:typeNN:..." (quoted): MySQL's base64, which breaks its lines
 * after every 76 characters (the '\n' then escaped by the quoting)
 */
static bool
put_opaque_base64(jctx *c, int ft, const uint8_t *p, size_t len)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	ebuf		text;
	char		head[32];
	size_t		col = 0;
	bool		ok;

	ebuf_init(&text);
	snprintf(head, sizeof(head), "base64:type%d:", ft);
	ok = ebuf_puts(&text, head) && ebuf_reserve(&text, len / 3 * 4 + len / 57 + 8);
	for (size_t i = 0; ok && i < len; i += 3, col += 4)
	{
		uint32_t	v = (uint32_t) p[i] << 16;
		char		q[5];
		int			qn = 0;

		if (col == 76)
		{
			q[qn++] = '\n';
			col = 0;
		}
		if (i + 1 < len)
			v |= (uint32_t) p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		q[qn++] = tab[v >> 18 & 63];
		q[qn++] = tab[v >> 12 & 63];
		q[qn++] = i + 1 < len ? tab[v >> 6 & 63] : '=';
		q[qn++] = i + 2 < len ? tab[v & 63] : '=';
		ok = ebuf_append(&text, q, qn);
	}
	if (!ok)
	{
		ebuf_free(&text);
		return oom(c);
	}
	ok = quote(c, (const uint8_t *) text.data, text.len);
	ebuf_free(&text);
	return ok;
}

static bool
put_opaque(jctx *c, const uint8_t *p, size_t len)
{
	uint32_t	vlen;
	size_t		n;
	int			ft;

	if (len < 1 || !varlen(p + 1, len - 1, &vlen, &n) || len - 1 - n < vlen)
		return bad(c, "an opaque value longer than its container");
	ft = p[0];
	p += 1 + n;
	switch (ft)
	{
		case FT_VAR_STRING:
			/* a string held as opaque prints as a string */
			return quote(c, p, vlen);
		case FT_NEWDECIMAL:
			return put_decimal(c, p, vlen);
		case FT_DATE:
		case FT_TIME:
		case FT_DATETIME:
		case FT_TIMESTAMP:
			return put_temporal(c, ft, p, vlen);
		default:
			return put_opaque_base64(c, ft, p, vlen);
	}
}

/* ---------------------------------------------------------------- containers */

/* an object or array of binary JSON */
typedef struct jcont
{
	const uint8_t *data;		/* its element count, then the rest */
	uint32_t	count;
	uint32_t	size;			/* its bytes from data on */
	int			osz;			/* offsets and sizes: 2 bytes, 4 when large */
	bool		object;
} jcont;

static bool
is_container(uint8_t type)
{
	return type <= JB_LARGE_ARRAY;
}

/* inlined: a value that sits in its value entry (inlined_type) */
static bool
inlined(uint8_t type, bool large)
{
	return type == JB_LITERAL || type == JB_INT16 || type == JB_UINT16 ||
		(large && (type == JB_INT32 || type == JB_UINT32));
}

static size_t
header_size(const jcont *o)
{
	return 2 * (size_t) o->osz + (size_t) o->count * (o->object ? o->osz + 2 : 0) +
		(size_t) o->count * (1 + o->osz);
}

/* cont_open reads a container's header (parse_array_or_object) */
static bool
cont_open(jctx *c, uint8_t type, const uint8_t *data, size_t len, jcont *o)
{
	bool		large = type == JB_LARGE_OBJECT || type == JB_LARGE_ARRAY;

	o->osz = large ? 4 : 2;
	o->object = type == JB_SMALL_OBJECT || type == JB_LARGE_OBJECT;
	o->data = data;
	if (len < 2 * (size_t) o->osz)
		return bad(c, "a truncated object or array");
	o->count = (uint32_t) rd_le(data, o->osz);
	o->size = (uint32_t) rd_le(data + o->osz, o->osz);
	if (o->size > len)
		return bad(c, "an object or array longer than its container");
	if (header_size(o) > o->size)
		return bad(c, "an object or array too small for its element count");
	return true;
}

/* cont_key: the key of member i (Value::key) */
static bool
cont_key(jctx *c, const jcont *o, uint32_t i, const uint8_t **key, size_t *klen)
{
	size_t		entry = 2 * (size_t) o->osz + (size_t) i * (o->osz + 2);
	uint32_t	off = (uint32_t) rd_le(o->data + entry, o->osz);
	uint32_t	l = (uint32_t) rd_le(o->data + entry + o->osz, 2);

	/* after the header, within the object */
	if (off < header_size(o) || (uint64_t) off + l > o->size)
		return bad(c, "a key outside its object");
	*key = o->data + off;
	*klen = l;
	return true;
}

/*
 * cont_elem: the type and bytes of element (or member value) i, as
 * Value::element finds them: in its entry when inlined, else at its
 * offset, which must lie after the entry and within the container
 */
static bool
cont_elem(jctx *c, const jcont *o, uint32_t i, uint8_t *type, const uint8_t **p, size_t *len)
{
	size_t		vesz = 1 + (size_t) o->osz;
	size_t		entry = 2 * (size_t) o->osz + (o->object ? (size_t) o->count * (o->osz + 2) : 0) +
		(size_t) i * vesz;
	uint32_t	off;

	*type = o->data[entry];
	if (inlined(*type, o->osz == 4))
	{
		*p = o->data + entry + 1;
		*len = (size_t) o->osz;
		return true;
	}
	off = (uint32_t) rd_le(o->data + entry + 1, o->osz);
	if (off > o->size || off < entry + vesz)
		return bad(c, "a value outside its object or array");
	*p = o->data + off;
	*len = o->size - off;
	return true;
}

/* ---------------------------------------------------------------- values */

/*
 * print_value appends the value of binary type type at (p, len) (the
 * bytes after its type byte, up to the end of what contains it); depth is
 * the number of objects and arrays around it
 */
static bool
print_value(jctx *c, uint8_t type, const uint8_t *p, size_t len, int depth)
{
	switch (type)
	{
		case JB_SMALL_OBJECT:
		case JB_LARGE_OBJECT:
		case JB_SMALL_ARRAY:
		case JB_LARGE_ARRAY:
			{
				jcont		o;

				if (depth >= MJ_MAX_DEPTH)
					return bad(c, "nested deeper than 100 levels");
				if (!cont_open(c, type, p, len, &o) || !putc_(c, o.object ? '{' : '['))
					return false;
				for (uint32_t i = 0; i < o.count; i++)
				{
					uint8_t		t;
					const uint8_t *v;
					size_t		vlen;

					if (i > 0 && !put(c, ", ", 2))
						return false;
					if (o.object)
					{
						const uint8_t *k;
						size_t		klen;

						if (!cont_key(c, &o, i, &k, &klen) || !quote(c, k, klen) || !put(c, ": ", 2))
							return false;
					}
					if (!cont_elem(c, &o, i, &t, &v, &vlen) || !print_value(c, t, v, vlen, depth + 1))
						return false;
				}
				return putc_(c, o.object ? '}' : ']');
			}
		case JB_LITERAL:
			if (len < 1)
				return bad(c, "a truncated literal");
			switch (p[0])
			{
				case JB_NULL_LITERAL: return puts_(c, "null");
				case JB_TRUE_LITERAL: return puts_(c, "true");
				case JB_FALSE_LITERAL: return puts_(c, "false");
			}
			return bad(c, "an unknown literal");
		case JB_INT16:
			return len >= 2 ? put_i64(c, (int16_t) rd_le(p, 2)) : bad(c, "a truncated number");
		case JB_UINT16:
			return len >= 2 ? put_u64(c, rd_le(p, 2)) : bad(c, "a truncated number");
		case JB_INT32:
			return len >= 4 ? put_i64(c, (int32_t) rd_le(p, 4)) : bad(c, "a truncated number");
		case JB_UINT32:
			return len >= 4 ? put_u64(c, rd_le(p, 4)) : bad(c, "a truncated number");
		case JB_INT64:
			return len >= 8 ? put_i64(c, (int64_t) rd_le(p, 8)) : bad(c, "a truncated number");
		case JB_UINT64:
			return len >= 8 ? put_u64(c, rd_le(p, 8)) : bad(c, "a truncated number");
		case JB_DOUBLE:
			{
				uint64_t	bits;
				double		d;

				if (len < 8)
					return bad(c, "a truncated number");
				/* float8store: IEEE 754, little-endian */
				bits = rd_le(p, 8);
				memcpy(&d, &bits, 8);
				return put_double(c, d);
			}
		case JB_STRING:
			{
				uint32_t	slen;
				size_t		n;

				if (!varlen(p, len, &slen, &n) || len - n < slen)
					return bad(c, "a string longer than its container");
				return quote(c, p + n, slen);
			}
		case JB_OPAQUE:
			return put_opaque(c, p, len);
	}
	return bad(c, "an unknown value type");
}

bool
mj_text(const uint8_t *p, size_t len, ebuf *out, char *err, size_t errlen)
{
	jctx		c = {out, err, errlen};
	size_t		start = out->len;

	/* parse_binary reads an empty value (IGNORE, non-strict mode) as null */
	if (len == 0)
		return puts_(&c, "null");
	if (!print_value(&c, p[0], p + 1, len - 1, 0))
	{
		out->len = start;
		return false;
	}
	return true;
}

/* ---------------------------------------------------------------- diffs */

/*
 * A diff applies to a tree of the before value that is built only along
 * the paths the diffs take: a node is either a binary value left as it is
 * (printed straight from its bytes) or an object or array taken apart
 * into its members, whose own values are again nodes.  The values diffs
 * bring stay in the event's bytes.
 */
typedef struct jnode jnode;
struct jnode
{
	uint8_t		type;			/* binary type; an expanded object or array: JB_SMALL_* */
	bool		expanded;
	const uint8_t *p;			/* not expanded: its bytes after the type byte */
	size_t		len;
	const uint8_t *key;			/* the member name, in an object */
	size_t		klen;
	uint32_t	n;				/* expanded: its members or elements */
	uint32_t	cap;
	jnode	   *kid;
};

/* everything a diff list's application allocates, freed at once */
typedef struct jarena
{
	void	  **blk;
	size_t		n;
	size_t		cap;
} jarena;

static void *
arena_alloc(jarena *a, size_t size)
{
	void	   *p;

	if (a->n == a->cap)
	{
		size_t		cap = a->cap ? a->cap * 2 : 16;
		void	  **b = realloc(a->blk, cap * sizeof(void *));

		if (b == NULL)
			return NULL;
		a->blk = b;
		a->cap = cap;
	}
	if ((p = malloc(size ? size : 1)) != NULL)
		a->blk[a->n++] = p;
	return p;
}

static void
arena_free(jarena *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->blk[i]);
	free(a->blk);
}

/* the state of one mj_apply_diff */
typedef struct japply
{
	jctx		c;
	jarena		a;
	ebuf		scratch;		/* checks diff values by printing them */
} japply;

/* expand takes an object or array node apart (a scalar is left alone) */
static bool
expand(japply *s, jnode *node)
{
	jcont		o;

	if (node->expanded || !is_container(node->type))
		return true;
	if (!cont_open(&s->c, node->type, node->p, node->len, &o))
		return false;
	node->cap = o.count + 1;
	if ((node->kid = arena_alloc(&s->a, sizeof(jnode) * node->cap)) == NULL)
		return oom(&s->c);
	for (uint32_t i = 0; i < o.count; i++)
	{
		jnode	   *k = &node->kid[i];

		memset(k, 0, sizeof(*k));
		if (!cont_elem(&s->c, &o, i, &k->type, &k->p, &k->len) ||
			(o.object && !cont_key(&s->c, &o, i, &k->key, &k->klen)))
			return false;
	}
	node->n = o.count;
	node->type = o.object ? JB_SMALL_OBJECT : JB_SMALL_ARRAY;
	node->expanded = true;
	return true;
}

/* one leg of a diff's path: a member or an array cell */
typedef struct jleg
{
	bool		member;
	const uint8_t *name;
	size_t		nlen;
	uint32_t	index;
	bool		from_end;		/* [last-N] */
} jleg;

static bool
is_space(uint8_t ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\v' || ch == '\f' || ch == '\r';
}

static int
hexval(uint8_t ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static bool
hex4(const uint8_t *s, size_t n, size_t i, uint32_t *v)
{
	*v = 0;
	if (n - i < 4)
		return false;
	for (int k = 0; k < 4; k++)
	{
		int			h = hexval(s[i + k]);

		if (h < 0)
			return false;
		*v = *v << 4 | (uint32_t) h;
	}
	return true;
}

/*
 * unescape decodes the body of a JSON string (s, n), without its quotes,
 * into dst (n bytes are enough: no escape is shorter than what it means),
 * as the JSON parser MySQL sends member names through does
 */
static bool
unescape(const uint8_t *s, size_t n, uint8_t *dst, size_t *dlen)
{
	size_t		d = 0;

	for (size_t i = 0; i < n; i++)
	{
		uint32_t	cp;

		if (s[i] < 0x20 || s[i] == '"')
			return false;
		if (s[i] != '\\')
		{
			dst[d++] = s[i];
			continue;
		}
		if (++i == n)
			return false;
		switch (s[i])
		{
			case '"': case '\\': case '/': dst[d++] = s[i]; continue;
			case 'b': dst[d++] = '\b'; continue;
			case 'f': dst[d++] = '\f'; continue;
			case 'n': dst[d++] = '\n'; continue;
			case 'r': dst[d++] = '\r'; continue;
			case 't': dst[d++] = '\t'; continue;
			case 'u': break;
			default: return false;
		}
		if (!hex4(s, n, i + 1, &cp))
			return false;
		i += 4;
		if (cp >= 0xD800 && cp <= 0xDBFF)
		{
			uint32_t	lo;

			/* a high surrogate: its low one must follow */
			if (n - i < 7 || s[i + 1] != '\\' || s[i + 2] != 'u' || !hex4(s, n, i + 3, &lo) ||
				lo < 0xDC00 || lo > 0xDFFF)
				return false;
			i += 6;
			cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
		}
		else if (cp >= 0xDC00 && cp <= 0xDFFF)
			return false;
		if (cp < 0x80)
			dst[d++] = (uint8_t) cp;
		else if (cp < 0x800)
		{
			dst[d++] = (uint8_t) (0xC0 | cp >> 6);
			dst[d++] = (uint8_t) (0x80 | (cp & 0x3F));
		}
		else if (cp < 0x10000)
		{
			dst[d++] = (uint8_t) (0xE0 | cp >> 12);
			dst[d++] = (uint8_t) (0x80 | (cp >> 6 & 0x3F));
			dst[d++] = (uint8_t) (0x80 | (cp & 0x3F));
		}
		else
		{
			dst[d++] = (uint8_t) (0xF0 | cp >> 18);
			dst[d++] = (uint8_t) (0x80 | (cp >> 12 & 0x3F));
			dst[d++] = (uint8_t) (0x80 | (cp >> 6 & 0x3F));
			dst[d++] = (uint8_t) (0x80 | (cp & 0x3F));
		}
	}
	*dlen = d;
	return true;
}

/*
 * parse_path reads a diff's path as Json_path::to_string writes it and
 * parse_path reads it: "$", then legs .name, ."quoted name", [N], [last]
 * or [last-N], whitespace allowed between.  Wildcards, ranges and
 * ellipses match many values and never come in a diff: refused.  1 when
 * read, 0 when malformed, -1 out of memory.
 */
static int
parse_path(japply *s, const uint8_t *p, size_t n, jleg **legs, int *nlegs)
{
	size_t		i = 0;
	int			cap = 0;

	*legs = NULL;
	*nlegs = 0;
	while (i < n && is_space(p[i]))
		i++;
	if (i == n || p[i++] != '$')
		return 0;
	for (;;)
	{
		jleg		leg;

		memset(&leg, 0, sizeof(leg));
		while (i < n && is_space(p[i]))
			i++;
		if (i == n)
			break;
		if (p[i] == '[')
		{
			uint64_t	idx = 0;

			i++;
			while (i < n && is_space(p[i]))
				i++;
			if (n - i >= 4 && memcmp(p + i, "last", 4) == 0)
			{
				leg.from_end = true;
				i += 4;
				while (i < n && is_space(p[i]))
					i++;
			}
			if (!leg.from_end || (i < n && p[i] == '-'))
			{
				if (leg.from_end)
				{
					i++;
					while (i < n && is_space(p[i]))
						i++;
				}
				if (i == n || p[i] < '0' || p[i] > '9')
					return 0;
				for (; i < n && p[i] >= '0' && p[i] <= '9'; i++)
					if ((idx = idx * 10 + (uint64_t) (p[i] - '0')) > UINT32_MAX)
						return 0;
			}
			leg.index = (uint32_t) idx;
			while (i < n && is_space(p[i]))
				i++;
			if (i == n || p[i++] != ']')
				return 0;	/* also "to" of a range */
		}
		else if (p[i] == '.')
		{
			size_t		start,
						end;
			uint8_t    *name;

			i++;
			while (i < n && is_space(p[i]))
				i++;
			if (i == n || p[i] == '*')
				return 0;
			start = i;
			if (p[i] == '"')
			{
				/* up to the next unescaped quote */
				for (i++; i < n && p[i] != '"'; i++)
					if (p[i] == '\\')
						i++;
				if (i >= n)
					return 0;
				end = i++;
				start++;
			}
			else
			{
				while (i < n && !is_space(p[i]) && p[i] != '[' && p[i] != '.' && p[i] != '*')
					i++;
				end = i;
			}
			if ((name = arena_alloc(&s->a, end - start)) == NULL)
			{
				(void) oom(&s->c);
				return -1;
			}
			if (!unescape(p + start, end - start, name, &leg.nlen))
				return 0;
			leg.member = true;
			leg.name = name;
		}
		else
			return 0;
		if (*nlegs == cap)
		{
			jleg	   *more;

			cap = cap ? cap * 2 : 8;
			if ((more = arena_alloc(&s->a, sizeof(jleg) * cap)) == NULL)
			{
				(void) oom(&s->c);
				return -1;
			}
			if (*nlegs)
				memcpy(more, *legs, sizeof(jleg) * *nlegs);
			*legs = more;
		}
		(*legs)[(*nlegs)++] = leg;
	}
	return 1;
}

/* array_pos: where index leg points in an array of n (Json_array_index) */
static uint32_t
array_pos(const jleg *leg, uint32_t n, bool *within)
{
	*within = leg->index < n;
	if (leg->from_end)
		return leg->index < n ? n - leg->index - 1 : 0;
	return leg->index < n ? leg->index : n;
}

/* key order in MySQL's objects: shorter first, then by bytes */
static int
key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return alen ? memcmp(a, b, alen) : 0;
}

static jnode *
member(jnode *obj, const jleg *leg)
{
	for (uint32_t i = 0; i < obj->n; i++)
		if (key_cmp(obj->kid[i].key, obj->kid[i].klen, leg->name, leg->nlen) == 0)
			return &obj->kid[i];
	return NULL;
}

/*
 * seek follows legs [0, nlegs) from node (seek_exact_path): members of
 * objects, cells of arrays, nothing else; NULL when the path is not there
 * (*failed on malformed bytes)
 */
static jnode *
seek(japply *s, jnode *node, const jleg *legs, int nlegs, bool *failed)
{
	for (int i = 0; i < nlegs; i++)
	{
		bool		within;
		uint32_t	pos;

		if (!expand(s, node))
		{
			*failed = true;
			return NULL;
		}
		if (!node->expanded)
			return NULL;		/* a scalar */
		if (node->type == JB_SMALL_ARRAY)
		{
			if (legs[i].member)
				return NULL;
			pos = array_pos(&legs[i], node->n, &within);
			if (!within)
				return NULL;
			node = &node->kid[pos];
		}
		else if (!legs[i].member || (node = member(node, &legs[i])) == NULL)
			return NULL;
	}
	return node;
}

/* make_room makes room for one more member or element in node */
static bool
make_room(japply *s, jnode *node)
{
	jnode	   *kid;

	if (node->n < node->cap)
		return true;
	if (node->cap > UINT32_MAX / 2 ||
		(kid = arena_alloc(&s->a, sizeof(jnode) * (size_t) node->cap * 2)) == NULL)
		return oom(&s->c);
	memcpy(kid, node->kid, sizeof(jnode) * node->n);
	node->kid = kid;
	node->cap *= 2;
	return true;
}

/*
 * apply1 applies one diff (apply_json_diff): REPLACE needs the value to be
 * there, INSERT needs a member not to be (an array takes the value at the
 * index, or at its end), REMOVE needs it there.  False with *rejected when
 * the diff does not fit the value.
 */
static bool
apply1(japply *s, jnode *root, int op, const jleg *legs, int nlegs, const jnode *value,
	   bool *rejected)
{
	bool		failed = false;
	jnode	   *parent;
	const jleg *last;
	bool		within;
	uint32_t	pos;

	*rejected = true;
	if (nlegs == 0)
		return false;			/* MySQL never writes a diff of the whole value */
	last = &legs[nlegs - 1];
	parent = seek(s, root, legs, nlegs - 1, &failed);
	if (parent != NULL && !expand(s, parent))
		failed = true;
	if (failed)
	{
		*rejected = false;
		return false;
	}
	if (parent == NULL || !parent->expanded)
		return false;
	if (parent->type == JB_SMALL_OBJECT)
	{
		jnode	   *m;

		if (!last->member)
			return false;
		m = member(parent, last);
		switch (op)
		{
			case MJ_REPLACE:
				if (m == NULL)
					return false;
				{
					const uint8_t *key = m->key;
					size_t		klen = m->klen;

					*m = *value;
					m->key = key;
					m->klen = klen;
				}
				break;
			case MJ_INSERT:
				{
					uint32_t	at = 0;

					if (m != NULL)
						return false;
					if (!make_room(s, parent))
					{
						*rejected = false;
						return false;
					}
					/* in key order, as MySQL's objects keep their members */
					while (at < parent->n &&
						   key_cmp(parent->kid[at].key, parent->kid[at].klen, last->name, last->nlen) < 0)
						at++;
					memmove(&parent->kid[at + 1], &parent->kid[at], sizeof(jnode) * (parent->n - at));
					parent->kid[at] = *value;
					parent->kid[at].key = last->name;
					parent->kid[at].klen = last->nlen;
					parent->n++;
					break;
				}
			case MJ_REMOVE:
				if (m == NULL)
					return false;
				pos = (uint32_t) (m - parent->kid);
				memmove(&parent->kid[pos], &parent->kid[pos + 1], sizeof(jnode) * (parent->n - pos - 1));
				parent->n--;
				break;
		}
	}
	else
	{
		if (last->member)
			return false;
		pos = array_pos(last, parent->n, &within);
		switch (op)
		{
			case MJ_REPLACE:
				if (!within)
					return false;
				parent->kid[pos] = *value;
				break;
			case MJ_INSERT:
				if (!make_room(s, parent))
				{
					*rejected = false;
					return false;
				}
				memmove(&parent->kid[pos + 1], &parent->kid[pos], sizeof(jnode) * (parent->n - pos));
				parent->kid[pos] = *value;
				parent->n++;
				break;
			case MJ_REMOVE:
				if (!within)
					return false;
				memmove(&parent->kid[pos], &parent->kid[pos + 1], sizeof(jnode) * (parent->n - pos - 1));
				parent->n--;
				break;
		}
	}
	*rejected = false;
	return true;
}

/* print_node appends a node: taken apart, or straight from its bytes */
static bool
print_node(japply *s, const jnode *node, int depth)
{
	jctx	   *c = &s->c;

	if (!node->expanded)
		return print_value(c, node->type, node->p, node->len, depth);
	if (depth >= MJ_MAX_DEPTH)
		return bad(c, "nested deeper than 100 levels");
	if (!putc_(c, node->type == JB_SMALL_OBJECT ? '{' : '['))
		return false;
	for (uint32_t i = 0; i < node->n; i++)
	{
		if (i > 0 && !put(c, ", ", 2))
			return false;
		if (node->type == JB_SMALL_OBJECT &&
			(!quote(c, node->kid[i].key, node->kid[i].klen) || !put(c, ": ", 2)))
			return false;
		if (!print_node(s, &node->kid[i], depth + 1))
			return false;
	}
	return putc_(c, node->type == JB_SMALL_OBJECT ? '}' : ']');
}

/* netlen reads a length-encoded integer (net_field_length_checked) */
static bool
netlen(const uint8_t *p, size_t len, size_t *pos, uint64_t *v)
{
	uint8_t		b;
	int			n;

	if (*pos >= len)
		return false;
	b = p[(*pos)++];
	if (b < 251)
	{
		*v = b;
		return true;
	}
	n = b == 252 ? 2 : b == 253 ? 3 : b == 254 ? 8 : 0;
	if (n == 0 || len - *pos < (size_t) n)
		return false;			/* 251 is SQL NULL, 255 nothing */
	*v = rd_le(p + *pos, n);
	*pos += n;
	return true;
}

/* a binary value as a node (an empty one is null, as parse_binary reads it) */
static void
value_node(const uint8_t *p, size_t len, jnode *node)
{
	static const uint8_t null_literal[1] = {JB_NULL_LITERAL};

	memset(node, 0, sizeof(*node));
	if (len == 0)
	{
		node->type = JB_LITERAL;
		node->p = null_literal;
		node->len = 1;
		return;
	}
	node->type = p[0];
	node->p = p + 1;
	node->len = len - 1;
}

static const char *
op_name(int op)
{
	return op == MJ_REPLACE ? "REPLACE" : op == MJ_INSERT ? "INSERT" : "REMOVE";
}

bool
mj_apply_diff(const uint8_t *before, size_t blen, const uint8_t *diff, size_t dlen,
			  ebuf *out, char *err, size_t errlen)
{
	japply		s;
	jnode		root;
	size_t		pos = 0;
	size_t		start = out->len;
	bool		ok = true;

	memset(&s, 0, sizeof(s));
	s.c = (jctx) {out, err, errlen};
	ebuf_init(&s.scratch);
	value_node(before, blen, &root);
	while (ok && pos < dlen)
	{
		int			op = diff[pos++];
		uint64_t	plen,
					vlen = 0;
		const uint8_t *path;
		jleg	   *legs;
		int			nlegs;
		jnode		value;
		bool		rejected;
		int			got;

		memset(&value, 0, sizeof(value));
		if (op > MJ_REMOVE)
		{
			seterr(err, errlen, "malformed JSON diff: operation %d", op);
			ok = false;
			break;
		}
		if (!netlen(diff, dlen, &pos, &plen) || plen > dlen - pos)
		{
			seterr(err, errlen, "malformed JSON diff: a path longer than the diff");
			ok = false;
			break;
		}
		path = diff + pos;
		pos += plen;
		if ((got = parse_path(&s, path, (size_t) plen, &legs, &nlegs)) <= 0)
		{
			if (got == 0)
				seterr(err, errlen, "malformed JSON diff: path \"%.*s\"", (int) (plen > 200 ? 200 : plen),
					   (const char *) path);
			ok = false;
			break;
		}
		if (op != MJ_REMOVE)
		{
			if (!netlen(diff, dlen, &pos, &vlen) || vlen > dlen - pos)
			{
				seterr(err, errlen, "malformed JSON diff: a value longer than the diff");
				ok = false;
				break;
			}
			value_node(diff + pos, (size_t) vlen, &value);
			/* MySQL parses a diff's value whole, used or not: so does this */
			ebuf_reset(&s.scratch);
			s.c.out = &s.scratch;
			ok = print_value(&s.c, value.type, value.p, value.len, 0);
			s.c.out = out;
			if (!ok)
				break;
			pos += vlen;
		}
		if (!apply1(&s, &root, op, legs, nlegs, &value, &rejected))
		{
			if (rejected)
				seterr(err, errlen, "JSON diff %s of path \"%.*s\" does not apply to the before image's value",
					   op_name(op), (int) (plen > 200 ? 200 : plen), (const char *) path);
			ok = false;
		}
	}
	if (ok)
		ok = print_node(&s, &root, 0);
	if (!ok)
		out->len = start;
	ebuf_free(&s.scratch);
	arena_free(&s.a);
	return ok;
}
