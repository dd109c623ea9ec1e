#!/bin/sh
# tests/run-unit.sh BIN... - runs cmocka test binaries, prints each one's report and one total:
# "unit: N passed, N failed, N skipped" (UNIT_STAGE renames "unit", e.g. asan). A binary that
# dies before its summary counts as one failure; cmocka's skip() counts as skipped.
set -u
stage=${UNIT_STAGE:-unit}
passed=0
failed=0
skipped=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for bin in "$@"; do
	CMOCKA_MESSAGE_OUTPUT=stdout timeout 300 "$bin" >"$out" 2>&1
	rc=$?
	cat "$out"
	p=$(sed -n 's/.*\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -n 1)
	f=$(sed -n 's/.*\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -n 1)
	s=$(sed -n 's/.*\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$out" | tail -n 1)
	p=${p:-0}
	f=${f:-0}
	s=${s:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "!! $bin exited with status $rc before its summary"
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
done
echo "$stage: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
