/*
 * type_policy.h
 *	  ecsync's one policy for turning MySQL columns and values into
 *	  PostgreSQL ones (docs/batch.md, "Type policy").  Pure C, no PostgreSQL or
 *	  MySQL header: shared by the extension and ecsync-ingest.
 */
#ifndef ECSYNC_TYPE_POLICY_H
#define ECSYNC_TYPE_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "ebuf.h"

/* how a value in MySQL's text protocol becomes PostgreSQL input text */
typedef enum tp_conv
{
	TP_NUMBER,					/* digits, sign, point, exponent: as is */
	TP_TEXT,					/* UTF-8 text: as is (escaped by the writer) */
	TP_BOOL,					/* tinyint(1): 0 -> f, 1 -> t, else error */
	TP_BYTEA,					/* binary: \x hex */
	TP_BIT,						/* bit(n): big-endian bytes -> '0101' */
	TP_DATE,					/* zero or zero-in-date -> NULL */
	TP_DATETIME,				/* zero -> NULL, else wall-clock as is */
	TP_TIMESTAMP,				/* zero -> NULL, else UTC: append +00 */
	TP_TIME,					/* -838:59:59 .. 838:59:59 -> interval */
	TP_SET,						/* 'a,b' -> {"a","b"} */
	TP_JSON						/* as is, PostgreSQL checks it as jsonb */
} tp_conv;

/* the PostgreSQL type a column maps to, for binary COPY */
typedef enum tp_wire
{
	TW_NONE,					/* no binary encoding: the table uses text COPY */
	TW_BOOL,
	TW_INT2,
	TW_INT4,
	TW_INT8,
	TW_NUMERIC,
	TW_FLOAT4,
	TW_FLOAT8,
	TW_BIT,
	TW_DATE,
	TW_TIMESTAMP,				/* without and with time zone alike (UTC) */
	TW_INTERVAL,
	TW_TEXT,					/* text, varchar */
	TW_TEXT_ARRAY,
	TW_JSONB,
	TW_BYTEA
} tp_wire;

/* a MySQL column as information_schema describes it */
typedef struct tp_column
{
	const char *name;
	const char *data_type;		/* DATA_TYPE, e.g. "int" */
	const char *column_type;	/* COLUMN_TYPE, e.g. "int(10) unsigned" */
	bool		nullable;
	long		char_length;	/* CHARACTER_MAXIMUM_LENGTH or -1 */
	int			precision;		/* NUMERIC_PRECISION or -1 */
	int			scale;			/* NUMERIC_SCALE or -1 */
	int			datetime_precision; /* DATETIME_PRECISION or -1 */
	bool		is_json;		/* MariaDB: longtext CHECK (json_valid(col)) */
	const char *comment;		/* COLUMN_COMMENT; NULL or "" for none */
} tp_column;

/* what a source says about its own conventions (server options) */
typedef struct tp_options
{
	/*
	 * bigint unsigned as bigint (every value must fit: a larger one fails
	 * loudly) rather than numeric(20,0): ids a BI tool reads as ids, and
	 * binary COPY of 8 bytes rather than numeric digits
	 */
	bool		bigint_unsigned_as_bigint;

	/*
	 * the time zone DATETIME values are written in (a zone name PostgreSQL
	 * knows), or NULL: with a zone, DATETIME becomes timestamptz, read as
	 * text that PostgreSQL interprets in that zone (the writer sets its
	 * TimeZone to it), so daylight-saving rules are PostgreSQL's own
	 */
	const char *datetime_zone;
} tp_options;

/* tp_default_options: numeric(20,0) for bigint unsigned, DATETIME as timestamp */
extern const tp_options tp_default_options;

/*
 * tp_map_column writes the PostgreSQL type for col into pgtype and its
 * conversion into *conv and its binary COPY encoding into *wire (with the
 * width of bit(n) columns in *bits);
 * *nullable says whether the PostgreSQL column must
 * accept NULL (zero dates become NULL).  False with a message for a type
 * the policy does not cover.
 */
extern bool tp_map_column(const tp_column *col, const tp_options *opts,
						  char *pgtype, size_t typelen,
						  tp_conv *conv, tp_wire *wire, int *bits, bool *nullable,
						  char *err, size_t errlen);

/*
 * tp_convert turns one non-NULL value into PostgreSQL input text.  The
 * result is either the value itself or the text in scratch: *out and
 * *outlen say which.  *is_null is set for values the policy maps to NULL.
 * False with a message when the value cannot be converted without loss.
 */
extern bool tp_convert(tp_conv conv, int bits, const char *val, size_t len,
					   ebuf *scratch, const char **out, size_t *outlen,
					   bool *is_null, char *err, size_t errlen);

/*
 * tp_select_expr appends to out the MySQL expression that reads column col,
 * whose name is already quoted in qname: the column itself, or for the types
 * whose text form loses information a function of it.  FLOAT is read as
 * CAST(col AS DOUBLE): MySQL prints a FLOAT with 6 significant digits, but
 * the shortest text of the same value as a double parses back to exactly
 * the single-precision value.  Spatial types are read as WKB
 * (ST_AsBinary).  False when out of memory.
 */
extern bool tp_select_expr(ebuf *out, const tp_column *col, const char *qname);

/* tp_is_spatial: is data_type one of MySQL's spatial types? */
extern bool tp_is_spatial(const char *data_type);

/* tp_needs_escape: may values of this conversion hold \, tab, CR or LF? */
static inline bool
tp_needs_escape(tp_conv conv)
{
	return conv == TP_TEXT || conv == TP_SET || conv == TP_JSON ||
		conv == TP_BYTEA;
}

#endif							/* ECSYNC_TYPE_POLICY_H */
