/*-------------------------------------------------------------------------
 *
 * table_map.c
 *	  A registration's MySQL table mapped to PostgreSQL: the columns it
 *	  syncs (all, or those named, less those excluded), each column's
 *	  PostgreSQL type and conversion under the type policy, its key and
 *	  cursor, and the adjustments a pre-created target's own column types
 *	  call for.  Used by the batch worker at run time and by
 *	  ecsync_check_source() at registration, so both say the same thing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "ecsync.h"

static bool
list_has(List *names, const char *name)
{
	ListCell   *lc;

	foreach(lc, names)
		if (strcmp(lfirst(lc), name) == 0)
			return true;
	return false;
}

static int
column_index(const ms_table *mt, const char *name)
{
	for (int i = 0; i < mt->ncols; i++)
		if (strcmp(mt->cols[i].name, name) == 0)
			return i;
	return -1;
}

/* names_array renders a List of names as a PostgreSQL array literal */
static char *
names_array(List *names)
{
	StringInfoData s;
	ListCell   *lc;

	initStringInfo(&s);
	appendStringInfoString(&s, "'{");
	foreach(lc, names)
		appendStringInfo(&s, "%s%s", foreach_current_index(lc) ? "," : "",
						 quote_identifier(lfirst(lc)));
	appendStringInfoString(&s, "}'");
	return s.data;
}

/*
 * ecsync_map_table describes spec's MySQL table db.table over conn and maps
 * the columns the registration syncs into m (palloc'd, but m->mt is
 * malloc'd: ms_table_free it).  Raises an error that names the option to
 * change when the registration does not fit the table.
 */
void
ecsync_map_table(const TableSpec *spec, ms_conn *conn, const char *db, MappedTable *m)
{
	char		err[MS_ERRLEN];
	const ms_table *mt = &m->mt;
	ListCell   *lc;
	List	   *unsupported = NIL;

	memset(m, 0, sizeof(*m));
	if (!ms_describe(conn, db, spec->source_table, &m->mt, err, sizeof(err)))
	{
		CHECK_FOR_INTERRUPTS();	/* a cancel shuts the connection down */
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("%s", err)));
	}

	/* every column named must exist */
	foreach(lc, spec->columns)
		if (column_index(mt, lfirst(lc)) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("columns names \"%s\", which MySQL table %s.%s does not have",
							(char *) lfirst(lc), db, spec->source_table)));
	foreach(lc, spec->exclude_columns)
		if (column_index(mt, lfirst(lc)) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("exclude_columns names \"%s\", which MySQL table %s.%s does not have",
							(char *) lfirst(lc), db, spec->source_table)));

	m->pgtypes = palloc(mt->ncols * sizeof(char *));
	m->conv = palloc(mt->ncols * sizeof(tp_conv));
	m->wire = palloc(mt->ncols * sizeof(tp_wire));
	m->bits = palloc(mt->ncols * sizeof(int));
	m->nullable = palloc(mt->ncols * sizeof(bool));
	m->colnames = palloc(mt->ncols * sizeof(char *));
	m->cols = palloc(mt->ncols * sizeof(tp_column *));
	m->cursor_idx = -1;
	for (int i = 0; i < mt->ncols; i++)
	{
		const tp_column *col = &mt->cols[i];
		int			n = m->ncols;

		if ((spec->columns != NIL && !list_has(spec->columns, col->name)) ||
			list_has(spec->exclude_columns, col->name))
			continue;
		m->pgtypes[n] = palloc(64);
		if (!tp_map_column(col, &spec->policy, m->pgtypes[n], 64, &m->conv[n], &m->wire[n],
						   &m->bits[n], &m->nullable[n], err, sizeof(err)))
		{
			unsupported = lappend(unsupported, pstrdup(col->name));
			continue;
		}
		m->cols[n] = col;
		m->colnames[n] = col->name;
		if (spec->cursor_column && strcmp(spec->cursor_column, col->name) == 0)
			m->cursor_idx = n;
		m->ncols++;
	}
	if (unsupported != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("MySQL table %s.%s: %s", db, spec->source_table, err),
				 errhint("Leave the column out with exclude_columns => %s, "
						 "or see the type policy in ecsync's docs/batch.md.",
						 names_array(unsupported))));
	if (m->ncols == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the registration of MySQL table %s.%s leaves no column to sync",
						db, spec->source_table)));

	if (spec->key_columns != NIL)
	{
		foreach(lc, spec->key_columns)
		{
			if (column_index(mt, lfirst(lc)) < 0)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("key_columns names \"%s\", which MySQL table %s.%s does not have",
								(char *) lfirst(lc), db, spec->source_table)));
			m->keys = lappend(m->keys, lfirst(lc));
		}
	}
	else
		for (int k = 0; k < mt->npk; k++)
			m->keys = lappend(m->keys, (char *) mt->cols[mt->pk[k]].name);

	foreach(lc, m->keys)
	{
		bool		synced = false;

		for (int i = 0; i < m->ncols; i++)
			synced |= strcmp(m->colnames[i], lfirst(lc)) == 0;
		if (!synced)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("key column \"%s\" of MySQL table %s.%s is left out of the sync",
							(char *) lfirst(lc), db, spec->source_table),
					 errhint("A key column must be synced: add it to columns, or take it out of exclude_columns.")));
	}

	if (spec->incremental && m->keys == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("MySQL table %s.%s has no primary key, so it cannot be synced incrementally",
						db, spec->source_table),
				 errhint("Name the columns that identify a row with key_columns => '{...}', "
						 "or register the table in mode 'full'.")));
	if (spec->incremental && m->cursor_idx < 0)
	{
		if (column_index(mt, spec->cursor_column) >= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cursor column \"%s\" of MySQL table %s.%s is left out of the sync",
							spec->cursor_column, db, spec->source_table)));
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("cursor column \"%s\" is not a column of MySQL table %s.%s",
						spec->cursor_column, db, spec->source_table),
				 errhint("Name the column that MySQL updates on every change with cursor_column => '...'.")));
	}
}

/*
 * ecsync_fit_target adjusts the conversions to a pre-created target whose
 * column types differ from the policy's: a tinyint(1) goes into a numeric
 * or text column as its number, a SET into a text column as MySQL writes
 * it.  Every other value is given to the target type's input function,
 * which takes it where it fits and raises an error naming the column
 * where it does not.
 */
void
ecsync_fit_target(MappedTable *m, Oid relid)
{
	for (int i = 0; i < m->ncols; i++)
	{
		AttrNumber	att = get_attnum(relid, m->colnames[i]);
		Oid			typid;

		if (att == InvalidAttrNumber)
			continue;
		typid = getBaseType(get_atttype(relid, att));
		if (m->conv[i] == TP_BOOL && typid != BOOLOID)
			m->conv[i] = TP_NUMBER;
		else if (m->conv[i] == TP_SET && !OidIsValid(get_element_type(typid)))
			m->conv[i] = TP_TEXT;
	}
}
