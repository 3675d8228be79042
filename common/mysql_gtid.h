/*
 * mysql_gtid.h
 *	  MySQL's global transaction identifiers (gtid_mode = ON): the GTID of
 *	  one transaction, as its GTID_LOG_EVENT (type 33) or, for a tagged
 *	  GTID (MySQL 8.3+, gtid_next = 'AUTOMATIC:tag'), its
 *	  GTID_TAGGED_LOG_EVENT (type 42) gives it, and GTID sets: the text
 *	  MySQL prints (@@gtid_executed), the binary encoding of a
 *	  PREVIOUS_GTIDS_LOG_EVENT's body and of COM_BINLOG_DUMP_GTID (both
 *	  formats: untagged, and tagged, 8.3+).
 *
 *	  Change capture keeps the set of the transactions it applied, so that
 *	  a worker can resume from another server of the replication topology
 *	  (a replica that was failed over to) as a MySQL replica with
 *	  SOURCE_AUTO_POSITION does, and skips a transaction it already has.
 *	  MariaDB's GTIDs (domain-server-sequence) are not these.
 *
 *	  No PostgreSQL header: memory is malloc'd, errors are returned.
 *	  Everything read from the server is bounds-checked (fuzzed by
 *	  tests/fuzz/fuzz_mysql_gtid.c).
 */
#ifndef ECSYNC_MYSQL_GTID_H
#define ECSYNC_MYSQL_GTID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MG_TAG_MAX 32			/* MySQL's longest tag */

/* one transaction's GTID: uuid[:tag]:gno */
typedef struct mg_gtid
{
	uint8_t		uuid[16];
	char		tag[MG_TAG_MAX + 1];	/* "" when untagged; lower case */
	uint64_t	gno;			/* 1 .. 2^63 - 2, MySQL's range */
} mg_gtid;

/* the longest text of one GTID (uuid 36, ':', tag, ':', gno, NUL) */
#define MG_GTID_TEXT_MAX (36 + 1 + MG_TAG_MAX + 1 + 20 + 1)

/*
 * mg_parse_gtid_event reads the GTID of a GTID_LOG_EVENT (33) or a
 * GTID_TAGGED_LOG_EVENT (42) body (after the common header, without the
 * checksum).  1 with *g set; 0 for an event that carries no GTID (an
 * ANONYMOUS_GTID_LOG_EVENT (34), as written without gtid_mode, or a
 * GTID_LOG_EVENT of gno 0); -1 with a message when the body is malformed.
 */
extern int	mg_parse_gtid_event(int type, const uint8_t *body, size_t len, mg_gtid *g,
								char *err, size_t errlen);

/* mg_gtid_text writes uuid[:tag]:gno, as MySQL prints it */
extern void mg_gtid_text(const mg_gtid *g, char *buf, size_t len);

typedef struct mg_set mg_set;

/* an empty set; NULL when out of memory */
extern mg_set *mg_set_new(void);
extern void mg_set_free(mg_set *s);
extern bool mg_set_is_empty(const mg_set *s);

/* add one GTID (false: out of memory, or a gno out of MySQL's range) */
extern bool mg_set_add(mg_set *s, const mg_gtid *g);

/* is g in s? */
extern bool mg_set_contains(const mg_set *s, const mg_gtid *g);

/* add every GTID of other to s (false: out of memory) */
extern bool mg_set_union(mg_set *s, const mg_set *other);

/* does s hold every GTID of other? */
extern bool mg_set_includes(const mg_set *s, const mg_set *other);

/*
 * mg_set_parse adds the GTIDs of a text set, as MySQL prints and reads
 * it: "uuid:1-5:7,uuid:tag:3-9, ..." (uuids in any case, tags
 * case-insensitive, whitespace and newlines around the parts, the empty
 * string for the empty set).  False with a message for text MySQL would
 * refuse (a bad uuid, tag or interval, gno 0 or beyond 2^63 - 2).
 */
extern bool mg_set_parse(mg_set *s, const char *text, char *err, size_t errlen);

/*
 * mg_set_text: s as text, the form MySQL prints (uuids, then tags, in
 * ascending order, intervals merged) but with "," between uuids and no
 * newline; "" for the empty set.  malloc'd; NULL when out of memory.
 */
extern char *mg_set_text(const mg_set *s);

/*
 * mg_set_decode adds the GTIDs of a binary set, as a
 * PREVIOUS_GTIDS_LOG_EVENT's body holds it (untagged or tagged format);
 * the whole of buf must be the set.  False with a message when malformed.
 */
extern bool mg_set_decode(mg_set *s, const uint8_t *buf, size_t len, char *err, size_t errlen);

/*
 * mg_set_encode: s in the binary encoding COM_BINLOG_DUMP_GTID sends
 * (the tagged format only when s holds a tagged GTID, as MySQL does).
 * malloc'd, *len set; NULL when out of memory.
 */
extern uint8_t *mg_set_encode(const mg_set *s, size_t *len);

#endif							/* ECSYNC_MYSQL_GTID_H */
