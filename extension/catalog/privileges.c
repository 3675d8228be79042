/*-------------------------------------------------------------------------
 *
 * privileges.c
 *	  ecsync's privilege boundary.  Its catalog (schema ecsync) belongs to
 *	  the extension's owner; roles read their own rows through row-level
 *	  security and change them only through ecsync's functions, which run
 *	  the catalog write as the catalog's owner after checking, with the
 *	  caller's identity, that the caller may (ecsync_catalog_call).
 *	  Workers run as a registration's owner and switch to the catalog's
 *	  owner only around their own statements on the catalog.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_foreign_server.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "utils/acl.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rls.h"
#include "utils/syscache.h"

#include "ecsync.h"

PG_FUNCTION_INFO_V1(ecsync_catalog_call);
PG_FUNCTION_INFO_V1(ecsync_stream_workers);
PG_FUNCTION_INFO_V1(ecsync_batch_worker_alive);

/*
 * The catalog writes a caller may ask for, each an internal function of
 * schema ecsync that takes (caller oid, arguments jsonb), checks the
 * caller's rights itself and is executable by the catalog's owner alone.
 */
static const char *const catalog_operations[] = {
	"register_table", "unregister_table",
	"register_stream", "change_stream", "unregister_stream",
	"register_analytics", "analytics_refreshed",
	"change_cdc", "cdc_resnapshot",
	NULL
};

/* ecsync_catalog_owner returns the role that owns ecsync's catalog */
Oid
ecsync_catalog_owner(void)
{
	static Oid	owner = InvalidOid;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;

	if (OidIsValid(owner))
		return owner;
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("ecsync"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (!OidIsValid(owner))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"ecsync\" is not installed in database \"%s\"",
						get_database_name(MyDatabaseId))));
	return owner;
}

/*
 * ecsync_catalog_enter makes the catalog's owner the current user, for
 * ecsync's own statements on its catalog; ecsync_catalog_leave goes back.
 * SECURITY_LOCAL_USERID_CHANGE keeps anything run meanwhile from SET ROLE.
 * An error rolls the switch back with the (sub)transaction.  Call them in
 * a transaction.
 */
void
ecsync_catalog_enter(CatalogAccess *saved)
{
	Oid			owner = ecsync_catalog_owner();

	GetUserIdAndSecContext(&saved->user, &saved->sec);
	SetUserIdAndSecContext(owner, saved->sec | SECURITY_LOCAL_USERID_CHANGE);

	/*
	 * The search_path is the caller's (ALTER ROLE ... SET search_path): as
	 * the catalog's owner, resolve names in pg_catalog only, as a
	 * SECURITY DEFINER function with SET search_path would.
	 */
	saved->guc_nest = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
}

void
ecsync_catalog_leave(const CatalogAccess *saved)
{
	AtEOXact_GUC(true, saved->guc_nest);
	SetUserIdAndSecContext(saved->user, saved->sec);
}

/*
 * ecsync_check_server_usage raises an error unless role may use server:
 * USAGE on it, as for any foreign server.
 */
void
ecsync_check_server_usage(ForeignServer *server, Oid role)
{
#if PG_VERSION_NUM >= 160000
	AclResult	aclresult = object_aclcheck(ForeignServerRelationId, server->serverid,
											role, ACL_USAGE);
#else
	AclResult	aclresult = pg_foreign_server_aclcheck(server->serverid, role, ACL_USAGE);
#endif

	if (aclresult != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" may not use server \"%s\"",
						GetUserNameFromId(role, false), server->servername),
				 errhint("The server's owner can GRANT USAGE ON FOREIGN SERVER %s TO %s.",
						 quote_identifier(server->servername),
						 quote_identifier(GetUserNameFromId(role, false)))));
}

/*
 * ecsync_refuse_rls raises an error when row-level security applies to
 * role on relid: ecsync writes through COPY, which does not apply
 * policies, so it refuses such targets as logical replication does.
 */
void
ecsync_refuse_rls(Oid relid, Oid role)
{
	if (check_enable_rls(relid, role, true) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("target table %s has row-level security enabled for role \"%s\"",
						get_rel_name(relid), GetUserNameFromId(role, false)),
				 errdetail("ecsync writes with COPY, which does not apply row-level security policies."),
				 errhint("Sync into a table without row-level security, or have its owner "
						 "(who bypasses it unless FORCE ROW LEVEL SECURITY) own the registration.")));
}

/*
 * ecsync_catalog_call(op, args) runs the catalog write op for the calling
 * role: ecsync.catalog_<op>(caller, args) as the catalog's owner.  The
 * caller's identity comes from here, never from an argument.
 */
Datum
ecsync_catalog_call(PG_FUNCTION_ARGS)
{
	char	   *op = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Datum		args[2];
	Oid			types[2] = {OIDOID, JSONBOID};
	char		nulls[2] = {' ', PG_ARGISNULL(1) ? 'n' : ' '};
	bool		known = false;
	CatalogAccess saved;
	Datum		result = (Datum) 0;
	bool		isnull = true;

	for (int i = 0; catalog_operations[i]; i++)
		known |= strcmp(catalog_operations[i], op) == 0;
	if (!known)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown ecsync catalog operation \"%s\"", op)));

	args[0] = ObjectIdGetDatum(GetUserId());
	args[1] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* an error undoes the switch with the (sub)transaction it aborts */
	ecsync_catalog_enter(&saved);
	if (SPI_execute_with_args(psprintf("SELECT ecsync.catalog_%s($1, $2)", op),
							  2, types, args, nulls, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "ecsync catalog operation %s failed", op);
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
		result = SPI_datumTransfer(result, false, -1);
	ecsync_catalog_leave(&saved);
	SPI_finish();
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

/*
 * count_workers counts ecsync's background workers of bgw_type type (and
 * application name appname, if given), from the backends' shared status:
 * unlike pg_stat_activity, it does not depend on the viewer's privileges.
 */
static int
count_workers(const char *type, const char *appname, int pid)
{
	int			n = pgstat_fetch_stat_numbackends();
	int			count = 0;

	for (int i = 1; i <= n; i++)
	{
		LocalPgBackendStatus *local = pgstat_fetch_stat_local_beentry(i);
		PgBackendStatus *be;
		const char *bgw_type;

		if (local == NULL)
			continue;
		be = &local->backendStatus;
		if (be->st_backendType != B_BG_WORKER || (pid != 0 && be->st_procpid != pid))
			continue;
		bgw_type = GetBackgroundWorkerTypeByPid(be->st_procpid);
		if (bgw_type == NULL || strcmp(bgw_type, type) != 0)
			continue;
		if (appname != NULL && (be->st_appname == NULL || strcmp(be->st_appname, appname) != 0))
			continue;
		count++;
	}
	return count;
}

/* ecsync_stream_workers(name): how many workers of the stream are running */
Datum
ecsync_stream_workers(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));

	PG_RETURN_INT32(count_workers(ECSYNC_STREAM_WORKER_TYPE,
								  psprintf("ecsync stream %s", name), 0));
}

/* ecsync_batch_worker_alive(pid): is pid a running ecsync batch worker? */
Datum
ecsync_batch_worker_alive(PG_FUNCTION_ARGS)
{
	int32		pid = PG_GETARG_INT32(0);

	PG_RETURN_BOOL(pid > 0 && count_workers(ECSYNC_BATCH_WORKER_TYPE, NULL, pid) > 0);
}

/* ecsync_rls_applies(relid, role): would row-level security apply to role? */
PG_FUNCTION_INFO_V1(ecsync_rls_applies);

Datum
ecsync_rls_applies(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(check_enable_rls(PG_GETARG_OID(0), PG_GETARG_OID(1), true) == RLS_ENABLED);
}
