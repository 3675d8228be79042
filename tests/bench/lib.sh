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
