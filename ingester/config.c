/*
 * config.c
 *	  Loading and validating ecsync-ingest's configuration.
 */
#include "config.h"
#include "mysql_source.h"
#include "seterr.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <librdkafka/rdkafka.h>

/* keys ecsync-ingest itself understands; kafka.* goes to librdkafka */
static const char *const own_keys[] = {
	"topic", "archive.dir", "group", "start", "compression",
	"roll.bytes", "roll.seconds", "decode.threads", "max.message.bytes",
	"tables",
	"mysql.host", "mysql.port", "mysql.socket", "mysql.database",
	"mysql.user", "mysql.password", "mysql.ssl-mode", "mysql.ssl-ca", "mysql.server-public-key",
	"mysql.bigint-unsigned",
	NULL
};

/* environment variables and the keys they set */
static const char *const env_keys[][2] = {
	{"ECSYNC_MYSQL_PASSWORD", "mysql.password"},
	{"ECSYNC_MYSQL_USER", "mysql.user"},
	{"ECSYNC_KAFKA_SASL_PASSWORD", "kafka.sasl.password"},
	{"ECSYNC_KAFKA_SSL_KEY_PASSWORD", "kafka.ssl.key.password"},
	{NULL, NULL}
};

static char *
xstrdup(const char *s)
{
	char	   *d = strdup(s);

	if (d == NULL)
	{
		fprintf(stderr, "ecsync-ingest: out of memory\n");
		exit(1);
	}
	return d;
}

void
config_init(ingest_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
}

void
config_free(ingest_config *cfg)
{
	for (size_t i = 0; i < cfg->nentries; i++)
	{
		free(cfg->entries[i].key);
		free(cfg->entries[i].value);
		free(cfg->entries[i].origin);
	}
	free(cfg->entries);
	config_init(cfg);
}

/* config_put sets key to value, replacing an earlier value */
static void
config_put(ingest_config *cfg, const char *key, const char *value,
		   const char *origin)
{
	config_entry *e = NULL;

	for (size_t i = 0; i < cfg->nentries; i++)
		if (strcmp(cfg->entries[i].key, key) == 0)
		{
			e = &cfg->entries[i];
			free(e->value);
			free(e->origin);
			break;
		}
	if (e == NULL)
	{
		if (cfg->nentries == cfg->capacity)
		{
			size_t		cap = cfg->capacity ? cfg->capacity * 2 : 16;
			config_entry *n = realloc(cfg->entries, cap * sizeof(*n));

			if (n == NULL)
			{
				fprintf(stderr, "ecsync-ingest: out of memory\n");
				exit(1);
			}
			cfg->entries = n;
			cfg->capacity = cap;
		}
		e = &cfg->entries[cfg->nentries++];
		e->key = xstrdup(key);
	}
	e->value = xstrdup(value);
	e->origin = xstrdup(origin);
}

const char *
config_get(const ingest_config *cfg, const char *key)
{
	for (size_t i = 0; i < cfg->nentries; i++)
		if (strcmp(cfg->entries[i].key, key) == 0)
			return cfg->entries[i].value;
	return NULL;
}

bool
config_is_secret(const char *key)
{
	return strstr(key, "password") != NULL ||
		strstr(key, "secret") != NULL ||
		strstr(key, "ssl.key.pem") != NULL ||
		strstr(key, "sasl.oauthbearer.config") != NULL;
}

/* trim removes leading and trailing white space in place */
static char *
trim(char *s)
{
	char	   *end;

	while (isspace((unsigned char) *s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char) end[-1]))
		*--end = '\0';
	return s;
}

/* split_pair splits "key=value" at the first '=' */
static bool
split_pair(char *line, char **key, char **value)
{
	char	   *eq = strchr(line, '=');

	if (eq == NULL)
		return false;
	*eq = '\0';
	*key = trim(line);
	*value = trim(eq + 1);
	return **key != '\0';
}

bool
config_load_file(ingest_config *cfg, const char *path,
				 char *errbuf, size_t errlen)
{
	FILE	   *f = fopen(path, "r");
	char	   *line = NULL;
	size_t		cap = 0;
	int			lineno = 0;
	bool		has_secret = false;
	bool		ok = true;
	struct stat st;

	if (f == NULL)
	{
		seterr(errbuf, errlen, "could not open config file \"%s\": %s",
			   path, strerror(errno));
		return false;
	}
	while (getline(&line, &cap, f) != -1)
	{
		char	   *s = trim(line);
		char	   *key,
				   *value;
		char		origin[64];

		lineno++;
		if (*s == '\0' || *s == '#')
			continue;
		if (!split_pair(s, &key, &value))
		{
			seterr(errbuf, errlen, "%s:%d: expected key=value", path, lineno);
			ok = false;
			break;
		}
		snprintf(origin, sizeof(origin), "line %d", lineno);
		config_put(cfg, key, value, origin);
		has_secret |= config_is_secret(key);
	}
	if (ok && ferror(f))
	{
		seterr(errbuf, errlen, "could not read config file \"%s\": %s",
			   path, strerror(errno));
		ok = false;
	}
	/* like ssh and libpq's .pgpass: a secret must be private */
	if (ok && has_secret && fstat(fileno(f), &st) == 0 &&
		(st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
	{
		seterr(errbuf, errlen,
			   "config file \"%s\" holds a password but is readable by "
			   "group or others; run: chmod 600 %s", path, path);
		ok = false;
	}
	free(line);
	fclose(f);
	return ok;
}

bool
config_set_arg(ingest_config *cfg, const char *arg,
			   char *errbuf, size_t errlen)
{
	char	   *copy = xstrdup(arg);
	char	   *key,
			   *value;
	bool		ok = true;

	if (!split_pair(copy, &key, &value))
	{
		seterr(errbuf, errlen, "-X expects key=value, got \"%s\"", arg);
		ok = false;
	}
	else if (config_is_secret(key))
	{
		/* never echo the value: it is a secret */
		seterr(errbuf, errlen,
			   "\"%s\" is a secret and is not accepted on the command line; "
			   "put it in the config file or the environment", key);
		ok = false;
	}
	else
		config_put(cfg, key, value, "-X");
	free(copy);
	return ok;
}

bool
config_load_env(ingest_config *cfg, char *errbuf, size_t errlen)
{
	(void) errbuf;
	(void) errlen;
	for (int i = 0; env_keys[i][0] != NULL; i++)
	{
		const char *v = getenv(env_keys[i][0]);
		char		origin[64];

		if (v == NULL)
			continue;
		snprintf(origin, sizeof(origin), "env %s", env_keys[i][0]);
		config_put(cfg, env_keys[i][1], v, origin);
	}
	return true;
}

bool
config_validate(const ingest_config *cfg, char *errbuf, size_t errlen)
{
	rd_kafka_conf_t *kconf = rd_kafka_conf_new();
	bool		ok = true;

	for (size_t i = 0; ok && i < cfg->nentries; i++)
	{
		const config_entry *e = &cfg->entries[i];

		if (strncmp(e->key, "kafka.", 6) == 0)
		{
			char		kerr[256];

			if (rd_kafka_conf_set(kconf, e->key + 6, e->value,
								  kerr, sizeof(kerr)) != RD_KAFKA_CONF_OK)
			{
				seterr(errbuf, errlen, "%s (%s): %s", e->key, e->origin, kerr);
				ok = false;
			}
		}
		else if (strcmp(e->key, "mysql.bigint-unsigned") == 0 &&
				 strcmp(e->value, "numeric") != 0 && strcmp(e->value, "bigint") != 0)
		{
			seterr(errbuf, errlen, "mysql.bigint-unsigned (%s): invalid value \"%s\"; valid values are "
				   "numeric, bigint", e->origin, e->value);
			ok = false;
		}
		else if (strcmp(e->key, "mysql.ssl-mode") == 0 && !ms_valid_ssl_mode(e->value))
		{
			/* MySQL's own VERIFY_IDENTITY must not quietly mean "no checks" */
			seterr(errbuf, errlen, "mysql.ssl-mode (%s): invalid value \"%s\"; valid values are "
				   MS_SSL_MODES, e->origin, e->value);
			ok = false;
		}
		else
		{
			bool		known = false;

			for (int k = 0; own_keys[k] != NULL; k++)
				known |= strcmp(own_keys[k], e->key) == 0;
			if (!known)
			{
				char		list[512] = "";

				for (int k = 0; own_keys[k] != NULL; k++)
				{
					strncat(list, own_keys[k], sizeof(list) - strlen(list) - 1);
					strncat(list, ", ", sizeof(list) - strlen(list) - 1);
				}
				seterr(errbuf, errlen,
					   "unknown key \"%s\" (%s); valid keys are %skafka.<librdkafka property>",
					   e->key, e->origin, list);
				ok = false;
			}
		}
	}
	rd_kafka_conf_destroy(kconf);
	return ok;
}
