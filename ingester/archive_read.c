/*
 * archive_read.c
 *	  Reading the archive back: --verify checks every committed file
 *	  against its manifest (size, CRC-32, record count) and looks for
 *	  files no manifest lists; --load-script prints a psql script that
 *	  loads a topic (or a date range of it) or a snapshot into PostgreSQL.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "archive_file.h"
#include "csv_write.h"
#include "ingest.h"
#include "manifest.h"
#include "seterr.h"

typedef struct strset
{
	char	  **v;
	size_t		n;
	size_t		cap;
} strset;

static bool
strset_add(strset *s, const char *str)
{
	if (s->n == s->cap)
	{
		char	  **grown = realloc(s->v, sizeof(char *) * (s->cap ? 2 * s->cap : 64));

		if (grown == NULL)
			return false;
		s->v = grown;
		s->cap = s->cap ? 2 * s->cap : 64;
	}
	return (s->v[s->n++] = strdup(str)) != NULL;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static void
strset_free(strset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* ------------------------------------------------------------ verify */

typedef struct verify_state
{
	const ingest_opts *o;
	const char *manifest;
	strset		listed;
	uint64_t	files;
	uint64_t	rows;
	uint64_t	problems;
	int64_t		prev_last;		/* stream manifests: offsets follow on */
} verify_state;

static void
problem(verify_state *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
problem(verify_state *v, const char *fmt, ...)
{
	va_list		ap;

	fprintf(stderr, "ecsync-ingest: verify: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	v->problems++;
}

/* check_file reads a file: its size, CRC and CSV records (after gunzip) */
typedef struct file_check
{
	uint64_t	bytes;
	uint32_t	crc;
	csv_counter cc;
} file_check;

static bool
check_raw(const void *buf, size_t len, void *arg)
{
	file_check *fc = arg;

	fc->crc = (uint32_t) crc32(fc->crc, buf, (uInt) len);
	fc->bytes += len;
	return true;
}

static bool
check_data(const void *buf, size_t len, void *arg)
{
	csv_count(&((file_check *) arg)->cc, buf, len);
	return true;
}

static bool
check_file(const char *path, uint64_t *bytes, uint32_t *crc, uint64_t *records,
		   bool *bad_csv, char *err, size_t errlen)
{
	file_check	fc;

	memset(&fc, 0, sizeof(fc));
	fc.crc = (uint32_t) crc32(0L, Z_NULL, 0);
	if (!af_read_file(path, check_raw, check_data, &fc, err, errlen))
		return false;
	*bytes = fc.bytes;
	*crc = fc.crc;
	*records = csv_count_finish(&fc.cc, bad_csv);
	return true;
}

static bool
verify_block(const mf_block *b, void *arg)
{
	verify_state *v = arg;

	if (b->first >= 0)
	{
		if (v->prev_last >= 0 && b->first != v->prev_last + 1)
			fprintf(stderr, "ecsync-ingest: verify: note: %s: offsets %" PRId64 "..%" PRId64
					" are in no file (none were read: compacted, transaction markers, or expired)\n",
					v->manifest, v->prev_last + 1, b->first - 1);
		v->prev_last = b->last;
	}
	for (int i = 0; i < b->nfiles; i++)
	{
		const mf_entry *e = &b->files[i];
		char		path[4200],
					err[512];
		uint64_t	bytes,
					records;
		uint32_t	crc;
		bool		bad_csv = false;
		bool		is_csv = strstr(e->file, ".csv") != NULL;

		strset_add(&v->listed, e->file);
		v->files++;
		snprintf(path, sizeof(path), "%s/%s", v->o->dir, e->file);
		if (!check_file(path, &bytes, &crc, &records, &bad_csv, err, sizeof(err)))
		{
			problem(v, "%s: %s", e->file, err);
			continue;
		}
		if (bytes != e->bytes)
			problem(v, "%s: %" PRIu64 " bytes, the manifest says %" PRIu64, e->file, bytes, e->bytes);
		else if (crc != e->crc)
			problem(v, "%s: CRC-32 %08x, the manifest says %08x", e->file, crc, e->crc);
		else if (is_csv && (bad_csv || records != e->rows + 1))
			problem(v, "%s: %" PRIu64 " CSV records after the header, the manifest says %" PRIu64 "%s",
					e->file, records ? records - 1 : 0, e->rows, bad_csv ? " (an unterminated quote)" : "");
		if (is_csv)
			v->rows += e->rows;
	}
	return true;
}

static void
verify_manifest(verify_state *v, const char *path)
{
	off_t		valid_end,
				size;
	char		err[AF_ERRLEN];

	v->manifest = path;
	v->prev_last = -1;
	if (!mf_read(path, verify_block, v, &valid_end, &size, err, sizeof(err)))
		problem(v, "%s", err);
	else if (valid_end != size)
		fprintf(stderr, "ecsync-ingest: verify: note: %s ends in %lld bytes of an uncommitted block "
				"(cut off at the next start)\n", path, (long long) (size - valid_end));
}

/* walk lists the files under dir (relative to the archive), skipping dot names */
static void
walk(const char *root, const char *rel, strset *found)
{
	char		path[8500];
	DIR		   *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "%s%s%s", root, rel[0] ? "/" : "", rel);
	if ((d = opendir(path)) == NULL)
		return;
	while ((e = readdir(d)) != NULL)
	{
		char		sub[4200];
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
		snprintf(path, sizeof(path), "%s/%s", root, sub);
		if (stat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode))
		{
			/* manifests are not data */
			if (strcmp(e->d_name, "_manifest") != 0)
				walk(root, sub, found);
		}
		else if (!(strncmp(sub, "_snapshots/", 11) == 0 && strstr(sub, ".schema.sql") == NULL))
			strset_add(found, sub);
	}
	closedir(d);
}

/* for_each_manifest calls fn for every stream and snapshot manifest */
static void
for_each_manifest(const char *dir, void (*fn) (const char *path, void *arg), void *arg)
{
	DIR		   *d = opendir(dir);
	struct dirent *e;
	strset		paths = {0};

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
	{
		char		sub[4200];
		DIR		   *m;
		struct dirent *f;
		bool		snap = strcmp(e->d_name, "_snapshots") == 0;

		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), snap ? "%s/%s" : "%s/%s/_manifest", dir, e->d_name);
		if ((m = opendir(sub)) == NULL)
			continue;
		while ((f = readdir(m)) != NULL)
		{
			size_t		n = strlen(f->d_name);
			char		path[4500];

			if (f->d_name[0] == '.' || n < 5 || strcmp(f->d_name + n - 4, ".csv") != 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", sub, f->d_name);
			strset_add(&paths, path);
		}
		closedir(m);
	}
	closedir(d);
	qsort(paths.v, paths.n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < paths.n; i++)
		fn(paths.v[i], arg);
	strset_free(&paths);
}

static void
verify_one(const char *path, void *arg)
{
	verify_manifest(arg, path);
}

int
archive_verify(const ingest_opts *o)
{
	verify_state v = {0};
	strset		found = {0};

	v.o = o;
	for_each_manifest(o->dir, verify_one, &v);
	walk(o->dir, "", &found);
	qsort(v.listed.v, v.listed.n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < found.n; i++)
		if (bsearch(&found.v[i], v.listed.v, v.listed.n, sizeof(char *), cmp_str) == NULL)
			problem(&v, "%s is in no manifest", found.v[i]);
	strset_free(&found);
	strset_free(&v.listed);
	if (v.problems)
	{
		ingest_log("verify: %" PRIu64 " problems in %s (%" PRIu64 " files checked)",
				   v.problems, o->dir, v.files);
		return EXIT_DAMAGED;
	}
	printf("verified %" PRIu64 " files holding %" PRIu64 " rows in %s: all match their manifests\n",
		   v.files, v.rows, o->dir);
	return EXIT_OK;
}

/* ------------------------------------------------------------ load script */

typedef struct load_state
{
	const ingest_opts *o;
	const char *prefix;			/* "<table>/" */
	char		from[48];		/* YYYY-MM-DDTHH */
	char		to[48];
	strset		files;
	uint64_t	rows;
} load_state;

static bool
collect_block(const mf_block *b, void *arg)
{
	load_state *l = arg;
	size_t		plen = strlen(l->prefix);

	for (int i = 0; i < b->nfiles; i++)
	{
		const char *f = b->files[i].file;
		char		key[16];

		/* <table>/dt=YYYY-MM-DD/hour=HH/... */
		if (strncmp(f, l->prefix, plen) != 0 || strncmp(f + plen, "dt=", 3) != 0 ||
			strlen(f + plen) < 22)
			continue;
		snprintf(key, sizeof(key), "%.10sT%.2s", f + plen + 3, f + plen + 19);
		if ((l->from[0] && strcmp(key, l->from) < 0) || (l->to[0] && strcmp(key, l->to) > 0))
			continue;
		strset_add(&l->files, f);
		l->rows += b->files[i].rows;
	}
	return true;
}

static void
collect_one(const char *path, void *arg)
{
	off_t		valid_end,
				size;
	char		err[AF_ERRLEN];

	(void) mf_read(path, collect_block, arg, &valid_end, &size, err, sizeof(err));
}

/* bound normalizes YYYY-MM-DD[THH] to YYYY-MM-DDTHH; false if malformed */
static bool
bound(const char *s, const char *hour, char *out)
{
	int			y,
				m,
				d,
				h = -1;
	char		extra;

	if (s == NULL)
	{
		out[0] = '\0';
		return true;
	}
	if (sscanf(s, "%4d-%2d-%2dT%2d%c", &y, &m, &d, &h, &extra) == 4 ||
		(sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &extra) == 3 && strlen(s) == 10))
	{
		if (h < 0)
			snprintf(out, 48, "%04d-%02d-%02dT%s", y, m, d, hour);
		else
			snprintf(out, 48, "%04d-%02d-%02dT%02d", y, m, d, h);
		return m >= 1 && m <= 12 && d >= 1 && d <= 31 && h <= 23;
	}
	return false;
}

/* self_path: this program's absolute path, for the load script to run */
static const char *
self_path(void)
{
	static char path[4096];

	if (path[0] == '\0')
	{
		ssize_t		n = readlink("/proc/self/exe", path, sizeof(path) - 1);

		if (n <= 0 || strchr(path, '\'') || strchr(path, '\\'))
			strcpy(path, "ecsync-ingest");
		else
			path[n] = '\0';
	}
	return path;
}

static bool
print_copy(const ingest_opts *o, const char *qualified, const char *rel, const char *columns)
{
	char		path[4200];

	snprintf(path, sizeof(path), "%s/%s", o->dir, rel);
	if (strchr(path, '\'') || strchr(path, '\\') || strchr(path, '\n'))
	{
		ingest_log("\"%s\": a path with quotes, backslashes or newlines cannot go into a psql script", path);
		return false;
	}
	/*
	 * Through ecsync-ingest --copy-text, as COPY text: psql's \copy takes a
	 * line "\." inside a quoted CSV field for the end of the data
	 * (csv_to_copy.c)
	 */
	printf("\\copy %s%s FROM PROGRAM '''%s'' --copy-text ''%s''' WITH (FORMAT text)\n",
		   qualified, columns, self_path(), path);
	return true;
}

static const char *
page_view_ddl(void)
{
	return "    kafka_partition integer NOT NULL,\n"
		"    kafka_offset bigint NOT NULL,\n"
		"    user_id bigint NOT NULL,\n"
		"    age smallint,\n"
		"    gender text,\n"
		"    occupation text,\n"
		"    page text NOT NULL,\n"
		"    viewed_at timestamptz NOT NULL,\n"
		"    ingested_at timestamptz NOT NULL DEFAULT now(),\n"
		"    PRIMARY KEY (kafka_partition, kafka_offset)\n";
}

static const char *
dead_letter_ddl(void)
{
	return "    kafka_partition integer NOT NULL,\n"
		"    kafka_offset bigint NOT NULL,\n"
		"    kafka_timestamp timestamptz,\n"
		"    kind text NOT NULL,\n"
		"    reason text NOT NULL,\n"
		"    message_key bytea,\n"
		"    payload bytea,\n"
		"    PRIMARY KEY (kafka_partition, kafka_offset)\n";
}

static bool
collect_all(const mf_block *b, void *arg)
{
	load_state *l = arg;

	for (int i = 0; i < b->nfiles; i++)
		if (!strset_add(&l->files, b->files[i].file))
			return false;
	l->rows += b->rows;
	return true;
}

static void
print_ident(const char *name)
{
	ebuf		b;

	ebuf_init(&b);
	if (ingest_quote_ident(&b, name))
		fwrite(b.data, 1, b.len, stdout);
	ebuf_free(&b);
}

static int
load_snapshot(const ingest_opts *o, const char *schema)
{
	char		id[64] = "";
	char		path[4200];
	DIR		   *d;
	struct dirent *e;
	FILE	   *f;
	char		line[4096];
	load_state	l = {0};
	off_t		valid_end = 0,
				size;
	char		err[AF_ERRLEN];
	int			rc = EXIT_OK;

	snprintf(path, sizeof(path), "%s/_snapshots", o->dir);
	if (strcmp(o->snapshot, "latest") == 0)
	{
		if ((d = opendir(path)) != NULL)
		{
			while ((e = readdir(d)) != NULL)
			{
				size_t		n = strlen(e->d_name);

				if (n == 20 && strcmp(e->d_name + 16, ".csv") == 0 && strncmp(e->d_name, id, 16) > 0)
					snprintf(id, sizeof(id), "%.16s", e->d_name);
			}
			closedir(d);
		}
		if (!id[0])
		{
			ingest_log("%s holds no committed snapshot", o->dir);
			return EXIT_RUNTIME;
		}
	}
	else
		snprintf(id, sizeof(id), "%s", o->snapshot);
	snprintf(path, sizeof(path), "%s/_snapshots/%s.csv", o->dir, id);
	if (!mf_read(path, collect_all, &l, &valid_end, &size, err, sizeof(err)) || l.files.n == 0)
	{
		ingest_log("no committed snapshot %s in %s", id, o->dir);
		strset_free(&l.files);
		return EXIT_RUNTIME;
	}

	printf("-- ecsync-ingest: load snapshot %s (%" PRIu64 " rows) from %s\n"
		   "\\set ON_ERROR_STOP on\nBEGIN;\nCREATE SCHEMA IF NOT EXISTS ", id, l.rows, o->dir);
	print_ident(schema);
	printf(";\nSET LOCAL search_path = ");
	print_ident(schema);
	printf(";\n");
	snprintf(path, sizeof(path), "%s/_snapshots/%s.schema.sql", o->dir, id);
	if ((f = fopen(path, "r")) == NULL)
	{
		ingest_log("could not read \"%s\": %s", path, strerror(errno));
		strset_free(&l.files);
		return EXIT_RUNTIME;
	}
	while (fgets(line, sizeof(line), f))
		fputs(line, stdout);
	fclose(f);
	for (size_t i = 0; i < l.files.n && rc == EXIT_OK; i++)
	{
		const char *rel = l.files.v[i];
		const char *slash = strchr(rel, '/');
		char		table[512];

		if (slash == NULL || strstr(rel, ".csv") == NULL || strncmp(rel, "_snapshots/", 11) == 0)
			continue;
		snprintf(table, sizeof(table), "%.*s", (int) (slash - rel), rel);
		if (o->table && strcmp(o->table, table) != 0)
			continue;
		if (!print_copy(o, ingest_qualified(schema, table), rel, ""))
			rc = EXIT_RUNTIME;
	}
	printf("COMMIT;\n");
	strset_free(&l.files);
	return rc;
}

/* load_topic: the topic's files (or a date range of them) into one table */
static int
load_topic(const ingest_opts *o, const char *schema, const char *table)
{
	load_state	l = {0};
	char		prefix[600];
	const char *columns;
	bool		dead;
	size_t		tl = strlen(table);

	if (!bound(o->from, "00", l.from) || !bound(o->to, "23", l.to))
	{
		ingest_log("--from and --to take YYYY-MM-DD or YYYY-MM-DDTHH (UTC)");
		return EXIT_USAGE;
	}
	dead = tl > 13 && strcmp(table + tl - 13, "_dead_letters") == 0;
	columns = dead ? " (kafka_partition, kafka_offset, kafka_timestamp, kind, reason, message_key, payload)" :
		" (kafka_partition, kafka_offset, user_id, age, gender, occupation, page, viewed_at)";
	snprintf(prefix, sizeof(prefix), "%s/", table);
	l.o = o;
	l.prefix = prefix;
	{
		char		mdir[4200];
		DIR		   *d;
		struct dirent *e;
		strset		paths = {0};

		/* a topic's dead letters are listed in the topic's manifests */
		snprintf(mdir, sizeof(mdir), "%s/%.*s/_manifest", o->dir,
				 (int) (dead ? tl - 13 : tl), table);
		if ((d = opendir(mdir)) == NULL)
		{
			ingest_log("%s has no manifests: nothing of topic \"%.*s\" is archived in %s",
					   mdir, (int) (dead ? tl - 13 : tl), table, o->dir);
			return EXIT_RUNTIME;
		}
		while ((e = readdir(d)) != NULL)
		{
			char		path[4500];

			if (strncmp(e->d_name, "partition=", 10) != 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", mdir, e->d_name);
			strset_add(&paths, path);
		}
		closedir(d);
		qsort(paths.v, paths.n, sizeof(char *), cmp_str);
		for (size_t i = 0; i < paths.n; i++)
			collect_one(paths.v[i], &l);
		strset_free(&paths);
	}
	qsort(l.files.v, l.files.n, sizeof(char *), cmp_str);
	printf("-- ecsync-ingest: load %s%s%s%s%s: %zu files, %" PRIu64 " rows, from %s\n"
		   "\\set ON_ERROR_STOP on\nBEGIN;\nCREATE SCHEMA IF NOT EXISTS ",
		   table, l.from[0] || l.to[0] ? " from " : "", l.from[0] ? l.from : "the start",
		   l.from[0] || l.to[0] ? " to " : "", l.from[0] || l.to[0] ? (l.to[0] ? l.to : "the end") : "",
		   l.files.n, l.rows, o->dir);
	print_ident(schema);
	printf(";\nCREATE TABLE IF NOT EXISTS ");
	print_ident(schema);
	putchar('.');
	print_ident(table);
	printf(" (\n%s);\n", dead ? dead_letter_ddl() : page_view_ddl());
	for (size_t i = 0; i < l.files.n; i++)
	{
		if (!print_copy(o, ingest_qualified(schema, table), l.files.v[i], columns))
		{
			strset_free(&l.files);
			return EXIT_RUNTIME;
		}
	}
	printf("COMMIT;\n");
	strset_free(&l.files);
	return EXIT_OK;
}

int
archive_load_script(const ingest_opts *o)
{
	const char *schema = o->schema ? o->schema : "archive";

	if (o->snapshot)
		return load_snapshot(o, schema);
	return load_topic(o, schema, o->table ? o->table : ingest_get(o, "topic", "page_views"));
}
