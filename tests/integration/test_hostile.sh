#!/bin/bash
# tests/integration/test_hostile.sh - hostile input against every listener that faces the
# network or a local user: the agent port, the agent's admin socket, haprole-spoa's SPOP port
# and its status port, each daemon at its shipped default limits. Per listener and attack
# (tests/integration/lib/hostile.py: garbage bytes, a 1 MiB line, 200 headers, slowloris at
# 1 byte/s, 10 000 connections opened and left idle, half-closed sockets, and for SPOP: frame
# lengths that lie, NOTIFY before HELLO, a HELLO that never comes) a well-behaved client is
# served meanwhile (its latency printed), the bad peer is closed or gets an error, and the
# daemon's peak RSS (VmHWM) is printed and bounded: agent < 16 MiB, haprole-spoa < 32 MiB
# (docs/design.md section 10: the SPOA bounded under 10 000 hostile connections). Then
# allow_from, set by SIGHUP: a source outside the list is closed at accept on the agent port,
# the SPOP port and the status port; one inside is served.
# Its addresses and ports: block test_hostile of tests/integration/lib/fixture.sh (IP: the
# daemons; ALLOWED, DENIED: client source addresses on and off allow_from).
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib/fixture.sh

AGENT=$HAPROLE_AGENT
SPOA=$HAPROLE_SPOA
PY=/usr/bin/python3
fix_block test_hostile
fix_addrs IP ALLOWED DENIED
fix_ports AGENT_PORT SPOA_PORT STATUS_PORT FEED CLOSED_PORT
SECS=${HOSTILE_SECONDS:-2}
fails=0
for b in "$AGENT" "$SPOA" build/bench/feed-fake; do
	[ -x "$b" ] || { echo "FAIL: $b not built (make)"; exit 1; }
done
[ -x "$PY" ] || { echo "skip: $PY not found"; exit 77; }
# 10 000 sockets for the attacker (each daemon has its own limit, above its max connections)
[ "$(ulimit -n)" -ge 12000 ] || ulimit -n 12000 2>/dev/null ||
	{ echo "skip: cannot raise the open files limit to 12000"; exit 77; }

fix_tmp hostile
pids=()
fix_pre_cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
}

cat >"$tmp/agent.conf" <<EOF
[agent]
cluster = main
node = db1
listen = $IP:$AGENT_PORT
admin_socket = $tmp/agent.sock
state_file = $tmp/agent.state
log_level = warning
# nothing listens there: the probe fails and logs, with a password in the conninfo
[postgres]
conninfo = hostaddr=$IP port=$CLOSED_PORT user=haprole password=s3cr3t-h4pr0le dbname=postgres
[check writer]
kind = writer
EOF
cat >"$tmp/spoa.conf" <<EOF
[spoa]
listen = $IP:$SPOA_PORT
status_listen = $IP:$STATUS_PORT
log_level = warning
[cluster main]
[node db1]
cluster = main
agent = $IP:$FEED
EOF
build/bench/feed-fake -l "$IP:$FEED" -n db1 -r primary </dev/null >"$tmp/ff.log" 2>&1 &
pids+=($!)
$AGENT --allow-root -d -f "$tmp/agent.conf" 2>"$tmp/agent.log" &
agent_pid=$!
pids+=($agent_pid)
$SPOA --allow-root -d -f "$tmp/spoa.conf" 2>"$tmp/spoa.log" &
spoa_pid=$!
pids+=($spoa_pid)
for i in $(seq 1 50); do
	[ -S "$tmp/agent.sock" ] && curl -s -m 1 "http://$IP:$STATUS_PORT/" | grep -q '"status":"ok"' && break
	sleep 0.1
done
[ -S "$tmp/agent.sock" ] || { echo "FAIL: the agent did not start: $(tail -n 5 "$tmp/agent.log")"; exit 1; }

hwm() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"; }

run() { # run KIND ADDR PID ATTACK...
	local kind=$1 addr=$2 pid=$3 a out
	shift 3
	for a in "$@"; do
		out=$(timeout 120 "$PY" tests/integration/lib/hostile.py "$kind" "$addr" "$a" --pid "$pid" --seconds "$SECS" 2>&1)
		if printf '%s\n' "$out" | grep -q '^RESULT ok'; then
			ok "$kind $a: $(printf '%s\n' "$out" | grep -v '^RESULT\|^daemon' | tr '\n' ';' | sed 's/;$//')"
		else
			ko "$kind $a: $(printf '%s\n' "$out" | tr '\n' ';' | sed 's/;$//')"
		fi
		kill -0 "$pid" 2>/dev/null || { ko "$kind: the daemon died during $a"; return; }
	done
}

run agent "$IP:$AGENT_PORT" "$agent_pid" garbage long-line headers slowloris idle half-close
run admin "$tmp/agent.sock" "$agent_pid" garbage long-line slowloris idle half-close
run spop "$IP:$SPOA_PORT" "$spoa_pid" garbage long-line lying-length notify-first no-hello \
	slowloris idle half-close
run status "$IP:$STATUS_PORT" "$spoa_pid" garbage long-line headers slowloris idle half-close

# allow_from: a peer outside the list is closed at accept, before a byte; reloaded by SIGHUP
from() { # from SRC_IP DST_IP PORT SEND - what the listener answers a client bound to SRC_IP
	"$PY" - "$@" <<'PY'
import socket, sys
src, dst, port, send = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].encode().decode("unicode_escape").encode("latin-1")
s = socket.socket(); s.settimeout(3); s.bind((src, 0))
try:
    s.connect((dst, port)); s.sendall(send); d = s.recv(64)
    print(repr(d[:24]) if d else "closed")
except OSError as e:
    print("closed" if e.errno in (104, 32) else "error %s" % e)
PY
}
sed -i "s|^listen = .*|&\nallow_from = $ALLOWED/32, ::1|" "$tmp/agent.conf"
sed -i "s|^status_listen = .*|&\nallow_from = $ALLOWED\nstatus_allow_from = $ALLOWED|" "$tmp/spoa.conf"
kill -HUP "$agent_pid" "$spoa_pid"
for i in $(seq 1 50); do
	[ "$(from $DENIED "$IP" "$AGENT_PORT" 'writer\n')" = closed ] && break
	sleep 0.1
done
expect "agent port, from $DENIED (not on allow_from)" closed "$(from $DENIED "$IP" "$AGENT_PORT" 'writer\n')"
expect_match "agent port, from $ALLOWED (on allow_from)" "^b'(down|fail) " "$(from $ALLOWED "$IP" "$AGENT_PORT" 'writer\n')"
for i in $(seq 1 50); do
	[ "$(from $DENIED "$IP" "$STATUS_PORT" 'GET / HTTP/1.0\r\n\r\n')" = closed ] && break
	sleep 0.1
done
expect "status port, from $DENIED" closed "$(from $DENIED "$IP" "$STATUS_PORT" 'GET / HTTP/1.0\r\n\r\n')"
expect_match "status port, from $ALLOWED" "^b'HTTP/1.1 200" "$(from $ALLOWED "$IP" "$STATUS_PORT" 'GET / HTTP/1.0\r\n\r\n')"
expect "SPOP port, from $DENIED" closed "$(from $DENIED "$IP" "$SPOA_PORT" 'x')"
denied=$(curl -s --interface $ALLOWED "http://$IP:$STATUS_PORT/metrics" | sed -n 's/^haprole_spoa_connections_denied_total //p')
expect_match "haprole-spoa counts the SPOP connection it denied" "^[1-9]" "$denied"

# the conninfo password never shows: logs, /status, /metrics, haprolectl
shown=$( { cat "$tmp/agent.log"; curl -s --interface $ALLOWED "http://$IP:$AGENT_PORT/status";
	curl -s --interface $ALLOWED "http://$IP:$AGENT_PORT/metrics";
	./haprolectl -s "$tmp/agent.sock" status --json 2>&1; ./haprolectl -s "$tmp/agent.sock" status 2>&1
	$AGENT -c -f "$tmp/agent.conf" 2>&1; } | grep -c 's3cr3t-h4pr0le')
expect "the conninfo password in logs, /status, /metrics, haprolectl, -c" 0 "$shown"
grep -q 'pg' "$tmp/agent.log" && ok "the probe's failures are logged (so the check above read them)" ||
	ko "no probe line in the agent's log"

a=$(hwm "$agent_pid")
s=$(hwm "$spoa_pid")
echo "peak RSS: haprole-agent $((a / 1024)) MiB ($a kB), haprole-spoa $((s / 1024)) MiB ($s kB)"
[ -n "$a" ] && [ "$a" -lt $((16 * 1024)) ] && ok "agent peak RSS $a kB < 16 MiB" ||
	ko "agent peak RSS $a kB, bound 16 MiB"
[ -n "$s" ] && [ "$s" -lt $((32 * 1024)) ] && ok "haprole-spoa peak RSS $s kB < 32 MiB" ||
	ko "haprole-spoa peak RSS $s kB, bound 32 MiB"
grep -E 'Sanitizer|runtime error' "$tmp/agent.log" "$tmp/spoa.log" && ko "sanitizer reports"

if [ "$fails" -ne 0 ]; then
	echo "--- agent.log"; tail -n 10 "$tmp/agent.log"
	echo "--- spoa.log"; tail -n 10 "$tmp/spoa.log"
	echo "test_hostile: $fails check(s) failed"
	exit 1
fi
echo "test_hostile: all checks passed"
exit 0
