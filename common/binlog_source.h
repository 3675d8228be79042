/*
 * binlog_source.h
 *	  Reading a MariaDB/MySQL server's binary log over a replication
 *	  connection (Connector/C's mariadb_rpl_* API as the transport; the
 *	  events are decoded by binlog_rows.c), and what change capture asks
 *	  the server beside it: its settings, its position, the position of a
 *	  consistent snapshot.  No PostgreSQL header; errors are returned.
 */
#ifndef ECSYNC_BINLOG_SOURCE_H
#define ECSYNC_BINLOG_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mysql_gtid.h"
#include "mysql_source.h"

#define BS_FILE_MAX 512

/* a position in the binary log */
typedef struct bs_pos
{
	char		file[BS_FILE_MAX];
	uint64_t	pos;
} bs_pos;

/*
 * bs_pos_cmp orders two positions of one server: by the file's sequence
 * number (the digits after the last '.'), then the offset.
 */
extern int	bs_pos_cmp(const bs_pos *a, const bs_pos *b);

/* what bs_check_source found on the server */
typedef struct bs_source
{
	char		version[128];
	bool		mariadb;
	uint32_t	server_id;
	bool		checksum;		/* binlog_checksum = CRC32 */
	bool		gtid_mode;		/* MySQL with gtid_mode = ON */
	char		server_uuid[40];	/* MySQL's @@server_uuid ("" on MariaDB) */
} bs_source;

/*
 * bs_check_source checks what change capture needs of the server and its
 * account: the binary log on, binlog_format=ROW, binlog_row_image=FULL,
 * binlog_row_metadata=FULL (where the server has it), no compressed
 * binary log, a server_id other than ours, and the right to read the
 * binary log's position (BINLOG MONITOR / REPLICATION CLIENT).  False
 * with a message that says what to set.  (REPLICATION SLAVE is needed by
 * the dump itself, whose error says so.)
 */
extern bool bs_check_source(ms_conn *c, uint32_t replica_id, bs_source *src,
							char *err, size_t errlen);

/*
 * bs_snapshot_position reads, inside a transaction started WITH
 * CONSISTENT SNAPSHOT, the binary log position that the snapshot
 * corresponds to exactly (MariaDB's Binlog_snapshot_file/_position).
 * False with a message where the server has no such status (MySQL).
 */
extern bool bs_snapshot_position(ms_conn *c, bs_pos *p, char *err, size_t errlen);

/*
 * bs_begin_snapshot starts c's consistent snapshot (as ms_begin_snapshot)
 * and reads the binary log position it corresponds to exactly.  MariaDB
 * gives it without a lock (Binlog_snapshot_file/_position).  MySQL has no
 * such status: there the shortest safe way is taken, as mysqldump
 * --single-transaction --source-data takes it: FLUSH TABLES WITH READ
 * LOCK, start the snapshot, read the position, UNLOCK TABLES (writes wait
 * for milliseconds; the account needs RELOAD).  False with a message.
 */
extern bool bs_begin_snapshot(ms_conn *c, bs_pos *p, char *err, size_t errlen);

/* bs_master_position: the server's current end of the binary log */
extern bool bs_master_position(ms_conn *c, bs_pos *p, char *err, size_t errlen);

/*
 * bs_bytes_between: the bytes of binary log from a to b, by the sizes
 * SHOW BINARY LOGS gives; -1 when unknown.
 */
extern int64_t bs_bytes_between(ms_conn *c, const bs_pos *a, const bs_pos *b);


/* one event: its header, and its body without the checksum */
typedef struct bs_event
{
	int			type;
	uint32_t	timestamp;
	uint32_t	server_id;
	uint32_t	next_pos;		/* where the next event starts: a resume point */
	uint16_t	flags;
	const uint8_t *body;
	size_t		len;
	bool		more_in_payload;	/* more events of the same compressed
									 * transaction follow (all at its end) */
} bs_event;

typedef struct bs_stream bs_stream;

/*
 * bs_open starts the dump of c's binary log from p, as replica
 * replica_id, with a heartbeat every heartbeat_ms when the server has
 * nothing to send; checksum says whether its events carry a CRC32
 * (bs_source.checksum), the artificial ones sent before the format
 * description included.  The connection belongs to the stream from then on.
 */
extern bs_stream *bs_open(ms_conn *c, uint32_t replica_id, const bs_pos *p,
						  int heartbeat_ms, bool checksum, char *err, size_t errlen);

/*
 * bs_open_gtid starts the dump of c's binary log after the transactions
 * of a GTID set (set: mg_set_encode's bytes), as a MySQL replica with
 * SOURCE_AUTO_POSITION asks for it: the server finds the file to start
 * from, skips the transactions the set holds and refuses a set it cannot
 * serve (the transactions it lacks were purged) with error 1236.  The
 * first event is an artificial ROTATE naming that file (its position 4).
 * MySQL only; otherwise as bs_open.
 */
extern bs_stream *bs_open_gtid(ms_conn *c, uint32_t replica_id, const uint8_t *set, size_t setlen,
							   int heartbeat_ms, bool checksum, char *err, size_t errlen);

/* bs_has_file: does SHOW BINARY LOGS list file?  False with a message on error */
extern bool bs_has_file(ms_conn *c, const char *file, bool *has, char *err, size_t errlen);

/*
 * bs_gtid_set_at adds to set the GTIDs of a MySQL server's transactions
 * before position p: the PREVIOUS_GTIDS of p's file and the GTIDs of its
 * transactions that end at or before p, read from a dump of that file
 * from its start.  c is the dump's connection and is closed.  False with
 * a message; *purged is set when the server no longer has the file.
 */
extern bool bs_gtid_set_at(ms_conn *c, uint32_t replica_id, const bs_pos *p, bool checksum,
						   mg_set *set, bool *purged, char *err, size_t errlen);

/*
 * bs_next returns 1 with the next event (valid until the next call), or
 * -1 with a message.  ROTATE events are followed (bs_file says the file
 * of the event returned); artificial events and the format description
 * are returned too, for the caller to skip.  *purged is set when the
 * server no longer has the file asked for.
 */
extern int	bs_next(bs_stream *s, bs_event *ev, bool *purged, char *err, size_t errlen);

/* the file the last event returned was read from */
extern const char *bs_file(bs_stream *s);

/* bs_socket: the connection's socket, for shutdown(2) from a signal handler */
extern int	bs_socket(bs_stream *s);

extern void bs_close(bs_stream *s);

#endif							/* ECSYNC_BINLOG_SOURCE_H */
