--
-- Kafka sources and stream registration: the ecsync_kafka wrapper's
-- validator, and what ecsync_register_stream accepts and creates
--
CREATE EXTENSION ecsync;
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- a valid server: librdkafka properties, bootstrap_servers as an alias
CREATE SERVER kafka FOREIGN DATA WRAPPER ecsync_kafka
  OPTIONS (bootstrap_servers '127.0.0.1:9092', "client.rack" 'r1',
           "fetch.wait.max.ms" '100', "security.protocol" 'plaintext');
-- credentials only in user mappings, and user mappings only for credentials
CREATE USER MAPPING FOR CURRENT_USER SERVER kafka
  OPTIONS ("sasl.username" 'shop', "sasl.password" 'secret-pw');
CREATE SERVER bad1 FOREIGN DATA WRAPPER ecsync_kafka OPTIONS ("sasl.password" 'x');
CREATE SERVER bad2 FOREIGN DATA WRAPPER ecsync_kafka OPTIONS ("ssl.key.password" 'x');
CREATE USER MAPPING FOR PUBLIC SERVER kafka OPTIONS ("client.id" 'x');

-- librdkafka checks names and values, and its message names the property
CREATE SERVER bad3 FOREIGN DATA WRAPPER ecsync_kafka OPTIONS ("no.such.property" 'x');
CREATE SERVER bad4 FOREIGN DATA WRAPPER ecsync_kafka OPTIONS ("fetch.wait.max.ms" 'soon');
CREATE SERVER bad5 FOREIGN DATA WRAPPER ecsync_kafka OPTIONS ("security.protocol" 'carrier_pigeon');

-- what exactly-once depends on is ecsync's
CREATE SERVER bad6 FOREIGN DATA WRAPPER ecsync_kafka OPTIONS ("group.id" 'g');
CREATE SERVER bad7 FOREIGN DATA WRAPPER ecsync_kafka OPTIONS ("enable.auto.commit" 'true');
CREATE SERVER bad8 FOREIGN DATA WRAPPER ecsync_kafka
  OPTIONS ("partition.assignment.strategy" 'cooperative-sticky');
CREATE FOREIGN DATA WRAPPER bad_fdw VALIDATOR ecsync_kafka_validator OPTIONS ("client.id" 'x');

-- an allow-list: properties that load code are nobody's, before librdkafka sees them
CREATE SERVER bad9 FOREIGN DATA WRAPPER ecsync_kafka OPTIONS ("plugin.library.paths" '/tmp/evil.so');
-- files, commands, keytabs and token endpoints are a superuser's (this is one)
CREATE SERVER su_only FOREIGN DATA WRAPPER ecsync_kafka
  OPTIONS (bootstrap_servers '127.0.0.1:9092', "ssl.ca.location" '/etc/ssl/certs/ca-certificates.crt',
           "sasl.mechanism" 'GSSAPI', "sasl.kerberos.kinit.cmd" 'kinit -k');
DROP SERVER su_only;
CREATE ROLE kafka_delegate;
GRANT USAGE ON FOREIGN DATA WRAPPER ecsync_kafka TO kafka_delegate;
SET ROLE kafka_delegate;
CREATE SERVER mine FOREIGN DATA WRAPPER ecsync_kafka
  OPTIONS (bootstrap_servers '127.0.0.1:9092', "security.protocol" 'sasl_ssl',
           "sasl.mechanism" 'SCRAM-SHA-512', "ssl.ca.pem" '-----BEGIN CERTIFICATE-----');
CREATE USER MAPPING FOR CURRENT_USER SERVER mine
  OPTIONS ("sasl.username" 'me', "sasl.password" 'pw', "ssl.key.pem" 'x');
CREATE SERVER bad10 FOREIGN DATA WRAPPER ecsync_kafka OPTIONS ("sasl.kerberos.kinit.cmd" 'touch /tmp/pwned');
CREATE SERVER bad11 FOREIGN DATA WRAPPER ecsync_kafka OPTIONS ("ssl.engine.location" '/tmp/evil.so');
CREATE SERVER bad12 FOREIGN DATA WRAPPER ecsync_kafka OPTIONS ("ssl.providers" 'evil');
CREATE SERVER bad13 FOREIGN DATA WRAPPER ecsync_kafka OPTIONS ("ssl.key.location" '/var/lib/postgresql/15/main/server.key');
CREATE SERVER bad14 FOREIGN DATA WRAPPER ecsync_kafka OPTIONS ("sasl.kerberos.keytab" '/etc/krb5.keytab');
CREATE SERVER bad15 FOREIGN DATA WRAPPER ecsync_kafka OPTIONS ("sasl.oauthbearer.token.endpoint.url" 'http://169.254.169.254/');
CREATE SERVER bad16 FOREIGN DATA WRAPPER ecsync_kafka OPTIONS ("sasl.mechanisms" 'gssapi');
CREATE SERVER bad17 FOREIGN DATA WRAPPER ecsync_kafka OPTIONS ("debug" 'all');
ALTER USER MAPPING FOR CURRENT_USER SERVER mine OPTIONS (ADD "sasl.oauthbearer.config" 'principal=admin');
-- a secret-bearing property nobody listed is refused, not stored where all can read it
CREATE SERVER bad18 FOREIGN DATA WRAPPER ecsync_kafka OPTIONS ("sasl.oauthbearer.client.secret" 'x');
CREATE SERVER bad19 FOREIGN DATA WRAPPER ecsync_kafka OPTIONS ("ssl.keystore.secret" 'x');
DROP SERVER mine CASCADE;
RESET ROLE;
REVOKE USAGE ON FOREIGN DATA WRAPPER ecsync_kafka FROM kafka_delegate;
DROP ROLE kafka_delegate;

-- registration checks the server
SELECT ecsync_register_stream('s1', 'no_such_server');
CREATE SERVER mysql_src FOREIGN DATA WRAPPER ecsync_mysql OPTIONS (host 'x');
SELECT ecsync_register_stream('s1', 'mysql_src');

-- the default mapping creates the page-view table, its indexes and the rollup
SELECT ecsync_register_stream('pv', 'kafka', topic => 'page_views', target_table => 'pv_events');
\d pv_events
\d+ pv_events_per_minute
SELECT name, topic, target_table, consumer_group, batch_size, max_latency, workers,
       decode_threads, start_from, state, config_version
  FROM ecsync.streams;
-- registering again changes the stream, and its version
SELECT ecsync_register_stream('pv', 'kafka', topic => 'page_views', target_table => 'pv_events',
                              batch_size => 5000, max_latency => '50 ms');
SELECT name, batch_size, max_latency, config_version FROM ecsync.streams;

-- custom mappings: every source, and checks of columns and types
CREATE TABLE custom (p integer, o bigint, ts timestamptz, k text, n double precision,
                     flag boolean, doc jsonb, label varchar(20), at timestamptz);
SELECT ecsync_register_stream('custom', 'kafka', topic => 't', target_table => 'custom',
  mapping => '[{"column": "p", "source": "partition"}, {"column": "o", "source": "offset"},
               {"column": "ts", "source": "timestamp"}, {"column": "k", "source": "key"},
               {"column": "n", "key": "amount"}, {"column": "flag", "key": "ok", "required": false},
               {"column": "doc", "key": "extra", "required": false}, {"column": "label", "key": "label"},
               {"column": "at", "key": "at"}]') > 0 AS registered;
SELECT ecsync_register_stream('c2', 'kafka', target_table => 'custom',
  mapping => '[{"column": "nope", "key": "x"}]');
SELECT ecsync_register_stream('c2', 'kafka', target_table => 'custom',
  mapping => '[{"column": "p", "source": "offset"}]');
SELECT ecsync_register_stream('c2', 'kafka', target_table => 'custom',
  mapping => '[{"column": "p", "source": "headers"}]');
SELECT ecsync_register_stream('c2', 'kafka', target_table => 'new_one',
  mapping => '[{"column": "x", "key": "x", "type": "money"}]');
SELECT ecsync_register_stream('c2', 'kafka', target_table => 'new_one',
  mapping => '[{"column": "x", "key": "x", "type": "text"}, {"column": "x", "key": "y", "type": "text"}]');
SELECT ecsync_register_stream('c2', 'kafka', target_table => 'new_one', mapping => '{"x": 1}');
SELECT ecsync_register_stream('bad name!', 'kafka');
SELECT ecsync_register_stream('c3', 'kafka', batch_size => 0, target_table => 'pv_events');
SELECT ecsync_register_stream('c3', 'kafka', max_latency => '2 hours', target_table => 'pv_events');
SELECT ecsync_register_stream('c3', 'kafka', workers => 17, target_table => 'pv_events');
SELECT ecsync_register_stream('c3', 'kafka', start_from => 'middle', target_table => 'pv_events');

-- start, stop, restart, unregister
SELECT ecsync_stop_stream('nope');
SELECT ecsync_start_stream('pv'), ecsync_stop_stream('pv'), ecsync_restart_stream('pv');
SELECT name, state FROM ecsync.streams ORDER BY name;
SELECT ecsync_unregister_stream('custom'), ecsync_unregister_stream('custom');

-- a role sees only its own rows, uses only the servers it was granted, and
-- changes no other role's stream
CREATE ROLE kafka_nobody;
SET ROLE kafka_nobody;
SELECT ecsync_register_stream('x', 'kafka');
SELECT count(*) FROM ecsync.streams;
SELECT count(*) FROM ecsync.dead_letters;
SELECT ecsync_stop_stream('pv');
SELECT ecsync_unregister_stream('pv');
UPDATE ecsync.streams SET owner = 10;
-- the user mapping keeps the password from everyone else
SELECT count(*) FROM pg_user_mappings WHERE srvname = 'kafka' AND umoptions::text LIKE '%secret-pw%';
RESET ROLE;
DROP ROLE kafka_nobody;

DROP EXTENSION ecsync CASCADE;

-- an installation of 0.1 updates in place
CREATE EXTENSION ecsync VERSION '0.1';
SELECT to_regclass('ecsync.streams') IS NULL AS no_streams_in_0_1;
ALTER EXTENSION ecsync UPDATE;
SELECT extversion, to_regclass('ecsync.streams') IS NOT NULL AS streams
  FROM pg_extension WHERE extname = 'ecsync';
DROP EXTENSION ecsync;
