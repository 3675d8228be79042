/*
 * test_config.c
 *	  Unit tests of ecsync-ingest's configuration loader (ingester/config.c),
 *	  built with AddressSanitizer and UndefinedBehaviorSanitizer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "config.h"


static char *
write_file(const char *content, mode_t mode)
{
	static char path[64];
	int			fd;

	snprintf(path, sizeof(path), "/tmp/ecsync-cfg-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0 || write(fd, content, strlen(content)) != (ssize_t) strlen(content))
	{
		perror("write_file");
		exit(1);
	}
	fchmod(fd, mode);
	close(fd);
	return path;
}

static void
test_file_values_and_comments(void)
{
	ingest_config cfg;
	char		err[CONFIG_ERRLEN];
	char	   *p = write_file("# a comment\n\n  topic = page_views \n"
							   "kafka.bootstrap.servers=127.0.0.1:9092\n"
							   "mysql.host = db = primary\n"
							   "topic=second\n", 0644);

	config_init(&cfg);
	CHECK(config_load_file(&cfg, p, err, sizeof(err)), "%s", err);
	CHECK(strcmp(config_get(&cfg, "topic"), "second") == 0, "later value wins");
	CHECK(strcmp(config_get(&cfg, "kafka.bootstrap.servers"), "127.0.0.1:9092") == 0, "kafka key");
	CHECK(strcmp(config_get(&cfg, "mysql.host"), "db = primary") == 0, "value keeps '=' after the first");
	CHECK(config_get(&cfg, "mysql.port") == NULL, "absent key");
	CHECK(cfg.nentries == 3, "three distinct keys, got %zu", cfg.nentries);
	CHECK(config_validate(&cfg, err, sizeof(err)), "%s", err);
	config_free(&cfg);
	unlink(p);
}

static void
test_bad_lines_and_keys(void)
{
	ingest_config cfg;
	char		err[CONFIG_ERRLEN];
	char	   *p = write_file("topic=x\nnot a pair\n", 0600);

	config_init(&cfg);
	CHECK(!config_load_file(&cfg, p, err, sizeof(err)), "line without '='");
	CHECK(strstr(err, ":2: expected key=value") != NULL, "error names the line: %s", err);
	config_free(&cfg);
	unlink(p);

	config_init(&cfg);
	CHECK(config_set_arg(&cfg, "mysql.hots=x", err, sizeof(err)), "%s", err);
	CHECK(!config_validate(&cfg, err, sizeof(err)), "unknown key accepted");
	CHECK(strstr(err, "unknown key \"mysql.hots\"") != NULL &&
		  strstr(err, "mysql.host") != NULL, "error lists valid keys: %s", err);
	config_free(&cfg);

	config_init(&cfg);
	CHECK(config_set_arg(&cfg, "kafka.no.such.property=1", err, sizeof(err)), "%s", err);
	CHECK(!config_validate(&cfg, err, sizeof(err)), "librdkafka accepted a bogus property");
	CHECK(strstr(err, "kafka.no.such.property") != NULL, "error names the property: %s", err);
	config_free(&cfg);

	/* MySQL's own spelling must not quietly turn certificate checks off */
	config_init(&cfg);
	CHECK(config_set_arg(&cfg, "mysql.ssl-mode=VERIFY_IDENTITY", err, sizeof(err)), "%s", err);
	CHECK(!config_validate(&cfg, err, sizeof(err)), "mysql.ssl-mode VERIFY_IDENTITY accepted");
	CHECK(strstr(err, "mysql.ssl-mode") != NULL && strstr(err, "verify_identity") != NULL,
		  "error lists the valid modes: %s", err);
	config_free(&cfg);
	config_init(&cfg);
	CHECK(config_set_arg(&cfg, "mysql.ssl-mode=verify_identity", err, sizeof(err)), "%s", err);
	CHECK(config_validate(&cfg, err, sizeof(err)), "verify_identity refused: %s", err);
	config_free(&cfg);

	config_init(&cfg);
	CHECK(!config_load_file(&cfg, "/nonexistent/ecsync.conf", err, sizeof(err)), "missing file");
	CHECK(strstr(err, "No such file") != NULL, "%s", err);
	config_free(&cfg);
}

static void
test_secrets(void)
{
	ingest_config cfg;
	char		err[CONFIG_ERRLEN];
	char	   *p;

	/* a password in a group- or world-readable file is refused */
	p = write_file("mysql.password=hunter2\n", 0644);
	config_init(&cfg);
	CHECK(!config_load_file(&cfg, p, err, sizeof(err)), "world-readable secret accepted");
	CHECK(strstr(err, "chmod 600") != NULL, "hint: %s", err);
	CHECK(strstr(err, "hunter2") == NULL, "secret in the error: %s", err);
	config_free(&cfg);
	unlink(p);

	p = write_file("mysql.password=hunter2\n", 0600);
	config_init(&cfg);
	CHECK(config_load_file(&cfg, p, err, sizeof(err)), "%s", err);
	config_free(&cfg);
	unlink(p);

	/* never on the command line, and the value is not echoed */
	config_init(&cfg);
	CHECK(!config_set_arg(&cfg, "kafka.sasl.password=hunter2", err, sizeof(err)), "secret via -X");
	CHECK(strstr(err, "hunter2") == NULL, "secret in the error: %s", err);
	CHECK(config_get(&cfg, "kafka.sasl.password") == NULL, "secret stored anyway");
	config_free(&cfg);

	/* from the environment */
	setenv("ECSYNC_MYSQL_PASSWORD", "from-env", 1);
	config_init(&cfg);
	CHECK(config_load_env(&cfg, err, sizeof(err)), "%s", err);
	CHECK(config_get(&cfg, "mysql.password") != NULL &&
		  strcmp(config_get(&cfg, "mysql.password"), "from-env") == 0, "env password");
	config_free(&cfg);
	unsetenv("ECSYNC_MYSQL_PASSWORD");

	CHECK(config_is_secret("mysql.password"), "mysql.password");
	CHECK(config_is_secret("kafka.sasl.oauthbearer.client.secret"), "oauth secret");
	CHECK(!config_is_secret("kafka.bootstrap.servers"), "not a secret");
}

int
main(void)
{
	test_file_values_and_comments();
	test_bad_lines_and_keys();
	test_secrets();
	printf("test_config: %d checks, %d failed\n", checks, failures);
	return failures == 0 ? 0 : 1;
}
