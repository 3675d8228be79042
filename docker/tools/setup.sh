#!/bin/sh
# setup (a one-shot service): configures ecsync in PostgreSQL once the
# services are up, and again harmlessly on every "docker-compose up":
# the extensions, the MySQL and Kafka servers, the user mapping (its
# password from the secret mysql_password, on psql's stdin, never in argv),
# the shop registered and synced, the page-view stream started, the
# analytics layer built, the sync scheduled every 10 minutes with pg_cron,
# and the read-only role "metabase" (password: the secret
# metabase_password) that Metabase connects as.
set -eu
say() { echo "setup: $*"; }
umask 077
printf '%s:%s:%s:%s:%s\n' postgres 5432 '*' postgres "$(cat /run/secrets/postgres_password)" >"$HOME/.pgpass"
export PGHOST=postgres PGPORT=5432 PGUSER=postgres PGDATABASE=ecsync PGPASSFILE=$HOME/.pgpass
q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
lit() { sed "s/'/''/g" "$1"; }

say "extensions and sources"
q <<SQL
CREATE EXTENSION IF NOT EXISTS ecsync;
ALTER EXTENSION ecsync UPDATE;
CREATE EXTENSION IF NOT EXISTS pg_cron;
CREATE SCHEMA IF NOT EXISTS shop;
CREATE SERVER IF NOT EXISTS shop_mysql FOREIGN DATA WRAPPER ecsync_mysql
  OPTIONS (host 'mariadb', port '3306', database 'shop', datetime_zone '${SHOP_TIMEZONE:-Asia/Tokyo}',
           bigint_unsigned 'bigint');
CREATE USER MAPPING IF NOT EXISTS FOR postgres SERVER shop_mysql
  OPTIONS (user 'ecsync', password '$(lit /run/secrets/mysql_password)');
CREATE SERVER IF NOT EXISTS shop_kafka FOREIGN DATA WRAPPER ecsync_kafka
  OPTIONS (bootstrap_servers 'kafka:9092');
SQL

say "the shop, from MariaDB"
q -c "SELECT count(*) AS tables_registered FROM ecsync_register_shop('shop_mysql', 'shop', 'incremental')"
q -c "SELECT table_name, status, rows_written, seconds FROM ecsync_run_batch()"

say "page views, from Kafka"
q -c "SELECT ecsync_register_stream('page_views', 'shop_kafka', topic => 'page_views',
        target_table => 'page_views', target_schema => 'shop', existing_rows => 'keep')" >/dev/null
q -c "SELECT ecsync_start_stream('page_views')" >/dev/null

say "analytics, schedule, Metabase's role"
q <<SQL
SELECT ecsync_create_analytics('shop', business_zone => '${SHOP_TIMEZONE:-Asia/Tokyo}');
SELECT cron.schedule('ecsync-shop', '${SYNC_SCHEDULE:-*/10 * * * *}', 'SELECT ecsync_run_batch()');
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'metabase') THEN CREATE ROLE metabase LOGIN; END IF;
END \$\$;
ALTER ROLE metabase PASSWORD '$(lit /run/secrets/metabase_password)';
GRANT CONNECT ON DATABASE ecsync TO metabase;
GRANT USAGE ON SCHEMA analytics TO metabase;
GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO metabase;
ALTER DEFAULT PRIVILEGES IN SCHEMA analytics GRANT SELECT ON TABLES TO metabase;
SQL
say "done: Metabase connects to PostgreSQL host postgres, database ecsync, user metabase"
