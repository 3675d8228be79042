/*-------------------------------------------------------------------------
 *
 * kafka_options.c
 *	  Options of the ecsync_kafka foreign-data wrapper.  A Kafka source is
 *	  a server whose options are librdkafka configuration properties
 *	  (bootstrap_servers is an alias of bootstrap.servers), checked by
 *	  librdkafka itself; credentials (SASL passwords, private keys) are
 *	  accepted only in user mappings.  Properties that decide ecsync's
 *	  exactly-once behaviour are ecsync's and refused.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <librdkafka/rdkafka.h>

#include "access/reloptions.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "utils/syscache.h"

#include "ecsync.h"

PG_FUNCTION_INFO_V1(ecsync_kafka_validator);

/* only in user mappings: readable by the mapped user and superusers alone */
static const char *const secret_properties[] = {
	"sasl.username", "sasl.password", "ssl.key.password", "ssl.key.pem",
	"ssl.keystore.password", "sasl.oauthbearer.client.secret",
	"sasl.oauthbearer.config", NULL
};

/* set by ecsync for every stream, with the reason a user may not */
static const struct
{
	const char *name;
	const char *why;
}			reserved_properties[] = {
	{"group.id", "each stream names its consumer group (ecsync_register_stream's consumer_group)"},
	{"enable.auto.commit", "ecsync stores offsets in PostgreSQL, in the transaction of the rows"},
	{"enable.auto.offset.store", "ecsync stores offsets in PostgreSQL, in the transaction of the rows"},
	{"enable.partition.eof", "ecsync manages partition events itself"},
	{"group.instance.id", "ecsync's workers join the group as dynamic members"},
	{NULL, NULL}
};

static bool
is_secret(const char *name)
{
	for (int i = 0; secret_properties[i]; i++)
		if (strcmp(secret_properties[i], name) == 0)
			return true;
	return false;
}

static const char *
property_name(const char *option)
{
	return strcmp(option, "bootstrap_servers") == 0 ? "bootstrap.servers" : option;
}

/*
 * apply_option sets one option on conf, or says what is wrong with it in
 * errstr.  Values are never put into messages: they may be secrets.
 */
static bool
apply_option(rd_kafka_conf_t *conf, const char *option, const char *value,
			 char *errstr, size_t errlen)
{
	const char *name = property_name(option);

	for (int i = 0; reserved_properties[i].name; i++)
		if (strcmp(reserved_properties[i].name, name) == 0)
		{
			snprintf(errstr, errlen, "Kafka property \"%s\" is set by ecsync: %s",
					 name, reserved_properties[i].why);
			return false;
		}
	if (strcmp(name, "partition.assignment.strategy") == 0 &&
		strstr(value, "cooperative") != NULL)
	{
		snprintf(errstr, errlen, "Kafka property \"%s\": ecsync needs an eager assignor (range or roundrobin)", name);
		return false;
	}
	if (rd_kafka_conf_set(conf, name, value, errstr, errlen) != RD_KAFKA_CONF_OK)
	{
		/* librdkafka's message names the property; make sure */
		if (strstr(errstr, name) == NULL)
		{
			char		inner[512];

			strlcpy(inner, errstr, sizeof(inner));
			snprintf(errstr, errlen, "Kafka property \"%s\": %s", name, inner);
		}
		return false;
	}
	return true;
}

/*
 * ecsync_kafka_validator checks server and user mapping options: every one
 * through librdkafka, secrets only in user mappings, and user mappings only
 * for secrets.
 */
Datum
ecsync_kafka_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		const char *name = property_name(def->defname);
		char		errstr[512];

		if (catalog != ForeignServerRelationId && catalog != UserMappingRelationId)
		{
			rd_kafka_conf_destroy(conf);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\"", def->defname),
					 errhint("ecsync_kafka takes options on servers (Kafka properties) and user mappings (credentials) only.")));
		}
		if (catalog == ForeignServerRelationId && is_secret(name))
		{
			rd_kafka_conf_destroy(conf);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("option \"%s\" may only be set in a user mapping", def->defname),
					 errhint("Use CREATE USER MAPPING FOR ... SERVER ... OPTIONS (\"%s\" '...'), "
							 "which only the mapped user and superusers can read.", name)));
		}
		if (catalog == UserMappingRelationId && !is_secret(name))
		{
			rd_kafka_conf_destroy(conf);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("option \"%s\" belongs on the server, not in a user mapping", def->defname),
					 errhint("User mappings of ecsync_kafka servers hold credentials only: sasl.username, "
							 "sasl.password, ssl.key.password, ssl.key.pem, ssl.keystore.password, "
							 "sasl.oauthbearer.client.secret and sasl.oauthbearer.config.")));
		}
		if (!apply_option(conf, def->defname, defGetString(def), errstr, sizeof(errstr)))
		{
			rd_kafka_conf_destroy(conf);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\"", def->defname),
					 errdetail("%s", errstr)));
		}
	}
	rd_kafka_conf_destroy(conf);
	PG_RETURN_VOID();
}

/* user_mapping_options: the user's mapping, else PUBLIC's, else none */
static List *
user_mapping_options(Oid userid, Oid serverid)
{
	Oid			users[2] = {userid, InvalidOid};

	for (int i = 0; i < 2; i++)
	{
		HeapTuple	tp = SearchSysCache2(USERMAPPINGUSERSERVER,
										 ObjectIdGetDatum(users[i]),
										 ObjectIdGetDatum(serverid));
		bool		isnull;
		Datum		datum;
		List	   *options = NIL;

		if (!HeapTupleIsValid(tp))
			continue;
		datum = SysCacheGetAttr(USERMAPPINGUSERSERVER, tp,
								Anum_pg_user_mapping_umoptions, &isnull);
		if (!isnull)
			options = untransformRelOptions(datum);
		ReleaseSysCache(tp);
		return options;
	}
	return NIL;
}

/*
 * ecsync_kafka_conf builds a consumer configuration: ecsync's defaults, then
 * the server's options, then the user mapping's.  Errors name the server
 * and the property, never a value.
 */
rd_kafka_conf_t *
ecsync_kafka_conf(ForeignServer *server, Oid userid)
{
	static const char *const defaults[][2] = {
		{"enable.auto.commit", "false"},
		{"enable.auto.offset.store", "false"},
		{"enable.partition.eof", "false"},
		{"auto.offset.reset", "earliest"},
		{"session.timeout.ms", "10000"},
		{"heartbeat.interval.ms", "2000"},
		/*
		 * librdkafka 2.0 stops fetching when its queue passes either bound
		 * and looks again only about a second later: the bytes bound must
		 * hold more than a second of events, and the count bound must not
		 * come first (memory stays bounded by the bytes)
		 */
		{"queued.max.messages.kbytes", "32768"},
		{"queued.min.messages", "10000000"},
		{"partition.assignment.strategy", "range,roundrobin"},
		{"log.connection.close", "false"},
		{NULL, NULL}
	};
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	List	   *all;
	ListCell   *lc;
	char		errstr[512];

	for (int i = 0; defaults[i][0]; i++)
		if (rd_kafka_conf_set(conf, defaults[i][0], defaults[i][1], errstr,
							  sizeof(errstr)) != RD_KAFKA_CONF_OK)
			elog(ERROR, "librdkafka refused ecsync's default %s: %s", defaults[i][0], errstr);

	all = list_concat(list_copy(server->options),
					  user_mapping_options(userid, server->serverid));
	foreach(lc, all)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (!apply_option(conf, def->defname, defGetString(def), errstr, sizeof(errstr)))
		{
			rd_kafka_conf_destroy(conf);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("server \"%s\": invalid option \"%s\"", server->servername, def->defname),
					 errdetail("%s", errstr)));
		}
	}
	return conf;
}
