# ecsync-ingest's CSV archive against the real stack: snapshots of MySQL
# and page views from Kafka into an archive directory, loaded back into
# PostgreSQL and compared with their sources; crashes, a full disk,
# hostile values, sanitizers and valgrind.

# shellcheck source=tests/shop_lib.sh
. "$ECSYNC_TOP/tests/shop_lib.sh"

ingest_bin=$ECSYNC_TOP/ingester/ecsync-ingest
pvproduce=$ECSYNC_TOP/tests/gen/pvproduce
# the MySQL password comes from the environment, never from argv
export ECSYNC_MYSQL_PASSWORD
ECSYNC_MYSQL_PASSWORD=$(cat "$ECSYNC_MYSQL_PASSWORD_FILE")
export PGDATABASE=ecsync PGTZ=UTC

# the test stack's brokers and MySQL
stack_args=(-b "$ECSYNC_KAFKA_BROKERS" -X mysql.host=127.0.0.1 -X "mysql.port=$ECSYNC_MYSQL_PORT" -X mysql.user=ecsync)
# MySQL 9's caching_sha2_password: over TLS the ingester verifies (the
# stack's CA), as the extension's servers (ECSYNC_MYSQL_SERVER_TLS)
if [ "${ECSYNC_MYSQL_FLAVOR:-mariadb}" = mysql ]; then
	stack_args+=(-X mysql.ssl-mode=verify_identity -X "mysql.ssl-ca=$ECSYNC_MYSQL_SSL_CA")
fi

# ingest [ARGS...]: ecsync-ingest on the test stack (INGEST overrides the
# binary, INGEST_WRAP runs it under a tool).  In the background, run
# "$ingest_bin" "${stack_args[@]}" directly, so that $! is its pid.
ingest() {
	${INGEST_WRAP:-} "${INGEST:-$ingest_bin}" "${stack_args[@]}" "$@"
}

# load_script DIR ARGS...: print the load script and run it with psql
load_archive() {
	local dir=$1
	shift
	ingest --load-script -d "$dir" "$@" >"$dir.load.sql" || fail "load-script failed"
	psql_q -v ON_ERROR_STOP=1 -f "$dir.load.sql" >/dev/null || fail "loading $dir failed"
}

# produced_table TABLE ECHOFILE: the events pvproduce echoed (key, tab,
# JSON document, one per line), as a table
produced_table() {
	psql_q -c "DROP TABLE IF EXISTS $1" -c "CREATE TABLE $1 (k text, j jsonb)"
	# JSON text holds no raw tab and no \x01
	psql_q -c "\\copy $1 (k, j) FROM '$2' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\t')"
}

# assert_offsets_once TABLE DEADTABLE N: every (partition, offset) once, none missing
assert_offsets_once() {
	local all="SELECT kafka_partition p, kafka_offset o FROM $1 UNION ALL SELECT kafka_partition, kafka_offset FROM $2"
	assert_eq "$3" "$(psql_q -c "SELECT count(*) FROM ($all) a")" "rows + dead letters = events produced"
	assert_eq "$3" "$(psql_q -c "SELECT count(DISTINCT (p, o)) FROM ($all) a")" "distinct (partition, offset)"
	assert_eq "" "$(psql_q -c "SELECT p FROM ($all) a GROUP BY p HAVING min(o) <> 0 OR max(o) + 1 <> count(*)")" \
		"partitions with a gap"
}

test_snapshot_round_trip_equals_mysql() {
	local dir id
	load_shop a_snap 0.01 21 >/dev/null
	dir=$(mktemp -d)/archive
	ingest --snapshot -q -d "$dir" -X mysql.database=a_snap || fail "snapshot failed"
	ingest --verify -d "$dir" || fail "verify failed"
	psql_q -c "DROP SCHEMA IF EXISTS arch_snap CASCADE" >/dev/null
	load_archive "$dir" --snapshot-id latest --schema arch_snap
	assert_shop_equal a_snap arch_snap
	# the same, gzipped, as a second snapshot; the first stays loadable by id
	id=$(basename "$(ls "$dir/_snapshots/"*Z.csv)" .csv)
	ingest --snapshot -q --gzip -d "$dir" -X mysql.database=a_snap || fail "gzip snapshot failed"
	assert_eq 2 "$(ls "$dir/_snapshots/"*Z.csv | wc -l)" "two snapshots"
	ls "$dir"/sales_details/dt=*/*.csv.gz >/dev/null || fail "no gzipped file"
	psql_q -c "DROP SCHEMA IF EXISTS arch_gz CASCADE" >/dev/null
	load_archive "$dir" --snapshot-id latest --schema arch_gz
	assert_shop_equal a_snap arch_gz
	psql_q -c "DROP SCHEMA arch_snap CASCADE" >/dev/null
	load_archive "$dir" --snapshot-id "$id" --schema arch_snap --table users
	assert_eq 1000 "$(psql_q -c "SELECT count(*) FROM arch_snap.users")" "one table of an older snapshot"
	ingest --verify -d "$dir" || fail "verify failed"
	rm -rf "$(dirname "$dir")" "$dir.load.sql"
}

# hostile_table DB: a MySQL table t of values CSV must quote or encode
hostile_table() {
	my_q -e "DROP DATABASE IF EXISTS $1; CREATE DATABASE $1"
	my_q "$1" -e "CREATE TABLE t (id INT PRIMARY KEY, tx TEXT, vc VARCHAR(50), bl BLOB, j JSON);
	INSERT INTO t VALUES (1, 'comma, \"quote\" and ''single''', '', NULL, '{\"a\": \"b,c\"}'),
	  (2, 'line1\nline2\r\nline3', '\\\\.', 0x000A0D22225C2C, '[\"\\\\n\"]'),
	  (3, '🍣🖊️ 日本語, \"寿司\"', ' lead and trail ', 0xFFFE00, NULL),
	  (4, NULL, 'NULL', '', '\"\"'),
	  (5, '\\\\N', ',', 0x2C, '{}')"
}

test_snapshot_hostile_values_round_trip() {
	local dir
	hostile_table a_hostile
	dir=$(mktemp -d)/archive
	ingest --snapshot -q -d "$dir" -X mysql.database=a_hostile -X tables=t || fail "snapshot failed"
	psql_q -c "DROP SCHEMA IF EXISTS arch_hostile CASCADE" >/dev/null
	load_archive "$dir" --snapshot-id latest --schema arch_hostile
	local my pg
	# (SHA2: MySQL 9 has no MD5; JSON, stored as jsonb, is compared below by its meaning)
	my=$(my_q a_hostile -e "SELECT CONCAT_WS('|', id, IFNULL(SHA2(tx, 256), 'null'), IFNULL(SHA2(vc, 256), 'null'), IFNULL(LOWER(HEX(bl)), 'null')) FROM t ORDER BY id")
	pg=$(psql_q -c "SELECT concat_ws('|', id, coalesce(encode(sha256(convert_to(tx, 'UTF8')), 'hex'), 'null'), coalesce(encode(sha256(convert_to(vc, 'UTF8')), 'hex'), 'null'), coalesce(encode(bl, 'hex'), 'null')) FROM arch_hostile.t ORDER BY id")
	assert_eq "$my" "$pg" "text and binary values survive the CSV"
	assert_eq '{"a": "b,c"}|["\n"]|∅|""|{}' \
		"$(psql_q -c "SELECT string_agg(coalesce(j::text, '∅'), '|' ORDER BY id) FROM arch_hostile.t")" "JSON values"
	assert_eq "" "$(psql_q -c "SELECT id FROM arch_hostile.t WHERE vc = '' AND id <> 1")" "only the empty string is empty"
	assert_eq "4" "$(psql_q -c "SELECT id FROM arch_hostile.t WHERE tx IS NULL")" "NULL stays NULL, 'NULL' stays text"
	ingest --verify -d "$dir" >/dev/null || fail "verify failed"
	rm -rf "$(dirname "$dir")" "$dir.load.sql"
}

test_stream_round_trip_equals_produced() {
	local dir echo n=30000 start_ms=1764000000000
	dir=$(mktemp -d)/archive
	echo=$(dirname "$dir")/produced.json
	"$pvproduce" -t a_stream -p 3 -n $n --start-ms $start_ms --echo "$echo" -q
	# hostile values: quotes, commas, newlines (escaped in JSON), emoji, nesting
	{
		printf 'h1\t%s\n' '{"user_id":1,"age":null,"gender":"a,\"b\"","occupation":"line1\nline2\r\n","page":"/🍣?q=\"x\",y","viewed_at":"2025-11-24T16:00:00Z"}'
		printf 'h3\t%s\n' '{"user_id":3,"page":"/bc","viewed_at":"0001-01-01T00:00:00+01:00"}'
		printf 'h2\t%s\n' '{"user_id":2,"page":"\\N","viewed_at":"2025-11-24T16:00:00.000001+09:00","extra":{"nested":[1,2]}}'
	} | tee -a "$echo" | kcat -P -b "$ECSYNC_KAFKA_BROKERS" -t a_stream -p 0 -K $'\t'
	# dead letters: not JSON, invalid UTF-8 with a comma, a missing field
	printf 'not json\n{"user_id":3}\n' | kcat -P -b "$ECSYNC_KAFKA_BROKERS" -t a_stream -p 1
	printf '\xff\xfe,"' | kcat -P -b "$ECSYNC_KAFKA_BROKERS" -t a_stream -p 2 -D '|'
	# small rolls: many files, many commits
	ingest --stream --once -q -d "$dir" -t a_stream -G a_stream -X roll.bytes=100000 || fail "stream failed"
	local files
	files=$(find "$dir/a_stream" -path '*/_manifest' -prune -o -name '*.csv' -print | wc -l)
	[ "$files" -gt 10 ] || fail "only $files files: the rolls did not roll"
	ingest --verify -d "$dir" || fail "verify failed"
	psql_q -c "DROP SCHEMA IF EXISTS arch_stream CASCADE" >/dev/null
	load_archive "$dir" --table a_stream --schema arch_stream
	load_archive "$dir" --table a_stream_dead_letters --schema arch_stream
	assert_offsets_once arch_stream.a_stream arch_stream.a_stream_dead_letters $((n + 6))
	produced_table arch_stream.produced "$echo"
	local cmp="SELECT (j->>'user_id')::bigint, (j->>'age')::smallint, j->>'gender', j->>'occupation', j->>'page', (j->>'viewed_at')::timestamptz FROM arch_stream.produced"
	local got="SELECT user_id, age, gender, occupation, page, viewed_at FROM arch_stream.a_stream"
	assert_eq 0 "$(psql_q -c "SELECT count(*) FROM (($cmp) EXCEPT ALL ($got)) d")" "produced events missing from the archive"
	assert_eq 0 "$(psql_q -c "SELECT count(*) FROM (($got) EXCEPT ALL ($cmp)) d")" "archived events never produced"
	assert_eq "not_json,missing_field,invalid_utf8" \
		"$(psql_q -c "SELECT string_agg(kind, ',' ORDER BY kafka_partition, kafka_offset) FROM arch_stream.a_stream_dead_letters")" "dead letters"
	assert_eq 'fffe2c22' "$(psql_q -c "SELECT encode(payload, 'hex') FROM arch_stream.a_stream_dead_letters WHERE kind = 'invalid_utf8'")" \
		"a dead letter's bytes, as bytea hex"
	# partitioned by the event's hour (UTC): 2025-11-24 16:00 and on, 250 ms
	# apart; 1 BC has no four-digit date and goes to dt=0000-00-00
	assert_eq "" "$(find "$dir/a_stream" -path '*/_manifest' -prune -o -type f -print | grep -v '/dt=2025-11-2[45]/hour=[0-2][0-9]/p[0-2]-[0-9]\{19\}-[0-9]\{19\}\.csv$' | grep -v '/dt=0000-00-00/hour=00/p0-')" "file layout"
	assert_eq "0001-12-31 23:00:00+00 BC" "$(psql_q -c "SELECT viewed_at FROM arch_stream.a_stream WHERE page = '/bc'")" "a BC timestamp"
	# a date range: only the first hour
	psql_q -c "DROP SCHEMA IF EXISTS arch_hour CASCADE" >/dev/null
	load_archive "$dir" --table a_stream --schema arch_hour --from 2025-11-24T16 --to 2025-11-24T16
	assert_eq "$(psql_q -c "SELECT count(*) FROM arch_stream.a_stream WHERE viewed_at >= '2025-11-24 16:00+00' AND viewed_at < '2025-11-24 17:00+00'")" \
		"$(psql_q -c "SELECT count(*) FROM arch_hour.a_stream")" "rows of one hour"
	# nothing new: a second run archives nothing and resumes after the last offset
	local out
	out=$(ingest --stream --once -d "$dir" -t a_stream -G a_stream 2>&1) || fail "second run failed"
	assert_contains "0 events and 0 dead letters archived" "$out" "second run"
	assert_match "reading partitions 0@[0-9]+, 1@[0-9]+, 2@[0-9]+" "$out" "resumes from the manifests"
	# the consumer group got the durable positions, for monitoring: a
	# member of the group finds nothing left to read
	assert_eq 0 "$(timeout 30 kcat -b "$ECSYNC_KAFKA_BROKERS" -G a_stream -X auto.offset.reset=earliest -e -q a_stream | wc -l)" \
		"events after the group's committed offsets"
	rm -rf "$(dirname "$dir")" "$dir.load.sql"
}

test_stream_kill_9_at_random_points_loses_and_duplicates_nothing() {
	local dir n=300000 pid i
	dir=$(mktemp -d)/archive
	"$pvproduce" -t a_kill -p 3 -n $n --start-ms 1764000000000 -q
	# tiny rolls (about 140 events) commit all the time: a kill lands
	# anywhere in the cycle of writing, fsyncing, committing and renaming
	for i in 1 2 3 4 5 6 7 8; do
		"$ingest_bin" "${stack_args[@]}" --stream -q -d "$dir" -t a_kill -G a_kill -X roll.bytes=10000 &
		pid=$!
		sleep "0.$((RANDOM % 7 + 1))$((RANDOM % 10))"
		kill -9 $pid 2>/dev/null || true
		wait $pid 2>/dev/null || true
		echo "killed run $i at $(find "$dir/a_kill" -name '*.csv' 2>/dev/null | wc -l) files"
	done
	ingest --stream --once -q -d "$dir" -t a_kill -G a_kill -X roll.bytes=10000 || fail "the last run failed"
	ingest --verify -d "$dir" || fail "verify failed after the crashes"
	psql_q -c "DROP SCHEMA IF EXISTS arch_kill CASCADE" >/dev/null
	load_archive "$dir" --table a_kill --schema arch_kill
	load_archive "$dir" --table a_kill_dead_letters --schema arch_kill
	assert_offsets_once arch_kill.a_kill arch_kill.a_kill_dead_letters $n
	assert_eq "" "$(find "$dir" -path "$dir/.tmp" -prune -o -name '*.tmp' -print)" "temporary files outside .tmp"
	rm -rf "$(dirname "$dir")" "$dir.load.sql"
}

test_stream_rolls_by_time() {
	local dir pid rolls
	dir=$(mktemp -d)/archive
	"$pvproduce" -t a_time -p 1 -n 1 -q
	"$ingest_bin" "${stack_args[@]}" --stream -q -d "$dir" -t a_time -G a_time -X roll.seconds=1 2>"$dir.err" &
	pid=$!
	# 4 s of events at 250 a second: a roll closes each second, not by size
	"$pvproduce" -t a_time -n 1000 -r 250 -q
	sleep 2
	kill -TERM $pid
	wait $pid || fail "exit code after SIGTERM: $?"
	# rolls, not files: a roll across an hour boundary writes two files
	rolls=$(find "$dir/a_time" -path '*/_manifest' -prune -o -name '*.csv' -printf '%f\n' | sort -u | wc -l)
	[ "$rolls" -ge 3 ] || fail "only $rolls rolls for 4 s of events with roll.seconds=1"
	echo "$rolls rolls"
	psql_q -c "DROP SCHEMA IF EXISTS arch_time CASCADE" >/dev/null
	load_archive "$dir" --table a_time --schema arch_time
	assert_eq "1001 1001" "$(psql_q -c "SELECT count(*) || ' ' || count(DISTINCT kafka_offset) FROM arch_time.a_time")" \
		"every event once"
	rm -rf "$(dirname "$dir")" "$dir.load.sql" "$dir.err"
}

test_recovery_finishes_or_cuts_interrupted_commits() {
	local dir m last sealed out
	dir=$(mktemp -d)/archive
	"$pvproduce" -t a_rec -p 1 -n 3000 --start-ms 1764000000000 -q
	ingest --stream --once -q -d "$dir" -t a_rec -G a_rec -X roll.bytes=50000 || fail "first run failed"
	m=$dir/a_rec/_manifest/partition=0.csv
	# a crash after the commit, before the rename: the last block's file is
	# still under its sealed name in .tmp
	last=$(grep '^file,' "$m" | tail -n 1 | cut -d, -f2)
	sealed=$dir/.tmp/stream-a_rec/${last//\//%}
	mv "$dir/$last" "$sealed"
	! ingest --verify -d "$dir" >/dev/null 2>&1 || fail "verify missed a missing file"
	# a crash in the middle of an append: half a block at the end
	printf 'file,a_rec/dt=2025-11-24/hour=16/p0-0000000000000003000-0000000000000003999.csv,1000,5' >>"$m"
	"$pvproduce" -t a_rec -n 1000 --start-ms 1764000000000 -q
	out=$(ingest --stream --once -d "$dir" -t a_rec -G a_rec 2>&1) || fail "run after the crash failed: $out"
	assert_contains "cutting an unfinished manifest block" "$out" "the torn block is cut"
	[ -f "$dir/$last" ] || fail "the committed file was not put in place"
	ingest --verify -d "$dir" >/dev/null || fail "verify failed after recovery"
	psql_q -c "DROP SCHEMA IF EXISTS arch_rec CASCADE" >/dev/null
	load_archive "$dir" --table a_rec --schema arch_rec
	assert_offsets_once arch_rec.a_rec "(SELECT 0 kafka_partition, 0::bigint kafka_offset WHERE false) d" 4000
	rm -rf "$(dirname "$dir")" "$dir.load.sql"
}

test_verify_detects_damage() {
	local dir f out rc
	dir=$(mktemp -d)/archive
	"$pvproduce" -t a_dmg -p 2 -n 2000 --start-ms 1764000000000 -q
	ingest --stream --once -q -d "$dir" -t a_dmg -G a_dmg || fail "stream failed"
	ingest --verify -d "$dir" >/dev/null || fail "a sound archive does not verify"
	f=$(find "$dir/a_dmg" -name 'p0-*.csv' | head -n 1)
	# one byte changed, same size
	cp "$f" "$f.orig"
	printf 'X' | dd of="$f" bs=1 seek=100 conv=notrunc status=none
	rc=0; out=$(ingest --verify -d "$dir" 2>&1) || rc=$?
	assert_eq 3 "$rc" "exit code for a changed byte"
	assert_contains "CRC-32" "$out" "names the checksum"
	assert_contains "$(basename "$f")" "$out" "names the file"
	# a record fewer: the size differs
	head -n -1 "$f.orig" >"$f"
	rc=0; out=$(ingest --verify -d "$dir" 2>&1) || rc=$?
	assert_eq 3 "$rc" "exit code for a lost record"
	assert_contains "bytes, the manifest says" "$out" "names the size"
	mv "$f.orig" "$f"
	# a file no manifest lists
	cp "$f" "$(dirname "$f")/p0-stray.csv"
	rc=0; out=$(ingest --verify -d "$dir" 2>&1) || rc=$?
	assert_eq 3 "$rc" "exit code for a stray file"
	assert_contains "p0-stray.csv is in no manifest" "$out" "names the stray file"
	rm "$(dirname "$f")/p0-stray.csv"
	ingest --verify -d "$dir" >/dev/null || fail "the restored archive does not verify"
	rm -rf "$(dirname "$dir")"
}

test_snapshot_kill_9_leaves_nothing_or_everything() {
	local dir pid i
	load_shop a_snapkill 0.1 22 >/dev/null
	dir=$(mktemp -d)/archive
	for i in 1 2 3; do
		"$ingest_bin" "${stack_args[@]}" --snapshot -q -d "$dir" -X mysql.database=a_snapkill &
		pid=$!
		sleep "0.$((RANDOM % 3))$((RANDOM % 10))"
		kill -9 $pid 2>/dev/null || true
		wait $pid 2>/dev/null || true
		# whatever the moment, no file of an uncommitted snapshot is visible
		# (killed before it made the directory, it left nothing at all)
		[ ! -e "$dir" ] || ingest --verify -d "$dir" >/dev/null || fail "a killed snapshot left files no manifest lists"
	done
	ingest --snapshot -q -d "$dir" -X mysql.database=a_snapkill || fail "snapshot after the crashes failed"
	ingest --verify -d "$dir" || fail "verify failed"
	psql_q -c "DROP SCHEMA IF EXISTS arch_snapkill CASCADE" >/dev/null
	load_archive "$dir" --snapshot-id latest --schema arch_snapkill
	assert_shop_equal a_snapkill arch_snapkill
	rm -rf "$(dirname "$dir")" "$dir.load.sql"
}

test_full_disk_fails_clearly_and_leaves_no_partial_file() {
	local mnt out rc=0
	mnt=$(mktemp -d)
	mount -t tmpfs -o size=1m tmpfs "$mnt" || fail "could not mount a 1 MB tmpfs (run the suite as root)"
	"$pvproduce" -t a_full -p 1 -n 40000 --start-ms 1764000000000 -q
	out=$(ingest --stream --once -d "$mnt/archive" -t a_full -G a_full 2>&1) || rc=$?
	assert_eq 1 "$rc" "exit code on a full disk"
	assert_contains "No space left on device" "$out" "the error says why"
	# .tmp is the ingester's own (cleared by the next start), not the archive
	assert_eq "" "$(find "$mnt/archive" -path '*/.tmp' -prune -o -name '*.csv' -not -path '*/_manifest/*' -print)" \
		"no partial data file visible"
	ingest --verify -d "$mnt/archive" >/dev/null || fail "verify failed after the full disk"
	# with room again, the same archive completes, exactly once
	mount -o remount,size=64m "$mnt"
	ingest --stream --once -q -d "$mnt/archive" -t a_full -G a_full || fail "run with room failed"
	ingest --verify -d "$mnt/archive" >/dev/null || fail "verify failed"
	psql_q -c "DROP SCHEMA IF EXISTS arch_full CASCADE" >/dev/null
	load_archive "$mnt/archive" --table a_full --schema arch_full
	assert_eq 40000 "$(psql_q -c "SELECT count(DISTINCT kafka_offset) FROM arch_full.a_full")" "every event once"
	assert_eq 40000 "$(psql_q -c "SELECT count(*) FROM arch_full.a_full")" "no duplicate"
	umount "$mnt"
	rmdir "$mnt"
	rm -f "$mnt/archive.load.sql"
}

test_unwritable_directory_fails_clearly() {
	local dir out rc=0
	dir=$(mktemp -d)
	mkdir "$dir/archive"
	chown postgres "$dir"
	chmod 555 "$dir/archive"
	# root writes anywhere: run as an ordinary user
	out=$(runuser -u postgres -- env ECSYNC_MYSQL_PASSWORD="$ECSYNC_MYSQL_PASSWORD" "$ingest_bin" --snapshot \
		-d "$dir/archive" -X mysql.host=127.0.0.1 -X "mysql.port=$ECSYNC_MYSQL_PORT" -X mysql.database=a_snap 2>&1) || rc=$?
	assert_eq 1 "$rc" "exit code"
	assert_contains "Permission denied" "$out" "the error says why"
	assert_contains "$dir/archive" "$out" "the error names the directory"
	assert_eq "" "$(find "$dir/archive" -type f)" "no file left behind"
	rm -rf "$dir"
}

test_signals_stop_cleanly_and_commit() {
	local dir pid out rc=0
	dir=$(mktemp -d)/archive
	"$pvproduce" -t a_sig -p 2 -n 5000 --start-ms 1764000000000 -q
	"$ingest_bin" "${stack_args[@]}" --stream -d "$dir" -t a_sig -G a_sig -X roll.seconds=3600 2>"$dir.err" &
	pid=$!
	# started, and writing a roll it has not committed
	wait_for 30 eval "grep -q 'reading partitions' '$dir.err' && [ -n \"\$(find '$dir/.tmp' -type f -name 'open-*')\" ]" ||
		fail "the ingester did not start"
	# a second ingester on the same archive and topic is refused
	out=$(ingest --stream --once -d "$dir" -t a_sig -G a_sig 2>&1) && fail "a second ingester ran"
	assert_contains "already running" "$out" "the refusal says why"
	kill -TERM $pid
	wait $pid || rc=$?
	assert_eq 0 "$rc" "exit code after SIGTERM"
	assert_contains "stopping on a signal" "$(cat "$dir.err")" "says it stopped"
	local read
	read=$(sed -n 's/.*stream: \([0-9]*\) events and 0 dead letters archived.*/\1/p' "$dir.err")
	[ -n "$read" ] && [ "$read" -gt 0 ] || fail "no final count in the log: $(cat "$dir.err")"
	ingest --verify -d "$dir" >/dev/null || fail "verify failed"
	psql_q -c "DROP SCHEMA IF EXISTS arch_sig CASCADE" >/dev/null
	load_archive "$dir" --table a_sig --schema arch_sig
	assert_eq "$read" "$(psql_q -c "SELECT count(*) FROM arch_sig.a_sig")" "what was read is committed at SIGTERM"
	# the rest, exactly once
	ingest --stream --once -q -d "$dir" -t a_sig -G a_sig || fail "the run after SIGTERM failed"
	psql_q -c "DROP SCHEMA arch_sig CASCADE" >/dev/null
	load_archive "$dir" --table a_sig --schema arch_sig
	assert_eq "5000 5000" "$(psql_q -c "SELECT count(*) || ' ' || count(DISTINCT (kafka_partition, kafka_offset)) FROM arch_sig.a_sig")" \
		"every event once after the restart"
	rm -rf "$(dirname "$dir")" "$dir.load.sql" "$dir.err"
}

# round_trip_under WRAPPER: snapshot, stream, verify and load script of a
# small archive with the given binary and wrapper
round_trip_under() {
	local dir
	dir=$(mktemp -d)/archive
	"$pvproduce" -t "a_$1" -p 2 -n 3000 --start-ms 1764000000000 -q
	printf 'not json\n' | kcat -P -b "$ECSYNC_KAFKA_BROKERS" -t "a_$1" -p 0
	hostile_table "a_$1"
	ingest --snapshot -q -d "$dir" -X "mysql.database=a_$1" -X tables=t --gzip || fail "snapshot under $1 failed"
	ingest --stream --once -q -d "$dir" -t "a_$1" -G "a_$1" -X roll.bytes=20000 || fail "stream under $1 failed"
	ingest --verify -d "$dir" >/dev/null || fail "verify under $1 failed"
	ingest --load-script -d "$dir" --table "a_$1" >/dev/null || fail "load-script under $1 failed"
	INGEST= INGEST_WRAP= ingest --verify -d "$dir" >/dev/null || fail "the archive written under $1 does not verify"
	rm -rf "$(dirname "$dir")"
}

test_round_trip_under_asan_and_ubsan() {
	make -s -C "$ECSYNC_TOP/ingester" sanitize
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		INGEST=$ECSYNC_TOP/ingester/ecsync-ingest-san round_trip_under san
}

test_round_trip_under_valgrind() {
	make -s -C "$ECSYNC_TOP/ingester" valgrind
	INGEST=$ECSYNC_TOP/ingester/ecsync-ingest-vg \
		INGEST_WRAP="valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite" \
		round_trip_under vg
}
