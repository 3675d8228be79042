/*
 * main.c
 *	  ecsync-ingest's command line: options, configuration, exit codes.
 *
 *	  Exit codes: 0 success, 1 runtime failure, 2 usage or configuration
 *	  error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "config.h"

#define INGEST_VERSION "0.1"
#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

static void
usage(FILE *out)
{
	fprintf(out,
			"ecsync-ingest " INGEST_VERSION " - durable CSV archive of the shop and its page views\n"
			"\n"
			"Usage: ecsync-ingest [options]\n"
			"\n"
			"Options:\n"
			"  -c, --config FILE     read key=value settings from FILE\n"
			"  -X key=value          set one setting (not secrets)\n"
			"      --dump-config     print the effective settings (secrets masked) and exit\n"
			"  -V, --version         print versions and exit\n"
			"  -h, --help            print this help and exit\n"
			"\n"
			"Settings (config file or -X):\n"
			"  topic                 Kafka topic of page views (default page_views)\n"
			"  archive.dir           directory of the CSV archive\n"
			"  mysql.host, mysql.port, mysql.socket, mysql.database,\n"
			"  mysql.user, mysql.password, mysql.ssl-mode, mysql.ssl-ca\n"
			"  kafka.<property>      any librdkafka property, e.g. kafka.bootstrap.servers\n"
			"\n"
			"Secrets are read from the config file (which must then be chmod 600)\n"
			"or the environment, never from the command line:\n"
			"  ECSYNC_MYSQL_USER, ECSYNC_MYSQL_PASSWORD,\n"
			"  ECSYNC_KAFKA_SASL_PASSWORD, ECSYNC_KAFKA_SSL_KEY_PASSWORD\n"
			"\n"
			"Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error\n");
}

static void
dump_config(const ingest_config *cfg)
{
	for (size_t i = 0; i < cfg->nentries; i++)
		printf("%s=%s\t# %s\n", cfg->entries[i].key,
			   config_is_secret(cfg->entries[i].key) ? "********" :
			   cfg->entries[i].value, cfg->entries[i].origin);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"dump-config", no_argument, NULL, 'D'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	ingest_config cfg;
	char		err[CONFIG_ERRLEN];
	const char *config_path = NULL;
	bool		want_dump = false;
	int			opt;
	int			rc = 0;

	config_init(&cfg);
	/* -X values are applied after the file, so collect them first */
	char	  **xargs = calloc(argc, sizeof(char *));
	int			nx = 0;

	if (xargs == NULL)
		return EXIT_RUNTIME;
	while ((opt = getopt_long(argc, argv, "c:X:Vh", longopts, NULL)) != -1)
	{
		switch (opt)
		{
			case 'c':
				config_path = optarg;
				break;
			case 'X':
				xargs[nx++] = optarg;
				break;
			case 'D':
				want_dump = true;
				break;
			case 'V':
				printf("ecsync-ingest %s (librdkafka %s, jansson %s)\n",
					   INGEST_VERSION, rd_kafka_version_str(),
					   jansson_version_str());
				free(xargs);
				return 0;
			case 'h':
				usage(stdout);
				free(xargs);
				return 0;
			default:
				usage(stderr);
				free(xargs);
				return EXIT_USAGE;
		}
	}
	if (optind < argc)
	{
		fprintf(stderr, "ecsync-ingest: unexpected argument \"%s\"\n",
				argv[optind]);
		rc = EXIT_USAGE;
		goto done;
	}

	if (config_path != NULL && !config_load_file(&cfg, config_path,
												 err, sizeof(err)))
	{
		fprintf(stderr, "ecsync-ingest: %s\n", err);
		rc = EXIT_USAGE;
		goto done;
	}
	for (int i = 0; i < nx; i++)
		if (!config_set_arg(&cfg, xargs[i], err, sizeof(err)))
		{
			fprintf(stderr, "ecsync-ingest: %s\n", err);
			rc = EXIT_USAGE;
			goto done;
		}
	if (!config_load_env(&cfg, err, sizeof(err)) ||
		!config_validate(&cfg, err, sizeof(err)))
	{
		fprintf(stderr, "ecsync-ingest: %s\n", err);
		rc = EXIT_USAGE;
		goto done;
	}

	if (want_dump)
		dump_config(&cfg);
	else
	{
		fprintf(stderr, "ecsync-ingest: configuration is valid; archiving "
				"is not implemented in this version\n");
		rc = EXIT_RUNTIME;
	}

done:
	free(xargs);
	config_free(&cfg);
	return rc;
}
