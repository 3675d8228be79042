#!/usr/bin/env bash
# run.sh is ecsync's test command (make check): it installs what is missing,
# builds and installs ecsync, starts a fresh test stack (tests/harness), runs
# the pg_regress suite (sql/, expected/) and the integration tests
# (tests/integration/*.sh) and stops the stack.  Then it runs the groups
# that exercise the extension's C again, as cassert/<group>/<name>, on a
# PostgreSQL 15 built with assertions (tests/harness/cassert-pg.sh builds
# it once), and the groups that read MySQL (batch, cdc, fidelity) again, as
# mysql9/<group>/<name>, on the mysql9 stack, whose server is a real MySQL
# 9.x instead of MariaDB (tests/harness/mysql9.sh builds it once), and ends
# with "N passed, M failed".
#
#   tests/run.sh [PATTERN]      run only tests whose name contains PATTERN
#                               (or any of PATTERN's comma-separated parts:
#                               tests/run.sh analytics/,pg_cron,bi/)
#
# A pass none of whose tests PATTERN selects does not start its stack:
# tests/run.sh mysql9/ touches only the mysql9 stack.
#
# Environment: ECSYNC_SKIP_DEPS=1 skips the dependency check;
# ECSYNC_SKIP_BUILD=1 skips the build and install (the tests use the ecsync
# installed and the tools built already); ECSYNC_KEEP=1 leaves the stacks
# running afterwards; ECSYNC_TEST_TIMEOUT stops an integration test that
# runs longer (seconds, default 1800); ECSYNC_CASSERT=0 skips the cassert pass;
# ECSYNC_MYSQL9=0 skips the MySQL 9 pass; ECSYNC_TEST_LOGS names the log
# directory (default .run/test-logs, emptied at the start);
# ECSYNC_TEST_STACK names the first pass's stack (default test: give
# another name, ECSYNC_*_PORT overrides and ECSYNC_TEST_LOGS to run a
# second suite beside one that is running).
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top" || exit 1
pattern=${1:-}
export ECSYNC_TOP=$top
logdir=${ECSYNC_TEST_LOGS:-$top/.run/test-logs}
first_stack=${ECSYNC_TEST_STACK:-test}
passed=0
failed=0
failures=()
t_start=$(date +%s.%N)

# elapsed T0 T1 prints T1 - T0 (seconds with fractions)
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { print b - a }'; }

step() { printf '\n== %s ==\n' "$*"; }

record() {	# record NAME OK SECONDS
	if [ "$2" = 0 ]; then
		passed=$((passed + 1))
		printf 'ok    %-58s %6.1f s\n' "$1" "$3"
	else
		failed=$((failed + 1))
		failures+=("$1")
		printf 'FAIL  %-58s %6.1f s\n' "$1" "$3"
	fi
}

finish() {
	local t_end
	t_end=$(date +%s.%N)
	echo
	[ ${#failures[@]} -eq 0 ] || printf 'failed: %s\n' "${failures[*]}"
	printf 'suite took %.0f s; logs in %s\n' "$(elapsed "$t_start" "$t_end")" "$logdir"
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
	exit $?
}

# The groups that also run on a PostgreSQL built with assertions
# (cassert/<group>/<name>): every C path of the extension is in one of them.
# The ingester, the fuzzers and the archive run no extension code; docker,
# harness and shop_data test the stack, not ecsync's C.
cassert_groups="regress extension batch cdc stream events analytics security fidelity readme"
# The groups that also run against a real MySQL 9.x (mysql9/<group>/<name>):
# those that read MySQL's tables and binary log (the extension, and the
# ingester's snapshot mode in archive), and the security suite.
mysql9_groups="batch cdc fidelity security archive mysql mysql_json"
# groups of what only MySQL writes: they run in the MySQL 9 pass alone
mysql_only_groups="mysql mysql_json"
# every group of the first pass
all_groups="regress $(for f in tests/integration/*.sh; do
	g=$(basename "$f" .sh)
	[[ " $mysql_only_groups " == *" $g "* ]] || echo "$g"
done)"

# wanted NAME: does the pattern select test NAME?
wanted() {
	local p
	[ -n "$pattern" ] || return 0
	for p in ${pattern//,/ }; do
		[[ $1 == *"$p"* ]] && return 0
	done
	return 1
}

# pass_wanted PREFIX GROUP...: does the pattern select any test of a pass
# that runs GROUPs (regress: the tests in sql/) named PREFIX<group>/<name>?
pass_wanted() {
	local prefix=$1 g f fn
	shift
	[ -n "$pattern" ] || return 0
	for g in "$@"; do
		if [ "$g" = regress ]; then
			for f in sql/*.sql; do wanted "${prefix}regress/$(basename "$f" .sql)" && return 0; done
			continue
		fi
		[ -f "tests/integration/$g.sh" ] || continue
		for fn in $(grep -oE '^test_[a-z0-9_]+' "tests/integration/$g.sh"); do
			wanted "$prefix$g/${fn#test_}" && return 0
		done
	done
	return 1
}

# cassert_wanted: does any test of the cassert pass match the pattern?
cassert_wanted() {
	[ "${ECSYNC_CASSERT:-1}" != 0 ] || return 1
	# shellcheck disable=SC2086
	pass_wanted cassert/ $cassert_groups
}

# mysql9_wanted: does any test of the MySQL 9 pass match the pattern?
mysql9_wanted() {
	[ "${ECSYNC_MYSQL9:-1}" != 0 ] || return 1
	# shellcheck disable=SC2086
	pass_wanted mysql9/ $mysql9_groups
}

if [ "${ECSYNC_SKIP_DEPS:-0}" != 1 ]; then
	step "dependencies"
	tests/harness/install-deps.sh || { echo "dependency installation failed"; failed=1; finish; }
	echo "dependencies ready"
fi

if [ "${ECSYNC_SKIP_BUILD:-0}" != 1 ]; then
	step "build (warnings are errors)"
	if ! make -s all WERROR=-Werror >"$top/.run-build.log" 2>&1 ||
		! make -s install >>"$top/.run-build.log" 2>&1; then
		tail -n 40 "$top/.run-build.log"
		record "build and install" 1 0
		finish
	fi
	rm -f "$top/.run-build.log"
	echo "built and installed"
fi

rm -rf "$logdir"
mkdir -p "$logdir"

# run_regress PREFIX: each test in sql/ is one test
run_regress() {
	local prefix=$1 tests t line ok n t0 t1 pg_regress out=$logdir/${1//\//.}regress
	tests=$(cd sql && ls ./*.sql 2>/dev/null | sed 's:^\./::; s:\.sql$::' | sort)
	tests=$(for t in $tests; do wanted "${prefix}regress/$t" && echo "$t"; done)
	[ -n "$tests" ] || return 0
	step "${prefix}pg_regress"
	pg_regress=$(dirname "$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --pgxs)")/../test/regress/pg_regress
	t0=$(date +%s.%N)
	# shellcheck disable=SC2086
	"$pg_regress" --inputdir="$top" --outputdir="$out" \
		--host="$PGHOST" --port="$PGPORT" --user="$PGUSER" \
		--dbname=contrib_regression $tests >"$out.log" 2>&1
	t1=$(date +%s.%N)
	n=$(echo "$tests" | wc -l)
	for t in $tests; do
		line=$(grep -E "^(test |     )?[[:space:]]*$t[[:space:]]+\.\.\." "$out.log" | head -n 1)
		if [[ $line == *"... ok"* ]]; then ok=0; else ok=1; fi
		record "${prefix}regress/$t" $ok "$(awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN { print (b - a) / n }')"
	done
	if grep -q FAILED "$out.log" || [ -s "$out/regression.diffs" ]; then
		head -c 6000 "$out/regression.diffs" 2>/dev/null || cat "$out.log"
	fi
}

# watchdog FLAG LOG SECS: when FLAG (the test's pid file) is still there
# after SECS, the test hangs (a loop waiting for what never comes, as on a
# server that lacks what it waits for): it is stopped with SIGTERM, so its
# EXIT traps clean up, and whatever of it is left a minute later is killed
watchdog() {
	local flag=$1 log=$2 secs=$3 i pid tree p
	for ((i = 0; i < secs * 5; i++)); do
		sleep 0.2
		[ -f "$flag" ] || return 0
	done
	pid=$(cat "$flag" 2>/dev/null) || return 0
	[ -n "$pid" ] || return 0
	echo "run.sh: the test ran for more than $secs s (ECSYNC_TEST_TIMEOUT); stopping it" >>"$log"
	tree=$(descendants "$pid")
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do
		[ -f "$flag" ] || break
		sleep 0.2
	done
	for p in $tree $pid; do kill -KILL "$p" 2>/dev/null || true; done
}

# descendants PID prints PID's child processes, theirs, and so on
descendants() {
	local c
	for c in $(pgrep -P "$1"); do
		echo "$c"
		descendants "$c"
	done
}

# run_integration PREFIX [GROUP...]: every test_* function in
# tests/integration/*.sh (or only the GROUPs'), each in a subshell, stopped
# when it runs longer than ECSYNC_TEST_TIMEOUT seconds (default 1800)
run_integration() {
	local prefix=$1 file suite names fn name log t0 t1 rc flag
	shift
	shopt -s nullglob
	for file in tests/integration/*.sh; do
		suite=$(basename "$file" .sh)
		if { [ $# -eq 0 ] && [[ " $mysql_only_groups " == *" $suite "* ]]; } ||
			{ [ $# -gt 0 ] && [[ " $* " != *" $suite "* ]]; }; then
			continue
		fi
		names=$(grep -oE '^test_[a-z0-9_]+' "$file")
		[ -n "$names" ] || continue
		names=$(for fn in $names; do wanted "$prefix$suite/${fn#test_}" && echo "$fn"; done)
		[ -n "$names" ] || continue
		step "$prefix$suite"
		for fn in $names; do
			name=$prefix$suite/${fn#test_}
			log=$logdir/${prefix//\//.}${suite}.${fn#test_}.log
			flag=$log.pid
			t0=$(date +%s.%N)
			: >"$flag"
			watchdog "$flag" "$log" "${ECSYNC_TEST_TIMEOUT:-1800}" &
			(
				echo "$BASHPID" >"$flag"
				set -eo pipefail
				# shellcheck source=tests/lib.sh
				. "$top/tests/lib.sh"
				# shellcheck disable=SC1090
				. "$top/$file"
				"$fn"
			) >"$log" 2>&1
			rc=$?
			# the watchdog sees the flag gone and ends within 0.2 s
			rm -f "$flag"
			t1=$(date +%s.%N)
			record "$name" $rc "$(elapsed "$t0" "$t1")"
			if [ $rc != 0 ]; then
				sed 's/^/    | /' "$log" | tail -n 30
			fi
		done
	done
}

# start_stack NAME: a fresh stack NAME, its settings exported
start_stack() {
	step "$1 stack"
	# the stack's own run directory, not the one of the stack before it
	unset ECSYNC_RUN_DIR
	if ! tests/harness/stack.sh start "$1" --fresh >"$logdir/stack-start-$1.log" 2>&1; then
		cat "$logdir/stack-start-$1.log"
		return 1
	fi
	grep 'ready in' "$logdir/stack-start-$1.log"
	eval "$(tests/harness/stack.sh env "$1")"
	if [ "${ECSYNC_KEEP:-0}" != 1 ]; then
		# shellcheck disable=SC2064
		trap "tests/harness/stack.sh stop $1 >/dev/null 2>&1" EXIT
	fi
}

# stop_stack NAME TEST: the harness's stop is a test too: nothing is left
stop_stack() {
	local t0 rc
	t0=$(date +%s.%N)
	trap - EXIT
	(
		set -e
		. "$top/tests/lib.sh"
		PGBIN=$ECSYNC_PGBIN tests/harness/stack.sh stop "$1"
		for p in "$PGPORT" "$ECSYNC_MYSQL_PORT" "${ECSYNC_KAFKA_BROKERS##*:}"; do
			! port_listening "$p" || fail "port $p still listening after stop"
		done
		! pgrep -f -- "$ECSYNC_RUN_DIR" || fail "processes of $ECSYNC_RUN_DIR left after stop"
		! grep -F -- "$ECSYNC_RUN_DIR" /proc/mounts || fail "mounts of $ECSYNC_RUN_DIR left after stop"
		! pgrep -u postgres -f "postgres.*$PGPORT" || fail "postgres processes left after stop"
	) >"$logdir/harness.stop-$1.log" 2>&1
	rc=$?
	record "$2" $rc "$(elapsed "$t0" "$(date +%s.%N)")"
	[ $rc = 0 ] || sed 's/^/    | /' "$logdir/harness.stop-$1.log"
}

# server_log_is_clean LOG TEST: no assertion failed, no backend crashed and
# no check of a cassert build complained (leaks of relcache references,
# snapshots, buffers; writes past a chunk's end) while the tests ran.  A
# kill -9 is a test's own doing and is allowed.
server_log_is_clean() {
	local t0 bad
	t0=$(date +%s.%N)
	bad=$(grep -E 'TRAP:|terminated by signal (4|6|7|8|11)|WARNING: +.*(leak|still active|not closed|non-empty SPI stack|problem in alloc set|detected write past)' "$1" |
		head -n 20 || true)
	if [ -z "$bad" ]; then
		record "$2" 0 "$(elapsed "$t0" "$(date +%s.%N)")"
	else
		record "$2" 1 "$(elapsed "$t0" "$(date +%s.%N)")"
		echo "$bad" | sed 's/^/    | /'
	fi
}

# ---- pass 1: the whole suite on Debian's PostgreSQL 15 ----
# shellcheck disable=SC2086
if pass_wanted "" $all_groups; then
	if ! start_stack "$first_stack"; then
		record "test stack starts" 1 0
		finish
	fi
	run_regress ""
	run_integration ""
	[ -z "$pattern" ] && server_log_is_clean "$ECSYNC_RUN_DIR/pg/postgresql.log" "harness/server_log_has_no_crash_or_leak"
	if [ "${ECSYNC_KEEP:-0}" != 1 ]; then
		if [ -z "$pattern" ]; then
			step "harness stop"
			stop_stack "$first_stack" "harness/stop_leaves_nothing"
		else
			tests/harness/stack.sh stop "$first_stack" >/dev/null 2>&1
			trap - EXIT
		fi
	fi
fi

# ---- pass 2: the extension's groups on a PostgreSQL with assertions ----
# (freed memory clobbered, memory contexts checked, Assert() live: a
# pointer kept past its context reads 0x7F bytes at once)
if cassert_wanted; then
	step "cassert build"
	t0=$(date +%s.%N)
	cbin=
	if cbin=$(tests/harness/cassert-pg.sh 2>"$logdir/cassert-build.log") &&
		rm -rf "$top/.run/cassert-build" && mkdir -p "$top/.run/cassert-build" &&
		cp -r "$top/extension" "$top/common" "$top/.run/cassert-build/" &&
		make -s -C "$top/.run/cassert-build/extension" clean >>"$logdir/cassert-build.log" 2>&1 &&
		make -s -C "$top/.run/cassert-build/extension" PG_CONFIG="$cbin/pg_config" WERROR=-Werror \
			>>"$logdir/cassert-build.log" 2>&1 &&
		make -s -C "$top/.run/cassert-build/extension" PG_CONFIG="$cbin/pg_config" install \
			>>"$logdir/cassert-build.log" 2>&1; then
		record "cassert/build_and_install" 0 "$(elapsed "$t0" "$(date +%s.%N)")"
		saved_pg_config=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
		export PGBIN=$cbin PG_CONFIG=$cbin/pg_config
		if start_stack cassert; then
			assert_on=$(psql -XAtc 'SHOW debug_assertions' 2>&1)
			[ "$assert_on" = on ]
			record "cassert/server_has_assertions" $? 0
			[[ " $cassert_groups " != *" regress "* ]] || run_regress cassert/
			# shellcheck disable=SC2086
			run_integration cassert/ $cassert_groups
			server_log_is_clean "$ECSYNC_RUN_DIR/pg/postgresql.log" "cassert/server_log_has_no_assertion_failure_or_leak"
			if [ "${ECSYNC_KEEP:-0}" != 1 ]; then
				stop_stack cassert "cassert/stop_leaves_nothing"
			fi
		else
			record "cassert/stack_starts" 1 0
		fi
		export PG_CONFIG=$saved_pg_config
		unset PGBIN
	else
		tail -n 30 "$logdir/cassert-build.log"
		record "cassert/build_and_install" 1 "$(elapsed "$t0" "$(date +%s.%N)")"
	fi
fi

# ---- pass 3: the groups that read MySQL, against a real MySQL 9.x ----
# (the mysql9 stack: Debian's PostgreSQL 15 as in pass 1, MySQL 9 from a
# Debian sid tree instead of MariaDB; its servers ask for verified TLS, see
# ECSYNC_MYSQL_SERVER_TLS)
if mysql9_wanted; then
	if start_stack mysql9; then
		# shellcheck disable=SC2086
		run_integration mysql9/ $mysql9_groups
		server_log_is_clean "$ECSYNC_RUN_DIR/pg/postgresql.log" "mysql9/server_log_has_no_crash_or_leak"
		if [ "${ECSYNC_KEEP:-0}" != 1 ]; then
			stop_stack mysql9 "mysql9/stop_leaves_nothing"
		fi
	else
		record "mysql9/stack_starts" 1 0
	fi
fi

finish
