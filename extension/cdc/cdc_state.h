/*-------------------------------------------------------------------------
 *
 * cdc_state.h
 *	  The change-capture worker's state: the one CdcWorker of the process
 *	  (one worker per MySQL server, kept by the launcher) and its tables.
 *	  Its parts, each using only those below it:
 *
 *	  cdc_worker.c   the entry point: preconditions, the snapshot of new
 *	                 tables (a batch run, see batch_worker.c), then the
 *	                 binary log, event by event, with schema changes
 *	  cdc_cascade.c  the foreign-key cascades MySQL ran but did not log
 *	                 (applied through cdc_apply.c)
 *	  cdc_apply.c    applying row images to the targets, in groups of
 *	                 whole source transactions
 *	  cdc_catalog.c  every statement on ecsync's catalog
 *	  cdc_state.c    the state itself, and lookups in it
 *
 *	  Exactly once: the binary log position after the last applied source
 *	  transaction lives in ecsync.cdc_servers and is written in the
 *	  PostgreSQL transaction that applies the rows (a group of whole source
 *	  transactions, never part of one).  A restart resumes from it: nothing
 *	  is lost, nothing applied twice.  A table's snapshot records the
 *	  position it was taken at; its changes apply from there.
 *
 *	  On MySQL with gtid_mode = ON the GTID set applied is kept beside the
 *	  position, in the same transaction.  A transaction the set holds is
 *	  skipped; a worker whose server changed (a fail-over: another
 *	  server_uuid) or lost the position's file resumes by the set, as a
 *	  MySQL replica with SOURCE_AUTO_POSITION does.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ECSYNC_CDC_STATE_H
#define ECSYNC_CDC_STATE_H

#include "access/skey.h"
#include "executor/executor.h"
#include "utils/snapshot.h"
#include "utils/timestamp.h"

#include "binlog_rows.h"
#include "binlog_source.h"
#include "ecsync.h"

/* a cdc table, as the worker keeps it */
typedef struct CdcTable
{
	int32		id;				/* ecsync.sync_tables.id */
	char	   *target_schema;
	char	   *target_table;
	char	   *source_db;		/* resolved: never NULL */
	char	   *source_table;
	List	   *key_columns;
	List	   *columns;
	List	   *exclude_columns;
	char		state;			/* 's' streaming, 'p' paused, 'n' needs a snapshot */
	bs_pos		from;			/* the snapshot's position: changes after it apply */

	/* mapped at start (table_map.c), by MySQL's information_schema */
	MappedTable m;
	int		   *src;			/* per synced column: its index among MySQL's */
	Oid			relid;
	Oid			keyidx;			/* the target's primary key (or unique key on the keys) */
	AttrNumber *attnum;			/* per synced column: the target's */
	FmgrInfo   *infunc;
	Oid		   *ioparam;
	int32	   *typmod;
	bool	   *fast_ts;		/* per synced column: timestamptz read directly */
	bool	   *is_key;			/* per synced column: one of the key's */

	/* the binary log's current TABLE_MAP of it */
	uint64		table_id;
	bool		mapped;			/* table_id is valid and its columns match */

	/* this group */
	Relation	rel;
	ResultRelInfo *rri;
	TupleTableSlot *slot;		/* the new row */
	TupleTableSlot *search;		/* the old row's key, to find it */
	TupleTableSlot *found;		/* the row found */
	Relation	keyrel;			/* the key index, and a scan of it kept for */
	struct IndexScanDescData *keyscan;	/* the group (opened at the first lookup) */
	SnapshotData keysnap;		/* its dirty snapshot */
	ScanKeyData keys[INDEX_MAX_KEYS];	/* its keys; each lookup sets the values */
	AttrNumber keyatt[INDEX_MAX_KEYS];	/* per key: the target's column */
	int			nkeys;
	bool		multi;			/* inserts may be buffered: no insert triggers,
								 * no generated columns */
	TupleTableSlot **ibuf;		/* buffered inserts, written together */
	int			nbuf;
	int64		ins,
				upd,
				del;
	bool		changed;
	char	   *pause;			/* pause it at commit, with this error */
	bool		resnapshot;		/* ... or copy it anew: a schema change followed */
} CdcTable;

typedef struct CdcWorker
{
	CdcRequest	req;
	char	   *server;			/* the foreign server's name */
	char	   *database;		/* its "database" option */
	uint32		replica_id;		/* the server_id we read the binary log as */
	tp_options	policy;
	bool		follow_schema;	/* cdc_schema_changes follow: added or retyped
								 * columns copy their table anew */
	bool		restart;		/* after this group: a table is to be copied anew */
	ms_params	params;

	CdcTable   *tables;
	int			ntables;

	bs_pos		pos;			/* after the last complete source transaction */
	char		gtid[MG_GTID_TEXT_MAX];	/* that transaction's GTID */

	/*
	 * MySQL with gtid_mode = ON: the GTID set applied (malloc'd, NULL
	 * until known), the server pos belongs to, and the transaction being
	 * read: its GTID, and whether the set already holds it (it is skipped)
	 */
	mg_set	   *executed;
	bool		executed_dirty; /* changed since last stored */
	char		server_uuid[40];
	mg_gtid		txn_gtid;
	bool		txn_has_gtid;
	bool		txn_skip;
	int64		skipped;		/* transactions skipped so, since the start */
	TimestampTz source_time;	/* when MySQL logged it */

	/* the group being applied: one PostgreSQL transaction */
	bool		in_group;
	TimestampTz group_start;
	EState	   *estate;
	int64		group_rows;
	int64		group_txns;
	bool		group_dirty;	/* changes since the last CommandCounterIncrement */

	/*
	 * called after each update or delete cdc_apply_rows applied, with the
	 * row's images: the worker sets it to cdc_cascade_row (cdc_cascade.c,
	 * a part above the apply), NULL applies no cascades
	 */
	void		(*after_row) (const br_table *bt, const br_image *before,
							  const br_image *after, const bs_pos *at);

	/* totals, for the rate */
	int64		rows_total;
	int64		txns_total;
	TimestampTz stats_at;
	int64		stats_rows;
	int64		stats_lag;		/* the lag last reported, -1 unknown */
	double		rate;
	ms_conn    *stats_conn;		/* a second connection, for the server's position */
	TimestampTz pos_saved_at;	/* an idle stream saves its position now and then */
	bool		pos_unsaved;
} CdcWorker;

extern CdcWorker cw;

/* how big and how old a group may grow before it commits */
#define CDC_GROUP_ROWS 100000
#define CDC_MULTI_INSERT 1000	/* inserts of a table written together */
#define CDC_GROUP_MS 100
#define CDC_STATS_MS 2000
#define CDC_HEARTBEAT_MS 500

/* cdc_state.c */
/* the worker's table of MySQL table db.table (any state), or NULL */
extern CdcTable *cdc_tracked(const char *db, const char *table);
/* is the event at "at" after table t's snapshot? */
extern bool cdc_after_snapshot(CdcTable *t, const bs_pos *at);

#endif							/* ECSYNC_CDC_STATE_H */
