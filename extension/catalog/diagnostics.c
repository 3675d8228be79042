/*-------------------------------------------------------------------------
 *
 * diagnostics.c
 *	  SQL functions that describe the running ecsync build.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "ecsync.h"
#include "library_info.h"

PG_FUNCTION_INFO_V1(ecsync_version);
PG_FUNCTION_INFO_V1(ecsync_library_versions);

/* ecsync_version returns the version of the loaded shared library */
Datum
ecsync_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(ECSYNC_VERSION));
}

/*
 * ecsync_library_versions returns one row per client library that ecsync is
 * running with, as loaded at run time (not as compiled against).
 */
Datum
ecsync_library_versions(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < ECSYNC_NUM_LIBRARIES; i++)
	{
		const char *name;
		const char *version;
		Datum		values[2];
		bool		nulls[2] = {false, false};

		ecsync_library_info(i, &name, &version);
		values[0] = CStringGetTextDatum(name);
		values[1] = CStringGetTextDatum(version);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
							 values, nulls);
	}
	return (Datum) 0;
}
