#!/bin/bash
# bench/hold-switchover.sh - issue 17's figure: failed writes per planned switchover with and
# without hold, on the demo cluster (haprole-spoa router), in repeated trials.
#
#   bench/hold-switchover.sh -l [-n TRIALS] [-r ROOT]
#   flock /tmp/hr-demo.lock bench/hold-switchover.sh [-n TRIALS] [-e switchover|kill9] [-k]
#
#   -l          on a cluster of its own instead of the demo (tests/integration/test_spoa_hold.sh's,
#               its block in lib/fixture.sh, with the demo's shipped configs): PostgreSQL
#               15 pair with a synchronous standby, real agents, haprole-spoa, HAProxy (Debian's
#               2.6, or -r ROOT: a 3.x root of tests/integration/lib/haproxy3.sh); switchover =
#               haprolectl drain, clean stop, promote, the old primary rebuilt as a standby;
#               hold off = SIGHUP with hold_max = 0. Needs no demo lock (never beside
#               test_spoa_hold.sh: same addresses).
#   -n TRIALS   trials per mode (default 10): "hold" (the demo's hold_max = 3s) and "nohold"
#               (hold_max = 0 by SIGHUP to the demo's haprole-spoa), in that order
#   -e EVENT    switchover (default): `docker/demo.sh switchover`; kill9: `docker/demo.sh pg-stop
#               PRIMARY kill` (SIGKILL of the postmaster; returns once it is gone) then `promote`
#               of the standby at once, as tests/failover/scenarios.sh's kill9; with -l the
#               test's kill9 (the old primary rebuilt with pg_basebackup after)
#   -k          keep the work directory
# Each trial: `docker/demo.sh heal`; tests/integration/lib/hold_client.py opens a new connection
# every 20 ms through HAProxy's write port and INSERTs one row (src = the trial's tag);
# once 25 writes were acknowledged by the primary, the event (switchover: haprolectl drain,
# clean stop, promote the standby, pg_rewind the old primary back as a standby, ready); once 25
# were acknowledged by the new primary the client stops. Per trial it prints:
#   FAILED   writes that got an error (connection refused/closed by HAProxy, ...)
#   AFTER    kill9: those of them that started after the killed postmaster was gone (the others
#            may have been in flight on it: nothing saves those); switchover: -
#   NONPRIM  writes that reached a non-primary (read-only error)
#   LOST     acknowledged writes the new primary lacks (read back through HAProxy's write port)
#   HELD     writes started after the drain and acknowledged by the new primary before or at its
#            first acknowledgement: they waited for it; +P50/+MAX: their latency above the
#            median latency before the drain, in ms
# and per mode min / median / max of FAILED, and the totals, and one machine-readable line per
# mode: `hold event=E hold=on|off n=N failed_per_event_median=M failed_per_event_max=X
# failed_after_event_median=A nonprimary=0 lost=0 held_added_p50_ms=P`.
# Exit status: 0 when every trial ran, 0 NONPRIM and 0 LOST; 1 otherwise; 2 usage.
# Uses the running demo (left up, healed, hold_max restored) or starts one (and stops it). Run
# it under the demo's lock; it also takes the failover suite's lock (never beside
# bench/failover.sh or tests/integration/test_failover.sh). Root, /usr/bin/python3 with
# psycopg2. ~12 s per trial.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
D=$ROOT/docker/demo.sh
PY=/usr/bin/python3
CLIENT=$ROOT/tests/integration/lib/hold_client.py
ENV=$ROOT/.demo/cluster.env
STATE=$ROOT/.demo/state.env
TRIALS=10
EVENT=switchover
KEEP=0
LOCAL=0
HROOT=
usage() { sed -n '2,/^set -u/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
while getopts "n:e:klr:h" o; do
	case $o in
	n) TRIALS=$OPTARG ;;
	e) EVENT=$OPTARG ;;
	l) LOCAL=1 ;;
	r) HROOT=$OPTARG ;;
	k) KEEP=1 ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
case $EVENT in switchover | kill9) ;; *) usage >&2; exit 2 ;; esac
if [ "$LOCAL" = 1 ]; then
	echo "# $(date -u '+%Y-%m-%d %H:%M UTC') bench/hold-switchover.sh -l -n $TRIALS -e $EVENT${HROOT:+ -r $HROOT}"
	cd "$ROOT" && exec flock /tmp/hr-it-test_spoa_hold.lock env HOLD_BENCH_TRIALS="$TRIALS" \
		HOLD_BENCH_ROOT="$HROOT" HOLD_BENCH_EVENT="$EVENT" bash tests/integration/test_spoa_hold.sh
fi
[ "$(id -u)" = 0 ] || { echo "hold-switchover.sh: needs root (the demo's namespaces)" >&2; exit 2; }
$PY -c 'import psycopg2' 2>/dev/null || { echo "hold-switchover.sh: python3-psycopg2 missing" >&2; exit 2; }
exec 8>/tmp/haprole-failover-suite.lock
flock -w 600 8 || { echo "hold-switchover.sh: the failover suite's lock is held" >&2; exit 1; }

WORK=$(mktemp -d /tmp/haprole-bench-hold.XXXXXX)
LOG=$WORK/bench.log
STARTED_DEMO=0
WRITE_SRC=bench-hold
. "$ROOT/tests/failover/lib.sh"

spoa_hold() { # spoa_hold 3s|0: the demo SPOA's hold_max, by SIGHUP
	sed -i "s/^hold_max = .*/hold_max = $1/" "$ROOT/.demo/spoa.conf"
	kill -HUP "$(cat "$ROOT/.demo/pids/spoa.pid")"
	wait_cond 5 spoa_hold_is "$1"
}
spoa_hold_is() { # the SPOA's view says hold_max_s is $1 (3s -> 3.000, 0 -> 0.000)
	local want
	want=$(awk -v v="${1%s}" 'BEGIN { printf "%.3f", v }')
	curl -s -m 1 "http://$(sed -n 's/^SPOA_HOST=//p' "$ENV"):$(sed -n 's/^SPOA_STATUS_PORT=//p' "$ENV")/" |
		grep -q "\"hold_max_s\":$want"
}
finish() {
	[ -f "$ROOT/.demo/spoa.conf" ] && spoa_hold 3s >/dev/null 2>&1
	if [ "$STARTED_DEMO" = 1 ]; then "$D" stop >>"$LOG" 2>&1; else "$D" heal >>"$LOG" 2>&1; fi
	[ "$KEEP" = 1 ] && echo "work directory kept: $WORK" || rm -rf "$WORK"
}
trap finish EXIT

demo_up_or_use "left up by its owner" "hold-switchover.sh: " || exit 1
"$D" has-spoa || { echo "hold-switchover.sh: the demo does not route with haprole-spoa"; exit 1; }
grep -q '^hold_max' "$ROOT/.demo/spoa.conf" ||
	{ echo "hold-switchover.sh: the running demo's SPOA has no hold_max (started before issue 17: docker/demo.sh stop, then run again)"; exit 1; }
HOST=$(sed -n 's/^HAPROXY_HOST=//p' "$ENV")
PORT=$(sed -n 's/^HAPROXY_PG_PORT=//p' "$ENV")
PGU=$(sed -n 's/^PGUSER=//p' "$ENV")
PGD=$(sed -n 's/^PGDATABASE=//p' "$ENV")
addr_of() { sed -n "s/^$1_HOST=//p" "$ENV"; }

acked_on() { # acked_on TAG ADDR
	$PY -c 'import json,sys
try: print(json.load(open(sys.argv[1]))["by_server"].get(sys.argv[2], 0))
except Exception: print(0)' "$WORK/$1.prog" "$2"
}
acked_ge() { [ "$(acked_on "$1" "$2")" -ge "$3" ]; }

# trial MODE N: prints "MODE N FAILED NONPRIM LOST HELD P50 MAX AFTER" or "MODE N FAIL reason"
trial() {
	local mode=$1 n=$2 tag="$WRITE_SRC-$EVENT-$1-$2" p s cpid t_dis t_after=0
	"$D" heal >>"$LOG" 2>&1 || { echo "$mode $n FAIL heal"; return 1; }
	p=$(state PRIMARY)
	s=$( [ "$p" = db1 ] && echo db2 || echo db1)
	rm -f "$WORK/stop"
	$PY "$CLIENT" --host "$HOST" --port "$PORT" --user "$PGU" --db "$PGD" \
		--sql "INSERT INTO demo_writes (src) VALUES ('$tag') RETURNING id, host(inet_server_addr())" \
		--stop "$WORK/stop" --log "$WORK/$tag.jsonl" --progress "$WORK/$tag.prog" --max-s 90 \
		>"$WORK/$tag.json" 2>>"$LOG" &
	cpid=$!
	if ! wait_cond 20 acked_ge "$tag" "$(addr_of "$p")" 25; then
		touch "$WORK/stop"; wait $cpid
		echo "$mode $n FAIL writes did not reach $p"; return 1
	fi
	t_dis=$(date +%s.%N)
	if [ "$EVENT" = kill9 ]; then
		"$D" pg-stop "$p" kill >>"$LOG" 2>&1
		t_after=$(date +%s.%N)
		"$D" promote "$s" >>"$LOG" 2>&1 || { touch "$WORK/stop"; wait $cpid; echo "$mode $n FAIL promote"; return 1; }
	else
		"$D" switchover >>"$LOG" 2>&1 || { touch "$WORK/stop"; wait $cpid; echo "$mode $n FAIL switchover"; return 1; }
	fi
	wait_cond 20 acked_ge "$tag" "$(addr_of "$s")" 25
	touch "$WORK/stop"
	wait $cpid
	PGCONNECT_TIMEOUT=5 psql -X -A -t -q -h "$HOST" -p "$PORT" -U "$PGU" -d "$PGD" \
		-c "SELECT id FROM demo_writes WHERE src = '$tag'" >"$WORK/$tag.ids" 2>>"$LOG" ||
		{ echo "$mode $n FAIL cannot read $s"; return 1; }
	$PY - "$WORK/$tag.jsonl" "$WORK/$tag.ids" "$(addr_of "$s")" "$t_dis" "$mode" "$n" "$t_after" <<'EOF'
import json, re, statistics, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
have = set(int(x) for x in re.findall(r"\d+", open(sys.argv[2]).read()))
new, t_dis = sys.argv[3], float(sys.argv[4])
failed = [r for r in recs if not r["ok"]]
ro = [r for r in failed if r.get("cls") == "readonly"]
lost = [r for r in recs if r["ok"] and r["server"] == new and r["id"] not in have]
base = [r["t1"] - r["t0"] for r in recs if r["ok"] and r["t0"] < t_dis]
b = statistics.median(base) if base else 0.0
first = min((r["t1"] for r in recs if r["ok"] and r["server"] == new), default=None)
held = sorted(r["t1"] - r["t0"] - b for r in recs if r["ok"] and r["server"] == new and
              r["t0"] >= t_dis and first is not None and r["t0"] <= first)
p50 = held[len(held) // 2] * 1000 if held else 0
mx = held[-1] * 1000 if held else 0
t_after = float(sys.argv[7])
after = len([r for r in failed if r["t0"] >= t_after]) if t_after > 0 else "-"
print(sys.argv[5], sys.argv[6], len(failed), len(ro), len(lost), len(held), "%.0f" % p50, "%.0f" % mx,
      after)
EOF
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC') bench/hold-switchover.sh -n $TRIALS -e $EVENT ($(haproxy -v | head -1 | cut -d' ' -f1-3))"
echo "# mode trial FAILED NONPRIM LOST HELD +P50_MS +MAX_MS AFTER"
bad=0
for mode in hold nohold; do
	if [ "$mode" = hold ]; then spoa_hold 3s; else spoa_hold 0; fi ||
		{ echo "hold-switchover.sh: the SPOA did not take hold_max"; exit 1; }
	done_n=0 tries=0
	while [ $done_n -lt "$TRIALS" ] && [ $tries -lt $((TRIALS + 3)) ]; do
		tries=$((tries + 1))
		out=$(trial "$mode" $((done_n + 1)))
		echo "$out"
		case $out in *FAIL*) continue ;; esac
		echo "$out" >>"$WORK/results"
		done_n=$((done_n + 1))
	done
	[ $done_n -eq "$TRIALS" ] || bad=1
done
$PY - "$WORK/results" "$EVENT" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
ev = sys.argv[2]
for mode in ("hold", "nohold"):
    r = [x for x in rows if x[0] == mode]
    if not r:
        continue
    f = sorted(int(x[2]) for x in r)
    a = [int(x[8]) for x in r if x[8] != "-"]
    print("%-6s trials %d: failed writes per %s min %d / median %g / max %d (total %d); "
          "non-primary %d, lost %d; held writes' added latency p50 of trials %s ms, max %s ms" %
          (mode, len(r), ev, f[0], statistics.median(f), f[-1], sum(f), sum(int(x[3]) for x in r),
           sum(int(x[4]) for x in r), statistics.median(int(x[6]) for x in r),
           max(int(x[7]) for x in r)))
    print("hold event=%s hold=%s n=%d failed_per_event_median=%g failed_per_event_max=%d "
          "failed_after_event_median=%s nonprimary=%d lost=%d held_added_p50_ms=%g" %
          (ev, "on" if mode == "hold" else "off", len(r), statistics.median(f), f[-1],
           ("%g" % statistics.median(a)) if a else "-", sum(int(x[3]) for x in r),
           sum(int(x[4]) for x in r), statistics.median(int(x[6]) for x in r)))
EOF
awk '$4 != 0 || $5 != 0 { bad = 1 } END { exit bad }' "$WORK/results" || bad=1
exit $bad
