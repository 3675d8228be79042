/*
 * ingest.c
 *	  Helpers the modes share: logging, time, the archive's locks and
 *	  configuration values with defaults.
 */
#include "ingest.h"

#include "ebuf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t ingest_stop = 0;

void
ingest_log(const char *fmt,...)
{
	va_list		ap;
	char		line[2048];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "ecsync-ingest: %s\n", line);
}

double
ingest_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
ingest_lock(const char *dir, const char *name)
{
	char		path[4200];
	char		pid[32];
	int			fd;

	snprintf(path, sizeof(path), "%s/.lock-%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
	{
		ingest_log("could not open lock file \"%s\": %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0)
	{
		ssize_t		n = read(fd, pid, sizeof(pid) - 1);

		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		ingest_log("another ecsync-ingest (pid %s) is already running %s on %s",
				   pid[0] ? pid : "unknown", name, dir);
		close(fd);
		return -1;
	}
	snprintf(pid, sizeof(pid), "%d\n", (int) getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, strlen(pid), 0) < 0)
		ingest_log("could not write lock file \"%s\": %s", path, strerror(errno));
	return fd;
}

const char *
ingest_get(const ingest_opts *o, const char *key, const char *dflt)
{
	const char *v = config_get(o->cfg, key);

	return v ? v : dflt;
}

bool
ingest_get_long(const ingest_opts *o, const char *key, long dflt, long min,
				long max, long *value)
{
	const char *v = config_get(o->cfg, key);
	char	   *end;
	long		n;
	long		mult = 1;

	if (v == NULL)
	{
		*value = dflt;
		return true;
	}
	errno = 0;
	n = strtol(v, &end, 10);
	/* sizes may say k, M or G */
	if (*end == 'k' || *end == 'K')
		mult = 1024, end++;
	else if (*end == 'M')
		mult = 1024 * 1024, end++;
	else if (*end == 'G')
		mult = 1024L * 1024 * 1024, end++;
	if (errno != 0 || end == v || *end != '\0' || n < min / mult || n > max / mult)
	{
		ingest_log("%s = \"%s\": expected a whole number from %ld to %ld", key, v, min, max);
		return false;
	}
	*value = n * mult;
	return true;
}

bool
ingest_quote_ident(ebuf *out, const char *name)
{
	if (!ebuf_putc(out, '"'))
		return false;
	for (const char *p = name; *p; p++)
		if ((*p == '"' && !ebuf_putc(out, '"')) || !ebuf_putc(out, *p))
			return false;
	return ebuf_putc(out, '"');
}

const char *
ingest_qualified(const char *schema, const char *name)
{
	static ebuf b;

	ebuf_reset(&b);
	if (!ingest_quote_ident(&b, schema) || !ebuf_putc(&b, '.') ||
		!ingest_quote_ident(&b, name) || !ebuf_putc(&b, '\0'))
	{
		fprintf(stderr, "ecsync-ingest: out of memory\n");
		exit(EXIT_RUNTIME);
	}
	return b.data;
}
