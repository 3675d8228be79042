/*
 * binlog_rows.h
 *	  MariaDB/MySQL row-based binary log events, decoded from their bytes:
 *	  TABLE_MAP (a table's columns, with the full metadata that
 *	  binlog_row_metadata=FULL adds: names, signedness, ENUM and SET
 *	  strings, charsets, primary key) and WRITE/UPDATE/DELETE_ROWS (row
 *	  images), and MySQL's PARTIAL_UPDATE_ROWS, whose after images may hold
 *	  a JSON column as diffs on its before image's value
 *	  (binlog_row_value_options=PARTIAL_JSON).
 *
 *	  Every value comes out in MySQL's text form, exactly as the batch
 *	  reads the same column with SELECT over the text protocol (FLOAT as
 *	  CAST(col AS DOUBLE), spatial types as WKB, TIMESTAMP in UTC), so that
 *	  change capture and the batch share one type policy (type_policy.h)
 *	  and give the same PostgreSQL values.
 *
 *	  The bytes come from the network: every length is checked, malformed
 *	  input gives an error, never a read outside the event (fuzzed by
 *	  tests/fuzz/fuzz_binlog_rows.c).  Plain C, no MySQL or PostgreSQL
 *	  header.
 */
#ifndef ECSYNC_BINLOG_ROWS_H
#define ECSYNC_BINLOG_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ebuf.h"

/* column types as the binlog writes them (MySQL's enum_field_types) */
enum
{
	BR_DECIMAL = 0, BR_TINY = 1, BR_SHORT = 2, BR_LONG = 3, BR_FLOAT = 4,
	BR_DOUBLE = 5, BR_NULL = 6, BR_TIMESTAMP = 7, BR_LONGLONG = 8,
	BR_INT24 = 9, BR_DATE = 10, BR_TIME = 11, BR_DATETIME = 12,
	BR_YEAR = 13, BR_NEWDATE = 14, BR_VARCHAR = 15, BR_BIT = 16,
	BR_TIMESTAMP2 = 17, BR_DATETIME2 = 18, BR_TIME2 = 19,
	BR_JSON = 245, BR_NEWDECIMAL = 246, BR_ENUM = 247, BR_SET = 248,
	BR_TINY_BLOB = 249, BR_MEDIUM_BLOB = 250, BR_LONG_BLOB = 251,
	BR_BLOB = 252, BR_VAR_STRING = 253, BR_STRING = 254, BR_GEOMETRY = 255
};

/* binlog event types this file reads */
enum
{
	BR_EV_QUERY = 2, BR_EV_ROTATE = 4, BR_EV_FORMAT_DESCRIPTION = 15,
	BR_EV_XID = 16, BR_EV_TABLE_MAP = 19,
	BR_EV_WRITE_ROWS_V1 = 23, BR_EV_UPDATE_ROWS_V1 = 24, BR_EV_DELETE_ROWS_V1 = 25,
	BR_EV_HEARTBEAT = 27,
	BR_EV_ROWS_QUERY = 29,
	BR_EV_WRITE_ROWS = 30, BR_EV_UPDATE_ROWS = 31, BR_EV_DELETE_ROWS = 32,
	BR_EV_MYSQL_GTID = 33, BR_EV_MYSQL_ANONYMOUS_GTID = 34, BR_EV_MYSQL_PREVIOUS_GTIDS = 35,
	BR_EV_PARTIAL_UPDATE_ROWS = 39,
	BR_EV_TRANSACTION_PAYLOAD = 40, BR_EV_MYSQL_GTID_TAGGED = 42,
	BR_EV_GTID = 162,
	BR_EV_WRITE_ROWS_COMPRESSED_V1 = 169, BR_EV_UPDATE_ROWS_COMPRESSED_V1 = 170,
	BR_EV_DELETE_ROWS_COMPRESSED_V1 = 171
};

/* one column of a TABLE_MAP */
typedef struct br_column
{
	uint8_t		type;			/* BR_*; a STRING's real type (CHAR, ENUM, SET) */
	uint32_t	meta;			/* the type's metadata, decoded (see binlog_rows.c) */
	bool		is_unsigned;	/* numeric types: from the SIGNEDNESS metadata */
	bool		nullable;
	const char *name;			/* NULL without COLUMN_NAME metadata */
	uint32_t	charset;		/* collation id of a character column, 0 if unknown */
	int			nvalues;		/* ENUM and SET: their strings */
	const char **values;
} br_column;

/* a TABLE_MAP event: which table a table id means, and its columns */
typedef struct br_table
{
	uint64_t	table_id;
	const char *db;
	const char *table;
	int			ncols;
	br_column  *cols;
	bool		has_names;		/* binlog_row_metadata=FULL */
	int			npk;
	int		   *pk;				/* column indexes of the primary key */
	void	   *mem;			/* what the pointers above point into */
} br_table;

/*
 * br_parse_table_map decodes a TABLE_MAP event's body (after the 19-byte
 * header, without the checksum); table_id_size is 6 (or 4 for old
 * servers).  False with a message on malformed input.  br_table_free
 * frees what it allocated.
 */
extern bool br_parse_table_map(const uint8_t *body, size_t len, int table_id_size,
							   br_table *t, char *err, size_t errlen);
extern void br_table_free(br_table *t);

typedef enum br_kind
{
	BR_INSERT,
	BR_UPDATE,
	BR_DELETE
} br_kind;

/* a ROWS event, its images not yet decoded */
typedef struct br_rows
{
	br_kind		kind;
	uint64_t	table_id;
	uint16_t	flags;			/* 1: the statement's last rows event */
	bool		partial;		/* PARTIAL_UPDATE_ROWS: after images may hold JSON diffs */
	int			ncols;
	const uint8_t *present;		/* columns in the (before) image */
	const uint8_t *present_after;	/* UPDATE: columns in the after image */
	const uint8_t *data;		/* the images, back to back */
	size_t		len;
} br_rows;

/* br_is_rows_event: is event type a (v1 or v2) rows event? */
extern bool br_is_rows_event(int type);

/*
 * br_parse_rows decodes a rows event's header; the images stay in the
 * event (r points into body).  False with a message on malformed input or
 * a compressed event (log_bin_compress).
 */
extern bool br_parse_rows(int type, const uint8_t *body, size_t len, int table_id_size,
						  br_rows *r, char *err, size_t errlen);

/* a decoded row image: every column of the table, in order */
#define BR_NULL_VALUE (-1)
#define BR_ABSENT (-2)			/* not in the image (binlog_row_image != FULL) */

typedef struct br_image
{
	int			ncols;
	int			cap;
	int64_t    *off;			/* into text */
	int64_t    *len;			/* bytes, or BR_NULL_VALUE or BR_ABSENT */
	ebuf		text;			/* the values, each followed by a NUL */
	/* where the image came from, for a PARTIAL_UPDATE_ROWS after image */
	int64_t    *raw;			/* each value's offset in its event's data, or -1 */
	const uint8_t *from;		/* that event's data */
	size_t		end;			/* where the image ends in it */
	bool		partial_before; /* it is the before image of such a row */
} br_image;

extern void br_image_init(br_image *img);
extern void br_image_free(br_image *img);

/* br_value: column i's text (NUL-terminated), or NULL for NULL or absent */
static inline const char *
br_value(const br_image *img, int i)
{
	return img->len[i] >= 0 ? img->text.data + img->off[i] : NULL;
}

/*
 * br_next_image decodes the image at *pos of r's data (present says which
 * columns it has: r->present, or r->present_after for an UPDATE's after
 * image) by t's columns, and advances *pos.  False with a message when the
 * bytes do not fit the table or a value is malformed.
 *
 * The after image of a PARTIAL_UPDATE_ROWS row needs its before image:
 * br_next_image reads it only right after that before image was decoded
 * into the same img (JSON diffs are applied to it, so the after image
 * holds whole values too); br_next_row has no such condition.
 */
extern bool br_next_image(const br_rows *r, const br_table *t, const uint8_t *present,
						  size_t *pos, br_image *img, char *err, size_t errlen);

/*
 * br_next_row decodes the row at *pos of r's data into img (an insert's
 * or delete's row, an update's before image) and, for an update, its after
 * image into after (another br_image), and advances *pos.
 */
extern bool br_next_row(const br_rows *r, const br_table *t, size_t *pos, br_image *img,
						br_image *after, char *err, size_t errlen);

/* br_type_name: a binlog type's name, for messages ("varchar") */
extern const char *br_type_name(int type);

#endif							/* ECSYNC_BINLOG_ROWS_H */
