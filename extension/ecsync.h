/*-------------------------------------------------------------------------
 *
 * ecsync.h
 *	  Declarations shared by the ecsync extension's source files.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ECSYNC_H
#define ECSYNC_H

#define ECSYNC_VERSION "0.1"

/* GUCs, defined in ecsync.c */
extern char *ecsync_database;
extern int	ecsync_launcher_naptime;

/* launcher.c */
extern void ecsync_register_launcher(void);

#endif							/* ECSYNC_H */
