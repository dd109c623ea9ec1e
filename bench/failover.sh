#!/bin/bash
# bench/failover.sh - docs/design.md section 10's failover targets, measured in repeated trials on
# the demo cluster: the SPOE path against the agent-check-only path, in one invocation.
#
#   bench/failover.sh [-n TRIALS] [-s "switchover kill9"] [-p "spoe agent"] [-i AGENT_INTER]
#                     [-I] [-k] [-w MS]
#
#   -n TRIALS      trials per path and scenario (default 10)
#   -s SCENARIOS   promotion scenarios of tests/failover/scenarios.sh (default "switchover kill9")
#   -p PATHS       spoe: the demo with ROUTER=spoa (haprole-spoa answers once per connection,
#                  HAProxy routes by its `writer`); lua: ROUTER=lua (haproxy/haprole.lua); push:
#                  ROUTER=push (haprole-spoa sets HAProxy's servers); agent: ROUTER=agent,
#                  HAProxy routes by the agents' checks alone, at -i (default "spoe agent", in
#                  that order). The demo is switched between routers in place: its HAProxy and
#                  haprole-spoa are restarted with the path's router, the cluster is not touched.
#   -I             interleave the paths: round after round, one trial of each path per round
#                  (the machine's drift hits every path alike); else all trials of a path, then
#                  the next
#   -i INTER       inter and agent-inter of the PostgreSQL servers on the agent path (default
#                  1s, the figure docs/design.md section 10 is stated for; the demo runs 500ms)
#   -k             keep the work directory (client logs, per-trial JSON, the demo's logs) even
#                  on success
#   -w MS          the client's write interval in ms (default 20): a pooled write every MS and a
#                  fresh-connection write started every MS (client.py --write-interval); the
#                  finer it is, the less of PROMO_MS is the client's own sampling
# Last lines, machine-readable, one per path and scenario (PROMO_MS over the measured trials):
#   route_lag router=spoa|lua|push|agent scenario=S n=N min=.. p50=.. max=..
# then one per path and scenario for ROUTED_MS (below; n counts the trials that had one):
#   route_lag_haproxy router=spoa|lua|push|agent scenario=S n=N min=.. p50=.. max=..
# Exit status: 0 TRIALS measured trials per case, 0 writes on a non-primary and 0 acknowledged
# writes lost; 1 otherwise (the figures are printed either way; the work directory is kept); 2 usage.
#
# Each trial: `docker/demo.sh heal` (one primary, one streaming standby), the failover suite's
# counting client (tests/failover/client.py run) writing through HAProxy's write port (a pooled
# connection and open-loop fresh connections, a write every 20 ms each, -w), the scenario's
# disruption (sc_NAME of tests/failover/scenarios.sh: the standby is promoted), 30 writes on
# the new primary, then `client.py verify` reads every node directly. Per trial it prints:
#   PROMO_MS   the new primary's promotion (mtime of its new timeline's history file, written
#              just before it accepts writes) -> first write acknowledged by it through HAProxy
#   ROUTED_MS  the new primary's promotion -> HAProxy's first routing decision for it: the
#              earliest session of the pg_write frontends (pg_write, pg_write_reroute) that
#              HAProxy's own log (the demo's haproxy.log, tcplog) shows sent to the new primary,
#              at its accept time + Tw (Tw covers the router's rules and any hold: the moment
#              HAProxy started the connection to the server); ms resolution. It leaves out the
#              client's sampling and the new primary's connection set-up and commit, which
#              PROMO_MS includes
#   UNAVAIL_MS the longest time without any acknowledged write (includes the stand-in failover
#              manager's own time: stopping the old primary, pg_promote)
#   NONPRIM    writes that reached a non-primary (read-only error, or a stale primary's ack)
#   LOST       acknowledged writes the final primary lacks
# and at the end min / p50 / max per path and scenario, the totals, and SPOE p50 / agent p50.
# A trial whose set-up, disruption or verification could not be done (the stand-in manager or
# the harness failed, not a routing figure) is printed FAIL and another one is run instead.
#
# It uses the running demo (and leaves it up, healed, as it found it) or starts one (and stops
# it). The agent path restarts HAProxy with ROUTER=agent and DEMO_PG_CHECK_INTER=INTER;
# afterwards the demo's own router is put back (HAProxy restarted with its own config, the SPOA
# started if that router has one).
# Takes the failover suite's lock: never beside tests/integration/test_failover.sh.
# Root (network namespaces) and /usr/bin/python3 with psycopg2 are needed. ~15 s per trial.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
D=$ROOT/docker/demo.sh
PY=/usr/bin/python3
CLIENT=$ROOT/tests/failover/client.py
ENV=$ROOT/.demo/cluster.env
STATE=$ROOT/.demo/state.env

TRIALS=10
SCENARIOS="switchover kill9"
PATHS="spoe agent"
AGENT_INTER=1s
KEEP=0
INTERLEAVE=0
WRITE_MS=20
usage() { sed -n '2,/^set -u/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
while getopts "n:s:p:i:Ikw:h" o; do
	case $o in
	n) TRIALS=$OPTARG ;;
	s) SCENARIOS=$OPTARG ;;
	p) PATHS=$OPTARG ;;
	i) AGENT_INTER=$OPTARG ;;
	k) KEEP=1 ;;
	I) INTERLEAVE=1 ;;
	w) WRITE_MS=$OPTARG ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
case $TRIALS in '' | *[!0-9]* | 0) echo "failover.sh: -n wants a positive number (got \"$TRIALS\")" >&2; exit 2 ;; esac
for p in $PATHS; do
	case $p in spoe | lua | push | agent) ;; *) echo "failover.sh: -p: unknown path '$p' (spoe, lua, push, agent)" >&2; exit 2 ;; esac
done
case $WRITE_MS in '' | *[!0-9]* | 0) echo "failover.sh: -w wants a positive number of ms (got \"$WRITE_MS\")" >&2; exit 2 ;; esac
# Open-loop write lanes of the client: a write every WRITE_MS, each may wait up to its 3 s
# timeout (HAProxy retrying a dead server): 3000 / WRITE_MS lanes busy at worst (150 at 20 ms);
# the suite's 24 would saturate and delay the first write to the new primary by the client's
# own limit, not HAProxy's routing. A lane costs nothing while idle. Every trial reports the
# writes not started for want of a lane (note "... fresh lanes busy"; 0 expected).
FRESH_LANES=${BENCH_FRESH_LANES:-$((3000 / WRITE_MS + 50 > 200 ? 3000 / WRITE_MS + 50 : 200))}
case $AGENT_INTER in *[0-9]ms | *[0-9]s) ;; *) echo "failover.sh: -i wants e.g. 1s or 500ms (got \"$AGENT_INTER\")" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "failover.sh: needs root (the demo's network namespaces)" >&2; exit 2; }
$PY -c 'import psycopg2' 2>/dev/null || { echo "failover.sh: /usr/bin/python3 lacks psycopg2" >&2; exit 2; }

# One failover suite (or bench) at a time: it owns the demo cluster while it runs.
exec 8>/tmp/haprole-failover-suite.lock
flock -w 600 8 || { echo "failover.sh: the failover suite's lock has been held for 600 s" >&2; exit 1; }

WORK=$(mktemp -d /tmp/hr-fobench.XXXXXX)
LOG=$WORK/bench.log
RES=$WORK/trials.jsonl
CLIENT_PID=
STARTED_DEMO=0
RECONFIGURED=0 # HAProxy runs the agent path's config / the SPOA is stopped
FAILED=0

# The demo's router, remembered in its state file (docker/demo.sh reads ROUTER from it on
# every call); the one it ran at our start is put back at the end.
demo_router() { sed -n 's/^ROUTER=//p' "$STATE" 2>/dev/null | tail -n 1; }
ORIG_ROUTER=
# switch_router R [ENV...]: HAProxy and haprole-spoa restarted with router R (and the demo.sh
# environment ENV); the cluster itself is not touched.
switch_router() {
	local r=$1
	shift
	"$D" stop-proc spoa >>"$LOG" 2>&1
	"$D" stop-proc haproxy >>"$LOG" 2>&1
	sed -i '/^ROUTER=/d' "$STATE" && echo "ROUTER=$r" >>"$STATE"
	sed -i "s/^DEMO_ROUTER=.*/DEMO_ROUTER=$r/" "$ENV" 2>/dev/null
	env "$@" "$D" start-proc haproxy >>"$LOG" 2>&1 || return 1
	env "$@" "$D" start-proc spoa >>"$LOG" 2>&1
}
# restore_demo: the demo's own router and HAProxy config, its SPOA running, the cluster healed.
restore_demo() {
	switch_router "${ORIG_ROUTER:-spoa}"
	"$D" heal >>"$LOG" 2>&1
}
cleanup() {
	if [ -n "$CLIENT_PID" ]; then
		kill "$CLIENT_PID" 2>/dev/null
		wait "$CLIENT_PID" 2>/dev/null
	fi
	# The demo's logs (HAProxy's shows where each connection went) go with a kept work dir.
	if [ "$KEEP" = 1 ] || [ "$FAILED" != 0 ]; then cp -r "$ROOT/.demo/logs" "$WORK/demo-logs" 2>/dev/null; fi
	if [ "$STARTED_DEMO" = 1 ]; then
		"$D" stop >>"$LOG" 2>&1
	elif [ -f "$ROOT/.demo/up" ]; then
		if [ "$RECONFIGURED" = 1 ]; then restore_demo; else "$D" heal >>"$LOG" 2>&1; fi
	fi
	if [ "$KEEP" = 1 ] || [ "$FAILED" != 0 ]; then
		echo "work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'FAILED=1; exit 1' INT TERM

# ---- helpers (the names tests/failover/scenarios.sh expects from its runner) -----------------

# wait_cond, prog, prog_ge, prog_node, prog_node_ge, state, note, server_is, writable (and
# host_of, agent_json): tests/failover/lib.sh.
WRITE_SRC=failover-bench
. "$ROOT/tests/failover/lib.sh"
# spoa_running: its pid is alive (a zombie is dead: PID 1 reaps late here).
spoa_running() {
	local p
	p=$(cat "$ROOT/.demo/pids/spoa.pid" 2>/dev/null) && [ -n "$p" ] && [ -r "/proc/$p/status" ] &&
		! grep -q '^State:[[:space:]]*Z' "/proc/$p/status"
}

# . tests/failover/scenarios.sh: sc_NAME (switchover, kill9, ...). Its app scenarios name the
# app node they disturb when sourced (as tests/integration/test_failover.sh sets it).
APPNODE=app1
. "$ROOT/tests/failover/scenarios.sh"
for sc in $SCENARIOS; do
	declare -F "sc_$sc" >/dev/null || { echo "failover.sh: no scenario sc_$sc in tests/failover/scenarios.sh" >&2; exit 2; }
done

# ---- paths ------------------------------------------------------------------------------------

# path_env PATH: the demo.sh environment of a path (heal must not undo it).
path_env() {
	case $1 in
	spoe | lua | push) echo "DEMO_SPOA=1" ;;
	agent) echo "DEMO_SPOA=0 DEMO_PG_CHECK_INTER=$AGENT_INTER" ;;
	esac
}
# path_router PATH: the demo's router of a path.
path_router() { case $1 in spoe) echo spoa ;; *) echo "$1" ;; esac; }
# setup_path PATH: HAProxy and the SPOA as the path wants them; 0 when in place, else WHY set.
CUR_PATH=
setup_path() {
	local r
	r=$(path_router "$1")
	if [ "$CUR_PATH" != "$1" ] || [ "$(demo_router)" != "$r" ]; then
		RECONFIGURED=1
		CUR_PATH=
		# shellcheck disable=SC2046
		switch_router "$r" $(path_env "$1") || { WHY="HAProxy did not restart with ROUTER=$r"; return 1; }
		CUR_PATH=$1
	fi
	case $1 in
	spoe)
		spoa_running || "$D" start-proc spoa >>"$LOG" 2>&1
		grep -q "agent-inter 500ms agent-send \"writer" "$ROOT/.demo/haproxy.cfg" ||
			{ WHY="the demo's HAProxy does not run its own config (agent-inter 500ms)"; return 1; }
		wait_cond 15 server_is haprole_spoa spoa UP || { WHY="haprole_spoa/spoa not UP in HAProxy"; return 1; }
		;;
	push)
		spoa_running || { WHY="haprole-spoa (push) is not running"; return 1; }
		;;
	lua)
		spoa_running && { WHY="haprole-spoa runs with ROUTER=lua"; return 1; }
		;;
	agent)
		spoa_running && { WHY="haprole-spoa runs on the agent path"; return 1; }
		grep -q "agent-inter $AGENT_INTER agent-send \"writer" "$ROOT/.demo/haproxy.cfg" ||
			{ WHY="HAProxy's config lacks agent-inter $AGENT_INTER"; return 1; }
		;;
	esac
	return 0
}

# hap_routed LOG NODE PROMOTED: ROUTED_MS (header) from HAProxy's log: the earliest accept + Tw
# of a session of the pg_write or pg_write_reroute frontend sent to server NODE, within 1 s
# before to 10 s after PROMOTED (epoch s), in ms after it; "null" when none. A tcplog line:
# `CLIENT [DD/Mon/YYYY:HH:MM:SS.mmm] FRONTEND BACKEND/SERVER Tw/Tc/Tt ...`, the date in HAProxy's
# local time. The whole file is read, right after the trial: HAProxy makes its stdout
# non-blocking with F_SETFL, which drops the O_APPEND of the demo's `>>`, so a restarted
# HAProxy writes from offset 0 over the older lines (no byte offset marks a trial's start).
hap_routed() {
	$PY - "$@" <<'EOF'
import re, sys, time
log, node, promo = sys.argv[1], sys.argv[2], float(sys.argv[3])
line_re = re.compile(r"^\S+ \[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d)\.(\d{3})\] (pg_write|pg_write_reroute) \S+/(\S+) (-?\d+)/")
best = None
try:
    with open(log, "rb") as f:
        for raw in f:
            m = line_re.match(raw.decode("utf-8", "replace"))
            if not m or m.group(4) != node or int(m.group(5)) < 0:
                continue
            t = time.mktime(time.strptime(m.group(1), "%d/%b/%Y:%H:%M:%S")) + int(m.group(2)) / 1000.0
            t += int(m.group(5)) / 1000.0  # + Tw: the rules (and any hold) and the queue
            if promo - 1.0 <= t <= promo + 10.0 and (best is None or t < best):
                best = t
except OSError:
    pass
print("null" if best is None or promo <= 0 else "%.0f" % ((best - promo) * 1000))
EOF
}
# client_cpu PID: the CPU time of process PID over its lifetime so far, in % of one CPU
# (utime + stime against the time since it started; /proc/PID/stat fields 14, 15, 22).
client_cpu() {
	local st up
	st=$(cut -d')' -f2- "/proc/$1/stat" 2>/dev/null) || { echo null; return; }
	up=$(cut -d' ' -f1 /proc/uptime)
	echo "$st" | awk -v up="$up" -v hz="$(getconf CLK_TCK)" '{
		# after "comm)": $1 is field 3 (state), so field N is $(N - 2)
		life = up - $20 / hz
		if (life <= 0) { print "null"; exit }
		printf "%.0f\n", 100 * ($12 + $13) / hz / life }'
}

# ---- one trial ----------------------------------------------------------------------------------

# trial PATH SCENARIO N : appends one JSON object to $RES, prints one row.
trial() {
	local path=$1 sc=$2 n=$3 base res vrc sc_rc a0 t0=$SECONDS ok=1 dis_ms=null
	NOTES=
	REASON=
	VERIFY_ARGS=
	SC_FAILS=
	AFTER=
	# The scenarios' SPOA-only checks (haprole-spoa's status page) run on the SPOE path only.
	ROUTER=$(path_router "$path")
	# shellcheck disable=SC2046
	if ! env $(path_env "$path") "$D" heal >>"$LOG" 2>&1 || ! wait_cond 30 writable; then
		note "cluster not healthy/writable before the trial"
		ok=0
	fi
	if [ "$ok" = 1 ] && [ "$path" = agent ] && spoa_running; then note "the SPOA runs on the agent path"; ok=0; fi
	if [ "$ok" = 1 ] && { [ "$path" = spoe ] || [ "$path" = push ]; } && ! spoa_running; then note "the SPOA is not running"; ok=0; fi
	if [ "$ok" = 1 ] && [ "$path" = lua ] && spoa_running; then note "the SPOA runs on the lua path"; ok=0; fi
	P=$("$D" primary)
	S=$("$D" standby)
	# Steady state before the disruption: HAProxy sends writes to the primary only.
	if [ "$ok" = 1 ] && ! wait_cond 15 server_is pg_write "$S" DOWN; then note "pg_write/$S not DOWN"; ok=0; fi
	if [ "$ok" = 1 ] && ! wait_cond 15 server_is pg_write "$P" UP; then note "pg_write/$P not UP"; ok=0; fi
	# Ids of this trial: a span of its own (trials start >= 10 s apart, ids span 10^7 per trial).
	base=$((2000000000000 + ($(date +%s) % 100000) * 10000000))
	if [ "$ok" = 1 ]; then
		rm -f "$WORK/progress.json"
		$PY "$CLIENT" run --env "$ENV" --log "$WORK/$path-$sc-$n.ops" --base "$base" \
			--progress "$WORK/progress.json" --fresh-lanes "$FRESH_LANES" \
			--write-interval "$(awk -v m="$WRITE_MS" 'BEGIN { print m / 1000 }')" >>"$LOG" 2>&1 &
		CLIENT_PID=$!
		wait_cond 20 prog_ge acks 40 || { note "no writes through HAProxy before the disruption"; ok=0; }
	fi
	FINAL=$P
	PROMOTED=0
	DISRUPTED=0
	if [ "$ok" = 1 ]; then
		"sc_$sc" >>"$LOG" 2>&1
		sc_rc=$?
		[ "$sc_rc" = 0 ] || { note "$REASON"; ok=0; }
		# A state the scenario asserts was not reached: not a trial to measure.
		[ -z "$SC_FAILS" ] || { note "$SC_FAILS"; ok=0; }
		a0=$(prog_node "$FINAL")
		wait_cond 30 prog_node_ge "$FINAL" $((a0 + 30)) || note "writes did not resume on $FINAL within 30 s"
	fi
	sat=0
	ccpu=null
	if [ -n "$CLIENT_PID" ]; then
		ccpu=$(client_cpu "$CLIENT_PID")
		kill "$CLIENT_PID" 2>/dev/null
		wait_cond 10 bash -c "! kill -0 $CLIENT_PID" || kill -9 "$CLIENT_PID" 2>/dev/null
		wait "$CLIENT_PID" 2>/dev/null
		CLIENT_PID=
		sat=$(prog saturated)
		[ "$sat" = 0 ] || note "$sat writes not started: all $FRESH_LANES fresh lanes busy"
	fi
	[ -n "$AFTER" ] && "$AFTER" >>"$LOG" 2>&1
	res='{}'
	if [ -f "$WORK/$path-$sc-$n.ops" ]; then
		# shellcheck disable=SC2086
		res=$($PY "$CLIENT" verify --env "$ENV" --log "$WORK/$path-$sc-$n.ops" --base "$base" \
			--primary "$FINAL" --promoted-at "${PROMOTED:-0}" --scenario "$sc" $VERIFY_ARGS)
		vrc=$?
		[ "$vrc" = 2 ] && { note "verify: $(echo "$res" | jq -r '.error // empty' 2>/dev/null)"; ok=0; }
		echo "$res" | jq -e . >/dev/null 2>&1 || { note "verify printed no JSON"; res='{}'; ok=0; }
	fi
	[ "$PROMOTED" != 0 ] || { [ "$ok" = 0 ] || note "no promotion recorded"; ok=0; }
	routed=$(hap_routed "$ROOT/.demo/logs/haproxy.log" "$FINAL" "${PROMOTED:-0}")
	case $routed in null | [0-9]* | -[0-9]*) ;; *) routed=null ;; esac
	# The client's first ack from the new primary came through HAProxy: a session HAProxy
	# routed later than that means its log lacks lines; no figure rather than a wrong one.
	if [ "$routed" != null ] && [ -n "$(echo "$res" | jq -r '.promo_to_write_ms // empty' 2>/dev/null)" ] &&
		[ "$(echo "$res" | jq --argjson r "$routed" '$r > .promo_to_write_ms + 1')" = true ]; then
		note "HAProxy's log lacks the session of the first ack (ROUTED_MS $routed ms): no ROUTED_MS"
		routed=null
	fi
	if [ "$DISRUPTED" != 0 ] && [ "${PROMOTED:-0}" != 0 ]; then
		dis_ms=$(awk -v a="$DISRUPTED" -v b="$PROMOTED" 'BEGIN { printf "%d", (b - a) * 1000 }')
	fi
	echo "$res" | jq -c --arg path "$path" --arg sc "$sc" --argjson n "$n" --argjson ok "$ok" \
		--arg from "$P" --arg to "$FINAL" --argjson dis "$dis_ms" --argjson secs $((SECONDS - t0)) \
		--arg notes "$NOTES" --argjson sat "${sat:-0}" --argjson routed "${routed:-null}" \
		--argjson ccpu "${ccpu:-null}" \
		'{path: $path, scenario: $sc, trial: $n, ok: ($ok == 1), from: $from, to: $to,
		  promo_ms: .promo_to_write_ms, routed_ms: $routed, client_cpu_pct: $ccpu, unavail_ms: .unavail_ms, nonprim: .reached_nonprimary,
		  lost: .acked_lost, writes: .writes, acked: .acked, disruption_to_promotion_ms: $dis,
		  secs: $secs, saturated: $sat, error_kinds: .error_kinds, notes: $notes}' >>"$RES"
	tail -1 "$RES" | jq -r '[.path, .scenario, (.trial|tostring), (if .ok then "ok" else "FAIL" end),
		(.promo_ms // "-" | tostring), (.routed_ms // "-" | tostring), (.unavail_ms // "-" | tostring),
		(.nonprim // "-" | tostring), (.lost // "-" | tostring), "\(.writes // "-")/\(.acked // "-")",
		(.client_cpu_pct // "-" | tostring), "\(.from)->\(.to) \(.secs)s",
		.notes] | @tsv' | awk -F'\t' '{ printf "%-5s %-10s %3s %-4s %9s %9s %10s %7s %5s %12s %5s  %s%s\n",
		$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, ($13 != "" ? "; " $13 : "") }'
	[ "$ok" = 1 ]
}

# ---- run --------------------------------------------------------------------------------------

echo "==== failover bench: $TRIALS trials x {$SCENARIOS} x {$PATHS}; agent path at inter/agent-inter $AGENT_INTER (work: $WORK)"
demo_up_or_use "left up, healed, with its own config afterwards" "failover.sh: " || { FAILED=1; exit 1; }
[ "$("$D" mode)" = netns ] || echo "note: the demo runs in its loopback layout"
echo "demo HAProxy: pg servers 'inter 500ms agent-inter 500ms' (docker/demo.sh); SPOE timeout processing 200ms"
date -u +"start %Y-%m-%dT%H:%M:%SZ"
echo "client: a write every $WRITE_MS ms on a pooled connection and one started every $WRITE_MS ms on a fresh connection ($FRESH_LANES lanes); CPU%: the client's own CPU over its life"
printf '%-5s %-10s %3s %-4s %9s %9s %10s %7s %5s %12s %5s  %s\n' PATH SCENARIO N OK PROMO_MS ROUTED_MS UNAVAIL_MS NONPRIM LOST WRITES/ACKED CPU% NOTE
ORIG_ROUTER=$(demo_router)
# one_path_trial PATH SC N: sets the path up, runs one trial; 1 when it failed.
one_path_trial() {
	WHY=
	if ! setup_path "$1"; then
		echo "$1: setup failed: $WHY"
		return 1
	fi
	trial "$1" "$2" "$3"
}
for sc in $SCENARIOS; do
	# TRIALS measured trials per path; a failed one (set-up, disruption or verification could not
	# be done) is printed FAIL and replaced, up to TRIALS/2 + 1 extra attempts; three failed in a
	# row: something is broken, not slow, the path is given up.
	declare -A good=() run=() streak=()
	for path in $PATHS; do good[$path]=0; run[$path]=0; streak[$path]=0; done
	if [ "$INTERLEAVE" = 1 ]; then order=("round"); else order=($PATHS); fi
	for o in "${order[@]}"; do
		while :; do
			todo=""
			for path in $PATHS; do
				[ "$o" = round ] || [ "$o" = "$path" ] || continue
				[ "${good[$path]}" -lt "$TRIALS" ] && [ "${run[$path]}" -lt $((TRIALS + TRIALS / 2 + 1)) ] &&
					[ "${streak[$path]}" -lt 3 ] && todo="$todo $path"
			done
			[ -n "$todo" ] || break
			for path in $todo; do
				run[$path]=$((${run[$path]} + 1))
				if one_path_trial "$path" "$sc" "${run[$path]}"; then
					good[$path]=$((${good[$path]} + 1))
					streak[$path]=0
				else
					streak[$path]=$((${streak[$path]} + 1))
					[ "${streak[$path]}" -ge 3 ] && echo "$path/$sc: 3 failed trials in a row; skipping the rest (see $LOG)"
				fi
			done
		done
	done
	for path in $PATHS; do
		[ "${good[$path]}" -lt "$TRIALS" ] && { echo "$path/$sc: ${good[$path]} measured trials of $TRIALS"; FAILED=1; }
	done
done
date -u +"end %Y-%m-%dT%H:%M:%SZ"

# ---- summary ------------------------------------------------------------------------------------

$PY - "$RES" "$AGENT_INTER" "$WRITE_MS" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
inter = sys.argv[2]
write_ms = sys.argv[3]

def p50(v):  # the median (mean of the two middle values for an even count)
    v = sorted(v)
    m = len(v) // 2
    return v[m] if len(v) % 2 else (v[m - 1] + v[m]) / 2

def mmm(v):
    return "%.0f / %.0f / %.0f" % (min(v), p50(v), max(v)) if v else "-"

print()
print("==== failover bench summary (ms, min / p50 / max over the trials that ran; NONPRIM and LOST: totals;")
print("     PROMO->WRITE: the client's first ack, a write every %s ms; ROUTED: HAProxy's log; CPU%%: the client's, p50)" % write_ms)
print("%-5s %-10s %-6s %-22s %-22s %-22s %7s %5s %5s" % ("PATH", "SCENARIO", "OK/N", "PROMO->WRITE_MS", "PROMO->ROUTED_MS", "UNAVAIL_MS", "NONPRIM", "LOST", "CPU%"))
med = {}
seen = []
for r in rows:
    k = (r["path"], r["scenario"])
    if k not in seen:
        seen.append(k)
for k in seen:
    rs = [r for r in rows if (r["path"], r["scenario"]) == k]
    good = [r for r in rs if r["ok"]]
    pm = [r["promo_ms"] for r in good if r.get("promo_ms") is not None]
    rm = [r["routed_ms"] for r in good if r.get("routed_ms") is not None]
    um = [r["unavail_ms"] for r in good if r.get("unavail_ms") is not None]
    cp = [r["client_cpu_pct"] for r in good if r.get("client_cpu_pct") is not None]
    np_ = sum(r.get("nonprim") or 0 for r in rs)
    lo = sum(r.get("lost") or 0 for r in rs)
    if pm:
        med[k] = (p50(pm), max(pm))
    name = k[0]
    print("%-5s %-10s %-6s %-22s %-22s %-22s %7d %5d %5s" % (name, k[1], "%d/%d" % (len(good), len(rs)), mmm(pm), mmm(rm), mmm(um), np_, lo,
          "%.0f" % p50(cp) if cp else "-"))
print()
for sc in dict.fromkeys(k[1] for k in seen):
    s, a = med.get(("spoe", sc)), med.get(("agent", sc))
    if s:
        print("%s: SPOE path p50 %.0f ms, max %.0f ms (target p50 < 100, max < 300): %s" % (
            sc, s[0], s[1], "met" if s[0] < 100 and s[1] < 300 else "NOT met"))
    if a:
        print("%s: agent-check path (inter %s) p50 %.0f ms, max %.0f ms (target < 1500 with inter 1s): %s" % (
            sc, inter, a[0], a[1], "met" if a[1] < 1500 else "NOT met"))
    if s and a and a[0] > 0:
        print("%s: SPOE p50 / agent-check p50 = %.2f (same invocation)" % (sc, s[0] / a[0]))
for k in seen:
    good = [r for r in rows if (r["path"], r["scenario"]) == k and r["ok"]]
    pm = [r["promo_ms"] for r in good if r.get("promo_ms") is not None]
    if pm:
        print("route_lag router=%s scenario=%s n=%d min=%.0f p50=%.0f max=%.0f" % (
            "spoa" if k[0] == "spoe" else k[0], k[1], len(pm), min(pm), p50(pm), max(pm)))
    else:
        print("route_lag router=%s scenario=%s n=0 min=- p50=- max=-" % ("spoa" if k[0] == "spoe" else k[0], k[1]))
for k in seen:
    good = [r for r in rows if (r["path"], r["scenario"]) == k and r["ok"]]
    rm = [r["routed_ms"] for r in good if r.get("routed_ms") is not None]
    if rm:
        print("route_lag_haproxy router=%s scenario=%s n=%d min=%.0f p50=%.0f max=%.0f" % (
            "spoa" if k[0] == "spoe" else k[0], k[1], len(rm), min(rm), p50(rm), max(rm)))
    else:
        print("route_lag_haproxy router=%s scenario=%s n=0 min=- p50=- max=-" % ("spoa" if k[0] == "spoe" else k[0], k[1]))
tot_np = sum(r.get("nonprim") or 0 for r in rows)
tot_lo = sum(r.get("lost") or 0 for r in rows)
print("all trials: %d, failed %d; writes that reached a non-primary %d, acknowledged writes lost %d (target 0 / 0)" % (
    len(rows), sum(1 for r in rows if not r["ok"]), tot_np, tot_lo))
EOF
# Exit 1 when a case has fewer than TRIALS measured trials (set above), or a write reached a
# non-primary, or an acknowledged write was lost.
[ "$(jq -s 'any(.[]; (.nonprim // 0) > 0 or (.lost // 0) > 0)' "$RES" 2>/dev/null)" = false ] || FAILED=1
exit "$FAILED"
