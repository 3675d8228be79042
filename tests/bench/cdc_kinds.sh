# Benchmark group "cdc_kinds": change capture's rate per kind of change.
# ECSYNC_BENCH_KIND_ROWS (1 M) rows of a five-column table (bigint key,
# int, varchar, DATETIME, DECIMAL) are inserted, then every one updated
# (two columns), then every one deleted, each in 1,000-row transactions
# written to the binary log while the worker is stopped; the worker then
# applies each batch of changes on its own.  A rate runs from the first
# change of its kind seen applied (ecsync.cdc_table_status) to the last:
# the worker's start-up apart.  The updates are the hard case: every row of
# every (full) page changes in the same group, so none is a HOT update and
# each writes a new index entry.  Run by the cdc group; with the MySQL
# flavor of the stack (tests/harness/mysql9.sh) the line is cdc_kinds_mysql.
#
# Prints:
#   BENCH cdc_kinds rows=... inserts_cps=... updates_cps=... deletes_cps=... updates_vs_inserts=... deletes_vs_inserts=...
set -euo pipefail

export PGDATABASE=ecsync PGTZ=UTC
. "$ECSYNC_TOP/tests/bench/lib.sh"
n=${ECSYNC_BENCH_KIND_ROWS:-1000000}
db=cdck
name=cdc_kinds
[ "${ECSYNC_MYSQL_FLAVOR:-mariadb}" = mysql ] && name=cdc_kinds_mysql
my() { mariadb -N -B "$@"; }

my -e "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db"
my $db -e "CREATE TABLE k (id BIGINT PRIMARY KEY, n INT NOT NULL, s VARCHAR(40), t DATETIME, d DECIMAL(10,2))"
q -c "CREATE EXTENSION IF NOT EXISTS ecsync"
q -c "DROP SERVER IF EXISTS $db CASCADE" -c "DROP SCHEMA IF EXISTS $db CASCADE" \
	-c "DELETE FROM ecsync.sync_tables WHERE server_name = '$db'" \
	-c "DELETE FROM ecsync.cdc_servers WHERE server_name = '$db'" 2>/dev/null
mysql_server $db $db
q -c "SELECT ecsync_register_table('$db', 'k', 'k', mode => 'cdc', target_schema => '$db')" >/dev/null

status() { q -c "SELECT $1 FROM ecsync.cdc_status WHERE server_name = '$db'"; }
count() { q -c "SELECT $1 FROM ecsync.cdc_table_status WHERE server_name = '$db'"; }
stop() {
	q -c "SELECT ecsync_stop_cdc('$db')" >/dev/null
	while [ "$(status worker_running)" = t ]; do
		sleep 0.1
	done
}

# rate KIND TARGET: KIND changes applied per second, from the first one
# seen to the counter reaching TARGET; then the worker reaches the binary
# log's end and stops
rate() {
	local t0="" t1 c c0=0 m
	m=$(binlog_position)
	q -c "SELECT ecsync_start_cdc('$db')" >/dev/null
	while :; do
		c=$(count "$1")
		if [ -z "$t0" ] && [ "${c:-0}" -gt 0 ]; then
			t0=$(now)
			c0=$c
		fi
		[ "${c:-0}" -ge "$2" ] && break
		sleep 0.02
	done
	t1=$(now)
	# seen only once it was all applied: no rate to tell
	[ "$c0" -lt "$2" ] || { log "$name: every $1 applied before the first look: raise ECSYNC_BENCH_KIND_ROWS ($n)"; return 1; }
	until [ "$(status applied_position)" = "$m" ]; do sleep 0.05; done
	stop
	awk -v a="$t0" -v b="$t1" -v k="$(($2 - c0))" 'BEGIN { printf "%.0f", k / (b - a) }'
}

# statements SQL: SQL for every 1,000 ids (its two %d: the first, the last),
# one transaction each
statements() {
	local i
	for ((i = 1; i <= n; i += 1000)); do
		# shellcheck disable=SC2059
		printf "$1\n" "$i" "$((i + 999 > n ? n : i + 999))"
	done
}

log "$name: the snapshot of an empty table"
q -c "SELECT ecsync_start_cdc('$db')" >/dev/null
until [ "$(status tables_streaming)" = 1 ]; do sleep 0.1; done
stop
log "$name: $n inserts, then as many updates and deletes, in 1,000-row transactions"
statements 'INSERT INTO k WITH RECURSIVE r (i) AS (SELECT %d UNION ALL SELECT i + 1 FROM r WHERE i < %d)
	SELECT i, i %% 1000, CONCAT('"'"'name '"'"', i), TIMESTAMP '"'"'2026-01-01 00:00:00'"'"' + INTERVAL i SECOND, i / 100 FROM r;' | my $db
ins=$(rate inserts "$n")
statements 'UPDATE k SET n = n + 1, s = CONCAT(s, '"'"'!'"'"') WHERE id BETWEEN %d AND %d;' | my $db
upd=$(rate updates "$n")
[ "$(q -c "SELECT count(*) FROM $db.k WHERE s LIKE '%!'")" = "$n" ] || { log "$name: the updates did not all arrive"; exit 1; }
statements 'DELETE FROM k WHERE id BETWEEN %d AND %d;' | my $db
del=$(rate deletes "$n")
[ "$(q -c "SELECT count(*) FROM $db.k")" = 0 ] || { log "$name: rows are left after the deletes"; exit 1; }
q -c "SELECT ecsync_unregister_table('k', '$db')" -c "DROP SCHEMA $db CASCADE" -c "DROP SERVER $db CASCADE" >/dev/null 2>&1 || true
my -e "DROP DATABASE $db"
awk -v name="$name" -v n="$n" -v i="$ins" -v u="$upd" -v d="$del" 'BEGIN {
	printf "BENCH %s rows=%d inserts_cps=%d updates_cps=%d deletes_cps=%d updates_vs_inserts=%.2f deletes_vs_inserts=%.2f\n",
		name, n, i, u, d, u / i, d / i }'
