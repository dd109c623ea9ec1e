#!/bin/bash
# tests/bench-smoke.sh [OUT_DIR] - `make bench-smoke`: `make bench`'s table is complete. Runs
# BENCH_QUICK=1 bench/run-all.sh (every benchmark at its shortest, about 7 minutes, root, takes the
# demo lock for its demo steps), then fails unless the table has every row id of bench/table.py
# (`--ids`), each exactly once, each with a figure (not "NOT MEASURED") and a verdict.
# With OUT_DIR (the BENCH_OUT of an earlier run): checks that run's table only, re-rendered
# from its raw outputs (no benchmark runs).
# Not part of `make test`: it holds the shared netns demo for minutes and its figures are not
# for quoting; a change to a benchmark's output that the table no longer reads shows here.
# Exit 0 pass, 1 fail, 77 skip (not root).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. tests/integration/lib/expect.sh
fails=0
if [ $# -ge 1 ]; then
	OUT=$1
	/usr/bin/python3 bench/table.py "$OUT" >"$OUT/table.check.md"
	TABLE=$OUT/table.check.md
else
	[ "$(id -u)" = 0 ] || { echo "SKIP: make bench needs root (PostgreSQL, network namespaces)"; exit 77; }
	OUT=$(mktemp -d /tmp/hr-bench-smoke.XXXXXX)
	BENCH_QUICK=1 BENCH_OUT=$OUT bench/run-all.sh
	expect "BENCH_QUICK=1 bench/run-all.sh exit status" 0 "$?"
	TABLE=$OUT/table.md
fi
[ -s "$TABLE" ] || { ko "the table $TABLE was written"; exit 1; }
for id in $(/usr/bin/python3 bench/table.py --ids); do
	n=$(grep -c "^| $id | " "$TABLE")
	expect "row $id in the table once" 1 "$n"
	row=$(grep "^| $id | " "$TABLE" | head -n 1)
	# | id | figure | measured | target | verdict |
	measured=$(printf '%s\n' "$row" | awk -F' [|] ' '{ print $3 }')
	verdict=$(printf '%s\n' "$row" | awk -F' [|] ' '{ print $5 }' | sed 's/ |$//')
	case $measured in
	'' | "NOT MEASURED"*) ko "row $id has a figure (got: ${measured:-nothing})" ;;
	*) ok "row $id has a figure" ;;
	esac
	expect_match "row $id has a verdict" '^(met|NOT met|max met, p50 NOT|reported|reported \(noisy\)|inconclusive: spread|baseline)$' "$verdict"
done
grep -q '^# load average (1 min) during the run' "$TABLE" && ok "the load average during the run is printed" ||
	ko "the load average during the run is printed"
echo "raw outputs and table: $OUT"
[ "$fails" = 0 ] && echo "PASS bench-smoke" || echo "FAIL bench-smoke: $fails check(s) failed"
[ "$fails" = 0 ]
