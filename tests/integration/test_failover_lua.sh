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

. tests/integration/lib/failover_router.sh
failover_router_main lua "$SC" "${FAILOVER_LUA_3X:-1}"
