# Benchmark group "batch": a full sync of sales_details (ECSYNC_BENCH_ROWS
# rows, docs/design.md, "The numbers to beat") by ecsync_run_batch(), side by side with a plain
# COPY of the same rows from a file, pgloader and mysql_fdw INSERT ... SELECT
# into the same table shape; then an incremental sync after 1 % of the rows
# changed.  Prints:
#   BENCH batch_full rows=... ecsync_s=... copy_s=... pgloader_s=... mysql_fdw_s=... ecsync_peak_rss_mb=... maintained_s=...
#   BENCH batch_incremental rows=... changed=... incremental_s=... full_s=...
#   BENCH batch_shop rows=... fk_s=... nofk_s=... zoned_s=... analytics_refresh_s=...
#   BENCH analytics_incremental full_s=... incremental_s=... incremental_vs_full=...
set -euo pipefail

rows=$ECSYNC_BENCH_ROWS
scale=$(awk -v r="$rows" 'BEGIN { printf "%.6g", r / 4500000 }')
mypw=$(cat "$ECSYNC_MYSQL_PASSWORD_FILE")
pgpw=$(cut -d: -f5 "$PGPASSFILE")
export PGDATABASE=bench PGTZ=UTC
. "$ECSYNC_TOP/tests/bench/lib.sh"

log "loading the shop at scale $scale into MariaDB"
"$ECSYNC_TOP/tests/harness/load-shop.sh" --stack "${ECSYNC_STACK:-bench}" --database bench --scale "$scale" --seed 1
tsv=$ECSYNC_RUN_DIR/shop-$scale-1/sales_details.tsv
n=$(mariadb -N bench -e "SELECT count(*) FROM sales_details")

q -d ecsync -c "DROP DATABASE IF EXISTS bench" -c "CREATE DATABASE bench"
# secrets go to psql on stdin, never on a command line
q <<EOF
CREATE EXTENSION ecsync;
CREATE SERVER src FOREIGN DATA WRAPPER ecsync_mysql
  OPTIONS (host '127.0.0.1', port '$ECSYNC_MYSQL_PORT', database 'bench');
CREATE USER MAPPING FOR CURRENT_USER SERVER src OPTIONS (user 'ecsync', password '$mypw');
SELECT ecsync_register_table('src', 'sales_details', target_schema => 'e');
EOF

# timed_run TARGET prints the seconds of one ecsync_run_batch(TARGET) and
# leaves the worker's peak RSS in $ECSYNC_RUN_DIR/last_rss (it runs in $(...))
timed_run() {
	local f=$ECSYNC_RUN_DIR/rss.$$ t0 t1
	rm -f "$f" "$f.stop"
	peak_rss "$f" "ecsync batch for pid" &
	local sampler=$!
	quiesce
	t0=$(now)
	q -c "SELECT * FROM ecsync_run_batch('$1')" >&2
	t1=$(now)
	touch "$f.stop"
	wait $sampler
	mv "$f" "$ECSYNC_RUN_DIR/last_rss"
	rm -f "$f.stop"
	secs "$t0" "$t1"
}

log "ecsync: first run (creates e.sales_details)"
q -c "SELECT * FROM ecsync_run_batch('e.sales_details')" >&2
q -c "ALTER TABLE e.sales_details SET (autovacuum_enabled = off)"
log "ecsync: timed full runs (best of 2)"
e1=$(timed_run e.sales_details)
e2=$(timed_run e.sales_details)
ecsync_s=$(best "$e1" "$e2")
ecsync_rss=$(cat "$ECSYNC_RUN_DIR/last_rss")
[ "$(q -c 'SELECT count(*) FROM e.sales_details')" = "$n" ] || { log "ecsync copied the wrong number of rows"; exit 1; }
# what building the indexes after the load gains: the same run maintaining
# them row by row (ecsync.batch_index_after_load = off, as in 0.3)
log "ecsync: a timed full run maintaining the indexes row by row"
q -c "ALTER DATABASE bench SET ecsync.batch_index_after_load = off"
maintained_s=$(timed_run e.sales_details)
q -c "ALTER DATABASE bench RESET ecsync.batch_index_after_load"
# what the server option bigint_unsigned 'bigint' gains: the ids as 8-byte
# integers instead of numeric(20,0) (a table of another shape than the
# anchors', so reported on its own)
log "ecsync: a timed full run with bigint_unsigned 'bigint'"
q -c "ALTER SERVER src OPTIONS (ADD bigint_unsigned 'bigint')" -c "DROP TABLE e.sales_details"
q -c "SELECT * FROM ecsync_run_batch('e.sales_details')" >&2
q -c "ALTER TABLE e.sales_details SET (autovacuum_enabled = off)"
bigint_s=$(timed_run e.sales_details)
q -c "ALTER SERVER src OPTIONS (DROP bigint_unsigned)" -c "DROP TABLE e.sales_details"
q -c "SELECT * FROM ecsync_run_batch('e.sales_details')" >&2
q -c "ALTER TABLE e.sales_details SET (autovacuum_enabled = off)"

log "COPY of the same rows from a file into the same table shape (best of 2)"
q -c "CREATE SCHEMA c" -c "CREATE TABLE c.sales_details (LIKE e.sales_details INCLUDING ALL) WITH (autovacuum_enabled = off)"
copy_s=$(copy_best c.sales_details "$tsv")

log "pgloader (4 workers) into the same table shape"
q -c "CREATE SCHEMA p" -c "CREATE TABLE p.sales_details (LIKE e.sales_details INCLUDING ALL) WITH (autovacuum_enabled = off)"
cmd=$ECSYNC_RUN_DIR/pgloader.load
( umask 077; cat >"$cmd" <<EOF
LOAD DATABASE
  FROM mysql://ecsync:$mypw@127.0.0.1:$ECSYNC_MYSQL_PORT/bench
  INTO postgresql://postgres:$pgpw@127.0.0.1:$PGPORT/bench
  WITH create no tables, create no indexes, no foreign keys, reset no sequences,
       truncate, workers = 4, concurrency = 1
  INCLUDING ONLY TABLE NAMES MATCHING 'sales_details'
  ALTER SCHEMA 'bench' RENAME TO 'p';
EOF
)
quiesce
t0=$(now)
if pgloader --quiet "$cmd" >"$ECSYNC_RUN_DIR/pgloader.log" 2>&1 &&
	[ "$(q -c 'SELECT count(*) FROM p.sales_details')" = "$n" ]; then
	pgloader_s=$(secs "$t0" "$(now)")
else
	log "pgloader failed or loaded the wrong row count; see $ECSYNC_RUN_DIR/pgloader.log"
	tail -n 5 "$ECSYNC_RUN_DIR/pgloader.log" >&2
	pgloader_s=failed
fi
rm -f "$cmd"

log "mysql_fdw INSERT ... SELECT (fetch_size 100000) into the same table shape"
q <<EOF
CREATE EXTENSION mysql_fdw;
CREATE SERVER fdw_src FOREIGN DATA WRAPPER mysql_fdw
  OPTIONS (host '127.0.0.1', port '$ECSYNC_MYSQL_PORT', fetch_size '100000');
CREATE USER MAPPING FOR CURRENT_USER SERVER fdw_src OPTIONS (username 'ecsync', password '$mypw');
CREATE SCHEMA f;
CREATE TABLE f.sales_details (LIKE e.sales_details INCLUDING ALL) WITH (autovacuum_enabled = off);
CREATE FOREIGN TABLE f.src_details (id numeric(20,0), sale_id numeric(20,0), product_id bigint,
  quantity integer, unit_price numeric(10,2), updated_at timestamptz)
  SERVER fdw_src OPTIONS (dbname 'bench', table_name 'sales_details');
EOF
quiesce
t0=$(now)
if q -c "INSERT INTO f.sales_details SELECT * FROM f.src_details" >/dev/null; then
	mysql_fdw_s=$(secs "$t0" "$(now)")
else
	mysql_fdw_s=failed
fi

# memory must not grow with the table: the same sync at 1 M rows
rss_1m=n/a
if [ "$n" -gt 1000000 ]; then
	log "ecsync at 1 M rows, for memory"
	mariadb bench -e "DROP TABLE IF EXISTS sales_details_1m;
		CREATE TABLE sales_details_1m LIKE sales_details;
		INSERT INTO sales_details_1m SELECT * FROM sales_details WHERE id <= 1000000"
	q -c "SELECT ecsync_register_table('src', 'sales_details_1m', target_schema => 'e')" >/dev/null
	timed_run e.sales_details_1m >/dev/null
	rss_1m=$(cat "$ECSYNC_RUN_DIR/last_rss")
fi

# the anchors' copies would crowd the incremental target out of
# shared_buffers: a deployment keeps one copy, so the bench does too
q -c "DROP SCHEMA c, p, f CASCADE" -c "DROP TABLE e.sales_details_1m" 2>/dev/null || true
q -c "DROP TABLE e.sales_details"
q -c "SELECT ecsync_unregister_table('sales_details', 'e'), ecsync_unregister_table('sales_details_1m', 'e')" >/dev/null

log "incremental: initial full copy"
q -c "SELECT ecsync_register_table('src', 'sales_details', target_schema => 'i', mode => 'incremental')" >/dev/null
q -c "SELECT * FROM ecsync_run_batch('i.sales_details')" >&2
q -c "ALTER TABLE i.sales_details SET (autovacuum_enabled = off)" -c "VACUUM ANALYZE i.sales_details"
# first the newest 1 % (recent orders: few pages), so that no earlier change
# sits in its look-back window; then 1 % spread over every page
log "incremental: the newest 1 % of the rows change"
changed_recent=$(mariadb -N bench -e "UPDATE sales_details SET quantity = quantity + 1 WHERE id > (SELECT MAX(id) FROM sales_details) - $n / 100; SELECT ROW_COUNT()")
incremental_recent_s=$(timed_run i.sales_details)
log "incremental: 1 % of the rows change, spread over the whole table"
changed=$(mariadb -N bench -e "UPDATE sales_details SET quantity = quantity + 1 WHERE id % 100 = 0; SELECT ROW_COUNT()")
incremental_s=$(timed_run i.sales_details)
[ "$(q -c 'SELECT sum(quantity) FROM i.sales_details')" = "$(mariadb -N bench -e 'SELECT sum(quantity) FROM sales_details')" ] ||
	{ log "incremental result differs from MySQL"; exit 1; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'; }

# The whole shop, full: with MySQL's foreign keys carried over (the default:
# loads without referential checks), without them, and with DATETIME as
# Tokyo instants (text COPY for the tables that have one); then what
# refreshing the analytics rollups adds to a run.
q -c "SELECT ecsync_unregister_table('sales_details', 'i')" -c "DROP SCHEMA i CASCADE" >/dev/null
shop_run() {	# the seconds of one ecsync_run_batch() of every registered table
	local t0 t1
	quiesce
	t0=$(now)
	q -c "SELECT * FROM ecsync_run_batch()" >&2
	t1=$(now)
	secs "$t0" "$t1"
}
q -c "DROP SCHEMA IF EXISTS s CASCADE" -c "CREATE SCHEMA s"
q -c "SELECT count(*) FROM ecsync_register_shop('src', 's', 'full')" >/dev/null
log "whole shop: first run (creates the targets and their foreign keys)"
q -c "SELECT * FROM ecsync_run_batch()" >&2
shop_rows=$(q -c "SELECT (SELECT count(*) FROM s.users) + (SELECT count(*) FROM s.products) + (SELECT count(*) FROM s.sales) + (SELECT count(*) FROM s.sales_details)")
[ "$(q -c "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = 's'::regnamespace")" = 3 ] ||
	{ log "the shop's foreign keys were not carried over"; exit 1; }
log "whole shop: timed runs with the foreign keys (best of 2)"
fk_s=$(best "$(shop_run)" "$(shop_run)")
q -c "ALTER DATABASE bench SET ecsync.batch_carry_foreign_keys = off"
q -c "ALTER TABLE s.sales DROP CONSTRAINT ecsync_fk_sales_user_fk" \
  -c "ALTER TABLE s.sales_details DROP CONSTRAINT ecsync_fk_details_sale_fk, DROP CONSTRAINT ecsync_fk_details_product_fk"
log "whole shop: timed runs without them (best of 2)"
nofk_s=$(best "$(shop_run)" "$(shop_run)")
q -c "ALTER DATABASE bench RESET ecsync.batch_carry_foreign_keys"
log "whole shop: DATETIME in Asia/Tokyo (timestamptz, text COPY for three tables; best of 2)"
q -c "ALTER SERVER src OPTIONS (ADD datetime_zone 'Asia/Tokyo')"
q -c "DROP SCHEMA s CASCADE" -c "CREATE SCHEMA s"
q -c "SELECT * FROM ecsync_run_batch()" >/dev/null
zoned_s=$(best "$(shop_run)" "$(shop_run)")
log "analytics: the rollups' refresh at this size"
q -c "CREATE TABLE s.page_views (user_id bigint, age smallint, gender text, occupation text, page text, viewed_at timestamptz)"
q -c "SELECT ecsync_create_analytics('s', analytics_schema => 'a')" >/dev/null
t0=$(now)
q -c "SELECT ecsync_refresh_analytics('a', full_refresh => true)" >/dev/null
refresh_s=$(secs "$t0" "$(now)")

# A run that changed 1 % of the shop: the shop registered incremental, the
# lines of the newest 1 % of the orders change quantity and a twentieth of
# those orders are cancelled (what a shop's day changes: recent orders);
# the refresh the run does, timed by the layer (refresh_seconds), against a
# full recompute of the same layer.  Then the rollups must equal a layer
# made from scratch.
log "analytics: an incremental run after 1 % of the shop changed"
q -c "SELECT count(*) FROM ecsync_register_shop('src', 's', 'incremental')" >/dev/null
q -c "SELECT * FROM ecsync_run_batch()" >&2	# the initial full copy, a full recompute
inc_full_s=$(q -c "SELECT round(refresh_seconds::numeric, 2) FROM ecsync.analytics_layers WHERE schema_name = 'a'")
recent=$(mariadb -N bench -e "SELECT max(id) - count(*) DIV 100 FROM sales")
inc_changed=$(mariadb -N bench -e "UPDATE sales_details SET quantity = quantity + 1 WHERE sale_id > $recent; SELECT ROW_COUNT();
	UPDATE sales SET status = 'cancelled' WHERE id > $recent AND id % 20 = 0; SELECT ROW_COUNT();" | paste -sd+ | bc)
quiesce
q -c "SELECT * FROM ecsync_run_batch()" >&2
inc_mode=$(q -c "SELECT refresh_mode FROM ecsync.analytics_layers WHERE schema_name = 'a'")
inc_s=$(q -c "SELECT round(refresh_seconds::numeric, 2) FROM ecsync.analytics_layers WHERE schema_name = 'a'")
log "analytics: $inc_changed rows changed; refresh: $inc_mode"
case $inc_mode in incremental:*) ;; *) log "the run did not refresh incrementally: $inc_mode"; exit 1 ;; esac
q -c "SELECT ecsync_create_analytics('s', analytics_schema => 'a_check', refresh_with_runs => false)" >/dev/null
for t in sales_daily orders_by_status product_sales_daily product_ranking category_ranking segment_sales customer_category_sales; do
	d=$(q -c "SELECT count(*) FROM ((SELECT * FROM a.$t EXCEPT ALL SELECT * FROM a_check.$t)
	          UNION ALL (SELECT * FROM a_check.$t EXCEPT ALL SELECT * FROM a.$t)) x")
	[ "$d" = 0 ] || { log "analytics: $d rows of a.$t differ from a full recompute"; exit 1; }
done
q -c "DROP SCHEMA a_check CASCADE"
log "ecsync runs: $e1 s, $e2 s"
echo "BENCH batch_full rows=$n ecsync_s=$ecsync_s copy_s=$copy_s pgloader_s=$pgloader_s mysql_fdw_s=$mysql_fdw_s ecsync_peak_rss_mb=$ecsync_rss ecsync_peak_rss_mb_1m=$rss_1m ecsync_vs_copy=$(ratio "$ecsync_s" "$copy_s") pgloader_vs_ecsync=$(ratio "$pgloader_s" "$ecsync_s") mysql_fdw_vs_ecsync=$(ratio "$mysql_fdw_s" "$ecsync_s") maintained_s=$maintained_s maintained_vs_ecsync=$(ratio "$maintained_s" "$ecsync_s") bigint_s=$bigint_s ecsync_vs_bigint=$(ratio "$ecsync_s" "$bigint_s") pgloader_vs_bigint=$(ratio "$pgloader_s" "$bigint_s")"
echo "BENCH batch_shop rows=$shop_rows fk_s=$fk_s nofk_s=$nofk_s fk_vs_nofk=$(ratio "$fk_s" "$nofk_s") zoned_s=$zoned_s zoned_vs_nofk=$(ratio "$zoned_s" "$nofk_s") analytics_refresh_s=$refresh_s refresh_vs_run=$(ratio "$refresh_s" "$fk_s")"
echo "BENCH analytics_incremental changed=$inc_changed full_s=$inc_full_s incremental_s=$inc_s incremental_vs_full=$(ratio "$inc_s" "$inc_full_s")"
echo "BENCH batch_incremental rows=$n changed=$changed_recent incremental_s=$incremental_recent_s full_s=$ecsync_s incremental_vs_full=$(ratio "$incremental_recent_s" "$ecsync_s") changed_spread=$changed incremental_spread_s=$incremental_s incremental_spread_vs_full=$(ratio "$incremental_s" "$ecsync_s")"
