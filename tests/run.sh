#!/usr/bin/env bash
# run.sh is ecsync's test command (make check): it installs what is missing,
# builds and installs ecsync, starts a fresh test stack (tests/harness), runs
# the pg_regress suite (sql/, expected/) and the integration tests
# (tests/integration/*.sh), stops the stack and ends with "N passed, M failed".
#
#   tests/run.sh [PATTERN]      run only tests whose name contains PATTERN
#
# Environment: ECSYNC_SKIP_DEPS=1 skips the dependency check; ECSYNC_KEEP=1
# leaves the test stack running afterwards.
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top" || exit 1
pattern=${1:-}
export ECSYNC_TOP=$top
logdir=$top/.run/test-logs
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

if [ "${ECSYNC_SKIP_DEPS:-0}" != 1 ]; then
	step "dependencies"
	tests/harness/install-deps.sh || { echo "dependency installation failed"; failed=1; finish; }
	echo "dependencies ready"
fi

step "build (warnings are errors)"
if ! make -s all WERROR=-Werror >"$top/.run-build.log" 2>&1 ||
	! make -s install >>"$top/.run-build.log" 2>&1; then
	tail -n 40 "$top/.run-build.log"
	record "build and install" 1 0
	finish
fi
rm -f "$top/.run-build.log"
echo "built and installed"

step "test stack"
rm -rf "$logdir"
mkdir -p "$logdir"
if ! tests/harness/stack.sh start test --fresh >"$logdir/stack-start.log" 2>&1; then
	cat "$logdir/stack-start.log"
	record "test stack starts" 1 0
	finish
fi
grep 'ready in' "$logdir/stack-start.log"
eval "$(tests/harness/stack.sh env test)"
if [ "${ECSYNC_KEEP:-0}" != 1 ]; then
	trap 'tests/harness/stack.sh stop test >/dev/null 2>&1' EXIT
fi

# ---- pg_regress: each test in sql/ is one test ----
step "pg_regress"
regress_tests=$(cd sql && ls ./*.sql 2>/dev/null | sed 's:^\./::; s:\.sql$::' | sort)
if [ -n "$pattern" ]; then
	regress_tests=$(echo "$regress_tests" | grep -F -- "$pattern" || true)
fi
if [ -n "$regress_tests" ]; then
	pg_regress=$(dirname "$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --pgxs)")/../test/regress/pg_regress
	t0=$(date +%s.%N)
	# shellcheck disable=SC2086
	"$pg_regress" --inputdir="$top" --outputdir="$logdir/regress" \
		--host="$PGHOST" --port="$PGPORT" --user="$PGUSER" \
		--dbname=contrib_regression $regress_tests >"$logdir/pg_regress.log" 2>&1
	t1=$(date +%s.%N)
	n=$(echo "$regress_tests" | wc -l)
	for t in $regress_tests; do
		line=$(grep -E "^(test |     )?[[:space:]]*$t[[:space:]]+\.\.\." "$logdir/pg_regress.log" | head -n 1)
		if [[ $line == *"... ok"* ]]; then ok=0; else ok=1; fi
		record "regress/$t" $ok "$(awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN { print (b - a) / n }')"
	done
	if grep -q FAILED "$logdir/pg_regress.log" || [ -s "$logdir/regress/regression.diffs" ]; then
		head -c 6000 "$logdir/regress/regression.diffs" 2>/dev/null || cat "$logdir/pg_regress.log"
	fi
fi

# ---- integration tests: every test_* function in tests/integration/*.sh ----
shopt -s nullglob
for file in tests/integration/*.sh; do
	suite=$(basename "$file" .sh)
	names=$(grep -oE '^test_[a-z0-9_]+' "$file")
	[ -n "$names" ] || continue
	step "$suite"
	for fn in $names; do
		name=$suite/${fn#test_}
		if [ -n "$pattern" ] && [[ $name != *"$pattern"* ]]; then
			continue
		fi
		log=$logdir/${suite}.${fn#test_}.log
		t0=$(date +%s.%N)
		(
			set -eo pipefail
			# shellcheck source=tests/lib.sh
			. "$top/tests/lib.sh"
			# shellcheck disable=SC1090
			. "$top/$file"
			"$fn"
		) >"$log" 2>&1
		rc=$?
		t1=$(date +%s.%N)
		record "$name" $rc "$(elapsed "$t0" "$t1")"
		if [ $rc != 0 ]; then
			sed 's/^/    | /' "$log" | tail -n 30
		fi
	done
done

# ---- the harness's own stop is the last test ----
if [ -z "$pattern" ] && [ "${ECSYNC_KEEP:-0}" != 1 ]; then
	step "harness stop"
	t0=$(date +%s.%N)
	trap - EXIT
	(
		set -e
		. "$top/tests/lib.sh"
		tests/harness/stack.sh stop test
		for p in "$PGPORT" "$ECSYNC_MYSQL_PORT" "${ECSYNC_KAFKA_BROKERS##*:}"; do
			! port_listening "$p" || fail "port $p still listening after stop"
		done
		! pgrep -f -- "$ECSYNC_RUN_DIR" || fail "processes of $ECSYNC_RUN_DIR left after stop"
		! pgrep -u postgres -f "postgres.*$PGPORT" || fail "postgres processes left after stop"
	) >"$logdir/harness.stop.log" 2>&1
	rc=$?
	record "harness/stop_leaves_nothing" $rc "$(elapsed "$t0" "$(date +%s.%N)")"
	[ $rc = 0 ] || sed 's/^/    | /' "$logdir/harness.stop.log"
fi

finish
