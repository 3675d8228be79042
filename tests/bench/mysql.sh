# Benchmark group "mysql": the batch and change-capture benchmarks against a
# real MySQL 9.x (Debian sid's build, tests/harness/mysql9.sh), the shop's
# real database, on a stack of its own ("mysql9-bench", started and stopped
# here; the other groups run on MariaDB):
#   - batch_full_mysql: a full sync of sales_details (ECSYNC_BENCH_ROWS rows)
#     by ecsync_run_batch(), best of 2, beside a plain COPY of the same rows
#     from a file into the same table shape (pgloader and mysql_fdw are
#     measured against MariaDB, in the batch group);
#   - cdc_apply_mysql: the cdc group's binary log (cdc_workload.py --bench,
#     ECSYNC_BENCH_CDC_CHANGES changes of shop transactions) applied by
#     ecsync's worker from the position of its snapshot;
#   - cdc_kinds_mysql: inserts, updates and deletes apart (cdc_kinds.sh).
# Prints:
#   BENCH batch_full_mysql rows=... ecsync_s=... copy_s=... ecsync_vs_copy=...
#   BENCH cdc_apply_mysql changes=... ecsync_cps=... ecsync_s=... mysql_write_cps=... ecsync_peak_rss_mb=...
#   BENCH cdc_kinds_mysql ...
set -euo pipefail

stack=mysql9-bench
"$ECSYNC_TOP/tests/harness/stack.sh" start $stack --fresh >/dev/null
trap '"$ECSYNC_TOP/tests/harness/stack.sh" stop $stack >/dev/null 2>&1' EXIT
eval "$("$ECSYNC_TOP/tests/harness/stack.sh" env $stack)"
export PGDATABASE=ecsync PGTZ=UTC
. "$ECSYNC_TOP/tests/bench/lib.sh"
rows=$ECSYNC_BENCH_ROWS
target=${ECSYNC_BENCH_CDC_CHANGES:-2000000}
scale=$(awk -v r="$rows" 'BEGIN { printf "%.6g", r / 4500000 }')
my() { mariadb -N -B "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'; }
q -c "CREATE EXTENSION IF NOT EXISTS ecsync"

# ---- batch_full_mysql ----
log "mysql: loading the shop at scale $scale into MySQL $(my -e 'SELECT VERSION()')"
"$ECSYNC_TOP/tests/harness/load-shop.sh" --stack $stack --database bench --scale "$scale" --seed 1 >/dev/null
tsv=$ECSYNC_RUN_DIR/shop-$scale-1/sales_details.tsv
n=$(my bench -e "SELECT count(*) FROM sales_details")
mysql_server src bench
q -c "SELECT ecsync_register_table('src', 'sales_details', target_schema => 'e')" >/dev/null
q -c "SELECT * FROM ecsync_run_batch('e.sales_details')" >/dev/null
q -c "ALTER TABLE e.sales_details SET (autovacuum_enabled = off)"
runs=()
for i in 1 2; do
	quiesce
	t0=$(now)
	q -c "SELECT * FROM ecsync_run_batch('e.sales_details')" >/dev/null
	runs+=("$(secs "$t0" "$(now)")")
done
ecsync_s=$(best "${runs[@]}")
[ "$(q -c 'SELECT count(*) FROM e.sales_details')" = "$n" ] || { log "mysql: ecsync copied the wrong number of rows"; exit 1; }
q -c "CREATE SCHEMA c" -c "CREATE TABLE c.sales_details (LIKE e.sales_details INCLUDING ALL) WITH (autovacuum_enabled = off)"
copy_s=$(copy_best c.sales_details "$tsv")
log "mysql: ecsync runs ${runs[*]} s"
echo "BENCH batch_full_mysql rows=$n ecsync_s=$ecsync_s copy_s=$copy_s ecsync_vs_copy=$(ratio "$ecsync_s" "$copy_s")"
q -c "SELECT ecsync_unregister_table('sales_details', 'e')" -c "DROP SCHEMA e, c CASCADE" >/dev/null
my -e "DROP DATABASE bench"

# ---- cdc_apply_mysql ----
db=cdcm
log "mysql: the shop at scale 0.01 in $db, its snapshot, then about $target row changes"
"$ECSYNC_TOP/tests/harness/load-shop.sh" --stack $stack --database $db --scale 0.01 --seed 41 >/dev/null 2>&1
my $db -e "CREATE TABLE bench_marker (id INT PRIMARY KEY, changes BIGINT NOT NULL); INSERT INTO bench_marker VALUES (1, 0)"
counts=$(my $db -e "SELECT CONCAT('--users ', (SELECT count(*) FROM users), ' --products ', (SELECT count(*) FROM products),
	' --sales ', (SELECT max(id) FROM sales), ' --details ', (SELECT max(id) FROM sales_details))")
mysql_server $db $db "bigint_unsigned 'bigint'"
q -c "SELECT count(*) FROM ecsync_register_shop('$db', '$db', 'cdc')" \
	-c "SELECT ecsync_register_table('$db', 'bench_marker', 'bench_marker', mode => 'cdc', target_schema => '$db')" >/dev/null
q -c "SELECT ecsync_start_cdc('$db')" >/dev/null
until [ "$(q -c "SELECT applied_position FROM ecsync.cdc_status WHERE server_name = '$db'")" = "$(binlog_position)" ] &&
	[ "$(q -c "SELECT tables_streaming FROM ecsync.cdc_status WHERE server_name = '$db'")" = 5 ]; do
	sleep 0.5
done
q -c "SELECT ecsync_stop_cdc('$db')" >/dev/null
while [ "$(q -c "SELECT worker_running FROM ecsync.cdc_status WHERE server_name = '$db'")" = t ]; do sleep 0.2; done
t0=$(now)
# shellcheck disable=SC2086
changes=$(python3 "$ECSYNC_TOP/tests/gen/cdc_workload.py" --bench "$target" --seed 41 $counts 2>"$ECSYNC_RUN_DIR/bench-changes" |
	my $db && cat "$ECSYNC_RUN_DIR/bench-changes")
write_s=$(secs "$t0" "$(now)")
log "mysql: MySQL wrote $changes row changes in $write_s s"
cdc_apply_timed $db $db "$changes"
awk -v n="$changes" -v e="$cdc_s" -v w="$write_s" -v r="$cdc_rss" 'BEGIN {
	printf "BENCH cdc_apply_mysql changes=%d ecsync_cps=%.0f ecsync_s=%.2f mysql_write_cps=%.0f ecsync_peak_rss_mb=%s\n",
		n, n / e, e, n / w, r }'

# ---- cdc_kinds_mysql ----
bash "$ECSYNC_TOP/tests/bench/cdc_kinds.sh"
