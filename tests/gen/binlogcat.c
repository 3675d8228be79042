/*
 * binlogcat.c
 *	  Prints the row changes of a MariaDB binary log as ecsync's decoder
 *	  (common/binlog_rows.c) reads them, one line per row image:
 *
 *	    I|U-|U+|D <TAB> db.table <TAB> hex of each value (or NULL) ...
 *
 *	  from a position to the end of the binary log as it was when
 *	  binlogcat started.  The decoder tests compare its lines with what
 *	  SELECT gives for the same rows.
 *
 *	  binlogcat [--pipe] FILE POS
 *
 *	  The connection comes from ECSYNC_MYSQL_HOST, _PORT, _USER and
 *	  _PASSWORD_FILE (BINLOGCAT_SSL_CA=FILE: verified TLS, which MySQL 9's
 *	  caching_sha2_password needs); BINLOGCAT_SEEDS=DIR writes fuzzing seeds of the first
 *	  rows events.  --pipe reads the events through the reader thread the
 *	  change-capture worker uses (common/binlog_pipe.c), so that a build
 *	  under sanitizers (binlogcat-san) runs every part of the worker's
 *	  binary log path that is not PostgreSQL's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binlog_pipe.h"
#include "binlog_rows.h"
#include "binlog_source.h"

#define MAX_TABLES 256

static void
die(const char *msg)
{
	fprintf(stderr, "binlogcat: %s\n", msg);
	exit(1);
}

static void
print_image(const char *tag, const br_table *t, const br_image *img)
{
	printf("%s\t%s.%s", tag, t->db, t->table);
	for (int i = 0; i < img->ncols; i++)
	{
		const char *v = br_value(img, i);

		if (v == NULL)
		{
			printf("\t%s", img->len[i] == BR_ABSENT ? "ABSENT" : "NULL");
			continue;
		}
		putchar('\t');
		for (int64_t k = 0; k < img->len[i]; k++)
			printf("%02X", (unsigned char) v[k]);
	}
	putchar('\n');
}

/*
 * write_seed writes a fuzzing seed (tests/fuzz/fuzz_binlog_rows.c): the
 * rows event's type, its TABLE_MAP's length (2 bytes, little-endian), the
 * TABLE_MAP's body, the rows event's body
 */
static void
write_seed(const char *dir, int n, int type, const uint8_t *map, size_t maplen,
		   const uint8_t *rows, size_t rowslen)
{
	char		path[1024];
	FILE	   *f;
	uint8_t		head[3] = {(uint8_t) type, (uint8_t) (maplen & 0xff), (uint8_t) (maplen >> 8)};

	snprintf(path, sizeof(path), "%s/seed-%02d", dir, n);
	if ((f = fopen(path, "wb")) == NULL)
		die("cannot write a seed");
	fwrite(head, 1, 3, f);
	fwrite(map, 1, maplen, f);
	fwrite(rows, 1, rowslen, f);
	fclose(f);
}

int
main(int argc, char **argv)
{
	/* BINLOGCAT_SEEDS=DIR: also write the first rows events as fuzzing seeds */
	const char *seeds = getenv("BINLOGCAT_SEEDS");
	int			nseeds = 0;
	static uint8_t last_map[65535];
	size_t		last_map_len = 0;

	ms_params	p;
	ms_conn    *c;
	char		err[MS_ERRLEN];
	char		pw[256] = "";
	FILE	   *f;
	bs_pos		from,
				end;
	bs_stream  *s;
	bs_source	src;
	br_table	tables[MAX_TABLES];
	int			ntables = 0;
	br_image	img;
	bp_pipe    *pipe = NULL;
	bool		use_pipe = argc == 4 && strcmp(argv[1], "--pipe") == 0;

	if (use_pipe)
	{
		argv++;
		argc--;
	}
	if (argc != 3)
		die("usage: binlogcat [--pipe] FILE POS");
	memset(&p, 0, sizeof(p));
	p.host = getenv("ECSYNC_MYSQL_HOST") ? getenv("ECSYNC_MYSQL_HOST") : "127.0.0.1";
	p.port = getenv("ECSYNC_MYSQL_PORT") ? (unsigned) atoi(getenv("ECSYNC_MYSQL_PORT")) : 3306;
	p.user = getenv("ECSYNC_MYSQL_USER") ? getenv("ECSYNC_MYSQL_USER") : "root";
	if (getenv("ECSYNC_MYSQL_PASSWORD_FILE") && (f = fopen(getenv("ECSYNC_MYSQL_PASSWORD_FILE"), "r")))
	{
		if (fgets(pw, sizeof(pw), f))
			pw[strcspn(pw, "\n")] = '\0';
		fclose(f);
	}
	p.password = pw;
	/* a server whose only safe plugin is caching_sha2_password (MySQL 9) needs verified TLS */
	p.ssl_ca = getenv("BINLOGCAT_SSL_CA");
	p.ssl_mode = p.ssl_ca ? "verify_identity" : "disabled";
	if ((c = ms_connect(&p, err, sizeof(err))) == NULL)
		die(err);
	if (!bs_check_source(c, 4000001, &src, err, sizeof(err)) ||
		!bs_master_position(c, &end, err, sizeof(err)))
		die(err);
	memset(&from, 0, sizeof(from));
	snprintf(from.file, sizeof(from.file), "%s", argv[1]);
	from.pos = strtoull(argv[2], NULL, 10);
	if ((s = bs_open(c, 4000001, &from, 1000, src.checksum, err, sizeof(err))) == NULL)
		die(err);
	if (use_pipe && (pipe = bp_start(s, 4 << 20, err, sizeof(err))) == NULL)
		die(err);
	br_image_init(&img);
	for (;;)
	{
		bs_event	ev;
		bool		purged;
		bs_pos		at;
		const char *file;

		if (pipe)
		{
			int			got;

			while ((got = bp_next(pipe, &ev, &file, 1000, &purged, err, sizeof(err))) == 0)
				;
			if (got < 0)
				die(err);
		}
		else
		{
			if (bs_next(s, &ev, &purged, err, sizeof(err)) < 0)
				die(err);
			file = bs_file(s);
		}
		snprintf(at.file, sizeof(at.file), "%s", file);
		at.pos = ev.next_pos;
		if (ev.type == BR_EV_TABLE_MAP)
		{
			br_table	t;

			if (ev.len <= sizeof(last_map))
			{
				memcpy(last_map, ev.body, ev.len);
				last_map_len = ev.len;
			}

			if (!br_parse_table_map(ev.body, ev.len, 6, &t, err, sizeof(err)))
				die(err);
			for (int i = 0; i < ntables; i++)
				if (tables[i].table_id == t.table_id)
				{
					br_table_free(&tables[i]);
					tables[i] = tables[--ntables];
				}
			if (ntables == MAX_TABLES)
				die("too many tables");
			tables[ntables++] = t;
		}
		else if (br_is_rows_event(ev.type))
		{
			br_rows		r;
			br_table   *t = NULL;
			size_t		pos = 0;

			if (seeds && nseeds < 64 && last_map_len > 0)
				write_seed(seeds, nseeds++, ev.type, last_map, last_map_len, ev.body, ev.len);

			if (!br_parse_rows(ev.type, ev.body, ev.len, 6, &r, err, sizeof(err)))
				die(err);
			for (int i = 0; i < ntables; i++)
				if (tables[i].table_id == r.table_id)
					t = &tables[i];
			if (t == NULL)
				die("rows event without its table map");
			while (pos < r.len)
			{
				if (!br_next_image(&r, t, r.present, &pos, &img, err, sizeof(err)))
					die(err);
				print_image(r.kind == BR_INSERT ? "I" : r.kind == BR_DELETE ? "D" : "U-", t, &img);
				if (r.kind == BR_UPDATE)
				{
					if (!br_next_image(&r, t, r.present_after, &pos, &img, err, sizeof(err)))
						die(err);
					print_image("U+", t, &img);
				}
			}
		}
		/* a compressed transaction's events all end where it ends */
		if (ev.next_pos != 0 && !ev.more_in_payload && bs_pos_cmp(&at, &end) >= 0)
			break;
	}
	fflush(stdout);
	br_image_free(&img);
	for (int i = 0; i < ntables; i++)
		br_table_free(&tables[i]);
	if (pipe)
		bp_stop(pipe);			/* closes the stream */
	else
		bs_close(s);
	return 0;
}
