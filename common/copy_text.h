/*
 * copy_text.h
 *	  Writing values in PostgreSQL's COPY text format: tab-separated,
 *	  newline-terminated, \N for NULL, backslash escapes.
 */
#ifndef ECSYNC_COPY_TEXT_H
#define ECSYNC_COPY_TEXT_H

#include "ebuf.h"

/* ct_append appends one value, escaping \, tab, LF and CR when escape */
extern bool ct_append(ebuf *dst, const char *v, size_t len, bool escape);

static inline bool
ct_append_null(ebuf *dst)
{
	return ebuf_append(dst, "\\N", 2);
}

#endif							/* ECSYNC_COPY_TEXT_H */
