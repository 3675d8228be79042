#!/usr/bin/env bash
# run.sh is ecsync's benchmark command (make bench): it starts a stack
# of its own ("bench", or ECSYNC_STACK; tests/harness), runs the benchmark
# groups side by side with their anchors and prints
# "BENCH <name> <key>=<value> ..." lines.
#
#   make bench [GROUP=batch,stream,archive,cdc,mysql] [ROWS=4500000] [EVENTS=2000000]
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$top"
groups=${GROUP:-batch,stream,archive,cdc,mysql}
export ECSYNC_BENCH_ROWS=${ROWS:-4500000}
export ECSYNC_BENCH_EVENTS=${EVENTS:-2000000}

[ "${ECSYNC_SKIP_DEPS:-0}" = 1 ] || tests/harness/install-deps.sh
make -s all >/dev/null
make -s install >/dev/null
# the stack: "bench", or ECSYNC_STACK (with ECSYNC_*_PORT) beside another bench
stack=${ECSYNC_STACK:-bench}
tests/harness/stack.sh start "$stack" --fresh >/dev/null
trap 'tests/harness/stack.sh stop "$stack" >/dev/null 2>&1' EXIT
eval "$(tests/harness/stack.sh env "$stack")"
export ECSYNC_TOP=$top

for g in ${groups//,/ }; do
	[ -f "tests/bench/$g.sh" ] || { echo "no benchmark group '$g' (tests/bench/*.sh)" >&2; exit 2; }
	echo "== bench $g ==" >&2
	bash "tests/bench/$g.sh"
done
