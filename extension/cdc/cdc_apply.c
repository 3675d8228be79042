/*-------------------------------------------------------------------------
 *
 * cdc_apply.c
 *	  Applying the binary log's row images to the cdc targets, as
 *	  PostgreSQL's own logical replication applies changes: with the
 *	  executor's replication helpers (execReplication.c), found by the
 *	  target's primary key, in groups of whole source transactions (one
 *	  PostgreSQL transaction each, see cdc_state.h), under
 *	  session_replication_role = replica.
 *
 *	  Values go through the one type policy: the decoder gives MySQL's text
 *	  form of each value (binlog_rows.c), tp_convert makes it PostgreSQL
 *	  input text, the column type's input function a Datum.
 *
 *	  A change that cannot be applied exactly (a row image of columns the
 *	  target does not have, an update or delete of a row the target lacks,
 *	  a value out of range) pauses its table with an error that says what
 *	  to do; the other tables go on.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_index.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parsetree.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "cdc_apply.h"
#include "cdc_catalog.h"
#include "cdc_state.h"
#include "copy_binary.h"

CdcTable   *cdc_applying = NULL;

static MemoryContext row_cxt = NULL;
static ebuf scratch;
static br_image before_img;
static br_image after_img;

static void key_scan_end(CdcTable *t);

static const char *
qualified(CdcTable *t)
{
	return quote_qualified_identifier(t->target_schema, t->target_table);
}

/*
 * cdc_pause marks t to be paused when the group commits, with an error
 * that says what happened; its events are skipped from now on.
 */
void
cdc_pause(CdcTable *t, const char *fmt,...)
{
	va_list		ap;
	char		buf[2048];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (t->pause == NULL)
		t->pause = MemoryContextStrdup(TopMemoryContext, buf);
	t->state = 'p';
	t->mapped = false;
	ereport(LOG, (errmsg("ecsync cdc of server \"%s\": table %s paused: %s", cw.server, qualified(t), buf)));
}

/* key_index finds the target's primary key, or a unique index on the key columns */
static Oid
key_index(CdcTable *t, Relation rel)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	Oid			found = InvalidOid;

	foreach(lc, indexes)
	{
		Oid			idx = lfirst_oid(lc);
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(idx));
		Form_pg_index ix;
		bool		ok;

		if (!HeapTupleIsValid(tup))
			continue;
		ix = (Form_pg_index) GETSTRUCT(tup);
		ok = ix->indisunique && ix->indimmediate && ix->indisvalid &&
			heap_attisnull(tup, Anum_pg_index_indexprs, NULL) &&
			heap_attisnull(tup, Anum_pg_index_indpred, NULL) &&
			ix->indnkeyatts == list_length(t->m.keys);
		for (int k = 0; ok && k < ix->indnkeyatts; k++)
		{
			char	   *att = get_attname(RelationGetRelid(rel), ix->indkey.values[k], true);
			ListCell   *kc;
			bool		in_keys = false;

			foreach(kc, t->m.keys)
				in_keys |= att && strcmp(att, lfirst(kc)) == 0;
			ok = in_keys;
		}
		if (ok && (ix->indisprimary || !OidIsValid(found)))
			found = idx;
		ReleaseSysCache(tup);
	}
	return found;
}

/*
 * restart_if_asked ends the worker, between groups, when a table is to be
 * copied anew: the new start copies it, the others go on from here
 */
static void
restart_if_asked(void)
{
	if (!cw.restart)
		return;
	ereport(LOG, (errmsg("ecsync cdc of server \"%s\": restarting to copy changed tables anew", cw.server)));
	proc_exit(1);
}

typedef struct OpenTableArgs
{
	CdcTable   *t;
	ms_conn    *conn;
} OpenTableArgs;

/* open_table_steps maps t and finds its target (see open_table) */
static void
open_table_steps(void *arg)
{
	CdcTable   *t = ((OpenTableArgs *) arg)->t;
	ms_conn    *conn = ((OpenTableArgs *) arg)->conn;

	{
		TableSpec	spec = {t->source_table, false, t->key_columns, NULL, t->columns,
		t->exclude_columns, cw.policy};
		Relation	rel;

		ecsync_map_table(&spec, conn, t->source_db, &t->m);
		t->relid = RangeVarGetRelid(makeRangeVar(t->target_schema, t->target_table, -1), NoLock, true);
		if (!OidIsValid(t->relid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("target table %s does not exist", qualified(t)),
					 errhint("Call ecsync_cdc_resnapshot() to create and copy it anew.")));
		if (pg_class_aclcheck(t->relid, GetUserId(), ACL_INSERT | ACL_UPDATE | ACL_DELETE | ACL_TRUNCATE) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("role \"%s\" may not insert, update, delete and truncate %s",
							GetUserNameFromId(GetUserId(), false), qualified(t))));
		ecsync_refuse_rls(t->relid, GetUserId());
		ecsync_fit_target(&t->m, t->relid);
		if (t->m.keys == NIL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
					 errmsg("MySQL table %s.%s has no primary key, which change capture needs to find rows",
							t->source_db, t->source_table),
					 errhint("Give it a primary key, or name a unique key with key_columns.")));
		rel = table_open(t->relid, AccessShareLock);
		t->keyidx = key_index(t, rel);
		t->src = palloc(sizeof(int) * t->m.ncols);
		t->attnum = palloc(sizeof(AttrNumber) * t->m.ncols);
		t->infunc = palloc(sizeof(FmgrInfo) * t->m.ncols);
		t->ioparam = palloc(sizeof(Oid) * t->m.ncols);
		t->typmod = palloc(sizeof(int32) * t->m.ncols);
		t->fast_ts = palloc0(sizeof(bool) * t->m.ncols);
		t->is_key = palloc0(sizeof(bool) * t->m.ncols);
		for (int c = 0; c < t->m.ncols; c++)
		{
			Oid			typid,
						infn;
			Form_pg_attribute att;
			ListCell   *lc;

			t->src[c] = (int) (t->m.cols[c] - t->m.mt.cols);
			t->attnum[c] = get_attnum(t->relid, t->m.colnames[c]);
			if (t->attnum[c] == InvalidAttrNumber)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("target table %s has no column \"%s\", which MySQL table %s.%s has",
								qualified(t), t->m.colnames[c], t->source_db, t->source_table),
						 errhint("Call ecsync_cdc_resnapshot('%s', '%s.%s'), which adds it, or leave it out "
								 "with exclude_columns.", cw.server, t->target_schema, t->target_table)));
			att = TupleDescAttr(RelationGetDescr(rel), t->attnum[c] - 1);
			typid = att->atttypid;
			t->typmod[c] = att->atttypmod;
			getTypeInputInfo(typid, &infn, &t->ioparam[c]);
			fmgr_info(infn, &t->infunc[c]);
			/*
			 * a TIMESTAMP into timestamptz, a DATETIME into timestamp (its
			 * wall clock as is: no zone to apply): read without the parser,
			 * rounded to the column's digits as the parser rounds
			 */
			t->fast_ts[c] = (t->m.conv[c] == TP_TIMESTAMP && typid == TIMESTAMPTZOID) ||
				(t->m.conv[c] == TP_DATETIME && typid == TIMESTAMPOID);
			foreach(lc, t->m.keys)
				t->is_key[c] |= strcmp(t->m.colnames[c], lfirst(lc)) == 0;
		}
		table_close(rel, AccessShareLock);
		if (!OidIsValid(t->keyidx))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
					 errmsg("target table %s has no primary key or unique index on the key columns", qualified(t)),
					 errhint("Add one (ALTER TABLE %s ADD PRIMARY KEY (...)), then call ecsync_cdc_resnapshot().",
							 qualified(t))));
	}
}

/*
 * open_table maps t for the worker's life (in TopMemoryContext), or says
 * in *msg why it cannot be applied.  The steps run in a subtransaction: a
 * step that fails leaves no relation, lock or buffer behind.  A cancel or
 * a shutdown is no reason to pause a table: it goes on up.
 */
static bool
open_table(CdcTable *t, ms_conn *conn, char **msg, int *code)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	OpenTableArgs args = {t, conn};
	ErrorData  *e = ecsync_try(open_table_steps, &args);

	if (e != NULL)
	{
		if (e->sqlerrcode == ERRCODE_QUERY_CANCELED || e->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
			ReThrowError(e);
		*msg = e->hint ? psprintf("%s (%s)", e->message, e->hint) : e->message;
		*code = e->sqlerrcode;
	}
	MemoryContextSwitchTo(old);
	return e == NULL;
}

/*
 * cdc_open_tables maps every streaming table by MySQL's information_schema
 * (over conn, before it carries the binary log) and checks its target:
 * it exists, the owner may change it, no row-level security, a key to
 * find rows by.  A table that fails is paused (in a transaction of its
 * own) and the others go on.
 */
void
cdc_open_tables(ms_conn *conn)
{
	for (int i = 0; i < cw.ntables; i++)
	{
		CdcTable   *t = &cw.tables[i];
		char	   *msg = NULL;
		int			code = 0;

		if (t->state != 's')
			continue;
		cc_begin();
		if (open_table(t, conn, &msg, &code))
			cc_commit();
		else if (code == ERRCODE_UNDEFINED_COLUMN && cw.follow_schema)
		{
			/* MySQL's columns changed while the worker was away: follow them */
			AbortCurrentTransaction();
			t->state = 'n';
			cc_resnapshot_table(t, psprintf("%s; copied anew with its new columns (cdc_schema_changes follow)",
											msg));
			cw.restart = true;
		}
		else
		{
			AbortCurrentTransaction();
			t->state = 'p';
			cc_record_error(psprintf("table %s: %s", qualified(t), msg), t->id);
		}
	}
	restart_if_asked();
}

/*
 * flush_inserts writes t's buffered inserts as COPY does: the heap rows
 * together (table_multi_insert: fewer WAL records, one page lock per
 * page), then each row's index entries.
 */
static void
flush_inserts(CdcTable *t)
{
	MemoryContext old;
	CdcTable   *was = cdc_applying;

	if (t->nbuf == 0)
		return;
	cdc_applying = t;
	old = MemoryContextSwitchTo(GetPerTupleMemoryContext(cw.estate));
	table_multi_insert(t->rel, t->ibuf, t->nbuf, cw.estate->es_output_cid, 0, NULL);
	for (int i = 0; i < t->nbuf; i++)
	{
		if (t->rri->ri_NumIndices > 0)
			(void) ExecInsertIndexTuples(t->rri, t->ibuf[i], cw.estate, false, false, NULL, NIL);
		ExecClearTuple(t->ibuf[i]);
	}
	MemoryContextSwitchTo(old);
	ResetPerTupleExprContext(cw.estate);
	t->nbuf = 0;
	cw.group_dirty = true;
	cdc_applying = was;
}

/*
 * insert_triggers_fire: would a row trigger fire on an insert into rel in
 * this session?  Under session_replication_role = replica only triggers
 * enabled ALWAYS or REPLICA do; the referential triggers of the foreign
 * keys carried over are ORIGIN triggers, and do not.
 */
static bool
insert_triggers_fire(Relation rel)
{
	TriggerDesc *td = rel->trigdesc;

	if (td == NULL)
		return false;
	for (int i = 0; i < td->numtriggers; i++)
	{
		Trigger    *tg = &td->triggers[i];

		if (!TRIGGER_FOR_ROW(tg->tgtype) || !TRIGGER_FOR_INSERT(tg->tgtype) ||
			tg->tgenabled == TRIGGER_DISABLED)
			continue;
		if (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA
			? tg->tgenabled != TRIGGER_FIRES_ON_ORIGIN
			: tg->tgenabled != TRIGGER_FIRES_ON_REPLICA)
			return true;
	}
	return false;
}

/* cdc_group_begin opens the group's transaction and every streaming target */
void
cdc_group_begin(void)
{
	List	   *rtable = NIL;
	int			n = 0;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (row_cxt == NULL)
	{
		row_cxt = AllocSetContextCreate(TopMemoryContext, "ecsync cdc row", ALLOCSET_DEFAULT_SIZES);
		ebuf_init(&scratch);
		br_image_init(&before_img);
		br_image_init(&after_img);
	}
	cw.estate = CreateExecutorState();
	for (int i = 0; i < cw.ntables; i++)
	{
		CdcTable   *t = &cw.tables[i];
		RangeTblEntry *rte;

		if (t->state != 's')
			continue;
		t->rel = table_open(t->relid, RowExclusiveLock);
		rte = makeNode(RangeTblEntry);
		rte->rtekind = RTE_RELATION;
		rte->relid = t->relid;
		rte->relkind = t->rel->rd_rel->relkind;
		rte->rellockmode = RowExclusiveLock;
		rtable = lappend(rtable, rte);
	}
	ExecInitRangeTable(cw.estate, rtable);
	for (int i = 0; i < cw.ntables; i++)
	{
		CdcTable   *t = &cw.tables[i];

		if (t->rel == NULL)
			continue;
		t->rri = makeNode(ResultRelInfo);
		InitResultRelInfo(t->rri, t->rel, ++n, NULL, 0);
		ExecOpenIndices(t->rri, false);
		t->slot = ExecInitExtraTupleSlot(cw.estate, RelationGetDescr(t->rel), &TTSOpsVirtual);
		t->search = ExecInitExtraTupleSlot(cw.estate, RelationGetDescr(t->rel), &TTSOpsVirtual);
		t->found = table_slot_create(t->rel, &cw.estate->es_tupleTable);
		t->keyrel = NULL;
		t->keyscan = NULL;
		t->multi = !insert_triggers_fire(t->rel) &&
			!(RelationGetDescr(t->rel)->constr && RelationGetDescr(t->rel)->constr->has_generated_stored);
		t->ibuf = palloc0(sizeof(TupleTableSlot *) * CDC_MULTI_INSERT);
		t->nbuf = 0;
	}
	cw.estate->es_output_cid = GetCurrentCommandId(true);
	AfterTriggerBeginQuery();
	cw.in_group = true;
	cw.group_start = GetCurrentTimestamp();
	cw.group_rows = 0;
	cw.group_txns = 0;
	cw.group_dirty = false;
}

/*
 * cdc_group_commit closes the targets and commits the group with the
 * position after its last source transaction.
 */
void
cdc_group_commit(void)
{
	for (int i = 0; i < cw.ntables; i++)
		if (cw.tables[i].rel != NULL)
			flush_inserts(&cw.tables[i]);
	AfterTriggerEndQuery(cw.estate);
	for (int i = 0; i < cw.ntables; i++)
	{
		CdcTable   *t = &cw.tables[i];

		if (t->rel == NULL)
			continue;
		key_scan_end(t);
		ExecCloseIndices(t->rri);
		table_close(t->rel, NoLock);
		t->rel = NULL;
		t->rri = NULL;
	}
	ExecResetTupleTable(cw.estate->es_tupleTable, false);
	FreeExecutorState(cw.estate);
	cw.estate = NULL;
	cc_save_group();
	PopActiveSnapshot();
	CommitTransactionCommand();
	cw.in_group = false;
	cw.rows_total += cw.group_rows;
	cw.txns_total += cw.group_txns;
	cw.pos_saved_at = GetCurrentTimestamp();
	cw.pos_unsaved = false;
	restart_if_asked();
}

/* binlog column types that a MySQL DATA_TYPE is written as */
static bool
type_matches(const tp_column *col, const br_column *bc)
{
	const char *t = col->data_type;
	bool		is_unsigned = strstr(col->column_type, "unsigned") != NULL;

#define IS(x) (strcmp(t, (x)) == 0)
	switch (bc->type)
	{
		case BR_TINY:
			return IS("tinyint") && bc->is_unsigned == is_unsigned;
		case BR_SHORT:
			return IS("smallint") && bc->is_unsigned == is_unsigned;
		case BR_INT24:
			return IS("mediumint") && bc->is_unsigned == is_unsigned;
		case BR_LONG:
			return (IS("int") || IS("integer")) && bc->is_unsigned == is_unsigned;
		case BR_LONGLONG:
			return IS("bigint") && bc->is_unsigned == is_unsigned;
		case BR_NEWDECIMAL:
			return (IS("decimal") || IS("numeric")) && (int) (bc->meta >> 8) == col->precision &&
				(int) (bc->meta & 0xff) == Max(col->scale, 0);
		case BR_FLOAT:
			return IS("float");
		case BR_DOUBLE:
			return IS("double") || IS("real");
		case BR_DATE:
		case BR_NEWDATE:
			return IS("date");
		case BR_DATETIME:
		case BR_DATETIME2:
			return IS("datetime") && (bc->type == BR_DATETIME || (int) bc->meta == Max(col->datetime_precision, 0));
		case BR_TIMESTAMP:
		case BR_TIMESTAMP2:
			return IS("timestamp") && (bc->type == BR_TIMESTAMP || (int) bc->meta == Max(col->datetime_precision, 0));
		case BR_TIME:
		case BR_TIME2:
			return IS("time") && (bc->type == BR_TIME || (int) bc->meta == Max(col->datetime_precision, 0));
		case BR_YEAR:
			return IS("year");
		case BR_BIT:
			return IS("bit") && (int) bc->meta == Max(col->precision, 1);
		case BR_STRING:
			return IS("char") || IS("binary");
		case BR_VARCHAR:
		case BR_VAR_STRING:
			/* a maximum in bytes beyond 4 bytes a character: the column was widened */
			return (IS("varchar") || IS("varbinary")) &&
				(col->char_length < 0 || bc->type != BR_VARCHAR || (long) bc->meta <= col->char_length * 4);
		case BR_BLOB:
		case BR_TINY_BLOB:
		case BR_MEDIUM_BLOB:
		case BR_LONG_BLOB:
			/* MariaDB's JSON is a LONGTEXT in the binary log */
			return strstr(t, "text") != NULL || strstr(t, "blob") != NULL || IS("json");
		case BR_JSON:
			/* MySQL's binary JSON, which the decoder prints as SELECT does */
			return IS("json");
		case BR_ENUM:
			return IS("enum");
		case BR_SET:
			return IS("set");
		case BR_GEOMETRY:
			return tp_is_spatial(t);
	}
#undef IS
	return false;
}

/*
 * schema_changed: TABLE_MAP bt of t differs from the columns t was mapped
 * with.  Columns added or retyped (every mapped name still there) are
 * followed when the server says so: the table is copied anew, the copy
 * adding and widening the target's columns.  Otherwise (a column dropped
 * or renamed, or cdc_schema_changes pause) the table pauses with what
 * changed and what to do.
 */
static void
schema_changed(CdcTable *t, const br_table *bt, const bs_pos *at)
{
	ms_table   *mt = &t->m.mt;
	StringInfoData what;
	bool		kept = true;

	initStringInfo(&what);
	for (int i = 0; i < mt->ncols; i++)
	{
		const br_column *bc = NULL;

		for (int j = 0; j < bt->ncols && bc == NULL; j++)
			if (strcmp(bt->cols[j].name, mt->cols[i].name) == 0)
				bc = &bt->cols[j];
		if (bc == NULL)
		{
			appendStringInfo(&what, "%scolumn \"%s\" was dropped or renamed", what.len ? ", " : "",
							 mt->cols[i].name);
			kept = false;
		}
		else if (!type_matches(&mt->cols[i], bc))
			appendStringInfo(&what, "%scolumn \"%s\" is now %s%s%s, not %s", what.len ? ", " : "",
							 bc->name, bc->is_unsigned ? "unsigned " : "", br_type_name(bc->type),
							 bc->type == BR_VARCHAR ? psprintf(" of up to %u bytes", bc->meta) : "",
							 mt->cols[i].column_type);
	}
	for (int j = 0; j < bt->ncols; j++)
	{
		bool		old = false;

		for (int i = 0; i < mt->ncols && !old; i++)
			old = strcmp(bt->cols[j].name, mt->cols[i].name) == 0;
		if (!old)
			appendStringInfo(&what, "%scolumn \"%s\" was added", what.len ? ", " : "", bt->cols[j].name);
	}
	if (what.len == 0)
		appendStringInfoString(&what, "its columns were reordered");
	if (kept && cw.follow_schema)
	{
		/* as a pause, but the commit marks it for a copy and restarts */
		if (t->pause == NULL)
			t->pause = MemoryContextStrdup(TopMemoryContext,
										   psprintf("MySQL table %s.%s changed at binary log %s:%llu: %s; "
													"copied anew with its new columns (cdc_schema_changes follow)",
													t->source_db, t->source_table, at->file,
													(unsigned long long) at->pos, what.data));
		t->state = 'n';
		t->resnapshot = true;
		cw.restart = true;
		ereport(LOG, (errmsg("ecsync cdc of server \"%s\": table %s: %s", cw.server, qualified(t), t->pause)));
	}
	else
		cdc_pause(t, "MySQL table %s.%s changed at binary log %s:%llu: %s (it has %d columns, had %d); "
				  "call ecsync_cdc_resnapshot('%s', '%s.%s') to copy it anew, which adds new columns to the target "
				  "(drop or alter the target first if columns were dropped or renamed)",
				  t->source_db, t->source_table, at->file, (unsigned long long) at->pos, what.data,
				  bt->ncols, mt->ncols, cw.server, t->target_schema, t->target_table);
}

/*
 * cdc_table_map checks a TABLE_MAP of t against the columns t was mapped
 * with: the same names and types in the same order.  A difference is a
 * schema change made after the table was mapped: the table pauses.
 */
bool
cdc_table_map(CdcTable *t, const br_table *bt, const bs_pos *at)
{
	ms_table   *mt = &t->m.mt;

	t->table_id = bt->table_id;
	t->mapped = false;
	if (!bt->has_names)
	{
		cdc_pause(t, "the binary log has no column names at %s:%llu: set binlog_row_metadata=FULL on the MySQL server, "
				  "then call ecsync_cdc_resnapshot('%s', '%s.%s')",
				  at->file, (unsigned long long) at->pos, cw.server, t->target_schema, t->target_table);
		return false;
	}
	for (int i = 0; i < bt->ncols; i++)
		if (i >= mt->ncols || strcmp(bt->cols[i].name, mt->cols[i].name) != 0 ||
			!type_matches(&mt->cols[i], &bt->cols[i]))
		{
			schema_changed(t, bt, at);
			return false;
		}
	if (bt->ncols != mt->ncols)
	{
		schema_changed(t, bt, at);
		return false;
	}
	for (int i = 0; i < bt->ncols; i++)
	{
		const br_column *bc = &bt->cols[i];

		if (bc->type != BR_BLOB && bc->type != BR_STRING && bc->type != BR_VARCHAR &&
			bc->type != BR_VAR_STRING && bc->type != BR_TINY_BLOB && bc->type != BR_MEDIUM_BLOB &&
			bc->type != BR_LONG_BLOB)
			continue;
		/* text must be UTF-8 (or ASCII, a subset) to arrive as it is; binary is binary */
		if (bc->charset != 0 && bc->charset != 63 && !(bc->charset == 45 || bc->charset == 46 ||
													   (bc->charset >= 224 && bc->charset <= 247) ||
													   bc->charset == 33 || bc->charset == 83 ||
													   (bc->charset >= 192 && bc->charset <= 215) ||
													   bc->charset == 11 || bc->charset == 65 ||
													   bc->charset >= 255))
		{
			cdc_pause(t, "column \"%s\" of MySQL table %s.%s has character set collation %u: change capture "
					  "reads utf8mb4, utf8mb3 and ascii text (convert the column, or register the table in "
					  "batch mode)", bc->name, t->source_db, t->source_table, bc->charset);
			return false;
		}
	}
	t->mapped = true;
	return true;
}

/*
 * read_timestamp reads the decoder's form of a TIMESTAMP (UTC) or a
 * DATETIME (a wall clock) with the batch's own parser (copy_binary.c) into
 * a timestamptz or timestamp Datum (the same microseconds since 2000) of
 * typmod's digits; false for a value that must take the input function.
 */
static bool
read_timestamp(const char *v, size_t len, int32 typmod, Datum *out)
{
	int64_t		us;
	Timestamp	ts;
	bool		zero;

	if (!cb_timestamp(v, len, &us, &zero) || zero || !IS_VALID_TIMESTAMP(us))
		return false;
	/* rounded to the column's digits, as the input and receive functions do */
	ts = (Timestamp) us;
	AdjustTimestampForTypmod(&ts, typmod);
	*out = TimestampTzGetDatum((TimestampTz) ts);
	return true;
}

/*
 * fill makes slot t's target row from image img: every synced column's
 * value by the type policy, other columns from keep (the row found, for
 * an update) or NULL.  With keys_only, only the key's columns (a lookup
 * needs no more).  An update's synced columns all come from its after
 * image, changed or not: a target row a role changed becomes MySQL's row
 * again, as on a replica.
 */
static void
fill(CdcTable *t, TupleTableSlot *slot, const br_image *img, TupleTableSlot *keep, bool keys_only)
{
	TupleDesc	desc = slot->tts_tupleDescriptor;
	char		err[256];

	ExecClearTuple(slot);
	if (keep)
	{
		slot_getallattrs(keep);
		memcpy(slot->tts_values, keep->tts_values, sizeof(Datum) * desc->natts);
		memcpy(slot->tts_isnull, keep->tts_isnull, sizeof(bool) * desc->natts);
	}
	else
		for (int a = 0; a < desc->natts; a++)
		{
			slot->tts_values[a] = (Datum) 0;
			slot->tts_isnull[a] = true;
		}
	for (int c = 0; c < t->m.ncols; c++)
	{
		int			a = t->attnum[c] - 1;
		int			s = t->src[c];
		const char *v = br_value(img, s);
		const char *out;
		size_t		outlen;
		bool		is_null;

		if (keys_only && !t->is_key[c])
			continue;
		if (img->len[s] == BR_ABSENT)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("the binary log's row image of %s.%s lacks column \"%s\"",
							t->source_db, t->source_table, t->m.colnames[c]),
					 errhint("Set binlog_row_image=FULL on the MySQL server, then call ecsync_cdc_resnapshot().")));
		if (v == NULL)
		{
			slot->tts_isnull[a] = true;
			continue;
		}
		/*
		 * the decoder's own form of a TIMESTAMP or DATETIME, read as binary
		 * COPY reads it (a zero date, the policy's NULL, takes the general
		 * path)
		 */
		if (t->fast_ts[c] && read_timestamp(v, (size_t) img->len[s], t->typmod[c], &slot->tts_values[a]))
		{
			slot->tts_isnull[a] = false;
			continue;
		}
		ebuf_reset(&scratch);
		if (!tp_convert(t->m.conv[c], t->m.bits[c], v, (size_t) img->len[s], &scratch, &out, &outlen,
						&is_null, err, sizeof(err)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("column \"%s\" of %s.%s: %s", t->m.colnames[c], t->source_db, t->source_table, err)));
		if (is_null)
		{
			slot->tts_isnull[a] = true;
			continue;
		}
		if (scratch.len > 0 && out == scratch.data)
		{
			if (!ebuf_putc(&scratch, '\0'))
				elog(ERROR, "out of memory");
			out = scratch.data;
		}
		slot->tts_values[a] = InputFunctionCall(&t->infunc[c], (char *) out, t->ioparam[c], t->typmod[c]);
		slot->tts_isnull[a] = false;
	}
	ExecStoreVirtualTuple(slot);
}

/*
 * key_scan opens t's key index and one scan of it for the group, which
 * every lookup of the group rescans: RelationFindReplTupleByIndex begins
 * and ends a scan, and looks the equality operators up, per row.  The
 * scan reads with a dirty snapshot, as that function's does: it sees the
 * group's own changes and a row another transaction is writing.
 */
static void
key_scan(CdcTable *t)
{
	MemoryContext old = MemoryContextSwitchTo(cw.estate->es_query_cxt);

	t->keyrel = index_open(t->keyidx, RowExclusiveLock);
	t->nkeys = IndexRelationGetNumberOfKeyAttributes(t->keyrel);
	for (int k = 0; k < t->nkeys; k++)
	{
		Oid			type = t->keyrel->rd_opcintype[k];
		Oid			op = get_opfamily_member(t->keyrel->rd_opfamily[k], type, type, BTEqualStrategyNumber);

		if (!OidIsValid(op))
			elog(ERROR, "no equality operator for column %d of index \"%s\"", k + 1,
				 RelationGetRelationName(t->keyrel));
		ScanKeyInit(&t->keys[k], k + 1, BTEqualStrategyNumber, get_opcode(op), (Datum) 0);
		t->keys[k].sk_collation = t->keyrel->rd_indcollation[k];
		t->keyatt[k] = t->keyrel->rd_index->indkey.values[k];
	}
	InitDirtySnapshot(t->keysnap);
	t->keyscan = index_beginscan(t->rel, t->keyrel, &t->keysnap, t->nkeys, 0);
	MemoryContextSwitchTo(old);
}

/* key_scan_end closes what key_scan opened, at the group's commit */
static void
key_scan_end(CdcTable *t)
{
	if (t->keyscan != NULL)
		index_endscan(t->keyscan);
	if (t->keyrel != NULL)
		index_close(t->keyrel, NoLock);
	t->keyscan = NULL;
	t->keyrel = NULL;
}

/*
 * find looks the row of image img up by the target's key into t->found.
 * A row another transaction writes (the targets are change capture's,
 * but a role may write them) is waited for, and looked up again; the row
 * is not locked: the update or delete that follows waits for, or fails
 * on, a writer that came since (and the worker starts again from the
 * group's first change).
 */
static bool
find(CdcTable *t, const br_image *img)
{
	MemoryContext old;
	bool		found = false;

	fill(t, t->search, img, NULL, true);
	if (t->keyscan == NULL)
		key_scan(t);
	for (int k = 0; k < t->nkeys; k++)
	{
		AttrNumber	a = t->keyatt[k] - 1;

		t->keys[k].sk_argument = t->search->tts_values[a];
		if (t->search->tts_isnull[a])
			t->keys[k].sk_flags |= SK_ISNULL;
		else
			t->keys[k].sk_flags &= ~SK_ISNULL;
	}
	/*
	 * in the scan's context, as the executor runs its scans: the index AM
	 * keeps what it allocates on the way (btree's killed items) for the
	 * scan's life, and the row's context is reset after every row
	 */
	old = MemoryContextSwitchTo(cw.estate->es_query_cxt);
	for (;;)
	{
		TransactionId xwait;

		index_rescan(t->keyscan, t->keys, t->nkeys, NULL, 0);
		if (!index_getnext_slot(t->keyscan, ForwardScanDirection, t->found))
			break;
		xwait = TransactionIdIsValid(t->keysnap.xmin) ? t->keysnap.xmin : t->keysnap.xmax;
		if (!TransactionIdIsValid(xwait))
		{
			found = true;
			break;
		}
		XactLockTableWait(xwait, NULL, NULL, XLTW_None);
	}
	MemoryContextSwitchTo(old);
	return found;
}

static char *
key_text(CdcTable *t, const br_image *img)
{
	StringInfoData s;
	ListCell   *lc;

	initStringInfo(&s);
	foreach(lc, t->m.keys)
		for (int c = 0; c < t->m.ncols; c++)
			if (strcmp(t->m.colnames[c], lfirst(lc)) == 0)
				appendStringInfo(&s, "%s%s = %s", s.len ? ", " : "", t->m.colnames[c],
								 br_value(img, t->src[c]) ? br_value(img, t->src[c]) : "NULL");
	return s.data;
}

static void
missing(CdcTable *t, const br_image *img, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_NO_DATA_FOUND),
			 errmsg("MySQL %s a row of %s.%s that target %s does not have (%s)", what,
					t->source_db, t->source_table, qualified(t), key_text(t, img)),
			 errdetail("The target was changed outside change capture, or the table's snapshot is not the one "
					   "its changes follow."),
			 errhint("Call ecsync_cdc_resnapshot('%s', '%s.%s') to copy it anew.", cw.server,
					 t->target_schema, t->target_table)));
}

/* next_command makes the group's earlier changes visible to the lookups */
static void
next_command(void)
{
	if (!cw.group_dirty)
		return;
	CommandCounterIncrement();
	cw.estate->es_output_cid = GetCurrentCommandId(true);
	cw.group_dirty = false;
}

/*
 * cdc_before_statement: t's target as a statement of the group's
 * transaction must see it (a cascade's, cdc_cascade.c): its buffered
 * inserts written, the group's changes so far visible
 */
void
cdc_before_statement(CdcTable *t)
{
	if (t->rel != NULL)
		flush_inserts(t);
	next_command();
}

/* cdc_cascaded counts rows a cascade deleted or updated in t */
void
cdc_cascaded(CdcTable *t, bool deleted, int64 rows)
{
	if (rows == 0)
		return;
	if (deleted)
		t->del += rows;
	else
		t->upd += rows;
	t->changed = true;
	cw.group_rows += rows;
	/* the statement's changes: the next lookup must see them */
	cw.group_dirty = true;
}

/*
 * cdc_apply_rows applies every row of rows event r of t, decoded by TABLE_MAP
 * bt, to t's target.
 */
void
cdc_apply_rows(CdcTable *t, const br_table *bt, const br_rows *r, const bs_pos *at)
{
	size_t		pos = 0;
	char		err[512];
	MemoryContext old = MemoryContextSwitchTo(row_cxt);

	cdc_applying = t;
	while (pos < r->len)
	{
		/*
		 * a row that cannot be decoded pauses its table (see the worker's
		 * error handling); an update's after image comes whole, MySQL's
		 * partial JSON updates applied to the before image
		 */
		if (!br_next_row(r, bt, &pos, &before_img, &after_img, err, sizeof(err)))
			ereport(ERROR, (errcode(ERRCODE_INVALID_BINARY_REPRESENTATION), errmsg("%s", err)));
		switch (r->kind)
		{
			case BR_INSERT:
				if (t->multi)
				{
					TupleTableSlot *slot = t->ibuf[t->nbuf];

					if (slot == NULL)
					{
						MemoryContext q = MemoryContextSwitchTo(cw.estate->es_query_cxt);

						slot = t->ibuf[t->nbuf] = table_slot_create(t->rel, &cw.estate->es_tupleTable);
						MemoryContextSwitchTo(q);
					}
					fill(t, slot, &before_img, NULL, false);
					/* its values outlive this row's memory */
					ExecMaterializeSlot(slot);
					if (RelationGetDescr(t->rel)->constr)
						ExecConstraints(t->rri, slot, cw.estate);
					if (++t->nbuf == CDC_MULTI_INSERT)
						flush_inserts(t);
				}
				else
				{
					fill(t, t->slot, &before_img, NULL, false);
					ExecSimpleRelationInsert(t->rri, cw.estate, t->slot);
				}
				t->ins++;
				break;
			case BR_UPDATE:
				{
					EPQState	epq;

					flush_inserts(t);
					next_command();
					if (!find(t, &before_img))
						missing(t, &before_img, "updated");
					fill(t, t->slot, &after_img, t->found, false);
					EvalPlanQualInit(&epq, cw.estate, NULL, NIL, -1);
					ExecSimpleRelationUpdate(t->rri, cw.estate, &epq, t->found, t->slot);
					EvalPlanQualEnd(&epq);
					t->upd++;
					cw.group_dirty = true;
					if (cw.after_row)
						cw.after_row(bt, &before_img, &after_img, at);
					break;
				}
			case BR_DELETE:
				{
					EPQState	epq;

					flush_inserts(t);
					next_command();
					if (!find(t, &before_img))
						missing(t, &before_img, "deleted");
					EvalPlanQualInit(&epq, cw.estate, NULL, NIL, -1);
					ExecSimpleRelationDelete(t->rri, cw.estate, &epq, t->found);
					EvalPlanQualEnd(&epq);
					t->del++;
					cw.group_dirty = true;
					if (cw.after_row)
						cw.after_row(bt, &before_img, NULL, at);
					break;
				}
		}
		cw.group_dirty = true;
		cw.group_rows++;
		t->changed = true;
		ResetPerTupleExprContext(cw.estate);
		MemoryContextReset(row_cxt);
	}
	cdc_applying = NULL;
	MemoryContextSwitchTo(old);
}

/*
 * cdc_truncate applies a MySQL TRUNCATE of t (a transaction of its own in
 * the binary log, ending at "at") in a transaction of its own, with the
 * position after it.
 */
void
cdc_truncate(CdcTable *t, const bs_pos *at)
{
	Assert(!cw.in_group);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	if (SPI_execute(psprintf("TRUNCATE ONLY %s", qualified(t)), false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "TRUNCATE of %s failed", qualified(t));
	SPI_finish();
	cw.pos = *at;
	cw.group_txns = 1;
	cw.group_rows = 0;
	t->changed = true;
	cc_save_group();
	PopActiveSnapshot();
	CommitTransactionCommand();
	cw.group_txns = 0;
	cw.txns_total++;
}
