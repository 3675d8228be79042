/*-------------------------------------------------------------------------
 *
 * registration.c
 *	  ecsync_check_source(): ecsync_register_table() reads the MySQL table
 *	  it is about to register, with the caller's user mapping, and raises
 *	  there and then what the first run would otherwise find: a missing
 *	  table or column, a table without a key, a type the policy does not
 *	  sync (table_map.c says all of it, as at run time).  A server that
 *	  cannot be reached now is not an error: the registration is kept
 *	  unchecked, with a NOTICE, and the run checks it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "foreign/foreign.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/syscache.h"

#include "ecsync.h"

PG_FUNCTION_INFO_V1(ecsync_check_source);

/* the longest a registration waits for MySQL */
#define CHECK_CONNECT_TIMEOUT 5
#define CHECK_READ_TIMEOUT 30

/* has_user_mapping: does role (or PUBLIC) have a mapping for server? */
static bool
has_user_mapping(Oid role, Oid serverid)
{
	return SearchSysCacheExists2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(role),
								 ObjectIdGetDatum(serverid)) ||
		SearchSysCacheExists2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(InvalidOid),
							  ObjectIdGetDatum(serverid));
}

static List *
arg_names(FunctionCallInfo fcinfo, int arg)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	List	   *out = NIL;

	if (PG_ARGISNULL(arg))
		return NIL;
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(arg), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (!nulls[i])
			out = lappend(out, TextDatumGetCString(elems[i]));
	return out;
}

/*
 * warn_cascades: an incremental table that a foreign key's rule changes by
 * cascade (MySQL leaves its cursor column alone then) does not get those
 * changes from its runs; say what does
 */
static void
warn_cascades(ms_conn *conn, const char *db, const char *table)
{
	ListCell   *lc;

	foreach(lc, ecsync_mysql_foreign_keys(conn, db, table))
	{
		MyForeignKey *fk = lfirst(lc);

		if (strcmp(fk->child, table) != 0 ||
			(!ecsync_fk_rule_acts(fk->delete_rule) && !ecsync_fk_rule_acts(fk->update_rule)))
			continue;
		ereport(WARNING,
				(errmsg("MySQL changes rows of %s.%s by cascade (%s of foreign key %s to %s.%s), "
						"which incremental runs do not see", db, table, ecsync_fk_rules_text(fk), fk->name,
						db, fk->parent),
				 errdetail("A cascade does not move the table's cursor column."),
				 errhint("Run ecsync_reconcile_deletes() after the incremental runs (nightly, say): it deletes "
						 "the rows a cascade deleted and carries the columns SET NULL and ON UPDATE CASCADE "
						 "changed.  Mode 'cdc' applies cascades as they happen.")));
	}
}

/*
 * ecsync_check_source(server, source_database, source_table, mode,
 * key_columns, cursor_column, columns, exclude_columns): true when the
 * registration was checked against MySQL and fits, false when MySQL could
 * not be reached; an error when it does not fit.
 */
Datum
ecsync_check_source(PG_FUNCTION_ARGS)
{
	ForeignServer *srv;
	ms_params	p;
	ms_conn    *conn;
	char		err[MS_ERRLEN];
	TableSpec	spec;
	MappedTable m;
	const char *db;
	char	   *mode;

	/* what is missing or wrong in the arguments is the catalog function's to say */
	if (PG_ARGISNULL(0) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		PG_RETURN_BOOL(false);
	mode = text_to_cstring(PG_GETARG_TEXT_PP(3));
	if (strcmp(mode, "full") != 0 && strcmp(mode, "incremental") != 0 && strcmp(mode, "cdc") != 0)
		PG_RETURN_BOOL(false);
	srv = GetForeignServerByName(NameStr(*PG_GETARG_NAME(0)), true);
	if (srv == NULL ||
		strcmp(GetForeignDataWrapper(srv->fdwid)->fdwname, "ecsync_mysql") != 0)
		PG_RETURN_BOOL(false);
	ecsync_check_server_usage(srv, GetUserId());
	if (!has_user_mapping(GetUserId(), srv->serverid))
	{
		ereport(NOTICE,
				(errmsg("the MySQL table was not checked: role \"%s\" has no user mapping for server \"%s\" yet",
						GetUserNameFromId(GetUserId(), false), srv->servername),
				 errhint("The first ecsync_run_batch() checks it.")));
		PG_RETURN_BOOL(false);
	}
	ecsync_mysql_params(srv, GetUserId(), &p, CurrentMemoryContext);
	if (p.connect_timeout == 0 || p.connect_timeout > CHECK_CONNECT_TIMEOUT)
		p.connect_timeout = CHECK_CONNECT_TIMEOUT;
	if (p.read_timeout == 0 || p.read_timeout > CHECK_READ_TIMEOUT)
		p.read_timeout = CHECK_READ_TIMEOUT;

	memset(&spec, 0, sizeof(spec));
	spec.source_table = text_to_cstring(PG_GETARG_TEXT_PP(2));
	spec.incremental = strcmp(mode, "incremental") == 0;
	spec.key_columns = arg_names(fcinfo, 4);
	spec.cursor_column = PG_ARGISNULL(5) ? "updated_at" : text_to_cstring(PG_GETARG_TEXT_PP(5));
	spec.columns = arg_names(fcinfo, 6);
	spec.exclude_columns = arg_names(fcinfo, 7);
	ecsync_mysql_policy(srv, &spec.policy, CurrentMemoryContext);
	db = PG_ARGISNULL(1) ? p.database : text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (db == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no MySQL database for table %s", spec.source_table),
				 errhint("Set the server's \"database\" option or register the table with source_database.")));

	conn = ms_connect(&p, err, sizeof(err));
	if (conn == NULL)
	{
		ereport(NOTICE,
				(errmsg("the MySQL table was not checked: server \"%s\": %s", srv->servername, err),
				 errhint("The first ecsync_run_batch() checks it.")));
		PG_RETURN_BOOL(false);
	}
	memset(&m, 0, sizeof(m));
	PG_TRY();
	{
		ecsync_map_table(&spec, conn, db, &m);
		if (spec.incremental)
			warn_cascades(conn, db, spec.source_table);
		if (strcmp(mode, "cdc") == 0 && m.keys == NIL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
					 errmsg("MySQL table %s.%s has no primary key, which change capture needs to find rows",
							db, spec.source_table),
					 errhint("Give it a primary key, or name a unique key with key_columns.")));
	}
	PG_FINALLY();
	{
		ms_table_free(&m.mt);
		ms_close(conn);
	}
	PG_END_TRY();
	PG_RETURN_BOOL(true);
}
