# Benchmark group "stream": ECSYNC_BENCH_EVENTS pre-produced page views (4
# partitions) ingested by a stream worker, side by side with kcat consuming
# the same topic to /dev/null (the Kafka-side limit) and a COPY of the same
# rows from a file into the same table shape (the PostgreSQL-side limit);
# then the produce-to-visible latency at a steady 5000 events/s for 30 s.
# Prints:
#   BENCH stream rows=... ecsync_eps=... kcat_eps=... copy_eps=... ...
#   BENCH stream_latency rate=5000 p50_ms=... p99_ms=... ...
set -euo pipefail

n=$ECSYNC_BENCH_EVENTS
pvproduce=$ECSYNC_TOP/tests/gen/pvproduce
export PGDATABASE=ecsync PGTZ=UTC
. "$ECSYNC_TOP/tests/bench/lib.sh"
topic=bench_pv_$n
cols="kafka_topic, kafka_partition, kafka_offset, user_id, age, gender, occupation, page, viewed_at"

q -c "CREATE EXTENSION IF NOT EXISTS ecsync" \
	-c "CREATE SERVER IF NOT EXISTS kafka FOREIGN DATA WRAPPER ecsync_kafka
	    OPTIONS (bootstrap_servers '$ECSYNC_KAFKA_BROKERS')" 2>/dev/null

log "producing $n page views into $topic"
"$pvproduce" -t "$topic" --partitions 4 -n "$n" -q

# the Kafka-side limit: kcat reads the same messages and throws them away
kcat_once() {
	local t0 t1
	t0=$(now)
	kcat -b "$ECSYNC_KAFKA_BROKERS" -C -t "$topic" -o beginning -c "$n" -e -q -f '%s\n' >/dev/null
	t1=$(now)
	secs "$t0" "$t1"
}
kcat_s=$(best "$(kcat_once)" "$(kcat_once)")
log "kcat to /dev/null: $kcat_s s"

# ecsync: the time from the stream's first batch to the last event visible
# (the group join before the first batch is reported apart, as join_s)
q -c "SELECT ecsync_unregister_stream('bench')" -c "DROP TABLE IF EXISTS bench_pv CASCADE" >/dev/null
q -c "SELECT ecsync_register_stream('bench', 'kafka', topic => '$topic', target_table => 'bench_pv', decode_threads => ${ECSYNC_BENCH_DECODE_THREADS:-1})" \
	-c "ALTER TABLE bench_pv SET (autovacuum_enabled = false)" >/dev/null
quiesce
f=$ECSYNC_RUN_DIR/stream-rss
rm -f "$f" "$f.stop"
peak_rss "$f" "ecsync stream bench" &
sampler=$!
t0=$(now)
# one session waits for the last event (a new connection per check would
# cost the measured run CPU)
t1=$(q -c "SELECT ecsync_start_stream('bench')" -c "DO \$\$ BEGIN
	  WHILE (SELECT coalesce(sum(rows_total), 0) FROM ecsync.stream_offsets o
	           JOIN ecsync.streams s ON s.id = o.stream_id WHERE s.name = 'bench') < $n LOOP
	    PERFORM pg_sleep(0.02);
	  END LOOP; END \$\$" -c "SELECT extract(epoch FROM clock_timestamp())" | tail -n 1)
touch "$f.stop"
wait $sampler
rss=$(cat "$f")
first=$(q -c "SELECT extract(epoch FROM min(ingested_at)) FROM bench_pv")
ecsync_s=$(secs "$first" "$t1")
join_s=$(secs "$t0" "$first")
batches=$(q -c "SELECT count(DISTINCT ingested_at) FROM bench_pv")
q -c "SELECT ecsync_stop_stream('bench')" >/dev/null
log "ecsync: $ecsync_s s from the first batch ($join_s s to join the group), $batches batches, peak RSS $rss MB"
[ "$(q -c "SELECT count(*) FROM bench_pv")" = "$n" ] || { log "ecsync ingested the wrong number of rows"; exit 1; }

# the PostgreSQL-side limit: COPY of the same rows from a file into a table
# of the same shape (primary key on topic, partition and offset, index on view time)
file=$ECSYNC_RUN_DIR/bench_pv.copy
q -c "\\copy (SELECT $cols FROM bench_pv) TO '$file'"
copy_once() {
	local t0 t1
	q -c "DROP TABLE IF EXISTS copy_pv" -c "CREATE TABLE copy_pv (LIKE bench_pv INCLUDING ALL) WITH (autovacuum_enabled = false)"
	quiesce
	t0=$(now)
	q -c "\\copy copy_pv ($cols) FROM '$file'"
	t1=$(now)
	secs "$t0" "$t1"
}
copy_s=$(best "$(copy_once)" "$(copy_once)")
q -c "DROP TABLE copy_pv"
rm -f "$file"
log "COPY from a file: $copy_s s"

awk -v n="$n" -v e="$ecsync_s" -v k="$kcat_s" -v c="$copy_s" -v j="$join_s" -v r="$rss" -v b="$batches" 'BEGIN {
	ee = n / e; ke = n / k; ce = n / c; lim = ke < ce ? ke : ce
	printf "BENCH stream rows=%d ecsync_eps=%.0f kcat_eps=%.0f copy_eps=%.0f ecsync_vs_limit=%.2f ecsync_s=%.2f join_s=%.2f batches=%d ecsync_peak_rss_mb=%s\n", n, ee, ke, ce, ee / lim, e, j, b, r
}'

# latency: produce at a steady rate (viewed_at is the produce time) while a
# poller notes when each event becomes visible
rate=5000
lat_secs=${ECSYNC_BENCH_LATENCY_SECS:-30}
lat_topic=bench_lat_$$
q -c "SELECT ecsync_unregister_stream('lat')" -c "DROP TABLE IF EXISTS lat_pv CASCADE" \
	-c "DROP TABLE IF EXISTS lat_seen" >/dev/null
"$pvproduce" -t "$lat_topic" --partitions 4 -n 4 -q
q -c "SELECT ecsync_register_stream('lat', 'kafka', topic => '$lat_topic', target_table => 'lat_pv')" \
	-c "SELECT ecsync_start_stream('lat')" >/dev/null
while [ "$(q -c "SELECT count(*) FROM lat_pv")" -lt 4 ]; do sleep 0.1; done
q -c "CREATE TABLE lat_seen (kafka_partition int, kafka_offset bigint, seen_at timestamptz)"
# the poller starts past the warm-up events
q <<EOF &
DO \$\$
DECLARE
    last bigint[] := '{-1,-1,-1,-1}';
    m bigint;
    deadline timestamptz := clock_timestamp() + interval '$((lat_secs + 8)) seconds';
BEGIN
    FOR p IN 0..3 LOOP
        SELECT coalesce(max(kafka_offset), -1) INTO m FROM lat_pv WHERE kafka_partition = p;
        last[p + 1] := m;
    END LOOP;
    WHILE clock_timestamp() < deadline LOOP
        FOR p IN 0..3 LOOP
            WITH ins AS (
                INSERT INTO lat_seen
                SELECT kafka_partition, kafka_offset, clock_timestamp() FROM lat_pv
                 WHERE kafka_partition = p AND kafka_offset > last[p + 1]
                RETURNING kafka_offset)
            SELECT max(kafka_offset) INTO m FROM ins;
            IF m IS NOT NULL THEN last[p + 1] := m; END IF;
        END LOOP;
        PERFORM pg_sleep(0.01);
    END LOOP;
END
\$\$;
EOF
poller=$!
log "latency: $rate events/s for $lat_secs s"
"$pvproduce" -t "$lat_topic" -n $((rate * lat_secs)) -r $rate -q
wait $poller
q -c "SELECT ecsync_stop_stream('lat')" >/dev/null
read -r p50 p99 pmax seen < <(q -F ' ' -c "
	SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
	       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1),
	       round(max(ms)::numeric, 1), count(*)
	  FROM (SELECT extract(epoch FROM s.seen_at - v.viewed_at) * 1000 AS ms
	          FROM lat_seen s JOIN lat_pv v USING (kafka_partition, kafka_offset)) l")
[ "$seen" -ge $((rate * lat_secs)) ] || { log "only $seen of $((rate * lat_secs)) events seen"; exit 1; }
echo "BENCH stream_latency rate=$rate seconds=$lat_secs events=$seen p50_ms=$p50 p99_ms=$p99 max_ms=$pmax"
q -c "SELECT ecsync_unregister_stream('lat')" -c "DROP TABLE lat_seen" >/dev/null
