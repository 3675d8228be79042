/*
 * mysql_json.h
 *	  MySQL's binary JSON (the JSON column type of MySQL 5.7 and later, as
 *	  the binary log carries it), decoded into exactly the text MySQL's
 *	  SELECT gives for the column (Json_wrapper::to_string): members in
 *	  their stored order, ", " and ": " between them, doubles as my_gcvt
 *	  prints them with ".0" added to whole numbers, DECIMAL and temporal
 *	  values as MySQL prints them (temporal ones quoted, with six fraction
 *	  digits), other opaque values as "base64:typeNN:...".
 *
 *	  It also applies the diffs of binlog_row_value_options=PARTIAL_JSON
 *	  (a PARTIAL_UPDATE_ROWS event's after image holds, for a JSON column
 *	  changed by JSON_SET, JSON_REPLACE or JSON_REMOVE, a list of
 *	  REPLACE/INSERT/REMOVE operations on the before image's value) the
 *	  way a MySQL replica does (apply_json_diff in sql-common/json_diff.cc).
 *
 *	  The bytes come from the network: every offset and length is checked,
 *	  malformed input gives an error, never a read outside the value, and
 *	  nesting is bounded by MySQL's own limit (fuzzed by
 *	  tests/fuzz/fuzz_mysql_json.c).  Plain C, no MySQL or PostgreSQL
 *	  header.
 */
#ifndef ECSYNC_MYSQL_JSON_H
#define ECSYNC_MYSQL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ebuf.h"

/* MySQL's JSON_DOCUMENT_MAX_DEPTH: deeper documents cannot be stored */
#define MJ_MAX_DEPTH 100

/* the operations of a diff (enum_json_diff_operation) */
enum
{
	MJ_REPLACE = 0, MJ_INSERT = 1, MJ_REMOVE = 2
};

/*
 * mj_text appends to out the text of the binary JSON value (p, len), as
 * SELECT gives it for a JSON column (an empty value reads as null, as in
 * MySQL).  False with a message on malformed input; out is then as it was.
 */
extern bool mj_text(const uint8_t *p, size_t len, ebuf *out, char *err, size_t errlen);

/*
 * MySQL's binary DECIMAL (the binary log's column form, and inside JSON):
 * mj_decimal_size gives the bytes of a DECIMAL(precision, scale);
 * mj_decimal_text appends the value at p (that many bytes) as MySQL
 * prints it (every digit of the scale, no leading zeros, "0" before the
 * point, no sign on zero).  False for a digit group out of range, a
 * precision beyond 81 or out of memory.
 */
extern int	mj_decimal_size(int precision, int scale);
extern bool mj_decimal_text(const uint8_t *p, int precision, int scale, ebuf *b);

/*
 * mj_apply_diff appends to out the text of binary JSON value (before,
 * blen) changed by the diff list (diff, dlen): the bytes of a partial
 * JSON column of a PARTIAL_UPDATE_ROWS after image, after its length
 * (each diff: an operation byte, a length-encoded JSON path, and but for
 * REMOVE a length-encoded binary JSON value).  False with a message on
 * malformed input or a diff that does not apply (the before value is not
 * the one the server changed); out is then as it was.
 */
extern bool mj_apply_diff(const uint8_t *before, size_t blen, const uint8_t *diff, size_t dlen,
						  ebuf *out, char *err, size_t errlen);

#endif							/* ECSYNC_MYSQL_JSON_H */
