#!/bin/bash
# tests/integration/test_blocks.sh - the address/port allocator of the integration tests
# (tests/integration/lib/fixture.sh): its table FIX_BLOCKS has no two blocks that share an
# address and a port, no name twice; every test (and bench script) that asks for a block by
# name (fix_block NAME) finds its own line, and no two ask for the same one; every test_NAME
# line is asked for by tests/integration/test_NAME.sh and every bench/NAME line by
# bench/NAME.sh (none left "hand": only the demo picks its own block), and none of them writes
# an address of 127.0.0.0/8 but 127.0.0.1 outside comments; a block hands out only its own
# ports and addresses (fix_ports / fix_addrs past its end fail the test). Binds nothing.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib/fixture.sh
fails=0

out=$(fix_blocks_check) && ok "FIX_BLOCKS: no overlap, no name twice" || ko "FIX_BLOCKS: $out"

declare -A owner=() file=()
for f in tests/integration/test_*.sh bench/*.sh; do
	for n in $(sed -n 's/^[[:space:]]*fix_block[[:space:]]\{1,\}\([A-Za-z0-9_./-]*\).*/\1/p' "$f"); do
		t=$(basename "$f" .sh)
		[ "${f%/*}" = bench ] && t=bench/$t
		file[$t]=$f
		expect "$t asks for its own block" "$t" "$n"
		[ -n "${owner[$n]:-}" ] && ko "block $n asked for by ${owner[$n]} and $t"
		owner[$n]=$t
		printf '%s\n' "$FIX_BLOCKS" | awk -v n="$n" '$1 == n && $4 == "" { f = 1 } END { exit !f }' &&
			ok "$n: a line of its own in FIX_BLOCKS" || ko "$n: no allocated line in FIX_BLOCKS"
	done
done
[ ${#owner[@]} -gt 0 ] || ko "no test asks for a block (fix_block): the check above checked nothing"

# every test's and bench script's line is allocated and asked for by it: a "hand" line or one
# nobody asks for is a script that picks its addresses and ports itself (or a stale line)
bad=0
for n in $(printf '%s\n' "$FIX_BLOCKS" | awk 'NF >= 3 && $1 ~ /^(test_|bench\/)/ { print $1 }'); do
	f=tests/integration/$n.sh
	[ "${n#bench/}" != "$n" ] && f=$n.sh
	if printf '%s\n' "$FIX_BLOCKS" | awk -v n="$n" '$1 == n && $4 == "hand" { f = 1 } END { exit !f }'; then
		ko "$n: marked hand in FIX_BLOCKS ($f picks its own addresses and ports)"
		bad=1
	elif [ "${owner[$n]:-}" != "$n" ]; then
		ko "$n: a line in FIX_BLOCKS that $f does not ask for (fix_block $n)"
		bad=1
	fi
done
[ "$bad" = 0 ] && ok "FIX_BLOCKS: every test_ and bench/ line allocated and asked for by its script"

# a script on the fixture takes its addresses from its block: no loopback address written in it
# (127.0.0.1 aside: a shipped file's own, substituted or named)
for n in "${!owner[@]}"; do
	f=${file[$n]}
	got=$(sed 's/#.*//; s/127\.0\.0\.1\b//g' "$f" | grep -nE '\b127\.[0-9]+\.[0-9]+\.[0-9]+' | head -n 3)
	[ -z "$got" ] && ok "$n: no address of its own written in the test" ||
		ko "$n: addresses written in the test instead of fix_addrs: $got"
done

got=$( (fix_block test_spoa_rule && echo "$NET $IP $PORT-$PORT_LAST") 2>&1)
expect "fix_block test_spoa_rule" "127.0.43 127.0.43.11 32530-32539" "$got"
got=$( (fix_block test_spoa_rule && fix_ports A B C && echo "$A $B $C") 2>&1)
expect "fix_ports: consecutive ports of the block" "32530 32531 32532" "$got"
got=$( (fix_block test_spoa_rule && fix_ports A B C D E F G H I J K && echo "all given") 2>&1)
rc=$?
expect "fix_ports past the block's end: the test fails" 1 "$rc"
expect_match "... and says why" '^FAIL block 32530-32539 has no room for K' "$got"
got=$( (fix_block test_spoa_pg && fix_addrs A B C && echo "$A $B $C $IP_LAST") 2>&1)
expect "fix_addrs: consecutive addresses of the block" "127.0.12.40 127.0.12.41 127.0.12.42 127.0.12.52" "$got"
got=$( (fix_block test_spoa_rule && fix_addrs A B && echo "all given") 2>&1)
rc=$?
expect "fix_addrs past the block's end: the test fails" 1 "$rc"
expect_match "... and says why" '^FAIL block 127.0.43.11-11 has no address for B' "$got"
got=$( (fix_block no_such_test && echo "given") 2>&1)
expect_match "fix_block of an unknown name fails the test" '^FAIL no address/port block named no_such_test' "$got"

[ "$fails" = 0 ] && echo "test_blocks: all checks passed"
[ "$fails" = 0 ]
