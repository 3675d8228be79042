/*
 * config.h
 *	  ecsync-ingest's configuration: a key=value file, -X overrides and the
 *	  environment.  Secrets come only from the file or the environment.
 */
#ifndef INGEST_CONFIG_H
#define INGEST_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define CONFIG_ERRLEN 512

typedef struct config_entry
{
	char	   *key;			/* full key, e.g. "kafka.bootstrap.servers" */
	char	   *value;
	char	   *origin;			/* "file:line", "-X" or "env VAR" */
} config_entry;

typedef struct ingest_config
{
	config_entry *entries;
	size_t		nentries;
	size_t		capacity;
} ingest_config;

/* config_init makes an empty configuration */
extern void config_init(ingest_config *cfg);
extern void config_free(ingest_config *cfg);

/*
 * config_load_file reads "key = value" lines ('#' starts a comment line).
 * A file holding a secret must not be readable by group or others.
 * Returns false with a message in errbuf.
 */
extern bool config_load_file(ingest_config *cfg, const char *path,
							 char *errbuf, size_t errlen);

/* config_set_arg applies one -X key=value; secrets are refused here */
extern bool config_set_arg(ingest_config *cfg, const char *arg,
						   char *errbuf, size_t errlen);

/* config_load_env applies ECSYNC_* variables (see usage) */
extern bool config_load_env(ingest_config *cfg, char *errbuf, size_t errlen);

/* config_get returns the value of key, or NULL */
extern const char *config_get(const ingest_config *cfg, const char *key);

/* config_is_secret says whether key names a password or other secret */
extern bool config_is_secret(const char *key);

/*
 * config_validate checks every key: kafka.* keys by librdkafka itself,
 * the others against ecsync-ingest's own list.
 */
extern bool config_validate(const ingest_config *cfg,
							char *errbuf, size_t errlen);

#endif							/* INGEST_CONFIG_H */
