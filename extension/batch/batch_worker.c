/*-------------------------------------------------------------------------
 *
 * batch_worker.c
 *	  The batch worker: one dynamic background worker per
 *	  ecsync_run_batch() call, running as the owner of the registrations
 *	  it syncs (who may only read ecsync's catalog: the worker's statements
 *	  there are batch_catalog.c's, run as the catalog's owner).  It records
 *	  the run in ecsync.runs, then syncs every requested table from one
 *	  consistent MySQL snapshot per server: in ONE transaction (isolation
 *	  'run': a failure leaves every target as it was), or in one
 *	  transaction per table (isolation 'table'), and records the outcome.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>
#include <sys/socket.h>

#include "access/table.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_type.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "batch_worker.h"
#include "binlog_source.h"

PGDLLEXPORT void ecsync_batch_worker_main(Datum main_arg);

/* first half of the advisory lock key of a sync table: "ecsy" */
#define ECSYNC_LOCK_KEY 0x65637379


/*
 * One MySQL connection per server, all opened with a consistent snapshot.
 * It outlives the transactions of an isolation 'table' run, so everything
 * it points to is in its own memory context, deleted with the connection.
 */
typedef struct ServerConn
{
	MemoryContext cxt;			/* holds the strings below */
	char	   *server;
	ms_conn    *conn;
	char	   *database;		/* the server's database option */
	tp_options	policy;			/* the server's type-policy options */
	TimestampTz snapshot_before;	/* the snapshot was taken after this */
	TimestampTz snapshot_after; /* ... and before this */
	bs_pos		binlog;			/* a cdc snapshot run: the snapshot's binary log position */
} ServerConn;

#define MAX_SERVERS 32
static ServerConn servers[MAX_SERVERS];
static int	nservers = 0;

/*
 * The sockets of the open MySQL connections, for the signal handlers: a
 * cancel or a termination shuts them down, so that a MySQL call blocking
 * the main thread (a slow query before its first row, say) fails at once
 * instead of after read_timeout.
 */
static int	server_sockets[MAX_SERVERS];
static volatile sig_atomic_t nserver_sockets = 0;

static void
shutdown_server_sockets(void)
{
	for (int i = 0; i < nserver_sockets; i++)
		if (server_sockets[i] >= 0)
			(void) shutdown(server_sockets[i], SHUT_RDWR);
}

static void
batch_cancel_handler(SIGNAL_ARGS)
{
	int			save_errno = errno;

	shutdown_server_sockets();
	errno = save_errno;
	StatementCancelHandler(postgres_signal_arg);
}

static void
batch_die_handler(SIGNAL_ARGS)
{
	int			save_errno = errno;

	shutdown_server_sockets();
	errno = save_errno;
	die(postgres_signal_arg);
}

static int64 current_run_id = 0;
static const BatchRequest *current_req = NULL;

/* close_server closes a server's MySQL connection (malloc'd) and frees its strings */
static void
close_server(ServerConn *sc)
{
	ms_close(sc->conn);
	sc->conn = NULL;
	MemoryContextDelete(sc->cxt);
	sc->cxt = NULL;
}

/* close_servers closes every MySQL connection */
static void
close_servers(void)
{
	nserver_sockets = 0;
	pg_memory_barrier();
	for (int i = 0; i < nservers; i++)
		close_server(&servers[i]);
	nservers = 0;
}

/* server_conn returns the run's connection to server, opening it */
static ServerConn *
server_conn(const char *server)
{
	ForeignServer *srv;
	ms_params	p;
	char		err[MS_ERRLEN];
	ms_conn    *conn;
	ServerConn *sc;
	MemoryContext cxt;

	for (int i = 0; i < nservers; i++)
		if (strcmp(servers[i].server, server) == 0)
			return &servers[i];
	if (nservers == MAX_SERVERS)
		ereport(ERROR, (errmsg("a run can read at most %d MySQL servers", MAX_SERVERS)));

	srv = GetForeignServerByName(server, false);
	if (strcmp(GetForeignDataWrapper(srv->fdwid)->fdwname, "ecsync_mysql") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("server \"%s\" does not use the ecsync_mysql foreign-data wrapper",
						server)));
	ecsync_check_server_usage(srv, GetUserId());
	/* the password and the rest are copied for the connect only */
	ecsync_mysql_params(srv, GetUserId(), &p, CurrentMemoryContext);
	conn = ms_connect(&p, err, sizeof(err));
	CHECK_FOR_INTERRUPTS();
	if (conn == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
				 errmsg("server \"%s\": %s", server, err)));
	/* registered before the snapshot so that it is closed on any error */
	server_sockets[nservers] = ms_socket(conn);
	pg_memory_barrier();
	nserver_sockets = nservers + 1;
	cxt = AllocSetContextCreate(TopMemoryContext, "ecsync server connection",
								ALLOCSET_SMALL_SIZES);
	sc = &servers[nservers];
	memset(sc, 0, sizeof(*sc));
	sc->cxt = cxt;
	sc->conn = conn;
	sc->server = MemoryContextStrdup(cxt, server);
	sc->database = p.database ? MemoryContextStrdup(cxt, p.database) : NULL;
	ecsync_mysql_policy(srv, &sc->policy, cxt);
	/* counted once whole: close_servers() may see it from now on */
	nservers++;
	sc->snapshot_before = GetCurrentTimestamp();
	/* a cdc snapshot also reads the binary log position it is exactly at */
	if (current_req && current_req->cdc_server[0]
		? !bs_begin_snapshot(conn, &sc->binlog, err, sizeof(err))
		: !ms_begin_snapshot(conn, err, sizeof(err)))
	{
		CHECK_FOR_INTERRUPTS();
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("server \"%s\": could not start a consistent snapshot: %s",
						server, err)));
	}
	sc->snapshot_after = GetCurrentTimestamp();
	return sc;
}

/*
 * mysql_failed raises a failed MySQL call's error, unless a cancel or a
 * termination (whose handler shut the connection down) caused it: that is
 * then the error.
 */
static void
mysql_failed(const char *err)
{
	CHECK_FOR_INTERRUPTS();
	ereport(ERROR, (errcode(ERRCODE_CONNECTION_FAILURE), errmsg("%s", err)));
}

/* ---------------------------------------------------------------- SPI helpers */

static void
spi_exec(const char *sql, int expect)
{
	int			rc = SPI_execute(sql, false, 0);

	if (rc != expect)
		elog(ERROR, "SPI_execute failed (%d): %s", rc, sql);
}

/* ------------------------------------------------------------- the tables */

/*
 * lock_table takes the table's advisory lock for this transaction, or
 * says which run holds it: two runs never sync one table at once.
 */
static void
lock_table(SyncTable *t)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, ECSYNC_LOCK_KEY, (uint32) t->id, 2);
	if (LockAcquire(&tag, ExclusiveLock, false, true) == LOCKACQUIRE_NOT_AVAIL)
	{
		char	   *other = bc_other_run();

		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("table %s.%s is being synced by another ecsync run",
						t->target_schema, t->target_table),
				 other ? errdetail("It is %s.", other) : 0,
				 errhint("Wait for that run to finish; see ecsync.progress.")));
	}
}

static const char *
qualified(SyncTable *t)
{
	return quote_qualified_identifier(t->target_schema, t->target_table);
}

/* mysql_ident returns `name` quoted for MySQL, palloc'd */
static char *
mysql_ident(const char *name)
{
	ebuf		b;
	char	   *out;

	ebuf_init(&b);
	if (!ms_quote_ident(&b, name) || !ebuf_putc(&b, '\0'))
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	out = pstrdup(b.data);
	ebuf_free(&b);
	return out;
}

/* mysql_literal returns 'value' quoted for conn, palloc'd */
static char *
mysql_literal(ms_conn *conn, const char *value)
{
	ebuf		b;
	char	   *out;

	ebuf_init(&b);
	if (!ms_quote_literal(conn, &b, value) || !ebuf_putc(&b, '\0'))
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	out = pstrdup(b.data);
	ebuf_free(&b);
	return out;
}

/* mysql_column returns the expression that reads col exactly, palloc'd */
static char *
mysql_column(const tp_column *col)
{
	ebuf		b;
	char	   *out;

	ebuf_init(&b);
	if (!ms_select_column(&b, col) || !ebuf_putc(&b, '\0'))
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	out = pstrdup(b.data);
	ebuf_free(&b);
	return out;
}

/*
 * widens: does a column of type (to, tomod) hold every value of one of
 * type (from, frommod) unchanged?  Integers into wider integers or numeric,
 * real into double precision, numeric into numeric with as many digits
 * on each side of the point, varchar into longer varchar or text.
 */
static bool
widens(Oid from, int32 frommod, Oid to, int32 tomod)
{
	static const int digits[] = {0, 5, 10, 19};	/* of each integer's largest value */
	int			rank_from = from == INT2OID ? 1 : from == INT4OID ? 2 : from == INT8OID ? 3 : 0;
	int			rank_to = to == INT2OID ? 1 : to == INT4OID ? 2 : to == INT8OID ? 3 : 0;

	if (rank_from && rank_to)
		return rank_to > rank_from;
	if (rank_from && to == NUMERICOID)
		return tomod < 0 ||
			((tomod - VARHDRSZ) >> 16) - ((tomod - VARHDRSZ) & 0xffff) >= digits[rank_from];
	if (from == FLOAT4OID && to == FLOAT8OID)
		return true;
	if (from == NUMERICOID && to == NUMERICOID && frommod >= 0 && tomod != frommod)
	{
		int			p1 = (frommod - VARHDRSZ) >> 16,
					s1 = (frommod - VARHDRSZ) & 0xffff,
					p2 = (tomod - VARHDRSZ) >> 16,
					s2 = (tomod - VARHDRSZ) & 0xffff;

		return tomod < 0 || (s2 >= s1 && p2 - s2 >= p1 - s1);
	}
	if (from == VARCHAROID && (to == TEXTOID || (to == VARCHAROID && (tomod < 0 || (frommod >= 0 && tomod > frommod)))))
		return true;
	return false;
}

static void
spi_exec_utility(void *sql)
{
	spi_exec(sql, SPI_OK_UTILITY);
}

/* widen_column changes a column's type to a wider one, or warns why not */
static void
widen_column(SyncTable *t, const char *column, const char *pgtype)
{
	ErrorData  *e = ecsync_try(spi_exec_utility,
							   psprintf("ALTER TABLE %s ALTER COLUMN %s TYPE %s", qualified(t),
										quote_identifier(column), pgtype));

	if (e == NULL)
		ereport(LOG, (errmsg("ecsync: %s follows MySQL: column \"%s\" widened to %s",
							 qualified(t), column, pgtype)));
	else if (e->sqlerrcode == ERRCODE_QUERY_CANCELED || e->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
		ReThrowError(e);
	else
		ereport(WARNING,
				(errmsg("ecsync: column \"%s\" of %s keeps its type, not MySQL's wider %s: %s",
						column, qualified(t), pgtype, e->message),
				 e->detail ? errdetail_internal("%s", e->detail) : 0));
}

/*
 * follow_mysql_columns makes a change-capture target follow its MySQL
 * table before a copy that is not its first (a re-snapshot): a column
 * MySQL has and the target lacks is added (nullable, with MySQL's
 * comment), a column whose MySQL type grew is
 * widened.  A widening PostgreSQL refuses (a view uses the column) is
 * skipped with a warning: the copy then fails only on a value that does
 * not fit, and says which.
 */
static void
follow_mysql_columns(SyncTable *t, MappedTable *m, Oid relid)
{
	for (int i = 0; i < m->ncols; i++)
	{
		AttrNumber	att = get_attnum(relid, m->colnames[i]);
		Oid			typid,
					was,
					collid;
		int32		typmod,
					wasmod;

		parseTypeString(m->pgtypes[i], &typid, &typmod, false);
		if (att == InvalidAttrNumber)
		{
			spi_exec(psprintf("ALTER TABLE %s ADD COLUMN %s %s", qualified(t),
							  quote_identifier(m->colnames[i]), m->pgtypes[i]), SPI_OK_UTILITY);
			if (m->cols[i]->comment && m->cols[i]->comment[0])
				spi_exec(psprintf("COMMENT ON COLUMN %s.%s IS %s", qualified(t),
								  quote_identifier(m->colnames[i]),
								  quote_literal_cstr(m->cols[i]->comment)), SPI_OK_UTILITY);
			ereport(LOG, (errmsg("ecsync: %s follows MySQL: column \"%s\" %s added",
								 qualified(t), m->colnames[i], m->pgtypes[i])));
			continue;
		}
		get_atttypetypmodcoll(relid, att, &was, &wasmod, &collid);
		if (widens(was, wasmod, typid, typmod))
			widen_column(t, m->colnames[i], m->pgtypes[i]);
	}
	CommandCounterIncrement();
}

/*
 * ensure_target creates the target table from the MySQL definition when it
 * does not exist, or checks that it has every MySQL column, and checks the
 * user's privileges.  Returns its OID, locked.
 */
static Oid
ensure_target(SyncTable *t, MappedTable *m, const char *source)
{
	RangeVar   *rv = makeRangeVar(t->target_schema, t->target_table, -1);
	Oid			relid = RangeVarGetRelid(rv, NoLock, true);
	AclMode		need = ACL_INSERT | (t->incremental ? ACL_UPDATE : ACL_TRUNCATE) |
		(t->cdc ? ACL_UPDATE | ACL_DELETE : 0);

	if (!OidIsValid(relid))
	{
		StringInfoData sql;

		initStringInfo(&sql);
		/* CREATE SCHEMA IF NOT EXISTS would ask for CREATE on the database */
		if (!OidIsValid(get_namespace_oid(t->target_schema, true)))
		{
			appendStringInfo(&sql, "CREATE SCHEMA %s", quote_identifier(t->target_schema));
			spi_exec(sql.data, SPI_OK_UTILITY);
			resetStringInfo(&sql);
		}
		appendStringInfo(&sql, "CREATE TABLE %s (", qualified(t));
		for (int i = 0; i < m->ncols; i++)
		{
			bool		is_key = false;
			ListCell   *lc;

			foreach(lc, m->keys)
				is_key |= strcmp(lfirst(lc), m->colnames[i]) == 0;
			appendStringInfo(&sql, "%s%s %s%s", i ? ", " : "",
							 quote_identifier(m->colnames[i]), m->pgtypes[i],
							 (m->nullable[i] && !is_key) ? "" : " NOT NULL");
		}
		if (m->keys != NIL)
		{
			ListCell   *lc;

			appendStringInfoString(&sql, ", PRIMARY KEY (");
			foreach(lc, m->keys)
				appendStringInfo(&sql, "%s%s", foreach_current_index(lc) ? ", " : "",
								 quote_identifier(lfirst(lc)));
			appendStringInfoChar(&sql, ')');
		}
		appendStringInfoChar(&sql, ')');
		spi_exec(sql.data, SPI_OK_UTILITY);
		resetStringInfo(&sql);
		/* MySQL's comments, for people and for BI tools that show them */
		appendStringInfo(&sql, "COMMENT ON TABLE %s IS %s", qualified(t),
						 quote_literal_cstr(m->mt.comment && m->mt.comment[0]
											? psprintf("%s (synced by ecsync from MySQL %s)",
													   m->mt.comment, source)
											: psprintf("synced by ecsync from MySQL %s", source)));
		spi_exec(sql.data, SPI_OK_UTILITY);
		for (int i = 0; i < m->ncols; i++)
			if (m->cols[i]->comment && m->cols[i]->comment[0])
			{
				resetStringInfo(&sql);
				appendStringInfo(&sql, "COMMENT ON COLUMN %s.%s IS %s", qualified(t),
								 quote_identifier(m->colnames[i]),
								 quote_literal_cstr(m->cols[i]->comment));
				spi_exec(sql.data, SPI_OK_UTILITY);
			}
		CommandCounterIncrement();
		relid = RangeVarGetRelid(rv, NoLock, false);
	}
	if (pg_class_aclcheck(relid, GetUserId(), need) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, t->target_table);
	ecsync_refuse_rls(relid, GetUserId());

	LockRelationOid(relid, t->incremental ? RowExclusiveLock : AccessExclusiveLock);
	/* a pre-created target's shape is the user's; a later copy follows MySQL */
	if (t->cdc && t->cdc_copied_before)
		follow_mysql_columns(t, m, relid);
	for (int i = 0; i < m->ncols; i++)
		if (get_attnum(relid, m->colnames[i]) == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("target table %s has no column \"%s\", which MySQL %s has",
							qualified(t), m->colnames[i], source),
					 errhint("Add the column, leave it out of the sync with exclude_columns, "
							 "or drop the target table to have ecsync create it anew.")));
	return relid;
}

/* temporal_cursor: is the table's cursor a date or time? */
static bool
temporal_cursor(MappedTable *m)
{
	const char *ct = m->cols[m->cursor_idx]->data_type;

	return strcmp(ct, "timestamp") == 0 || strcmp(ct, "datetime") == 0 ||
		strcmp(ct, "date") == 0;
}

/* select_sql builds the MySQL SELECT of the columns, from since if given */
static char *
select_sql(MappedTable *m, ms_conn *conn, const char *db, SyncTable *t,
		   const char *since)
{
	StringInfoData sql;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	for (int i = 0; i < m->ncols; i++)
		appendStringInfo(&sql, "%s%s", i ? ", " : "", mysql_column(m->cols[i]));
	appendStringInfo(&sql, " FROM %s.%s", mysql_ident(db), mysql_ident(t->source_table));
	if (since != NULL)
	{
		/*
		 * Re-read a look-back window for late commits and equal cursors: of
		 * lookback for a time, of the previous run's window otherwise.
		 */
		if (temporal_cursor(m))
			appendStringInfo(&sql, " WHERE %s >= CAST(%s AS DATETIME(6)) - INTERVAL " INT64_FORMAT " SECOND",
							 mysql_ident(t->cursor_column), mysql_literal(conn, since),
							 t->lookback_secs);
		else
			appendStringInfo(&sql, " WHERE %s >= %s", mysql_ident(t->cursor_column),
							 mysql_literal(conn, t->reread_from ? t->reread_from : since));
	}
	return sql.data;
}

/*
 * max_cursor returns the next watermark, as MySQL writes it: MAX(cursor) in
 * the snapshot, but for a date or time no later than the MySQL server's
 * clock.  A row dated in the future would otherwise move the watermark
 * past every change made until the clock caught up; it is read again by
 * every run instead, until it is in the past.  A TIMESTAMP is compared in
 * the session's UTC, a DATETIME or DATE in the server's time zone.
 */
static char *
max_cursor(ms_conn *conn, const char *db, SyncTable *t, MappedTable *m)
{
	char		err[MS_ERRLEN];
	char	  **values;
	unsigned long *lengths;
	char	   *result = NULL;
	const char *ct = m->cols[m->cursor_idx]->data_type;
	const char *cap = strcmp(ct, "timestamp") == 0 ? "NOW(6)" :
		temporal_cursor(m) ? "CONVERT_TZ(NOW(6), '+00:00', @@global.time_zone)" : NULL;
	char	   *sql = psprintf("SELECT MAX(%s) FROM %s.%s%s%s%s", mysql_ident(t->cursor_column),
							   mysql_ident(db), mysql_ident(t->source_table),
							   cap ? " WHERE " : "", cap ? mysql_ident(t->cursor_column) : "",
							   cap ? psprintf(" <= %s", cap) : "");

	if (!ms_stream(conn, sql, err, sizeof(err)) ||
		ms_fetch(conn, &values, &lengths, err, sizeof(err)) < 0)
		mysql_failed(err);
	if (values[0] != NULL)
		result = pnstrdup(values[0], lengths[0]);
	ms_stream_end(conn);
	return result;
}

/*
 * upsert_from_stage moves the staged rows into the target: new keys are
 * inserted, changed rows updated, identical rows left alone.
 */
static uint64
upsert_from_stage(SyncTable *t, MappedTable *m, const char *stage)
{
	StringInfoData sql;
	StringInfoData cols;
	ListCell   *lc;

	initStringInfo(&cols);
	for (int i = 0; i < m->ncols; i++)
		appendStringInfo(&cols, "%s%s", i ? ", " : "", quote_identifier(m->colnames[i]));

	initStringInfo(&sql);
	appendStringInfo(&sql, "INSERT INTO %s AS t (%s) SELECT %s FROM %s ON CONFLICT (",
					 qualified(t), cols.data, cols.data, stage);
	foreach(lc, m->keys)
		appendStringInfo(&sql, "%s%s", foreach_current_index(lc) ? ", " : "",
						 quote_identifier(lfirst(lc)));
	appendStringInfoString(&sql, ") DO UPDATE SET ");
	for (int i = 0; i < m->ncols; i++)
		appendStringInfo(&sql, "%s%s = excluded.%s", i ? ", " : "",
						 quote_identifier(m->colnames[i]), quote_identifier(m->colnames[i]));
	appendStringInfoString(&sql, " WHERE (");
	for (int i = 0; i < m->ncols; i++)
		appendStringInfo(&sql, "%st.%s", i ? ", " : "", quote_identifier(m->colnames[i]));
	appendStringInfoString(&sql, ") IS DISTINCT FROM (");
	for (int i = 0; i < m->ncols; i++)
		appendStringInfo(&sql, "%sexcluded.%s", i ? ", " : "", quote_identifier(m->colnames[i]));
	appendStringInfoChar(&sql, ')');
	spi_exec(sql.data, SPI_OK_INSERT);
	return SPI_processed;
}

/*
 * use_binary says whether the columns idx[0..n) of target relid can take
 * binary COPY: each has a binary encoding and exactly the policy's type
 * (binary data is only read right by the type it was written for).
 */
static bool
use_binary(Oid relid, MappedTable *m, const int *idx, int n)
{
	if (ecsync_batch_copy_format == BATCH_COPY_TEXT)
		return false;
	for (int k = 0; k < n; k++)
	{
		int			i = idx[k];
		AttrNumber	att = get_attnum(relid, m->colnames[i]);
		Oid			typid;
		int32		typmod;
		Oid			collid;

		if (m->wire[i] == TW_NONE || att == InvalidAttrNumber)
			return false;
		get_atttypetypmodcoll(relid, att, &typid, &typmod, &collid);
		if (strcmp(format_type_with_typemod(typid, typmod), m->pgtypes[i]) != 0)
			return false;
	}
	return true;
}

/* all_columns returns the indexes 0..ncols) */
static int *
all_columns(MappedTable *m)
{
	int		   *idx = palloc(m->ncols * sizeof(int));

	for (int i = 0; i < m->ncols; i++)
		idx[i] = i;
	return idx;
}

static List *
attname_list(MappedTable *m)
{
	List	   *l = NIL;

	for (int i = 0; i < m->ncols; i++)
		l = lappend(l, makeString(pstrdup(m->colnames[i])));
	return l;
}

/*
 * cascaded_columns: the synced columns of MySQL table t (not its keys)
 * that a foreign key's ON UPDATE CASCADE, ON UPDATE SET NULL or ON DELETE
 * SET NULL changes, which MySQL does without touching the cursor column
 */
static List *
cascaded_columns(SyncTable *t, MappedTable *m, ms_conn *conn, const char *db)
{
	List	   *cols = NIL;
	ListCell   *lc,
			   *c;

	foreach(lc, ecsync_mysql_foreign_keys(conn, db, t->source_table))
	{
		MyForeignKey *fk = lfirst(lc);

		if (strcmp(fk->child, t->source_table) != 0 ||
			!(ecsync_fk_rule_acts(fk->update_rule) || strcmp(fk->delete_rule, "SET NULL") == 0))
			continue;
		foreach(c, fk->child_cols)
		{
			bool		synced = false,
						key = false;
			ListCell   *k;

			for (int i = 0; i < m->ncols; i++)
				synced |= strcmp(m->colnames[i], lfirst(c)) == 0;
			foreach(k, m->keys)
				key |= strcmp(lfirst(k), lfirst(c)) == 0;
			if (synced && !key && !list_member(cols, makeString(lfirst(c))))
				cols = lappend(cols, makeString(pstrdup(lfirst(c))));
		}
	}
	return cols;
}

/*
 * reconcile_table deletes the target rows whose key MySQL no longer has,
 * and carries the columns MySQL's foreign keys change by cascade (SET
 * NULL, ON UPDATE CASCADE: the cursor does not see them): the MySQL keys
 * and those columns are copied into a stage, then an anti-join deletes and
 * a join updates what differs.  Returns the rows deleted and updated;
 * *rows_read is the number of MySQL keys.
 */
static uint64
reconcile_table(SyncTable *t, MappedTable *m, Oid relid, ms_conn *conn,
				const char *db, uint64 *rows_read, bool *binary)
{
	int			nkeys = list_length(m->keys);
	List	   *fkcols = nkeys ? cascaded_columns(t, m, conn, db) : NIL;
	int			ncols = nkeys + list_length(fkcols);
	tp_conv    *conv = palloc(Max(ncols, 1) * sizeof(tp_conv));
	tp_wire    *wire = palloc(Max(ncols, 1) * sizeof(tp_wire));
	int		   *bits = palloc(Max(ncols, 1) * sizeof(int));
	int		   *idx = palloc(Max(ncols, 1) * sizeof(int));
	const char **names = palloc(Max(ncols, 1) * sizeof(char *));
	List	   *attnames = NIL;
	List	   *stage_cols;
	StringInfoData sel;
	StringInfoData cols;
	StringInfoData match;
	StringInfoData set;
	StringInfoData differs;
	uint64		changed;
	CopySource	src;
	Relation	stage_rel;
	char	   *stage = psprintf("ecsync_keys_%d", t->id);
	ListCell   *lc;

	if (nkeys == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("table %s has no key, so its deletes cannot be reconciled", qualified(t)),
				 errhint("Name the columns that identify a row with key_columns => '{...}' "
						 "in ecsync_register_table().")));
	initStringInfo(&sel);
	initStringInfo(&cols);
	initStringInfo(&match);
	initStringInfo(&set);
	initStringInfo(&differs);
	stage_cols = list_copy(m->keys);
	foreach(lc, fkcols)
		stage_cols = lappend(stage_cols, strVal(lfirst(lc)));
	foreach(lc, stage_cols)
	{
		int			k = foreach_current_index(lc);
		const char *key = lfirst(lc);

		for (int i = 0; i < m->ncols; i++)
			if (strcmp(m->colnames[i], key) == 0)
			{
				conv[k] = m->conv[i];
				wire[k] = m->wire[i];
				bits[k] = m->bits[i];
				idx[k] = i;
			}
		names[k] = key;
		attnames = lappend(attnames, makeString(pstrdup(key)));
		appendStringInfo(&sel, "%s%s", k ? ", " : "", mysql_column(m->cols[idx[k]]));
		appendStringInfo(&cols, "%s%s", k ? ", " : "", quote_identifier(key));
		if (k < nkeys)
			appendStringInfo(&match, "%ss.%s = t.%s", k ? " AND " : "",
							 quote_identifier(key), quote_identifier(key));
		else
		{
			appendStringInfo(&set, "%s%s = s.%s", k > nkeys ? ", " : "", quote_identifier(key),
							 quote_identifier(key));
			appendStringInfo(&differs, "%st.%s IS DISTINCT FROM s.%s", k > nkeys ? " OR " : "",
							 quote_identifier(key), quote_identifier(key));
		}
	}
	spi_exec(psprintf("CREATE TEMP TABLE %s ON COMMIT DROP AS SELECT %s FROM %s WITH NO DATA",
					  stage, cols.data, qualified(t)), SPI_OK_UTILITY);
	CommandCounterIncrement();
	memset(&src, 0, sizeof(src));
	src.conn = conn;
	src.ncols = ncols;
	src.conv = conv;
	src.wire = wire;
	src.bits = bits;
	src.colnames = names;
	src.binary = *binary = use_binary(relid, m, idx, ncols);
	ecsync_stream_rows(&src, psprintf("SELECT %s FROM %s.%s", sel.data, mysql_ident(db),
									  mysql_ident(t->source_table)));
	stage_rel = table_open(RangeVarGetRelid(makeRangeVar("pg_temp", stage, -1), NoLock, false),
						   RowExclusiveLock);
	(void) ecsync_copy_from_mysql(stage_rel, attnames, &src, true);
	table_close(stage_rel, NoLock);
	ms_stream_end(conn);
	*rows_read = src.rows_read;
	CommandCounterIncrement();
	spi_exec(psprintf("ANALYZE pg_temp.%s", quote_identifier(stage)), SPI_OK_UTILITY);
	spi_exec(psprintf("DELETE FROM %s t WHERE NOT EXISTS (SELECT 1 FROM pg_temp.%s s WHERE %s)",
					  qualified(t), quote_identifier(stage), match.data), SPI_OK_DELETE);
	changed = SPI_processed;
	if (fkcols != NIL)
	{
		spi_exec(psprintf("UPDATE %s t SET %s FROM pg_temp.%s s WHERE %s AND (%s)", qualified(t), set.data,
						  quote_identifier(stage), match.data, differs.data), SPI_OK_UPDATE);
		changed += SPI_processed;
	}
	return changed;
}

/*
 * copy_then_index copies into rel, just truncated in this transaction,
 * without maintaining its indexes, then rebuilds them all from the heap
 * (with their uniqueness checked: a duplicate key fails the run, as it
 * would have during the COPY).  The indexes keep their OIDs, names and
 * dependents (foreign keys that reference them).  COPY decides whether to
 * maintain indexes once, when it starts, from relhasindex; the relcache
 * entry's flag is off for that moment only.  Were the entry rebuilt
 * before COPY read it, COPY would maintain the indexes and the rebuild
 * after it would only cost time.
 */
static uint64
copy_then_index(Relation rel, List *attnames, CopySource *src)
{
	bool		had_indexes = rel->rd_rel->relhasindex;
	uint64		n;

	if (!had_indexes || !ecsync_batch_index_after_load)
		return ecsync_copy_from_mysql(rel, attnames, src, true);
	PG_TRY();
	{
		rel->rd_rel->relhasindex = false;
		n = ecsync_copy_from_mysql(rel, attnames, src, true);
	}
	PG_FINALLY();
	{
		rel->rd_rel->relhasindex = had_indexes;
	}
	PG_END_TRY();
	CommandCounterIncrement();
	{
		ReindexParams params = {0};

		pgstat_report_activity(STATE_RUNNING,
							   psprintf("ecsync batch run " INT64_FORMAT ": building the indexes of %s",
										current_run_id, RelationGetRelationName(rel)));
		(void) reindex_relation(RelationGetRelid(rel), REINDEX_REL_CHECK_CONSTRAINTS, &params);
	}
	return n;
}

/* sync_context names the table being synced in every error's context */
static void
sync_context(void *arg)
{
	errcontext("ecsync syncing %s", (const char *) arg);
}

static void sync_table_inner(int64 run_id, SyncTable *t, bool reconcile);

/* sync_table syncs one table inside the run's transaction */
static void
sync_table(int64 run_id, SyncTable *t, bool reconcile)
{
	ErrorContextCallback cb;

	cb.callback = sync_context;
	cb.arg = psprintf("%s from MySQL %s%s%s on server %s", qualified(t),
					  t->source_db ? t->source_db : "", t->source_db ? "." : "",
					  t->source_table, t->server);
	cb.previous = error_context_stack;
	error_context_stack = &cb;
	{
		/*
		 * A server whose DATETIME values are wall-clock times of a zone:
		 * COPY reads them as timestamptz text in that zone (TimeZone, for
		 * this table only, as a function's SET clause does it).
		 */
		const char *zone = server_conn(t->server)->policy.datetime_zone;
		int			nest = NewGUCNestLevel();

		if (zone != NULL)
			(void) set_config_option("TimeZone", zone, PGC_USERSET, PGC_S_SESSION,
									 GUC_ACTION_SAVE, true, 0, false);
		sync_table_inner(run_id, t, reconcile);
		AtEOXact_GUC(true, nest);
	}
	error_context_stack = cb.previous;
}

static void
sync_table_inner(int64 run_id, SyncTable *t, bool reconcile)
{
	ServerConn *sc = server_conn(t->server);
	const char *db = t->source_db ? t->source_db : sc->database;
	MappedTable m;
	Oid			relid;
	Relation	rel;
	CopySource	src;
	char	   *source;
	char	   *new_watermark = NULL;
	bool		incremental_pass;
	uint64		rows_read;
	uint64		rows_written;
	instr_time	start;

	INSTR_TIME_SET_CURRENT(start);
	if (db == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no MySQL database for table %s", t->source_table),
				 errhint("Set the server's \"database\" option or register the table with source_database.")));
	source = psprintf("%s.%s on server %s", db, t->source_table, t->server);
	pgstat_report_activity(STATE_RUNNING,
						   psprintf("ecsync batch run " INT64_FORMAT ": %s from %s",
									run_id, qualified(t), source));
	lock_table(t);
	if (!bc_claim_snapshot(t, sc->snapshot_before, sc->snapshot_after))
	{
		bc_record_table_status(run_id, t, reconcile ? "reconcile deletes" : t->incremental ? "incremental" : "full",
							false, 0, 0, start, "skipped",
							"a run that began later synced it from a newer MySQL snapshot");
		return;
	}
	{
		TableSpec	spec = {t->source_table, t->incremental, t->key_columns,
		t->cursor_column, t->columns, t->exclude_columns, sc->policy};

		ecsync_map_table(&spec, sc->conn, db, &m);
	}
	relid = ensure_target(t, &m, source);
	ecsync_fit_target(&m, relid);
	/* MySQL's keys among the owner's targets, and how a table they touch loads */
	fk_carry(t, sc->conn, db, sc->database);
	if (fk_touched(relid))
		fk_replica_mode();

	if (reconcile)
	{
		bool		binary;

		rows_written = reconcile_table(t, &m, relid, sc->conn, db, &rows_read, &binary);
		bc_record_table(run_id, t, "reconcile deletes", binary, rows_read, rows_written, start);
		ms_table_free(&m.mt);
		return;
	}

	memset(&src, 0, sizeof(src));
	src.conn = sc->conn;
	src.ncols = m.ncols;
	src.conv = m.conv;
	src.wire = m.wire;
	src.bits = m.bits;
	src.colnames = m.colnames;
	src.binary = use_binary(relid, &m, all_columns(&m), m.ncols);

	if (t->incremental)
		new_watermark = max_cursor(sc->conn, db, t, &m);
	/* an incremental table's first run (no watermark yet) is a full copy */
	incremental_pass = t->incremental && t->watermark != NULL;

	ecsync_stream_rows(&src, select_sql(&m, sc->conn, db, t,
										incremental_pass ? t->watermark : NULL));

	if (!incremental_pass)
	{
		/*
		 * Full: empty the target, COPY FREEZE into the new heap (it was
		 * truncated here), then build its indexes from the loaded heap:
		 * sorting once beats inserting every row into every index.
		 */
		List	   *keys = fk_detach_incoming(relid);

		spi_exec(psprintf("TRUNCATE ONLY %s", qualified(t)), SPI_OK_UTILITY);
		rel = table_open(relid, RowExclusiveLock);
		rows_written = copy_then_index(rel, attname_list(&m), &src);
		rows_read = src.rows_read;
		table_close(rel, NoLock);
		fk_attach(keys);
	}
	else
	{
		/* incremental: COPY the window into a stage, then upsert */
		char	   *stage = psprintf("pg_temp.ecsync_stage_%d", t->id);
		Relation	stage_rel;

		spi_exec(psprintf("CREATE TEMP TABLE ecsync_stage_%d (LIKE %s) ON COMMIT DROP",
						  t->id, qualified(t)), SPI_OK_UTILITY);
		CommandCounterIncrement();
		stage_rel = table_open(RangeVarGetRelid(makeRangeVar("pg_temp", psprintf("ecsync_stage_%d", t->id), -1),
												NoLock, false), RowExclusiveLock);
		(void) ecsync_copy_from_mysql(stage_rel, attname_list(&m), &src, true);
		rows_read = src.rows_read;
		table_close(stage_rel, NoLock);
		CommandCounterIncrement();
		rows_written = upsert_from_stage(t, &m, stage);
		spi_exec(psprintf("DROP TABLE %s", stage), SPI_OK_UTILITY);
	}
	ms_stream_end(sc->conn);
	CommandCounterIncrement();

	bc_record_table(run_id, t, t->incremental ? (incremental_pass ? "incremental" : "incremental (initial full)") :
					t->cdc ? "cdc snapshot" : "full",
				 src.binary, rows_read, rows_written, start);
	if (t->cdc)
		bc_store_cdc_snapshot(t, &sc->binlog);
	if (t->incremental && new_watermark != NULL)
		bc_store_watermark(t, new_watermark);
	ms_table_free(&m.mt);
}

/*
 * refresh_analytics refreshes the rollups of the owner's analytics layers
 * (ecsync_create_analytics) in the run's transaction, so that Metabase sees
 * the new rows and the figures made from them at once.  A layer that fails
 * is recorded there and does not fail the run.
 */
static void
refresh_analytics(int64 run_id)
{
	char	   *call;

	pgstat_report_activity(STATE_RUNNING,
						   psprintf("ecsync batch run " INT64_FORMAT ": refreshing analytics", run_id));
	CommandCounterIncrement();
	spi_exec("SELECT format('SELECT %I.ecsync_refresh_analytics(with_runs_only => true)', n.nspname) "
			 "FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'ecsync'",
			 SPI_OK_SELECT);
	if (SPI_processed != 1)
		return;
	call = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	spi_exec(call, SPI_OK_SELECT);
}

/* no_tables raises the error of a run that finds nothing to sync */
static void
no_tables(const BatchRequest *req)
{
	ereport(ERROR,
			(errcode(ERRCODE_NO_DATA_FOUND),
			 errmsg("role \"%s\" has no table registered for ecsync_run_batch()",
					GetUserNameFromId(req->userid, false)),
			 errhint("Register tables with ecsync_register_table() or ecsync_register_shop().")));
}

/*
 * run_atomic does the whole run in the current transaction: every table
 * or none.  Without a target, a delete reconciliation covers the
 * incremental tables only (a full sync leaves nothing to reconcile).
 */
static void
run_atomic(int64 run_id, const BatchRequest *req)
{
	bool		incremental_only = req->reconcile && req->only_table == 0;
	List	   *tables = bc_load_tables(req->only_table, req->userid, incremental_only,
										req->cdc_server);
	ListCell   *lc;

	if (tables == NIL && !incremental_only && !req->cdc_server[0])
		no_tables(req);
	foreach(lc, tables)
		sync_table(run_id, lfirst(lc), req->reconcile);
	/* a snapshot's rows stream on: the analytics follow the batch runs */
	if (!req->cdc_server[0])
		refresh_analytics(run_id);
	bc_finish_run(run_id, "succeeded", NULL);
}

/* begin_tx and commit_tx bracket one transaction of the worker */
static void
begin_tx(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
}

static void
commit_tx(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/*
 * run_per_table syncs each table in a transaction of its own (isolation
 * 'table'): a table that fails is rolled back alone, its error recorded in
 * ecsync.run_tables, and the run goes on with the next.  The tables of a
 * server still come from one MySQL snapshot, unless a failure broke its
 * connection: the tables after it are then read from a new one.
 */
static void
run_per_table(int64 run_id, const BatchRequest *req, MemoryContext work)
{
	int			ntables;
	int32	   *ids;
	char	  **names;
	char	  **servers_of;
	volatile int nfailed = 0;
	StringInfoData failed;

	begin_tx();
	ecsync_worker_client_encoding();
	{
		List	   *tables = bc_load_tables(req->only_table, req->userid, false, req->cdc_server);
		ListCell   *lc;

		if (tables == NIL && !req->cdc_server[0])
			no_tables(req);
		ntables = list_length(tables);
		ids = MemoryContextAlloc(work, ntables * sizeof(int32));
		names = MemoryContextAlloc(work, ntables * sizeof(char *));
		servers_of = MemoryContextAlloc(work, ntables * sizeof(char *));
		foreach(lc, tables)
		{
			SyncTable  *t = lfirst(lc);
			int			i = foreach_current_index(lc);

			ids[i] = t->id;
			names[i] = MemoryContextStrdup(work, psprintf("%s.%s", t->target_schema, t->target_table));
			servers_of[i] = MemoryContextStrdup(work, t->server);
		}
	}
	commit_tx();

	initStringInfo(&failed);
	for (int i = 0; i < ntables; i++)
	{
		instr_time	start;

		INSTR_TIME_SET_CURRENT(start);
		PG_TRY();
		{
			List	   *one;

			begin_tx();
			one = bc_load_tables(ids[i], req->userid, false, req->cdc_server);
			/* unregistered or disabled since the run began: nothing to do */
			if (one != NIL)
				sync_table(run_id, linitial(one), false);
			commit_tx();
		}
		PG_CATCH();
		{
			ErrorData  *edata;
			char	   *msg;
			instr_time	elapsed;

			MemoryContextSwitchTo(work);
			edata = CopyErrorData();
			/*
			 * a cancel or shutdown ends the whole run; so does MySQL failing
			 * a change-capture snapshot, which its worker retries (the
			 * tables copied so far stay copied)
			 */
			if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
				edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN ||
				(req->cdc_server[0] && ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_CONNECTION_EXCEPTION))
				PG_RE_THROW();
			FlushErrorState();
			AbortOutOfAnyTransaction();
			msg = bc_error_text(edata);
			ereport(LOG,
					(errmsg("ecsync batch run " INT64_FORMAT ": table %s failed: %s",
							run_id, names[i], edata->message)));
			/* the connection may be mid-result: the next table opens anew */
			for (int k = 0; k < nservers; k++)
				if (strcmp(servers[k].server, servers_of[i]) == 0)
				{
					nserver_sockets = 0;
					pg_memory_barrier();
					close_server(&servers[k]);
					servers[k] = servers[--nservers];
					server_sockets[k] = server_sockets[nservers];
					pg_memory_barrier();
					nserver_sockets = nservers;
					break;
				}
			INSTR_TIME_SET_CURRENT(elapsed);
			INSTR_TIME_SUBTRACT(elapsed, start);
			begin_tx();
			bc_record_table_failure(run_id, ids[i], names[i], msg, INSTR_TIME_GET_DOUBLE(elapsed));
			commit_tx();
			appendStringInfo(&failed, "%s%s", nfailed++ ? ", " : "", names[i]);
		}
		PG_END_TRY();
	}

	begin_tx();
	/* a snapshot's rows stream on: the analytics follow the batch runs */
	if (!req->cdc_server[0])
		refresh_analytics(run_id);
	if (nfailed == 0)
		bc_finish_run(run_id, "succeeded", NULL);
	else
		bc_finish_run(run_id, "partial",
				   psprintf("%d of %d tables failed: %s (see ecsync.run_tables)",
							nfailed, ntables, failed.data));
	commit_tx();
}

/*
 * ecsync_batch_worker_main is the batch worker's entry point.  SIGINT
 * cancels the run (its caller was cancelled), SIGTERM ends it.
 */
void
ecsync_batch_worker_main(Datum main_arg)
{
	BatchRequest req;
	MemoryContext work_context;

	memcpy(&req, MyBgworkerEntry->bgw_extra, sizeof(req));
	pqsignal(SIGTERM, batch_die_handler);
	pqsignal(SIGINT, batch_cancel_handler);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(req.dboid, req.userid, 0);

	current_req = &req;
	current_run_id = bc_start_run(&req);
	work_context = AllocSetContextCreate(TopMemoryContext, "ecsync batch",
										 ALLOCSET_DEFAULT_SIZES);

	PG_TRY();
	{
		if (req.per_table && !req.reconcile)
			run_per_table(current_run_id, &req, work_context);
		else
		{
			begin_tx();
			ecsync_worker_client_encoding();
			run_atomic(current_run_id, &req);
			commit_tx();
		}
		close_servers();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(work_context);
		edata = CopyErrorData();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		close_servers();
		ereport(LOG,
				(errmsg("ecsync batch run " INT64_FORMAT " failed: %s",
						current_run_id, edata->message),
				 edata->detail ? errdetail("%s", edata->detail) : 0,
				 edata->hint ? errhint("%s", edata->hint) : 0,
				 edata->context ? errcontext("%s", edata->context) : 0));
		bc_record_failure(current_run_id, edata);
	}
	PG_END_TRY();

	pgstat_report_activity(STATE_IDLE, NULL);
	proc_exit(0);
}
