/*
 * csv_to_copy.h
 *	  An archived CSV file as COPY text (see csv_to_copy.c).
 */
#ifndef ECSYNC_CSV_TO_COPY_H
#define ECSYNC_CSV_TO_COPY_H

#include <stdbool.h>

/* csv_to_copy_text writes path's records as COPY text on stdout; exit code */
extern int	csv_to_copy_text(const char *path);

#endif							/* ECSYNC_CSV_TO_COPY_H */
