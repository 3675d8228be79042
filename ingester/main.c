/*
 * main.c
 *	  ecsync-ingest's command line: modes, options, configuration, signals
 *	  and exit codes (ingest.h).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "archive_file.h"
#include "config.h"
#include "csv_to_copy.h"
#include "ingest.h"
#include "mysql_source.h"

#define INGEST_VERSION "0.5"

static void
usage(FILE *out)
{
	fprintf(out,
			"ecsync-ingest " INGEST_VERSION " - durable CSV archive of the shop and its page views\n"
			"\n"
			"Usage: ecsync-ingest MODE [options]\n"
			"\n"
			"Modes:\n"
			"  -C, --stream          archive page views from Kafka (until stopped, or --once)\n"
			"  -T, --snapshot        archive the shop tables from one consistent MySQL snapshot\n"
			"      --verify          check every archived file against its manifest\n"
			"      --load-script     print a psql script that loads archived data into PostgreSQL\n"
			"      --dump-config     print the effective settings (secrets masked)\n"
			"      --copy-text FILE  print an archived CSV file as COPY text (the load script's reader)\n"
			"\n"
			"Options:\n"
			"  -c, --config FILE     read key=value settings from FILE\n"
			"  -X key=value          set one setting (not secrets)\n"
			"  -d, --dir DIR         archive directory (archive.dir)\n"
			"  -b, --brokers LIST    Kafka bootstrap servers (kafka.bootstrap.servers)\n"
			"  -t, --topic TOPIC     page-view topic (topic, default page_views)\n"
			"  -G, --group GROUP     consumer group (group, default ecsync-ingest)\n"
			"  -e, --once            stream: archive what the topic holds now, then exit\n"
			"  -z, --gzip            compress files with gzip (compression=gzip)\n"
			"  -q, --quiet           no progress lines\n"
			"      --table NAME      load-script: the topic (or <topic>_dead_letters), or one\n"
			"                        table of a snapshot\n"
			"      --from WHEN       load-script: first hour, YYYY-MM-DD[THH] (UTC)\n"
			"      --to WHEN         load-script: last hour, YYYY-MM-DD[THH] (UTC)\n"
			"      --snapshot-id ID  load-script: a snapshot (or \"latest\") instead of a topic\n"
			"      --schema NAME     load-script: target schema (default archive)\n"
			"  -V, --version         print versions and exit\n"
			"  -h, --help            print this help and exit\n"
			"\n"
			"Settings (config file or -X):\n"
			"  archive.dir           directory of the CSV archive (created if missing)\n"
			"  topic, group          Kafka topic and consumer group\n"
			"  start                 earliest (default) or latest: where a new archive starts\n"
			"  roll.bytes            roll a stream file at this much CSV (default 64M)\n"
			"  roll.seconds          roll a stream file at this age (default 300)\n"
			"  decode.threads        JSON decoding threads (default 2)\n"
			"  max.message.bytes     larger events are dead letters (default 1048576)\n"
			"  compression           none (default) or gzip\n"
			"  tables                snapshot tables (default users,products,sales,sales_details)\n"
			"  mysql.host, mysql.port, mysql.socket, mysql.database,\n"
			"  mysql.user, mysql.password, mysql.ssl-mode, mysql.ssl-ca,\n"
			"  mysql.server-public-key  the MySQL server's RSA key (PEM), pinned\n"
			"  kafka.<property>      any librdkafka property, e.g. kafka.bootstrap.servers\n"
			"\n"
			"Secrets are read from the config file (which must then be chmod 600)\n"
			"or the environment, never from the command line:\n"
			"  ECSYNC_MYSQL_USER, ECSYNC_MYSQL_PASSWORD,\n"
			"  ECSYNC_KAFKA_SASL_PASSWORD, ECSYNC_KAFKA_SSL_KEY_PASSWORD\n"
			"\n"
			"Exit codes: 0 success (also when stopped by SIGINT or SIGTERM: what was read\n"
			"is committed), 1 runtime failure (Kafka, MySQL, the disk; what is committed\n"
			"stays committed), 2 usage or configuration error, 3 --verify found damage\n");
}

static void
dump_config(const ingest_config *cfg)
{
	for (size_t i = 0; i < cfg->nentries; i++)
		printf("%s=%s\t# %s\n", cfg->entries[i].key,
			   config_is_secret(cfg->entries[i].key) ? "********" :
			   cfg->entries[i].value, cfg->entries[i].origin);
}

static int	wake_pipe[2] = {-1, -1};

static void
on_signal(int sig)
{
	int			saved = errno;

	(void) sig;
	ingest_stop = 1;
	if (wake_pipe[1] >= 0)
		(void) write(wake_pipe[1], "s", 1);
	errno = saved;
}

enum mode
{
	MODE_NONE, MODE_STREAM, MODE_SNAPSHOT, MODE_VERIFY, MODE_LOAD, MODE_DUMP
};

int
main(int argc, char **argv)
{
	enum
	{
		OPT_VERIFY = 1000, OPT_LOAD, OPT_DUMP, OPT_TABLE, OPT_FROM, OPT_TO,
		OPT_SNAPSHOT_ID, OPT_SCHEMA, OPT_COPY_TEXT
	};
	static const struct option longopts[] = {
		{"stream", no_argument, NULL, 'C'},
		{"snapshot", no_argument, NULL, 'T'},
		{"verify", no_argument, NULL, OPT_VERIFY},
		{"load-script", no_argument, NULL, OPT_LOAD},
		{"dump-config", no_argument, NULL, OPT_DUMP},
		{"config", required_argument, NULL, 'c'},
		{"dir", required_argument, NULL, 'd'},
		{"brokers", required_argument, NULL, 'b'},
		{"topic", required_argument, NULL, 't'},
		{"group", required_argument, NULL, 'G'},
		{"once", no_argument, NULL, 'e'},
		{"gzip", no_argument, NULL, 'z'},
		{"quiet", no_argument, NULL, 'q'},
		{"table", required_argument, NULL, OPT_TABLE},
		{"from", required_argument, NULL, OPT_FROM},
		{"to", required_argument, NULL, OPT_TO},
		{"snapshot-id", required_argument, NULL, OPT_SNAPSHOT_ID},
		{"schema", required_argument, NULL, OPT_SCHEMA},
		{"copy-text", required_argument, NULL, OPT_COPY_TEXT},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	ingest_config cfg;
	ingest_opts o;
	char		err[CONFIG_ERRLEN];
	const char *config_path = NULL;
	enum mode	mode = MODE_NONE;
	int			opt;
	int			rc = EXIT_OK;
	char	  **xargs = calloc(argc + 8, sizeof(char *));
	char		shortcut[8][600];
	int			nx = 0,
				ns = 0;
	char		dir[PATH_MAX];

	memset(&o, 0, sizeof(o));
	config_init(&cfg);
	if (xargs == NULL)
		return EXIT_RUNTIME;
	while ((opt = getopt_long(argc, argv, "CTc:X:d:b:t:G:ezqVh", longopts, NULL)) != -1)
	{
		const char *key = NULL;
		enum mode	m = MODE_NONE;

		switch (opt)
		{
			case 'C':
				m = MODE_STREAM;
				break;
			case 'T':
				m = MODE_SNAPSHOT;
				break;
			case OPT_VERIFY:
				m = MODE_VERIFY;
				break;
			case OPT_LOAD:
				m = MODE_LOAD;
				break;
			case OPT_DUMP:
				m = MODE_DUMP;
				break;
			case 'c':
				config_path = optarg;
				break;
			case 'X':
				xargs[nx++] = optarg;
				break;
			case 'd':
				key = "archive.dir";
				break;
			case 'b':
				key = "kafka.bootstrap.servers";
				break;
			case 't':
				key = "topic";
				break;
			case 'G':
				key = "group";
				break;
			case 'e':
				o.once = true;
				break;
			case 'z':
				key = "compression";
				optarg = "gzip";
				break;
			case 'q':
				o.quiet = true;
				break;
			case OPT_TABLE:
				o.table = optarg;
				break;
			case OPT_FROM:
				o.from = optarg;
				break;
			case OPT_TO:
				o.to = optarg;
				break;
			case OPT_SNAPSHOT_ID:
				o.snapshot = optarg;
				break;
			case OPT_SCHEMA:
				o.schema = optarg;
				break;
			case OPT_COPY_TEXT:
				/* what the load script runs: no settings needed */
				rc = csv_to_copy_text(optarg);
				goto done;
			case 'V':
				printf("ecsync-ingest %s (librdkafka %s, jansson %s, libmariadb %s)\n",
					   INGEST_VERSION, rd_kafka_version_str(), jansson_version_str(),
					   ms_client_version());
				free(xargs);
				return EXIT_OK;
			case 'h':
				usage(stdout);
				free(xargs);
				return EXIT_OK;
			default:
				usage(stderr);
				free(xargs);
				return EXIT_USAGE;
		}
		if (m != MODE_NONE)
		{
			if (mode != MODE_NONE && mode != m)
			{
				fprintf(stderr, "ecsync-ingest: choose one mode\n");
				free(xargs);
				return EXIT_USAGE;
			}
			mode = m;
		}
		/* the shortcuts are -X settings, applied in order after the file */
		if (key != NULL && ns < 8)
		{
			snprintf(shortcut[ns], sizeof(shortcut[ns]), "%s=%s", key, optarg);
			xargs[nx++] = shortcut[ns++];
		}
	}
	if (optind < argc)
	{
		fprintf(stderr, "ecsync-ingest: unexpected argument \"%s\"\n", argv[optind]);
		rc = EXIT_USAGE;
		goto done;
	}
	if (mode == MODE_NONE)
	{
		fprintf(stderr, "ecsync-ingest: no mode given: use --stream, --snapshot, --verify, "
				"--load-script or --dump-config (see --help)\n");
		rc = EXIT_USAGE;
		goto done;
	}

	if (config_path != NULL && !config_load_file(&cfg, config_path, err, sizeof(err)))
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
	if (!config_load_env(&cfg, err, sizeof(err)) || !config_validate(&cfg, err, sizeof(err)))
	{
		fprintf(stderr, "ecsync-ingest: %s\n", err);
		rc = EXIT_USAGE;
		goto done;
	}
	if (mode == MODE_DUMP)
	{
		dump_config(&cfg);
		goto done;
	}

	o.cfg = &cfg;
	{
		const char *compression = ingest_get(&o, "compression", "none");

		if (strcmp(compression, "gzip") != 0 && strcmp(compression, "none") != 0)
		{
			fprintf(stderr, "ecsync-ingest: compression must be none or gzip, not \"%s\"\n", compression);
			rc = EXIT_USAGE;
			goto done;
		}
		o.gzip = strcmp(compression, "gzip") == 0;
	}
	if (config_get(&cfg, "archive.dir") == NULL)
	{
		fprintf(stderr, "ecsync-ingest: no archive directory: set archive.dir or use --dir\n");
		rc = EXIT_USAGE;
		goto done;
	}
	if (mode == MODE_STREAM || mode == MODE_SNAPSHOT)
	{
		if (!af_mkdirs(config_get(&cfg, "archive.dir"), err, sizeof(err)))
		{
			fprintf(stderr, "ecsync-ingest: %s\n", err);
			rc = EXIT_RUNTIME;
			goto done;
		}
	}
	if (realpath(config_get(&cfg, "archive.dir"), dir) == NULL)
	{
		fprintf(stderr, "ecsync-ingest: archive directory \"%s\": %s\n",
				config_get(&cfg, "archive.dir"), strerror(errno));
		rc = EXIT_RUNTIME;
		goto done;
	}
	o.dir = dir;

	if (mode == MODE_STREAM || mode == MODE_SNAPSHOT)
	{
		struct sigaction sa;

		if (pipe(wake_pipe) != 0)
		{
			rc = EXIT_RUNTIME;
			goto done;
		}
		o.wake_fd = wake_pipe[0];
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		signal(SIGPIPE, SIG_IGN);
	}
	switch (mode)
	{
		case MODE_STREAM:
			rc = stream_archive_run(&o);
			break;
		case MODE_SNAPSHOT:
			rc = snapshot_archive_run(&o);
			break;
		case MODE_VERIFY:
			rc = archive_verify(&o);
			break;
		case MODE_LOAD:
			rc = archive_load_script(&o);
			break;
		default:
			break;
	}

done:
	free(xargs);
	config_free(&cfg);
	return rc;
}
