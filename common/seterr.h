/*
 * seterr.h
 *	  Error messages into a caller's buffer, for code that reports errors
 *	  by return value (common/, ecsync-ingest) rather than by ereport.
 */
#ifndef ECSYNC_SETERR_H
#define ECSYNC_SETERR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

static inline void
			__attribute__((format(printf, 3, 4)))
seterr(char *err, size_t errlen, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

#endif							/* ECSYNC_SETERR_H */
