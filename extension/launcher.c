/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  The ecsync launcher: a background worker registered at preload that
 *	  watches ecsync.database for work and shows its state in
 *	  pg_stat_activity.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "ecsync.h"

PGDLLEXPORT void ecsync_launcher_main(Datum main_arg);

/*
 * ecsync_register_launcher registers the launcher with the postmaster.  It
 * restarts ten seconds after an abnormal exit.
 */
void
ecsync_register_launcher(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 10;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "ecsync");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "ecsync_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "ecsync launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "ecsync launcher");
	RegisterBackgroundWorker(&worker);
}

/*
 * ExtensionInstalled says whether CREATE EXTENSION ecsync has run in the
 * launcher's database.
 */
static bool
ExtensionInstalled(void)
{
	bool		installed;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	installed = OidIsValid(get_extension_oid("ecsync", true));
	PopActiveSnapshot();
	CommitTransactionCommand();
	return installed;
}

/*
 * ecsync_launcher_main is the launcher's entry point: connect, then sleep on
 * the latch, waking on SIGHUP, SIGTERM, postmaster death or the naptime.
 */
void
ecsync_launcher_main(Datum main_arg)
{
	MemoryContext loop_context;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(ecsync_database, NULL, 0);
	ereport(LOG,
			(errmsg("ecsync launcher started in database \"%s\"",
					ecsync_database)));

	loop_context = AllocSetContextCreate(TopMemoryContext,
										 "ecsync launcher loop",
										 ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		MemoryContext old_context;

		CHECK_FOR_INTERRUPTS();

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		old_context = MemoryContextSwitchTo(loop_context);
		if (ExtensionInstalled())
			pgstat_report_activity(STATE_IDLE, "waiting for streams");
		else
			pgstat_report_activity(STATE_IDLE,
								   "waiting for CREATE EXTENSION ecsync");
		MemoryContextSwitchTo(old_context);
		MemoryContextReset(loop_context);

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 ecsync_launcher_naptime * 1000L,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
