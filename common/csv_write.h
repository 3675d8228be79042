/*
 * csv_write.h
 *	  Writing RFC 4180 CSV: comma-separated fields, CRLF-free records ended
 *	  by LF, a field quoted with double quotes (and inner quotes doubled)
 *	  when it holds a comma, a quote, CR or LF, is empty, or is "\.".
 *
 *	  NULL is an empty unquoted field and the empty string is "", which is
 *	  exactly how PostgreSQL's COPY ... (FORMAT csv) reads them back.  Values
 *	  are written as PostgreSQL input text (type_policy.h): binary values
 *	  as bytea hex, "\x" followed by two hex digits per byte, so that no
 *	  field ever holds bytes that are not UTF-8.
 */
#ifndef ECSYNC_CSV_WRITE_H
#define ECSYNC_CSV_WRITE_H

#include <stdbool.h>
#include <stddef.h>

#include "ebuf.h"

/* csv_needs_quotes: must this value be quoted? */
extern bool csv_needs_quotes(const char *v, size_t len);

/* csv_append appends one non-NULL field (no separator) */
extern bool csv_append(ebuf *dst, const char *v, size_t len);

/* csv_append_hex appends bytes as a bytea hex field: \x0a1b... */
extern bool csv_append_hex(ebuf *dst, const void *v, size_t len);

/* a NULL field is empty: nothing to append */

/*
 * csv_count_records counts the records in CSV text, carrying the state
 * (inside quotes or not, and whether the last byte ended a record) across
 * calls so that text can be fed in pieces.  Start with a zeroed state.
 */
typedef struct csv_counter
{
	bool		in_quotes;
	bool		at_record_start;	/* no byte of the current record yet */
	bool		started;
	unsigned long long records;
} csv_counter;

extern void csv_count(csv_counter *c, const char *buf, size_t len);

/* csv_count_finish: records, counting an unterminated last one */
extern unsigned long long csv_count_finish(csv_counter *c, bool *unterminated_quote);

#endif							/* ECSYNC_CSV_WRITE_H */
