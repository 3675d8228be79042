# Kafka page views into PostgreSQL through the stream workers, against the
# real broker.  Workers run in the database named by ecsync.database
# ("ecsync"), so every test works there, with a topic, a stream and a table
# of its own, and unregisters its stream at the end.

pvproduce=$ECSYNC_TOP/tests/gen/pvproduce
PGBIN=${ECSYNC_PGBIN:-/usr/lib/postgresql/15/bin}

setup() {
	export PGDATABASE=ecsync PGTZ=UTC
	psql_q -c "CREATE EXTENSION IF NOT EXISTS ecsync"
	psql_q -c "CREATE SERVER IF NOT EXISTS kafka FOREIGN DATA WRAPPER ecsync_kafka
	           OPTIONS (bootstrap_servers '$ECSYNC_KAFKA_BROKERS')" 2>/dev/null
}

# start_stream NAME [more ecsync_register_stream arguments]: topic and table NAME
start_stream() {
	local name=$1
	shift
	psql_q -c "SELECT ecsync_register_stream('$name', 'kafka', topic => '$name', target_table => '$name' $*)" >/dev/null
	psql_q -c "SELECT ecsync_start_stream('$name')" >/dev/null
}

rows() { psql_q -c "SELECT count(*) FROM $1"; }
dead() { psql_q -c "SELECT count(*) FROM ecsync.dead_letters WHERE stream = '$1'"; }
# arrived NAME N: rows and dead letters of stream NAME add up to at least N
arrived() {
	local r d
	r=$(rows "$1" 2>/dev/null) && d=$(dead "$1" 2>/dev/null) && [ $((r + d)) -ge "$2" ]
}
worker_pids() {
	psql_q -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'ecsync stream $1' ORDER BY pid"
}
workers_running() { [ "$(worker_pids "$1" | grep -c .)" = "$2" ]; }

# assert_exactly_once NAME PRODUCED: every offset of every partition is in
# the table or the dead letters once, none twice, none missing, and the
# stored offsets are where the stream resumes
assert_exactly_once() {
	local t=$1 n=$2 all
	all="SELECT kafka_partition p, kafka_offset o FROM $t
	     UNION ALL SELECT kafka_partition, kafka_offset FROM ecsync.dead_letters WHERE stream = '$t'"
	assert_eq "$n" "$(psql_q -c "SELECT count(*) FROM ($all) a")" "rows + dead letters = events produced"
	assert_eq "$n" "$(psql_q -c "SELECT count(DISTINCT (p, o)) FROM ($all) a")" "distinct (partition, offset)"
	assert_eq "" "$(psql_q -c "SELECT p FROM ($all) a GROUP BY p HAVING min(o) <> 0 OR max(o) + 1 <> count(*)")" \
		"partitions with a gap"
	assert_eq "" "$(psql_q -c "SELECT o.kafka_partition FROM ecsync.stream_offsets o
		JOIN ecsync.streams s ON s.id = o.stream_id AND s.name = '$t'
		LEFT JOIN (SELECT p, max(o) + 1 AS next FROM ($all) a GROUP BY p) m ON m.p = o.kafka_partition
		WHERE o.next_offset IS DISTINCT FROM m.next")" "partitions whose stored offset is not after their last event"
	echo "$n events exactly once in $t"
}

cleanup() {	# cleanup NAME
	psql_q -c "SELECT ecsync_unregister_stream('$1')" >/dev/null
}

pg_log() { cat "$ECSYNC_RUN_DIR/pg/postgresql.log"; }

test_stream_ingests_every_event_exactly_once() {
	setup
	local t=st_basic dir
	dir=$(mktemp -d)
	"$pvproduce" -t $t --partitions 4 -n 20000 --scale 0.01 --echo "$dir/sent" -q
	start_stream $t
	wait_for 60 arrived $t 20000 || fail "only $(rows $t) of 20000 events arrived"
	assert_exactly_once $t 20000
	assert_eq 0 "$(dead $t)" "dead letters"
	# the rows are the events, value for value
	cut -f2 "$dir/sent" >"$dir/sent.json"
	psql_q -c "CREATE TEMP TABLE sent (j text)" \
		-c "\\copy sent FROM '$dir/sent.json' WITH (FORMAT csv, DELIMITER E'\\x01', QUOTE E'\\x02')" \
		-c "SELECT count(*) FROM (
		      SELECT (j::jsonb->>'user_id')::bigint, (j::jsonb->>'age')::smallint, j::jsonb->>'gender',
		             j::jsonb->>'occupation', j::jsonb->>'page', (j::jsonb->>'viewed_at')::timestamptz FROM sent
		      EXCEPT ALL SELECT user_id, age, gender, occupation, page, viewed_at FROM $t) d" >"$dir/diff"
	assert_eq 0 "$(tail -n 1 "$dir/diff")" "events missing or different in the table"
	# lag, watermarks and what the worker is doing are visible in SQL
	wait_for 10 lag_is_zero $t || fail "lag not 0: $(psql_q -c "SELECT * FROM ecsync.stream_partitions WHERE stream = '$t'")"
	assert_eq 20000 "$(psql_q -c "SELECT sum(high_watermark) FROM ecsync.stream_partitions WHERE stream = '$t'")" "high watermarks"
	assert_eq "$t|started|1|1|20000|0" "$(psql_q -c "SELECT stream, state, workers_wanted, workers_running, rows_total, dead_total FROM ecsync.stream_status WHERE stream = '$t'")" "stream status"
	assert_match "waiting for events of $t, partitions 0,1,2,3" \
		"$(psql_q -c "SELECT query FROM pg_stat_activity WHERE application_name = 'ecsync stream $t'")" "pg_stat_activity"
	# the rollup adds up, per minute and page
	assert_eq 20000 "$(psql_q -c "SELECT sum(views) FROM ${t}_per_minute")" "views in the rollup"
	cleanup $t
	wait_for 10 workers_running $t 0 || fail "worker still running after unregistering"
	rm -rf "$dir"
}

lag_is_zero() {
	[ "$(psql_q -c "SELECT sum(lag) FROM ecsync.stream_partitions WHERE stream = '$1'")" = 0 ]
}

visible() { [ "$(rows "$1")" -ge "$2" ]; }

test_low_rate_events_are_visible_within_the_latency_bound() {
	setup
	local t=st_latency i t0 t1 worst=0
	"$pvproduce" -t $t --partitions 2 -n 1 -q
	start_stream $t ", max_latency => '100 ms'"
	wait_for 30 visible $t 1 || fail "the first event never arrived"
	for i in 2 3 4 5 6; do
		t0=$(date +%s%N)
		"$pvproduce" -t $t -n 1 -q
		wait_for 5 visible $t $i || fail "event $i not visible within 5 s"
		t1=$(date +%s%N)
		(((t1 - t0) / 1000000 > worst)) && worst=$(((t1 - t0) / 1000000))
	done
	echo "worst produce-to-visible time: $worst ms (including pvproduce start-up)"
	[ "$worst" -lt 1500 ] || fail "a single event took $worst ms to become visible"
	cleanup $t
}

# poison sends lines to partition 0 of TOPIC as messages
poison() {
	kcat -b "$ECSYNC_KAFKA_BROKERS" -P -t "$1" -p 0
}

# tombstone sends a message with a key and no value (NULL)
tombstone() {
	echo "k|" | kcat -b "$ECSYNC_KAFKA_BROKERS" -P -t "$1" -p 0 -K '|' -Z
}

kinds() {
	psql_q -c "SELECT kind || ':' || count(*) FROM ecsync.dead_letters WHERE stream = '$1' GROUP BY kind ORDER BY kind" | tr '\n' ' '
}

test_poison_messages_go_to_dead_letters_and_the_stream_goes_on() {
	setup
	local t=st_poison big
	"$pvproduce" -t $t --partitions 1 -n 100 -q
	start_stream $t ", max_message_bytes => 1000"
	psql_q -c "ALTER TABLE $t ADD CONSTRAINT age_not_negative CHECK (age >= 0)"
	big=$(printf '{"user_id":1,"page":"/%01200d","viewed_at":"2026-01-01T00:00:00Z"}' 0)
	tombstone $t
	{
		echo "$big"
		printf '{"user_id":1,"page":"/\xff\xfe","viewed_at":"2026-01-01T00:00:00Z"}\n'
		echo '{"user_id":1,"page":"/",'
		echo 'GET /index.html HTTP/1.1'
		echo '[1,2,3]'
		echo '{"user_id":1,"viewed_at":"2026-01-01T00:00:00Z"}'
		echo '{"user_id":"abc","page":"/","viewed_at":"2026-01-01T00:00:00Z"}'
		echo '{"user_id":1,"page":"/a\u0000b","viewed_at":"2026-01-01T00:00:00Z"}'
		echo '{"user_id":1,"age":99999,"page":"/","viewed_at":"2026-01-01T00:00:00Z"}'
		echo '{"user_id":1,"page":"/","viewed_at":"last tuesday"}'
		echo '{"user_id":1,"age":-5,"page":"/","viewed_at":"2026-01-01T00:00:00Z"}'
	} | poison $t
	"$pvproduce" -t $t -n 100 -q
	wait_for 60 arrived $t 212 || fail "only $(rows $t) rows and $(dead $t) dead letters of 212 events"
	assert_eq "bad_timestamp:1 empty:1 invalid_utf8:1 missing_field:1 not_json:2 not_object:1 out_of_range:1 rejected_by_target:1 too_large:1 wrong_type:2 " \
		"$(kinds $t)" "dead letters by kind"
	assert_eq 200 "$(rows $t)" "good events ingested around the poison"
	assert_exactly_once $t 212
	# raw bytes are kept byte for byte, with the reason and where they came from
	assert_eq "7b22757365725f6964223a312c2270616765223a222fff" \
		"$(psql_q -c "SELECT left(encode(payload, 'hex'), 46) FROM ecsync.dead_letters WHERE stream = '$t' AND kind = 'invalid_utf8'")" \
		"raw bytes of the invalid UTF-8 message"
	assert_eq "1259|st_poison|0" "$(psql_q -c "SELECT length(payload), topic, kafka_partition FROM ecsync.dead_letters WHERE stream = '$t' AND kind = 'too_large'")" "the too-large message, whole"
	assert_eq "t" "$(psql_q -c "SELECT payload IS NULL FROM ecsync.dead_letters WHERE stream = '$t' AND kind = 'empty'")" "the tombstone"
	assert_contains 'age_not_negative' "$(psql_q -c "SELECT reason FROM ecsync.dead_letters WHERE stream = '$t' AND kind = 'rejected_by_target'")" "PostgreSQL's reason"
	assert_contains '"user_id" must be an integer, not a string' "$(psql_q -c "SELECT string_agg(reason, ';') FROM ecsync.dead_letters WHERE stream = '$t'")" "reasons name the field"
	cleanup $t
}

# produce_bg TOPIC N RATE: produce in the background; sets producer
produce_bg() {
	"$pvproduce" -t "$1" -n "$2" -r "$3" -q &
	producer=$!
}

test_worker_killed_mid_stream_loses_and_duplicates_nothing() {
	setup
	local t=st_kill9 pid producer
	"$pvproduce" -t $t --partitions 4 -n 1 -q
	start_stream $t ", batch_size => 2000"
	produce_bg $t 59999 15000
	wait_for 60 arrived $t 15000 || fail "the stream never got going"
	pid=$(worker_pids $t)
	echo "kill -9 worker $pid at $(rows $t) rows"
	kill -9 "$pid"
	wait $producer
	wait_for 120 arrived $t 60000 || fail "only $(rows $t) of 60000 after the crash"
	sleep 1
	assert_exactly_once $t 60000
	assert_contains "was terminated by signal 9" "$(pg_log)" "PostgreSQL saw the worker die"
	cleanup $t
}

test_postgres_immediate_restart_mid_stream() {
	setup
	local t=st_pgrestart producer
	"$pvproduce" -t $t --partitions 4 -n 1 -q
	start_stream $t
	produce_bg $t 59999 15000
	wait_for 60 arrived $t 15000 || fail "the stream never got going"
	echo "immediate stop at $(rows $t) rows"
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$ECSYNC_RUN_DIR/pg/data" -m immediate -w stop
	sleep 2
	stack_start
	wait $producer
	# the started stream comes back by itself
	wait_for 120 arrived $t 60000 || fail "only $(rows $t) of 60000 after the restart"
	sleep 1
	assert_exactly_once $t 60000
	cleanup $t
}

kafka_down() { ! port_listening "${ECSYNC_KAFKA_BROKERS##*:}"; }

test_broker_stopped_and_started_mid_stream() {
	setup
	local t=st_broker
	"$pvproduce" -t $t --partitions 4 -n 40000 -q
	start_stream $t ", batch_size => 1000"
	wait_for 60 arrived $t 2000 || fail "the stream never got going"
	echo "stopping the broker at $(rows $t) rows"
	kill -TERM "$(cat "$ECSYNC_RUN_DIR/kafka/kafka.pid")"
	wait_for 60 kafka_down || fail "the broker did not stop"
	sleep 3
	assert_match "Kafka" "$(psql_q -c "SELECT last_error FROM ecsync.stream_status WHERE stream = '$t'")" "the outage is visible"
	# a stop while the broker is down ends within the bounded close
	psql_q -c "SELECT ecsync_stop_stream('$t')" >/dev/null
	wait_for 15 workers_running $t 0 || fail "the worker did not stop while the broker was down"
	stack_start
	psql_q -c "SELECT ecsync_start_stream('$t')" >/dev/null
	"$pvproduce" -t $t -n 20000 -q
	wait_for 120 arrived $t 60000 || fail "only $(rows $t) of 60000 after the broker came back"
	sleep 1
	assert_exactly_once $t 60000
	cleanup $t
}

# assigned_all_four NAME PID: worker PID logged an assignment of partitions 0 to 3
# (a partition the frozen worker had not committed yet starts @earliest)
assigned_all_four() {
	pg_log | grep -Eq "\[$2\] LOG:  ecsync stream \"$1\" worker [0-9]+: assigned partitions 0@([0-9]+|earliest), 1@([0-9]+|earliest), 2@([0-9]+|earliest), 3@([0-9]+|earliest) "
}

# blocked_by PID OTHER: backend PID waits for a lock OTHER holds
blocked_by() {
	[[ " $(psql_q -c "SELECT array_to_string(pg_blocking_pids($1), ' ')") " == *" $2 "* ]]
}

owners() {
	psql_q -c "SELECT count(DISTINCT worker_pid) FROM ecsync.stream_partitions WHERE stream = '$1'"
}

test_rebalance_two_workers_four_partitions_one_frozen() {
	setup
	local t=st_rebalance producer a b before
	"$pvproduce" -t $t --partitions 4 -n 1 -q
	start_stream $t ", workers => 2, batch_size => 2000"
	wait_for 30 workers_running $t 2 || fail "two workers did not start"
	produce_bg $t 79999 10000
	wait_for 60 arrived $t 10000 || fail "the stream never got going"
	wait_for 30 has_two_owners $t || fail "partitions not spread over both workers: $(psql_q -c "SELECT kafka_partition, worker_pid FROM ecsync.stream_partitions WHERE stream = '$t'")"
	read -r a b <<<"$(worker_pids $t | tr '\n' ' ')"
	# freeze one worker: its session times out and the other takes its partitions
	echo "freezing worker $a at $(rows $t) rows; $b should take over"
	kill -STOP "$a"
	wait_for 40 assigned_all_four $t "$b" || { kill -CONT "$a"; fail "the group did not give worker $b all partitions"; }
	before=$(rows $t)
	sleep 3
	# progress, unless the freeze caught the worker between its offset update
	# and its commit: then its successor must wait for that transaction
	if [ "$(rows $t)" -le "$before" ]; then
		if blocked_by "$b" "$a"; then
			echo "worker $b waits for the frozen worker's open transaction, as it must"
		else
			kill -CONT "$a"
			fail "no progress with one worker frozen"
		fi
	fi
	# thawed, the old owner must not commit what it held
	kill -CONT "$a"
	wait $producer
	wait_for 120 arrived $t 80000 || fail "only $(rows $t) of 80000"
	sleep 2
	assert_exactly_once $t 80000
	cleanup $t
}

has_two_owners() { [ "$(owners "$1")" = 2 ]; }

# A worker frozen in the middle of a batch holds its partitions' offset
# rows; the worker that takes them over must still be assigned them at
# once (its first offset update then waits for that batch, as it must).
# A session holding the rows stands in for the frozen batch: an assignment
# that waited for it (INSERT ... ON CONFLICT on a row another transaction
# updated waits) left the group with no owner of those partitions, and so
# did an idle worker whose statistics write waited for the rows (it served
# no rebalance): the rows are held for a few statistics intervals before
# the peer goes.
test_a_successor_is_assigned_partitions_whose_offsets_a_batch_holds() {
	setup
	local t=st_handover holder from a
	"$pvproduce" -t $t --partitions 2 -n 1000 -q
	start_stream $t ", workers => 2"
	wait_for 30 workers_running $t 2 || fail "two workers did not start"
	wait_for 60 arrived $t 1000 || fail "first events: $(rows $t) of 1000"
	wait_for 30 has_two_owners $t || fail "partitions not spread over both workers"
	psql_q -c "BEGIN" \
		-c "UPDATE ecsync.stream_offsets SET updated_at = now() WHERE stream_id = (SELECT id FROM ecsync.streams WHERE name = '$t')" \
		-c "SELECT pg_sleep(60)" -c "COMMIT" >/dev/null 2>&1 &
	holder=$!
	sleep 5
	from=$(pg_log | wc -l)
	read -r a _ <<<"$(worker_pids $t | tr '\n' ' ')"
	psql_q -c "SELECT pg_terminate_backend($a)" >/dev/null
	wait_for 30 assigned_both_since "$from" $t ||
		{ kill $holder 2>/dev/null; fail "no worker was assigned both partitions while their offset rows were held: $(pg_log | tail -n +"$from" | grep -E 'assigned|revoked' | tail -5)"; }
	kill $holder 2>/dev/null
	wait $holder 2>/dev/null || true
	"$pvproduce" -t $t -n 1000 -q
	wait_for 60 arrived $t 2000 || fail "after the hand-over: $(rows $t) of 2000"
	assert_exactly_once $t 2000
	cleanup $t
}

# assigned_both_since LINE NAME: since log line LINE, a worker of stream
# NAME was assigned partitions 0 and 1
assigned_both_since() {
	pg_log | tail -n +"$1" | grep -Eq "ecsync stream \"$2\" worker [0-9]+: assigned partitions 0@([0-9]+|earliest), 1@([0-9]+|earliest) "
}

test_stop_start_and_restart_keep_the_stream_state() {
	setup
	local t=st_state n
	"$pvproduce" -t $t --partitions 2 -n 1000 -q
	start_stream $t
	wait_for 30 arrived $t 1000 || fail "first events"
	psql_q -c "SELECT ecsync_stop_stream('$t')" >/dev/null
	wait_for 15 workers_running $t 0 || fail "worker still running after stop"
	assert_contains "ecsync stream \"$t\" worker 0 stopped" "$(pg_log)" "a clean stop"
	"$pvproduce" -t $t -n 500 -q
	sleep 2
	assert_eq 1000 "$(rows $t)" "nothing ingested while stopped"
	# a stopped stream stays stopped across a restart
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$ECSYNC_RUN_DIR/pg/data" -m fast -w stop >/dev/null
	stack_start
	sleep 3
	workers_running $t 0 || fail "a stopped stream came back after a restart"
	psql_q -c "SELECT ecsync_start_stream('$t')" >/dev/null
	wait_for 30 arrived $t 1500 || fail "after start: $(rows $t) of 1500"
	# pg_terminate_backend (SIGTERM) stops a worker cleanly; the launcher starts another
	n=$(worker_pids $t)
	psql_q -c "SELECT pg_terminate_backend($n)" >/dev/null
	wait_for 30 new_worker $t "$n" || fail "no new worker after SIGTERM"
	"$pvproduce" -t $t -n 500 -q
	wait_for 30 arrived $t 2000 || fail "after SIGTERM: $(rows $t) of 2000"
	assert_exactly_once $t 2000
	cleanup $t
}

test_stop_reaches_a_worker_waiting_for_a_lock() {
	setup
	local t=st_lockwait holder t0 t1
	"$pvproduce" -t $t --partitions 1 -n 100 -q
	start_stream $t
	wait_for 30 arrived $t 100 || fail "first events"
	# a session holds the target; the next batch waits for it
	psql_q -c "BEGIN" -c "LOCK TABLE $t IN ACCESS EXCLUSIVE MODE" -c "SELECT pg_sleep(120)" >/dev/null 2>&1 &
	holder=$!
	sleep 1
	"$pvproduce" -t $t -n 100 -q
	wait_for 15 worker_waits_for_lock $t || fail "the worker never waited for the lock"
	t0=$(date +%s%N)
	psql_q -c "SELECT ecsync_stop_stream('$t')" >/dev/null
	wait_for 10 workers_running $t 0 || fail "the worker waiting for a lock ignored the stop"
	t1=$(date +%s%N)
	echo "stop took $(((t1 - t0) / 1000000)) ms"
	kill $holder 2>/dev/null; wait $holder 2>/dev/null || true
	psql_q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()" >/dev/null
	assert_eq 100 "$(rows $t)" "the waiting batch was not committed"
	psql_q -c "SELECT ecsync_start_stream('$t')" >/dev/null
	wait_for 30 arrived $t 200 || fail "after the restart: $(rows $t) of 200"
	assert_exactly_once $t 200
	cleanup $t
}

worker_waits_for_lock() {
	[ -n "$(psql_q -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'ecsync stream $1' AND wait_event_type = 'Lock'")" ]
}

new_worker() {
	local p
	p=$(worker_pids "$1")
	[ -n "$p" ] && [ "$p" != "$2" ]
}

test_configuration_changes_take_effect_without_a_restart() {
	setup
	local t=st_config old
	"$pvproduce" -t $t --partitions 2 -n 500 -q
	start_stream $t
	wait_for 30 arrived $t 500 || fail "first events"
	old=$(worker_pids $t)
	# a new column and a mapping that fills it from the Kafka key and timestamp
	psql_q -c "ALTER TABLE $t ADD COLUMN user_key text, ADD COLUMN produced_at timestamptz"
	psql_q -c "SELECT ecsync_register_stream('$t', 'kafka', topic => '$t', target_table => '$t',
	             batch_size => 100, mapping => ecsync_page_view_mapping()
	               || '[{\"column\": \"user_key\", \"source\": \"key\"},
	                    {\"column\": \"produced_at\", \"source\": \"timestamp\"}]')" >/dev/null
	wait_for 30 new_worker $t "$old" || fail "the worker was not restarted with the new configuration"
	assert_eq "100" "$(psql_q -c "SELECT batch_size FROM ecsync.streams WHERE name = '$t'")" "new batch size stored"
	"$pvproduce" -t $t -n 500 -q
	wait_for 30 arrived $t 1000 || fail "after the change: $(rows $t) of 1000"
	assert_eq "500|500" "$(psql_q -c "SELECT count(*) FILTER (WHERE user_key = user_id::text),
	                                         count(*) FILTER (WHERE produced_at > now() - interval '5 minutes')
	                                    FROM $t WHERE user_key IS NOT NULL")" "new events fill the new columns"
	assert_exactly_once $t 1000
	cleanup $t
}

test_kafka_credentials_stay_out_of_logs_and_views() {
	setup
	local t=st_secret secret=ecsync-kafka-secret-$RANDOM$RANDOM
	psql_q -c "CREATE SERVER kafka_sasl FOREIGN DATA WRAPPER ecsync_kafka
	           OPTIONS (bootstrap_servers '$ECSYNC_KAFKA_BROKERS', \"security.protocol\" 'sasl_plaintext',
	                    \"sasl.mechanisms\" 'PLAIN')"
	psql_q <<-EOF
	CREATE USER MAPPING FOR CURRENT_USER SERVER kafka_sasl
	  OPTIONS ("sasl.username" 'shop', "sasl.password" '$secret')
	EOF
	psql_q -c "SELECT ecsync_register_stream('$t', 'kafka_sasl', topic => '$t', target_table => '$t')" >/dev/null
	psql_q -c "SELECT ecsync_start_stream('$t')" >/dev/null
	wait_for 30 has_error $t || fail "the failing SASL handshake left no error"
	psql_q -c "SELECT last_error FROM ecsync.stream_status WHERE stream = '$t'"
	! pg_log | grep -F -- "$secret" || fail "the password is in the server log"
	! psql_q -c "SELECT * FROM ecsync.streams; SELECT * FROM ecsync.stream_status; SELECT * FROM pg_stat_activity" | grep -F -- "$secret" ||
		fail "the password is in a view"
	cleanup $t
	psql_q -c "DROP SERVER kafka_sasl CASCADE"
}

has_error() {
	[ -n "$(psql_q -c "SELECT last_error FROM ecsync.stream_status WHERE stream = '$1'")" ]
}

# memory_total PID: the grand total of a backend's memory contexts, as
# pg_log_backend_memory_contexts() logs it
memory_total() {
	local from i line
	from=$(($(pg_log | wc -l) + 1))
	psql_q -c "SELECT pg_log_backend_memory_contexts($1)" >/dev/null
	for ((i = 0; i < 50; i++)); do
		line=$(pg_log | tail -n +"$from" | grep "\[$1\] LOG:  Grand total: " | tail -n 1)
		[ -n "$line" ] && break
		sleep 0.2
	done
	[[ $line =~ Grand\ total:\ ([0-9]+)\ bytes ]] || return 1
	echo "${BASH_REMATCH[1]}"
}

test_worker_memory_stays_flat_over_hundreds_of_batches() {
	setup
	local t=st_memory pid a b batches
	"$pvproduce" -t $t --partitions 2 -n 1 -q
	start_stream $t ", batch_size => 1"
	wait_for 30 arrived $t 1 || fail "first event"
	"$pvproduce" -t $t -n 1000 -r 1000 -q
	wait_for 60 arrived $t 1001 || fail "first 1001 events"
	pid=$(worker_pids $t)
	a=$(memory_total "$pid") || fail "no memory report from worker $pid"
	# on a loaded machine batches take more events each: more events
	# until there were enough batches (at most three more rounds)
	local n=1001 round
	for round in 1 2 3 4; do
		"$pvproduce" -t $t -n 3000 -r 1000 -q
		n=$((n + 3000))
		wait_for 120 arrived $t $n || fail "only $(rows $t) of $n"
		batches=$(psql_q -c "SELECT count(DISTINCT ingested_at) FROM $t WHERE kafka_offset > 0 AND ingested_at > (SELECT min(ingested_at) FROM $t) + interval '0 s'")
		[ "$batches" -ge 500 ] && break
	done
	b=$(memory_total "$pid") || fail "no memory report from worker $pid"
	echo "worker $pid: $a bytes of memory contexts, then $b; $batches batches in all"
	# a leak of even 30 bytes a batch would pass a block boundary
	[ "$batches" -ge 500 ] || fail "only $batches batches: the test needs hundreds"
	[ $((b - a)) -lt 16384 ] || fail "the worker's memory grew by $((b - a)) bytes"
	assert_exactly_once $t $n
	cleanup $t
}

# register NAME TOPIC [more arguments]: the stream NAME reads TOPIC into table NAME
register() {
	local name=$1 topic=$2
	shift 2
	psql_q -c "SELECT ecsync_register_stream('$name', 'kafka', topic => '$topic', target_table => '$name' $*)"
}

test_repointing_into_a_table_with_rows_needs_a_choice() {
	setup
	local t=st_repoint out
	"$pvproduce" -t ${t}_a --partitions 2 -n 300 -q
	"$pvproduce" -t ${t}_b --partitions 2 -n 200 -q
	register $t ${t}_a >/dev/null
	psql_q -c "SELECT ecsync_start_stream('$t')" >/dev/null
	wait_for 30 arrived $t 300 || fail "topic a: $(rows $t) of 300"
	# another topic into the same table: refused without a choice ...
	out=$(register $t ${t}_b 2>&1) && fail "re-pointed into a table with rows: $out"
	assert_contains "existing_rows" "$out" "the error names the choice"
	# ... kept: the topic is part of the key, nothing collides
	register $t ${t}_b ", existing_rows => 'keep'" >/dev/null
	wait_for 30 arrived $t 500 || fail "topic b: $(rows $t) of 500"
	assert_eq "${t}_a|300,${t}_b|200" "$(psql_q -c "SELECT kafka_topic || '|' || count(*) FROM $t GROUP BY kafka_topic ORDER BY kafka_topic" | paste -sd,)" "rows per topic"
	assert_eq 0 "$(dead $t)" "no collision became a dead letter"
	# back to topic a with a new consumer group, kept: it resumes after the rows it has
	"$pvproduce" -t ${t}_a -n 100 -q
	register $t ${t}_a ", consumer_group => 'other', existing_rows => 'keep'" >/dev/null
	wait_for 30 arrived $t 600 || fail "topic a again: $(rows $t) of 600"
	sleep 2
	assert_eq "${t}_a|400,${t}_b|200" "$(psql_q -c "SELECT kafka_topic || '|' || count(*) FROM $t GROUP BY kafka_topic ORDER BY kafka_topic" | paste -sd,)" "nothing read twice"
	assert_eq 0 "$(dead $t)" "still no dead letter"
	# truncated: read again from the start
	register $t ${t}_a ", existing_rows => 'truncate'" >/dev/null
	wait_for 30 arrived $t 400 || fail "after truncate: $(rows $t) of 400"
	sleep 2
	assert_eq "${t}_a|400" "$(psql_q -c "SELECT kafka_topic || '|' || count(*) FROM $t GROUP BY kafka_topic ORDER BY kafka_topic" | paste -sd,)" "the table holds topic a once"
	# a new stream into a table with rows is refused the same way
	out=$(psql_q -c "SELECT ecsync_register_stream('${t}_2', 'kafka', topic => '${t}_b', target_table => '$t')" 2>&1) &&
		fail "a new stream went into a table with rows"
	assert_contains "existing_rows" "$out" "a new stream needs the choice too"
	cleanup $t
}

test_a_dead_letter_read_again_does_not_stop_the_stream() {
	setup
	local t=st_dlagain pid
	"$pvproduce" -t $t --partitions 1 -n 10 -q
	echo 'not json at all' | poison $t
	start_stream $t
	wait_for 30 arrived $t 11 || fail "first: $(rows $t) rows, $(dead $t) dead"
	# a new group keeps the rows and starts after them: the poison is read again
	register $t $t ", consumer_group => 'again', existing_rows => 'keep'" >/dev/null
	"$pvproduce" -t $t -n 5 -q
	wait_for 30 visible $t 15 || fail "the stream stopped at the dead letter read again: $(rows $t) rows; $(psql_q -c "SELECT last_error FROM ecsync.stream_status WHERE stream = '$t'")"
	pid=$(worker_pids $t)
	sleep 3
	assert_eq "$pid" "$(worker_pids $t)" "the worker did not restart"
	assert_eq 1 "$(dead $t)" "the dead letter once"
	cleanup $t
}

test_latest_is_resolved_once() {
	setup
	local t=st_latest
	"$pvproduce" -t $t --partitions 3 -n 50 -q
	start_stream $t ", start_from => 'latest'"
	wait_for 30 pinned $t 3 || fail "the start was not stored: $(psql_q -c "SELECT * FROM ecsync.stream_partitions WHERE stream = '$t'")"
	# stopped before any event came, started after some did
	psql_q -c "SELECT ecsync_stop_stream('$t')" >/dev/null
	wait_for 15 workers_running $t 0 || fail "worker still running"
	"$pvproduce" -t $t -n 30 -q
	psql_q -c "SELECT ecsync_start_stream('$t')" >/dev/null
	wait_for 30 arrived $t 30 || fail "events sent while stopped were skipped: $(rows $t) of 30"
	sleep 2
	assert_eq 30 "$(rows $t)" "exactly the events after the start"
	cleanup $t
}
pinned() { [ "$(psql_q -c "SELECT count(*) FROM ecsync.stream_partitions WHERE stream = '$1' AND stored_offset IS NOT NULL")" = "$2" ]; }

test_a_recreated_topic_pauses_its_partitions_and_shows_the_lag() {
	setup
	local t=st_recreate out dir
	"$pvproduce" -t $t --partitions 1 -n 100 -q
	start_stream $t
	wait_for 30 arrived $t 100 || fail "first: $(rows $t) of 100"
	psql_q -c "SELECT ecsync_stop_stream('$t')" >/dev/null
	wait_for 15 workers_running $t 0 || fail "worker still running"
	"$pvproduce" -t $t --delete-topic --partitions 1 -n 10 -q
	psql_q -c "SELECT ecsync_start_stream('$t')" >/dev/null
	wait_for 30 beyond_end $t || fail "the partition was not marked: $(psql_q -c "SELECT * FROM ecsync.stream_partitions WHERE stream = '$t'")"
	assert_eq "10" "$(psql_q -c "SELECT lag FROM ecsync.stream_status WHERE stream = '$t'")" "the real lag"
	assert_contains "beyond the end" "$(psql_q -c "SELECT last_error FROM ecsync.stream_status WHERE stream = '$t'")" "the error says so"
	assert_eq 100 "$(rows $t)" "nothing taken for an old copy, nothing read"
	# emptying the table starts the new topic afresh
	register $t $t ", existing_rows => 'truncate'" >/dev/null
	wait_for 30 arrived $t 10 || fail "after truncate: $(rows $t) of 10"
	assert_eq "false|0" "$(psql_q -c "SELECT beyond_end || '|' || lag FROM ecsync.stream_partitions WHERE stream = '$t'")" "mark cleared, lag 0"
	# ecsync-ingest: an archive beyond the end is refused, not read to nothing
	dir=$(mktemp -d)
	"$pvproduce" -t ${t}_arch --partitions 1 -n 50 -q
	ECSYNC_MYSQL_PASSWORD=x ecsync-ingest -q -b "$ECSYNC_KAFKA_BROKERS" --stream --once -d "$dir" -X topic=${t}_arch || fail "first archive"
	"$pvproduce" -t ${t}_arch --delete-topic --partitions 1 -n 5 -q
	out=$(ECSYNC_MYSQL_PASSWORD=x ecsync-ingest -q -b "$ECSYNC_KAFKA_BROKERS" --stream --once -d "$dir" -X topic=${t}_arch 2>&1) &&
		fail "--once archived a re-created topic as if nothing happened: $out"
	assert_contains "beyond the end" "$out" "ecsync-ingest says why"
	rm -rf "$dir"
	cleanup $t
}
beyond_end() { [ "$(psql_q -c "SELECT bool_or(beyond_end) FROM ecsync.stream_partitions WHERE stream = '$1'")" = t ]; }

test_rows_a_trigger_refuses_are_isolated_by_splitting() {
	setup
	local t=st_trigger pid
	"$pvproduce" -t $t --partitions 1 -n 10 -q
	start_stream $t ", batch_size => 5000"
	wait_for 30 arrived $t 10 || fail "first"
	pid=$(worker_pids $t)
	psql_q <<-SQL
	CREATE FUNCTION ${t}_check() RETURNS trigger LANGUAGE plpgsql AS \$\$
	BEGIN
	    IF NEW.kafka_offset % 997 = 0 THEN
	        RAISE EXCEPTION 'offset % is not welcome', NEW.kafka_offset;
	    END IF;
	    RETURN NEW;
	END \$\$;
	CREATE TRIGGER ${t}_check BEFORE INSERT ON $t FOR EACH ROW EXECUTE FUNCTION ${t}_check();
	SQL
	"$pvproduce" -t $t -n 4000 -q
	wait_for 60 arrived $t 4010 || fail "$(rows $t) rows, $(dead $t) dead of 4010"
	assert_eq "rejected_by_target:4 " "$(kinds $t)" "the rows the trigger refused, and only those"
	assert_contains "is not welcome" "$(psql_q -c "SELECT min(reason) FROM ecsync.dead_letters WHERE stream = '$t'")" "the trigger's message"
	assert_eq "$pid" "$(worker_pids $t)" "the worker never restarted"
	assert_exactly_once $t 4010
	assert_contains "isolating the rows at fault" "$(pg_log)" "the log says the batch was split"
	cleanup $t
}

test_dead_letter_kinds_for_empty_null_and_an_ignored_nul() {
	setup
	local t=st_kinds
	"$pvproduce" -t $t --partitions 1 -n 1 -q
	start_stream $t
	printf '\n' | kcat -b "$ECSYNC_KAFKA_BROKERS" -P -t $t -p 0 -D '|'
	{
		echo 'null'
		echo '42'
		echo '"text"'
		echo '{"user_id":7,"note":"a\u0000b","page":"/nul","viewed_at":"2026-01-01T00:00:00Z"}'
	} | poison $t
	wait_for 30 arrived $t 6 || fail "$(rows $t) rows, $(dead $t) dead of 6"
	assert_eq "empty:1 not_object:3 " "$(kinds $t)" "kinds"
	assert_eq 1 "$(psql_q -c "SELECT count(*) FROM $t WHERE page = '/nul'")" "a \\u0000 the mapping ignores does not refuse the event"
	cleanup $t
}

test_last_error_says_when_it_is_old() {
	setup
	local t=st_olderr
	"$pvproduce" -t $t --partitions 1 -n 10 -q
	start_stream $t
	wait_for 30 arrived $t 10 || fail "first"
	# a column the mapping fills is dropped: the stream fails ...
	psql_q -c "ALTER TABLE $t RENAME COLUMN page TO page_gone"
	"$pvproduce" -t $t -n 10 -q
	wait_for 30 error_state $t current || fail "no current error: $(psql_q -c "SELECT last_error, error_state FROM ecsync.stream_status WHERE stream = '$t'")"
	# ... until it is back; the error stays, marked as the past
	psql_q -c "ALTER TABLE $t RENAME COLUMN page_gone TO page"
	wait_for 60 arrived $t 20 || fail "after the fix: $(rows $t) of 20"
	wait_for 10 error_state $t recovered || fail "error not marked old: $(psql_q -c "SELECT last_error, error_state FROM ecsync.stream_status WHERE stream = '$t'")"
	cleanup $t
}
error_state() { [ "$(psql_q -c "SELECT error_state FROM ecsync.stream_status WHERE stream = '$1'")" = "$2" ]; }
