#!/bin/bash
# tests/run-all.sh - what `make test` (and so CI, .ci/run) runs. Stages, each ending with its
# summary line "STAGE: N passed, N failed, N skipped":
#   build        make all with -Werror
#   prereq       tests/prereq.sh: the HAProxy 3.x roots, made before any test can use them;
#                runs in the background beside unit/asan/fuzz (it waits on the network and disk,
#                they on the CPU) and is collected before the integration stage
#   unit, asan   cmocka tests, then again under ASan+UBSan
#   fuzz         a short run of every libFuzzer target (FUZZ_SECONDS, default 10)
#   integration  tests/integration/run.sh: real haproxy, postgres, nginx; up to INTEGRATION_JOBS
#                (default 2) tests at once, by lane (see its header)
#   docker       `make test-docker` when that target exists, run after the integration stage
#                (DOCKER_STAGE=parallel runs it beside it: faster, but its image builds take
#                the CPU that timing-sensitive integration tests need on a 2-core machine;
#                DOCKER_STAGE=off not at all)
# A stage that prints no summary (a build error, a crash) counts as one failure. Every stage's
# output is kept in build/test-logs/STAGE.log (TEST_LOGDIR overrides; MAKE names the make). The
# summary lists each stage with its duration; its LAST line is exactly
# "total: N passed, N failed, N skipped" (CI parses it). Exit status 0 only when nothing failed.
# Skips are counted and shown; under CI=true an avoidable skip is a failure
# (tests/integration/run.sh).
#
# Time budget: `make test` must stay under 45 minutes on a 2-core machine; the summary prints
# each stage's time and the total so that growth is seen (a line says so when over budget).
set -u
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
logdir=${TEST_LOGDIR:-build/test-logs}
mkdir -p "$logdir" || exit 1
start=$(date +%s)
budget=$((45 * 60))
stages=()
declare -A dur=() bg_pid=() bg_start=()

# summary_of NAME - the stage's summary line from its log, or a failure when it printed none.
summary_of() {
	local line
	line=$(grep -E "^$1: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped\$" "$logdir/$1.log" |
		tail -n 1)
	echo "${line:-$1: 0 passed, 1 failed, 0 skipped}"
}

# stage NAME CMD... - runs CMD in the foreground, output shown and kept.
stage() {
	local name=$1 t0
	shift
	echo "==== $name: $*"
	t0=$(date +%s)
	"$@" 2>&1 | tee "$logdir/$name.log"
	dur[$name]=$(($(date +%s) - t0))
	grep -qE "^$name: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped\$" "$logdir/$name.log" ||
		echo "$name: no summary line: counted as one failure (see $logdir/$name.log)"
	stages+=("$name")
}

# bg_stage NAME CMD... - starts CMD in the background; collect NAME shows it and waits for it.
bg_stage() {
	local name=$1
	shift
	echo "==== $name (in the background, collected later): $*"
	bg_start[$name]=$(date +%s)
	"$@" >"$logdir/$name.log" 2>&1 &
	bg_pid[$name]=$!
}

collect() {
	local name=$1
	[ -n "${bg_pid[$name]:-}" ] || return 0
	wait "${bg_pid[$name]}"
	dur[$name]=$(($(date +%s) - ${bg_start[$name]}))
	echo "==== $name (collected after ${dur[$name]} s)"
	cat "$logdir/$name.log"
	grep -qE "^$name: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped\$" "$logdir/$name.log" ||
		echo "$name: no summary line: counted as one failure (see $logdir/$name.log)"
	stages+=("$name")
}

has_target() {
	$MAKE -n "$1" >/dev/null 2>&1
}

stage build sh -c "$MAKE -s all >/dev/null && echo 'build: 1 passed, 0 failed, 0 skipped'"
bg_stage prereq tests/prereq.sh
stage unit $MAKE -s test-unit
stage asan $MAKE -s asan
stage fuzz $MAKE -s fuzz-smoke FUZZ_SECONDS="${FUZZ_SECONDS:-10}"
collect prereq
docker_mode=${DOCKER_STAGE:-serial}
has_target test-docker || docker_mode=off
[ "$docker_mode" = parallel ] && bg_stage docker $MAKE -s test-docker
# The roots are made by now (or cannot be): no test makes them again under its own time limit.
stage integration env HAP3_NO_CREATE=1 $MAKE -s test-integration
case $docker_mode in
parallel) collect docker ;;
serial) stage docker $MAKE -s test-docker ;;
esac

# A long log's tail is what CI shows: repeat what failed just above the summary.
for name in "${stages[@]}"; do
	awk -v s="$name" '/^==== integration failures/ { on = 1 } on && !/^[a-z]+: [0-9]+ passed/ { print } /^[a-z]+: [0-9]+ passed/ { on = 0 }' "$logdir/$name.log"
	[ "$name" = integration ] && continue
	grep -E '^(FAIL|!! )|\[  FAILED  \]' "$logdir/$name.log" | head -n 10 | cut -c1-240 |
		sed "s/^/$name: /"
done
elapsed=$(($(date +%s) - start))
echo "==== summary ($elapsed s)"
total_p=0
total_f=0
total_s=0
for name in "${stages[@]}"; do
	line=$(summary_of "$name")
	echo "$line   (${dur[$name]} s)"
	set -- $line
	total_p=$((total_p + $2))
	total_f=$((total_f + $4))
	total_s=$((total_s + $6))
done
if [ "$elapsed" -gt "$budget" ]; then
	echo "time: $elapsed s, over the 45-minute budget of make test (see the stage times above)"
fi
echo "total: $total_p passed, $total_f failed, $total_s skipped"
[ "$total_f" -eq 0 ]
