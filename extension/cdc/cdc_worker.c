/*-------------------------------------------------------------------------
 *
 * cdc_worker.c
 *	  The change-capture worker of one MySQL server (see cdc_state.h):
 *	  checks what the server must have, has new tables snapshotted (a
 *	  batch run reads them from one consistent snapshot and records its
 *	  binary log position, without a lock on MySQL), then reads the binary
 *	  log from the position after the last applied transaction and applies
 *	  it, grouping whole source transactions into PostgreSQL transactions.
 *
 *	  Schema changes: TRUNCATE is applied; a TABLE_MAP whose columns differ
 *	  from the table's (ALTER ... ADD/DROP/CHANGE/MODIFY COLUMN) pauses the
 *	  table; DROP and RENAME of a table (online schema change tools swap
 *	  tables so) pause it too.  A paused table says what happened and what
 *	  to do in ecsync.cdc_table_status; the other tables go on.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <signal.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/pmsignal.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "binlog_pipe.h"
#include "cdc_apply.h"
#include "cdc_cascade.h"
#include "cdc_catalog.h"
#include "cdc_state.h"

PGDLLEXPORT void ecsync_cdc_main(Datum main_arg);


#define MAX_MAPS 256			/* tables mapped in the current transaction */

static br_table maps[MAX_MAPS];
static int	nmaps = 0;
static bp_pipe *pipe_ = NULL;

/* the binary log bytes queued ahead of the applier */
#define PIPE_BYTES (16 * 1024 * 1024)
static uint32 event_timestamp = 0;	/* of the last transaction's events */
static bool in_txn = false;		/* between a transaction's first and last event */

/* when the worker must wait before it exits after an error */
#define ERROR_PAUSE_MS 5000

static void
sleep_ms(long ms)
{
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, ms, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
}

static void
forget_maps(void)
{
	for (int i = 0; i < nmaps; i++)
		br_table_free(&maps[i]);
	nmaps = 0;
}

static void
mysql_error_out(const char *what, const char *err)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("server \"%s\": %s: %s", cw.server, what, err)));
}

static ms_conn *
connect_mysql(void)
{
	char		err[MS_ERRLEN];
	ms_conn    *c = ms_connect(&cw.params, err, sizeof(err));

	if (c == NULL)
		mysql_error_out("could not connect", err);
	return c;
}

/*
 * snapshot has the tables waiting for a snapshot copied by a batch run
 * (the batch path: binary COPY from a reader thread), which records each
 * table's binary log position in its transaction.
 */
static void
snapshot(void)
{
	BatchRequest req;
	BackgroundWorkerHandle *handle;
	pid_t		pid;
	char	   *error;

	pgstat_report_activity(STATE_RUNNING, psprintf("ecsync cdc of server %s: snapshot", cw.server));
	memset(&req, 0, sizeof(req));
	req.dboid = MyDatabaseId;
	req.userid = cw.req.owner;
	req.requested_by = cw.req.owner;
	req.caller_pid = MyProcPid;
	strlcpy(req.cdc_server, cw.server, NAMEDATALEN);
	/* each table in a transaction of its own: one that fails pauses alone */
	req.per_table = true;
	handle = ecsync_launch_batch_worker(&req, &pid);
	if (WaitForBackgroundWorkerShutdown(handle) == BGWH_POSTMASTER_DIED)
		proc_exit(1);
	cc_begin();
	cc_snapshot_result(pid, &error);
	cc_commit();
	if (error)
		ereport(ERROR, (errcode(ERRCODE_FDW_ERROR), errmsg("server \"%s\": %s", cw.server, error)));
}

/* more_queued: is the next event already here (the group may grow)? */
static bool
more_queued(void)
{
	return bp_pending(pipe_);
}

/* end_transaction: a source transaction ended at "at"; commit the group when due */
static void
end_transaction(const bs_pos *at)
{
	cw.pos = *at;
	in_txn = false;
	if (cw.txn_has_gtid && !cw.txn_skip && cw.executed != NULL)
	{
		if (!mg_set_add(cw.executed, &cw.txn_gtid))
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		cw.executed_dirty = true;
	}
	if (cw.txn_has_gtid && !cw.txn_skip)
		mg_gtid_text(&cw.txn_gtid, cw.gtid, sizeof(cw.gtid));
	if (cw.txn_skip)
		cw.skipped++;
	cw.txn_has_gtid = cw.txn_skip = false;
	if (event_timestamp)
		cw.source_time = time_t_to_timestamptz((pg_time_t) event_timestamp);
	forget_maps();
	if (!cw.in_group)
	{
		cw.pos_unsaved = true;
		return;
	}
	cw.group_txns++;
	if (cw.group_rows >= CDC_GROUP_ROWS ||
		TimestampDifferenceExceeds(cw.group_start, GetCurrentTimestamp(), CDC_GROUP_MS) ||
		!more_queued())
		cdc_group_commit();
}

/* save_position stores the position of an idle stream (no group open) */
static void
save_position(void)
{
	cdc_group_begin();
	cdc_group_commit();
}

/* skip the next identifier of sql at *p: `quoted` or bare, possibly db.table */
static const char *
identifier(const char *p, char *db, char *name, size_t len)
{
	char		part[2][256];
	int			n = 0;

	db[0] = name[0] = '\0';
	while (n < 2)
	{
		size_t		k = 0;

		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (*p == '`')
		{
			p++;
			while (*p && k < sizeof(part[0]) - 1)
			{
				if (*p == '`' && p[1] == '`')
					p++;
				else if (*p == '`')
					break;
				part[n][k++] = *p++;
			}
			if (*p == '`')
				p++;
		}
		else
			while (*p && (isalnum((unsigned char) *p) || *p == '_' || *p == '$' || (unsigned char) *p >= 0x80) &&
				   k < sizeof(part[0]) - 1)
				part[n][k++] = *p++;
		part[n][k] = '\0';
		n++;
		if (*p != '.')
			break;
		p++;
	}
	if (n == 2)
	{
		strlcpy(db, part[0], len);
		strlcpy(name, part[1], len);
	}
	else
		strlcpy(name, part[0], len);
	return p;
}

static bool
keyword(const char **p, const char *kw)
{
	size_t		n = strlen(kw);

	while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')
		(*p)++;
	if (pg_strncasecmp(*p, kw, n) == 0 && !isalnum((unsigned char) (*p)[n]) && (*p)[n] != '_')
	{
		*p += n;
		return true;
	}
	return false;
}

/* mentions: does statement sql name table t (as `t`, t, db.t)? */
static bool
mentions(const char *sql, const char *default_db, CdcTable *t)
{
	size_t		n = strlen(t->source_table);

	for (const char *p = sql; (p = strstr(p, t->source_table)) != NULL; p += n)
	{
		char		before = p > sql ? p[-1] : ' ';
		char		after = p[n];

		if ((isalnum((unsigned char) before) || before == '_') || (isalnum((unsigned char) after) || after == '_'))
			continue;
		/* qualified by another database? */
		if (before == '.' || (before == '`' && p - sql >= 2 && p[-2] == '.'))
		{
			const char *q = before == '.' ? p - 1 : p - 2;
			size_t		dn = strlen(t->source_db);

			if (q >= sql + dn && strncmp(q - dn, t->source_db, dn) == 0)
				return true;
			if (q >= sql + dn + 1 && q[-1] == '`' && strncmp(q - 1 - dn, t->source_db, dn) == 0)
				return true;
			continue;
		}
		if (default_db && strcmp(default_db, t->source_db) == 0)
			return true;
	}
	return false;
}

/*
 * ddl handles a statement of the binary log (not BEGIN/COMMIT) at "at":
 * TRUNCATE of a tracked table is applied (in a transaction of its own,
 * with the position); DROP or RENAME of one pauses it; ALTER is judged
 * by the next TABLE_MAP.
 */
static void
ddl(const char *db, const char *sql, const bs_pos *at)
{
	const char *p = sql;

	/* a leading comment, as tools write them */
	while (*p == ' ' || *p == '\n' || *p == '\t' || (p[0] == '/' && p[1] == '*'))
	{
		if (*p == '/')
		{
			const char *end = strstr(p + 2, "*/");

			if (end == NULL)
				break;
			p = end + 2;
		}
		else
			p++;
	}
	if (keyword(&p, "TRUNCATE"))
	{
		char		tdb[256],
					name[256];
		CdcTable   *t;

		(void) keyword(&p, "TABLE");
		identifier(p, tdb, name, sizeof(name));
		t = cdc_tracked(tdb[0] ? tdb : db, name);
		if (t && t->state == 's' && cdc_after_snapshot(t, at))
		{
			if (cw.in_group)
				cdc_group_commit();
			cdc_truncate(t, at);
			ereport(LOG, (errmsg("ecsync cdc of server \"%s\": applied TRUNCATE of %s.%s", cw.server,
								 t->source_db, t->source_table)));
		}
		return;
	}
	if (keyword(&p, "DROP") || keyword(&p, "RENAME"))
	{
		for (int i = 0; i < cw.ntables; i++)
		{
			CdcTable   *t = &cw.tables[i];

			if (t->state != 's' || !cdc_after_snapshot(t, at) || !mentions(p, db, t))
				continue;
			if (!cw.in_group)
				cdc_group_begin();
			cdc_pause(t, "MySQL table %s.%s was dropped or renamed at binary log %s:%llu (%.200s): "
					  "its rows from now on are another table's; call ecsync_cdc_resnapshot('%s', '%s.%s') "
					  "once it exists again", t->source_db, t->source_table, at->file,
					  (unsigned long long) at->pos, sql, cw.server, t->target_schema, t->target_table);
		}
	}
}

static br_table *
map_of(uint64 table_id)
{
	for (int i = 0; i < nmaps; i++)
		if (maps[i].table_id == table_id)
			return &maps[i];
	return NULL;
}

/* one event of the binary log */
static void
handle_event(const bs_event *ev, const char *file)
{
	char		err[MS_ERRLEN];
	bs_pos		at;

	strlcpy(at.file, file, BS_FILE_MAX);
	at.pos = ev->next_pos;

	switch (ev->type)
	{
		case BR_EV_GTID:
			if (ev->len >= 13)
			{
				uint64		seq = 0;
				uint32		domain = 0;

				for (int i = 7; i >= 0; i--)
					seq = (seq << 8) | ev->body[i];
				for (int i = 11; i >= 8; i--)
					domain = (domain << 8) | ev->body[i];
				snprintf(cw.gtid, sizeof(cw.gtid), "%u-%u-" UINT64_FORMAT, domain, ev->server_id, seq);
			}
			in_txn = true;
			event_timestamp = ev->timestamp;
			break;

		case BR_EV_MYSQL_GTID:
		case BR_EV_MYSQL_ANONYMOUS_GTID:
		case BR_EV_MYSQL_GTID_TAGGED:
			/*
			 * MySQL's transaction start (anonymous without gtid_mode).  A
			 * transaction the GTID set holds was applied before (the
			 * stream resumed before it, on another server, say): skipped.
			 */
			cw.txn_has_gtid = cw.txn_skip = false;
			if (ev->type != BR_EV_MYSQL_ANONYMOUS_GTID)
			{
				int			rc = mg_parse_gtid_event(ev->type, ev->body, ev->len, &cw.txn_gtid,
													 err, sizeof(err));

				if (rc < 0)
					mysql_error_out("reading the binary log", err);
				cw.txn_has_gtid = rc > 0;
				cw.txn_skip = cw.txn_has_gtid && cw.executed != NULL &&
					mg_set_contains(cw.executed, &cw.txn_gtid);
			}
			in_txn = true;
			event_timestamp = ev->timestamp;
			break;

		case BR_EV_TABLE_MAP:
			{
				br_table	bt;
				CdcTable   *t;
				bool		cascade_only;

				if (cw.txn_skip)
					break;
				if (!br_parse_table_map(ev->body, ev->len, 6, &bt, err, sizeof(err)))
					mysql_error_out("reading the binary log", err);
				t = cdc_tracked(bt.db, bt.table);
				cascade_only = t == NULL || t->state != 's' || !cdc_after_snapshot(t, &at);
				/* a table not applied may still be a parent whose cascades are */
				if (cascade_only && !cdc_cascade_parent(bt.db, bt.table))
				{
					br_table_free(&bt);
					break;
				}
				/*
				 * MySQL maps a table again before each statement: the same
				 * id replaces its map.  More tracked tables in one
				 * transaction than there is room for must not lose rows.
				 */
				{
					br_table   *same = map_of(bt.table_id);

					if (same != NULL)
					{
						br_table_free(same);
						*same = maps[--nmaps];
					}
				}
				if (nmaps == MAX_MAPS)
				{
					br_table_free(&bt);
					ereport(ERROR,
							(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
							 errmsg("a MySQL transaction at %s:%u writes more than %d tables that change capture applies",
									file, ev->next_pos, MAX_MAPS)));
				}
				if (!cw.in_group)
					cdc_group_begin();
				if (!cascade_only && !cdc_table_map(t, &bt, &at) && !cdc_cascade_parent(bt.db, bt.table))
				{
					br_table_free(&bt);
					break;
				}
				maps[nmaps++] = bt;
				break;
			}

		case BR_EV_XID:
			end_transaction(&at);
			break;

		case BR_EV_QUERY:
			{
				/* thread(4) time(4) dblen(1) error(2) status_len(2) status db NUL statement */
				size_t		status_len,
							dblen,
							off;
				char	   *dbname,
						   *sql;

				if (ev->len < 13)
					break;
				dblen = ev->body[8];
				status_len = ev->body[11] | (ev->body[12] << 8);
				off = 13 + status_len + dblen + 1;
				if (off > ev->len)
					break;
				/*
				 * Outside any transaction: ending the source transaction
				 * may commit the open group, whose memory would go with it.
				 */
				{
					MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

					dbname = pnstrdup((const char *) ev->body + 13 + status_len, dblen);
					sql = pnstrdup((const char *) ev->body + off, ev->len - off);
					MemoryContextSwitchTo(old);
				}
				if (pg_strcasecmp(sql, "BEGIN") == 0)
				{
					event_timestamp = ev->timestamp;
					in_txn = true;
				}
				else if (pg_strcasecmp(sql, "COMMIT") == 0)
					end_transaction(&at);
				else
				{
					if (!cw.txn_skip)
						ddl(dbname, sql, &at);
					/* DDL is a transaction of its own */
					end_transaction(&at);
				}
				pfree(dbname);
				pfree(sql);
				break;
			}

		default:
			if (br_is_rows_event(ev->type) && !cw.txn_skip)
			{
				br_rows		r;
				br_table   *bt;
				CdcTable   *t;

				if (!br_parse_rows(ev->type, ev->body, ev->len, 6, &r, err, sizeof(err)))
					mysql_error_out("reading the binary log", err);
				if ((bt = map_of(r.table_id)) == NULL)
					break;		/* not a table we apply */
				t = cdc_tracked(bt->db, bt->table);
				if (!cw.in_group)
					cdc_group_begin();
				if (t == NULL || t->state != 's' || !t->mapped || t->table_id != r.table_id ||
					!cdc_after_snapshot(t, &at))
					cdc_cascade_rows(bt, &r, &at);	/* only its cascades, if any */
				else
					cdc_apply_rows(t, bt, &r, &at);
			}
			break;
	}
}

/*
 * report the rate and the server's position now and then; at once when
 * caught_up (nothing more came) and the lag last reported was not 0, so the
 * status never shows a lag that is gone
 */
static void
stats(bool caught_up)
{
	TimestampTz now = GetCurrentTimestamp();
	bs_pos		server;
	char		err[MS_ERRLEN];
	int64		lag = -1;
	long		secs;
	int			usecs;

	if (cw.stats_at != 0 && !TimestampDifferenceExceeds(cw.stats_at, now, CDC_STATS_MS) &&
		!(caught_up && cw.stats_lag != 0 && TimestampDifferenceExceeds(cw.stats_at, now, 250)))
		return;
	if (cw.stats_at != 0 && now > cw.stats_at)
	{
		TimestampDifference(cw.stats_at, now, &secs, &usecs);
		cw.rate = (double) (cw.rows_total - cw.stats_rows) / (secs + usecs / 1e6);
	}
	cw.stats_at = now;
	cw.stats_rows = cw.rows_total;
	memset(&server, 0, sizeof(server));
	if (cw.stats_conn == NULL)
		cw.stats_conn = ms_connect(&cw.params, err, sizeof(err));
	if (cw.stats_conn != NULL)
	{
		if (bs_master_position(cw.stats_conn, &server, err, sizeof(err)))
			lag = bs_bytes_between(cw.stats_conn, &cw.pos, &server);
		else
		{
			ms_close(cw.stats_conn);
			cw.stats_conn = NULL;
		}
	}
	cw.stats_lag = lag;
	cc_begin();
	cc_save_stats(&server, lag);
	cc_commit();
	{
		/* every few seconds for the worker's life: freed, not left to pile up */
		char	   *activity = psprintf("ecsync cdc of server %s at %s:%llu, %.0f rows/s", cw.server,
										cw.pos.file, (unsigned long long) cw.pos.pos, cw.rate);

		pgstat_report_activity(STATE_IDLE, activity);
		pfree(activity);
	}
}

/* the binary log the stream goes on from is gone */
static void
purged_error(const char *err)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("server \"%s\" no longer has the binary log the changes go on from (%s:%llu): %s",
					cw.server, cw.pos.file, (unsigned long long) cw.pos.pos, err),
			 errhint("The binary log was purged before change capture read it.  Call "
					 "SELECT ecsync_cdc_resnapshot('%s') to copy the tables anew and stream from there; "
					 "keep binary logs longer (expire_logs_days / binlog_expire_logs_seconds).",
					 cw.server)));
}

/* the GTID set applied, as text (palloc'd) */
static char *
gtid_set_text(void)
{
	char	   *t = cw.executed ? mg_set_text(cw.executed) : NULL;
	char	   *p;

	if (t == NULL)
		return pstrdup("?");
	p = pstrdup(t);
	free(t);
	return p;
}

/*
 * switched_to takes the first event of a dump by GTID set, the artificial
 * ROTATE to the file the server starts from: the position from now on is
 * in that server's files.  When the server is another, its tables'
 * snapshot positions (of the previous server) are forgotten, and a table
 * snapshotted ahead of the stream is copied anew (the worker restarts).
 */
static void
switched_to(const bs_event *ev, const char *file, const char *uuid)
{
	bs_pos		old = cw.pos,
				p;
	uint64		rp = 0;
	bool		restart;

	if (ev->len < 8)
		mysql_error_out("reading the binary log", "a malformed ROTATE event began the dump by GTID set");
	for (int i = 7; i >= 0; i--)
		rp = (rp << 8) | ev->body[i];
	strlcpy(p.file, file, BS_FILE_MAX);
	p.pos = rp;
	if (strcmp(uuid, cw.server_uuid) == 0)
	{
		/* the same server, whose file was gone */
		cw.pos = p;
		cc_begin();
		cc_set_start_position();
		cc_commit();
		return;
	}
	restart = cc_switched_server(&old, &p, uuid);
	for (int i = 0; i < cw.ntables; i++)
		restart |= cw.tables[i].state == 'n';	/* waiting for their snapshot */
	cw.pos = p;
	strlcpy(cw.server_uuid, uuid, sizeof(cw.server_uuid));
	ereport(LOG, (errmsg("ecsync cdc of server \"%s\" goes on from MySQL server %s at %s:%llu, after %s:%llu "
						 "of the previous one", cw.server, uuid, p.file, (unsigned long long) p.pos,
						 old.file, (unsigned long long) old.pos)));
	if (restart)
	{
		ereport(LOG, (errmsg("ecsync cdc of server \"%s\": restarting to copy tables anew", cw.server)));
		proc_exit(1);
	}
}

/*
 * gtid_resume decides, for a MySQL server with gtid_mode = ON, whether the
 * stream resumes by position or by the GTID set applied: by the set when
 * the server is another than the one the position belongs to (a fail-over
 * to a replica) or no longer has the position's file.  The set is found
 * from the binary log first when it is not known (a first start, or a
 * worker of 0.6).  A server that lacks transactions the set holds (a
 * replica behind, or of another topology) is refused: streaming from it
 * would leave rows here that it does not have.
 */
static bool
gtid_resume(ms_conn *conn, const bs_source *src)
{
	char		err[MS_ERRLEN];
	bool		switched,
				has_file,
				purged;

	if (src->mariadb || !src->gtid_mode)
		return false;
	switched = cw.server_uuid[0] != '\0' && strcmp(cw.server_uuid, src->server_uuid) != 0;
	if (cw.executed == NULL)
	{
		if (switched)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("server \"%s\" is another MySQL server (server_uuid %s, was %s), and the GTID set "
							"applied is not known to resume by", cw.server, src->server_uuid, cw.server_uuid),
					 errhint("Call SELECT ecsync_cdc_resnapshot('%s') to copy the tables anew from it.", cw.server)));
		if ((cw.executed = mg_set_new()) == NULL)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		if (!bs_gtid_set_at(connect_mysql(), cw.replica_id, &cw.pos, src->checksum, cw.executed,
							&purged, err, sizeof(err)))
		{
			mg_set_free(cw.executed);
			cw.executed = NULL;
			if (purged)
				purged_error(err);
			mysql_error_out(psprintf("could not read the GTID set at %s:%llu", cw.pos.file,
									 (unsigned long long) cw.pos.pos), err);
		}
		strlcpy(cw.server_uuid, src->server_uuid, sizeof(cw.server_uuid));
		cc_save_gtid_state();
		ereport(LOG, (errmsg("ecsync cdc of server \"%s\": the GTID set at %s:%llu is %s", cw.server,
							 cw.pos.file, (unsigned long long) cw.pos.pos, gtid_set_text())));
	}
	else if (cw.server_uuid[0] == '\0')
	{
		strlcpy(cw.server_uuid, src->server_uuid, sizeof(cw.server_uuid));
		cc_save_gtid_state();
	}
	if (!bs_has_file(conn, cw.pos.file, &has_file, err, sizeof(err)))
		mysql_error_out("could not list the binary logs", err);
	if (!switched && has_file)
		return false;
	/* what the set holds that the server does not: MySQL says */
	{
		ebuf		sql;
		char		row[1][256];
		int			rc;
		char	   *set = gtid_set_text();

		ebuf_init(&sql);
		if (!ebuf_puts(&sql, "SELECT GTID_SUBTRACT(") || !ms_quote_literal(conn, &sql, set))
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		if (!ebuf_puts(&sql, ", @@GLOBAL.gtid_executed)") || !ebuf_putc(&sql, '\0'))
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		rc = ms_query_row(conn, sql.data, 1, row, err, sizeof(err));
		ebuf_free(&sql);
		if (rc < 0)
			mysql_error_out("could not compare the GTID sets", err);
		if (rc == 1 && row[0][0] != '\0')
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("server \"%s\" (server_uuid %s) lacks transactions that change capture applied: %s%s",
							cw.server, src->server_uuid, row[0], strlen(row[0]) >= 255 ? "..." : ""),
					 errdetail("The stream goes on from the set of transactions applied (%s), because %s.",
							   set, switched ? "the server is another than before" :
							   "the server no longer has the binary log file of the position"),
					 errhint("A replica that is behind catches up: change capture retries until it has them.  "
							 "A server of another topology cannot be resumed from: "
							 "SELECT ecsync_cdc_resnapshot('%s') copies the tables anew.", cw.server)));
		pfree(set);
	}
	ereport(LOG,
			(errmsg("ecsync cdc of server \"%s\": %s; resuming by the GTID set applied, %s",
					cw.server, switched ? psprintf("the MySQL server is another (server_uuid %s, was %s)",
												   src->server_uuid, cw.server_uuid) :
					psprintf("the server no longer has %s", cw.pos.file), gtid_set_text())));
	return true;
}

/* stream reads and applies the binary log until told to stop */
static void
run_stream(void)
{
	char		err[MS_ERRLEN];
	ms_conn    *conn = connect_mysql();
	bs_source	src;
	bool		by_gtid;

	if (!bs_check_source(conn, cw.replica_id, &src, err, sizeof(err)))
	{
		ms_close(conn);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("server \"%s\" cannot be read by change capture: %s", cw.server, err)));
	}
	by_gtid = gtid_resume(conn, &src);
	cdc_open_tables(conn);
	cc_begin();
	cdc_cascades_load(conn, &src);
	cc_commit();
	if (!by_gtid)
		ereport(LOG,
				(errmsg("ecsync cdc of server \"%s\" (%s) reads its binary log from %s:%llu as server_id %u",
						cw.server, src.version, cw.pos.file, (unsigned long long) cw.pos.pos, cw.replica_id)));
	{
		bs_stream  *stream;

		if (by_gtid)
		{
			size_t		len;
			uint8	   *set = mg_set_encode(cw.executed, &len);

			if (set == NULL)
				ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
			stream = bs_open_gtid(conn, cw.replica_id, set, len, CDC_HEARTBEAT_MS, src.checksum,
								  err, sizeof(err));
			free(set);
		}
		else
			stream = bs_open(conn, cw.replica_id, &cw.pos, CDC_HEARTBEAT_MS, src.checksum,
							 err, sizeof(err));

		if (stream == NULL)
		{
			ms_close(conn);
			mysql_error_out("could not start reading the binary log", err);
		}
		if ((pipe_ = bp_start(stream, PIPE_BYTES, err, sizeof(err))) == NULL)
		{
			bs_close(stream);
			mysql_error_out("could not start reading the binary log", err);
		}
	}
	/*
	 * reading: what went wrong before is past (by the GTID set, once the
	 * server has said where it starts)
	 */
	if (!by_gtid)
	{
		cc_begin();
		cc_set_start_position();
		cc_commit();
	}
	for (;;)
	{
		bs_event	ev;
		bool		purged;
		const char *file;
		int			rc;

		CHECK_FOR_INTERRUPTS();
		/* the binary log is waited for on a condition variable, not the latch */
		if (!PostmasterIsAlive())
			proc_exit(1);
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			/* a changed registration: restart from the committed position */
			if (cw.in_group)
				cdc_group_commit();
			cc_begin();
			{
				bool		still = cc_load();

				cc_commit();
				if (!still)
					proc_exit(0);
			}
			proc_exit(1);
		}
		rc = bp_next(pipe_, &ev, &file, 100, &purged, err, sizeof(err));
		if (rc == 0)
		{
			/*
			 * nothing came: what is applied commits now (unless a source
			 * transaction is half read: a group holds whole ones only)
			 */
			if (cw.in_group && !in_txn)
				cdc_group_commit();
			if (cw.pos_unsaved && TimestampDifferenceExceeds(cw.pos_saved_at, GetCurrentTimestamp(), 1000))
				save_position();
			stats(!cw.pos_unsaved);
			continue;
		}
		if (rc < 0)
		{
			if (purged)
				purged_error(err);
			mysql_error_out("reading the binary log", err);
		}
		if (by_gtid && ev.type == BR_EV_ROTATE)
		{
			/* the dump by GTID set starts with the file the server chose */
			by_gtid = false;
			switched_to(&ev, file, src.server_uuid);
		}
		else if (ev.type == BR_EV_HEARTBEAT || ev.type == BR_EV_FORMAT_DESCRIPTION || ev.type == BR_EV_ROTATE)
		{
			if (cw.in_group && !more_queued())
				cdc_group_commit();
			/*
			 * Between transactions, a heartbeat (the server has sent all it
			 * has) or the rotation to a new file moves the resume point past
			 * events that carry no change: the lag is then 0.
			 */
			if (!cw.in_group && !in_txn && ev.next_pos != 0 &&
				(ev.type == BR_EV_HEARTBEAT || (ev.type == BR_EV_ROTATE && !(ev.flags & 0x20))))
			{
				bs_pos		p;

				if (ev.type == BR_EV_ROTATE && ev.len >= 8)
				{
					uint64		rp = 0;

					for (int i = 7; i >= 0; i--)
						rp = (rp << 8) | ev.body[i];
					strlcpy(p.file, file, BS_FILE_MAX);
					p.pos = rp;
				}
				else
				{
					size_t		l = Min(ev.len, (size_t) BS_FILE_MAX - 1);

					memcpy(p.file, ev.body, l);
					p.file[l] = '\0';
					p.pos = ev.next_pos;
				}
				if (p.file[0] && bs_pos_cmp(&p, &cw.pos) > 0)
				{
					cw.pos = p;
					cw.pos_unsaved = true;
				}
			}
		}
		else
			handle_event(&ev, file);
		if (!cw.in_group)
		{
			if (cw.pos_unsaved && TimestampDifferenceExceeds(cw.pos_saved_at, GetCurrentTimestamp(), 1000))
				save_position();
			stats(false);
		}
	}
}

/*
 * resolve_databases gives every table without a source database the
 * server's, or says what is missing: a table's database is never NULL
 */
static void
resolve_databases(void)
{
	for (int i = 0; i < cw.ntables; i++)
	{
		if (cw.tables[i].source_db != NULL)
			continue;
		if (cw.database == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("no MySQL database for table %s", cw.tables[i].source_table),
					 errhint("Set the server's \"database\" option or register the table with source_database.")));
		cw.tables[i].source_db = cw.database;
	}
}

static void
cdc_shutdown(int code, Datum arg)
{
	if (pipe_)
		bp_stop(pipe_);
	pipe_ = NULL;
	if (cw.stats_conn)
		ms_close(cw.stats_conn);
	cw.stats_conn = NULL;
}

/*
 * ecsync_cdc_main is the worker's entry point.  SIGTERM ends it (an open
 * group is rolled back: its position was not stored either); SIGHUP
 * makes it reread its registration, restarting when it changed.
 */
void
ecsync_cdc_main(Datum main_arg)
{
	MemoryContext work;

	memcpy(&cw.req, MyBgworkerEntry->bgw_extra, sizeof(CdcRequest));
	/* the apply runs the cascades through this hook: it is below them */
	cw.after_row = cdc_cascade_row;
	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(cw.req.dboid, cw.req.owner, 0);
	SetConfigOption("application_name", MyBgworkerEntry->bgw_name, PGC_USERSET, PGC_S_SESSION);
	on_proc_exit(cdc_shutdown, (Datum) 0);
	work = AllocSetContextCreate(TopMemoryContext, "ecsync cdc", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(work);

	PG_TRY();
	{
		bool		need_snapshot = false;
		ForeignServer *srv;

		cc_begin();
		ecsync_worker_client_encoding();
		if (!cc_load())
		{
			cc_commit();
			proc_exit(0);
		}
		srv = GetForeignServerByName(cw.server, false);
		ecsync_check_server_usage(srv, GetUserId());
		/* kept for the worker's life: copied out of this transaction */
		ecsync_mysql_params(srv, GetUserId(), &cw.params, TopMemoryContext);
		ecsync_mysql_policy(srv, &cw.policy, TopMemoryContext);
		cw.follow_schema = ecsync_cdc_follows_schema(srv);
		cw.database = unconstify(char *, cw.params.database);
		/* the binary log can be read while idle: no timeout shorter than the heartbeat */
		if (cw.params.read_timeout == 0 || cw.params.read_timeout < 10)
			cw.params.read_timeout = 30;
		cw.replica_id = ecsync_cdc_server_id(srv, cw.req.cdc_id);
		resolve_databases();
		for (int i = 0; i < cw.ntables; i++)
			need_snapshot |= cw.tables[i].state == 'n';
		cc_commit();

		/* the session applies as PostgreSQL's replication does */
		SetConfigOption("session_replication_role", "replica", PGC_SUSET, PGC_S_OVERRIDE);
		/*
		 * and commits as a subscription's apply worker does by default
		 * (its synchronous_commit = off): without waiting for the WAL to
		 * reach disk.  The binary log position commits in the same
		 * transaction, so a crash that loses the last commits loses their
		 * position with them, and the worker reads those changes again.
		 */
		SetConfigOption("synchronous_commit", "off", PGC_USERSET, PGC_S_OVERRIDE);
		if (cw.policy.datetime_zone)
			SetConfigOption("TimeZone", cw.policy.datetime_zone, PGC_USERSET, PGC_S_OVERRIDE);

		if (need_snapshot)
		{
			/* preconditions first: a snapshot the binary log cannot follow is wasted */
			ms_conn    *c = connect_mysql();
			bs_source	src;
			char		err[MS_ERRLEN];

			if (!bs_check_source(c, cw.replica_id, &src, err, sizeof(err)))
			{
				ms_close(c);
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("server \"%s\" cannot be read by change capture: %s", cw.server, err)));
			}
			ms_close(c);
			/*
			 * Not from another MySQL server than the stream's before the
			 * stream has moved to it (by the GTID set, see gtid_resume):
			 * the new tables' positions would be the new server's, the
			 * stream's the previous one's.  The worker restarts then.
			 */
			if (src.mariadb || !src.gtid_mode || cw.server_uuid[0] == '\0' ||
				strcmp(cw.server_uuid, src.server_uuid) == 0)
			{
				snapshot();
				cc_begin();
				(void) cc_load();
				/* a table registered during the snapshot is checked as well */
				resolve_databases();
				cc_commit();
			}
		}
		if (cw.pos.file[0] == '\0')
		{
			/* the first start: from the earliest snapshot */
			for (int i = 0; i < cw.ntables; i++)
				if (cw.tables[i].state == 's' &&
					(cw.pos.file[0] == '\0' || bs_pos_cmp(&cw.tables[i].from, &cw.pos) < 0))
					cw.pos = cw.tables[i].from;
			if (cw.pos.file[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_NO_DATA_FOUND),
						 errmsg("server \"%s\" has no change-capture table to stream", cw.server),
						 errhint("See ecsync.cdc_table_status.")));
			cc_begin();
			cc_set_start_position();
			cc_commit();
		}
		cw.pos_saved_at = GetCurrentTimestamp();
		run_stream();
	}
	PG_CATCH();
	{
		ErrorData  *e;
		int32		pause = cdc_applying ? cdc_applying->id : 0;
		char	   *msg;

		MemoryContextSwitchTo(work);
		e = CopyErrorData();
		if (e->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN || e->sqlerrcode == ERRCODE_QUERY_CANCELED)
			PG_RE_THROW();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		msg = e->hint ? psprintf("%s (%s)", e->message, e->hint) : e->message;
		if (pause && e->sqlerrcode != ERRCODE_FDW_ERROR && e->sqlerrcode != ERRCODE_OUT_OF_MEMORY)
			msg = psprintf("applying a change to %s.%s: %s", cdc_applying->target_schema,
						   cdc_applying->target_table, msg);
		else
			pause = 0;
		ereport(LOG, (errmsg("ecsync cdc of server \"%s\": %s", cw.server ? cw.server : "?", msg)));
		cc_record_error(msg, pause);
		/* a table paused: go on at once with the others; else wait before the restart */
		if (pause == 0)
			sleep_ms(ERROR_PAUSE_MS);
		proc_exit(1);
	}
	PG_END_TRY();
	proc_exit(0);
}
