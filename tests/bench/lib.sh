# lib.sh: helpers of the benchmark groups (sourced by tests/bench/*.sh)

log() { echo "bench: $*" >&2; }
q() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# peak_rss FILE PATTERN: the largest private memory (RssAnon, MB) of the
# process whose command line matches PATTERN, sampled until FILE.stop
# exists, written to FILE.  Shared buffers are not counted: they are the
# server's, not the worker's.
peak_rss() {
	local out=$1 pattern=$2 pid="" max=0 v
	while [ ! -e "$out.stop" ]; do
		[ -n "$pid" ] && [ -d "/proc/$pid" ] || pid=$(pgrep -f "$pattern" | head -n 1 || true)
		if [ -n "$pid" ]; then
			# read, not awk: the sampler must not cost the measured run a core
			while read -r k v _; do
				[ "$k" = RssAnon: ] && [ "$v" -gt "$max" ] && max=$v
			done <"/proc/$pid/status" 2>/dev/null || true
		fi
		sleep 0.05
	done
	awk -v k="$max" 'BEGIN { printf "%.1f", k / 1024 }' >"$out"
}

# quiesce: no checkpoint or autovacuum of an earlier load may land on the
# next measurement (every candidate gets the same treatment)
quiesce() {
	q -c "CHECKPOINT" >/dev/null
	sleep 1
}

# best TIME... prints the smallest of the times
best() { printf '%s\n' "$@" | sort -g | head -n 1; }

# copy_best TABLE FILE: the best of two timed \copy runs of FILE into
# TABLE (truncated before each), in seconds
copy_best() {
	local runs=() t0 i
	for i in 1 2; do
		q -c "TRUNCATE $1"
		quiesce
		t0=$(now)
		q -c "\\copy $1 FROM '$2'"
		runs+=("$(secs "$t0" "$(now)")")
	done
	log "COPY into $1: ${runs[*]} s"
	best "${runs[@]}"
}

# cdc_apply_timed SERVER SCHEMA CHANGES: starts SERVER's change capture,
# whose targets are in SCHEMA, and waits until it has applied CHANGES row
# changes of the benchmark's binary log (SCHEMA.bench_marker holds the
# count, cdc_workload.py --bench); checks that it applied exactly those and
# that every shop table equals MySQL's (count and sum of keys, by the
# client function my and database $db).  Sets cdc_s (seconds) and cdc_rss
# (the worker's peak private memory, MB).
cdc_apply_timed() {
	local server=$1 schema=$2 changes=$3 before f sampler t0 t1 applied t a b
	before=$(q -c "SELECT coalesce(sum(inserts + updates + deletes), 0) FROM ecsync.cdc_table_status WHERE server_name = '$server'")
	quiesce
	f=$ECSYNC_RUN_DIR/cdc-rss
	rm -f "$f" "$f.stop"
	peak_rss "$f" "ecsync cdc of server $server" &
	sampler=$!
	t0=$(now)
	t1=$(q -c "SELECT ecsync_start_cdc('$server')" -c "DO \$\$ BEGIN
		  WHILE coalesce((SELECT changes FROM $schema.bench_marker WHERE id = 1), 0) < $changes LOOP
		    PERFORM pg_sleep(0.02);
		  END LOOP; END \$\$" -c "SELECT extract(epoch FROM clock_timestamp())" | tail -n 1)
	touch "$f.stop"
	wait $sampler
	cdc_rss=$(cat "$f")
	cdc_s=$(secs "$t0" "$t1")
	applied=$(( $(q -c "SELECT sum(inserts + updates + deletes) FROM ecsync.cdc_table_status WHERE server_name = '$server'") - before ))
	[ "$applied" = "$changes" ] || { log "ecsync applied $applied row changes, the binary log has $changes"; return 1; }
	for t in users products sales sales_details; do
		a=$(my "$db" -e "SELECT count(*), coalesce(sum(id), 0) FROM $t" | tr '\t' '|')
		b=$(q -c "SELECT count(*), coalesce(sum(id), 0) FROM $schema.$t")
		[ "$a" = "$b" ] || { log "$schema.$t: PostgreSQL $b, MySQL $a"; return 1; }
	done
	q -c "SELECT ecsync_stop_cdc('$server')" >/dev/null
}

# mysql_server NAME DATABASE [OPTIONS]: an ecsync_mysql server NAME for the
# stack's MySQL database DATABASE (with the stack's TLS options and OPTIONS,
# e.g. "bigint_unsigned 'bigint'") and the caller's user mapping; the
# password goes to psql on stdin, never on a command line
mysql_server() {
	q -c "CREATE SERVER $1 FOREIGN DATA WRAPPER ecsync_mysql OPTIONS (host '127.0.0.1', port '$ECSYNC_MYSQL_PORT',
	      database '$2'${ECSYNC_MYSQL_SERVER_TLS:-}${3:+, $3})"
	q <<EOF
CREATE USER MAPPING FOR CURRENT_USER SERVER $1 OPTIONS (user 'ecsync', password '$(cat "$ECSYNC_MYSQL_PASSWORD_FILE")')
EOF
}

# binlog_position: the source's binary log end as FILE:POS (MySQL 8.4 and
# 9 dropped SHOW MASTER STATUS)
binlog_position() {
	if [ "${ECSYNC_MYSQL_FLAVOR:-mariadb}" = mysql ]; then
		mariadb -N -B -e "SHOW BINARY LOG STATUS"
	else
		mariadb -N -B -e "SHOW MASTER STATUS"
	fi | awk '{print $1 ":" $2}'
}
