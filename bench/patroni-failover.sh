#!/bin/bash
# bench/patroni-failover.sh - convergence beside Patroni (issue 14 item 2): the same Patroni
# events routed through each write port of `make demo PATRONI=1`, in one invocation.
#
#   bench/patroni-failover.sh [-n N] [-e "switchover failover"] [-p "agent spoa lua push patroni"] [-k]
#
#   -n N       trials per event (default 10)
#   -e EVENTS  switchover: `patronictl switchover --force` (docker/demo.sh switchover);
#              failover: SIGKILL of the primary's postmaster, Patroni fails over
#              (docker/demo.sh failover; master_start_timeout 0). Default both, alternating.
#   -p PORTS   HAPROXY_PG_PORT_<NAME> of .demo/cluster.env (default "agent spoa lua push
#              patroni"): agent = haprole's agent checks alone, spoa = haprole with the SPOA,
#              lua = haprole's Lua router, push = haprole's push router, patroni = the HA
#              guides' config (Patroni REST `option httpchk`, `inter 3s fall 3 rise 2`)
#   -k         keep the work directory (client logs, per-trial JSON) even on success
#   -S DIRS    run nothing: print the summary of the trials kept (-k) in the work directories
#              DIRS of earlier runs, together (an N >= 10 run made of several shorter ones, so
#              that none holds the shared demo long); with -e/-p as they ran
#
# Per trial (tests/failover/patroni.sh, pt_trial): every port gets its own client
# (tests/failover/client.py run: a write every 10 ms on a fresh connection, open loop, and one
# every 10 ms on a pooled connection); once each has writes acknowledged by the primary, the
# event; when Patroni has settled (the old primary streaming from the new one) and every
# client has 30 writes acknowledged by the new primary (at most 30 s), the clients stop and
# client.py verify reads every node directly. Figures per port:
#   PROMO->WRITE  promotion -> first write acknowledged by the new primary through that port;
#                 "promotion" is the first write the new primary accepts on a direct connection
#                 (tests/failover/promoprobe.py, every 10 ms, independent of HAProxy)
#   UNAVAIL       the longest time without an acknowledged write through that port
#   NONPRIM       writes that reached a non-primary (read-only error, or a stale primary's ack)
#   LOST          acknowledged writes the final primary lacks
# then min / p50 / max per event and port, and the totals.
# It starts the demo in Patroni mode (it refuses to run beside a demo already up) and stops it.
# Run it under the demo lock: flock /tmp/hr-demo.lock bench/patroni-failover.sh -n 3
# Root, network namespaces, patroni + etcd-server (make deps PATRONI=1). 1 to 2 minutes per event.
# Exit: 0 when every trial ran and no haprole port (agent, spoa, lua, push) had a write on a non-primary or
# an acknowledged write lost; 1 otherwise; 2 usage.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
D=$ROOT/docker/demo.sh
PY=/usr/bin/python3
ENV=$ROOT/.demo/cluster.env
N=10
EVENTS="switchover failover"
PORTS="agent spoa lua push patroni"
KEEP=0
SUMMARY_OF=
usage() { sed -n '2,/^set -u/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
while getopts "n:e:p:kS:h" o; do
	case $o in
	n) N=$OPTARG ;;
	e) EVENTS=$OPTARG ;;
	p) PORTS=$OPTARG ;;
	k) KEEP=1 ;;
	S) SUMMARY_OF=$OPTARG ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
case $N in '' | *[!0-9]* | 0) echo "patroni-failover.sh: -n wants a positive number" >&2; exit 2 ;; esac
for e in $EVENTS; do
	case $e in switchover | failover) ;; *) echo "patroni-failover.sh: unknown event '$e'" >&2; exit 2 ;; esac
done
# summary DIR...: min / p50 / max per event and port over the result.*.json of the DIRs; exit 1
# when a haprole port had a write on a non-primary or an acknowledged write lost
summary() {
	$PY - "$PORTS" "$EVENTS" "$@" <<'EOF'
import glob, json, sys
ports, events, works = sys.argv[1].split(), sys.argv[2].split(), sys.argv[3:]
rows = [json.load(open(f)) for w in works for f in sorted(glob.glob(w + "/result.*.json"))]
if not rows:
    sys.exit("patroni-failover.sh: no trial results in " + " ".join(works))
def p50(v):
    v = sorted(v); n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
def mpm(v):
    return "%.0f / %.0f / %.0f" % (min(v), p50(v), max(v)) if v else "-"
print("==== Patroni events, per port (ms: min / p50 / max over the trials; NONPRIM, LOST: per trial min / p50 / max, total)")
print("%-10s %-8s %3s %-22s %-24s %-18s %s" % ("EVENT", "PORT", "N", "PROMO->WRITE ms", "UNAVAIL ms", "NONPRIM", "LOST"))
bad = 0
for ev in events:
    for port in ports:
        r = [x for x in rows if x["event"] == ev and x["port"] == port]
        pw = [x["promo_to_write_ms"] for x in r if x.get("promo_to_write_ms") is not None]
        un = [x["unavail_ms"] for x in r]
        npv = [x["reached_nonprimary"] for x in r]
        lv = [x["acked_lost"] for x in r]
        none = len(r) - len(pw)
        print("%-10s %-8s %3d %-22s %-24s %-18s %s" % (ev, port, len(r), mpm(pw) + (" (%d none)" % none if none else ""),
              mpm(un), "%s, %d" % (mpm(npv), sum(npv)), "%s, %d" % (mpm(lv), sum(lv))))
        if port != "patroni" and (sum(npv) or sum(lv)):
            bad += 1
print("event -> promotion (Patroni's own time, ms): " + "; ".join(
    "%s %s" % (ev, mpm([x["event_to_promo_ms"] for x in rows if x["event"] == ev and x["port"] == ports[0]]))
    for ev in events))
sys.exit(1 if bad else 0)
EOF
}
if [ -n "$SUMMARY_OF" ]; then
	summary $SUMMARY_OF
	exit $?
fi
[ "$(id -u)" = 0 ] || { echo "patroni-failover.sh: needs root (network namespaces)" >&2; exit 2; }
[ -f "$ROOT/.demo/up" ] && { echo "patroni-failover.sh: a demo is already running ($ROOT/.demo): make demo-stop" >&2; exit 1; }

WORK=$(mktemp -d /tmp/hr-patroni-bench.XXXXXX)
LOG=$WORK/bench.log
PT_PORTS=$PORTS
. "$ROOT/tests/failover/patroni.sh"
FAILED=0
cleanup() {
	pt_clients_stop
	pt_probe_stop
	[ "$FAILED" = 0 ] || cp -r "$(dirname "$ENV")/logs" "$WORK/demo-logs" 2>/dev/null # kept for the failure
	"$D" stop >>"$LOG" 2>&1
	if [ "$FAILED" = 0 ] && [ "$KEEP" = 0 ]; then rm -rf "$WORK"; else echo "work directory kept: $WORK"; fi
}
trap cleanup EXIT
trap 'FAILED=1; exit 1' INT TERM

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPU ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $(/usr/bin/patroni --version 2>&1 | head -1), etcd $(/usr/bin/etcd --version 2>/dev/null | sed -n 's/^etcd Version: //p'), $(haproxy -v | head -1 | cut -d' ' -f1-3), PostgreSQL 15"
echo "# starting the demo with PATRONI=1 (log: $LOG)"
if ! DEMO_PATRONI=1 DEMO_ROUTER=spoa "$D" up >>"$LOG" 2>&1; then
	tail -30 "$LOG"
	echo "patroni-failover.sh: docker/demo.sh up failed"
	FAILED=1
	exit 1
fi
pt_probe_start
printf '%-10s %3s %-8s %-9s %13s %10s %7s %5s %14s\n' EVENT N PORT FROM-TO 'PROMO->WRITE' UNAVAIL NONPRIM LOST WRITES/ACKED
t=0
for ((i = 1; i <= N; i++)); do
	for ev in $EVENTS; do
		t=$((t + 1))
		tries=0
		until pt_trial "$ev" "t$t" $((800000000000 + t * 100000000)); do
			tries=$((tries + 1))
			echo "$ev $i: trial could not run: $PT_WHY"
			[ "$tries" -lt 3 ] || { FAILED=1; break; }
			"$D" heal >>"$LOG" 2>&1
			t=$((t + 1))
		done
		[ "$tries" -lt 3 ] || continue
		for name in $PORTS; do
			jq -r --arg i "$i" '[.event, $i, .port, "\(.from)-\(.to)", (.promo_to_write_ms // "none" | tostring),
				(.unavail_ms | tostring), (.reached_nonprimary | tostring), (.acked_lost | tostring),
				"\(.writes)/\(.acked)"] | @tsv' "$WORK/t$t.$name.json" |
				awk -F'\t' '{ printf "%-10s %3s %-8s %-9s %13s %10s %7s %5s %14s\n", $1,$2,$3,$4,$5,$6,$7,$8,$9 }'
			cp "$WORK/t$t.$name.json" "$WORK/result.t$t.$name.json"
		done
	done
done
pt_probe_stop

summary "$WORK" || FAILED=1
exit $FAILED
