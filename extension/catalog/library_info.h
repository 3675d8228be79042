/*-------------------------------------------------------------------------
 *
 * library_info.h
 *	  Versions of the client libraries ecsync runs with.
 *
 *	  MariaDB's mysql.h clashes with PostgreSQL's list API (list_delete,
 *	  list_free, list_length) and jansson.h's json_object with the SQL
 *	  function of that name in fmgrprotos.h, so files that include those
 *	  headers include no PostgreSQL header, and the reverse.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LIBRARY_INFO_H
#define LIBRARY_INFO_H

#define ECSYNC_NUM_LIBRARIES 3

/*
 * ecsync_library_info returns the name and run-time version of client
 * library i (0 <= i < ECSYNC_NUM_LIBRARIES) in *name and *version.
 */
extern void ecsync_library_info(int i, const char **name, const char **version);

#endif							/* LIBRARY_INFO_H */
