/*
 * mysql_source.h
 *	  Reading MySQL/MariaDB with libmysqlclient: one connection, one
 *	  consistent snapshot, tables described from information_schema and
 *	  streamed with mysql_use_result (never buffered whole).
 *
 *	  MariaDB's mysql.h clashes with PostgreSQL's list API, so this
 *	  interface exposes no MySQL type and mysql_source.c includes no
 *	  PostgreSQL header.  Everything here is malloc'd; errors are returned,
 *	  never thrown.
 */
#ifndef ECSYNC_MYSQL_SOURCE_H
#define ECSYNC_MYSQL_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ebuf.h"
#include "type_policy.h"

#define MS_ERRLEN 512

typedef struct ms_conn ms_conn;

typedef struct ms_params
{
	const char *host;
	unsigned int port;
	const char *socket;
	const char *database;
	const char *user;
	const char *password;
	const char *ssl_mode;		/* disabled, preferred, required, verify_ca,
								 * verify_identity */
	const char *ssl_ca;
	const char *ssl_cert;
	const char *ssl_key;
	const char *server_public_key;	/* a PEM file: the server's RSA key,
									 * pinned (caching_sha2_password without
									 * TLS) */
	unsigned int connect_timeout;	/* seconds */
	unsigned int read_timeout;	/* seconds */
} ms_params;

/* a described MySQL table: its columns in order and its primary key */
typedef struct ms_table
{
	int			ncols;
	tp_column  *cols;
	int			npk;
	int		   *pk;				/* indexes into cols, in key order */
	const char *comment;		/* TABLE_COMMENT; NULL or "" for none */
	char	  **strings;		/* what cols point into, freed together */
	int			nstrings;
} ms_table;

/* the ssl_mode values, as the extension and ecsync-ingest spell them */
#define MS_SSL_MODES "disabled, preferred, required, verify_ca, verify_identity"

/* ms_valid_ssl_mode: is mode one of MS_SSL_MODES (exactly, lower case)? */
static inline bool
ms_valid_ssl_mode(const char *mode)
{
	static const char *const modes[] = {
		"disabled", "preferred", "required", "verify_ca", "verify_identity", NULL
	};

	for (int i = 0; modes[i]; i++)
		if (strcmp(modes[i], mode) == 0)
			return true;
	return false;
}

/*
 * ms_connect opens a connection in UTF-8 (utf8mb4) and UTC, hardened
 * against the server it reaches: no LOCAL INFILE, no authentication plugin
 * that reveals the password to an unverified server, TCP unless a socket
 * is named.
 */
extern ms_conn *ms_connect(const ms_params *p, char *err, size_t errlen);
extern void ms_close(ms_conn *c);

/* ms_exec runs a statement that returns no rows */
extern bool ms_exec(ms_conn *c, const char *sql, char *err, size_t errlen);

/* ms_begin_snapshot starts a read-only REPEATABLE READ transaction WITH
 * CONSISTENT SNAPSHOT: every later read sees the same instant */
extern bool ms_begin_snapshot(ms_conn *c, char *err, size_t errlen);

/* ms_describe fills t from information_schema; false if no such table */
extern bool ms_describe(ms_conn *c, const char *db, const char *table,
						ms_table *t, char *err, size_t errlen);
extern void ms_table_free(ms_table *t);

/* ms_stream starts a query whose rows ms_fetch then returns one by one */
extern bool ms_stream(ms_conn *c, const char *sql, char *err, size_t errlen);

/*
 * ms_fetch returns 1 with the next row's values and lengths (valid until the
 * next call; NULL values are NULL pointers), 0 at the end, -1 on error.
 */
extern int	ms_fetch(ms_conn *c, char ***values, unsigned long **lengths,
					 char *err, size_t errlen);

/*
 * ms_cancel makes every later read and write of the connection fail at
 * once; another thread may call it to end a read that blocks.  The
 * connection is unusable afterwards.
 */
extern void ms_cancel(ms_conn *c);

/*
 * ms_socket returns the connection's socket: a signal handler may
 * shutdown(2) it (async-signal-safe) to end a call that blocks in the
 * main thread, which then fails at once.
 */
extern int	ms_socket(ms_conn *c);

/* ms_handle: the connection's MYSQL handle, for binlog_source.c only */
extern void *ms_handle(ms_conn *c);

/*
 * ms_query_row runs a query and copies the first row's first n values
 * (NULL as "") into vals[i] (each vlen bytes).  Returns 1 with a row, 0
 * without, -1 with a message.
 */
extern int	ms_query_row(ms_conn *c, const char *sql, int n, char (*vals)[256],
						 char *err, size_t errlen);

/*
 * A value of MySQL's binary protocol (ms_stream_typed): an integer or a
 * date and time as the server holds it, or bytes (strings, DECIMAL as its
 * text), valid until the next fetch.
 */
typedef enum ms_kind
{
	MS_NULL,
	MS_INT,						/* i */
	MS_UINT,					/* u: an UNSIGNED column */
	MS_DATETIME,				/* year .. usec: DATE, DATETIME, TIMESTAMP */
	MS_BYTES					/* p, len */
} ms_kind;

typedef struct ms_value
{
	ms_kind		kind;
	int64_t		i;
	uint64_t	u;
	int			year,
				month,
				day,
				hour,
				minute,
				second;
	long		usec;
	const char *p;
	unsigned long len;
} ms_value;

/*
 * ms_stream_typed starts sql as a prepared statement, whose rows come in
 * MySQL's binary protocol: integers and dates are not formatted as text by
 * the server nor parsed again here.  native[i] says whether the reader
 * takes column i's integer or date as such; a result with any other column
 * the protocol would not hand over as the text protocol does (FLOAT,
 * DOUBLE, TIME, YEAR, BIT, JSON, spatial, or an integer or date not
 * taken natively), or one the server does not prepare, is not started:
 * 0, and the caller uses ms_stream.
 * 1 when streaming, -1 with a message.
 */
extern int	ms_stream_typed(ms_conn *c, const char *sql, int ncols,
							const bool *native, char *err, size_t errlen);

/* ms_typed: is the current stream ms_stream_typed's? */
extern bool ms_typed(ms_conn *c);

/*
 * ms_fetch_typed returns 1 with the next row's values (valid until the
 * next call), 0 at the end, -1 on error.
 */
extern int	ms_fetch_typed(ms_conn *c, const ms_value **values,
						   char *err, size_t errlen);

/* ms_stream_end frees the current result (reading what is left) */
extern void ms_stream_end(ms_conn *c);

/* ms_quote_ident appends `name` with backticks doubled */
extern bool ms_quote_ident(ebuf *out, const char *name);

/* ms_select_column appends the expression that reads col exactly (see
 * tp_select_expr) */
extern bool ms_select_column(ebuf *out, const tp_column *col);

/* ms_quote_literal appends 'value' escaped for the connection */
extern bool ms_quote_literal(ms_conn *c, ebuf *out, const char *value);

/* ms_server_version: e.g. "10.11.19-MariaDB" */
extern const char *ms_server_version(ms_conn *c);

/* ms_client_version: e.g. "3.3.8" */
extern const char *ms_client_version(void);

#endif							/* ECSYNC_MYSQL_SOURCE_H */
