/*
 * snapshot_archive.c
 *	  Snapshot mode: every shop table from one consistent MySQL snapshot
 *	  (REPEATABLE READ, WITH CONSISTENT SNAPSHOT) into the archive, as
 *	  <table>/dt=<date>/<table>-<id>.csv[.gz], where <id> is the UTC time
 *	  the snapshot started, YYYYMMDDTHHMMSSZ.
 *
 *	  Each table is read by copy_pipe's reader thread (MySQL to CSV by the
 *	  type policy) while this thread writes and checksums the file.  The
 *	  files and a schema file (CREATE TABLE statements by the type policy)
 *	  are written under .tmp/snapshot and fsynced; the snapshot's manifest
 *	  _snapshots/<id>.csv is then written and renamed into place, which is
 *	  the commit; last the files are renamed into place.  A later start
 *	  finishes those renames for a committed snapshot and removes what an
 *	  uncommitted one left, so a snapshot is in the archive whole or not at
 *	  all.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive_file.h"
#include "copy_pipe.h"
#include "csv_write.h"
#include "ingest.h"
#include "manifest.h"
#include "mysql_source.h"
#include "seterr.h"

#define MAX_TABLES 64

static char err[AF_ERRLEN];
static char tmp_dir[4096];
static char snap_dir[4096];
static const ingest_opts *opt;

static bool
redo_block(const mf_block *b, void *arg)
{
	return mf_redo(opt->dir, tmp_dir, b, arg, err, sizeof(err));
}

/* recover finishes the renames of committed snapshots and empties .tmp */
static bool
recover(void)
{
	DIR		   *d = opendir(snap_dir);
	struct dirent *e;

	if (d == NULL)
		return errno == ENOENT ? af_clear_dir(tmp_dir, err, sizeof(err)) : false;
	err[0] = '\0';
	while ((e = readdir(d)) != NULL)
	{
		char		path[4400];
		off_t		valid_end,
					size;
		size_t		n = strlen(e->d_name);

		if (n < 5 || strcmp(e->d_name + n - 4, ".csv") != 0 || e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", snap_dir, e->d_name);
		if (!mf_read(path, redo_block, path, &valid_end, &size, err, sizeof(err)) || err[0])
		{
			closedir(d);
			if (!err[0])
				seterr(err, sizeof(err), "could not read \"%s\"", path);
			return false;
		}
	}
	closedir(d);
	return af_clear_dir(tmp_dir, err, sizeof(err));
}

/* snapshot_id: the UTC second, unique among committed snapshots */
static void
snapshot_id(char *id, size_t len)
{
	for (;;)
	{
		time_t		t = time(NULL);
		struct tm	tm;
		char		path[4200];
		struct stat st;

		gmtime_r(&t, &tm);
		strftime(id, len, "%Y%m%dT%H%M%SZ", &tm);
		snprintf(path, sizeof(path), "%s/%s.csv", snap_dir, id);
		if (stat(path, &st) != 0)
			return;
		sleep(1);
	}
}


typedef struct table_file
{
	char	   *rel;
	af_file		f;
	bool		open;
} table_file;

/* archive_table writes one table into a temporary file; false with err */
static bool
archive_table(ms_conn *conn, const char *db, const char *table, const char *rel,
			  table_file *tf, ebuf *ddl, uint64_t *rows)
{
	ms_table	mt = {0};
	tp_options	policy = tp_default_options;
	tp_conv    *conv = NULL;
	tp_wire    *wire = NULL;
	int		   *bits = NULL;
	const char **names = NULL;
	ebuf		sql;
	copy_pipe  *cp = NULL;
	char		tmp[4200];
	char	   *buf = NULL;
	bool		ok = false;
	double		started = ingest_now(),
				last = started;

	ebuf_init(&sql);
	policy.bigint_unsigned_as_bigint =
		strcmp(ingest_get(opt, "mysql.bigint-unsigned", "numeric"), "bigint") == 0;
	if (!ms_describe(conn, db, table, &mt, err, sizeof(err)))
		goto done;
	conv = calloc(mt.ncols, sizeof(tp_conv));
	wire = calloc(mt.ncols, sizeof(tp_wire));
	bits = calloc(mt.ncols, sizeof(int));
	names = calloc(mt.ncols, sizeof(char *));
	buf = malloc(PIPE_CHUNK_SIZE);
	if (!conv || !wire || !bits || !names || !buf)
	{
		seterr(err, sizeof(err), "out of memory");
		goto done;
	}
	ebuf_puts(ddl, "CREATE TABLE IF NOT EXISTS ");
	ingest_quote_ident(ddl, table);
	ebuf_puts(ddl, " (\n");
	ebuf_puts(&sql, "SELECT ");
	for (int i = 0; i < mt.ncols; i++)
	{
		char		pgtype[64];
		bool		nullable;
		char		cerr[MS_ERRLEN];

		if (!tp_map_column(&mt.cols[i], &policy, pgtype, sizeof(pgtype), &conv[i], &wire[i],
						   &bits[i], &nullable, cerr, sizeof(cerr)))
		{
			seterr(err, sizeof(err), "MySQL table %s.%s: %s (see the type policy in docs/batch.md)",
				   db, table, cerr);
			goto done;
		}
		names[i] = mt.cols[i].name;
		ebuf_puts(ddl, "    ");
		ingest_quote_ident(ddl, names[i]);
		ebuf_putc(ddl, ' ');
		ebuf_puts(ddl, pgtype);
		if (!nullable)
			ebuf_puts(ddl, " NOT NULL");
		ebuf_puts(ddl, i + 1 < mt.ncols || mt.npk > 0 ? ",\n" : "\n");
		if (i > 0)
			ebuf_puts(&sql, ", ");
		ms_select_column(&sql, &mt.cols[i]);
	}
	if (mt.npk > 0)
	{
		ebuf_puts(ddl, "    PRIMARY KEY (");
		for (int k = 0; k < mt.npk; k++)
		{
			if (k > 0)
				ebuf_puts(ddl, ", ");
			ingest_quote_ident(ddl, names[mt.pk[k]]);
		}
		ebuf_puts(ddl, ")\n");
	}
	ebuf_puts(ddl, ");\n");
	ebuf_puts(&sql, " FROM ");
	ms_quote_ident(&sql, db);
	ebuf_putc(&sql, '.');
	ms_quote_ident(&sql, table);
	if (!ebuf_putc(&sql, '\0'))
	{
		seterr(err, sizeof(err), "out of memory");
		goto done;
	}
	if (!ms_stream(conn, sql.data, err, sizeof(err)))
		goto done;
	{
		copy_pipe_spec spec = {conn, mt.ncols, conv, wire, bits, names, CP_CSV};

		if ((cp = copy_pipe_start(&spec, err, sizeof(err))) == NULL)
			goto done;
	}
	mf_sealed_path(tmp_dir, rel, tmp, sizeof(tmp));
	if (!af_open(&tf->f, tmp, opt->gzip, "", 0, err, sizeof(err)))
		goto done;
	tf->open = true;
	for (;;)
	{
		int			n = copy_pipe_read(cp, buf, PIPE_CHUNK_SIZE, 200, err, sizeof(err));
		double		now;

		if (ingest_stop)
		{
			seterr(err, sizeof(err), "interrupted by a signal");
			goto done;
		}
		if (n == PIPE_EOF)
			break;
		if (n == PIPE_ERROR)
			goto done;
		if (n > 0 && (!af_buffer(&tf->f, buf, (size_t) n, 0) ||
					  !af_flush(&tf->f, false, err, sizeof(err))))
		{
			if (!err[0])
				seterr(err, sizeof(err), "out of memory");
			goto done;
		}
		now = ingest_now();
		if (!opt->quiet && now - last >= 2)
		{
			uint64_t	r = copy_pipe_rows(cp);

			ingest_log("snapshot: %s: %" PRIu64 " rows, %.0f rows/s", table, r, r / (now - started));
			last = now;
		}
	}
	*rows = copy_pipe_rows(cp);
	tf->f.rows = *rows;
	ok = af_finish(&tf->f, err, sizeof(err));
done:
	if (cp != NULL)
		copy_pipe_stop(cp);
	else
		ms_stream_end(conn);
	ebuf_free(&sql);
	free(conv);
	free(wire);
	free(bits);
	free(names);
	free(buf);
	ms_table_free(&mt);
	return ok;
}

/* the tables, comma-separated */
static int
split_tables(char *list, char **tables)
{
	int			n = 0;

	for (char *s = strtok(list, ", "); s && n < MAX_TABLES; s = strtok(NULL, ", "))
		tables[n++] = s;
	return n;
}

int
snapshot_archive_run(const ingest_opts *o)
{
	ms_params	p = {0};
	ms_conn    *conn = NULL;
	char	   *list;
	char	   *tables[MAX_TABLES];
	int			ntables;
	table_file	files[MAX_TABLES + 1];
	mf_entry	entries[MAX_TABLES + 1];
	mf_block	block = {0};
	char		id[32],
				day[16],
				path[4200],
				tmp[4200];
	ebuf		ddl;
	int			lock_fd;
	int			rc = EXIT_RUNTIME;
	long		port;
	double		started = ingest_now();
	uint64_t	total = 0;
	int			nfiles = 0;
	bool		commit_tried = false;

	opt = o;
	memset(files, 0, sizeof(files));
	ebuf_init(&ddl);
	list = strdup(ingest_get(o, "tables", "users,products,sales,sales_details"));
	if (list == NULL)
		return EXIT_RUNTIME;
	ntables = split_tables(list, tables);
	if (ntables == 0)
	{
		ingest_log("tables lists no table");
		free(list);
		return EXIT_USAGE;
	}
	p.host = ingest_get(o, "mysql.host", "127.0.0.1");
	if (!ingest_get_long(o, "mysql.port", 3306, 1, 65535, &port))
	{
		free(list);
		return EXIT_USAGE;
	}
	p.port = (unsigned int) port;
	p.socket = ingest_get(o, "mysql.socket", NULL);
	p.database = ingest_get(o, "mysql.database", NULL);
	p.user = ingest_get(o, "mysql.user", NULL);
	p.password = ingest_get(o, "mysql.password", NULL);
	p.ssl_mode = ingest_get(o, "mysql.ssl-mode", NULL);
	p.ssl_ca = ingest_get(o, "mysql.ssl-ca", NULL);
	p.server_public_key = ingest_get(o, "mysql.server-public-key", NULL);
	p.connect_timeout = 10;
	p.read_timeout = 600;
	if (p.database == NULL)
	{
		ingest_log("mysql.database is not set: which database holds the shop tables?");
		free(list);
		return EXIT_USAGE;
	}

	snprintf(tmp_dir, sizeof(tmp_dir), "%s/.tmp/snapshot", o->dir);
	snprintf(snap_dir, sizeof(snap_dir), "%s/_snapshots", o->dir);
	if (!af_mkdirs(tmp_dir, err, sizeof(err)) || !af_mkdirs(snap_dir, err, sizeof(err)))
	{
		ingest_log("%s", err);
		free(list);
		return EXIT_RUNTIME;
	}
	if ((lock_fd = ingest_lock(o->dir, "snapshot")) < 0)
	{
		free(list);
		return EXIT_RUNTIME;
	}
	if (!recover())
		goto fail;

	if ((conn = ms_connect(&p, err, sizeof(err))) == NULL ||
		!ms_begin_snapshot(conn, err, sizeof(err)))
		goto fail;
	snapshot_id(id, sizeof(id));
	snprintf(day, sizeof(day), "%.4s-%.2s-%.2s", id, id + 4, id + 6);
	ingest_log("snapshot %s of MySQL %s (%s) database %s: %d tables",
			   id, p.host, ms_server_version(conn), p.database, ntables);

	ebuf_puts(&ddl, "-- ecsync-ingest snapshot ");
	ebuf_puts(&ddl, id);
	ebuf_puts(&ddl, ": the tables' PostgreSQL definitions by ecsync's type policy\n");
	for (int t = 0; t < ntables; t++)
	{
		uint64_t	rows = 0;
		double		t0 = ingest_now();
		table_file *tf = &files[nfiles];

		if (asprintf(&tf->rel, "%s/dt=%s/%s-%s.csv%s", tables[t], day, tables[t], id,
					 o->gzip ? ".gz" : "") < 0)
			goto fail;
		nfiles++;
		if (strchr(tables[t], '/') || tables[t][0] == '.' || tables[t][0] == '_')
		{
			seterr(err, sizeof(err), "\"%s\" cannot be archived: table names must not "
				   "contain / or start with . or _", tables[t]);
			goto fail;
		}
		if (!archive_table(conn, p.database, tables[t], tf->rel, tf, &ddl, &rows))
		{
			char		why[AF_ERRLEN + 600];

			snprintf(why, sizeof(why), "table %s: %s", tables[t], err);
			seterr(err, sizeof(err), "%s", why);
			goto fail;
		}
		entries[t] = (mf_entry) {tf->rel, rows, tf->f.bytes, tf->f.crc};
		total += rows;
		if (!o->quiet)
			ingest_log("snapshot: %s: %" PRIu64 " rows in %.1f s (%.0f rows/s)", tables[t], rows,
					   ingest_now() - t0, rows / (ingest_now() - t0 + 1e-9));
	}
	ms_close(conn);
	conn = NULL;

	/* the schema file is part of the snapshot */
	{
		table_file *tf = &files[nfiles];

		if (asprintf(&tf->rel, "_snapshots/%s.schema.sql", id) < 0)
			goto fail;
		nfiles++;
		mf_sealed_path(tmp_dir, tf->rel, tmp, sizeof(tmp));
		if (!af_open(&tf->f, tmp, false, ddl.data, ddl.len, err, sizeof(err)))
			goto fail;
		tf->open = true;
		if (!af_finish(&tf->f, err, sizeof(err)))
			goto fail;
		entries[ntables] = (mf_entry) {tf->rel, (uint64_t) ntables, tf->f.bytes, tf->f.crc};
	}
	if (!af_fsync_dir(tmp_dir, err, sizeof(err)))
		goto fail;

	/* the commit: from here on the sealed files are recovery's to keep or remove */
	commit_tried = true;
	block.nfiles = nfiles;
	block.files = entries;
	block.rows = total;
	block.first = block.last = -1;
	snprintf(path, sizeof(path), "%s/%s.csv", snap_dir, id);
	snprintf(tmp, sizeof(tmp), "%s/manifest-%s.csv", tmp_dir, id);
	if (!mf_write(tmp, path, &block, err, sizeof(err)))
		goto fail;
	for (int i = 0; i < nfiles; i++)
	{
		char		final[4200];

		snprintf(final, sizeof(final), "%s/%s", o->dir, files[i].rel);
		if (!af_publish(files[i].f.tmp_path, final, err, sizeof(err)))
		{
			ingest_log("%s (snapshot %s is committed: the next run finishes it)", err, id);
			goto out;
		}
		free(files[i].f.tmp_path);
		files[i].f.tmp_path = NULL;
	}
	ingest_log("snapshot %s: %" PRIu64 " rows of %d tables archived in %.1f s",
			   id, total, ntables, ingest_now() - started);
	rc = EXIT_OK;
	goto out;

fail:
	ingest_log("%s; no snapshot was committed", err[0] ? err : "out of memory");
out:
	for (int i = 0; i < nfiles; i++)
	{
		if (files[i].open && !commit_tried)
			af_discard(&files[i].f);
		else if (files[i].open)
			af_free(&files[i].f);
		free(files[i].rel);
	}
	if (conn != NULL)
		ms_close(conn);
	ebuf_free(&ddl);
	free(list);
	close(lock_fd);
	return rc;
}
