/*
 * binlog_source.c
 *	  The binary log over a replication connection (binlog_source.h).
 *	  Connector/C's mariadb_rpl_* API carries the events; their bodies are
 *	  taken raw (mariadb_rpl_fetch's own row decoding is not used: see
 *	  binlog_rows.c).  No PostgreSQL header.
 */
#include "binlog_source.h"
#include "binlog_rows.h"
#include "seterr.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>
#include <mariadb_rpl.h>

#define HEADER_LEN 19

struct bs_stream
{
	ms_conn    *conn;
	MYSQL	   *mysql;
	MARIADB_RPL *rpl;
	MARIADB_RPL_EVENT *ev;
	char		file[BS_FILE_MAX];	/* of the event last returned */
	bool		checksum;
};

static uint64_t
file_seq(const char *f)
{
	const char *dot = strrchr(f, '.');

	return dot ? strtoull(dot + 1, NULL, 10) : 0;
}

int
bs_pos_cmp(const bs_pos *a, const bs_pos *b)
{
	uint64_t	fa = file_seq(a->file),
				fb = file_seq(b->file);

	if (fa != fb)
		return fa < fb ? -1 : 1;
	if (a->pos != b->pos)
		return a->pos < b->pos ? -1 : 1;
	return 0;
}

/* one variable's value; "" when the server has no such variable */
static bool
variable(ms_conn *c, const char *name, char *val, char *err, size_t errlen)
{
	char		sql[256];
	char		v[2][256];
	int			rc;

	snprintf(sql, sizeof(sql), "SHOW GLOBAL VARIABLES LIKE '%s'", name);
	rc = ms_query_row(c, sql, 2, v, err, errlen);
	if (rc < 0)
		return false;
	strcpy(val, rc == 1 ? v[1] : "");
	return true;
}

static bool
is_denied(const char *err)
{
	return strstr(err, "error 1227") || strstr(err, "error 1045") ||
		strstr(err, "error 1044") || strstr(err, "denied");
}

bool
bs_check_source(ms_conn *c, uint32_t replica_id, bs_source *src, char *err, size_t errlen)
{
	char		v[256];
	char		row[4][256];
	char		e[MS_ERRLEN];

	memset(src, 0, sizeof(*src));
	snprintf(src->version, sizeof(src->version), "%s", ms_server_version(c));
	src->mariadb = strstr(src->version, "MariaDB") != NULL;

	if (!variable(c, "log_bin", v, err, errlen))
		return false;
	if (strcmp(v, "ON") != 0)
	{
		seterr(err, errlen, "the MySQL server %s has no binary log: start it with log_bin (e.g. --log-bin=binlog)",
			   src->version);
		return false;
	}
	if (!variable(c, "binlog_format", v, err, errlen))
		return false;
	if (strcmp(v, "ROW") != 0)
	{
		seterr(err, errlen, "binlog_format is %s: change capture needs ROW "
			   "(SET GLOBAL binlog_format = 'ROW' and binlog_format=ROW in the server's configuration)", v);
		return false;
	}
	if (!variable(c, "binlog_row_image", v, err, errlen))
		return false;
	if (v[0] && strcmp(v, "FULL") != 0)
	{
		seterr(err, errlen, "binlog_row_image is %s: change capture needs FULL "
			   "(SET GLOBAL binlog_row_image = 'FULL' and in the server's configuration)", v);
		return false;
	}
	if (!variable(c, "binlog_row_metadata", v, err, errlen))
		return false;
	if (v[0] && strcmp(v, "FULL") != 0)
	{
		seterr(err, errlen, "binlog_row_metadata is %s: change capture needs FULL, which names every column "
			   "and carries ENUM and SET strings and signedness "
			   "(SET GLOBAL binlog_row_metadata = 'FULL' and in the server's configuration)", v);
		return false;
	}
	if (!variable(c, "log_bin_compress", v, err, errlen))
		return false;
	if (strcmp(v, "ON") == 0)
	{
		seterr(err, errlen, "log_bin_compress is ON: change capture reads uncompressed row events "
			   "(SET GLOBAL log_bin_compress = OFF)");
		return false;
	}
	if (!variable(c, "server_id", v, err, errlen))
		return false;
	src->server_id = (uint32_t) strtoul(v, NULL, 10);
	if (src->server_id == replica_id)
	{
		seterr(err, errlen, "the MySQL server's server_id is %u, the id ecsync reads its binary log as: "
			   "set the foreign server's cdc_server_id option to an id no server of the topology uses",
			   replica_id);
		return false;
	}
	if (!variable(c, "binlog_checksum", v, err, errlen))
		return false;
	src->checksum = strcmp(v, "NONE") != 0;
	if (ms_query_row(c, "SHOW MASTER STATUS", 2, row, e, sizeof(e)) < 0 &&
		(strstr(e, "error 1064") == NULL ||
		 ms_query_row(c, "SHOW BINARY LOG STATUS", 2, row, e, sizeof(e)) < 0))
	{
		if (is_denied(e))
			seterr(err, errlen, "the MySQL account may not read the binary log's position: "
				   "GRANT %s, REPLICATION SLAVE ON *.* TO it (%s)",
				   src->mariadb ? "BINLOG MONITOR" : "REPLICATION CLIENT", e);
		else
			seterr(err, errlen, "%s", e);
		return false;
	}
	return true;
}

bool
bs_snapshot_position(ms_conn *c, bs_pos *p, char *err, size_t errlen)
{
	char		row[2][256];
	int			rc;

	memset(p, 0, sizeof(*p));
	rc = ms_query_row(c, "SHOW STATUS LIKE 'binlog_snapshot_file'", 2, row, err, errlen);
	if (rc < 0)
		return false;
	if (rc == 0 || row[1][0] == '\0')
	{
		seterr(err, errlen, "the server has no Binlog_snapshot_file status (MariaDB has it)");
		return false;
	}
	snprintf(p->file, sizeof(p->file), "%s", row[1]);
	rc = ms_query_row(c, "SHOW STATUS LIKE 'binlog_snapshot_position'", 2, row, err, errlen);
	if (rc <= 0)
	{
		if (rc == 0)
			seterr(err, errlen, "the server has no Binlog_snapshot_position status");
		return false;
	}
	p->pos = strtoull(row[1], NULL, 10);
	return true;
}

bool
bs_begin_snapshot(ms_conn *c, bs_pos *p, char *err, size_t errlen)
{
	char		e[MS_ERRLEN];

	if (strstr(ms_server_version(c), "MariaDB") != NULL)
		return ms_begin_snapshot(c, err, errlen) && bs_snapshot_position(c, p, err, errlen);
	/* MySQL: a global read lock for the moment the position is read */
	if (!ms_exec(c, "FLUSH TABLES WITH READ LOCK", e, sizeof(e)))
	{
		seterr(err, errlen, "MySQL has no lock-free snapshot position; the short global read lock "
			   "it needs was refused (GRANT RELOAD to the account): %s", e);
		return false;
	}
	if (!ms_begin_snapshot(c, err, errlen) ||
		!bs_master_position(c, p, err, errlen))
	{
		(void) ms_exec(c, "UNLOCK TABLES", e, sizeof(e));
		return false;
	}
	return ms_exec(c, "UNLOCK TABLES", err, errlen);
}

bool
bs_master_position(ms_conn *c, bs_pos *p, char *err, size_t errlen)
{
	char		row[2][256];
	int			rc = ms_query_row(c, "SHOW MASTER STATUS", 2, row, err, errlen);

	/* MySQL 8.4 renamed it */
	if (rc < 0 && strstr(err, "error 1064"))
		rc = ms_query_row(c, "SHOW BINARY LOG STATUS", 2, row, err, errlen);
	memset(p, 0, sizeof(*p));
	if (rc < 0)
		return false;
	if (rc == 0)
	{
		seterr(err, errlen, "SHOW MASTER STATUS gave no row: the binary log is off");
		return false;
	}
	snprintf(p->file, sizeof(p->file), "%s", row[0]);
	p->pos = strtoull(row[1], NULL, 10);
	return true;
}

int64_t
bs_bytes_between(ms_conn *c, const bs_pos *a, const bs_pos *b)
{
	char		e[MS_ERRLEN];
	char	  **row;
	unsigned long *lens;
	int64_t		total = 0;
	uint64_t	fa = file_seq(a->file),
				fb = file_seq(b->file);

	if (bs_pos_cmp(a, b) >= 0)
		return 0;
	if (fa == fb)
		return (int64_t) (b->pos - a->pos);
	if (!ms_stream(c, "SHOW BINARY LOGS", e, sizeof(e)))
		return -1;
	while (ms_fetch(c, &row, &lens, e, sizeof(e)) == 1)
	{
		uint64_t	f = row[0] ? file_seq(row[0]) : 0;
		int64_t		size = row[1] ? strtoll(row[1], NULL, 10) : 0;

		if (f == fa)
			total += size - (int64_t) a->pos;
		else if (f > fa && f < fb)
			total += size;
		else if (f == fb)
			total += (int64_t) b->pos;
	}
	ms_stream_end(c);
	return total;
}

bs_stream *
bs_open(ms_conn *c, uint32_t replica_id, const bs_pos *p, int heartbeat_ms,
		bool checksum, char *err, size_t errlen)
{
	bs_stream  *s = calloc(1, sizeof(bs_stream));
	char		sql[128];
	unsigned int verify = 0;

	if (s == NULL)
	{
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	s->conn = c;
	s->mysql = ms_handle(c);
	s->checksum = checksum;
	snprintf(s->file, sizeof(s->file), "%s", p->file);
	/*
	 * The dump needs the server told that we read its checksums (without
	 * it, it stops after the first ROTATE) and that we understand GTID
	 * events (capability 4); a heartbeat keeps an idle connection alive
	 * and lets the reader notice a dead one within its read timeout.
	 */
	snprintf(sql, sizeof(sql), "SET @master_heartbeat_period = %llu",
			 (unsigned long long) heartbeat_ms * 1000000ULL);
	if (!ms_exec(c, "SET @master_binlog_checksum = @@global.binlog_checksum", err, errlen) ||
		!ms_exec(c, "SET @mariadb_slave_capability = 4", err, errlen) ||
		!ms_exec(c, sql, err, errlen))
	{
		free(s);
		return NULL;
	}
	if ((s->rpl = mariadb_rpl_init(s->mysql)) == NULL)
	{
		seterr(err, errlen, "mariadb_rpl_init failed");
		free(s);
		return NULL;
	}
	mariadb_rpl_optionsv(s->rpl, MARIADB_RPL_SERVER_ID, (unsigned int) replica_id);
	mariadb_rpl_optionsv(s->rpl, MARIADB_RPL_FILENAME, s->file, strlen(s->file));
	mariadb_rpl_optionsv(s->rpl, MARIADB_RPL_START, (unsigned long) p->pos);
	mariadb_rpl_optionsv(s->rpl, MARIADB_RPL_FLAGS, 0);
	mariadb_rpl_optionsv(s->rpl, MARIADB_RPL_VERIFY_CHECKSUM, verify);
	if (mariadb_rpl_open(s->rpl) != 0)
	{
		seterr(err, errlen, "MySQL error %u starting the binary log dump: %s",
			   mysql_errno(s->mysql), mysql_error(s->mysql));
		mariadb_rpl_close(s->rpl);
		free(s);
		return NULL;
	}
	return s;
}

int
bs_next(bs_stream *s, bs_event *out, bool *purged, char *err, size_t errlen)
{
	MARIADB_RPL_EVENT *ev;
	const uint8_t *raw;
	size_t		rawlen;

	*purged = false;
	ev = mariadb_rpl_fetch(s->rpl, s->ev);
	if (ev == NULL)
	{
		unsigned int no = mysql_errno(s->mysql);

		if (no == 1236)
			*purged = strstr(mysql_error(s->mysql), "purged") != NULL ||
				strstr(mysql_error(s->mysql), "Could not find first log") != NULL;
		if (no == 1227 || no == 1045)
			seterr(err, errlen, "MySQL error %u reading the binary log: %s "
				   "(GRANT REPLICATION SLAVE ON *.* to the account)", no, mysql_error(s->mysql));
		else if (no != 0)
			seterr(err, errlen, "MySQL error %u reading the binary log: %s", no, mysql_error(s->mysql));
		else if (mariadb_rpl_errno(s->rpl) != 0)
			seterr(err, errlen, "error %u reading the binary log: %s", mariadb_rpl_errno(s->rpl),
				   mariadb_rpl_error(s->rpl));
		else
			seterr(err, errlen, "the MySQL server ended the binary log dump");
		s->ev = NULL;			/* the library freed it */
		return -1;
	}
	s->ev = ev;
	/* the packet's first byte is the OK marker, then the 19-byte header */
	raw = ev->raw_data;
	rawlen = ev->raw_data_size;
	if (rawlen > 0 && raw[0] == 0 && rawlen >= (size_t) ev->event_length + 1)
	{
		raw++;
		rawlen--;
	}
	if (rawlen < HEADER_LEN || ev->event_length < HEADER_LEN || ev->event_length > rawlen)
	{
		seterr(err, errlen, "malformed binary log event of %zu bytes", rawlen);
		return -1;
	}
	out->type = raw[4];
	out->timestamp = ev->timestamp;
	out->server_id = ev->server_id;
	out->next_pos = ev->next_event_pos;
	out->flags = ev->flags;
	out->body = raw + HEADER_LEN;
	out->len = ev->event_length - HEADER_LEN;
	/* every event but the format description carries a checksum when on */
	if (s->checksum && out->type != BR_EV_FORMAT_DESCRIPTION)
	{
		if (out->len < 4)
		{
			seterr(err, errlen, "binary log event shorter than its checksum");
			return -1;
		}
		out->len -= 4;
	}
	if (out->type == BR_EV_ROTATE && out->len >= 8)
	{
		size_t		l = out->len - 8;

		if (l >= sizeof(s->file))
			l = sizeof(s->file) - 1;
		memcpy(s->file, out->body + 8, l);
		s->file[l] = '\0';
	}
	return 1;
}

const char *
bs_file(bs_stream *s)
{
	return s->file;
}

int
bs_socket(bs_stream *s)
{
	return (int) mysql_get_socket(s->mysql);
}

void
bs_close(bs_stream *s)
{
	if (s == NULL)
		return;
	if (s->ev)
		mariadb_free_rpl_event(s->ev);
	mariadb_rpl_close(s->rpl);
	ms_close(s->conn);
	free(s);
}
