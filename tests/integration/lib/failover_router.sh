# tests/integration/lib/failover_router.sh - the failover suite (tests/integration/test_failover.sh)
# against one router on a subset of its scenarios: through Debian's HAProxy 2.6 with the
# negative controls, then through HAProxy 3.2 (lib/haproxy3.sh's sid root) without them (they
# test the verifier, already shown in the first run). Source it (bash) after lib/haproxy.sh and
# lib/haproxy3.sh, then:
#
#   failover_router_main ROUTER "SCENARIOS" RUN_3X     # exits: 0 passed, 77 nothing ran, 1 failed

failover_router_main() {
	local router=$1 sc=$2 run_3x=$3 passed=0 failed=0 ran="" root cmd
	_failover_router_run() { # LABEL HAPROXY_CMD NEGATIVE
		echo "==== $router router, $1: $sc"
		FAILOVER_ROUTER=$router FAILOVER_SCENARIOS="$sc" FAILOVER_NEGATIVE=$3 DEMO_HAPROXY=$2 \
			bash tests/integration/test_failover.sh
		case $? in
		0) passed=$((passed + 1)); ran="$ran $1" ;;
		77) echo "---- $router router, $1: skipped" ;;
		*) failed=$((failed + 1)); echo "---- $router router, $1: FAILED" ;;
		esac
	}
	_failover_router_run "haproxy $(hap_version)" haproxy 1
	if [ "$run_3x" != 0 ]; then
		root=$(HAP3_SUITES=sid hap3_roots | tail -n 1)
		if [ -n "$root" ] && cmd=$(hap_cmdline "$root"); then
			_failover_router_run "haproxy $(hap_version "$root")" "$cmd" 0
		else
			echo "note: no HAProxy 3.2 root (lib/haproxy3.sh): the $router router ran on 2.6 only"
		fi
	fi
	echo "failover, $router router: passed on:${ran:- nothing}; $failed failed"
	[ "$failed" -gt 0 ] && exit 1
	[ "$passed" -eq 0 ] && exit 77
	exit 0
}
