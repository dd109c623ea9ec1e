#!/bin/bash
# tests/prereq.sh - the prereq stage of `make test` (tests/run-all.sh): makes, before any test
# that can use them, what the tests need and `make deps` cannot install as packages: today the
# HAProxy 3.x roots of tests/integration/lib/haproxy3.sh (3.0 from trixie, 3.2 from sid; ~3
# minutes each the first time, then cached in /var/cache/haprole). Without this stage the
# first tests of a fresh machine ran before the roots existed, and so on HAProxy 2.6 only.
# Prints PASS/SKIP/FAIL per item, then "prereq: N passed, N failed, N skipped".
# A root that cannot be made is skipped, and under CI=true counted as a failure when the
# machine could make it (root, Debian: debootstrap and Debian's registry are all it takes).
set -u
cd "$(dirname "$0")/.."
. tests/integration/lib/haproxy.sh
. tests/integration/lib/haproxy3.sh
passed=0
failed=0
skipped=0
err=$(mktemp)
trap 'rm -f "$err"' EXIT
can_make=0
[ "$(id -u)" = 0 ] && [ -f /etc/debian_version ] && can_make=1

for suite in $HAP3_SUITES; do
	root=$(HAP3_SUITES=$suite hap3_roots 2>"$err")
	if [ -n "$root" ]; then
		echo "PASS haproxy $(hap_version "$root") ($suite) in $root"
		passed=$((passed + 1))
		continue
	fi
	why=$(tail -n 1 "$err")
	if [ "${CI:-}" = true ] && [ "$can_make" = 1 ]; then
		echo "FAIL haproxy 3.x ($suite): could be made here but was not: ${why:-?}"
		failed=$((failed + 1))
	else
		echo "SKIP haproxy 3.x ($suite): ${why:-?}"
		skipped=$((skipped + 1))
	fi
done
echo "prereq: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
