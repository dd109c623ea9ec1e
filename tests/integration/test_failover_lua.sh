#!/bin/bash
# tests/integration/test_failover_lua.sh - the failover suite (tests/integration/test_failover.sh)
# against the Lua router (haproxy/haprole.lua; the demo with DEMO_ROUTER=lua: no haprole-spoa),
# on a representative subset of its scenarios (issue 16 item 4): a planned switchover, the
# primary killed (-9) and promoted, split brain (the old primary back as a primary), and the
# router's source killed (the primary's agent SIGKILLed: its feed is lost, writes fail closed).
# Each scenario keeps the suite's pass rules: zero writes on a non-primary, zero acknowledged
# writes lost, writes resumed on the final primary in the stated bound.
#   1. through Debian's HAProxy 2.6, with the suite's negative controls (the same scenario with
#      routing broken on purpose must fail the verifier);
#   2. through HAProxy 3.2 (tests/integration/lib/haproxy3.sh's sid root; the demo's DEMO_HAPROXY),
#      without the negative controls (they test the verifier, already shown in run 1).
# Takes ~8 minutes. Environment: FAILOVER_LUA_SCENARIOS (default below), FAILOVER_LUA_3X=0
# (skip run 2). Exit: 0 both passed (or 3.2 unavailable and said so), 77 nothing ran, 1 a failure.
# lane: demo
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib/haproxy.sh
. tests/integration/lib/haproxy3.sh

SC=${FAILOVER_LUA_SCENARIOS:-switchover kill9 splitbrain agentkill}
. tests/integration/lib/skip.sh
haproxy -vv 2>/dev/null | grep -q '^Built with Lua' || skip_unavoidable "this haproxy is built without Lua"

passed=0
failed=0
ran=""
run() { # run LABEL HAPROXY_CMD NEGATIVE
	echo "==== Lua router, $1: $SC"
	FAILOVER_ROUTER=lua FAILOVER_SCENARIOS="$SC" FAILOVER_NEGATIVE=$3 DEMO_HAPROXY=$2 \
		bash tests/integration/test_failover.sh
	local rc=$?
	case $rc in
	0) passed=$((passed + 1)); ran="$ran $1" ;;
	77) echo "---- Lua router, $1: skipped" ;;
	*) failed=$((failed + 1)); echo "---- Lua router, $1: FAILED (status $rc)" ;;
	esac
}

run "haproxy $(hap_version)" haproxy 1
if [ "${FAILOVER_LUA_3X:-1}" != 0 ]; then
	root=$(HAP3_SUITES=sid hap3_roots | tail -n 1)
	if [ -n "$root" ] && cmd=$(hap_cmdline "$root"); then
		run "haproxy $(hap_version "$root")" "$cmd" 0
	else
		echo "note: no HAProxy 3.2 root (lib/haproxy3.sh): the Lua router ran on 2.6 only"
	fi
fi
echo "failover, Lua router: passed on:${ran:- nothing}; $failed failed"
[ "$failed" -gt 0 ] && exit 1
[ "$passed" -eq 0 ] && exit 77
exit 0
