#!/bin/bash
# tests/integration/test_spoa_hold.sh - issue 17, "hold, don't fail", end to end: PostgreSQL 15
# primary + synchronous streaming standby (lib/pg.sh), a real haprole-agent per node, and the
# demo's shipped configs (docker/spoa.conf.in with hold_max = 3s, docker/haproxy-demo.cfg.in,
# docker/spoe-demo.conf.in, docker/agent-db.conf.in; only addresses, ports and paths
# substituted), behind real HAProxy 2.6 and every 3.x of lib/haproxy3.sh. A client
# (lib/hold_client.py) opens a new connection every 20 ms and writes through HAProxy's write port.
# On each version:
#   1. planned switchover (primary stopped cleanly, standby promoted): 0 failed writes, 0 on a
#      non-primary (read-only), 0 acknowledged writes missing on the new primary; the added
#      latency of the held writes is printed;
#   2. kill -9 of the primary's postmaster, then promotion: 0 failed writes among those started
#      after the kill (once the dying postmaster's files are closed), 0 connections to the dead primary that HAProxy did not route again
#      (pg_write_routed -> pg_write_reroute: a refused connect gets a second decision), 0 on a
#      non-primary, 0 lost; the writes in flight on the killed server (started before the kill,
#      cut by it: nothing can save them) are printed apart;
#   2b. the same with the primary's agent frozen (SIGSTOP) first: the SPOA keeps naming the dead
#      primary until the promotion, every write it sends there is refused and comes back as a
#      write-retry that waits for the new writer: the same zeros;
#   3. reads (read port) and the other engine keep being answered while writes are held;
#   4. no promotion within hold_max: the held writes get the error they get without hold, after
#      hold_max (the SPOA counts them as timed out); with hold_max = 0 (SIGHUP) the same error at
#      once.
# HOLD_BENCH_TRIALS=N (bench/hold-switchover.sh -l): no test; N planned switchovers with hold
# and N without on one HAProxy (HOLD_BENCH_ROOT, default 2.6), figures printed.
# Addresses and ports: block test_spoa_hold of tests/integration/lib/fixture.sh.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib/pg.sh
. tests/integration/lib/haproxy.sh
. tests/integration/lib/haproxy3.sh
. tests/integration/lib/spoa.sh
. tests/integration/lib/fixture.sh # expect.sh; fix_block (this test's fail and cleanup below)

pg_require || exit 77
hap_require || exit 77
for b in ./haprole-spoa ./haprole-agent; do
	[ -x "$b" ] || { echo "skip: $b not built (make)"; exit 77; }
done
command -v curl >/dev/null || { echo "skip: curl missing"; exit 77; }
/usr/bin/python3 -c 'import psycopg2' 2>/dev/null || { echo "skip: python3-psycopg2 missing"; exit 77; }

fix_block test_spoa_hold
# HAP_IP2: the demo's second bind (127.0.0.1 there); PGP, AGP: PostgreSQL and haprole-agent on
# each node's address (PG1, PG2)
fix_addrs HAP_IP HAP_IP2 PG1 PG2
fix_ports SPOA_PORT STATUS_PORT HTTP_PORT PGW_PORT PGR_PORT STATS_PORT PGP AGP
HOLD_MAX=3

tmp=$(mktemp -d /tmp/haprole-spoa-hold.XXXXXX)
chmod 0755 "$tmp"
PIDS=()
SPOA_PID=
fails=0
cleanup() {
	touch "$tmp/stop" 2>/dev/null
	hap_cleanup_all
	local p
	for p in "${PIDS[@]}" $SPOA_PID; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	pg_cleanup_all
	[ -n "${HOLD_KEEP_TMP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	for f in "$tmp/spoa.log" "$tmp"/agent*.log "$tmp/haproxy.cfg.log"; do
		[ -f "$f" ] && { echo "--- $f (last 10 lines)"; tail -n 10 "$f"; }
	done
	exit 1
}

pgdir() { echo "$tmp/pg-$1/data"; } # its own parent: socket dir and log
addr_of() { [ "$1" = db1 ] && echo $PG1 || echo $PG2; }
other() { [ "$1" = db1 ] && echo db2 || echo db1; }
metric() { # metric NAME_WITH_LABELS: the value on the SPOA's /metrics
	curl -s -m 2 "http://$HAP_IP:$STATUS_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}
wait_spoa() { # wait_spoa "ok db1"
	local s
	s=$(spoa_wait_view "$HAP_IP" "$STATUS_PORT" "$1" 150) || fail "SPOA view: wanted \"$1\", got \"$s\""
}

# ---- the demo's shipped configs, addresses and paths substituted -------------------------------
agent_conf() { # agent_conf NODE
	local n=$1 o
	o=$(other "$n")
	mkdir -p "$tmp/$n"
	sed -e "s|@NODE@|$n|g" -e "s|@CLUSTER@|main|g" -e "s|@DIR@|$tmp/$n|g" \
		-e "s|@PGSOCK@|$tmp/pg-$n|g" -e "s|@PGPORT@|$PGP|g" -e "s|@PGDATA@|$(pgdir "$n")|g" \
		-e "s|@ROOT@|$PWD|g" \
		-e "s|@LISTEN@|$(addr_of "$n"):$AGP|g" \
		-e "s|@PEERS@|[peer $o]\naddress = $(addr_of "$o"):$AGP\n|" \
		docker/agent-db.conf.in >"$tmp/$n/agent.conf"
	grep -v '^[[:space:]]*#' "$tmp/$n/agent.conf" | grep -o '@[A-Z_]*@' | sort -u | grep . &&
		fail "placeholders left unfilled in docker/agent-db.conf.in (above)"
	return 0
}
spoa_conf() {
	sed -e "s|@CLUSTER@|main|g" -e "s|@HOST@|$HAP_IP|g" -e "s|@PORT@|$SPOA_PORT|g" \
		-e "s|@STATUS_PORT@|$STATUS_PORT|g" -e "s|@DIR@|$tmp|g" \
		-e "s|@NODES@|[node db1]\ncluster = main\nagent = $PG1:$AGP\n\n[node db2]\ncluster = main\nagent = $PG2:$AGP\n|" \
		docker/spoa.conf.in >"$tmp/spoa.conf"
}
haproxy_conf() {
	local w="" wr="" r="" n
	for n in db1 db2; do
		wr="$wr    server $n $(addr_of $n):$PGP track pg_write/$n on-marked-down shutdown-sessions\n"
		w="$w    server $n $(addr_of $n):$PGP check port $AGP inter 500ms fall 2 rise 1 agent-check agent-port $AGP agent-inter 500ms agent-send \"writer\\\\n\" on-marked-down shutdown-sessions\n"
		r="$r    server $n $(addr_of $n):$PGP check port $AGP inter 500ms fall 2 rise 1 agent-check agent-port $AGP agent-inter 500ms agent-send \"reader\\\\n\" on-marked-down shutdown-sessions\n"
	done
	# the template's router tags, as docker/demo.sh does for ROUTER=spoa
	sed -e "s|^@SPOA@||" -e "/^@LUA@/d" -e "/^@PUSH@/d" \
		-e "s|@DIR@|$tmp|g" -e "s|@HOST@|$HAP_IP|g" -e "s|@CLUSTER@|main|g" \
		-e "s|@HTTP_PORT@|$HTTP_PORT|g" -e "s|@PGW_PORT@|$PGW_PORT|g" -e "s|@PGR_PORT@|$PGR_PORT|g" \
		-e "s|@STATS_PORT@|$STATS_PORT|g" -e "s|@SPOA_PORT@|$SPOA_PORT|g" -e "s|@SPOA_HOST@|$HAP_IP|g" \
		-e "s|@SERVERS_W@|$w|" -e "s|@SERVERS_WR@|$wr|" -e "s|@SERVERS_R@|$r|" -e "s|@SERVERS_APP@||" \
		-e "s|127\.0\.0\.1:|$HAP_IP2:|g" docker/haproxy-demo.cfg.in >"$tmp/haproxy.cfg"
	sed -e "s|@CLUSTER@|main|g" docker/spoe-demo.conf.in >"$tmp/spoe.conf"
	# a placeholder the templates grew since this test was written: say which
	grep -v '^[[:space:]]*#' "$tmp/haproxy.cfg" "$tmp/spoe.conf" | grep -o '@[A-Z_]*@' | sort -u |
		grep . && fail "placeholders left unfilled in the demo's HAProxy templates (above)"
	return 0
}

start_agent() { # start_agent NODE
	./haprole-agent --allow-root -d -f "$tmp/$1/agent.conf" 2>>"$tmp/agent-$1.log" &
	PIDS+=($!)
	eval "AGENT_PID_$1=$!"
}
agent_pid() { eval "echo \$AGENT_PID_$1"; }

# room_for_held NODE: the writes held during a switchover (50 a second for up to hold_max) all
# connect to the new primary at once when released: lib/pg.sh's max_connections (40) would
# refuse some ("sorry, too many clients already"; seen on a loaded machine with 70 held).
room_for_held() {
	echo "max_connections = 300" >>"$(pgdir $1)/postgresql.conf"
}

# pg_pair PRIMARY: PRIMARY's data dir made by initdb (first time) or kept; the other node made a
# synchronous standby of it with pg_basebackup (its old data removed).
pg_pair() {
	local p=$1 s
	s=$(other "$p")
	rm -rf "$(pgdir $s)"
	pg_make_standby "$(addr_of "$p")" $PGP "$(pgdir $s)" $PGP "$(addr_of "$s")" || fail "basebackup $s"
	room_for_held $s
	pg_start "$(pgdir $s)" || fail "start $s"
	pg_wait_streaming "$(addr_of "$s")" $PGP 30 || fail "$s not streaming"
	pg_psql "$(addr_of "$p")" $PGP "alter system set synchronous_standby_names = '*'" >/dev/null &&
		pg_psql "$(addr_of "$p")" $PGP "select pg_reload_conf()" >/dev/null || fail "sync on $p"
	pg_wait_sql "$(addr_of "$p")" $PGP "select sync_state from pg_stat_replication" sync 30 ||
		fail "$s not synchronous"
}

# client_start NAME - the 20 ms client on the write port; client_stop NAME prints its summary.
client_start() {
	rm -f "$tmp/stop"
	/usr/bin/python3 tests/integration/lib/hold_client.py --host "$HAP_IP" --port $PGW_PORT \
		--stop "$tmp/stop" --log "$tmp/$1.jsonl" --progress "$tmp/$1.prog" --max-s 60 \
		>"$tmp/$1.json" 2>"$tmp/$1.err" &
	CLIENT_PID=$!
	PIDS+=($CLIENT_PID)
}
client_stop() {
	touch "$tmp/stop"
	wait "$CLIENT_PID"
	cat "$tmp/$1.json"
}
prog_acked_on() { # prog_acked_on NAME ADDR: writes acked by ADDR so far
	/usr/bin/python3 -c 'import json,sys
try: print(json.load(open(sys.argv[1]))["by_server"].get(sys.argv[2], 0))
except Exception: print(0)' "$tmp/$1.prog" "$2"
}
wait_acked_on() { # wait_acked_on NAME ADDR COUNT SECONDS
	local i
	for ((i = 0; i < $4 * 10; i++)); do
		[ "$(prog_acked_on "$1" "$2")" -ge "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

# verify NAME NEWPRIMARY_ADDR T_DISRUPT T_LOSS: prints "failed race readonly lost held p50_ms
# max_ms slow slow_after inflight" from the client's log and the new primary's table; race:
# failed writes that started before T_LOSS, when the SPOA learnt the writer was gone; inflight:
# failed writes that started before T_DISRUPT (for a kill: the moment the postmaster's files
# were closed).
verify() {
	pg_psql "$2" $PGP "select i from t" >"$tmp/$1.ids" || fail "cannot read t on $2"
	/usr/bin/python3 - "$tmp/$1.jsonl" "$tmp/$1.ids" "$2" "$3" "$4" "$HOLD_MAX" "$5" "$T_SEEN" <<'EOF'
import json, statistics, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
have = set(int(x) for x in open(sys.argv[2]).read().split())
new, t_dis, t_loss = sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
failed = [r for r in recs if not r["ok"]]
race = [r for r in failed if r["t0"] < t_loss]
inflight = [r for r in failed if r["t0"] < t_dis]
# held for the whole hold_max (the promotion came later than that: a loaded machine)
hm = float(sys.argv[6]) - 0.05
# ... and whose hold_max ran out before the SPOA was seen with the new writer (else a fault)
slow = [r for r in failed if r["t0"] >= t_dis and r["t1"] - r["t0"] >= hm and
        r["t0"] + hm <= float(sys.argv[8])]
slow_after = [r for r in slow if r["t0"] >= t_loss]
readonly = [r for r in failed if r.get("cls") == "readonly"]
lost = [r for r in recs if r["ok"] and r["id"] not in have]
base = [r["t1"] - r["t0"] for r in recs if r["ok"] and r["t0"] < t_dis]
b = statistics.median(base) if base else 0.0
first_new = min((r["t1"] for r in recs if r["ok"] and r["server"] == new), default=None)
# held: started after the disruption, answered by the new primary, and started before its
# first answer (they waited for it)
held = [r["t1"] - r["t0"] - b for r in recs if r["ok"] and r["server"] == new and
        r["t0"] >= t_dis and first_new is not None and r["t0"] < first_new]
held.sort()
p50 = held[len(held) // 2] * 1000 if held else 0
mx = held[-1] * 1000 if held else 0
print(len(failed), len(race), len(readonly), len(lost), len(held), "%.0f" % p50, "%.0f" % mx,
      len(slow), len(slow_after), len(inflight))
for r in failed:  # the failures themselves, against the disruption (stderr: the test's log)
    print("       failed write %d: started %+.0f ms after the %s, took %.0f ms: %s" %
          (r["n"], (r["t0"] - t_dis) * 1000, "kill" if sys.argv[7] == "kill" else "drain",
           (r["t1"] - r["t0"]) * 1000, r.get("err", "")[:100]), file=sys.stderr)
EOF
}

# hap_log_count PATTERN: lines of HAProxy's log (tcplog) matching the ERE PATTERN so far.
hap_log_count() { grep -a -c -E "$1" "$tmp/haproxy.cfg.log"; }

run_scenario() { # run_scenario LABEL NAME how(switchover|kill9|kill9stop) PRIMARY
	local label=$1 name=$2 how=$3 p=$4 s t_dis t_loss h0 failed race ro lost held p50 mx slow slow_after
	local inflight sc0 sc pr0 pr rr0 rr rt0 rt kind=drain
	s=$(other "$p")
	h0=$(metric haprole_spoa_holds_started_total)
	rt0=$(metric 'haprole_spoa_messages_total{message="haprole-route",intent="write-retry"}')
	# final connect failures (tcplog termination state SC) and re-routed writes so far
	sc0=$(hap_log_count ' pg_write[a-z_]*/[^ ]+ [-0-9]+/[-0-9]+/[-0-9]+ [0-9]+ SC ')
	local log0
	log0=$(wc -l <"$tmp/haproxy.cfg.log")
	pr0=$(hap_log_count ' pg_write[a-z_]*/[^ ]+ [-0-9]+/[-0-9]+/[-0-9]+ [0-9]+ PR ')
	rr0=$(hap_log_count ' pg_write_routed/reroute ')
	client_start "$name"
	wait_acked_on "$name" "$(addr_of "$p")" 25 20 || fail "$label: writes do not reach $p"
	t_dis=$(date +%s.%N)
	case $how in
	switchover) # as docker/demo.sh switchover: drain, clean stop, promote, back to ready
		./haprolectl -s "$tmp/$p/agent.sock" drain switchover >/dev/null || fail "drain $p"
		wait_hold_window
		pg_stop "$(pgdir $p)" fast || fail "stop $p" ;;
	kill9 | kill9stop)
		local pm
		pm=$(pg_pid "$(pgdir $p)")
		# kill9stop: the primary's agent frozen first, so the SPOA cannot learn the death
		[ "$how" = kill9stop ] && kill -STOP "$(agent_pid "$p")"
		kind=kill
		local t_sig
		t_sig=$(date +%s.%N)
		kill -9 "$pm"
		# the kill's moment: when the dying postmaster's files are closed, not when the signal
		# was sent: the kernel's exit unmaps its memory first (tens of ms on a loaded machine)
		# and until its listen socket is closed a connect still completes there (the write is
		# then in flight on the killed server). Bounded: 20000 globs of its fd directory, no fork.
		local fds k
		for ((k = 0; k < 20000; k++)); do
			fds=(/proc/"$pm"/fd/*)
			[ -e "${fds[0]}" ] || break
		done
		# ...and its listen socket gone from the kernel: an exiting process's files are
		# closed after its fd table is released (task work, later in its exit), and a task
		# preempted in between (a loaded machine) still completes connects there. Bounded.
		for ((k = 0; k < 300; k++)); do
			[ -n "$(ss -Hltn src "$(addr_of "$p"):$PGP" 2>/dev/null)" ] || break
		done
		t_dis=$(date +%s.%N)
		echo "     kill -9 of $p's postmaster: its files and listen socket closed $(awk -v a="$t_sig" -v b="$t_dis" 'BEGIN { printf "%.0f", (b - a) * 1000 }') ms after the signal (listen socket seen $k times after the files)" ;;
	esac
	local t_pro
	t_pro=$(date +%s.%N)
	pg_promote "$(pgdir $s)" || fail "promote $s"
	wait_spoa "ok $s"
	T_SEEN=$(date +%s.%N)
	echo "     $s promoted and seen by the SPOA $(awk -v a="$t_pro" -v b="$T_SEEN" 'BEGIN { printf "%.0f", (b - a) * 1000 }') ms after pg_ctl promote began"
	wait_acked_on "$name" "$(addr_of "$s")" 25 20 || fail "$label: writes do not reach $s"
	client_stop "$name" >/dev/null
	[ "$how" = kill9stop ] && kill -CONT "$(agent_pid "$p")"
	[ "$kind" = kill ] && pg_stop "$(pgdir $p)" immediate 2>/dev/null
	[ "$how" = switchover ] && { ./haprolectl -s "$tmp/$p/agent.sock" ready >/dev/null || fail "ready $p"; }
	t_loss=$(spoa_loss_time)
	read -r failed race ro lost held p50 mx slow slow_after inflight \
		<<<"$(verify "$name" "$(addr_of "$s")" "$t_dis" "$t_loss" "$kind" 2>"$tmp/$name.failed")"
	sc=$(($(hap_log_count ' pg_write[a-z_]*/[^ ]+ [-0-9]+/[-0-9]+/[-0-9]+ [0-9]+ SC ') - sc0))
	pr=$(($(hap_log_count ' pg_write[a-z_]*/[^ ]+ [-0-9]+/[-0-9]+/[-0-9]+ [0-9]+ PR ') - pr0))
	rr=$(($(hap_log_count ' pg_write_routed/reroute ') - rr0))
	rt=$(($(metric 'haprole_spoa_messages_total{message="haprole-route",intent="write-retry"}') - ${rt0:-0}))
	LAST="$failed $race $ro $lost $held $p50 $mx $inflight $rr"
	[ -n "${HOLD_BENCH_TRIALS:-}" ] && return 0 # bench mode: figures only
	if [ "$how" = switchover ] && [ "$slow" = 0 ]; then
		expect "$label: $how: failed writes" 0 "$failed"
	elif [ "$how" = switchover ]; then
		# the promotion took longer than hold_max (a loaded machine): writes held that long fail
		# as designed; any other failure is a fault
		echo "     note: $slow writes waited the whole hold_max: the promotion came later"
		expect "$label: $how: failed writes other than those held for all of hold_max" 0 \
			"$((failed - slow))"
	else
		# A write in flight on the primary when it is killed (its connection reached the
		# postmaster before the kill) fails: nothing can save it; those started before the kill
		# are counted apart, and with no final connect failure (SC) and no refusal (PR) in
		# HAProxy's log, what is left of them broke on a server connection: the killed one. A write routed to the primary in the milliseconds between its
		# death and the SPOA knowing is refused at connect (nothing sent) and routed again
		# (pg_write_routed's one redispatch to pg_write_reroute, a write-retry the SPOA holds
		# until the view changes): none of those may fail, nor any started after the kill, but
		# those held for all of hold_max when the promotion came later (a loaded machine).
		[ "$slow" = 0 ] ||
			echo "     note: $slow writes waited the whole hold_max: the promotion came later"
		expect "$label: $how: failed writes started after the kill" 0 \
			"$((failed - inflight - slow))"
		expect "$label: $how: connects to a dead server not routed again (HAProxy SC)" 0 "$sc"
		# refused by HAProxy on the router's answer (no-primary...): only a hold that ran out
		[ "$slow" = 0 ] &&
			expect "$label: $how: writes refused on the router's answer (HAProxy PR)" 0 "$pr"
		[ "$how" = kill9stop ] && { [ "$rr" -gt 0 ] && [ "$rt" -gt 0 ] &&
			ok "$label: $how: $rr writes refused by the dead primary were routed again ($rt write-retry NOTIFYs)" ||
			ko "$label: $how: with the agent frozen, no write was routed again (reroutes $rr, write-retry NOTIFYs $rt)"; }
	fi
	expect "$label: $how: writes that reached a non-primary" 0 "$ro"
	expect "$label: $how: acknowledged writes missing on $s" 0 "$lost"
	if [ "$failed" != 0 ]; then
		echo "     errors: $(head -c 300 "$tmp/$name.json")"
		cat "$tmp/$name.failed"
		# what HAProxy logged for this scenario's write sessions that did not end cleanly
		# (termination state other than --), so that a failure says where the write broke
		echo "     HAProxy's log, write sessions of this scenario not ended cleanly (at most 20):"
		tail -n +"$((log0 + 1))" "$tmp/haproxy.cfg.log" |
			grep -a -E ' pg_write[a-z_]*/[^ ]+ [-0-9]+/[-0-9]+/[-0-9]+ [0-9]+ [^-][^ ] |pg_write[a-z_]*/[^ ]+ [-0-9]+/[-0-9]+/[-0-9]+ [0-9]+ -[^-] ' |
			head -n 20 | cut -c1-300 | sed 's/^/       /'
	fi
	echo "     $label: $how: $(sed -n 's/.*"writes": \([0-9]*\).*/\1/p' "$tmp/$name.json") writes, $failed failed ($inflight in flight: started before the $kind; $race before the SPOA saw the loss), $rr refused at connect and routed again, $held held until $s took over, added latency p50 $p50 ms, max $mx ms; SPOA holds started $(( $(metric haprole_spoa_holds_started_total) - h0 ))"
}

# wait_standby_seen NODE: the SPOA's view has NODE up, standby, streaming (its agent may take a
# few seconds to reconnect to a rebuilt server); 30 s at most.
wait_standby_seen() {
	local i
	for ((i = 0; i < 300; i++)); do
		curl -s -m 1 "http://$HAP_IP:$STATUS_PORT/" | /usr/bin/python3 -c '
import json, sys
for c in json.load(sys.stdin)["clusters"]:
    for n in c["nodes"]:
        if n["name"] == sys.argv[1] and n["known"] and n["pg"]["up"] and \
           n["pg"]["role"] == "standby" and n["pg"]["streaming"]:
            sys.exit(0)
sys.exit(1)' "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "the SPOA never saw $1 as a streaming standby"
}

# wait_hold_window: the SPOA's view says cluster main's hold window is open (5 s at most).
wait_hold_window() {
	local i
	for ((i = 0; i < 50; i++)); do
		curl -s -m 1 "http://$HAP_IP:$STATUS_PORT/" | grep -q '"hold":true' && return 0
		sleep 0.1
	done
	fail "the hold window did not open"
}

# spoa_loss_time: epoch seconds of the SPOA's last "writer ... -> none" or "hold window open".
spoa_loss_time() {
	local l
	l=$(grep -a -E "writer [a-z0-9]+ -> none|hold window open" "$tmp/spoa.log" | tail -n 1 | cut -c1-23)
	date -d "$l" +%s.%N
}

# cluster_up ROOT LABEL: PostgreSQL pair (db1 primary, db2 synchronous standby), agents,
# haprole-spoa and HAProxy (from ROOT) up, db1 the writer, db2 seen streaming.
cluster_up() {
	local root=$1 label=$2
	rm -rf "$tmp/pg-db1" "$tmp/pg-db2" "$tmp/db1" "$tmp/db2"
	: >"$tmp/spoa.log"
	pg_init_primary "$(pgdir db1)" $PGP $PG1 || fail "initdb"
	room_for_held db1
	pg_start "$(pgdir db1)" || fail "start db1"
	pg_psql $PG1 $PGP "create table t (i bigserial primary key); create role haprole login superuser" >/dev/null ||
		fail "create table"
	pg_pair db1
	agent_conf db1; agent_conf db2
	start_agent db1; start_agent db2
	spoa_conf
	spoa_start "$tmp" "$HAP_IP" "$STATUS_PORT" || fail "haprole-spoa did not start"
	wait_spoa "ok db1"
	haproxy_conf
	hap_start "$tmp/haproxy.cfg" "$root" || fail "$label: haproxy did not start"
	local sock=$tmp/haproxy.sock
	hap_wait_field "$sock" haprole_spoa spoa status "UP.*" 10 || fail "$label: SPOA not UP"
	hap_wait_field "$sock" pg_write db1 status "UP.*" 15 || fail "$label: db1 not UP"
	wait_standby_seen db2
}

run_version() {
	local root=$1 ver label i out got
	ver=$(hap_version "$root")
	label="haproxy $ver"
	echo "== $label"
	cluster_up "$root" "$label"
	local sock=$tmp/haproxy.sock
	# 1. planned switchover db1 -> db2, 2. kill -9 of db2, promotion of db1
	run_scenario "$label" "v$2-switchover" switchover db1
	pg_pair db2
	wait_spoa "ok db2"
	wait_standby_seen db1
	run_scenario "$label" "v$2-kill9" kill9 db2
	pg_pair db1
	wait_spoa "ok db1"
	wait_standby_seen db2
	run_scenario "$label" "v$2-kill9stop" kill9stop db1
	pg_pair db2
	wait_spoa "ok db2"
	wait_standby_seen db1

	# 3 + 4. no promotion: db2 killed, db1 stays a standby. Writes are held; meanwhile reads on
	# the read port are answered; after hold_max the held writes fail as they do without hold.
	local t_dis n_held t_end r0 r1
	client_start "v$2-nopromo"
	wait_acked_on "v$2-nopromo" $PG2 25 20 || fail "$label: writes do not reach db2"
	t_dis=$(date +%s.%N)
	kill -9 "$(pg_pid "$(pgdir db2)")"
	for ((i = 0; i < 100; i++)); do
		n_held=$(metric haprole_spoa_holds)
		[ "${n_held:-0}" -ge 5 ] && break
		sleep 0.05
	done
	# a read through the read port: its NOTIFY is answered at once, not queued behind the held
	# writes (whether it then finds a server is the reader policy's business: a standby whose
	# primary just died stops streaming and may be no reader)
	r0=$(metric 'haprole_spoa_messages_total{message="haprole-route",intent="read"}')
	got=$(PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" -X -A -t -q -h $HAP_IP -p $PGR_PORT -U postgres -d postgres \
		-c "select host(inet_server_addr())" 2>&1 | head -n 1)
	n_held=$(metric haprole_spoa_holds)
	r1=$(metric 'haprole_spoa_messages_total{message="haprole-route",intent="read"}')
	[ "${r1:-0}" -gt "${r0:-0}" ] && [ "${n_held:-0}" -gt 0 ] &&
		ok "$label: a read was answered while $n_held writes were held (read: $got)" ||
		ko "$label: read NOTIFYs $r0 -> $r1, writes held after it: ${n_held:-none}"
	sleep 1
	echo "     $label: $(metric haprole_spoa_holds) writes held on $(metric haprole_spoa_connections) SPOE connections"
	sleep $((HOLD_MAX + 1))
	client_stop "v$2-nopromo" >/dev/null
	t_end=$(metric 'haprole_spoa_holds_ended_total{outcome="timeout"}')
	[ "${t_end:-0}" -gt 0 ] && ok "$label: no promotion: $t_end holds timed out" ||
		ko "$label: no promotion, yet no hold timed out"
	# the held writes (started after the loss) failed, none sooner than hold_max after it began
	out=$(/usr/bin/python3 - "$tmp/v$2-nopromo.jsonl" "$t_dis" "$HOLD_MAX" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
t_dis, hm = float(sys.argv[2]), float(sys.argv[3])
after = [r for r in recs if r["t0"] >= t_dis + 0.5]  # the SPOA saw the loss by then
bad_ok = [r for r in after if r["ok"]]
failed = [r for r in after if not r["ok"]]
early = [r for r in failed if r["t1"] - r["t0"] < hm - 0.05 and r["t0"] < t_dis + 3]
msgs = sorted(set(r["err"] for r in failed))
print(len(after), len(bad_ok), len(failed), len(early), "|".join(msgs)[:200])
EOF
)
	read -r n_after n_ok n_failed n_early msgs <<<"$out"
	expect "$label: no promotion: writes acked without a primary" 0 "$n_ok"
	[ "$n_failed" -gt 0 ] && ok "$label: no promotion: $n_failed writes failed ($msgs)" ||
		ko "$label: no promotion: no write failed"
	expect "$label: no promotion: held writes that failed before hold_max" 0 "$n_early"
	# hold_max = 0 by SIGHUP: the same error at once
	sed -i 's/^hold_max = .*/hold_max = 0/' "$tmp/spoa.conf"
	kill -HUP "$SPOA_PID"
	for ((i = 0; i < 50; i++)); do grep -q "reloaded" "$tmp/spoa.log" && break; sleep 0.1; done
	got=$(PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" -X -A -t -q -h $HAP_IP -p $PGW_PORT -U postgres -d postgres \
		-c "select 1" 2>&1 | tr '\n' ' ' | sed 's/ *$//')
	expect_match "$label: hold_max 0: the same error at once" "server closed the connection" "$got"
	case $msgs in *"server closed the connection"*) ok "$label: held writes got that error too" ;;
	*) ko "$label: held writes got another error: $msgs" ;; esac

	hap_stop
	kill "$SPOA_PID" 2>/dev/null; wait "$SPOA_PID" 2>/dev/null; SPOA_PID=
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	PIDS=()
	pg_cleanup_all
}

# bench_version ROOT TRIALS (HOLD_BENCH_TRIALS set, bench/hold-switchover.sh -l): TRIALS planned
# switchovers with hold_max 3s, then TRIALS with hold_max 0 (SIGHUP), alternating primaries;
# prints one line per trial and a summary; returns 1 when a write reached a non-primary or
# was lost.
bench_version() {
	local root=$1 n=$2 mode i p=db1 label bad=0 failed race ro lost held p50 mx inflight
	local ev=${HOLD_BENCH_EVENT:-switchover}
	label="haproxy $(hap_version "$root")"
	cluster_up "$root" "$label"
	echo "# $label; event $ev; mode trial FAILED NONPRIM LOST HELD +P50_MS +MAX_MS AFTER"
	for mode in hold nohold; do
		if [ $mode = nohold ]; then
			sed -i 's/^hold_max = .*/hold_max = 0/' "$tmp/spoa.conf"
			kill -HUP "$SPOA_PID"
			for ((i = 0; i < 50; i++)); do grep -q "reloaded" "$tmp/spoa.log" && break; sleep 0.1; done
		fi
		for ((i = 1; i <= n; i++)); do
			run_scenario "$label" "b-$mode-$i" "$ev" $p >/dev/null
			read -r failed race ro lost held p50 mx inflight _ <<<"$LAST"
			# AFTER: kill9, failed writes started after the postmaster was gone; else -
			[ "$ev" = kill9 ] && inflight=$((failed - inflight)) || inflight=-
			echo "$mode $i $failed $ro $lost $held $p50 $mx $inflight" | tee -a "$tmp/bench.results"
			[ "$ro" = 0 ] && [ "$lost" = 0 ] || bad=1
			p=$(other $p)
			pg_pair $p
			wait_spoa "ok $p"
			wait_standby_seen "$(other $p)"
		done
	done
	/usr/bin/python3 - "$tmp/bench.results" "$ev" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
ev = sys.argv[2]
for mode in ("hold", "nohold"):
    r = [x for x in rows if x[0] == mode]
    f = sorted(int(x[2]) for x in r)
    a = [int(x[8]) for x in r if x[8] != "-"]
    print("hold event=%s hold=%s n=%d failed_per_event_median=%g failed_per_event_max=%d "
          "failed_after_event_median=%s nonprimary=%d lost=%d held_added_p50_ms=%g" %
          (ev, "on" if mode == "hold" else "off", len(r), statistics.median(f), f[-1],
           ("%g" % statistics.median(a)) if a else "-", sum(int(x[3]) for x in r),
           sum(int(x[4]) for x in r), statistics.median(int(x[6]) for x in r)))
    print("%-6s %d trials: failed writes per event min %d / median %g / max %d (total %d); "
          "non-primary %d, lost %d; held writes' added latency: median of trials' p50 %g ms, "
          "max %d ms" % (mode, len(r), f[0], statistics.median(f), f[-1], sum(f),
                         sum(int(x[3]) for x in r), sum(int(x[4]) for x in r),
                         statistics.median(int(x[6]) for x in r), max(int(x[7]) for x in r)))
EOF
	return $bad
}

if [ -n "${HOLD_BENCH_TRIALS:-}" ]; then
	bench_version "${HOLD_BENCH_ROOT:-}" "$HOLD_BENCH_TRIALS"
	exit $?
fi

ran=""
v=0
for root in "" $(hap3_roots); do
	v=$((v + 1))
	run_version "$root" $v
	ran="$ran $(hap_version "$root")"
done
echo "hold scenarios ran on haproxy:$ran"
[ "$fails" = 0 ] || { echo "FAIL: $fails checks failed"; exit 1; }
exit 0
