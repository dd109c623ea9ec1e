#!/bin/bash
# tests/integration/test_failover_faults.sh - the failover suite's second set (issue 12 item 5):
# HAProxy reloaded with -sf and in master-worker mode while the SPOE is busy, PostgreSQL frozen
# with SIGSTOP on the primary, a one-way partition between the SPOA and the new primary's agent,
# the agents' wall clocks stepped; each with its negative control. The runner, its rules and its
# environment (FAILOVER_NEGATIVE, FAILOVER_REUSE_DEMO, FAILOVER_ROUTER, KEEP_LOGS) are
# tests/integration/test_failover.sh's; the scenarios are in tests/failover/scenarios.sh.
# lane: demo
# With FAILOVER_SCENARIOS set, test_failover.sh runs exactly those: this one skips.
set -u
if [ -n "${FAILOVER_SCENARIOS:-}" ]; then
	echo "SKIP: FAILOVER_SCENARIOS is set: tests/integration/test_failover.sh runs them"
	exit 77
fi
FAILOVER_SET=faults exec bash "$(dirname "$0")/test_failover.sh"
