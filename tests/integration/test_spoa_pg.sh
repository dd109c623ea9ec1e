#!/bin/bash
# tests/integration/test_spoa_pg.sh - end to end with real pieces: PostgreSQL 15 primary +
# pg_basebackup -R standby (lib/pg.sh), one real haprole-agent per node, haprole-spoa following
# their feeds, and real HAProxy (2.6, then every 3.x of lib/haproxy3.sh) whose TCP frontend
# stands for the reference layout's port 5000. On each version:
#   1. writes through HAProxy land on the primary (inet_server_addr());
#   2. trap b: the primary's PostgreSQL stopped, no promotion: writes get an error, never the
#      standby; the primary started again: writes resume;
#   3. `pg_ctl promote` on the standby, then the old primary stopped: writes move to the new
#      primary with no HAProxy reload, while the new primary's agent check (agent-inter 10s)
#      still says DOWN (trap a); prints the time from the promotion to the first write routed
#      to the new primary (pg_ctl -w polls, so it may return up to ~100 ms after the server
#      became writable); counts writes that reached a non-primary (must be 0) and, separately,
#      writes the old primary took while it was still a primary (stopping it is the failover
#      manager's part: haprole follows, it does not fence a running old primary on its own);
#   4. haprole-spoa killed: HAProxy keeps serving through the agent checks; restarted: SPOE
#      routing resumes (NOTIFYs counted by the new process), no reload.
# Split brain is covered by test_spoa_haproxy.sh (two primaries on one timeline cannot be made
# with one real pair without a third server). Address/port block: test_spoa_pg (lib/fixture.sh).
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib/pg.sh
. tests/integration/lib/haproxy.sh
. tests/integration/lib/haproxy3.sh
. tests/integration/lib/spoa.sh

. tests/integration/lib/fixture.sh

pg_require || exit 77
hap_require || exit 77
fix_need "$HAPROLE_SPOA" "$HAPROLE_AGENT" curl

fix_block test_spoa_pg
HAP_IP=$IP
PG1=$NET.41
PG2=$NET.42
AG1=$NET.51
AG2=$NET.52
fix_ports PG_FE SPOA_PORT STATUS_PORT PGP1 PGP2 AGP1 AGP2
FIX_LOGS="spoa.log agent*.log"
FIX_LOG_LINES=10
fix_tmp spoa-pg

now_ms() { date +%s%3N; }

# write_via_haproxy - one write through the frontend; prints the server address that took it,
# or "ERR <message>" when it failed (connection refused/closed, read-only, ...).
write_via_haproxy() {
	local out
	out=$(PGCONNECT_TIMEOUT=2 "$PG_BIN/psql" -X -A -t -q -v ON_ERROR_STOP=1 -h "$HAP_IP" \
		-p "$PG_FE" -U postgres -d postgres \
		-c "insert into t values (default) returning host(inet_server_addr())" 2>&1)
	if [ $? -eq 0 ]; then
		echo "$out"
	else
		echo "ERR $(echo "$out" | tr '\n' ' ' | cut -c1-120)"
	fi
}

wait_spoa() { # wait_spoa "ok db1"
	local s
	s=$(spoa_wait_view "$HAP_IP" "$STATUS_PORT" "$1" 100) || fail "SPOA view: wanted \"$1\", got \"$s\""
}
start_spoa() { spoa_start "$tmp" "$HAP_IP" "$STATUS_PORT" || fail "haprole-spoa did not start"; }

start_agent() { # start_agent N ADDR PORT PGADDR PGPORT
	cat >"$tmp/agent$1.conf" <<CONF
[agent]
cluster = main
node = db$1
listen = $2:$3
first_line_wait = 50ms
heartbeat = 200ms
log_level = info
admin_socket = $tmp/agent$1.sock
state_file = $tmp/agent$1.state
[postgres]
conninfo = "hostaddr=$4 port=$5 user=postgres dbname=postgres"
interval = 100ms
timeout = 500ms
connect_timeout = 500ms
rise = 1
fall = 1
[check writer]
kind = writer
CONF
	"$HAPROLE_AGENT" --allow-root -d -f "$tmp/agent$1.conf" 2>>"$tmp/agent$1.log" &
	PIDS+=($!)
	eval "AGENT_PID$1=$!"
}

cat >"$tmp/spoa.conf" <<CONF
[spoa]
listen = $HAP_IP:$SPOA_PORT
status_listen = $HAP_IP:$STATUS_PORT
heartbeat = 200ms
log_level = info
[cluster main]
[node db1]
cluster = main
agent = $AG1:$AGP1
[node db2]
cluster = main
agent = $AG2:$AGP2
CONF
cp haproxy/spoe-haprole.conf "$tmp/spoe.conf"

cat >"$tmp/haproxy.cfg" <<CFG
global
	stats socket $tmp/stats.sock mode 600 level admin
defaults
	timeout connect 1s
	timeout client 30s
	timeout server 30s
	retries 1
# reference layout's port 5000 (haproxy/haproxy.cfg), on this test's address
$(spoa_hap_pg_route fe_pg_rw be_pg_rw "$HAP_IP:$PG_FE" "$tmp/spoe.conf")
	server db1 $PG1:$PGP1 agent-addr $AG1 agent-port $AGP1
	server db2 $PG2:$PGP2 agent-addr $AG2 agent-port $AGP2
$(spoa_hap_spoe_backend "$HAP_IP" "$SPOA_PORT")
CFG
sed -i "s/127.0.0.1:12345/$HAP_IP:$SPOA_PORT/" "$tmp/haproxy.cfg"

run_version() {
	local root=$1 ver label i got t0 t1 s wrong=0 old=0 d=$tmp/v$2
	ver=$(hap_version "$root")
	label="haproxy $ver"
	echo "== $label"
	: >"$tmp/spoa.log"
	pg_init_primary "$d/pg1" $PGP1 $PG1 || fail "initdb"
	pg_start "$d/pg1" || fail "start pg1"
	pg_psql $PG1 $PGP1 "create table t (i serial primary key)" >/dev/null || fail "create table"
	pg_make_standby $PG1 $PGP1 "$d/pg2" $PGP2 $PG2 || fail "basebackup"
	pg_start "$d/pg2" || fail "start pg2"
	pg_wait_streaming $PG2 $PGP2 30 || fail "standby not streaming"
	start_agent 1 $AG1 $AGP1 $PG1 $PGP1
	start_agent 2 $AG2 $AGP2 $PG2 $PGP2
	start_spoa
	wait_spoa "ok db1"
	hap_start "$tmp/haproxy.cfg" "$root" || fail "$label: haproxy did not start"
	local sock=$tmp/stats.sock
	hap_wait_field "$sock" spoe-haprole spoa1 status "UP.*" 10 || fail "$label: SPOA not UP"
	hap_wait_field "$sock" be_pg_rw db2 status "DOWN.*" 15 || fail "$label: db2 not DOWN"

	# 1. writes land on the primary
	for i in 1 2 3 4 5; do
		got=$(write_via_haproxy)
		[ "$got" = $PG1 ] || fail "$label: write landed on '$got'"
	done
	echo "ok $label: writes through HAProxy land on the primary $PG1"

	# 2. trap b: primary's PostgreSQL stopped, no promotion -> error, never the standby
	pg_stop "$d/pg1" immediate
	for i in 1 2 3 4 5 6; do
		got=$(write_via_haproxy)
		case $got in
		ERR*read-only*) fail "$label: primary down, a write reached the standby: $got" ;;
		ERR*) ;;
		*) fail "$label: primary down, no promotion, a write landed on '$got'" ;;
		esac
	done
	wait_spoa "no-primary -"
	got=$(write_via_haproxy)
	case $got in ERR*read-only*|$PG2) fail "$label: reached the standby: $got" ;; esac
	echo "ok $label: primary stopped, no promotion: writes get an error, never the standby"
	pg_start "$d/pg1" || fail "restart pg1"
	wait_spoa "ok db1"
	pg_wait_streaming $PG2 $PGP2 30 || fail "standby not streaming again"
	got=$(write_via_haproxy)
	[ "$got" = $PG1 ] || fail "$label: after restart, write landed on '$got'"

	# 3. promotion + old primary stopped: followed with no reload; trap a
	pg_promote "$d/pg2" || fail "promote"
	t0=$(now_ms)
	pg_stop "$d/pg1" fast & # the old primary goes away while writes are already retried
	local stopper=$!
	got=""
	for i in $(seq 1 300); do
		got=$(write_via_haproxy)
		case $got in
		$PG2) break ;;
		$PG1) old=$((old + 1)) ;; # still a primary (timeline 1) until it stops
		ERR*read-only*) wrong=$((wrong + 1)) ;;
		esac
	done
	t1=$(now_ms)
	wait "$stopper"
	[ "$got" = $PG2 ] || fail "$label: writes never reached the new primary (last: $got)"
	[ "$wrong" = 0 ] || fail "$label: $wrong writes reached a non-primary"
	s=$(hap_server_field "$sock" be_pg_rw db2 status)
	echo "ok $label: promoted db2: first write routed to it $((t1 - t0)) ms after pg_ctl promote returned (old primary stopping meanwhile; db2 agent check: $s; no reload; writes on a non-primary: $wrong; on the old primary before its agent reported the new one: $old)"
	for i in 1 2 3; do
		got=$(write_via_haproxy)
		[ "$got" = $PG2 ] || fail "$label: after promotion, write landed on '$got'"
	done

	# 4. SPOA killed: fallback through the agent checks; restart resumes SPOE routing
	hap_wait_field "$sock" be_pg_rw db2 status "UP.*" 15 || fail "$label: db2 agent not UP"
	kill "$SPOA_PID"; wait "$SPOA_PID" 2>/dev/null; SPOA_PID=
	for i in 1 2 3; do
		got=$(write_via_haproxy)
		[ "$got" = $PG2 ] || fail "$label: SPOA down, fallback write landed on '$got'"
	done
	echo "ok $label: SPOA killed: writes served through the fallback (agent checks)"
	start_spoa
	wait_spoa "ok db2"
	for i in $(seq 1 100); do
		got=$(write_via_haproxy)
		n=$(curl -s "http://$HAP_IP:$STATUS_PORT/metrics" |
			sed -n 's/^haprole_spoa_notify_total \([0-9]*\)$/\1/p')
		[ "${n:-0}" -gt 0 ] && [ "$got" = $PG2 ] && break
		sleep 0.05
	done
	[ "${n:-0}" -gt 0 ] || fail "$label: HAProxy did not come back to the restarted SPOA"
	echo "ok $label: SPOA restarted: SPOE routing resumed ($n NOTIFY answered), no reload"

	hap_stop
	kill "$SPOA_PID" "$AGENT_PID1" "$AGENT_PID2" 2>/dev/null
	wait "$SPOA_PID" "$AGENT_PID1" "$AGENT_PID2" 2>/dev/null
	SPOA_PID=
	pg_stop "$d/pg2" immediate
	pg_stop "$d/pg1" immediate
}

ran=""
v=0
for root in "" $(hap3_roots); do
	v=$((v + 1))
	run_version "$root" $v
	ran="$ran $(hap_version "$root")"
done
echo "SPOE end-to-end (real PostgreSQL and agents) ran on haproxy:$ran"
exit 0
