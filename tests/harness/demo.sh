#!/usr/bin/env bash
# demo.sh is ecsync's main job (make run): install what is missing, build and
# install ecsync, start the local "demo" stack, load the sample shop into
# MariaDB, send page views to Kafka and install the extension in
# PostgreSQL.  The stack keeps running until "make stop".
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
printf 'page_views: %s events in 4 partitions\n' \
	"$(kcat -b "$ECSYNC_KAFKA_BROKERS" -C -t page_views -o beginning -e -q -f '.' | wc -c)"

say "ecsync in PostgreSQL"
psql -X -q -c "CREATE EXTENSION IF NOT EXISTS ecsync" -c "CREATE EXTENSION IF NOT EXISTS pg_cron"
psql -X -c "SELECT ecsync_version()" -c "SELECT * FROM ecsync_library_versions()"

cat <<EOT

The demo stack is running.  Connect with:
  eval "\$(tests/harness/stack.sh env demo)"
  psql                    # PostgreSQL 15, database ecsync (pg_cron + ecsync)
  mariadb                 # MariaDB, database shop
  kcat -b \$ECSYNC_KAFKA_BROKERS -C -t page_views -o beginning -e
Logs and data: $ECSYNC_RUN_DIR
Stop it with:  make stop
EOT
