/*-------------------------------------------------------------------------
 *
 * ecsync.h
 *	  Declarations shared by the ecsync extension's source files.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ECSYNC_H
#define ECSYNC_H

#include "foreign/foreign.h"
#include "utils/relcache.h"

#include "copy_text.h"
#include "mysql_source.h"
#include "type_policy.h"

#define ECSYNC_VERSION "0.7"

/* GUCs, defined in ecsync.c */
extern char *ecsync_database;
extern int	ecsync_launcher_naptime;
extern int	ecsync_batch_copy_format;
extern bool ecsync_batch_binary_protocol;
extern bool ecsync_batch_index_after_load;
extern bool ecsync_batch_carry_foreign_keys;

#define BATCH_COPY_AUTO 0		/* binary where every column allows it */
#define BATCH_COPY_TEXT 1

/* launcher.c */
extern void ecsync_register_launcher(void);

/* privileges.c: the catalog's owner, and switching to it for catalog writes */
typedef struct CatalogAccess
{
	Oid			user;
	int			sec;
	int			guc_nest;
} CatalogAccess;

extern Oid	ecsync_catalog_owner(void);
extern void ecsync_catalog_enter(CatalogAccess *saved);
extern void ecsync_catalog_leave(const CatalogAccess *saved);
extern void ecsync_check_server_usage(ForeignServer *server, Oid role);
extern void ecsync_refuse_rls(Oid relid, Oid role);

/* batch_catalog.c: a text[]'s non-NULL elements, as a List of C strings */
extern List *ecsync_text_array_to_list(Datum d);

/* ecsync.c: workers take text in UTF-8 (what MySQL and Kafka send) */
extern void ecsync_worker_client_encoding(void);
extern ErrorData *ecsync_try(void (*fn) (void *arg), void *arg);

/* options.c */
extern void ecsync_mysql_params(ForeignServer *server, Oid userid, ms_params *p,
								MemoryContext cxt);
extern void ecsync_mysql_policy(ForeignServer *server, tp_options *policy, MemoryContext cxt);
extern uint32 ecsync_cdc_server_id(ForeignServer *server, int32 cdc_id);
extern bool ecsync_cdc_follows_schema(ForeignServer *server);

/* copy_sink.c: one MySQL result being copied into a relation */
typedef struct CopySource
{
	ms_conn    *conn;			/* streaming the SELECT */
	int			ncols;
	const tp_conv *conv;		/* per column */
	const tp_wire *wire;
	const int  *bits;
	const char *const *colnames;
	bool		binary;			/* binary COPY (see copy_binary.h) */
	uint64		rows_read;		/* set by ecsync_copy_from_mysql */
} CopySource;

extern uint64 ecsync_copy_from_mysql(Relation rel, List *attnames,
									 CopySource *src, bool freeze);

/*
 * ecsync_stream_rows starts sql on src->conn for ecsync_copy_from_mysql:
 * in MySQL's binary protocol where binary COPY takes every column's
 * integers and dates as such (ecsync.batch_binary_protocol), in its text
 * protocol otherwise.  Errors are raised.
 */
extern void ecsync_stream_rows(CopySource *src, const char *sql);

/* table_map.c: what a registration says about its MySQL table ... */
typedef struct TableSpec
{
	const char *source_table;
	bool		incremental;
	List	   *key_columns;	/* of char *, NIL: MySQL's primary key */
	const char *cursor_column;	/* incremental only */
	List	   *columns;		/* of char *, NIL: every column */
	List	   *exclude_columns;	/* of char * */
	tp_options	policy;			/* the server's (ecsync_mysql_policy) */
} TableSpec;

/* ... and that table mapped to PostgreSQL: the synced columns, in order */
typedef struct MappedTable
{
	ms_table	mt;				/* every MySQL column */
	int			ncols;			/* the synced ones: */
	const tp_column **cols;
	const char **colnames;
	char	  **pgtypes;		/* the policy's type */
	tp_conv    *conv;
	tp_wire    *wire;
	int		   *bits;
	bool	   *nullable;
	List	   *keys;			/* of char * */
	int			cursor_idx;		/* into the synced columns, -1 if none */
} MappedTable;

extern void ecsync_map_table(const TableSpec *spec, ms_conn *conn, const char *db,
							 MappedTable *m);
extern void ecsync_fit_target(MappedTable *m, Oid relid);

/* mysql/mysql_foreign_keys.c: one MySQL foreign key between two tables of a database */
typedef struct MyForeignKey
{
	char	   *name;
	char	   *child;			/* MySQL table names */
	char	   *parent;
	List	   *child_cols;		/* of char *, in key order */
	List	   *parent_cols;
	char	   *update_rule;	/* CASCADE, SET NULL, SET DEFAULT, RESTRICT, NO ACTION */
	char	   *delete_rule;
} MyForeignKey;

/* the foreign keys of database db that table has or is referenced by (NULL: all of db's) */
extern List *ecsync_mysql_foreign_keys(ms_conn *conn, const char *db, const char *table);
/* does MySQL change rows of other tables for this rule? */
extern bool ecsync_fk_rule_acts(const char *rule);
/* its acting rules, "ON DELETE CASCADE, ON UPDATE SET NULL" */
extern char *ecsync_fk_rules_text(const MyForeignKey *fk);

/* batch_worker.c: what a caller asks a batch worker to do (bgw_extra) */
typedef struct BatchRequest
{
	Oid			dboid;
	Oid			userid;			/* the registrations' owner: the run's role */
	Oid			requested_by;	/* who called */
	int32		only_table;		/* ecsync.sync_tables.id, 0 for all */
	pid_t		caller_pid;
	bool		reconcile;		/* delete target rows whose key MySQL lacks */
	bool		per_table;		/* isolation 'table': a transaction per table */
	char		cdc_server[NAMEDATALEN];	/* "": a run; else the snapshot of this
											 * server's cdc tables (cdc_worker.c) */
} BatchRequest;

#define ECSYNC_BATCH_WORKER_TYPE "ecsync batch"

/* batch.c */
struct BackgroundWorkerHandle;
extern struct BackgroundWorkerHandle *ecsync_launch_batch_worker(const BatchRequest *req, pid_t *pid);

/* kafka_options.c */
typedef struct rd_kafka_conf_s rd_kafka_conf_t;
extern rd_kafka_conf_t *ecsync_kafka_conf(ForeignServer *server, Oid userid);

/* stream_worker.c: what the launcher asks a stream worker to do (bgw_extra) */
typedef struct StreamRequest
{
	Oid			dboid;
	Oid			owner;			/* the role the worker runs as */
	int32		stream_id;		/* ecsync.streams.id */
	int32		index;			/* 0 .. workers - 1 */
	int32		config_version; /* of ecsync.streams when started */
	pid_t		launcher_pid;
} StreamRequest;

#define ECSYNC_STREAM_WORKER_TYPE "ecsync stream"

/* cdc_worker.c: what the launcher asks a change-capture worker to do */
typedef struct CdcRequest
{
	Oid			dboid;
	Oid			owner;			/* the role the worker runs as */
	int32		cdc_id;			/* ecsync.cdc_servers.id */
	int32		config_version;
	pid_t		launcher_pid;
} CdcRequest;

#define ECSYNC_CDC_WORKER_TYPE "ecsync cdc"
#define ECSYNC_LAUNCHER_TYPE "ecsync launcher"

#endif							/* ECSYNC_H */
