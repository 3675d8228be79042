# lib.sh: helpers for ecsync's integration tests (sourced by tests/run.sh).
# A test is a shell function named test_*; it fails by returning non-zero,
# usually through one of the assertions below, which say what differed.

# psql_q runs SQL on the test stack's PostgreSQL and prints unaligned rows
psql_q() {
	psql -X -q -A -t -v ON_ERROR_STOP=1 "$@"
}

# my_q runs SQL on the test stack's MariaDB and prints tab-separated rows
my_q() {
	mariadb -N -B "$@"
}

fail() {
	echo "FAILED: $*" >&2
	return 1
}

# assert_eq EXPECTED ACTUAL WHAT
assert_eq() {
	if [ "$1" != "$2" ]; then
		printf 'FAILED: %s\n  expected: %s\n  actual:   %s\n' "$3" "$1" "$2" >&2
		return 1
	fi
}

# assert_match REGEX ACTUAL WHAT
assert_match() {
	if ! [[ $2 =~ $1 ]]; then
		printf 'FAILED: %s\n  expected to match: %s\n  actual: %s\n' "$3" "$1" "$2" >&2
		return 1
	fi
}

# assert_contains NEEDLE HAYSTACK WHAT
assert_contains() {
	if [[ $2 != *"$1"* ]]; then
		printf 'FAILED: %s\n  expected to contain: %s\n  actual: %s\n' "$3" "$1" "$2" >&2
		return 1
	fi
}

# wait_for SECONDS COMMAND... retries COMMAND every 0.2 s until it succeeds.
# COMMAND's arguments are expanded once, by the caller: to re-evaluate a
# query each time, wrap it in a function.
wait_for() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 5; i++)); do
		"$@" && return 0
		sleep 0.2
	done
	"$@"
}

# port_listening PORT
port_listening() {
	ss -Htln "sport = :$1" | grep -q .
}

# stack_start starts whatever a test stopped of the stack it runs on (the
# test stack, or the cassert one with its own PostgreSQL)
stack_start() {
	PGBIN=${ECSYNC_PGBIN:-/usr/lib/postgresql/15/bin} \
		"$ECSYNC_TOP/tests/harness/stack.sh" start "${ECSYNC_STACK:-test}" >/dev/null
}

# seq_sql N: a SELECT of the integers 1..N in column seq, which MariaDB and
# MySQL both run (MariaDB's seq_1_to_N tables are not MySQL's; MySQL's
# recursive CTEs stop at cte_max_recursion_depth, which MariaDB lacks): a
# cross join of digit tables
seq_sql() {
	local n=$1 digits=0 m=1 i from="" expr=""
	while [ "$m" -lt "$n" ]; do m=$((m * 10)) digits=$((digits + 1)); done
	[ "$digits" -gt 0 ] || digits=1
	m=1
	for ((i = 0; i < digits; i++)); do
		from+="${from:+ CROSS JOIN }(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) d$i"
		expr+="${expr:+ + }d$i.d * $m"
		m=$((m * 10))
	done
	echo "SELECT seq FROM (SELECT $expr + 1 seq FROM $from) n WHERE seq <= $n"
}
