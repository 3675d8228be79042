# The service harness itself, on a second stack with its own ports, so the
# test stack the other tests use is not disturbed.

stack=$ECSYNC_TOP/tests/harness/stack.sh

lifecycle_env() {
	export ECSYNC_PG_PORT=18432 ECSYNC_MYSQL_PORT=16306 ECSYNC_KAFKA_PORT=22092
	export ECSYNC_RUN_DIR=${1:-$ECSYNC_TOP/.run/lifecycle}
}

assert_stack_gone() {
	local p
	for p in 18432 16306 22092 22093; do
		! port_listening $p || fail "port $p still listening after stop"
	done
	! pgrep -f -- "$ECSYNC_RUN_DIR" >/dev/null || fail "processes of $ECSYNC_RUN_DIR left: $(pgrep -af -- "$ECSYNC_RUN_DIR")"
	! pgrep -u postgres -f -- "-p 18432" >/dev/null || fail "postgres left running"
}

test_starts_and_stops_twice_leaving_nothing() {
	lifecycle_env
	trap '"$stack" destroy lifecycle >/dev/null 2>&1' EXIT
	for round in 1 2; do
		local out
		out=$("$stack" start lifecycle $([ $round = 1 ] && echo --fresh) 2>&1) ||
			fail "start $round failed: $out"
		echo "$out" | grep 'ready in'
		"$stack" status lifecycle
		(
			eval "$("$stack" env lifecycle)"
			assert_eq 18432 "$PGPORT" "exported PGPORT"
			assert_eq 1 "$(psql -XAtc 'SELECT 1')" "PostgreSQL answers with the exported settings"
			assert_eq 1 "$(mariadb -N -e 'SELECT 1')" "MariaDB answers with the exported settings"
			kcat -b "$ECSYNC_KAFKA_BROKERS" -L -m 5 | grep -q '1 brokers' || fail "Kafka answers"
			# the PostgreSQL superuser password is not in the env output
			! "$stack" env lifecycle | grep -qi password= || fail "password in env output"
		)
		"$stack" stop lifecycle
		assert_stack_gone
	done
}

test_port_taken_fails_fast_with_clear_message() {
	lifecycle_env
	trap '"$stack" destroy lifecycle >/dev/null 2>&1' EXIT
	local out rc=0 t0 t1
	# the test stack's PostgreSQL port is certainly taken
	t0=$(date +%s)
	out=$(ECSYNC_MYSQL_PORT=$PGPORT "$stack" start lifecycle --fresh 2>&1) || rc=$?
	t1=$(date +%s)
	assert_eq 1 "$rc" "exit code"
	assert_contains "port $PGPORT (MariaDB) is already in use" "$out" "message names port and service"
	[ $((t1 - t0)) -le 20 ] || fail "took $((t1 - t0)) s to fail"
	assert_stack_gone
}

test_service_that_dies_reports_log_tail() {
	lifecycle_env
	trap '"$stack" destroy lifecycle >/dev/null 2>&1' EXIT
	"$stack" start lifecycle --fresh >/dev/null 2>&1
	"$stack" stop lifecycle >/dev/null 2>&1
	# break PostgreSQL's configuration: it must fail to start, and say why
	local conf out rc=0
	conf=$(readlink -f "$ECSYNC_RUN_DIR/pg")/data/postgresql.conf
	echo "shared_buffers = 'lots'" >>"$conf"
	out=$("$stack" start lifecycle 2>&1) || rc=$?
	assert_eq 1 "$rc" "exit code"
	assert_contains "PostgreSQL" "$out" "names the service"
	assert_contains "shared_buffers" "$out" "shows the log line with the cause"
	assert_stack_gone
}

test_checkout_unreachable_by_postgres() {
	# a run directory under a folder only root may enter (like /root)
	locked=$(mktemp -d /tmp/ecsync-locked-XXXXXX)
	chmod 700 "$locked"
	lifecycle_env "$locked/checkout/.run/lifecycle"
	trap '"$stack" destroy lifecycle >/dev/null 2>&1; rm -rf "$locked"' EXIT
	"$stack" start lifecycle --fresh >/dev/null 2>&1 || fail "start under $locked failed"
	[ -L "$ECSYNC_RUN_DIR/pg" ] || fail "PostgreSQL's directory was not moved where postgres can reach it"
	(
		eval "$("$stack" env lifecycle)"
		assert_eq 1 "$(psql -XAtc 'SELECT 1')" "PostgreSQL answers"
	)
	"$stack" destroy lifecycle >/dev/null
	assert_stack_gone
	[ ! -e "$(readlink "$ECSYNC_RUN_DIR/pg" 2>/dev/null || echo /nonexistent-x)" ] || fail "destroy left data behind"
}
