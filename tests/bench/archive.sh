# Benchmark group "archive": ecsync-ingest writing its durable CSV archive,
# side by side with the anchors of docs/design.md:
#   stream:   ECSYNC_BENCH_EVENTS pre-produced page views (4 partitions),
#             `ecsync-ingest --stream --once` against kcat writing the same
#             topic to a file;
#   snapshot: the ECSYNC_BENCH_ROWS-row sales_details table,
#             `ecsync-ingest --snapshot` against `mariadb --quick` writing
#             the same table to a file.
# Each side runs twice, the faster run counts; times are wall clock, from
# process start to exit.  ecsync-ingest fsyncs every file and manifest;
# the anchors do not.  Prints:
#   BENCH archive_stream rows=... ingest_eps=... kcat_eps=... ingest_vs_kcat=... ...
#   BENCH archive_snapshot rows=... ingest_rps=... mariadb_rps=... ingest_vs_mariadb=... ...
set -euo pipefail

n=$ECSYNC_BENCH_EVENTS
rows=$ECSYNC_BENCH_ROWS
scale=$(awk -v r="$rows" 'BEGIN { printf "%.6g", r / 4500000 }')
ingest=$ECSYNC_TOP/ingester/ecsync-ingest
pvproduce=$ECSYNC_TOP/tests/gen/pvproduce
. "$ECSYNC_TOP/tests/bench/lib.sh"
export ECSYNC_MYSQL_PASSWORD
ECSYNC_MYSQL_PASSWORD=$(cat "$ECSYNC_MYSQL_PASSWORD_FILE")
work=$ECSYNC_RUN_DIR/archive-bench
rm -rf "$work"
mkdir -p "$work"

# ---- stream ----
topic=bench_archive_$n
log "producing $n page views into $topic"
"$pvproduce" -t "$topic" --partitions 4 -n "$n" -q

kcat_once() {
	local t0 t1
	sync
	t0=$(now)
	kcat -b "$ECSYNC_KAFKA_BROKERS" -C -t "$topic" -o beginning -c "$n" -e -q -f '%s\n' >"$work/kcat.out"
	t1=$(now)
	[ "$(wc -l <"$work/kcat.out")" = "$n" ] || { log "kcat wrote the wrong number of events"; exit 1; }
	rm -f "$work/kcat.out"
	secs "$t0" "$t1"
}

# ingest_stream_once [ARGS]: a fresh archive each time (and a group of its own)
runs=0
ingest_stream_once() {
	local t0 t1 dir=$work/stream
	runs=$((runs + 1))
	rm -rf "$dir"
	sync
	t0=$(now)
	"$ingest" --stream --once -q -d "$dir" -b "$ECSYNC_KAFKA_BROKERS" -t "$topic" \
		-G "bench_$runs" "$@" 2>"$work/stream.log"
	t1=$(now)
	grep -q "stream: $n events and 0 dead letters archived" "$work/stream.log" ||
		{ cat "$work/stream.log" >&2; log "ecsync-ingest archived the wrong number of events"; exit 1; }
	"$ingest" --verify -d "$dir" >/dev/null || { log "the archive does not verify"; exit 1; }
	secs "$t0" "$t1"
}

kcat_s=$(best "$(kcat_once)" "$(kcat_once)")
log "kcat to a file: $kcat_s s"
f=$work/stream-rss
rm -f "$f" "$f.stop"
peak_rss "$f" "ecsync-ingest --stream" &
sampler=$!
ingest_s=$(best "$(ingest_stream_once)" "$(ingest_stream_once)")
touch "$f.stop"
wait $sampler
rss=$(cat "$f")
bytes=$(du -sb "$work/stream" | cut -f1)
log "ecsync-ingest --stream: $ingest_s s, $((bytes / 1048576)) MB of CSV, peak RSS $rss MB"
gzip_s=$(ingest_stream_once --gzip)
gz_bytes=$(du -sb "$work/stream" | cut -f1)
log "ecsync-ingest --stream --gzip: $gzip_s s, $((gz_bytes / 1048576)) MB"
awk -v n="$n" -v i="$ingest_s" -v k="$kcat_s" -v g="$gzip_s" -v r="$rss" -v b="$bytes" -v gb="$gz_bytes" 'BEGIN {
	printf "BENCH archive_stream rows=%d ingest_eps=%.0f kcat_eps=%.0f ingest_vs_kcat=%.2f ingest_s=%.2f kcat_s=%.2f gzip_eps=%.0f csv_mb=%.0f gzip_mb=%.0f ingest_peak_rss_mb=%s\n",
		n, n / i, n / k, k / i, i, k, n / g, b / 1048576, gb / 1048576, r
}'

# ---- snapshot ----
log "loading the shop at scale $scale into MariaDB"
"$ECSYNC_TOP/tests/harness/load-shop.sh" --stack "${ECSYNC_STACK:-bench}" --database bench --scale "$scale" --seed 1 >/dev/null
count=$(mariadb -N bench -e "SELECT count(*) FROM sales_details")

mariadb_once() {
	local t0 t1
	sync
	t0=$(now)
	mariadb --quick -B -N bench -e "SELECT * FROM sales_details" >"$work/mariadb.out"
	t1=$(now)
	[ "$(wc -l <"$work/mariadb.out")" = "$count" ] || { log "mariadb wrote the wrong number of rows"; exit 1; }
	rm -f "$work/mariadb.out"
	secs "$t0" "$t1"
}

ingest_snapshot_once() {
	local t0 t1 dir=$work/snapshot
	rm -rf "$dir"
	sync
	t0=$(now)
	"$ingest" --snapshot -q -d "$dir" -X mysql.host=127.0.0.1 -X "mysql.port=$ECSYNC_MYSQL_PORT" \
		-X mysql.user=ecsync -X mysql.database=bench -X tables=sales_details "$@" 2>"$work/snapshot.log"
	t1=$(now)
	grep -q "snapshot .*: $count rows of 1 tables archived" "$work/snapshot.log" ||
		{ cat "$work/snapshot.log" >&2; log "ecsync-ingest archived the wrong number of rows"; exit 1; }
	secs "$t0" "$t1"
}

mariadb_s=$(best "$(mariadb_once)" "$(mariadb_once)")
log "mariadb --quick to a file: $mariadb_s s"
f=$work/snapshot-rss
rm -f "$f" "$f.stop"
peak_rss "$f" "ecsync-ingest --snapshot" &
sampler=$!
snap_s=$(best "$(ingest_snapshot_once)" "$(ingest_snapshot_once)")
touch "$f.stop"
wait $sampler
rss=$(cat "$f")
log "ecsync-ingest --snapshot: $snap_s s, peak RSS $rss MB"
snap_gz_s=$(ingest_snapshot_once --gzip)
log "ecsync-ingest --snapshot --gzip: $snap_gz_s s"
awk -v n="$count" -v i="$snap_s" -v m="$mariadb_s" -v g="$snap_gz_s" -v r="$rss" 'BEGIN {
	printf "BENCH archive_snapshot rows=%d ingest_rps=%.0f mariadb_rps=%.0f ingest_vs_mariadb=%.2f ingest_s=%.2f mariadb_s=%.2f gzip_rps=%.0f ingest_peak_rss_mb=%s\n",
		n, n / i, n / m, m / i, i, m, n / g, r
}'
rm -rf "$work"
