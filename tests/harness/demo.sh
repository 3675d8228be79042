#!/usr/bin/env bash
# demo.sh is ecsync's main job (make run): install what is missing, build and
# install ecsync, start the local "demo" stack, load the sample shop into
# MariaDB, send page views to Kafka, then sync the shop into PostgreSQL with
# ecsync_run_batch(), schedule that sync every 10 minutes with pg_cron, and
# start a stream worker that ingests the page views and keeps ingesting;
# last, ecsync-ingest writes the durable CSV archive (a snapshot of the shop
# and the page views so far) and verifies it.
# The stack keeps running until "make stop".
#
#   make run [SCALE=0.05] [EVENTS=20000]
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$top"
scale=${SCALE:-0.05}
events=${EVENTS:-20000}

say() { printf '\n== %s ==\n' "$*"; }

say "dependencies"
tests/harness/install-deps.sh
echo "all present"

say "build and install"
make -s all >/dev/null
make -s install >/dev/null
echo "ecsync extension and ecsync-ingest installed"

say "services"
tests/harness/stack.sh start demo >/dev/null
tests/harness/stack.sh status demo
eval "$(tests/harness/stack.sh env demo)"

say "sample shop (scale $scale) into MariaDB"
tests/harness/load-shop.sh --stack demo --scale "$scale"

say "page views into Kafka"
tests/gen/pvproduce -t page_views --partitions 4 -n "$events" --scale "$scale" -q
in_topic=$(kcat -b "$ECSYNC_KAFKA_BROKERS" -C -t page_views -o beginning -e -q -f '.' | wc -c)
printf 'page_views: %s events in 4 partitions\n' "$in_topic"

say "ecsync in PostgreSQL: the shop, synced from MariaDB"
# the MySQL password reaches psql on stdin, never on a command line
psql -X -q -v ON_ERROR_STOP=1 <<EOF
CREATE EXTENSION IF NOT EXISTS ecsync;
ALTER EXTENSION ecsync UPDATE;
CREATE EXTENSION IF NOT EXISTS pg_cron;
CREATE SERVER IF NOT EXISTS shop_mysql FOREIGN DATA WRAPPER ecsync_mysql
  OPTIONS (host '127.0.0.1', port '$ECSYNC_MYSQL_PORT', database 'shop');
CREATE USER MAPPING IF NOT EXISTS FOR CURRENT_USER SERVER shop_mysql
  OPTIONS (user 'ecsync', password '$(cat "$ECSYNC_MYSQL_PASSWORD_FILE")');
SELECT count(*) FROM ecsync_register_shop('shop_mysql', 'shop', 'incremental');
EOF
psql -X -c "SELECT * FROM ecsync_run_batch()"
psql -X -q -c "SELECT cron.schedule('ecsync-shop', '*/10 * * * *', 'SELECT ecsync_run_batch()')" >/dev/null
psql -X -c "SELECT table_name, last_success, last_rows_written, last_error FROM ecsync.status ORDER BY id"
echo "pg_cron runs SELECT ecsync_run_batch() every 10 minutes (job 'ecsync-shop')"

say "ecsync in PostgreSQL: page views, streamed from Kafka"
psql -X -q -v ON_ERROR_STOP=1 <<EOF
CREATE SERVER IF NOT EXISTS shop_kafka FOREIGN DATA WRAPPER ecsync_kafka
  OPTIONS (bootstrap_servers '$ECSYNC_KAFKA_BROKERS');
SELECT ecsync_register_stream('page_views', 'shop_kafka', topic => 'page_views',
                              target_table => 'page_views', target_schema => 'shop');
SELECT ecsync_start_stream('page_views');
EOF
# the stream worker joins the consumer group, then catches up
for _ in $(seq 1 300); do
	n=$(psql -X -A -t -c "SELECT coalesce(sum(rows_total + dead_total), 0) FROM ecsync.stream_partitions WHERE stream = 'page_views'")
	[ "$n" -ge "$in_topic" ] && break
	sleep 0.1
done
psql -X -c "SELECT stream, state, workers_running, rows_total, dead_total, lag, last_error FROM ecsync.stream_status"
psql -X -c "SELECT minute, page, views, users FROM shop.page_views_per_minute ORDER BY views DESC, minute, page LIMIT 5"
echo "the stream worker keeps ingesting page_views: new events show within a second"

say "ecsync-ingest: the durable CSV archive"
# the documented way: a config file, mode 0600 because it holds the password
conf=$ECSYNC_RUN_DIR/ingest.conf
archive=$ECSYNC_RUN_DIR/archive
(
	umask 077
	cat >"$conf" <<EOC
archive.dir = $archive
kafka.bootstrap.servers = $ECSYNC_KAFKA_BROKERS
topic = page_views
mysql.host = 127.0.0.1
mysql.port = $ECSYNC_MYSQL_PORT
mysql.database = shop
mysql.user = ecsync
mysql.password = $(cat "$ECSYNC_MYSQL_PASSWORD_FILE")
EOC
)
ingester/ecsync-ingest -c "$conf" --snapshot -q
ingester/ecsync-ingest -c "$conf" --stream --once -q
ingester/ecsync-ingest -c "$conf" --verify
(cd "$archive" && find . \( -path ./.tmp -o -name _manifest \) -prune -o -type f -name '*.csv' -print | sort | sed 's|^\./|  |' | head -n 12)
echo "load it back with: ingester/ecsync-ingest -c $conf --load-script --snapshot-id latest | psql"

cat <<EOT

The demo stack is running.  Connect with:
  eval "\$(tests/harness/stack.sh env demo)"
  psql                    # PostgreSQL 15, database ecsync: shop.* tables (page_views too),
                          # ecsync.status, ecsync.runs, ecsync.stream_status, ecsync.stream_partitions
  mariadb                 # MariaDB, database shop
  kcat -b \$ECSYNC_KAFKA_BROKERS -C -t page_views -o beginning -e
  ingester/ecsync-ingest -c $conf --stream     # keep archiving page views (Ctrl-C stops)
Logs and data: $ECSYNC_RUN_DIR (CSV archive in $archive)
Stop it with:  make stop
EOT
