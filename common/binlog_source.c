/*
 * binlog_source.c
 *	  The binary log over a replication connection (binlog_source.h).
 *	  Connector/C's mariadb_rpl_open sends the dump command; the events
 *	  are then read as raw packets (mysql_net_read_packet) and split here.
 *	  mariadb_rpl_fetch is not used: it parses every event itself and
 *	  stops the stream at an event type it does not know, such as MySQL
 *	  8's TRANSACTION_PAYLOAD (binlog_transaction_compression); the row
 *	  events are decoded by binlog_rows.c.
 *
 *	  A TRANSACTION_PAYLOAD event holds a whole transaction's events,
 *	  compressed with zstd: it is decompressed and its events are returned
 *	  one by one, each at the payload's own end position (the transaction
 *	  cannot be resumed half-way, so that is where its events end).  No
 *	  PostgreSQL header.
 */
#include "binlog_source.h"
#include "binlog_rows.h"
#include "mysql_gtid.h"
#include "seterr.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>
#include <mariadb_rpl.h>
#include <zstd.h>

#define HEADER_LEN 19

/* the largest transaction a TRANSACTION_PAYLOAD may decompress to */
#define PAYLOAD_MAX ((size_t) 1 << 30)

struct bs_stream
{
	ms_conn    *conn;
	MYSQL	   *mysql;
	MARIADB_RPL *rpl;
	char		file[BS_FILE_MAX];	/* of the event last returned */
	bool		checksum;
	/* the events of the TRANSACTION_PAYLOAD being returned */
	uint8_t    *payload;
	size_t		payload_cap;
	size_t		payload_len;
	size_t		payload_off;
	uint32_t	payload_next_pos;
	ZSTD_DCtx  *zstd;			/* made at the first payload, kept for the next */
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
	/* MySQL's GTIDs: what a worker resumes by on another server */
	if (!src->mariadb)
	{
		if (!variable(c, "gtid_mode", v, err, errlen))
			return false;
		src->gtid_mode = strcmp(v, "ON") == 0;
		if (!variable(c, "server_uuid", v, err, errlen))
			return false;
		{
			size_t		l = strnlen(v, sizeof(src->server_uuid) - 1);

			memcpy(src->server_uuid, v, l);
			src->server_uuid[l] = '\0';
		}
	}
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

/*
 * stream_for makes c's stream and tells the server what the dump needs:
 * that we read its checksums (without it, it stops after the first
 * ROTATE) and understand GTID events (capability 4); a heartbeat keeps an
 * idle connection alive and lets the reader notice a dead one within its
 * read timeout (MySQL 9 sends none when asked by the master_ name only).
 */
static bs_stream *
stream_for(ms_conn *c, const char *file, int heartbeat_ms, bool checksum, char *err, size_t errlen)
{
	bs_stream  *s = calloc(1, sizeof(bs_stream));
	char		sql[128];

	if (s == NULL)
	{
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	s->conn = c;
	s->mysql = ms_handle(c);
	s->checksum = checksum;
	snprintf(s->file, sizeof(s->file), "%s", file);
	snprintf(sql, sizeof(sql), "SET @master_heartbeat_period = %llu, @source_heartbeat_period = %llu",
			 (unsigned long long) heartbeat_ms * 1000000ULL, (unsigned long long) heartbeat_ms * 1000000ULL);
	/* (MySQL 8.4 and later read the source_ spellings, MariaDB the master_ ones) */
	if (!ms_exec(c, "SET @master_binlog_checksum = @@global.binlog_checksum, "
				 "@source_binlog_checksum = @@global.binlog_checksum", err, errlen) ||
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
	return s;
}

bs_stream *
bs_open(ms_conn *c, uint32_t replica_id, const bs_pos *p, int heartbeat_ms,
		bool checksum, char *err, size_t errlen)
{
	bs_stream  *s = stream_for(c, p->file, heartbeat_ms, checksum, err, errlen);
	unsigned int verify = 0;

	if (s == NULL)
		return NULL;
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

/* MySQL's COM_BINLOG_DUMP_GTID (Connector/C sends only COM_BINLOG_DUMP) */
#define COM_BINLOG_DUMP_GTID 0x1e
#define BINLOG_THROUGH_GTID 0x04

bs_stream *
bs_open_gtid(ms_conn *c, uint32_t replica_id, const uint8_t *set, size_t setlen,
			 int heartbeat_ms, bool checksum, char *err, size_t errlen)
{
	bs_stream  *s;
	uint8_t    *cmd,
			   *p;
	size_t		len = 2 + 4 + 4 + 8 + 4 + setlen;
	int			rc;

	if (setlen > UINT32_MAX - 64)
	{
		seterr(err, errlen, "the GTID set is too large to send");
		return NULL;
	}
	if ((s = stream_for(c, "", heartbeat_ms, checksum, err, errlen)) == NULL)
		return NULL;
	if ((cmd = malloc(len)) == NULL)
	{
		seterr(err, errlen, "out of memory");
		mariadb_rpl_close(s->rpl);
		free(s);
		return NULL;
	}
	/*
	 * flags (2), server_id (4), the file name's length (4) and name (none:
	 * the server finds the file), position (8: 4, the start of a file),
	 * the set's length (4) and the set, encoded as MySQL encodes it
	 */
	p = cmd;
	*p++ = BINLOG_THROUGH_GTID;
	*p++ = 0;
	for (int i = 0; i < 4; i++)
		*p++ = (uint8_t) (replica_id >> (8 * i));
	for (int i = 0; i < 4; i++)
		*p++ = 0;
	*p++ = 4;
	for (int i = 1; i < 8; i++)
		*p++ = 0;
	for (int i = 0; i < 4; i++)
		*p++ = (uint8_t) (setlen >> (8 * i));
	memcpy(p, set, setlen);
	rc = s->mysql->methods->db_command(s->mysql, (enum enum_server_command) COM_BINLOG_DUMP_GTID,
									   (const char *) cmd, len, 1, NULL);
	free(cmd);
	if (rc != 0)
	{
		seterr(err, errlen, "MySQL error %u starting the binary log dump by GTID set: %s",
			   mysql_errno(s->mysql), mysql_error(s->mysql));
		mariadb_rpl_close(s->rpl);
		free(s);
		return NULL;
	}
	return s;
}

bool
bs_has_file(ms_conn *c, const char *file, bool *has, char *err, size_t errlen)
{
	char	  **row;
	unsigned long *lens;
	int			rc;

	*has = false;
	if (!ms_stream(c, "SHOW BINARY LOGS", err, errlen))
		return false;
	while ((rc = ms_fetch(c, &row, &lens, err, errlen)) == 1)
		if (row[0] && strcmp(row[0], file) == 0)
			*has = true;
	ms_stream_end(c);
	return rc == 0;
}

bool
bs_gtid_set_at(ms_conn *c, uint32_t replica_id, const bs_pos *p, bool checksum,
			   mg_set *set, bool *purged, char *err, size_t errlen)
{
	bs_pos		start;
	bs_stream  *s;
	bool		ok = false;

	*purged = false;
	snprintf(start.file, sizeof(start.file), "%s", p->file);
	start.pos = 4;
	if ((s = bs_open(c, replica_id, &start, 500, checksum, err, errlen)) == NULL)
	{
		ms_close(c);
		return false;
	}
	for (;;)
	{
		bs_event	ev;
		mg_gtid		g;
		int			rc = bs_next(s, &ev, purged, err, errlen);

		if (rc < 0)
			break;
		/* the server has sent all it has (p was its end), or another file */
		if (ev.type == BR_EV_HEARTBEAT || strcmp(bs_file(s), p->file) != 0)
		{
			ok = true;
			break;
		}
		/* the artificial events before the file's own carry no position */
		if (ev.next_pos == 0 || (ev.flags & 0x20))
			continue;
		if (ev.type != BR_EV_MYSQL_PREVIOUS_GTIDS && ev.next_pos > p->pos)
		{
			ok = true;
			break;
		}
		if (ev.type == BR_EV_MYSQL_PREVIOUS_GTIDS)
		{
			if (!mg_set_decode(set, ev.body, ev.len, err, errlen))
				break;
		}
		else if ((ev.type == BR_EV_MYSQL_GTID || ev.type == BR_EV_MYSQL_GTID_TAGGED) &&
				 (rc = mg_parse_gtid_event(ev.type, ev.body, ev.len, &g, err, errlen)) != 0)
		{
			if (rc < 0 || !mg_set_add(set, &g))
			{
				if (rc > 0)
					seterr(err, errlen, "out of memory");
				break;
			}
		}
	}
	bs_close(s);
	return ok;
}

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

/* header fields of the event at raw (at least HEADER_LEN bytes) */
static void
header(const uint8_t *raw, bs_event *out)
{
	out->timestamp = le32(raw);
	out->type = raw[4];
	out->server_id = le32(raw + 5);
	out->next_pos = le32(raw + 13);
	out->flags = (uint16_t) (raw[17] | raw[18] << 8);
}

/* a packed integer (MySQL's net_field_length) at *off of a len-byte body */
static bool
packed(const uint8_t *p, size_t len, size_t *off, uint64_t *v)
{
	int			n;

	if (*off >= len)
		return false;
	if (p[*off] < 251)
	{
		*v = p[(*off)++];
		return true;
	}
	n = p[*off] == 252 ? 2 : p[*off] == 253 ? 3 : p[*off] == 254 ? 8 : -1;
	if (n < 0 || len - *off - 1 < (size_t) n)
		return false;
	*v = 0;
	for (int i = n; i >= 1; i--)
		*v = *v << 8 | p[*off + i];
	*off += 1 + n;
	return true;
}

/*
 * open_payload decompresses a TRANSACTION_PAYLOAD event's body: fields
 * (type, length, value; MySQL's Transaction_payload_event), an end mark,
 * then the transaction's events, zstd-compressed (or not, for compression
 * type NONE), with no checksums of their own.
 */
static bool
open_payload(bs_stream *s, const bs_event *ev, char *err, size_t errlen)
{
	size_t		off = 0;
	uint64_t	type,
				flen,
				compression = 0,
				size = 0;
	const uint8_t *data;
	size_t		datalen;

	for (;;)
	{
		uint64_t	v = 0;

		if (!packed(ev->body, ev->len, &off, &type))
			goto bad;
		if (type == 0)
			break;				/* the end of the fields */
		if (!packed(ev->body, ev->len, &off, &flen) || flen > ev->len - off)
			goto bad;
		/* each value a packed integer of its field's length */
		{
			size_t		voff = off;

			if (flen > 0 && !packed(ev->body, off + (size_t) flen, &voff, &v))
				goto bad;
		}
		if (type == 2)
			compression = v;
		else if (type == 3)
			size = v;
		off += (size_t) flen;
	}
	data = ev->body + off;
	datalen = ev->len - off;
	if (compression != 0 && compression != 255)
	{
		seterr(err, errlen, "a TRANSACTION_PAYLOAD event at %s:%u is compressed with method %llu, "
			   "which change capture does not read (only zstd)", s->file, ev->next_pos,
			   (unsigned long long) compression);
		return false;
	}
	if (compression == 255)
		size = datalen;
	else if (size == 0)
	{
		/* no size field: the frame's own, where it says */
		unsigned long long fs = ZSTD_getFrameContentSize(data, datalen);

		if (fs == ZSTD_CONTENTSIZE_UNKNOWN || fs == ZSTD_CONTENTSIZE_ERROR)
			goto bad;
		size = fs;
	}
	if (size > PAYLOAD_MAX)
	{
		seterr(err, errlen, "a compressed transaction at %s:%u is %llu bytes uncompressed, more than "
			   "change capture holds (%zu MB)", s->file, ev->next_pos, (unsigned long long) size,
			   PAYLOAD_MAX >> 20);
		return false;
	}
	if (s->payload_cap < size || s->payload == NULL)
	{
		uint8_t    *p = realloc(s->payload, size ? size : 1);

		if (p == NULL)
		{
			seterr(err, errlen, "out of memory decompressing a transaction of %llu bytes",
				   (unsigned long long) size);
			return false;
		}
		s->payload = p;
		s->payload_cap = size ? size : 1;
	}
	if (compression == 255)
		memcpy(s->payload, data, datalen);
	else
	{
		ZSTD_DCtx  *z = s->zstd ? s->zstd : (s->zstd = ZSTD_createDCtx());
		ZSTD_inBuffer in = {data, datalen, 0};
		ZSTD_outBuffer out = {s->payload, (size_t) size, 0};
		uint8_t		probe;
		ZSTD_outBuffer over = {&probe, 1, 0};
		size_t		rc = 1;

		if (z == NULL)
		{
			seterr(err, errlen, "out of memory creating a zstd context");
			return false;
		}
		ZSTD_DCtx_reset(z, ZSTD_reset_session_only);

		/*
		 * Into the buffer of the declared size; once it is full, into a
		 * byte that must stay empty: no event may lie beyond that size.
		 */
		while (in.pos < in.size)
		{
			size_t		before = in.pos;
			ZSTD_outBuffer *o = out.pos < out.size ? &out : &over;

			rc = ZSTD_decompressStream(z, o, &in);
			if (ZSTD_isError(rc) || over.pos > 0)
			{
				if (ZSTD_isError(rc))
					seterr(err, errlen, "the compressed transaction at %s:%u does not decompress: %s",
						   s->file, ev->next_pos, ZSTD_getErrorName(rc));
				else
					seterr(err, errlen, "the compressed transaction at %s:%u is larger than "
						   "its declared %llu bytes", s->file, ev->next_pos, (unsigned long long) size);
				return false;
			}
			if (o == &over && in.pos == before)
				break;
		}
		if (rc != 0 || out.pos != size)
		{
			seterr(err, errlen, "the compressed transaction at %s:%u gave %zu of its %llu bytes",
				   s->file, ev->next_pos, out.pos, (unsigned long long) size);
			return false;
		}
	}
	s->payload_len = (size_t) size;
	s->payload_off = 0;
	s->payload_next_pos = ev->next_pos;
	return true;

bad:
	seterr(err, errlen, "malformed TRANSACTION_PAYLOAD event at %s:%u", s->file, ev->next_pos);
	return false;
}

/* the payload's next event, at the payload's end position */
static int
next_in_payload(bs_stream *s, bs_event *out, char *err, size_t errlen)
{
	const uint8_t *raw = s->payload + s->payload_off;
	size_t		left = s->payload_len - s->payload_off;
	uint32_t	len;

	if (left < HEADER_LEN || (len = le32(raw + 9)) < HEADER_LEN || len > left)
	{
		seterr(err, errlen, "malformed event %zu bytes into the compressed transaction ending at %s:%u",
			   s->payload_off, s->file, s->payload_next_pos);
		return -1;
	}
	header(raw, out);
	if (out->type == BR_EV_TRANSACTION_PAYLOAD)
	{
		seterr(err, errlen, "a compressed transaction inside a compressed transaction at %s:%u",
			   s->file, s->payload_next_pos);
		return -1;
	}
	out->next_pos = s->payload_next_pos;
	out->body = raw + HEADER_LEN;
	out->len = len - HEADER_LEN;
	s->payload_off += len;
	out->more_in_payload = s->payload_off < s->payload_len;
	return 1;
}

int
bs_next(bs_stream *s, bs_event *out, bool *purged, char *err, size_t errlen)
{
	unsigned long n;
	const uint8_t *raw;
	size_t		rawlen;
	uint32_t	evlen;

	*purged = false;
	if (s->payload_off < s->payload_len)
		return next_in_payload(s, out, err, errlen);
	n = mysql_net_read_packet(s->mysql);
	if (n == packet_error)
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
		else
			seterr(err, errlen, "the connection to the MySQL server was lost reading the binary log");
		return -1;
	}
	raw = s->mysql->net.read_pos;
	rawlen = n;
	/* an EOF packet: the server ended the dump */
	if (rawlen < 9 && rawlen > 0 && raw[0] == 0xFE)
	{
		seterr(err, errlen, "the MySQL server ended the binary log dump");
		return -1;
	}
	/* the packet's first byte is the OK marker, then the 19-byte header */
	if (rawlen == 0 || raw[0] != 0)
	{
		seterr(err, errlen, "unexpected packet of %zu bytes in the binary log dump", rawlen);
		return -1;
	}
	raw++;
	rawlen--;
	if (rawlen < HEADER_LEN || (evlen = le32(raw + 9)) < HEADER_LEN || evlen > rawlen)
	{
		seterr(err, errlen, "malformed binary log event of %zu bytes", rawlen);
		return -1;
	}
	header(raw, out);
	out->body = raw + HEADER_LEN;
	out->len = evlen - HEADER_LEN;
	out->more_in_payload = false;
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
	if (out->type == BR_EV_TRANSACTION_PAYLOAD)
	{
		if (!open_payload(s, out, err, errlen))
			return -1;
		if (s->payload_len == 0)
		{
			seterr(err, errlen, "an empty compressed transaction at %s:%u", s->file, out->next_pos);
			return -1;
		}
		return next_in_payload(s, out, err, errlen);
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
	free(s->payload);
	ZSTD_freeDCtx(s->zstd);
	mariadb_rpl_close(s->rpl);
	ms_close(s->conn);
	free(s);
}
