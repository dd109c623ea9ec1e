#!/bin/bash
# tests/integration/test_failover_push.sh - the failover suite (tests/integration/test_failover.sh)
# against the push router (haprole-spoa setting HAProxy's servers through the stats socket; the
# demo with DEMO_ROUTER=push: no SPOE filter, no per-request rule), on a representative subset
# of its scenarios (issue 16 item 4): a planned switchover, the primary killed (-9) and
# promoted, split brain, and the router's source killed (the primary's agent SIGKILLed: its
# feed is lost, haprole-spoa takes every writer server out, writes fail closed). Each keeps the
# suite's pass rules: zero writes on a non-primary, zero acknowledged writes lost, writes
# resumed on the final primary within the stated bound; and its negative control (routing made
# wrong on purpose) must fail the verifier.
#   1. through Debian's HAProxy 2.6, with the negative controls;
#   2. through HAProxy 3.2 (lib/haproxy3.sh's sid root), without them.
# Environment: FAILOVER_PUSH_SCENARIOS (default below), FAILOVER_PUSH_3X=0 (skip run 2).
# Exit: 0 passed, 77 nothing ran, 1 a failure.
# lane: demo
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib/haproxy.sh
. tests/integration/lib/haproxy3.sh

SC=${FAILOVER_PUSH_SCENARIOS:-switchover kill9 splitbrain agentkill}
. tests/integration/lib/failover_router.sh
failover_router_main push "$SC" "${FAILOVER_PUSH_3X:-1}"
