/*
 * mysql_source.c
 *	  libmysqlclient behind mysql_source.h.  No PostgreSQL header here.
 */
#include "mysql_source.h"
#include "seterr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>

/* a prepared statement's result, column by column (ms_stream_typed) */
typedef struct ms_typed_result
{
	MYSQL_STMT *stmt;
	int			ncols;
	MYSQL_BIND *bind;
	my_bool    *nulls;
	my_bool    *errors;
	unsigned long *lengths;
	long long  *ints;
	MYSQL_TIME *times;
	char	  **bufs;			/* the byte columns' buffers, grown as needed */
	ms_kind    *kinds;			/* each column's kind, decided once */
	ms_value   *values;
} ms_typed_result;

static void typed_free(ms_typed_result *t);

struct ms_conn
{
	MYSQL	   *mysql;
	MYSQL_RES  *res;			/* the current streamed result, if any */
	unsigned int nfields;
	ms_typed_result *typed;		/* or the current prepared statement's */
};

static void
mysql_err(ms_conn *c, char *err, size_t errlen, const char *doing)
{
	seterr(err, errlen, "MySQL error %u while %s: %s",
		   mysql_errno(c->mysql), doing, mysql_error(c->mysql));
}

/*
 * The authentication plugins a connection accepts.  mysql_clear_password
 * and dialog hand the password to the server in clear, and
 * caching_sha2_password and sha256_password do so in their full
 * authentication (over TLS, or under a public key the server itself
 * sends): only a server whose certificate was verified may have them.  A
 * rogue server cannot switch a connection to any other plugin.
 *
 * The other safe way MySQL knows is the server's RSA public key, pinned
 * (server_public_key): the password then goes encrypted under that key,
 * which only the real server can decrypt.  Connector/C uses the key only
 * without TLS (over TLS it sends the password in clear, which an
 * unverified certificate does not protect), and asks the server for its
 * key when the file cannot be read: so the key is read and checked here
 * first, and a pinned key goes with ssl_mode disabled or a verified mode.
 */
#define AUTH_PLUGINS_HASHED "mysql_native_password,client_ed25519"
#define AUTH_PLUGINS_VERIFIED AUTH_PLUGINS_HASHED ",caching_sha2_password,sha256_password"

/*
 * public_key_readable: does path hold a PEM public key?  (Connector/C
 * would otherwise ask the server for one, silently.)
 */
static bool
public_key_readable(const char *path, char *err, size_t errlen)
{
	FILE	   *f = fopen(path, "r");
	char		line[128];
	bool		ok = false;

	if (f == NULL)
	{
		seterr(err, errlen, "cannot read server_public_key \"%s\": %s", path, strerror(errno));
		return false;
	}
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "-----BEGIN PUBLIC KEY-----", 26) == 0)
		{
			ok = true;
			break;
		}
	fclose(f);
	if (!ok)
		seterr(err, errlen, "server_public_key \"%s\" holds no PEM public key (-----BEGIN PUBLIC KEY-----); "
			   "on the MySQL server: SHOW STATUS LIKE 'Caching_sha2_password_rsa_public_key'", path);
	return ok;
}

ms_conn *
ms_connect(const ms_params *p, char *err, size_t errlen)
{
	ms_conn    *c = calloc(1, sizeof(ms_conn));
	unsigned int ct = p->connect_timeout ? p->connect_timeout : 10;
	unsigned int rt = p->read_timeout ? p->read_timeout : 600;
	const char *mode = p->ssl_mode ? p->ssl_mode : "preferred";
	bool		verified = strcmp(mode, "verify_ca") == 0 ||
		strcmp(mode, "verify_identity") == 0;
	bool		pinned = false;

	/*
	 * Connector/C reads each option with its own C type (see its
	 * mysql_optionsv): LOCAL_INFILE and PROTOCOL an unsigned int, the SSL
	 * flags a my_bool.  A wrong width lets neighbouring bytes decide.
	 */
	unsigned int no_local_infile = 0;
	unsigned int tcp = MYSQL_PROTOCOL_TCP;
	my_bool		yes = 1;
	my_bool		no = 0;

	if (!ms_valid_ssl_mode(mode))
	{
		free(c);
		seterr(err, errlen, "invalid ssl mode \"%s\" (valid: " MS_SSL_MODES ")", mode);
		return NULL;
	}
	if (p->server_public_key != NULL && p->server_public_key[0] != '\0')
	{
		if (strcmp(mode, "disabled") != 0 && !verified)
		{
			free(c);
			seterr(err, errlen, "server_public_key protects the password only without TLS or with a verified "
				   "server: set ssl_mode disabled (the key alone) or verify_ca/verify_identity (not %s)", mode);
			return NULL;
		}
		if (!public_key_readable(p->server_public_key, err, errlen))
		{
			free(c);
			return NULL;
		}
		pinned = true;
	}
	if (c == NULL || (c->mysql = mysql_init(NULL)) == NULL)
	{
		free(c);
		seterr(err, errlen, "out of memory creating a MySQL connection");
		return NULL;
	}
	mysql_options(c->mysql, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
	mysql_options(c->mysql, MYSQL_OPT_READ_TIMEOUT, &rt);
	mysql_options(c->mysql, MYSQL_OPT_WRITE_TIMEOUT, &rt);
	mysql_options(c->mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	/* no LOCAL INFILE: a hostile server must not read our files */
	mysql_options(c->mysql, MYSQL_OPT_LOCAL_INFILE, &no_local_infile);
	/* no plugin that hands the password over unless the server is verified */
	mysql_optionsv(c->mysql, MARIADB_OPT_RESTRICTED_AUTH,
				   verified || pinned ? AUTH_PLUGINS_VERIFIED : AUTH_PLUGINS_HASHED);
	if (pinned)
		mysql_optionsv(c->mysql, MYSQL_SERVER_PUBLIC_KEY, p->server_public_key);
	mysql_optionsv(c->mysql, MYSQL_ENABLE_CLEARTEXT_PLUGIN, &no);

	/*
	 * "localhost" would mean the server's default Unix socket, where
	 * MariaDB's unix_socket plugin takes the OS user (postgres) as proof:
	 * a socket is used only when one is named.
	 */
	if (p->socket == NULL || p->socket[0] == '\0')
		mysql_options(c->mysql, MYSQL_OPT_PROTOCOL, &tcp);

	if (strcmp(mode, "disabled") != 0)
	{
		mysql_ssl_set(c->mysql, p->ssl_key, p->ssl_cert, p->ssl_ca, NULL, NULL);
		if (strcmp(mode, "preferred") != 0)
			mysql_optionsv(c->mysql, MYSQL_OPT_SSL_ENFORCE, &yes);
		mysql_optionsv(c->mysql, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, verified ? &yes : &no);
	}

	if (mysql_real_connect(c->mysql, p->host, p->user, p->password, p->database,
						   p->port, p->socket, 0) == NULL)
	{
		if (strstr(mysql_error(c->mysql), "restricted_auth") != NULL)
			seterr(err, errlen, "could not connect to MySQL server %s:%u: the server asked "
				   "for an authentication plugin that ecsync refuses (allowed: %s%s)",
				   p->host ? p->host : "localhost", p->port,
				   verified || pinned ? AUTH_PLUGINS_VERIFIED : AUTH_PLUGINS_HASHED,
				   verified || pinned ? "" : "; caching_sha2_password and sha256_password need "
				   "ssl_mode verify_ca or verify_identity, or the server's RSA key in server_public_key");
		else
			seterr(err, errlen, "could not connect to MySQL server %s:%u: %s",
				   p->host ? p->host : "localhost", p->port, mysql_error(c->mysql));
		mysql_close(c->mysql);
		free(c);
		return NULL;
	}
	/* TIMESTAMP values in UTC; long pauses while PostgreSQL writes are fine */
	if (!ms_exec(c, "SET time_zone = '+00:00', SESSION net_write_timeout = 3600, "
				 "SESSION net_read_timeout = 3600", err, errlen))
	{
		ms_close(c);
		return NULL;
	}
	return c;
}

void
ms_close(ms_conn *c)
{
	if (c == NULL)
		return;
	/* freeing an unfinished result reads the rest of it: abort instead */
	if (c->res != NULL || c->typed != NULL)
		mariadb_cancel(c->mysql);
	if (c->res != NULL)
	{
		mysql_free_result(c->res);
		c->res = NULL;
	}
	typed_free(c->typed);
	c->typed = NULL;
	mysql_close(c->mysql);
	free(c);
}

bool
ms_exec(ms_conn *c, const char *sql, char *err, size_t errlen)
{
	if (mysql_real_query(c->mysql, sql, strlen(sql)) != 0)
	{
		mysql_err(c, err, errlen, "running a statement");
		return false;
	}
	/* discard any result */
	do
	{
		MYSQL_RES  *r = mysql_store_result(c->mysql);

		if (r)
			mysql_free_result(r);
	} while (mysql_next_result(c->mysql) == 0);
	return true;
}

bool
ms_begin_snapshot(ms_conn *c, char *err, size_t errlen)
{
	return ms_exec(c, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
				   err, errlen) &&
		ms_exec(c, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
				err, errlen);
}

bool
ms_quote_ident(ebuf *out, const char *name)
{
	if (!ebuf_putc(out, '`'))
		return false;
	for (const char *p = name; *p; p++)
		if ((*p == '`' && !ebuf_putc(out, '`')) || !ebuf_putc(out, *p))
			return false;
	return ebuf_putc(out, '`');
}

bool
ms_select_column(ebuf *out, const tp_column *col)
{
	ebuf		q;
	bool		ok;

	ebuf_init(&q);
	ok = ms_quote_ident(&q, col->name) && ebuf_putc(&q, '\0') &&
		tp_select_expr(out, col, q.data);
	ebuf_free(&q);
	return ok;
}

bool
ms_quote_literal(ms_conn *c, ebuf *out, const char *value)
{
	size_t		n = strlen(value);

	if (!ebuf_reserve(out, 2 * n + 3))
		return false;
	out->data[out->len++] = '\'';
	out->len += mysql_real_escape_string(c->mysql, out->data + out->len,
										 value, (unsigned long) n);
	out->data[out->len++] = '\'';
	return true;
}

/* keep a copy of s in t->strings and return it */
static char *
keep(ms_table *t, const char *s)
{
	char	  **n = realloc(t->strings, (t->nstrings + 1) * sizeof(char *));

	if (n == NULL)
		return NULL;
	t->strings = n;
	t->strings[t->nstrings] = strdup(s ? s : "");
	return t->strings[t->nstrings++];
}

static long
num_or(const char *s, long dflt)
{
	return s ? strtol(s, NULL, 10) : dflt;
}

bool
ms_describe(ms_conn *c, const char *db, const char *table,
			ms_table *t, char *err, size_t errlen)
{
	ebuf		q;
	MYSQL_RES  *r;
	MYSQL_ROW	row;
	bool		ok = false;

	memset(t, 0, sizeof(*t));
	ebuf_init(&q);
	if (!ebuf_puts(&q, "SELECT c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE, c.IS_NULLABLE, "
					 "c.CHARACTER_MAXIMUM_LENGTH, c.NUMERIC_PRECISION, c.NUMERIC_SCALE, "
					 "c.DATETIME_PRECISION, c.COLUMN_KEY, "
					 "(SELECT k.ORDINAL_POSITION FROM information_schema.KEY_COLUMN_USAGE k "
					 "  WHERE k.TABLE_SCHEMA = c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME "
					 "  AND k.COLUMN_NAME = c.COLUMN_NAME AND k.CONSTRAINT_NAME = 'PRIMARY'), "
					 "c.COLUMN_COMMENT "
					 "FROM information_schema.COLUMNS c WHERE c.TABLE_SCHEMA = ") ||
		!ms_quote_literal(c, &q, db) ||
		!ebuf_puts(&q, " AND c.TABLE_NAME = BINARY ") ||
		!ms_quote_literal(c, &q, table) ||
		!ebuf_puts(&q, " ORDER BY c.ORDINAL_POSITION") || !ebuf_putc(&q, '\0'))
	{
		seterr(err, errlen, "out of memory");
		goto done;
	}
	if (mysql_real_query(c->mysql, q.data, q.len - 1) != 0 ||
		(r = mysql_store_result(c->mysql)) == NULL)
	{
		mysql_err(c, err, errlen, "describing a table");
		goto done;
	}
	t->ncols = (int) mysql_num_rows(r);
	t->cols = calloc(t->ncols ? t->ncols : 1, sizeof(tp_column));
	t->pk = calloc(t->ncols ? t->ncols : 1, sizeof(int));
	for (int i = 0; (row = mysql_fetch_row(r)) != NULL; i++)
	{
		tp_column  *col = &t->cols[i];
		long		pkpos = num_or(row[9], 0);

		col->name = keep(t, row[0]);
		col->data_type = keep(t, row[1]);
		col->column_type = keep(t, row[2]);
		col->nullable = row[3] && strcmp(row[3], "YES") == 0;
		col->char_length = num_or(row[4], -1);
		col->precision = (int) num_or(row[5], -1);
		col->scale = (int) num_or(row[6], -1);
		col->datetime_precision = (int) num_or(row[7], -1);
		col->comment = row[10] ? keep(t, row[10]) : NULL;
		if (pkpos > 0 && pkpos <= t->ncols)
		{
			t->pk[pkpos - 1] = i;
			if (pkpos > t->npk)
				t->npk = (int) pkpos;
		}
	}
	mysql_free_result(r);
	if (t->ncols == 0)
	{
		seterr(err, errlen, "MySQL table %s.%s does not exist or has no column "
			   "the user can see", db, table);
		goto done;
	}

	/* the table's comment */
	ebuf_reset(&q);
	if (ebuf_puts(&q, "SELECT IF(TABLE_TYPE = 'VIEW', '', TABLE_COMMENT) FROM information_schema.TABLES "
					"WHERE TABLE_SCHEMA = ") &&
		ms_quote_literal(c, &q, db) &&
		ebuf_puts(&q, " AND TABLE_NAME = BINARY ") &&
		ms_quote_literal(c, &q, table) && ebuf_putc(&q, '\0') &&
		mysql_real_query(c->mysql, q.data, q.len - 1) == 0 &&
		(r = mysql_store_result(c->mysql)) != NULL)
	{
		if ((row = mysql_fetch_row(r)) != NULL && row[0] != NULL)
			t->comment = keep(t, row[0]);
		mysql_free_result(r);
	}

	/* MariaDB's JSON is longtext CHECK (json_valid(col)); MySQL lacks this view */
	ebuf_reset(&q);
	if (ebuf_puts(&q, "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
					"WHERE CONSTRAINT_SCHEMA = ") &&
		ms_quote_literal(c, &q, db) &&
		ebuf_puts(&q, " AND TABLE_NAME = BINARY ") &&
		ms_quote_literal(c, &q, table) && ebuf_putc(&q, '\0') &&
		mysql_real_query(c->mysql, q.data, q.len - 1) == 0 &&
		(r = mysql_store_result(c->mysql)) != NULL)
	{
		while ((row = mysql_fetch_row(r)) != NULL)
		{
			for (int i = 0; i < t->ncols; i++)
			{
				ebuf		expect;

				ebuf_init(&expect);
				if (ebuf_puts(&expect, "json_valid(") &&
					ms_quote_ident(&expect, t->cols[i].name) &&
					ebuf_puts(&expect, ")") && ebuf_putc(&expect, '\0') &&
					row[0] && strcmp(row[0], expect.data) == 0)
					t->cols[i].is_json = true;
				ebuf_free(&expect);
			}
		}
		mysql_free_result(r);
	}
	ok = true;
done:
	ebuf_free(&q);
	if (!ok)
		ms_table_free(t);
	return ok;
}

void
ms_table_free(ms_table *t)
{
	for (int i = 0; i < t->nstrings; i++)
		free(t->strings[i]);
	free(t->strings);
	free(t->cols);
	free(t->pk);
	memset(t, 0, sizeof(*t));
}

bool
ms_stream(ms_conn *c, const char *sql, char *err, size_t errlen)
{
	ms_stream_end(c);
	if (mysql_real_query(c->mysql, sql, strlen(sql)) != 0)
	{
		mysql_err(c, err, errlen, "starting a query");
		return false;
	}
	c->res = mysql_use_result(c->mysql);
	if (c->res == NULL)
	{
		mysql_err(c, err, errlen, "starting to read a result");
		return false;
	}
	c->nfields = mysql_num_fields(c->res);
	return true;
}

int
ms_fetch(ms_conn *c, char ***values, unsigned long **lengths,
		 char *err, size_t errlen)
{
	MYSQL_ROW	row = mysql_fetch_row(c->res);

	if (row == NULL)
	{
		if (mysql_errno(c->mysql) != 0)
		{
			mysql_err(c, err, errlen, "reading rows");
			return -1;
		}
		return 0;
	}
	*values = row;
	*lengths = mysql_fetch_lengths(c->res);
	return 1;
}

int
ms_socket(ms_conn *c)
{
	return (int) mysql_get_socket(c->mysql);
}

void
ms_cancel(ms_conn *c)
{
	mariadb_cancel(c->mysql);
}

static void
typed_free(ms_typed_result *t)
{
	if (t == NULL)
		return;
	if (t->stmt != NULL)
		mysql_stmt_close(t->stmt);	/* reads what is left of the result */
	for (int i = 0; t->bufs != NULL && i < t->ncols; i++)
		free(t->bufs[i]);
	free(t->bind);
	free(t->nulls);
	free(t->errors);
	free(t->lengths);
	free(t->ints);
	free(t->times);
	free(t->bufs);
	free(t->kinds);
	free(t->values);
	free(t);
}

void
ms_stream_end(ms_conn *c)
{
	if (c->res != NULL)
	{
		mysql_free_result(c->res);
		c->res = NULL;
	}
	typed_free(c->typed);
	c->typed = NULL;
}

/* the first size of a byte column's buffer; a longer value grows it */
#define TYPED_BUF_START 64

/*
 * typed_bind_kind: how column f comes over the binary protocol: 'i' an
 * integer, 't' a date and time, 'b' bytes exactly as the text protocol
 * sends them, 0 not the same as in the text protocol (then the statement
 * is not used)
 */
static char
typed_bind_kind(const MYSQL_FIELD *f)
{
	switch (f->type)
	{
		case MYSQL_TYPE_TINY:
		case MYSQL_TYPE_SHORT:
		case MYSQL_TYPE_INT24:
		case MYSQL_TYPE_LONG:
		case MYSQL_TYPE_LONGLONG:
			return 'i';
		case MYSQL_TYPE_DATE:
		case MYSQL_TYPE_DATETIME:
		case MYSQL_TYPE_TIMESTAMP:
			return 't';
		case MYSQL_TYPE_DECIMAL:
		case MYSQL_TYPE_NEWDECIMAL:
		case MYSQL_TYPE_VARCHAR:
		case MYSQL_TYPE_VAR_STRING:
		case MYSQL_TYPE_STRING:
		case MYSQL_TYPE_TINY_BLOB:
		case MYSQL_TYPE_MEDIUM_BLOB:
		case MYSQL_TYPE_LONG_BLOB:
		case MYSQL_TYPE_BLOB:
		case MYSQL_TYPE_ENUM:
		case MYSQL_TYPE_SET:
			return 'b';
		default:
			/* FLOAT, DOUBLE, TIME, YEAR, BIT, JSON, GEOMETRY, ... */
			return 0;
	}
}

int
ms_stream_typed(ms_conn *c, const char *sql, int ncols, const bool *native,
				char *err, size_t errlen)
{
	ms_typed_result *t;
	MYSQL_RES  *meta;
	MYSQL_FIELD *fields;
	int			rc = -1;

	ms_stream_end(c);
	t = calloc(1, sizeof(*t));
	if (t == NULL || (t->stmt = mysql_stmt_init(c->mysql)) == NULL)
	{
		seterr(err, errlen, "out of memory preparing a MySQL statement");
		typed_free(t);
		return -1;
	}
	/*
	 * A server that prepares no statement (max_prepared_stmt_count = 0, a
	 * proxy) gets the text protocol; an error of the query itself then
	 * comes from the text protocol's run of it.
	 */
	if (mysql_stmt_prepare(t->stmt, sql, strlen(sql)) != 0)
	{
		typed_free(t);
		return 0;
	}
	meta = mysql_stmt_result_metadata(t->stmt);
	if (meta == NULL || (int) mysql_num_fields(meta) != ncols)
	{
		if (meta != NULL)
			mysql_free_result(meta);
		typed_free(t);
		return 0;
	}
	fields = mysql_fetch_fields(meta);
	t->ncols = ncols;
	t->bind = calloc((size_t) ncols, sizeof(MYSQL_BIND));
	t->nulls = calloc((size_t) ncols, sizeof(my_bool));
	t->errors = calloc((size_t) ncols, sizeof(my_bool));
	t->lengths = calloc((size_t) ncols, sizeof(unsigned long));
	t->ints = calloc((size_t) ncols, sizeof(long long));
	t->times = calloc((size_t) ncols, sizeof(MYSQL_TIME));
	t->bufs = calloc((size_t) ncols, sizeof(char *));
	t->kinds = calloc((size_t) ncols, sizeof(ms_kind));
	t->values = calloc((size_t) ncols, sizeof(ms_value));
	if (!t->bind || !t->nulls || !t->errors || !t->lengths || !t->ints ||
		!t->times || !t->bufs || !t->kinds || !t->values)
	{
		seterr(err, errlen, "out of memory preparing a MySQL statement");
		goto done;
	}
	for (int i = 0; i < ncols; i++)
	{
		MYSQL_BIND *b = &t->bind[i];
		char		kind = typed_bind_kind(&fields[i]);

		if (kind == 0 || (kind != 'b' && !native[i]))
		{
			rc = 0;
			goto done;
		}
		b->is_null = &t->nulls[i];
		b->error = &t->errors[i];
		b->length = &t->lengths[i];
		if (kind == 'i')
		{
			b->buffer_type = MYSQL_TYPE_LONGLONG;
			b->buffer = &t->ints[i];
			b->is_unsigned = (fields[i].flags & UNSIGNED_FLAG) != 0;
			t->kinds[i] = b->is_unsigned ? MS_UINT : MS_INT;
		}
		else if (kind == 't')
		{
			b->buffer_type = MYSQL_TYPE_DATETIME;
			b->buffer = &t->times[i];
			b->buffer_length = sizeof(MYSQL_TIME);
			t->kinds[i] = MS_DATETIME;
		}
		else
		{
			/* one byte more than the buffer's length: values end in NUL */
			if ((t->bufs[i] = malloc(TYPED_BUF_START + 1)) == NULL)
			{
				seterr(err, errlen, "out of memory preparing a MySQL statement");
				goto done;
			}
			b->buffer_type = MYSQL_TYPE_BLOB;	/* the bytes as they are */
			b->buffer = t->bufs[i];
			b->buffer_length = TYPED_BUF_START;
			t->kinds[i] = MS_BYTES;
		}
	}
	if (mysql_stmt_execute(t->stmt) != 0 || mysql_stmt_bind_result(t->stmt, t->bind) != 0)
	{
		seterr(err, errlen, "MySQL error %u while starting a query: %s",
			   mysql_stmt_errno(t->stmt), mysql_stmt_error(t->stmt));
		goto done;
	}
	c->typed = t;
	c->nfields = (unsigned int) ncols;
	mysql_free_result(meta);
	return 1;

done:
	mysql_free_result(meta);
	typed_free(t);
	return rc;
}

bool
ms_typed(ms_conn *c)
{
	return c->typed != NULL;
}

int
ms_fetch_typed(ms_conn *c, const ms_value **values, char *err, size_t errlen)
{
	ms_typed_result *t = c->typed;
	int			rc = mysql_stmt_fetch(t->stmt);

	if (rc == MYSQL_NO_DATA)
		return 0;
	if (rc != 0 && rc != MYSQL_DATA_TRUNCATED)
	{
		seterr(err, errlen, "MySQL error %u while reading rows: %s",
			   mysql_stmt_errno(t->stmt), mysql_stmt_error(t->stmt));
		return -1;
	}

	/*
	 * A value longer than its buffer (reported as MYSQL_DATA_TRUNCATED only
	 * when the connection asks for it, so checked whatever rc says): grow
	 * the buffer and read the value again, whole.
	 */
	{
		bool		grew = false;

		for (int i = 0; i < t->ncols; i++)
		{
			MYSQL_BIND *b = &t->bind[i];
			char	   *grown;

			if (t->kinds[i] != MS_BYTES || t->nulls[i] || t->lengths[i] <= b->buffer_length)
				continue;
			grown = realloc(t->bufs[i], t->lengths[i] + 1);
			if (grown == NULL)
			{
				seterr(err, errlen, "out of memory reading a MySQL value of %lu bytes", t->lengths[i]);
				return -1;
			}
			t->bufs[i] = grown;
			b->buffer = grown;
			b->buffer_length = t->lengths[i];
			if (mysql_stmt_fetch_column(t->stmt, b, (unsigned int) i, 0) != 0 ||
				t->lengths[i] > b->buffer_length)
			{
				seterr(err, errlen, "MySQL error %u while reading a long value: %s",
					   mysql_stmt_errno(t->stmt), mysql_stmt_error(t->stmt));
				return -1;
			}
			grew = true;
		}
		if (grew && mysql_stmt_bind_result(t->stmt, t->bind) != 0)
		{
			seterr(err, errlen, "MySQL error %u while reading rows: %s",
				   mysql_stmt_errno(t->stmt), mysql_stmt_error(t->stmt));
			return -1;
		}
	}
	for (int i = 0; i < t->ncols; i++)
	{
		ms_value   *v = &t->values[i];

		if (t->nulls[i])
		{
			v->kind = MS_NULL;
			continue;
		}
		v->kind = t->kinds[i];
		switch (v->kind)
		{
			case MS_INT:
				v->i = t->ints[i];
				break;
			case MS_UINT:
				v->u = (uint64_t) t->ints[i];
				break;
			case MS_DATETIME:
				{
					const MYSQL_TIME *tm = &t->times[i];

					v->year = (int) tm->year;
					v->month = (int) tm->month;
					v->day = (int) tm->day;
					v->hour = (int) tm->hour;
					v->minute = (int) tm->minute;
					v->second = (int) tm->second;
					v->usec = (long) tm->second_part;
					break;
				}
			default:
				t->bufs[i][t->lengths[i]] = '\0';
				v->p = t->bufs[i];
				v->len = t->lengths[i];
				break;
		}
	}
	*values = t->values;
	return 1;
}

const char *
ms_server_version(ms_conn *c)
{
	return mysql_get_server_info(c->mysql);
}

const char *
ms_client_version(void)
{
	return mysql_get_client_info();
}

void *
ms_handle(ms_conn *c)
{
	return c->mysql;
}

int
ms_query_row(ms_conn *c, const char *sql, int n, char (*vals)[256], char *err, size_t errlen)
{
	char	  **row;
	unsigned long *lens;
	int			rc;

	if (!ms_stream(c, sql, err, errlen))
		return -1;
	rc = ms_fetch(c, &row, &lens, err, errlen);
	if (rc == 1)
		for (int i = 0; i < n; i++)
		{
			size_t		l = (i < (int) c->nfields && row[i]) ? lens[i] : 0;

			if (l > 255)
				l = 255;
			memcpy(vals[i], l ? row[i] : "", l);
			vals[i][l] = '\0';
		}
	/* read to the end, so the connection is ready for the next statement */
	if (rc == 1)
	{
		char	  **more;
		unsigned long *ml;

		while (ms_fetch(c, &more, &ml, err, errlen) == 1)
			;
	}
	ms_stream_end(c);
	return rc;
}
