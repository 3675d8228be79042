/*
 * ingest.h
 *	  What ecsync-ingest's modes share: options, stopping, reporting.
 *
 *	  Exit codes: 0 success (also after SIGINT/SIGTERM once everything
 *	  read is committed), 1 runtime failure (Kafka, MySQL, the disk; what
 *	  is committed stays committed), 2 usage or configuration error,
 *	  3 --verify found a damaged archive.
 */
#ifndef INGEST_INGEST_H
#define INGEST_INGEST_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"

#define EXIT_OK 0
#define EXIT_RUNTIME 1
#define EXIT_USAGE 2
#define EXIT_DAMAGED 3

typedef struct ingest_opts
{
	const ingest_config *cfg;
	const char *dir;			/* archive.dir, absolute */
	bool		once;			/* drain what is there, then exit */
	bool		quiet;			/* no progress lines */
	bool		gzip;			/* compression = gzip */
	int			wake_fd;		/* readable when a signal arrived */
	/* load-script: */
	const char *table;
	const char *from;			/* YYYY-MM-DD[THH], inclusive */
	const char *to;
	const char *schema;
	const char *snapshot;		/* snapshot id, or "latest" */
} ingest_opts;

/* set by the SIGINT/SIGTERM handler */
extern volatile sig_atomic_t ingest_stop;

/* ingest_log: "ecsync-ingest: ..." on stderr */
extern void ingest_log(const char *fmt,...) __attribute__((format(printf, 1, 2)));

/* ingest_now: monotonic seconds */
extern double ingest_now(void);

/* ingest_lock takes the archive's lock for name; false (logged) if held */
extern int	ingest_lock(const char *dir, const char *name);

/* ingest_quote_ident appends a PostgreSQL identifier, double-quoted */
struct ebuf;
extern bool ingest_quote_ident(struct ebuf *out, const char *name);

/* ingest_qualified: "schema"."name" in a static buffer */
extern const char *ingest_qualified(const char *schema, const char *name);

/* config values with defaults */
extern const char *ingest_get(const ingest_opts *o, const char *key, const char *dflt);
extern bool ingest_get_long(const ingest_opts *o, const char *key, long dflt,
							long min, long max, long *value);

extern int	stream_archive_run(const ingest_opts *o);
extern int	snapshot_archive_run(const ingest_opts *o);
extern int	archive_verify(const ingest_opts *o);
extern int	archive_load_script(const ingest_opts *o);

#endif							/* INGEST_INGEST_H */
