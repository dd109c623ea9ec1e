#!/bin/sh
# tests/fuzz/run.sh SECONDS BIN... - runs each libFuzzer target for SECONDS from its seed corpus
# (tests/fuzz/corpus/NAME/, copied so the tree is not written), then prints
# "fuzz: N passed, N failed, 0 skipped". Longer runs: FUZZ_SECONDS=600 make fuzz-smoke.
set -u
secs=$1
shift
passed=0
failed=0
for bin in "$@"; do
	name=$(basename "$bin")
	work=$(mktemp -d)
	[ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$work/"
	if timeout $((secs + 60)) "$bin" -max_total_time="$secs" -rss_limit_mb=1024 \
		-artifact_prefix="$work/" "$work" >"$work.log" 2>&1; then
		echo "PASS $name ($(grep -o 'Done [0-9]* runs' "$work.log" | tail -n 1))"
		passed=$((passed + 1))
	else
		echo "FAIL $name"
		tail -n 30 "$work.log"
		failed=$((failed + 1))
	fi
	rm -rf "$work" "$work.log"
done
echo "fuzz: $passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ]
