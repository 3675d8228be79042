# The extension inside the real test stack's PostgreSQL.

PGBIN=${ECSYNC_PGBIN:-/usr/lib/postgresql/15/bin}

# launcher_rows prints the launcher's "datname|query" rows; fails if none
launcher_rows() {
	psql_q -c "SELECT datname || '|' || coalesce(query, '')
	             FROM pg_stat_activity WHERE backend_type = 'ecsync launcher'" | grep .
}

test_launcher_runs_and_is_visible() {
	local rows
	rows=$(wait_for 10 launcher_rows)
	assert_eq 1 "$(echo "$rows" | grep -c .)" "exactly one ecsync launcher in pg_stat_activity"
	assert_match '^ecsync\|' "$rows" "launcher connected to ecsync.database"
}

launcher_says() {
	[[ $(launcher_rows) == *"$1"* ]]
}

test_launcher_notices_create_extension() {
	# (with what other groups left in this database: their servers, streams
	# and registrations; a group that needs them again sets them up again)
	psql_q -c "SET client_min_messages = warning" -c "DROP EXTENSION IF EXISTS ecsync CASCADE"
	psql_q -c "SELECT pg_reload_conf()" >/dev/null	# SIGHUP wakes the launcher
	wait_for 15 launcher_says "waiting for CREATE EXTENSION ecsync" ||
		fail "launcher does not report the missing extension: $(launcher_rows)"
	psql_q -c "CREATE EXTENSION ecsync"
	psql_q -c "SELECT pg_reload_conf()" >/dev/null
	wait_for 15 launcher_says "managing 0 stream workers" ||
		fail "launcher did not notice CREATE EXTENSION: $(launcher_rows)"
	psql_q -c "DROP EXTENSION ecsync"
}

# launcher_pid prints the launcher's pid; fails if there is none
launcher_pid() {
	psql_q -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'ecsync launcher'" | grep .
}

test_launcher_restarts_after_termination() {
	local old new
	old=$(launcher_pid)
	[ -n "$old" ] || fail "no launcher"
	assert_eq t "$(psql_q -c "SELECT pg_terminate_backend($old)")" "terminate launcher"
	# bgw_restart_time is 10 s
	sleep 1
	new=$(wait_for 20 launcher_pid)
	[ -n "$new" ] || fail "launcher did not come back within 20 s"
	[ "$new" != "$old" ] || fail "launcher pid unchanged"
	psql_q -c "SELECT 1" >/dev/null || fail "server unusable after launcher restart"
}

# A second, throwaway PostgreSQL without ecsync in shared_preload_libraries:
# loading ecsync must fail and say how to fix it.
test_refuses_to_load_outside_shared_preload_libraries() {
	local dir out
	dir=$(mktemp -d /tmp/ecsync-nopreload-XXXXXX)
	chown postgres: "$dir"
	trap "runuser -u postgres -- '$PGBIN/pg_ctl' -D '$dir/data' -m immediate stop >/dev/null 2>&1; rm -rf '$dir'" EXIT
	runuser -u postgres -- "$PGBIN"/initdb -D "$dir/data" -N \
		--auth-local=peer --auth-host=reject >/dev/null
	runuser -u postgres -- "$PGBIN"/pg_ctl -D "$dir/data" -w \
		-l "$dir/log" -o "-c listen_addresses='' -c unix_socket_directories='$dir' -c shared_preload_libraries=pg_cron" \
		start >/dev/null
	out=$(runuser -u postgres -- psql -X -h "$dir" -d postgres -c "LOAD 'ecsync'" 2>&1 || true)
	assert_contains 'ecsync can only be loaded via shared_preload_libraries' "$out" "LOAD error"
	assert_contains "HINT:  Add ecsync to the shared_preload_libraries" "$out" "LOAD hint"
	out=$(runuser -u postgres -- psql -X -h "$dir" -d postgres -c "CREATE EXTENSION ecsync" 2>&1 || true)
	assert_contains 'ecsync can only be loaded via shared_preload_libraries' "$out" "CREATE EXTENSION error"
	# the failed load did not harm the server
	assert_eq 1 "$(runuser -u postgres -- psql -X -A -t -h "$dir" -d postgres -c 'SELECT 1')" "server still answers"
}
