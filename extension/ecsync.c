/*-------------------------------------------------------------------------
 *
 * ecsync.c
 *	  Module initialisation: refuses to load outside
 *	  shared_preload_libraries, defines the GUCs and registers the launcher
 *	  background worker.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "mb/pg_wchar.h"
#include "utils/guc.h"
#include "utils/resowner.h"

#include "ecsync.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

char	   *ecsync_database = NULL;
int			ecsync_launcher_naptime = 10;
int			ecsync_batch_copy_format = BATCH_COPY_AUTO;
bool		ecsync_batch_index_after_load = true;
bool		ecsync_batch_binary_protocol = true;
bool		ecsync_batch_carry_foreign_keys = true;

static const struct config_enum_entry batch_copy_formats[] = {
	{"auto", BATCH_COPY_AUTO, false},
	{"text", BATCH_COPY_TEXT, false},
	{NULL, 0, false}
};

/*
 * _PG_init defines the GUCs and registers the launcher.  The launcher and the
 * stream workers only exist when the postmaster loads ecsync, so loading it
 * any other way is an error that says how to fix it.
 */
void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("ecsync can only be loaded via shared_preload_libraries"),
				 errhint("Add ecsync to the shared_preload_libraries "
						 "configuration variable in postgresql.conf, "
						 "e.g. shared_preload_libraries = 'pg_cron,ecsync', "
						 "and restart PostgreSQL.")));

	DefineCustomStringVariable("ecsync.database",
							   "Database in which ecsync's background workers run.",
							   NULL,
							   &ecsync_database,
							   "postgres",
							   PGC_POSTMASTER,
							   GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("ecsync.launcher_naptime",
							"Seconds between the launcher's checks for work.",
							NULL,
							&ecsync_launcher_naptime,
							10, 1, 3600,
							PGC_SIGHUP,
							GUC_UNIT_S | GUC_SUPERUSER_ONLY,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("ecsync.batch_copy_format",
							 "How batch runs feed COPY: auto (binary where every column allows it) or text.",
							 NULL,
							 &ecsync_batch_copy_format,
							 BATCH_COPY_AUTO,
							 batch_copy_formats,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("ecsync.batch_binary_protocol",
							 "Whether batch runs read MySQL in its binary protocol (a prepared "
							 "statement: integers and dates not formatted as text) where binary "
							 "COPY takes every column.",
							 NULL,
							 &ecsync_batch_binary_protocol,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("ecsync.batch_index_after_load",
							 "Whether a full sync builds the target's indexes after loading it "
							 "(faster) rather than maintaining them row by row.",
							 NULL,
							 &ecsync_batch_index_after_load,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("ecsync.batch_carry_foreign_keys",
							 "Whether batch runs carry MySQL's foreign keys among registered tables "
							 "over to their targets (NOT VALID).",
							 NULL,
							 &ecsync_batch_carry_foreign_keys,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	MarkGUCPrefixReserved("ecsync");

	ecsync_register_launcher();
}

/*
 * ecsync_worker_client_encoding makes a worker's "client" encoding UTF-8,
 * the encoding MySQL (utf8mb4) and the page-view events are read in, so
 * that COPY, text and binary alike, converts their text into the
 * database's encoding (EUC_JP, say) or refuses a character it cannot hold
 * with PostgreSQL's own message.  Call it inside a transaction.
 */
void
ecsync_worker_client_encoding(void)
{
	if (GetDatabaseEncoding() != PG_UTF8)
		SetConfigOption("client_encoding", "UTF8", PGC_USERSET, PGC_S_SESSION);
}

/*
 * ecsync_try runs fn(arg) in a subtransaction of its own: NULL when it
 * succeeded (the subtransaction is kept), else its error, copied into the
 * caller's memory context, with the subtransaction rolled back.
 */
ErrorData *
ecsync_try(void (*fn) (void *arg), void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *volatile e = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		e = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_END_TRY();
	return e;
}
