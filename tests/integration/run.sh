#!/bin/sh
# tests/integration/run.sh [NAME...] - runs tests/integration/test_*.sh (or the named ones), each
# in its own process group with a time limit. Exit 0 = pass, 77 = skipped (says why), else fail.
# Prints "integration: N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/../.."
passed=0
failed=0
skipped=0
tests=${*:-$(ls tests/integration/test_*.sh 2>/dev/null)}
for t in $tests; do
	[ -f "$t" ] || t="tests/integration/$t"
	name=$(basename "$t" .sh)
	start=$(date +%s)
	timeout -k 10 "${INTEGRATION_TIMEOUT:-900}" bash "$t"
	rc=$?
	dur=$(($(date +%s) - start))
	case $rc in
	0) echo "PASS $name (${dur}s)"; passed=$((passed + 1)) ;;
	77) echo "SKIP $name"; skipped=$((skipped + 1)) ;;
	*) echo "FAIL $name (status $rc, ${dur}s)"; failed=$((failed + 1)) ;;
	esac
done
echo "integration: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
