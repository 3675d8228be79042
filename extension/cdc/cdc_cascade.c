/*-------------------------------------------------------------------------
 *
 * cdc_cascade.c
 *	  The foreign-key cascades the binary log does not hold.  InnoDB runs
 *	  ON DELETE / ON UPDATE CASCADE and SET NULL itself, and MariaDB and
 *	  MySQL up to 9.x with innodb_native_foreign_keys log only the
 *	  parent's row change (a replica re-runs the cascade from its own
 *	  keys).  The targets cannot: their keys are NOT VALID and changes
 *	  apply with session_replication_role = replica.  So the worker runs
 *	  them, as a replica would:
 *
 *	  - at start, the foreign keys among the server's registered tables
 *	    are read from MySQL (REFERENTIAL_CONSTRAINTS), and each table's
 *	    cdc_table_status.cascades says what is applied and what cannot be
 *	    (a child whose parent chain runs through a table not registered);
 *	  - when a parent's row is deleted, or its referenced key changes, the
 *	    streaming children's rows are deleted, set NULL or given the new
 *	    key in the same PostgreSQL transaction, and so on down a chain
 *	    (self-references too), at most 15 levels deep as in MySQL; the
 *	    rows count in the children's cdc_table_status;
 *	  - a parent that is not registered (or paused) is still read from the
 *	    binary log for its children's sake;
 *	  - a server that logs its cascades (MySQL 9 with its foreign keys in
 *	    the SQL layer: innodb_native_foreign_keys = OFF) gets none of this:
 *	    the children's rows come in the binary log, and must not come twice.
 *
 *	  Values: a parent's key read from the binary log goes through the
 *	  child column's type policy, as the child's own rows do; a key read
 *	  back from a child target (down a chain) is PostgreSQL's text of it.
 *
 *	  The cascades point into cw.tables: they are loaded once the worker's
 *	  tables are (and opened), and a new registration restarts the worker.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "cdc_apply.h"
#include "cdc_cascade.h"
#include "cdc_catalog.h"
#include "cdc_state.h"

#define CASCADE_DEPTH 15		/* MySQL's own limit */

/* one foreign key whose rule ecsync applies, to a streaming child */
typedef struct Cascade
{
	char	   *name;
	char	   *db;
	char	   *parent;			/* MySQL table names */
	CdcTable   *child;
	int			nkeys;
	char	  **parent_cols;
	char	  **child_cols;		/* MySQL's names, the targets' too */
	int		   *child_col;		/* per key column: the child's synced column */
	char	  **child_types;	/* per key column: its target type */
	char		on_delete;		/* 'c' CASCADE, 'n' SET NULL, '-' nothing */
	char		on_update;
	/* the child's columns read back for the next level */
	int			nret;
	char	  **ret_cols;
	SPIPlanPtr	plan[3];		/* delete, set NULL, set the new key */
} Cascade;

enum
{
	PLAN_DELETE, PLAN_NULL, PLAN_UPDATE
};

static Cascade *cascades = NULL;
static int	ncascades = 0;
static bool logged = false;		/* the server logs its cascades */

/* parents read for their children's sake: db.table pairs */
static char **parents = NULL;
static int	nparents = 0;

/* the values of a row, by column name: a binary log image or text read back */
typedef struct RowVals
{
	const br_table *bt;			/* from the binary log: MySQL's text */
	const br_image *img;
	int			n;				/* or read back from a target: PostgreSQL's text */
	char	  **names;
	char	  **vals;
} RowVals;

static char
rule_of(const char *rule)
{
	if (strcmp(rule, "CASCADE") == 0)
		return 'c';
	if (strcmp(rule, "SET NULL") == 0)
		return 'n';
	return '-';
}

static char *
top_strdup(const char *s)
{
	return MemoryContextStrdup(TopMemoryContext, s);
}

static CdcTable *
streaming_table(const char *db, const char *table)
{
	CdcTable   *t = cdc_tracked(db, table);

	return t && t->state == 's' ? t : NULL;
}

/* note: append a sentence to table t's cascades note */
static void
note(StringInfo *notes, CdcTable *t, const char *fmt,...) pg_attribute_printf(3, 4);

static void
note(StringInfo *notes, CdcTable *t, const char *fmt,...)
{
	StringInfo	s = notes[t - cw.tables];
	va_list		ap;

	if (s->len > 0)
		appendStringInfoString(s, "; ");
	for (;;)
	{
		int			needed;

		va_start(ap, fmt);
		needed = appendStringInfoVA(s, fmt, ap);
		va_end(ap);
		if (needed == 0)
			break;
		enlargeStringInfo(s, needed);
	}
}

/* is table db.name the child of an acting rule of fks? */
static bool
is_cascaded_child(List *fks, const char *name)
{
	ListCell   *lc;

	foreach(lc, fks)
	{
		MyForeignKey *fk = lfirst(lc);

		if (strcmp(fk->child, name) == 0 &&
			(ecsync_fk_rule_acts(fk->delete_rule) || ecsync_fk_rule_acts(fk->update_rule)))
			return true;
	}
	return false;
}

static void
add_parent(const char *db, const char *table)
{
	for (int i = 0; i < nparents; i++)
		if (strcmp(parents[2 * i], db) == 0 && strcmp(parents[2 * i + 1], table) == 0)
			return;
	parents = parents ? repalloc(parents, sizeof(char *) * 2 * (nparents + 1)) :
		MemoryContextAlloc(TopMemoryContext, sizeof(char *) * 2);
	parents[2 * nparents] = top_strdup(db);
	parents[2 * nparents + 1] = top_strdup(table);
	nparents++;
}

/* load_db reads db's foreign keys and keeps the cascades to its streaming tables */
static void
load_db(ms_conn *conn, const char *db, StringInfo *notes)
{
	List	   *fks = ecsync_mysql_foreign_keys(conn, db, NULL);
	ListCell   *lc;

	foreach(lc, fks)
	{
		MyForeignKey *fk = lfirst(lc);
		CdcTable   *child = streaming_table(db, fk->child);
		CdcTable   *parent = cdc_tracked(db, fk->parent);
		const char *rules;
		Cascade    *c;
		int			i;
		ListCell   *k;
		bool		ok = true;

		if (!ecsync_fk_rule_acts(fk->delete_rule) && !ecsync_fk_rule_acts(fk->update_rule))
			continue;
		rules = ecsync_fk_rules_text(fk);
		if (child == NULL)
		{
			if (parent != NULL && cdc_tracked(db, fk->child) == NULL)
				note(notes, parent, "child %s.%s (%s, %s) is not registered: what MySQL changes in it is not kept",
					 db, fk->child, fk->name, rules);
			continue;
		}
		if (logged)
		{
			note(notes, child, "%s from %s.%s (%s): MySQL logs the rows it changes, applied as logged",
				 rules, db, fk->parent, fk->name);
			continue;
		}
		if (strcmp(fk->delete_rule, "SET DEFAULT") == 0 || strcmp(fk->update_rule, "SET DEFAULT") == 0)
		{
			note(notes, child, "%s from %s.%s (%s): SET DEFAULT is not applied", rules, db, fk->parent, fk->name);
			ok = false;
		}
		/* the key columns must be synced */
		foreach(k, fk->child_cols)
		{
			bool		found = false;

			for (int col = 0; col < child->m.ncols; col++)
				found |= strcmp(child->m.colnames[col], lfirst(k)) == 0;
			if (!found)
			{
				note(notes, child, "%s from %s.%s (%s) is not applied: column %s is not synced",
					 rules, db, fk->parent, fk->name, (char *) lfirst(k));
				ok = false;
			}
		}
		if (!ok)
			continue;
		/* the parent's own cascaded changes are not in the binary log either */
		if (cdc_tracked(db, fk->parent) == NULL && is_cascaded_child(fks, fk->parent))
			note(notes, child, "rows MySQL changes in %s.%s by cascade are not in the binary log, and %s.%s is "
				 "not registered: their %s into this table is not applied (register %s.%s too)",
				 db, fk->parent, db, fk->parent, rules, db, fk->parent);

		cascades = cascades ? repalloc(cascades, sizeof(Cascade) * (ncascades + 1)) :
			MemoryContextAllocZero(TopMemoryContext, sizeof(Cascade));
		c = &cascades[ncascades++];
		memset(c, 0, sizeof(*c));
		c->name = top_strdup(fk->name);
		c->db = top_strdup(db);
		c->parent = top_strdup(fk->parent);
		c->child = child;
		c->nkeys = list_length(fk->child_cols);
		c->parent_cols = MemoryContextAllocZero(TopMemoryContext, sizeof(char *) * c->nkeys);
		c->child_cols = MemoryContextAllocZero(TopMemoryContext, sizeof(char *) * c->nkeys);
		c->child_col = MemoryContextAllocZero(TopMemoryContext, sizeof(int) * c->nkeys);
		c->child_types = MemoryContextAllocZero(TopMemoryContext, sizeof(char *) * c->nkeys);
		for (i = 0; i < c->nkeys; i++)
		{
			c->child_cols[i] = top_strdup(list_nth(fk->child_cols, i));
			c->parent_cols[i] = top_strdup(list_nth(fk->parent_cols, i));
			for (int col = 0; col < child->m.ncols; col++)
				if (strcmp(child->m.colnames[col], c->child_cols[i]) == 0)
					c->child_col[i] = col;
			c->child_types[i] = top_strdup(format_type_with_typemod(get_atttype(child->relid, child->attnum[c->child_col[i]]),
																	child->typmod[c->child_col[i]]));
		}
		c->on_delete = rule_of(fk->delete_rule);
		c->on_update = rule_of(fk->update_rule);
		add_parent(db, fk->parent);
		note(notes, child, "%s from %s.%s (%s): applied by ecsync (MySQL does not log it)%s",
			 rules, db, fk->parent, fk->name,
			 cdc_tracked(db, fk->parent) ? "" : "; the parent is read from the binary log, not registered");
	}
}

/* the columns cascades from table db.name reference: read back for the next level */
static void
return_columns(Cascade *c)
{
	List	   *cols = NIL;
	ListCell   *lc;

	for (int i = 0; i < ncascades; i++)
	{
		if (strcmp(cascades[i].db, c->db) != 0 || strcmp(cascades[i].parent, c->child->source_table) != 0)
			continue;
		for (int k = 0; k < cascades[i].nkeys; k++)
		{
			bool		have = false;

			foreach(lc, cols)
				have |= strcmp(lfirst(lc), cascades[i].parent_cols[k]) == 0;
			if (!have)
				cols = lappend(cols, cascades[i].parent_cols[k]);
		}
	}
	c->nret = list_length(cols);
	c->ret_cols = MemoryContextAllocZero(TopMemoryContext, sizeof(char *) * Max(c->nret, 1));
	foreach(lc, cols)
		c->ret_cols[foreach_current_index(lc)] = lfirst(lc);
}

void
cdc_cascades_load(ms_conn *conn, const bs_source *src)
{
	StringInfo *notes = palloc(sizeof(StringInfo) * Max(cw.ntables, 1));
	List	   *dbs = NIL;
	ListCell   *lc;

	ncascades = 0;
	nparents = 0;
	logged = false;
	if (!src->mariadb)
	{
		char		row[2][256];
		char		err[MS_ERRLEN];
		int			rc = ms_query_row(conn, "SHOW GLOBAL VARIABLES LIKE 'innodb_native_foreign_keys'", 2, row,
									  err, sizeof(err));

		if (rc < 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("server \"%s\": could not read innodb_native_foreign_keys: %s", cw.server, err)));
		/* MySQL 9's SQL-layer foreign keys log their cascades; InnoDB's own do not */
		logged = rc == 1 && strcmp(row[1], "OFF") == 0;
	}
	for (int i = 0; i < cw.ntables; i++)
	{
		notes[i] = makeStringInfo();
		if (cw.tables[i].state == 's' && !list_member(dbs, makeString(cw.tables[i].source_db)))
			dbs = lappend(dbs, makeString(cw.tables[i].source_db));
	}
	foreach(lc, dbs)
		load_db(conn, strVal(lfirst(lc)), notes);
	for (int i = 0; i < ncascades; i++)
		return_columns(&cascades[i]);
	for (int i = 0; i < cw.ntables; i++)
		cc_save_cascade_note(&cw.tables[i], notes[i]->len ? notes[i]->data : NULL);
	if (ncascades > 0)
		ereport(LOG,
				(errmsg("ecsync cdc of server \"%s\" applies %d foreign-key cascade%s MySQL does not log",
						cw.server, ncascades, ncascades == 1 ? "" : "s")));
}

bool
cdc_cascade_parent(const char *db, const char *table)
{
	for (int i = 0; i < nparents; i++)
		if (strcmp(parents[2 * i], db) == 0 && strcmp(parents[2 * i + 1], table) == 0)
			return true;
	return false;
}

/* value: column name of row rv, as text for the child column (NULL: SQL NULL) */
static const char *
value(const RowVals *rv, const char *name, Cascade *c, int k)
{
	if (rv->bt)
	{
		for (int i = 0; i < rv->bt->ncols; i++)
			if (rv->bt->cols[i].name && strcmp(rv->bt->cols[i].name, name) == 0)
			{
				const char *v = br_value(rv->img, i);
				const char *out;
				size_t		outlen;
				bool		is_null;
				char		err[256];
				ebuf		b;
				char	   *r;
				int			col = c->child_col[k];

				if (rv->img->len[i] == BR_ABSENT)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
							 errmsg("the binary log's row image of %s.%s lacks column \"%s\", which foreign key %s "
									"cascades from", c->db, c->parent, name, c->name),
							 errhint("Set binlog_row_image=FULL on the MySQL server.")));
				if (v == NULL)
					return NULL;
				/* as the child's own column is read: its type policy */
				ebuf_init(&b);
				if (!tp_convert(c->child->m.conv[col], c->child->m.bits[col], v, (size_t) rv->img->len[i], &b,
								&out, &outlen, &is_null, err, sizeof(err)))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
							 errmsg("column \"%s\" of %s.%s, cascaded by foreign key %s: %s", name, c->db,
									c->parent, c->name, err)));
				r = is_null ? NULL : pnstrdup(out, outlen);
				ebuf_free(&b);
				return r;
			}
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("the binary log's map of %s.%s has no column \"%s\", which foreign key %s cascades from",
						c->db, c->parent, name, c->name),
				 errhint("Set binlog_row_metadata=FULL on the MySQL server.")));
	}
	for (int i = 0; i < rv->n; i++)
		if (strcmp(rv->names[i], name) == 0)
			return rv->vals[i];
	elog(ERROR, "cascade of %s: column \"%s\" was not read back", c->name, name);
	return NULL;
}

static const char *
quoted_child(Cascade *c)
{
	return quote_qualified_identifier(c->child->target_schema, c->child->target_table);
}

/* the statement of plan p of cascade c, prepared once */
static SPIPlanPtr
plan_of(Cascade *c, int p)
{
	StringInfoData sql;
	Oid		   *types;
	int			n = p == PLAN_UPDATE ? 2 * c->nkeys : c->nkeys;

	if (c->plan[p])
		return c->plan[p];
	initStringInfo(&sql);
	if (p == PLAN_DELETE)
		appendStringInfo(&sql, "DELETE FROM ONLY %s WHERE ", quoted_child(c));
	else
	{
		appendStringInfo(&sql, "UPDATE ONLY %s SET ", quoted_child(c));
		for (int k = 0; k < c->nkeys; k++)
		{
			if (p == PLAN_NULL)
				appendStringInfo(&sql, "%s%s = NULL", k ? ", " : "", quote_identifier(c->child_cols[k]));
			else
				appendStringInfo(&sql, "%s%s = $%d::%s", k ? ", " : "", quote_identifier(c->child_cols[k]),
								 c->nkeys + k + 1, c->child_types[k]);
		}
		appendStringInfoString(&sql, " WHERE ");
	}
	for (int k = 0; k < c->nkeys; k++)
		appendStringInfo(&sql, "%s%s = $%d::%s", k ? " AND " : "", quote_identifier(c->child_cols[k]), k + 1,
						 c->child_types[k]);
	if (c->nret > 0)
	{
		appendStringInfoString(&sql, " RETURNING ");
		for (int r = 0; r < c->nret; r++)
			appendStringInfo(&sql, "%s%s::text", r ? ", " : "", quote_identifier(c->ret_cols[r]));
	}
	types = palloc(sizeof(Oid) * n);
	for (int i = 0; i < n; i++)
		types[i] = TEXTOID;
	c->plan[p] = SPI_prepare(sql.data, n, types);
	if (c->plan[p] == NULL)
		elog(ERROR, "could not prepare \"%s\": %s", sql.data, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(c->plan[p]) != 0)
		elog(ERROR, "SPI_keepplan failed");
	return c->plan[p];
}

static bool
same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void cascade(const char *db, const char *table, const RowVals *old, const RowVals *new,
					const bs_pos *at, int depth);

/* one cascade c of a parent row change (new NULL: a delete) */
static void
apply_one(Cascade *c, const RowVals *old, const RowVals *new, const bs_pos *at, int depth)
{
	char		rule = new ? c->on_update : c->on_delete;
	Datum	   *args;
	char	   *nulls;
	const char **oldk = palloc(sizeof(char *) * c->nkeys);
	const char **newk = palloc(sizeof(char *) * c->nkeys);
	bool		changed = false;
	int			p,
				rc;
	SPITupleTable *tt;
	uint64		n;

	/* a child paused (a schema change, say) takes nothing until copied anew */
	if (rule == '-' || c->child->state != 's' || c->child->pause != NULL || !cdc_after_snapshot(c->child, at))
		return;
	for (int k = 0; k < c->nkeys; k++)
	{
		oldk[k] = value(old, c->parent_cols[k], c, k);
		if (oldk[k] == NULL)
			return;				/* a NULL key references no row */
		if (new)
		{
			newk[k] = value(new, c->parent_cols[k], c, k);
			changed |= !same(oldk[k], newk[k]);
		}
	}
	if (new && !changed)
		return;
	p = rule == 'n' ? PLAN_NULL : new ? PLAN_UPDATE : PLAN_DELETE;
	args = palloc(sizeof(Datum) * 2 * c->nkeys);
	nulls = palloc(2 * c->nkeys + 1);
	for (int k = 0; k < c->nkeys; k++)
	{
		args[k] = CStringGetTextDatum(oldk[k]);
		nulls[k] = ' ';
		if (p == PLAN_UPDATE)
		{
			args[c->nkeys + k] = newk[k] ? CStringGetTextDatum(newk[k]) : (Datum) 0;
			nulls[c->nkeys + k] = newk[k] ? ' ' : 'n';
		}
	}
	cdc_before_statement(c->child);
	rc = SPI_execute_plan(plan_of(c, p), args, nulls, false, 0);
	if (rc != (c->nret > 0 ? (p == PLAN_DELETE ? SPI_OK_DELETE_RETURNING : SPI_OK_UPDATE_RETURNING) :
			   (p == PLAN_DELETE ? SPI_OK_DELETE : SPI_OK_UPDATE)))
		elog(ERROR, "the cascade of foreign key %s to %s failed: %s", c->name, quoted_child(c),
			 SPI_result_code_string(rc));
	n = SPI_processed;
	tt = SPI_tuptable;
	cdc_cascaded(c->child, p == PLAN_DELETE, (int64) n);
	if (c->nret == 0 || n == 0)
		return;
	if (depth + 1 >= CASCADE_DEPTH)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("foreign-key cascades from %s.%s run deeper than %d levels, where MySQL stops",
						c->db, c->parent, CASCADE_DEPTH)));
	/* the next level: the child's changed rows, before and after */
	for (uint64 r = 0; r < n; r++)
	{
		RowVals		o,
					nw;

		memset(&o, 0, sizeof(o));
		o.n = c->nret;
		o.names = c->ret_cols;
		o.vals = palloc(sizeof(char *) * c->nret);
		for (int i = 0; i < c->nret; i++)
			o.vals[i] = SPI_getvalue(tt->vals[r], tt->tupdesc, i + 1);
		if (p == PLAN_DELETE)
		{
			cascade(c->db, c->child->source_table, &o, NULL, at, depth + 1);
			continue;
		}
		/* read back after the change: before it, the key columns held the old key */
		nw = o;
		o.vals = palloc(sizeof(char *) * c->nret);
		for (int i = 0; i < c->nret; i++)
		{
			o.vals[i] = nw.vals[i];
			for (int k = 0; k < c->nkeys; k++)
				if (strcmp(c->ret_cols[i], c->child_cols[k]) == 0)
					o.vals[i] = (char *) oldk[k];
		}
		cascade(c->db, c->child->source_table, &o, &nw, at, depth + 1);
	}
}

static void
cascade(const char *db, const char *table, const RowVals *old, const RowVals *new, const bs_pos *at, int depth)
{
	for (int i = 0; i < ncascades; i++)
		if (strcmp(cascades[i].db, db) == 0 && strcmp(cascades[i].parent, table) == 0)
			apply_one(&cascades[i], old, new, at, depth);
}

void
cdc_cascade_row(const br_table *bt, const br_image *before, const br_image *after, const bs_pos *at)
{
	RowVals		o,
				n;

	if (!cdc_cascade_parent(bt->db, bt->table))
		return;
	memset(&o, 0, sizeof(o));
	o.bt = bt;
	o.img = before;
	n = o;
	n.img = after;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	cascade(bt->db, bt->table, &o, after ? &n : NULL, at, 0);
	SPI_finish();
}

void
cdc_cascade_rows(const br_table *bt, const br_rows *r, const bs_pos *at)
{
	static br_image before,
				after;
	static bool init = false;
	static MemoryContext row_cxt = NULL;
	size_t		pos = 0;
	char		err[512];
	MemoryContext old;

	if (r->kind == BR_INSERT)
		return;
	if (!init)
	{
		br_image_init(&before);
		br_image_init(&after);
		row_cxt = AllocSetContextCreate(TopMemoryContext, "ecsync cdc cascade", ALLOCSET_DEFAULT_SIZES);
		init = true;
	}
	old = MemoryContextSwitchTo(row_cxt);
	while (pos < r->len)
	{
		if (!br_next_row(r, bt, &pos, &before, &after, err, sizeof(err)))
			ereport(ERROR, (errcode(ERRCODE_INVALID_BINARY_REPRESENTATION), errmsg("%s", err)));
		cdc_cascade_row(bt, &before, r->kind == BR_UPDATE ? &after : NULL, at);
		MemoryContextReset(row_cxt);
	}
	MemoryContextSwitchTo(old);
}
