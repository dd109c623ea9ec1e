#!/bin/bash
# tests/integration/test_ops_quickstart.sh - README's quick start, run as written (issue 15).
#
# Takes every line of README.md's "## Quick start" section that starts with "$ ", in order, and
# runs it with bash (pipefail) from the top of the repository, as a user pasting it would:
# `make demo` first, `make demo-stop` last. Asserts that each command exits 0, that every curl
# prints JSON (jq parses it), that the write after `make demo-failover` lands on the promoted
# node, and that nothing of the demo is left afterwards.
# Needs root and network namespaces (the quick start's addresses are the netns layout's); skips
# when the demo is already running (the quick start ends with `make demo-stop`).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
. tests/integration/lib/expect.sh
fails=0

[ "$(id -u)" = 0 ] || { echo "SKIP: the quick start runs as root"; exit 77; }
ip netns list >/dev/null 2>&1 || { echo "SKIP: no network namespaces here"; exit 77; }
# The demo cluster is one per machine: the failover suite's lock orders its users.
exec 8>/tmp/haprole-failover-suite.lock
flock -w 600 8 || { echo "SKIP: the demo lock has been held for 600 s"; exit 77; }
[ -f .demo/up ] && { echo "SKIP: a demo is running (the quick start would stop it)"; exit 77; }

WORK=$(mktemp -d /tmp/hr-quickstart.XXXXXX)
cleanup() {
	[ -f "$ROOT/.demo/up" ] && docker/demo.sh stop >>"$WORK/cleanup.log" 2>&1
	[ "$fails" = 0 ] && rm -rf "$WORK" || echo "logs kept in $WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The commands, in order: lines "$ CMD" of the Quick start section.
sed -n '/^## Quick start/,/^## /p' README.md | sed -n 's/^\$ //p' >"$WORK/commands"
n=$(wc -l <"$WORK/commands")
expect_match "README's quick start has commands" '^[1-9][0-9]*$' "$n"
expect "the quick start begins with make demo" "make demo" "$(head -1 "$WORK/commands" | awk '{print $1, $2}')"
expect "the quick start ends with make demo-stop" "make demo-stop" "$(tail -1 "$WORK/commands" | awk '{print $1, $2}')"

i=0
after_failover=0
promoted=
while IFS= read -r cmd; do
	i=$((i + 1))
	out=$(timeout -k 5 600 bash -o pipefail -c "$cmd" 2>&1 </dev/null)
	rc=$?
	printf '%s\n' "\$ $cmd" "$out" >>"$WORK/transcript"
	expect "command $i exits 0: $cmd" 0 "$rc"
	[ "$rc" = 0 ] || { printf '%s\n' "$out" | tail -20; }
	case $cmd in
	curl*)
		if printf '%s' "$out" | jq -e . >/dev/null 2>&1; then ok "command $i prints JSON"; else ko "command $i prints JSON: $out"; fi
		if [ "$after_failover" = 1 ] && case $cmd in *"-X POST"*) true ;; *) false ;; esac; then
			expect "the write after the failover lands on the promoted node" "$promoted" \
				"$(printf '%s' "$out" | jq -r .db_node 2>/dev/null)"
			after_failover=0
		fi
		;;
	"make demo-failover"*)
		promoted=$(printf '%s\n' "$out" | sed -n 's/^demo: promoted \([a-z0-9]*\) .*/\1/p')
		expect_match "make demo-failover names the promoted node" '^db[0-9]+$' "$promoted"
		after_failover=1
		;;
	esac
done <"$WORK/commands"

expect "no .demo/ left after the quick start" "absent" "$([ -e .demo ] && echo present || echo absent)"
expect "no hr- namespace left" "" "$(ip netns list | grep -o '^hr-[a-z0-9]*' | tr '\n' ' ')"
[ "$fails" = 0 ] || { echo "transcript:"; cat "$WORK/transcript"; }
exit $((fails > 0))
