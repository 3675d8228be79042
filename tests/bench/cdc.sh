# Benchmark group "cdc": change capture from MariaDB's binary log.
#
# cdc_apply: a pre-written binary log of ECSYNC_BENCH_CDC_CHANGES (2 M) row
# changes on the sample shop (per transaction 20 sales and their 60
# details inserted, 6 sales updated, 2 details deleted) is applied by
# ecsync's cdc worker and, in the same run, by pg_chameleon (PyPI, the
# open-source MySQL-to-PostgreSQL replica) from the same position, each
# after an initial copy of the same tables.  pg_chameleon gets at most
# ECSYNC_BENCH_CHAMELEON_SECS (600 s): its rate is the row changes it had
# applied by then (bench_marker holds the count every 100,000 changes).
# Debezium (3.6.1, Maven Central: its embedded engine and MySQL connector,
# tests/bench/debezium, built by tests/harness/debezium.sh) applies the same
# changes from the same position into its own copy of ecsync's snapshot
# (schema dbz), the PostgreSQL side written as Debezium's JDBC sink writes it
# (batched upserts and deletes by key through pgJDBC); at most
# ECSYNC_BENCH_DEBEZIUM_SECS (600 s).  Its time runs from the first change it
# receives to the commit of the last (JVM and connector start-up apart, as
# debezium_startup_s).  When it cannot run, debezium_cps=0 and
# debezium_reason says why.
#
# cdc_latency: row changes committed in MariaDB at a steady 5,000/s (50-row
# transactions every 10 ms) for 30 s; a poller notes when each row becomes
# visible in PostgreSQL; the latency is visible time - MariaDB's commit
# time (CURRENT_TIMESTAMP(6) of the row), on the same clock.
#
# Prints:
#   BENCH cdc_apply changes=... ecsync_cps=... chameleon_cps=... ecsync_vs_chameleon=... ...
#         debezium_cps=... debezium_s=... ecsync_vs_debezium=... ...
#   BENCH cdc_latency rate=5000 p50_ms=... p99_ms=... max_ms=...
#   BENCH cdc_kinds ... (inserts, updates and deletes apart: cdc_kinds.sh)
set -euo pipefail

export PGDATABASE=ecsync PGTZ=UTC
. "$ECSYNC_TOP/tests/bench/lib.sh"
target=${ECSYNC_BENCH_CDC_CHANGES:-2000000}
cham_secs=${ECSYNC_BENCH_CHAMELEON_SECS:-600}
dbz_secs=${ECSYNC_BENCH_DEBEZIUM_SECS:-600}
db=cdcb
my() { mariadb -N -B "$@"; }
pw=$(cat "$ECSYNC_MYSQL_PASSWORD_FILE")

log "loading the shop into MariaDB $db"
"$ECSYNC_TOP/tests/harness/load-shop.sh" --stack "${ECSYNC_STACK:-bench}" --database $db --scale 0.01 --seed 41 >/dev/null 2>&1
my $db -e "CREATE TABLE bench_marker (id INT PRIMARY KEY, changes BIGINT NOT NULL); INSERT INTO bench_marker VALUES (1, 0)"
counts=$(my $db -e "SELECT CONCAT('--users ', (SELECT count(*) FROM users), ' --products ', (SELECT count(*) FROM products),
	' --sales ', (SELECT max(id) FROM sales), ' --details ', (SELECT max(id) FROM sales_details))")

# ---- ecsync: snapshot now, apply later ----
q -c "CREATE EXTENSION IF NOT EXISTS ecsync"
q -c "DROP SERVER IF EXISTS cdcb CASCADE" -c "DROP SCHEMA IF EXISTS cdcb CASCADE"
# (and a run's registrations before: a re-run on the same stack starts anew)
q -c "DELETE FROM ecsync.sync_tables WHERE server_name = 'cdcb'" -c "DELETE FROM ecsync.cdc_servers WHERE server_name = 'cdcb'"
# bigint unsigned ids as bigint, as pg_chameleon maps them (and as a shop
# charting in Metabase would)
mysql_server cdcb $db "bigint_unsigned 'bigint'"
q -c "SELECT count(*) FROM ecsync_register_shop('cdcb', 'cdcb', 'cdc')" \
	-c "SELECT ecsync_register_table('cdcb', 'bench_marker', 'bench_marker', mode => 'cdc', target_schema => 'cdcb')" >/dev/null
q -c "SELECT ecsync_start_cdc('cdcb')" >/dev/null
until [ "$(q -c "SELECT applied_position FROM ecsync.cdc_status WHERE server_name = 'cdcb'")" = "$(binlog_position)" ] &&
	[ "$(q -c "SELECT tables_streaming FROM ecsync.cdc_status WHERE server_name = 'cdcb'")" = 5 ]; do
	sleep 0.5
done
q -c "SELECT ecsync_stop_cdc('cdcb')" >/dev/null
while [ -n "$(q -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'ecsync cdc'")" ]; do sleep 0.2; done
log "ecsync: snapshot taken, worker stopped"

# ---- Debezium: a copy of ecsync's snapshot, and the position it is at ----
# (no foreign keys: the sink applies a batch table by table, as Debezium's
# JDBC sink does; pg_chameleon's copy has none either)
dbz=$ECSYNC_RUN_DIR/debezium
rm -rf "$dbz"
mkdir -p "$dbz"
dbz_reason=
dbz_pos=$(q -c "SELECT applied_position FROM ecsync.cdc_status WHERE server_name = 'cdcb'")
q -c "DROP SCHEMA IF EXISTS dbz CASCADE" -c "CREATE SCHEMA dbz" 2>/dev/null
for t in users products sales sales_details bench_marker; do
	q -c "CREATE TABLE dbz.$t (LIKE cdcb.$t INCLUDING ALL)" -c "INSERT INTO dbz.$t SELECT * FROM cdcb.$t"
done
if ! command -v java >/dev/null; then
	dbz_reason=no_java
elif ! dbz_jar=$("$ECSYNC_TOP/tests/harness/debezium.sh" 2>"$dbz/build.err"); then
	cat "$dbz/build.err" >&2
	dbz_reason=build_failed
fi
[ -z "$dbz_reason" ] || log "Debezium cannot run ($dbz_reason): the bench goes on without it"
log "Debezium: a copy of the snapshot in schema dbz, to apply from $dbz_pos"

# ---- pg_chameleon: its own venv and HOME, as a user other than root ----
cham=$ECSYNC_RUN_DIR/chameleon
venv=$ECSYNC_TOP/.run/pg_chameleon-2.0.21	# kept across bench stacks
mkdir -p "$cham" "$venv"
chown postgres: "$cham" "$venv"
as_pg() { runuser -u postgres -- env HOME="$cham" "$@"; }
if [ ! -x "$venv/bin/chameleon" ]; then
	log "installing pg_chameleon 2.0.21 from PyPI into $venv"
	as_pg python3 -m venv "$venv"
	as_pg "$venv/bin/pip" install -q pg_chameleon==2.0.21 >&2
fi
pgpw=$(awk -F: -v p="$PGPORT" -v u="$PGUSER" '($2 == p || $2 == "*") && $4 == u { print $5; exit }' "$PGPASSFILE")
q -c "DROP DATABASE IF EXISTS chameleon WITH (FORCE)" -c "CREATE DATABASE chameleon"
as_pg "$venv/bin/chameleon" set_configuration_files >/dev/null 2>&1 || true
mkdir -p "$cham/.pg_chameleon/configuration" "$cham/logs" "$cham/pid"
cat >"$cham/.pg_chameleon/configuration/default.yml" <<EOF
---
pid_dir: '$cham/pid/'
log_dir: '$cham/logs/'
log_dest: file
log_level: info
log_days_keep: 1
rollbar_key: ''
rollbar_env: ''
type_override: {}
pg_conn:
  host: "127.0.0.1"
  port: "$PGPORT"
  user: "$PGUSER"
  password: "$pgpw"
  database: "chameleon"
  charset: "utf8"
sources:
  mysql:
    db_conn:
      host: "127.0.0.1"
      port: "$ECSYNC_MYSQL_PORT"
      user: "ecsync"
      password: "$pw"
      charset: 'utf8'
      connect_timeout: 10
    schema_mappings:
      $db: cham
    limit_tables: []
    skip_tables: []
    grant_select_to: []
    lock_timeout: "120s"
    my_server_id: 4242
    replica_batch_size: 10000
    replay_max_rows: 10000
    batch_retention: '1 day'
    copy_max_memory: "300M"
    copy_mode: 'file'
    out_dir: $cham
    sleep_loop: 1
    on_error_replay: continue
    on_error_read: continue
    auto_maintenance: "disabled"
    gtid_enable: false
    type: mysql
    skip_events:
      insert: []
      delete: []
      update: []
    keep_existing_schema: No
    net_read_timeout: 600
EOF
chown -R postgres: "$cham"
chameleon() { as_pg "$venv/bin/chameleon" "$@" --config default; }
chameleon create_replica_schema >/dev/null
chameleon add_source --source mysql >/dev/null
log "pg_chameleon: initial copy (init_replica)"
# --debug: in the foreground (a daemon of its own would outlive our control)
chameleon init_replica --source mysql --debug >"$cham/init.log" 2>&1 ||
	{ tail -n 20 "$cham/init.log" >&2; log "pg_chameleon init_replica failed"; exit 1; }
[ "$(q -d chameleon -c "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'cham'")" = 5 ] ||
	{ log "pg_chameleon did not copy the tables (see $cham/logs)"; exit 1; }
log "pg_chameleon: copy done"

# ---- the binary log all three apply ----
log "writing about $target row changes into MariaDB's binary log"
t0=$(now)
# shellcheck disable=SC2086
changes=$(python3 "$ECSYNC_TOP/tests/gen/cdc_workload.py" --bench "$target" --seed 41 $counts 2>"$ECSYNC_RUN_DIR/bench-changes" |
	my $db && cat "$ECSYNC_RUN_DIR/bench-changes")
t1=$(now)
write_s=$(secs "$t0" "$t1")
log "MariaDB wrote $changes row changes in $write_s s"

# ---- ecsync applies them ----
cdc_apply_timed cdcb cdcb "$changes"
ecsync_s=$cdc_s
rss=$cdc_rss
log "ecsync: $changes row changes in $ecsync_s s, peak RSS $rss MB"

# ---- pg_chameleon applies them ----
quiesce
log "pg_chameleon: start_replica (at most $cham_secs s)"
t0=$(now)
chameleon start_replica --source mysql --debug >"$cham/replica.log" 2>&1 &
replica=$!
t1=$(q -d chameleon -c "DO \$\$ DECLARE deadline timestamptz := clock_timestamp() + interval '$cham_secs seconds'; BEGIN
	  WHILE coalesce((SELECT changes FROM cham.bench_marker WHERE id = 1), 0) < $changes
	        AND clock_timestamp() < deadline LOOP
	    PERFORM pg_sleep(0.2);
	  END LOOP; END \$\$" -c "SELECT extract(epoch FROM clock_timestamp())" | tail -n 1)
cham_done=$(q -d chameleon -c "SELECT coalesce((SELECT changes FROM cham.bench_marker WHERE id = 1), 0)")
kill "$replica" 2>/dev/null || true
pkill -u postgres -f "chameleon.*start_replica" 2>/dev/null || true
wait "$replica" 2>/dev/null || true
cham_s=$(secs "$t0" "$t1")
log "pg_chameleon: $cham_done of $changes row changes in $cham_s s"

# ---- Debezium applies them ----
dbz_done=0 dbz_s=0 dbz_startup=0 dbz_rss=0
if [ -z "$dbz_reason" ]; then
	quiesce
	log "Debezium: embedded engine from $dbz_pos (at most $dbz_secs s)"
	f=$dbz/rss
	rm -f "$f" "$f.stop"
	peak_rss "$f" "^java .*debezium-apply-1.jar" &
	sampler=$!
	rc=0
	# the engine's own deadline is $dbz_secs; timeout(1) only for a JVM that hangs
	PGPASSWORD=$pgpw timeout -k 10 $((dbz_secs + 120)) java -Xmx2g -jar "$dbz_jar" \
		mysql.host=127.0.0.1 mysql.port="$ECSYNC_MYSQL_PORT" mysql.database=$db mysql.user=ecsync \
		mysql.password.file="$ECSYNC_MYSQL_PASSWORD_FILE" \
		pg.url="jdbc:postgresql://127.0.0.1:$PGPORT/$PGDATABASE" pg.user="$PGUSER" pg.schema=dbz \
		binlog.file="${dbz_pos%:*}" binlog.pos="${dbz_pos##*:}" changes="$changes" \
		work.dir="$dbz/work" timeout.s="$dbz_secs" batch="${ECSYNC_BENCH_DEBEZIUM_BATCH:-10000}" \
		>"$dbz/out" 2>"$dbz/debezium.log" || rc=$?
	touch "$f.stop"
	wait $sampler
	dbz_rss=$(cat "$f")
	line=$(grep '^DEBEZIUM ' "$dbz/out" | tail -n 1 || true)
	val() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
	status=$(val status)
	case $status in
		done | timeout)
			dbz_done=$(val events) dbz_s=$(val elapsed_s) dbz_startup=$(val startup_s)
			if [ "$status" = done ]; then
				for t in users products sales sales_details bench_marker; do
					a=$(my $db -e "SELECT count(*), coalesce(sum(id), 0) FROM $t" | tr '\t' '|')
					b=$(q -c "SELECT count(*), coalesce(sum(id), 0) FROM dbz.$t")
					[ "$a" = "$b" ] || { log "Debezium: dbz.$t: PostgreSQL $b, MariaDB $a"; dbz_reason=target_differs; }
				done
			else
				dbz_reason=timeout
			fi
			;;
		*)
			dbz_reason=$(val reason | cut -c1-120 | tr -c 'A-Za-z0-9_.:,\n-' '_')
			dbz_reason=failed${dbz_reason:+:$dbz_reason}
			[ -n "$line" ] || dbz_reason=no_result_exit_$rc
			tail -n 20 "$dbz/debezium.log" >&2
			;;
	esac
	log "Debezium: $dbz_done of $changes row changes in $dbz_s s (start-up $dbz_startup s, $(val batches) batches, $(val sink_s) s in the sink), peak RSS $dbz_rss MB${dbz_reason:+, $dbz_reason} (log: $dbz/debezium.log)"
fi
# a timeout still has a rate; a failure or a wrong target has none
case $dbz_reason in "" | timeout) ;; *) dbz_done=0 ;; esac

awk -v n="$changes" -v e="$ecsync_s" -v cd="$cham_done" -v cs="$cham_s" -v w="$write_s" -v r="$rss" \
	-v dd="$dbz_done" -v ds="$dbz_s" -v du="$dbz_startup" -v dr="$dbz_rss" -v why="$dbz_reason" 'BEGIN {
	ecps = n / e; ccps = cd / cs
	# pg_chameleon reached no marker in its time: its rate is below 100,000 / chameleon_s
	ratio = ccps > 0 ? sprintf("%.1f", ecps / ccps) : sprintf(">%.1f", ecps / (100000 / cs))
	dcps = (dd > 0 && ds > 0) ? dd / ds : 0
	dratio = dcps > 0 ? sprintf("%.1f", ecps / dcps) : "n/a"
	printf "BENCH cdc_apply changes=%d ecsync_cps=%.0f chameleon_cps=%.0f ecsync_vs_chameleon=%s ecsync_s=%.2f chameleon_s=%.2f chameleon_changes=%d mariadb_write_cps=%.0f ecsync_peak_rss_mb=%s",
		n, ecps, ccps, ratio, e, cs, cd, n / w, r
	printf " debezium_cps=%.0f debezium_s=%.2f ecsync_vs_debezium=%s debezium_changes=%d debezium_startup_s=%.2f debezium_peak_rss_mb=%s",
		dcps, ds, dratio, dd, du, dr
	if (why != "") printf " debezium_reason=%s", why
	printf "\n"
}'

# ---- latency at a steady 5,000 row changes/s ----
rate=5000
lat_secs=${ECSYNC_BENCH_LATENCY_SECS:-30}
my $db -e "DROP TABLE IF EXISTS lat; CREATE TABLE lat (id INT PRIMARY KEY, v INT, created TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))"
q -c "SELECT ecsync_register_table('cdcb', 'lat', 'lat', mode => 'cdc', target_schema => 'cdcb')" >/dev/null
q -c "SELECT ecsync_start_cdc('cdcb')" >/dev/null
until [ "$(q -c "SELECT state FROM ecsync.cdc_table_status WHERE table_name = 'cdcb.lat'")" = streaming ] &&
	[ "$(q -c "SELECT applied_position FROM ecsync.cdc_status WHERE server_name = 'cdcb'")" = "$(binlog_position)" ]; do
	sleep 0.2
done
q -c "DROP TABLE IF EXISTS lat_seen" -c "CREATE TABLE lat_seen (id int, seen_at timestamptz)"
q <<EOF &
DO \$\$
DECLARE
    last int := 0;
    m int;
    deadline timestamptz := clock_timestamp() + interval '$((lat_secs + 8)) seconds';
BEGIN
    WHILE clock_timestamp() < deadline LOOP
        WITH ins AS (
            INSERT INTO lat_seen SELECT id, clock_timestamp() FROM cdcb.lat WHERE id > last RETURNING id)
        SELECT max(id) INTO m FROM ins;
        IF m IS NOT NULL THEN last := m; END IF;
        PERFORM pg_sleep(0.005);
    END LOOP;
END
\$\$;
EOF
poller=$!
log "latency: $rate row changes/s for $lat_secs s"
python3 - "$rate" "$lat_secs" <<'EOF' | my $db
import sys, time
rate, secs = int(sys.argv[1]), int(sys.argv[2])
per = 50
t0 = time.monotonic()
n = 0
for k in range(rate * secs // per):
    due = t0 + k * per / rate
    now = time.monotonic()
    if due > now:
        sys.stdout.flush()
        time.sleep(due - now)
    print("INSERT INTO lat (id, v) VALUES " + ", ".join("(%d, %d)" % (n + i + 1, i) for i in range(per)) + ";")
    n += per
sys.stdout.flush()
EOF
wait $poller
read -r p50 p99 pmax seen < <(q -F ' ' -c "
	SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
	       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1),
	       round(max(ms)::numeric, 1), count(*)
	  FROM (SELECT extract(epoch FROM s.seen_at - l.created) * 1000 AS ms
	          FROM lat_seen s JOIN cdcb.lat l USING (id)) x")
[ "$seen" -ge $((rate * lat_secs)) ] || { log "only $seen of $((rate * lat_secs)) rows seen"; exit 1; }
echo "BENCH cdc_latency rate=$rate seconds=$lat_secs changes=$seen p50_ms=$p50 p99_ms=$p99 max_ms=$pmax"
q -c "SELECT ecsync_stop_cdc('cdcb')" -c "DROP TABLE lat_seen" >/dev/null

# ---- the rate of each kind of change (tests/bench/cdc_kinds.sh) ----
bash "$ECSYNC_TOP/tests/bench/cdc_kinds.sh"
