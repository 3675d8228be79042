/*-------------------------------------------------------------------------
 *
 * mysql_foreign_keys.c
 *	  MySQL's foreign keys, as information_schema holds them
 *	  (KEY_COLUMN_USAGE and REFERENTIAL_CONSTRAINTS), with their ON DELETE
 *	  and ON UPDATE rules.  Read by the registration check (a cascading
 *	  parent of an incremental table), the batch (keys carried to the
 *	  targets, batch/foreign_keys.c) and change capture (the cascades it
 *	  applies, cdc/cdc_cascade.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "ecsync.h"
#include "mysql_source.h"

bool
ecsync_fk_rule_acts(const char *rule)
{
	return strcmp(rule, "CASCADE") == 0 || strcmp(rule, "SET NULL") == 0 || strcmp(rule, "SET DEFAULT") == 0;
}

char *
ecsync_fk_rules_text(const MyForeignKey *fk)
{
	bool		d = ecsync_fk_rule_acts(fk->delete_rule),
				u = ecsync_fk_rule_acts(fk->update_rule);

	return psprintf("%s%s%s", d ? psprintf("ON DELETE %s", fk->delete_rule) : "", d && u ? ", " : "",
					u ? psprintf("ON UPDATE %s", fk->update_rule) : "");
}

/*
 * ecsync_mysql_foreign_keys lists the foreign keys of database db that
 * table (a MySQL table; NULL: every table) has or is referenced by,
 * within db, with their rules
 */
List *
ecsync_mysql_foreign_keys(ms_conn *conn, const char *db, const char *table)
{
	ebuf		sql;
	char		err[MS_ERRLEN];
	char	  **v;
	unsigned long *len;
	List	   *fks = NIL;
	MyForeignKey *cur = NULL;
	int			r;

	ebuf_init(&sql);
	if (!ebuf_puts(&sql, "SELECT k.CONSTRAINT_NAME, k.TABLE_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, "
				   "k.REFERENCED_COLUMN_NAME, r.UPDATE_RULE, r.DELETE_RULE "
				   "FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS r "
				   "ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME "
				   "AND r.TABLE_NAME = k.TABLE_NAME "
				   "WHERE k.REFERENCED_TABLE_NAME IS NOT NULL AND k.TABLE_SCHEMA = ") ||
		!ms_quote_literal(conn, &sql, db) ||
		!ebuf_puts(&sql, " AND k.REFERENCED_TABLE_SCHEMA = k.TABLE_SCHEMA"))
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	if (table != NULL &&
		(!ebuf_puts(&sql, " AND (k.TABLE_NAME = ") ||
		 !ms_quote_literal(conn, &sql, table) ||
		 !ebuf_puts(&sql, " OR k.REFERENCED_TABLE_NAME = ") ||
		 !ms_quote_literal(conn, &sql, table) ||
		 !ebuf_putc(&sql, ')')))
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	if (!ebuf_puts(&sql, " ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION") ||
		!ebuf_putc(&sql, '\0'))
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	if (!ms_stream(conn, sql.data, err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not read the foreign keys of MySQL database %s: %s", db, err)));
	ebuf_free(&sql);
	while ((r = ms_fetch(conn, &v, &len, err, sizeof(err))) == 1)
	{
		if (v[0] == NULL || v[1] == NULL || v[2] == NULL || v[3] == NULL || v[4] == NULL)
			continue;
		if (cur == NULL || strcmp(cur->name, v[0]) != 0 || strcmp(cur->child, v[1]) != 0)
		{
			cur = palloc0(sizeof(MyForeignKey));
			cur->name = pstrdup(v[0]);
			cur->child = pstrdup(v[1]);
			cur->parent = pstrdup(v[3]);
			cur->update_rule = pstrdup(v[5] ? v[5] : "RESTRICT");
			cur->delete_rule = pstrdup(v[6] ? v[6] : "RESTRICT");
			fks = lappend(fks, cur);
		}
		cur->child_cols = lappend(cur->child_cols, pstrdup(v[2]));
		cur->parent_cols = lappend(cur->parent_cols, pstrdup(v[4]));
	}
	ms_stream_end(conn);
	if (r < 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not read the foreign keys of MySQL database %s: %s", db, err)));
	return fks;
}
