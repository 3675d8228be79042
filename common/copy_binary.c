/*
 * copy_binary.c
 *	  Binary COPY encoding of MySQL values (see copy_binary.h).  Each
 *	  encoder produces exactly what the type's PostgreSQL send function
 *	  would, so that its receive function (with the column's typmod) reads
 *	  it back.
 */
#include "copy_binary.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mysql_source.h"
#include "seterr.h"

#define NUMERIC_POS 0x0000
#define NUMERIC_NEG 0x4000
#define TEXTOID_VALUE 25
#define USECS_PER_DAY INT64_C(86400000000)
#define POSTGRES_EPOCH_DAYS 10957	/* 2000-01-01 - 1970-01-01 */

bool
cb_header(ebuf *out)
{
	static const char sig[11] = "PGCOPY\n\377\r\n\0";

	return ebuf_append(out, sig, 11) && cb_put32(out, 0) && cb_put32(out, 0);
}

bool
cb_trailer(ebuf *out)
{
	return cb_put16(out, 0xFFFF);
}

bool
cb_row_start(ebuf *out, int ncols)
{
	return cb_put16(out, (uint16_t) ncols);
}

bool
cb_null(ebuf *out)
{
	return cb_put32(out, 0xFFFFFFFF);
}

/* cb_days_from_civil: days since 1970-01-01 of a proleptic Gregorian date */
int64_t
cb_days_from_civil(int64_t y, int m, int d)
{
	int64_t		era,
				yoe,
				doy,
				doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* cb_civil_from_days: the proleptic Gregorian date of days since 1970-01-01 */
void
cb_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t		era,
				doe,
				yoe,
				doy,
				mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int) (doy - (153 * mp + 2) / 5 + 1);
	*m = (int) (mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* digits parses n decimal digits at s; -1 if any is not a digit */
static int64_t
digits(const char *s, int n)
{
	int64_t		v = 0;

	for (int i = 0; i < n; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* fraction_usecs parses ".ffffff" (1 to 6 digits) at s into microseconds */
static int64_t
fraction_usecs(const char *s, size_t len)
{
	int64_t		us = 0;
	size_t		n = 0;

	if (len == 0)
		return 0;
	if (s[0] != '.')
		return -1;
	for (n = 1; n < len && n <= 6; n++)
	{
		if (s[n] < '0' || s[n] > '9')
			return -1;
		us = us * 10 + (s[n] - '0');
	}
	if (n != len)
		return -1;
	for (size_t k = n; k <= 6; k++)
		us *= 10;
	return us;
}

static bool
bad(char *err, size_t errlen, const char *what, const char *v, size_t len)
{
	seterr(err, errlen, "cannot read %.*s as %s", (int) (len > 40 ? 40 : len), v, what);
	return false;
}

/* a value: its length, then its bytes (the length is patched in at the end) */
static bool
begin_value(ebuf *out, size_t *at)
{
	*at = out->len;
	return cb_put32(out, 0);
}

static void
end_value(ebuf *out, size_t at)
{
	uint32_t	n = (uint32_t) (out->len - at - 4);

	out->data[at] = (char) (n >> 24);
	out->data[at + 1] = (char) (n >> 16);
	out->data[at + 2] = (char) (n >> 8);
	out->data[at + 3] = (char) n;
}

static bool
put_numeric(ebuf *out, const char *v, size_t len, char *err, size_t errlen)
{
	const char *s = v;
	const char *end = v + len;
	const char *point;
	bool		neg = false;
	int			intdigits,
				fracdigits;
	uint16_t	groups[64];
	int			ngroups = 0;
	int			weight;
	int			first = 0;

	if (s < end && (*s == '-' || *s == '+'))
		neg = *s++ == '-';
	point = memchr(s, '.', (size_t) (end - s));
	intdigits = (int) ((point ? point : end) - s);
	fracdigits = point ? (int) (end - point - 1) : 0;
	if (intdigits + fracdigits == 0 || intdigits + fracdigits > 4 * 60)
		return bad(err, errlen, "numeric", v, len);

	/* the integer part in groups of 4 from the point leftwards */
	{
		int			lead = intdigits % 4;
		const char *p = s;

		if (lead > 0)
		{
			int64_t		g = digits(p, lead);

			if (g < 0)
				return bad(err, errlen, "numeric", v, len);
			groups[ngroups++] = (uint16_t) g;
			p += lead;
		}
		for (; p < s + intdigits; p += 4)
		{
			int64_t		g = digits(p, 4);

			if (g < 0)
				return bad(err, errlen, "numeric", v, len);
			groups[ngroups++] = (uint16_t) g;
		}
	}
	weight = ngroups - 1;
	/* the fraction in groups of 4 from the point rightwards, zero-padded */
	for (int i = 0; i < fracdigits; i += 4)
	{
		int			n = fracdigits - i < 4 ? fracdigits - i : 4;
		int64_t		g = digits(point + 1 + i, n);

		if (g < 0)
			return bad(err, errlen, "numeric", v, len);
		for (int k = n; k < 4; k++)
			g *= 10;
		groups[ngroups++] = (uint16_t) g;
	}
	/* no leading or trailing zero groups */
	while (first < ngroups && groups[first] == 0)
	{
		first++;
		weight--;
	}
	while (ngroups > first && groups[ngroups - 1] == 0)
		ngroups--;
	if (ngroups == first)
	{
		weight = 0;
		neg = false;
	}
	if (!cb_put16(out, (uint16_t) (ngroups - first)) || !cb_put16(out, (uint16_t) (int16_t) weight) ||
		!cb_put16(out, neg ? NUMERIC_NEG : NUMERIC_POS) || !cb_put16(out, (uint16_t) fracdigits))
		return false;
	for (int i = first; i < ngroups; i++)
		if (!cb_put16(out, groups[i]))
			return false;
	return true;
}

/* parse_date reads YYYY-MM-DD; *zero for a zero year, month or day */
static bool
parse_date(const char *v, size_t len, int64_t *days, bool *zero)
{
	int64_t		y,
				m,
				d;

	if (len < 10 || v[4] != '-' || v[7] != '-')
		return false;
	y = digits(v, 4);
	m = digits(v + 5, 2);
	d = digits(v + 8, 2);
	if (y < 0 || m < 0 || d < 0 || m > 12 || d > 31)
		return false;
	*zero = y == 0 || m == 0 || d == 0;
	if (!*zero)
		*days = cb_days_from_civil(y, (int) m, (int) d) - POSTGRES_EPOCH_DAYS;
	return true;
}

bool
cb_timestamp(const char *v, size_t len, int64_t *usecs, bool *zero)
{
	int64_t		days = 0,
				h,
				mi,
				sec,
				us;

	if (!parse_date(v, len, &days, zero))
		return false;
	if (*zero)
		return true;
	if (len < 19 || v[10] != ' ' || v[13] != ':' || v[16] != ':')
		return false;
	h = digits(v + 11, 2);
	mi = digits(v + 14, 2);
	sec = digits(v + 17, 2);
	us = fraction_usecs(v + 19, len - 19);
	if (h < 0 || mi < 0 || sec < 0 || us < 0)
		return false;
	*usecs = days * USECS_PER_DAY + ((h * 60 + mi) * 60 + sec) * INT64_C(1000000) + us;
	return true;
}

bool
cb_value(ebuf *out, tp_conv conv, tp_wire wire, int bits,
		 const char *v, size_t len, char *err, size_t errlen)
{
	size_t		at;
	bool		ok = true;

	/* zero dates are NULL: decide before writing a length */
	if (wire == TW_DATE || wire == TW_TIMESTAMP)
	{
		int64_t		days = 0;
		bool		zero;

		if (!parse_date(v, len, &days, &zero))
			return bad(err, errlen, "a date", v, len);
		if (zero)
			return cb_null(out);
		if (!begin_value(out, &at))
			goto oom;
		if (wire == TW_DATE)
		{
			if (len != 10)
				return bad(err, errlen, "a date", v, len);
			ok = cb_put32(out, (uint32_t) (int32_t) days);
		}
		else
		{
			int64_t		us;

			if (!cb_timestamp(v, len, &us, &zero))
				return bad(err, errlen, "a timestamp", v, len);
			ok = cb_put64(out, (uint64_t) us);
		}
		if (!ok)
			goto oom;
		end_value(out, at);
		return true;
	}

	if (!begin_value(out, &at))
		goto oom;
	switch (wire)
	{
		case TW_BOOL:
			if (len != 1 || (v[0] != '0' && v[0] != '1'))
			{
				seterr(err, errlen, "value %.*s of a tinyint(1) column is neither 0 nor 1; "
					   "it cannot become a boolean without loss", (int) (len > 20 ? 20 : len), v);
				return false;
			}
			ok = ebuf_putc(out, v[0] == '1' ? 1 : 0);
			break;
		case TW_INT2:
		case TW_INT4:
		case TW_INT8:
			{
				char	   *end;
				long long	n;

				errno = 0;
				n = strtoll(v, &end, 10);
				if (errno != 0 || end != v + len || len == 0 ||
					(wire == TW_INT2 && (n < INT16_MIN || n > INT16_MAX)) ||
					(wire == TW_INT4 && (n < INT32_MIN || n > INT32_MAX)))
					return bad(err, errlen, "an integer of the column's size", v, len);
				ok = wire == TW_INT2 ? cb_put16(out, (uint16_t) (int16_t) n) :
					wire == TW_INT4 ? cb_put32(out, (uint32_t) (int32_t) n) :
					cb_put64(out, (uint64_t) n);
				break;
			}
		case TW_FLOAT4:
		case TW_FLOAT8:
			{
				char	   *end;

				if (wire == TW_FLOAT4)
				{
					float		f = strtof(v, &end);
					uint32_t	u;

					memcpy(&u, &f, 4);
					ok = cb_put32(out, u);
				}
				else
				{
					double		d = strtod(v, &end);
					uint64_t	u;

					memcpy(&u, &d, 8);
					ok = cb_put64(out, u);
				}
				if (end != v + len || len == 0)
					return bad(err, errlen, "a floating-point number", v, len);
				break;
			}
		case TW_NUMERIC:
			if (!put_numeric(out, v, len, err, errlen))
				return false;
			break;
		case TW_BIT:
			{
				/* the low 'bits' bits of MySQL's big-endian bytes, left-aligned */
				int			nbytes = (bits + 7) / 8;

				ok = cb_put32(out, (uint32_t) bits) && ebuf_reserve(out, (size_t) nbytes);
				if (!ok)
					break;
				memset(out->data + out->len, 0, (size_t) nbytes);
				for (int p = 0; p < bits; p++)
				{
					int			valbit = bits - 1 - p;
					size_t		byte = (size_t) valbit / 8;

					if (byte < len &&
						(((unsigned char) v[len - 1 - byte]) >> (valbit % 8)) & 1)
						out->data[out->len + p / 8] |= (char) (0x80 >> (p % 8));
				}
				out->len += (size_t) nbytes;
				break;
			}
		case TW_INTERVAL:
			{
				/* MySQL TIME: [-]H+:MM:SS[.ffffff] */
				const char *s = v;
				const char *c1;
				bool		neg = false;
				int64_t		h,
							mi,
							sec,
							us;

				if (len > 0 && *s == '-')
				{
					neg = true;
					s++;
				}
				c1 = memchr(s, ':', (size_t) (v + len - s));
				if (c1 == NULL || c1 - s > 9 || v + len - c1 < 6 || c1[3] != ':')
					return bad(err, errlen, "a time", v, len);
				h = digits(s, (int) (c1 - s));
				mi = digits(c1 + 1, 2);
				sec = digits(c1 + 4, 2);
				us = fraction_usecs(c1 + 6, (size_t) (v + len - c1 - 6));
				if (h < 0 || mi < 0 || sec < 0 || us < 0)
					return bad(err, errlen, "a time", v, len);
				us += ((h * 60 + mi) * 60 + sec) * INT64_C(1000000);
				ok = cb_put64(out, (uint64_t) (neg ? -us : us)) && cb_put32(out, 0) && cb_put32(out, 0);
				break;
			}
		case TW_JSONB:
			ok = ebuf_putc(out, 1) && ebuf_append(out, v, len);
			break;
		case TW_TEXT:
		case TW_BYTEA:
			ok = ebuf_append(out, v, len);
			break;
		case TW_TEXT_ARRAY:
			if (len == 0)
			{
				ok = cb_put32(out, 0) && cb_put32(out, 0) && cb_put32(out, TEXTOID_VALUE);
				break;
			}
			{
				uint32_t	n = 1;

				for (size_t i = 0; i < len; i++)
					n += v[i] == ',';
				ok = cb_put32(out, 1) && cb_put32(out, 0) && cb_put32(out, TEXTOID_VALUE) &&
					cb_put32(out, n) && cb_put32(out, 1);
				for (size_t i = 0; ok && i <= len;)
				{
					const char *comma = memchr(v + i, ',', len - i);
					size_t		j = comma ? (size_t) (comma - v) : len;

					ok = cb_put32(out, (uint32_t) (j - i)) && ebuf_append(out, v + i, j - i);
					i = j + 1;
				}
			}
			break;
		case TW_DATE:
		case TW_TIMESTAMP:
		case TW_NONE:
			seterr(err, errlen, "internal error: no binary encoding for this column");
			return false;
	}
	(void) conv;
	if (!ok)
		goto oom;
	end_value(out, at);
	return true;

oom:
	seterr(err, errlen, "out of memory encoding a value of %zu bytes", len);
	return false;
}

/* u64_text writes n's decimal digits (with a '-' when neg) ending at end */
static char *
u64_text(char *end, uint64_t n, bool neg)
{
	char	   *p = end;

	do
	{
		*--p = (char) ('0' + n % 10);
		n /= 10;
	} while (n > 0);
	if (neg)
		*--p = '-';
	return p;
}

bool
cb_typed_value(ebuf *out, tp_conv conv, tp_wire wire, int bits,
			   const ms_value *v, char *err, size_t errlen)
{
	size_t		at;
	bool		ok;

	switch (v->kind)
	{
		case MS_NULL:
			return cb_null(out);
		case MS_BYTES:
			return cb_value(out, conv, wire, bits, v->p, v->len, err, errlen);
		case MS_INT:
		case MS_UINT:
			{
				bool		neg = v->kind == MS_INT && v->i < 0;
				uint64_t	mag = v->kind == MS_UINT ? v->u :
					neg ? (uint64_t) 0 - (uint64_t) v->i : (uint64_t) v->i;
				char		text[24];
				char	   *t;
				size_t		len;

				/* NUL-terminated, as cb_value's text is */
				text[sizeof(text) - 1] = '\0';
				t = u64_text(text + sizeof(text) - 1, mag, neg);
				len = (size_t) (text + sizeof(text) - 1 - t);

				switch (wire)
				{
					case TW_INT2:
					case TW_INT4:
					case TW_INT8:
						{
							uint64_t	limit = wire == TW_INT2 ? INT16_MAX :
								wire == TW_INT4 ? INT32_MAX : INT64_MAX;

							/* -limit-1 .. limit, as strtoll and the ranges in cb_value */
							if (mag > limit + (neg ? 1 : 0))
								return cb_value(out, conv, wire, bits, t, len, err, errlen);
							if (!begin_value(out, &at))
								goto oom;
							{
								int64_t		n = neg ? (int64_t) (0 - mag) : (int64_t) mag;

								ok = wire == TW_INT2 ? cb_put16(out, (uint16_t) (int16_t) n) :
									wire == TW_INT4 ? cb_put32(out, (uint32_t) (int32_t) n) :
									cb_put64(out, (uint64_t) n);
							}
							if (!ok)
								goto oom;
							end_value(out, at);
							return true;
						}
					case TW_NUMERIC:
						{
							/* base-10000 digits of an integer: weight, no scale */
							uint16_t	groups[5];
							int			ngroups = 0,
										last;

							for (uint64_t m = mag; m > 0; m /= 10000)
								groups[ngroups++] = (uint16_t) (m % 10000);	/* lowest first */
							/* no trailing zero groups, as put_numeric */
							for (last = 0; last < ngroups && groups[last] == 0; last++)
								;
							if (!begin_value(out, &at))
								goto oom;
							ok = cb_put16(out, (uint16_t) (ngroups - last)) &&
								cb_put16(out, (uint16_t) (ngroups > 0 ? ngroups - 1 : 0)) &&
								cb_put16(out, neg ? NUMERIC_NEG : NUMERIC_POS) && cb_put16(out, 0);
							for (int g = ngroups - 1; ok && g >= last; g--)
								ok = cb_put16(out, groups[g]);
							if (!ok)
								goto oom;
							end_value(out, at);
							return true;
						}
					default:
						/* boolean: the digits, as the text protocol sends them */
						return cb_value(out, conv, wire, bits, t, len, err, errlen);
				}
			}
		case MS_DATETIME:
			{
				int64_t		days;

				if (v->year < 0 || v->year > 9999 || v->month < 0 || v->month > 12 ||
					v->day < 0 || v->day > 31)
				{
					seterr(err, errlen, "cannot read the date %04d-%02d-%02d", v->year, v->month, v->day);
					return false;
				}
				/* zero or zero-in-date: the policy's NULL, as parse_date */
				if (v->year == 0 || v->month == 0 || v->day == 0)
					return cb_null(out);
				days = cb_days_from_civil(v->year, v->month, v->day) - POSTGRES_EPOCH_DAYS;
				if (!begin_value(out, &at))
					goto oom;
				if (wire == TW_DATE)
					ok = cb_put32(out, (uint32_t) (int32_t) days);
				else if (wire == TW_TIMESTAMP)
				{
					if (v->hour < 0 || v->hour > 23 || v->minute < 0 || v->minute > 59 ||
						v->second < 0 || v->second > 59 || v->usec < 0 || v->usec > 999999)
					{
						seterr(err, errlen, "cannot read the time %02d:%02d:%02d.%06ld",
							   v->hour, v->minute, v->second, v->usec);
						return false;
					}
					ok = cb_put64(out, (uint64_t) (days * USECS_PER_DAY +
												   ((v->hour * INT64_C(60) + v->minute) * 60 + v->second) * INT64_C(1000000) +
												   v->usec));
				}
				else
				{
					seterr(err, errlen, "internal error: a date for a column of another type");
					return false;
				}
				if (!ok)
					goto oom;
				end_value(out, at);
				return true;
			}
	}
	seterr(err, errlen, "internal error: a value of no kind");
	return false;

oom:
	seterr(err, errlen, "out of memory encoding a value");
	return false;
}
