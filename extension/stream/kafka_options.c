/*-------------------------------------------------------------------------
 *
 * kafka_options.c
 *	  Options of the ecsync_kafka foreign-data wrapper.  A Kafka source is
 *	  a server whose options are librdkafka configuration properties
 *	  (bootstrap_servers is an alias of bootstrap.servers), checked
 *	  against an allow-list before librdkafka sees them, then by
 *	  librdkafka; credentials only in user mappings; properties that reach
 *	  the database server's files, commands or code only from a superuser;
 *	  properties that decide ecsync's exactly-once behaviour are refused.
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
#include "miscadmin.h"
#include "utils/syscache.h"

#include "ecsync.h"
#include "kafka_consumer.h"

PG_FUNCTION_INFO_V1(ecsync_kafka_validator);

/*
 * Who may set a property.  ecsync runs librdkafka inside PostgreSQL as the
 * postgres OS user, so a property that loads code, runs a command, names a
 * local file or makes the server fetch from another host is a superuser's
 * to set; a few are nobody's.
 */
typedef enum KafkaPropTier
{
	KP_ANY,						/* whoever may use the server */
	KP_SUPERUSER,				/* a superuser's server only */
	KP_REFUSED					/* nobody: ecsync's own, or loads code as
								 * soon as it is set */
} KafkaPropTier;

typedef struct KafkaProp
{
	const char *name;
	bool		secret;			/* in user mappings only */
	KafkaPropTier tier;
	const char *why;			/* for KP_SUPERUSER and KP_REFUSED */
} KafkaProp;

#define FILE_WHY "it names a file on the database server"
#define CODE_WHY "it loads code into the database server"
#define KRB_WHY "Kerberos runs a command and reads a keytab on the database server"
#define OAUTH_WHY "OAUTHBEARER makes the database server fetch tokens from other hosts"

/* the allow-list: a property not named here is refused */
static const KafkaProp kafka_props[] = {
	/* where and who */
	{"bootstrap.servers", false, KP_ANY, NULL},
	{"metadata.broker.list", false, KP_ANY, NULL},
	{"client.rack", false, KP_ANY, NULL},
	{"client.software.name", false, KP_ANY, NULL},
	{"client.software.version", false, KP_ANY, NULL},
	{"broker.address.family", false, KP_ANY, NULL},
	{"broker.address.ttl", false, KP_ANY, NULL},
	{"client.dns.lookup", false, KP_ANY, NULL},
	/* security: inline PEM is fine, files are not */
	{"security.protocol", false, KP_ANY, NULL},
	{"sasl.mechanism", false, KP_ANY, NULL},
	{"sasl.mechanisms", false, KP_ANY, NULL},
	{"ssl.ca.pem", false, KP_ANY, NULL},
	{"ssl.certificate.pem", false, KP_ANY, NULL},
	{"ssl.endpoint.identification.algorithm", false, KP_ANY, NULL},
	{"enable.ssl.certificate.verification", false, KP_ANY, NULL},
	{"ssl.cipher.suites", false, KP_ANY, NULL},
	{"ssl.curves.list", false, KP_ANY, NULL},
	{"ssl.sigalgs.list", false, KP_ANY, NULL},
	/* credentials */
	{"sasl.username", true, KP_ANY, NULL},
	{"sasl.password", true, KP_ANY, NULL},
	{"ssl.key.password", true, KP_ANY, NULL},
	{"ssl.key.pem", true, KP_ANY, NULL},
	{"ssl.keystore.password", true, KP_ANY, NULL},
	{"sasl.oauthbearer.client.secret", true, KP_SUPERUSER, OAUTH_WHY},
	{"sasl.oauthbearer.config", true, KP_SUPERUSER, OAUTH_WHY},
	/* consumer and network tuning */
	{"auto.offset.reset", false, KP_ANY, NULL},
	{"partition.assignment.strategy", false, KP_ANY, NULL},
	{"isolation.level", false, KP_ANY, NULL},
	{"check.crcs", false, KP_ANY, NULL},
	{"session.timeout.ms", false, KP_ANY, NULL},
	{"heartbeat.interval.ms", false, KP_ANY, NULL},
	{"max.poll.interval.ms", false, KP_ANY, NULL},
	{"coordinator.query.interval.ms", false, KP_ANY, NULL},
	{"fetch.wait.max.ms", false, KP_ANY, NULL},
	{"fetch.min.bytes", false, KP_ANY, NULL},
	{"fetch.max.bytes", false, KP_ANY, NULL},
	{"fetch.message.max.bytes", false, KP_ANY, NULL},
	{"max.partition.fetch.bytes", false, KP_ANY, NULL},
	{"fetch.error.backoff.ms", false, KP_ANY, NULL},
	{"receive.message.max.bytes", false, KP_ANY, NULL},
	{"message.max.bytes", false, KP_ANY, NULL},
	{"queued.max.messages.kbytes", false, KP_ANY, NULL},
	{"queued.min.messages", false, KP_ANY, NULL},
	{"socket.timeout.ms", false, KP_ANY, NULL},
	{"socket.keepalive.enable", false, KP_ANY, NULL},
	{"socket.nagle.disable", false, KP_ANY, NULL},
	{"socket.send.buffer.bytes", false, KP_ANY, NULL},
	{"socket.receive.buffer.bytes", false, KP_ANY, NULL},
	{"socket.max.fails", false, KP_ANY, NULL},
	{"socket.connection.setup.timeout.ms", false, KP_ANY, NULL},
	{"connections.max.idle.ms", false, KP_ANY, NULL},
	{"reconnect.backoff.ms", false, KP_ANY, NULL},
	{"reconnect.backoff.max.ms", false, KP_ANY, NULL},
	{"retry.backoff.ms", false, KP_ANY, NULL},
	{"metadata.max.age.ms", false, KP_ANY, NULL},
	{"topic.metadata.refresh.interval.ms", false, KP_ANY, NULL},
	{"topic.metadata.refresh.fast.interval.ms", false, KP_ANY, NULL},
	{"topic.metadata.refresh.sparse", false, KP_ANY, NULL},
	{"topic.metadata.propagation.max.ms", false, KP_ANY, NULL},
	{"api.version.request", false, KP_ANY, NULL},
	{"api.version.request.timeout.ms", false, KP_ANY, NULL},
	{"api.version.fallback.ms", false, KP_ANY, NULL},
	{"broker.version.fallback", false, KP_ANY, NULL},
	{"allow.auto.create.topics", false, KP_ANY, NULL},
	{"log.connection.close", false, KP_ANY, NULL},
	/* a superuser's: files, commands, code, other hosts, the server log */
	{"ssl.ca.location", false, KP_SUPERUSER, FILE_WHY},
	{"ssl.certificate.location", false, KP_SUPERUSER, FILE_WHY},
	{"ssl.key.location", false, KP_SUPERUSER, FILE_WHY},
	{"ssl.keystore.location", false, KP_SUPERUSER, FILE_WHY},
	{"ssl.crl.location", false, KP_SUPERUSER, FILE_WHY},
	{"ssl.ca.certificate.stores", false, KP_SUPERUSER, FILE_WHY},
	{"ssl.engine.location", false, KP_SUPERUSER, CODE_WHY},
	{"ssl.engine.id", false, KP_SUPERUSER, CODE_WHY},
	{"ssl.providers", false, KP_SUPERUSER, CODE_WHY},
	{"sasl.kerberos.service.name", false, KP_SUPERUSER, KRB_WHY},
	{"sasl.kerberos.principal", false, KP_SUPERUSER, KRB_WHY},
	{"sasl.kerberos.kinit.cmd", false, KP_SUPERUSER, KRB_WHY},
	{"sasl.kerberos.keytab", false, KP_SUPERUSER, KRB_WHY},
	{"sasl.kerberos.min.time.before.relogin", false, KP_SUPERUSER, KRB_WHY},
	{"sasl.oauthbearer.method", false, KP_SUPERUSER, OAUTH_WHY},
	{"sasl.oauthbearer.client.id", false, KP_SUPERUSER, OAUTH_WHY},
	{"sasl.oauthbearer.scope", false, KP_SUPERUSER, OAUTH_WHY},
	{"sasl.oauthbearer.extensions", false, KP_SUPERUSER, OAUTH_WHY},
	{"sasl.oauthbearer.token.endpoint.url", false, KP_SUPERUSER, OAUTH_WHY},
	{"enable.sasl.oauthbearer.unsecure.jwt", false, KP_SUPERUSER, OAUTH_WHY},
	{"debug", false, KP_SUPERUSER, "it fills the server log with protocol detail"},
	{"log_level", false, KP_SUPERUSER, "it decides what reaches the server log"},
	/* nobody's */
	{"plugin.library.paths", false, KP_REFUSED,
	"librdkafka loads the plugin into the database server as soon as the property is set"},
	{"group.id", false, KP_REFUSED, "each stream names its consumer group (ecsync_register_stream's consumer_group)"},
	{"client.id", false, KP_REFUSED, "ecsync names each worker's client ecsync-<stream>-<worker>"},
	{"enable.auto.commit", false, KP_REFUSED, "ecsync stores offsets in PostgreSQL, in the transaction of the rows"},
	{"enable.auto.offset.store", false, KP_REFUSED, "ecsync stores offsets in PostgreSQL, in the transaction of the rows"},
	{"enable.partition.eof", false, KP_REFUSED, "ecsync manages partition events itself"},
	{"group.instance.id", false, KP_REFUSED, "ecsync's workers join the group as dynamic members"},
	{NULL, false, KP_ANY, NULL}
};

/* SASL mechanisms anyone may use; GSSAPI and OAUTHBEARER are a superuser's */
static const char *const open_mechanisms[] = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", NULL};

static const char *
property_name(const char *option)
{
	return strcmp(option, "bootstrap_servers") == 0 ? "bootstrap.servers" : option;
}

static const KafkaProp *
find_property(const char *name)
{
	for (const KafkaProp *p = kafka_props; p->name; p++)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

/*
 * property_tier is the tier of name set to value: a property's own, raised
 * to KP_SUPERUSER for a SASL mechanism that reaches files, commands or
 * other hosts.
 */
static KafkaPropTier
property_tier(const KafkaProp *p, const char *value, const char **why)
{
	*why = p->why;
	if (strcmp(p->name, "sasl.mechanism") == 0 || strcmp(p->name, "sasl.mechanisms") == 0)
	{
		for (int i = 0; open_mechanisms[i]; i++)
			if (pg_strcasecmp(open_mechanisms[i], value) == 0)
				return KP_ANY;
		*why = "the GSSAPI and OAUTHBEARER mechanisms run commands, read keytabs or fetch "
			"tokens on the database server";
		return KP_SUPERUSER;
	}
	return p->tier;
}

/*
 * check_property refuses option (with value) in catalog (a server's or a
 * user mapping's options) unless the allow-list takes it there, from a
 * superuser where it must.  Values never appear in messages: they may be
 * secrets.  Nothing here passes anything to librdkafka.
 */
static void
check_property(const char *option, const char *value, Oid catalog,
			   bool superuser_ok, const char *where)
{
	const char *name = property_name(option);
	const KafkaProp *p = find_property(name);
	const char *why;

	if (catalog != ForeignServerRelationId && catalog != UserMappingRelationId)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid option \"%s\"", option),
				 errhint("ecsync_kafka takes options on servers (Kafka properties) and user mappings (credentials) only.")));
	if (p == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("%sKafka property \"%s\" is not allowed", where, name),
				 errdetail("ecsync passes only the librdkafka consumer properties it lists to librdkafka."),
				 errhint("See \"Stream configuration\" in ecsync's docs/streams.md for the properties a server takes.")));
	if (p->tier == KP_REFUSED)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("%sKafka property \"%s\" is not allowed", where, name),
				 errdetail("It is refused because %s.", p->why)));
	if (catalog == ForeignServerRelationId && p->secret)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("%soption \"%s\" may only be set in a user mapping", where, option),
				 errhint("Use CREATE USER MAPPING FOR ... SERVER ... OPTIONS (\"%s\" '...'), "
						 "which only the mapped user and superusers can read.", name)));
	if (catalog == UserMappingRelationId && !p->secret)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("%soption \"%s\" belongs on the server, not in a user mapping", where, option),
				 errhint("User mappings of ecsync_kafka servers hold credentials only: sasl.username, "
						 "sasl.password, ssl.key.password, ssl.key.pem, ssl.keystore.password, "
						 "sasl.oauthbearer.client.secret and sasl.oauthbearer.config.")));
	if (property_tier(p, value, &why) == KP_SUPERUSER && !superuser_ok)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%sonly a superuser may set Kafka property \"%s\"%s", where, name,
						p->secret ? "" : " here"),
				 errdetail("It is a superuser's because %s.", why),
				 errhint("A superuser can create the server, or give it to a superuser with ALTER SERVER ... OWNER TO.")));
}

/*
 * apply_option sets one allowed option on conf, or says in errstr what
 * librdkafka found wrong with its value.
 */
static bool
apply_option(rd_kafka_conf_t *conf, const char *option, const char *value,
			 char *errstr, size_t errlen)
{
	const char *name = property_name(option);

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
 * ecsync_kafka_validator checks server and user mapping options against
 * the allow-list (with the current user's rights) before librdkafka sees
 * any of them, then lets librdkafka check their values.
 */
Datum
ecsync_kafka_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	rd_kafka_conf_t *conf;
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		check_property(def->defname, defGetString(def), catalog, superuser(), "");
	}
	conf = rd_kafka_conf_new();
	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		char		errstr[512];

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
	rd_kafka_conf_t *conf;
	List	   *all;
	List	   *um_options;
	ListCell   *lc;
	char	   *where;
	char		errstr[512];

	conf = rd_kafka_conf_new();

	/*
	 * A stream worker's prefetch: 32 MB holds more than a second of events
	 * at its rate (16 MB cut it from 350 k to 180 k events/s); ecsync-ingest,
	 * about three times faster, keeps librdkafka's 64 MB
	 */
	if (!kc_set_defaults(conf, errstr, sizeof(errstr)) ||
		rd_kafka_conf_set(conf, "queued.max.messages.kbytes", "32768", errstr,
						  sizeof(errstr)) != RD_KAFKA_CONF_OK)
	{
		rd_kafka_conf_destroy(conf);
		elog(ERROR, "%s", errstr);
	}

	/*
	 * The validator checked each option with the rights of whoever set it;
	 * the server may have changed owner since.  A superuser's option counts
	 * only on a superuser's server, or in a superuser's own user mapping.
	 */
	where = psprintf("server \"%s\": ", server->servername);
	um_options = user_mapping_options(userid, server->serverid);
	foreach(lc, server->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		check_property(def->defname, defGetString(def), ForeignServerRelationId,
					   superuser_arg(server->owner), where);
	}
	foreach(lc, um_options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		check_property(def->defname, defGetString(def), UserMappingRelationId,
					   superuser_arg(server->owner) || superuser_arg(userid), where);
	}
	all = list_concat(list_copy(server->options), um_options);
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
