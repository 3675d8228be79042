/*
 * copy_binary.h
 *	  Writing rows in PostgreSQL's binary COPY format from MySQL's text
 *	  values, by the type policy: the parsing that COPY's text input
 *	  functions would do on the backend happens here instead, on the
 *	  reader thread.  Plain C, no PostgreSQL header.
 */
#ifndef ECSYNC_COPY_BINARY_H
#define ECSYNC_COPY_BINARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ebuf.h"
#include "type_policy.h"

/* big-endian integers, as every binary COPY field is written */
static inline bool
cb_put16(ebuf *b, uint16_t v)
{
	char		c[2] = {(char) (v >> 8), (char) v};

	return ebuf_append(b, c, 2);
}

static inline bool
cb_put32(ebuf *b, uint32_t v)
{
	char		c[4] = {(char) (v >> 24), (char) (v >> 16), (char) (v >> 8), (char) v};

	return ebuf_append(b, c, 4);
}

static inline bool
cb_put64(ebuf *b, uint64_t v)
{
	return cb_put32(b, (uint32_t) (v >> 32)) && cb_put32(b, (uint32_t) v);
}

/* days since 1970-01-01 of a proleptic Gregorian date */
extern int64_t cb_days_from_civil(int64_t y, int m, int d);
extern void cb_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/*
 * cb_timestamp reads MySQL's "YYYY-MM-DD HH:MM:SS[.f...]" (a DATETIME, or
 * a TIMESTAMP read in UTC) into microseconds since 2000-01-01, PostgreSQL's
 * epoch; *zero for a zero date (the policy's NULL).  False for another
 * shape.
 */
extern bool cb_timestamp(const char *v, size_t len, int64_t *usecs, bool *zero);

/* cb_header and cb_trailer frame the stream; cb_row_start begins a row */
extern bool cb_header(ebuf *out);
extern bool cb_trailer(ebuf *out);
extern bool cb_row_start(ebuf *out, int ncols);
extern bool cb_null(ebuf *out);

/*
 * cb_value appends one non-NULL MySQL value (NUL-terminated, len bytes) as
 * the binary form of the column's PostgreSQL type, or NULL where the policy
 * says so (zero dates).  False with a message for a value that cannot be
 * converted without loss, or when out of memory.
 */
extern bool cb_value(ebuf *out, tp_conv conv, tp_wire wire, int bits,
					 const char *v, size_t len, char *err, size_t errlen);

/*
 * cb_typed_native: can cb_typed_value take column's integers or dates as
 * MySQL's binary protocol holds them (the wires below), not as text?
 */
static inline bool
cb_typed_native(tp_conv conv, tp_wire wire)
{
	switch (wire)
	{
		case TW_INT2:
		case TW_INT4:
		case TW_INT8:
		case TW_NUMERIC:
			return conv == TP_NUMBER;
		case TW_BOOL:
			return conv == TP_BOOL;
		case TW_DATE:
			return conv == TP_DATE;
		case TW_TIMESTAMP:
			return conv == TP_DATETIME || conv == TP_TIMESTAMP;
		default:
			return false;
	}
}

/*
 * cb_typed_value appends one value of MySQL's binary protocol
 * (ms_fetch_typed) exactly as cb_value appends the same value's text:
 * bytes go to cb_value, integers and dates are encoded without text.
 */
struct ms_value;
extern bool cb_typed_value(ebuf *out, tp_conv conv, tp_wire wire, int bits,
						   const struct ms_value *v, char *err, size_t errlen);

#endif							/* ECSYNC_COPY_BINARY_H */
