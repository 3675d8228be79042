#!/usr/bin/env bash
# demo.sh is ecsync's main job (make run): install what is missing, build and
# install ecsync, start the local "demo" stack, load the sample shop into
# MariaDB, send page views to Kafka, then sync the shop into PostgreSQL with
# ecsync_run_batch(), schedule that sync every 10 minutes with pg_cron, and
# start a stream worker that ingests the page views and keeps ingesting,
# build the analytics schema Metabase charts; last, ecsync-ingest writes the
# durable CSV archive (a snapshot of the shop and the page views so far) and
# verifies it.  A producer keeps sending page views (EVENT_RATE a second)
# until "make stop"; "make watch" shows it all live.
# Long steps show their progress.
#
#   make run [SCALE=0.05] [EVENTS=20000]
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$top"
scale=${SCALE:-0.05}
events=${EVENTS:-20000}
event_rate=${EVENT_RATE:-20}

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
tests/gen/pvproduce -t page_views --partitions 4 -n "$events" --scale "$scale"
in_topic=$(kcat -b "$ECSYNC_KAFKA_BROKERS" -C -t page_views -o beginning -e -q -f '.' | wc -c)
printf 'page_views: %s events in 4 partitions\n' "$in_topic"

say "ecsync in PostgreSQL: the shop, synced from MariaDB"
# the MySQL password reaches psql on stdin, never on a command line
psql -X -q -v ON_ERROR_STOP=1 <<EOF
CREATE EXTENSION IF NOT EXISTS ecsync;
ALTER EXTENSION ecsync UPDATE;
CREATE EXTENSION IF NOT EXISTS pg_cron;
-- the shop writes Tokyo wall-clock DATETIMEs; its ids fit a bigint
CREATE SERVER IF NOT EXISTS shop_mysql FOREIGN DATA WRAPPER ecsync_mysql
  OPTIONS (host '127.0.0.1', port '$ECSYNC_MYSQL_PORT', database 'shop',
           datetime_zone 'Asia/Tokyo', bigint_unsigned 'bigint');
CREATE USER MAPPING IF NOT EXISTS FOR CURRENT_USER SERVER shop_mysql
  OPTIONS (user 'ecsync', password '$(cat "$ECSYNC_MYSQL_PASSWORD_FILE")');
SELECT count(*) FROM ecsync_register_shop('shop_mysql', 'shop', 'incremental');
EOF
# the run in the background; its progress (ecsync.progress) every second
psql -X -c "SELECT * FROM ecsync_run_batch()" >"$ECSYNC_RUN_DIR/first-run.txt" 2>&1 &
run_pid=$!
while kill -0 $run_pid 2>/dev/null; do
	p=$(psql -X -A -t -F ' ' -c "SELECT coalesce(copying_into::text, '...'), coalesce(tuples_processed, 0)
	                             FROM ecsync.progress LIMIT 1" 2>/dev/null || true)
	[ -n "$p" ] && printf '\r  run in progress: %-28s %12s rows ' ${p}
	sleep 1
done
printf '\r%60s\r' ''
wait $run_pid || { cat "$ECSYNC_RUN_DIR/first-run.txt"; exit 1; }
cat "$ECSYNC_RUN_DIR/first-run.txt"
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
	printf '\r  streamed %s of %s events ' "$n" "$in_topic"
	[ "$n" -ge "$in_topic" ] && break
	sleep 0.1
done
echo
psql -X -c "SELECT stream, state, workers_running, rows_total, dead_total, lag, last_error FROM ecsync.stream_status"
psql -X -c "SELECT minute, page, views, users FROM shop.page_views_per_minute ORDER BY views DESC, minute, page LIMIT 5"
echo "the stream worker keeps ingesting page_views: new events show within a second"

say "analytics for Metabase"
psql -X -c "SELECT ecsync_create_analytics('shop')"
psql -X -c "SELECT business_day, orders, revenue, avg_order_value FROM analytics.sales_daily ORDER BY business_day DESC LIMIT 3"
echo "schema analytics: views over the stream, rollups refreshed by every batch run (docs/analytics.md)"

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
ingester/ecsync-ingest -c "$conf" --snapshot
ingester/ecsync-ingest -c "$conf" --stream --once -q
ingester/ecsync-ingest -c "$conf" --verify
(cd "$archive" && find . \( -path ./.tmp -o -name _manifest \) -prune -o -type f -name '*.csv' -print | sort | sed 's|^\./|  |' | head -n 12)
echo "load it back with: ingester/ecsync-ingest -c $conf --load-script --snapshot-id latest | psql"

say "the shop keeps selling: page views at $event_rate a second"
# a steady producer, stopped by "make stop" (its pid in the run directory)
if [ -f "$ECSYNC_RUN_DIR/producer.pid" ] && kill -0 "$(cat "$ECSYNC_RUN_DIR/producer.pid")" 2>/dev/null; then
	echo "already running (pid $(cat "$ECSYNC_RUN_DIR/producer.pid"))"
else
	setsid tests/gen/pvproduce -t page_views -n 1000000000 -r "$event_rate" --scale "$scale" -q \
		</dev/null >"$ECSYNC_RUN_DIR/producer.log" 2>&1 &
	echo $! >"$ECSYNC_RUN_DIR/producer.pid"
	echo "producer pid $!"
fi

cat <<EOT

The demo stack is running.  Watch it live (Ctrl-C quits):
  make watch
Connect with:
  eval "\$(tests/harness/stack.sh env demo)"
  psql                    # PostgreSQL 15, database ecsync: shop.* tables (page_views too),
                          # analytics.* (what Metabase charts), ecsync.status, ecsync.runs,
                          # ecsync.stream_status, ecsync.stream_partitions
  mariadb                 # MariaDB, database shop
  kcat -b \$ECSYNC_KAFKA_BROKERS -C -t page_views -o beginning -e
  ingester/ecsync-ingest -c $conf --stream     # keep archiving page views (Ctrl-C stops)
Logs and data: $ECSYNC_RUN_DIR (CSV archive in $archive)
Stop it with:  make stop
EOT
