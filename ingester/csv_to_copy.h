/*
 * csv_to_copy.h
 *	  An archived CSV file as COPY text (see csv_to_copy.c).
 */
#ifndef ECSYNC_CSV_TO_COPY_H
#define ECSYNC_CSV_TO_COPY_H

#include <stdbool.h>
#include <stddef.h>

#include "ebuf.h"

/* a converter from CSV (its first record a header) to COPY text */
typedef struct csv2copy csv2copy;

/* c2c_new: NULL when out of memory */
extern csv2copy *c2c_new(void);
extern void c2c_free(csv2copy *c);

/* c2c_feed converts len more bytes, in any pieces, appending to out */
extern bool c2c_feed(csv2copy *c, const char *buf, size_t len, ebuf *out);

/*
 * c2c_finish ends an unterminated last record; false (with *unclosed set)
 * when a quoted field was never closed, or when out of memory
 */
extern bool c2c_finish(csv2copy *c, ebuf *out, bool *unclosed);

/* csv_to_copy_text writes path's records as COPY text on stdout; exit code */
extern int	csv_to_copy_text(const char *path);

#endif							/* ECSYNC_CSV_TO_COPY_H */
