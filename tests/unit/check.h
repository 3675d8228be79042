/*
 * check.h
 *	  The assertion of ecsync's C unit tests: CHECK(cond, fmt, ...) counts
 *	  the check, and on failure says where, what and why.
 */
#ifndef ECSYNC_CHECK_H
#define ECSYNC_CHECK_H

#include <stdio.h>

static int	failures = 0;
static int	checks = 0;

#define CHECK(cond, ...) do { \
	checks++; \
	if (!(cond)) { \
		failures++; \
		fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
	} \
} while (0)

#endif							/* ECSYNC_CHECK_H */
