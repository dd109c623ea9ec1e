#!/bin/bash
# bench/route-lag.sh - promotion -> first routed write, for EVERY router of the demo in one run
# (issue 16; docs/design.md section 10): spoa (SPOE), lua (haproxy/haprole.lua), push
# (haprole-spoa setting HAProxy's servers) and agent (agent checks alone, inter 1s), a planned
# switchover per trial, the routers interleaved round after round so that the shared machine's
# drift hits them alike. It is bench/failover.sh -I -s switchover -p "spoe lua push agent": the
# demo cluster is switched between routers in place (HAProxy and haprole-spoa restarted, the
# databases untouched); see that script for how a trial is measured (PROMO_MS: the new
# primary's history file mtime -> its first write acknowledged through HAProxy, with a client
# writing every 20 ms (-w) on a pooled connection and on fresh ones; and ROUTED_MS, the same
# promotion -> the first session HAProxy's own log shows sent to the new primary).
#
#   bench/route-lag.sh [-n N | --quick] [-k] [-w MS]
#                      N trials per router (default 10; --quick: 2); -k keeps failover.sh's
#                      work directory (the client's logs, the demo's logs); -w the client's
#                      write interval in ms (default 20)
#
# Run it under the demo's lock (flock /tmp/hr-demo.lock bench/route-lag.sh): it uses the running
# demo, or starts one and stops it. Root, /usr/bin/python3 with psycopg2.
# Output: failover.sh's rows and summary, then one line per router (stable, machine-readable):
#   route_lag router=spoa|lua|push|agent scenario=switchover n=N min=.. p50=.. max=..
# then the same per router for ROUTED_MS (HAProxy's log; n: trials whose log had the session):
#   route_lag_haproxy router=spoa|lua|push|agent scenario=switchover n=N min=.. p50=.. max=..
# and the load average seen during the run (sampled every 5 s from /proc/loadavg):
#   route_lag_load samples=.. min=.. median=.. max=..
# Exit status: that of bench/failover.sh (0: N measured trials per router, no write on a
# non-primary, no acknowledged write lost).
set -u
cd "$(dirname "$0")/.."
n=10
keep=
wms=20
while [ $# -gt 0 ]; do
	case $1 in
	--quick) n=2 ;;
	-k) keep=-k ;;
	-n) n=${2:-}; shift ;;
	-w) wms=${2:-}; shift ;;
	-h | --help) sed -n '2,/^set -u/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "route-lag.sh: unknown argument '$1' (-n N, --quick, -k, -w MS)" >&2; exit 2 ;;
	esac
	shift
done
case $n in '' | *[!0-9]* | 0) echo "route-lag.sh: -n wants a positive number (got \"$n\")" >&2; exit 2 ;; esac
case $wms in "" | *[!0-9]* | 0) echo "route-lag.sh: -w wants a positive number of ms (got \"$wms\")" >&2; exit 2 ;; esac
load=$(mktemp /tmp/hr-routelag-load.XXXXXX)
(while :; do cut -d' ' -f1 /proc/loadavg; sleep 5; done) >"$load" &
sampler=$!
trap 'kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null; rm -f "$load"' EXIT
echo "route-lag: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), $(uname -r); load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
bench/failover.sh -I -n "$n" -s switchover -p "spoe lua push agent" -w "$wms" $keep
rc=$?
sort -n "$load" | awk '{ v[NR] = $1 } END {
	if (NR == 0) { print "route_lag_load samples=0"; exit }
	m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
	printf "route_lag_load samples=%d min=%.2f median=%.2f max=%.2f\n", NR, v[1], m, v[NR] }'
exit "$rc"
