/*-------------------------------------------------------------------------
 *
 * options.c
 *	  Options of the ecsync_mysql foreign-data wrapper: which object may
 *	  carry which option, the validator, and the connection parameters a
 *	  server plus user mapping give.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/reloptions.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/builtins.h"

#include "ecsync.h"

typedef struct OptionSpec
{
	const char *name;
	Oid			context;		/* catalog that may hold it */
	bool		superuser_only; /* names a file on the database server */
} OptionSpec;

/*
 * user and password only in user mappings: nowhere a non-owner can read.
 * Options naming files on the database server (read as the postgres OS
 * user) are a superuser's.
 */
static const OptionSpec valid_options[] = {
	{"host", ForeignServerRelationId, false},
	{"port", ForeignServerRelationId, false},
	{"socket", ForeignServerRelationId, true},
	{"database", ForeignServerRelationId, false},
	{"ssl_mode", ForeignServerRelationId, false},
	{"ssl_ca", ForeignServerRelationId, true},
	{"ssl_cert", ForeignServerRelationId, true},
	{"ssl_key", ForeignServerRelationId, true},
	{"server_public_key", ForeignServerRelationId, true},
	{"connect_timeout", ForeignServerRelationId, false},
	{"read_timeout", ForeignServerRelationId, false},
	{"bigint_unsigned", ForeignServerRelationId, false},
	{"datetime_zone", ForeignServerRelationId, false},
	{"cdc_server_id", ForeignServerRelationId, false},
	{"cdc_schema_changes", ForeignServerRelationId, false},
	{"user", UserMappingRelationId, false},
	{"password", UserMappingRelationId, false},
	{NULL, InvalidOid, false}
};

PG_FUNCTION_INFO_V1(ecsync_mysql_validator);

static bool
valid_in_context(const char *name, Oid context)
{
	for (const OptionSpec *o = valid_options; o->name; o++)
		if (o->context == context && strcmp(o->name, name) == 0)
			return true;
	return false;
}

/*
 * check_superuser_option refuses an option that names a server file unless
 * superuser_ok: the validator asks about the role setting it, a connection
 * about the server's owner (the server may have changed hands since).
 */
static void
check_superuser_option(const char *server, const char *name, bool superuser_ok)
{
	for (const OptionSpec *o = valid_options; o->name; o++)
		if (o->superuser_only && strcmp(o->name, name) == 0 && !superuser_ok)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 server ? errmsg("server \"%s\": option \"%s\" is only allowed on a superuser's server",
									 server, name)
					 : errmsg("only a superuser may set option \"%s\"", name),
					 errdetail("It names a file on the database server, which ecsync reads as the postgres OS user."),
					 errhint("A superuser can create the server and GRANT USAGE ON FOREIGN SERVER to other roles.")));
}

static int
int_option(DefElem *def, int min, int max)
{
	char	   *s = defGetString(def);
	char	   *end;
	long		v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < min || v > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be an integer from %d to %d",
						def->defname, min, max)));
	return (int) v;
}

/*
 * ecsync_mysql_validator checks the options of the wrapper, a server or a
 * user mapping: unknown options are rejected with the list of valid ones,
 * secrets anywhere but a user mapping with where to put them.
 */
Datum
ecsync_mysql_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (!valid_in_context(def->defname, catalog))
		{
			StringInfoData buf;

			if (valid_in_context(def->defname, UserMappingRelationId))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("option \"%s\" may only be set in a user mapping",
								def->defname),
						 errhint("Use CREATE USER MAPPING FOR ... SERVER ... OPTIONS (user '...', password '...'), "
								 "which only the mapped user and superusers can read.")));
			initStringInfo(&buf);
			for (const OptionSpec *o = valid_options; o->name; o++)
				if (o->context == catalog)
					appendStringInfo(&buf, "%s%s", buf.len ? ", " : "", o->name);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\"", def->defname),
					 buf.len > 0
					 ? errhint("Valid options in this context are: %s.", buf.data)
					 : errhint("There are no valid options in this context.")));
		}

		check_superuser_option(NULL, def->defname, superuser());
		if (strcmp(def->defname, "port") == 0)
			(void) int_option(def, 1, 65535);
		else if (strcmp(def->defname, "cdc_server_id") == 0)
			(void) int_option(def, 1, INT_MAX);
		else if (strcmp(def->defname, "connect_timeout") == 0 ||
				 strcmp(def->defname, "read_timeout") == 0)
			(void) int_option(def, 1, 86400);
		else if (strcmp(def->defname, "cdc_schema_changes") == 0)
		{
			const char *v = defGetString(def);

			if (strcmp(v, "follow") != 0 && strcmp(v, "pause") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid cdc_schema_changes \"%s\"", v),
						 errhint("Valid values are follow (a table whose MySQL columns were added or retyped "
								 "gets them and is copied anew) and pause (the table pauses until "
								 "ecsync_cdc_resnapshot() is called).")));
		}
		else if (strcmp(def->defname, "bigint_unsigned") == 0)
		{
			const char *v = defGetString(def);

			if (strcmp(v, "numeric") != 0 && strcmp(v, "bigint") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid bigint_unsigned \"%s\"", v),
						 errhint("Valid values are numeric (numeric(20,0), every value) and bigint "
								 "(every value must be at most 9223372036854775807).")));
		}
		else if (strcmp(def->defname, "datetime_zone") == 0)
		{
			const char *v = defGetString(def);

			if (pg_tzset(v) == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid datetime_zone \"%s\"", v),
						 errhint("Name the time zone MySQL's DATETIME values are written in, as PostgreSQL "
								 "knows it (pg_timezone_names), e.g. Asia/Tokyo.")));
		}
		else if (strcmp(def->defname, "ssl_mode") == 0)
		{
			const char *v = defGetString(def);

			if (!ms_valid_ssl_mode(v))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid ssl_mode \"%s\"", v),
						 errhint("Valid values are " MS_SSL_MODES ".")));
		}
	}
	PG_RETURN_VOID();
}

/*
 * ecsync_mysql_params fills p from server and user mapping, its strings
 * copied into cxt: the catalog's own copies live in the current
 * transaction only, and a caller that keeps p across transactions (a
 * worker) passes a context that lives as long as p.  The user mapping is
 * userid's or PUBLIC's; its absence is an error that names the server.  As postgres_fdw does for
 * non-superusers, a non-superuser's mapping must carry a password: the
 * connection must not pass on the database server's own standing.
 */
void
ecsync_mysql_params(ForeignServer *server, Oid userid, ms_params *p, MemoryContext cxt)
{
	UserMapping *um = GetUserMapping(userid, server->serverid);
	List	   *all = list_concat(list_copy(server->options), um->options);
	bool		owner_is_superuser = superuser_arg(server->owner);
	ListCell   *lc;

	foreach(lc, server->options)
		check_superuser_option(server->servername, ((DefElem *) lfirst(lc))->defname,
							   owner_is_superuser);

	memset(p, 0, sizeof(*p));
	p->host = "127.0.0.1";
	p->port = 3306;
	foreach(lc, all)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		const char *v = MemoryContextStrdup(cxt, defGetString(def));

		if (strcmp(def->defname, "host") == 0)
			p->host = v;
		else if (strcmp(def->defname, "port") == 0)
			p->port = (unsigned int) int_option(def, 1, 65535);
		else if (strcmp(def->defname, "socket") == 0)
			p->socket = v;
		else if (strcmp(def->defname, "database") == 0)
			p->database = v;
		else if (strcmp(def->defname, "ssl_mode") == 0)
			p->ssl_mode = v;
		else if (strcmp(def->defname, "ssl_ca") == 0)
			p->ssl_ca = v;
		else if (strcmp(def->defname, "ssl_cert") == 0)
			p->ssl_cert = v;
		else if (strcmp(def->defname, "ssl_key") == 0)
			p->ssl_key = v;
		else if (strcmp(def->defname, "server_public_key") == 0)
			p->server_public_key = v;
		else if (strcmp(def->defname, "connect_timeout") == 0)
			p->connect_timeout = (unsigned int) int_option(def, 1, 86400);
		else if (strcmp(def->defname, "read_timeout") == 0)
			p->read_timeout = (unsigned int) int_option(def, 1, 86400);
		else if (strcmp(def->defname, "user") == 0)
			p->user = v;
		else if (strcmp(def->defname, "password") == 0)
			p->password = v;
	}
	if (!superuser_arg(userid) && (p->password == NULL || p->password[0] == '\0'))
		ereport(ERROR,
				(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
				 errmsg("server \"%s\": a password is required", server->servername),
				 errdetail("Non-superusers must give a password in their user mapping."),
				 errhint("ALTER USER MAPPING FOR %s SERVER %s OPTIONS (ADD password '...').",
						 quote_identifier(GetUserNameFromId(userid, false)),
						 quote_identifier(server->servername))));
}

/*
 * ecsync_mysql_policy reads the server's type-policy options, its strings
 * copied into cxt (see ecsync_mysql_params: a policy kept across
 * transactions must not point into the catalog's copy of the options)
 */
void
ecsync_mysql_policy(ForeignServer *server, tp_options *policy, MemoryContext cxt)
{
	ListCell   *lc;

	*policy = tp_default_options;
	foreach(lc, server->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "bigint_unsigned") == 0)
			policy->bigint_unsigned_as_bigint = strcmp(defGetString(def), "bigint") == 0;
		else if (strcmp(def->defname, "datetime_zone") == 0)
			policy->datetime_zone = MemoryContextStrdup(cxt, defGetString(def));
	}
}

/*
 * ecsync_cdc_server_id: the server_id change capture reads server's binary
 * log as (option cdc_server_id), by default one derived from the
 * registration, away from the small ids servers usually have.
 */
uint32
ecsync_cdc_server_id(ForeignServer *server, int32 cdc_id)
{
	ListCell   *lc;

	foreach(lc, server->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "cdc_server_id") == 0)
			return (uint32) int_option(def, 1, INT_MAX);
	}
	return 0x45430000u + (uint32) (cdc_id & 0xffff);
}

/*
 * ecsync_cdc_follows_schema: does change capture follow server's MySQL
 * tables when columns are added or retyped (option cdc_schema_changes,
 * follow by default), or pause them?
 */
bool
ecsync_cdc_follows_schema(ForeignServer *server)
{
	ListCell   *lc;

	foreach(lc, server->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "cdc_schema_changes") == 0)
			return strcmp(defGetString(def), "pause") != 0;
	}
	return true;
}
