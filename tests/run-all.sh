#!/bin/sh
# tests/run-all.sh - what `make test` (and so CI) runs, in order: build with -Werror, unit tests,
# unit tests under ASan+UBSan, a short run of every fuzz target, integration tests against real
# haproxy, postgres and nginx. Each stage prints "STAGE: N passed, N failed"; the last line sums
# them all as "total: N passed, N failed". Exit status: 0 only when nothing failed.
set -u
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$(date +%s)

stage() {
	name=$1
	shift
	echo "==== $name: $*"
	if "$@" 2>&1 | tee -a "$log"; then :; fi
	# A stage that printed no summary (a build error) counts as one failure.
	if ! grep -q "^$name: [0-9]* passed, [0-9]* failed" "$log"; then
		echo "$name: 0 passed, 1 failed" | tee -a "$log"
	fi
}

stage build sh -c "$MAKE -s all >/dev/null && echo 'build: 1 passed, 0 failed'"
stage unit $MAKE -s test-unit
stage asan sh -c "$MAKE -s asan | sed 's/^unit: /asan: /'"
stage fuzz $MAKE -s fuzz-smoke FUZZ_SECONDS="${FUZZ_SECONDS:-10}"
stage integration $MAKE -s test-integration

echo "==== summary ($(($(date +%s) - start)) s)"
grep -E '^[a-z]+: [0-9]+ passed, [0-9]+ failed' "$log"
total_p=$(grep -E '^[a-z]+: [0-9]+ passed, [0-9]+ failed' "$log" | awk '{s+=$2} END {print s+0}')
total_f=$(grep -E '^[a-z]+: [0-9]+ passed, [0-9]+ failed' "$log" | awk '{s+=$4} END {print s+0}')
echo "total: $total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
