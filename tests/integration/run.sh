#!/bin/bash
# tests/integration/run.sh [TEST...] - runs tests/integration/test_*.sh (or the named ones), each
# in its own process group with a time limit, up to INTEGRATION_JOBS (default 2) at once, and
# prints "integration: N passed, N failed, N skipped" as its last line. Exit status 0 only when
# nothing failed.
#
# Test protocol: exit 0 = pass, 77 = skip (print why first), anything else = fail.
#   Skips are visible, and under CI (CI=true) a skip counts as a FAILURE unless the test says
#   it could not be avoided on this machine: it prints a line starting with
#       SKIP-UNAVOIDABLE: <reason>
#   before exiting 77 (e.g. not root, not Debian, no network namespaces in this container: a
#   prerequisite that cannot be installed here). "postgresql-15 not installed" is avoidable:
#   `make deps` installs it, so on CI it fails. tests/integration/lib/skip.sh has both helpers.
#
# Lanes: tests that share something (ports, namespaces, the netns demo) declare it in a header
# line within their first 40 lines,
#       # lane: NAME
#   and two tests of one lane never run at the same time. `# lane: solo` runs a test alone.
#   A test that takes /tmp/hr-demo.lock or runs docker/demo.sh is in lane "demo" even without
#   the line. Tests without a lane share nothing (each has its own address/port block) and run
#   in parallel. Longest first, from the durations of the last run (LOGDIR/durations); tests
#   never timed first, lane tests before others.
#
# Logs: each test's output goes to LOGDIR/NAME.log (LOGDIR = INTEGRATION_LOGDIR, default
# build/test-logs/integration), kept after the run, and printed as one block when the test ends
# (a failed test's last INTEGRATION_SHOW lines, default 200; INTEGRATION_QUIET=1 prints only
# failed ones). With one job or one test, output streams to the terminal instead.
# Each test gets INTEGRATION_TIMEOUT seconds (default 900).
# Before its summary line the runner prints "==== integration failures": each failed test with
# its failing lines (FAIL / not ok, up to 12), so that the tail of a long CI log says what broke;
# tests/run-all.sh repeats that block just above the final summary.
set -u
cd "$(dirname "$0")/../.."
jobs_max=${INTEGRATION_JOBS:-2}
logdir=${INTEGRATION_LOGDIR:-build/test-logs/integration}
show=${INTEGRATION_SHOW:-200}
limit=${INTEGRATION_TIMEOUT:-900}
mkdir -p "$logdir" || exit 1
case $jobs_max in '' | *[!0-9]* | 0) jobs_max=1 ;; esac

tests=()
if [ $# -gt 0 ]; then
	for t in "$@"; do
		[ -f "$t" ] || t="tests/integration/$t"
		[ -f "$t" ] || t="$t.sh"
		tests+=("$t")
	done
else
	for t in tests/integration/test_*.sh; do
		[ -f "$t" ] && tests+=("$t")
	done
fi

# lane_of TEST - its lane ("" none).
lane_of() {
	local l
	l=$(head -n 40 "$1" | sed -n 's/^# lane: *\([A-Za-z0-9_-]*\).*/\1/p' | head -n 1)
	if [ -z "$l" ] && grep -qE 'hr-demo\.lock|docker/demo\.sh' "$1"; then
		l=demo
	fi
	echo "$l"
}

# Longest first, from the last run's durations; tests never timed go first, those of a lane
# before the others (a lane runs its tests one after the other: start it early).
order=()
if [ ${#tests[@]} -gt 1 ]; then
	while read -r _ t; do order+=("$t"); done < <(
		for t in "${tests[@]}"; do
			d=""
			[ -f "$logdir/durations" ] &&
				d=$(awk -v n="$(basename "$t" .sh)" '$1 == n { print $2 }' "$logdir/durations")
			if [ -z "$d" ]; then
				d=99998
				[ -n "$(lane_of "$t")" ] && d=99999
			fi
			echo "$d $t"
		done | sort -k1,1nr -k2
	)
else
	order=("${tests[@]}")
fi

passed=0
failed=0
skipped=0
declare -A run_pid=() run_lane=() run_start=()
declare -A new_dur=()
stream=0
[ "$jobs_max" -eq 1 ] || [ ${#tests[@]} -eq 1 ] && stream=1
summary_lines=()
failure_digest=()

# digest_of NAME LOG - the failed test's name and its failing lines, for the end of the run.
digest_of() {
	local lines
	lines=$(grep -E '(^|[[:space:]|])(FAIL|not ok)([[:space:]:]|$)|^!! ' "$2" | head -n 12 | cut -c1-240)
	failure_digest+=("$1:"$'\n'"${lines:-(no FAIL line in its log; see the log)}")
}

# finish TEST STATUS - reports one finished test: its log (whole, as one block, so parallel
# tests do not interleave; a failed one's last INTEGRATION_SHOW lines), then its verdict.
finish() {
	local t=$1 rc=$2 name log dur why
	name=$(basename "$t" .sh)
	log=$logdir/$name.log
	dur=$(($(date +%s) - ${run_start[$t]}))
	new_dur[$name]=$dur
	if [ "$stream" -eq 0 ] && [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
		echo "---- $name: $log (last $show lines)"
		tail -n "$show" "$log" | sed 's/^/    | /'
	elif [ "$stream" -eq 0 ] && [ "${INTEGRATION_QUIET:-0}" != 1 ]; then
		echo "---- $name: $log"
		sed 's/^/    | /' "$log"
	fi
	case $rc in
	0)
		echo "PASS $name (${dur}s)"
		passed=$((passed + 1))
		;;
	77)
		why=$(grep -m 1 -E '^SKIP-UNAVOIDABLE:' "$log")
		if [ -n "$why" ]; then
			echo "SKIP $name: ${why#SKIP-UNAVOIDABLE: } (unavoidable here)"
			skipped=$((skipped + 1))
		else
			why=$(grep -m 1 -iE '^(skip|SKIP)[: ]' "$log")
			[ -n "$why" ] || why=$(tail -n 1 "$log")
			if [ "${CI:-}" = true ]; then
				echo "FAIL $name: skipped under CI, and avoidable: $why"
				failure_digest+=("$name: skipped under CI, and avoidable: $why")
				echo "     (install what it needs, or make it print SKIP-UNAVOIDABLE: if it cannot be installed here)"
				failed=$((failed + 1))
			else
				echo "SKIP $name: $why"
				skipped=$((skipped + 1))
			fi
		fi
		;;
	*)
		[ "$rc" = 124 ] && rc="124, timed out after ${limit}s"
		echo "FAIL $name (status $rc, ${dur}s)"
		digest_of "$name (status $rc)" "$log"
		failed=$((failed + 1))
		;;
	esac
}

# start TEST - runs it in the background; its status lands in LOG.rc.
start() {
	local t=$1 name log
	name=$(basename "$t" .sh)
	log=$logdir/$name.log
	rm -f "$log.rc"
	run_start[$t]=$(date +%s)
	run_lane[$t]=$(lane_of "$t")
	if [ "$stream" -eq 1 ]; then
		(
			timeout -k 10 "$limit" bash "$t" 2>&1 | tee "$log"
			echo "${PIPESTATUS[0]}" >"$log.rc"
		) &
	else
		(
			timeout -k 10 "$limit" bash "$t" >"$log" 2>&1
			echo $? >"$log.rc"
		) &
	fi
	run_pid[$t]=$!
}

# can_start TEST - may it start now, beside what runs?
can_start() {
	local lane r
	lane=$(lane_of "$1")
	[ ${#run_pid[@]} -lt "$jobs_max" ] || return 1
	for r in "${!run_pid[@]}"; do
		[ "${run_lane[$r]}" = solo ] && return 1
		[ -n "$lane" ] && [ "${run_lane[$r]}" = "$lane" ] && return 1
	done
	[ "$lane" = solo ] && [ ${#run_pid[@]} -gt 0 ] && return 1
	return 0
}

queue=("${order[@]}")
while [ ${#queue[@]} -gt 0 ] || [ ${#run_pid[@]} -gt 0 ]; do
	rest=()
	for t in "${queue[@]}"; do
		if can_start "$t"; then
			start "$t"
		else
			rest+=("$t")
		fi
	done
	queue=("${rest[@]}")
	[ ${#run_pid[@]} -gt 0 ] || continue
	wait -n 2>/dev/null
	for t in "${!run_pid[@]}"; do
		rcf=$logdir/$(basename "$t" .sh).log.rc
		if [ -s "$rcf" ]; then
			wait "${run_pid[$t]}" 2>/dev/null
			finish "$t" "$(cat "$rcf")"
			rm -f "$rcf"
			unset "run_pid[$t]"
		elif ! kill -0 "${run_pid[$t]}" 2>/dev/null; then
			finish "$t" 1 # its runner died without a status
			unset "run_pid[$t]"
		fi
	done
done

# Keep the durations of this run for the next one's order.
{
	for n in "${!new_dur[@]}"; do echo "$n ${new_dur[$n]}"; done
	[ -f "$logdir/durations" ] && awk 'NR==FNR { seen[$1] = 1; next } !($1 in seen)' \
		<(for n in "${!new_dur[@]}"; do echo "$n"; done) "$logdir/durations"
} | sort >"$logdir/durations.new" && mv "$logdir/durations.new" "$logdir/durations"

if [ ${#failure_digest[@]} -gt 0 ]; then
	echo "==== integration failures (logs in $logdir)"
	for d in "${failure_digest[@]}"; do
		printf '%s\n' "$d" | sed '1s/^/* /; 2,$s/^/    /'
	done
fi
echo "integration: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
