/*-------------------------------------------------------------------------
 *
 * foreign_keys.c
 *	  MySQL's foreign keys among registered tables, carried over to their
 *	  PostgreSQL targets (Metabase finds its joins from them), at no cost to
 *	  the batch:
 *	  - added NOT VALID (no scan of the rows already there) once both
 *	    targets exist, named ecsync_fk_<MySQL name>, as the registrations'
 *	    owner, when that owner owns both tables and the referenced columns
 *	    carry a unique index in PostgreSQL;
 *	  - a table such a key touches is loaded as PostgreSQL's own apply
 *	    workers load: session_replication_role = replica, so no referential
 *	    trigger checks a row (MySQL enforced the key in the snapshot the run
 *	    copies, and a run copies parent and child in any order);
 *	  - a full sync of a referenced table detaches the keys that reference
 *	    it around its TRUNCATE and attaches them again, NOT VALID, in the
 *	    same transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "batch_worker.h"
#include "mysql_source.h"

#define FK_PREFIX "ecsync_fk_"

/* spi_text_array builds a text[] Datum of the strings in l */
static Datum
spi_text_array(List *l)
{
	Datum	   *elems = palloc(Max(list_length(l), 1) * sizeof(Datum));
	ListCell   *lc;

	foreach(lc, l)
		elems[foreach_current_index(lc)] = CStringGetTextDatum(lfirst(lc));
	return PointerGetDatum(construct_array(elems, list_length(l), TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * target_of returns the target of the owner's registration of MySQL table
 * src on the same server and database as t, or InvalidOid
 */
static Oid
target_of(SyncTable *t, const char *db, const char *server_db, const char *src)
{
	Datum		args[5];
	Oid			types[5] = {NAMEOID, TEXTOID, TEXTOID, TEXTOID, OIDOID};
	char		nulls[5] = "     ";
	Oid			relid = InvalidOid;

	if (strcmp(src, t->source_table) == 0)
		return get_relname_relid(t->target_table, get_namespace_oid(t->target_schema, false));
	/* a name Datum is a whole NameData (64 bytes), not a C string */
	args[0] = DirectFunctionCall1(namein, CStringGetDatum(t->server));
	args[1] = CStringGetTextDatum(db);
	args[2] = server_db ? CStringGetTextDatum(server_db) : (Datum) 0;
	nulls[2] = server_db ? ' ' : 'n';
	args[3] = CStringGetTextDatum(src);
	args[4] = ObjectIdGetDatum(GetUserId());
	if (SPI_execute_with_args("SELECT to_regclass(format('%I.%I', target_schema, target_table))::oid "
							  "FROM ecsync.sync_tables WHERE enabled AND server_name = $1 "
							  "AND coalesce(source_database, $3) = $2 AND source_table = $4 AND owner = $5 "
							  "ORDER BY id LIMIT 1",
							  5, types, args, nulls, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read ecsync.sync_tables");
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		relid = isnull ? InvalidOid : DatumGetObjectId(d);
	}
	return relid;
}

/*
 * add_key adds fk between child and parent (PostgreSQL tables) unless it
 * is there, or cannot be added as it should be: a table the owner does not
 * own, a column missing or of another type, no unique index on the
 * referenced columns.  Those are said in the log and left alone.
 */
static void
add_key(MyForeignKey *fk, Oid child, Oid parent)
{
	char	   *conname = psprintf(FK_PREFIX "%.*s", NAMEDATALEN - 1 - (int) strlen(FK_PREFIX), fk->name);
	Datum		args[5];
	Oid			types[5] = {OIDOID, OIDOID, TEXTARRAYOID, TEXTARRAYOID, TEXTOID};
	const char *why = NULL;
	bool		isnull;
	StringInfoData cols,
				pcols;
	ListCell   *lc;

	args[0] = ObjectIdGetDatum(child);
	args[1] = ObjectIdGetDatum(parent);
	args[2] = spi_text_array(fk->child_cols);
	args[3] = spi_text_array(fk->parent_cols);
	args[4] = CStringGetTextDatum(conname);
	if (SPI_execute_with_args(
							  "SELECT CASE "
							  "WHEN EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = $1 AND conname = $5) THEN 'present' "
							  "WHEN (SELECT relowner FROM pg_class WHERE oid = $1) <> current_user::regrole "
							  "  OR (SELECT relowner FROM pg_class WHERE oid = $2) <> current_user::regrole "
							  "  THEN 'a table the registrations'' owner does not own' "
							  "WHEN (SELECT count(*) FROM unnest($3, $4) u(c, p) "
							  "      JOIN pg_attribute ca ON ca.attrelid = $1 AND ca.attname = u.c AND NOT ca.attisdropped "
							  "      JOIN pg_attribute pa ON pa.attrelid = $2 AND pa.attname = u.p AND NOT pa.attisdropped "
							  "      WHERE ca.atttypid = pa.atttypid) <> cardinality($3) "
							  "  THEN 'a column not synced, or of another type than the one it references' "
							  "WHEN NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = $2 AND i.indisunique "
							  "  AND i.indimmediate AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL "
							  "  AND i.indnkeyatts = cardinality($4) "
							  "  AND (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a "
							  "       WHERE a.attrelid = $2 AND a.attnum = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1])) "
							  "    = (SELECT array_agg(x ORDER BY x) FROM unnest($4) x)) "
							  "  THEN 'no unique index on the referenced columns' "
							  "END",
							  5, types, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not check foreign key %s", conname);
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		why = isnull ? NULL : TextDatumGetCString(d);
	}
	if (why != NULL)
	{
		if (strcmp(why, "present") != 0)
			ereport(LOG,
					(errmsg("ecsync: MySQL foreign key %s of %s is not carried over: %s",
							fk->name, fk->child, why)));
		return;
	}
	initStringInfo(&cols);
	initStringInfo(&pcols);
	foreach(lc, fk->child_cols)
		appendStringInfo(&cols, "%s%s", foreach_current_index(lc) ? ", " : "", quote_identifier(lfirst(lc)));
	foreach(lc, fk->parent_cols)
		appendStringInfo(&pcols, "%s%s", foreach_current_index(lc) ? ", " : "", quote_identifier(lfirst(lc)));
	if (SPI_execute(psprintf("ALTER TABLE %s ADD CONSTRAINT %s FOREIGN KEY (%s) REFERENCES %s (%s) NOT VALID",
							 quote_qualified_identifier(get_namespace_name(get_rel_namespace(child)), get_rel_name(child)),
							 quote_identifier(conname), cols.data,
							 quote_qualified_identifier(get_namespace_name(get_rel_namespace(parent)), get_rel_name(parent)),
							 pcols.data), false, 0) != SPI_OK_UTILITY ||
		SPI_execute(psprintf("COMMENT ON CONSTRAINT %s ON %s IS %s", quote_identifier(conname),
							 quote_qualified_identifier(get_namespace_name(get_rel_namespace(child)), get_rel_name(child)),
							 quote_literal_cstr(psprintf("MySQL foreign key %s of %s, carried over by ecsync (NOT VALID)",
														 fk->name, fk->child))),
					false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not add foreign key %s", conname);
	CommandCounterIncrement();
}

/*
 * fk_carry adds the foreign keys MySQL table t->source_table has or is
 * referenced by, among the owner's registered targets that exist
 */
void
fk_carry(SyncTable *t, struct ms_conn *conn, const char *db, const char *server_db)
{
	ListCell   *lc;

	if (!ecsync_batch_carry_foreign_keys)
		return;
	foreach(lc, ecsync_mysql_foreign_keys(conn, db, t->source_table))
	{
		MyForeignKey *fk = lfirst(lc);
		Oid			child = target_of(t, db, server_db, fk->child);
		Oid			parent = target_of(t, db, server_db, fk->parent);

		if (OidIsValid(child) && OidIsValid(parent))
			add_key(fk, child, parent);
	}
}

/*
 * fk_touched: does a key ecsync carried over start or end at relid, and
 * may its load skip referential checks?  Not when another role's table
 * references it: replica mode would let the owner's deletes break that
 * role's keys, which the owner could not switch off otherwise.
 */
bool
fk_touched(Oid relid)
{
	Datum		arg = ObjectIdGetDatum(relid);
	Oid			type = OIDOID;

	if (SPI_execute_with_args("SELECT 1 WHERE EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'f' "
							  "  AND (conrelid = $1 OR confrelid = $1) AND conname LIKE '" FK_PREFIX "%') "
							  "AND NOT EXISTS (SELECT 1 FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid "
							  "  WHERE c.contype = 'f' AND c.confrelid = $1 AND r.relowner <> current_user::regrole)",
							  1, &type, &arg, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read pg_constraint");
	return SPI_processed > 0;
}

/*
 * fk_detach_incoming drops the carried keys that reference relid (other
 * tables' keys: a table's own keys do not stop its TRUNCATE) and returns
 * the statements that add them again
 */
List *
fk_detach_incoming(Oid relid)
{
	Datum		arg = ObjectIdGetDatum(relid);
	Oid			type = OIDOID;
	List	   *readd = NIL;
	List	   *drops = NIL;
	ListCell   *lc;

	if (SPI_execute_with_args("SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname), "
							  "format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname, "
							  "       pg_get_constraintdef(oid)), "
							  "format('COMMENT ON CONSTRAINT %I ON %s IS %L', conname, conrelid::regclass, "
							  "       obj_description(oid, 'pg_constraint')) "
							  "FROM pg_constraint WHERE contype = 'f' AND confrelid = $1 AND conrelid <> $1 "
							  "AND conname LIKE '" FK_PREFIX "%' ORDER BY conrelid, conname",
							  1, &type, &arg, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pg_constraint");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *comment = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3);

		drops = lappend(drops, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
		readd = lappend(readd, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2));
		if (comment != NULL)
			readd = lappend(readd, comment);
	}
	foreach(lc, drops)
		if (SPI_execute(lfirst(lc), false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not run: %s", (char *) lfirst(lc));
	CommandCounterIncrement();
	return readd;
}

/* fk_attach runs what fk_detach_incoming returned */
void
fk_attach(List *readd)
{
	ListCell   *lc;

	foreach(lc, readd)
		if (SPI_execute(lfirst(lc), false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not run: %s", (char *) lfirst(lc));
	CommandCounterIncrement();
}

/* fk_replica_mode: load the current table as replication applies it */
void
fk_replica_mode(void)
{
	(void) set_config_option("session_replication_role", "replica", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}
