#!/bin/bash
# tests/integration/test_runner.sh - tests/integration/run.sh itself, on stub tests in a
# temporary directory (no network, no daemons): the rules `make test` and CI rely on.
#   1. the summary counts pass, fail, skip; the exit status is non-zero on a failure; a failed
#      test's log is printed, and again in the failure digest above the summary;
#   2. under CI=true an avoidable skip is a failure, a SKIP-UNAVOIDABLE one stays a skip;
#   3. two tests without a lane run at the same time (each waits, bounded, for the other to
#      have started), two tests of one lane never do, and a `# lane: solo` test runs alone;
#   4. a test over INTEGRATION_TIMEOUT is stopped and fails;
#   5. tests/run-all.sh (make test) with a stub make (so nothing real runs): every stage's
#      summary summed into a last line of exactly "total: N passed, N failed, N skipped", a
#      stage without a summary counted as one failure, the exit status, and the docker stage
#      run when `make test-docker` exists.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib/expect.sh
fails=0

tmp=$(mktemp -d /tmp/haprole-runner.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
stub() { # stub NAME - the test's body on stdin
	cat >"$tmp/test_$1.sh"
}
# check WHAT REGEX - ok when a line of $out matches REGEX (that line is shown)
check() {
	expect_match "$1" "$2" "$(printf '%s\n' "$out" | grep -E -- "$2" | head -n 1)"
}
run() { # run [VAR=VALUE...] -- TEST... : prints the runner's output, then "rc=N"
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	env "${envs[@]}" INTEGRATION_LOGDIR="$tmp/logs" tests/integration/run.sh "$@" 2>&1
	echo "rc=$?"
}

# 1. and 2.
stub pass <<'EOF'
echo fine
EOF
stub fail <<'EOF'
echo "the reason it broke"
echo "FAIL the assertion that broke"
exit 3
EOF
stub skip <<'EOF'
echo "skip: postgresql-15 not installed (make deps)"
exit 77
EOF
stub unavoidable <<'EOF'
echo "SKIP-UNAVOIDABLE: no network namespaces in this container"
exit 77
EOF
out=$(run CI= -- "$tmp"/test_pass.sh "$tmp"/test_fail.sh "$tmp"/test_skip.sh "$tmp"/test_unavoidable.sh)
check "summary counts pass, fail, skip" "^integration: 1 passed, 1 failed, 2 skipped$"
check "a failure makes the exit status non-zero" "^rc=1$"
check "a failed test's log is printed" "\| the reason it broke"
check "the failure digest names the failed test" "^\* test_fail \(status 3\): *$"
check "the failure digest quotes its FAIL line" "^    FAIL the assertion that broke$"
check "a skip says why" "^SKIP test_skip: skip: postgresql-15 not installed"
out=$(run CI= -- "$tmp"/test_pass.sh "$tmp"/test_skip.sh)
check "skips alone do not fail outside CI" "^rc=0$"
out=$(run CI=true -- "$tmp"/test_pass.sh "$tmp"/test_skip.sh "$tmp"/test_unavoidable.sh)
check "under CI an avoidable skip fails" "^integration: 1 passed, 1 failed, 1 skipped$"
check "under CI the avoidable skip is named" "^FAIL test_skip: skipped under CI"
check "under CI the run fails" "^rc=1$"
out=$(run CI=true -- "$tmp"/test_pass.sh "$tmp"/test_unavoidable.sh)
check "under CI an unavoidable skip passes" "^integration: 1 passed, 0 failed, 1 skipped$"

# 3. parallel without a lane: each needs the other running (bounded wait: 100 x 0.1 s)
for n in a b; do
	other=b
	[ $n = b ] && other=a
	stub par_$n <<EOF
touch "$tmp/par_$n.started"
for i in \$(seq 1 100); do [ -f "$tmp/par_$other.started" ] && exit 0; sleep 0.1; done
echo "test_par_$other never ran beside me"
exit 1
EOF
done
out=$(run INTEGRATION_JOBS=2 -- "$tmp"/test_par_a.sh "$tmp"/test_par_b.sh)
check "tests without a lane run at the same time" "^integration: 2 passed, 0 failed"

# one lane (and solo): never beside another; each watches for the others' marker for 1 s
for n in c d e; do
	lane=x
	[ $n = e ] && lane=solo
	stub lane_$n <<EOF
# lane: $lane
touch "$tmp/lane_$n.running"
for i in \$(seq 1 10); do
	for o in c d e; do
		[ \$o != $n ] && [ -f "$tmp/lane_\$o.running" ] && { echo "beside \$o"; exit 1; }
	done
	sleep 0.1
done
rm -f "$tmp/lane_$n.running"
EOF
done
out=$(run INTEGRATION_JOBS=2 -- "$tmp"/test_lane_c.sh "$tmp"/test_lane_d.sh "$tmp"/test_lane_e.sh)
check "tests of one lane, and a solo test, never overlap" "^integration: 3 passed, 0 failed"

# 4.
stub slow <<'EOF'
sleep 60
EOF
out=$(run INTEGRATION_TIMEOUT=1 -- "$tmp"/test_slow.sh "$tmp"/test_pass.sh)
check "a test over its time limit fails" "^FAIL test_slow \(status 124, timed out"

# 5. run-all.sh with a stub make that answers each stage with a summary, except asan (none)
cat >"$tmp/make" <<'STUB'
#!/bin/bash
case "$*" in
*"-n test-docker"*) [ -n "${STUB_DOCKER:-}" ] ;;
*"-s all"*) exit 0 ;;
*test-unit*) echo "unit: 10 passed, 0 failed, 1 skipped" ;;
*asan*) echo "asan crashed before its summary"; exit 2 ;;
*fuzz-smoke*) echo "fuzz: 3 passed, 0 failed, 0 skipped" ;;
*test-integration*) echo "integration: 5 passed, 0 failed, 2 skipped" ;;
*test-docker*) echo "docker: 4 passed, 0 failed, 0 skipped" ;;
*) echo "stub make: unexpected $*"; exit 2 ;;
esac
STUB
chmod +x "$tmp/make"
# The prereq stage finds no HAProxy 3.x root and may not make one: 2 skipped (not under CI).
ra() { # ra [VAR=VALUE...] - run-all.sh with the stub make; its output, then "rc=N"
	env TEST_LOGDIR="$tmp/ra" MAKE="$tmp/make" HAP3_CACHE="$tmp/no-cache" HAP3_NO_CREATE=1 \
		HAP3_SUITES="trixie sid" CI= "$@" tests/run-all.sh 2>&1
	echo "rc=$?"
}
if [ -x "$tmp/make" ] && [ -n "$tmp" ]; then
	out=$(ra)
	expect "make test's last line is the total" "total: 19 passed, 1 failed, 5 skipped" \
		"$(printf '%s\n' "$out" | grep -v '^rc=' | tail -n 1)"
	check "a stage without a summary counts as one failure" "^asan: 0 passed, 1 failed, 0 skipped"
	check "a failed stage fails make test" "^rc=1$"
	out=$(ra STUB_DOCKER=1)
	check "the docker stage runs when make test-docker exists" "^docker: 4 passed, 0 failed"
	expect "its counts are in the total" "total: 23 passed, 1 failed, 5 skipped" \
		"$(printf '%s\n' "$out" | grep -v '^rc=' | tail -n 1)"
else
	ko "the stub make could not be written"
fi

[ "$fails" -eq 0 ]
