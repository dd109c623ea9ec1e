#!/bin/bash
# tests/integration/test_agent_port.sh - haprole-agent's port without probes (no PostgreSQL
# needed): every dialect (agent-check, HTTP, SUBSCRIBE), the limits (a 1 MiB line, silent
# clients, max_clients), -c, SIGHUP reload (good and bad file) and SIGTERM drain-then-exit.
# Its address and port: block test_agent_port of tests/integration/lib/fixture.sh.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib/fixture.sh

AGENT=$HAPROLE_AGENT
PY=/usr/bin/python3
fix_need nc curl jq "$PY" "$AGENT"
fix_block test_agent_port
ADDR=$IP
fix_ports PORT
fix_tmp agent-port
fails=0
apid=
fix_pre_cleanup() { [ -n "$apid" ] && kill -KILL "$apid" 2>/dev/null; }
ask() { printf '%b' "$1" | nc -w 3 "$ADDR" "$PORT" 2>/dev/null; }

write_conf() {
	cat >"$tmp/agent.conf" <<EOF
[agent]
cluster = t
node = n1
listen = $ADDR:$PORT
max_clients = 4
max_line = 1k
first_line_wait = 200ms
idle_timeout = 1s
heartbeat = 200ms
shutdown_grace = 1s
log_level = debug
admin_socket = $tmp/agent.sock
state_file = $tmp/agent.state
[check writer]
kind = writer
[check app]
kind = app
weight = $1
EOF
}

# ---- -c -------------------------------------------------------------------------------------
write_conf 100
out=$($AGENT -c -f "$tmp/agent.conf" 2>&1); rc=$?
expect "-c on a good file exits 0" 0 "$rc"
printf '[agent]\nnode = n1\nheartbeat = 2d\n' >"$tmp/bad.conf"
out=$($AGENT -c -f "$tmp/bad.conf" 2>&1); rc=$?
expect "-c on a bad file exits 1" 1 "$rc"
expect "-c names file:line:key" "$tmp/bad.conf:3: key 'heartbeat': not a duration (examples: 250ms, 2s, 1m) (got \"2d\")" "$out"
out=$($AGENT --help 2>&1 | grep -c '^    first_line_wait ')
expect "--help lists the keys" 1 "$out"

# ---- start ----------------------------------------------------------------------------------
$AGENT --allow-root -d -f "$tmp/agent.conf" 2>"$tmp/agent.log" &
apid=$!
for i in $(seq 1 50); do
	[ -n "$(ask 'app\n')" ] && break
	sleep 0.1
done

# ---- agent-check dialect --------------------------------------------------------------------
expect "app check" "up ready 100%" "$(ask 'app\n')"
expect "app check, CRLF" "up ready 100%" "$(ask 'app\r\n')"
expect "writer without postgres" "down ready #pg: no postgres probe on this node" "$(ask 'writer\n')"
expect "unknown check" "fail ready #no check named nope" "$(ask 'nope\n')"
expect "empty line = default check" "down ready #pg: no postgres probe on this node" "$(ask '\n')"
# nothing sent: the default check after first_line_wait (nc keeps its side open with -q)
got=$(sleep 1 | nc -w 3 "$ADDR" "$PORT")
expect "no line = default check" "down ready #pg: no postgres probe on this node" "$got"

# agent-send "app" without "\n": after first_line_wait the bytes name the check
got=$({ printf 'app'; sleep 1; } | nc -w 3 "$ADDR" "$PORT")
expect "a line without its newline still names a check" "up ready 100%" "$got"

# ---- HTTP dialect ---------------------------------------------------------------------------
body=$(curl -s "http://$ADDR:$PORT/")
expect "GET / is JSON with the node" "n1" "$(printf '%s' "$body" | jq -r .node)"
expect "GET / checks" "up ready 100%" "$(printf '%s' "$body" | jq -r .checks.app)"
expect "GET /status" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://$ADDR:$PORT/status")"
expect "GET /check/app" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://$ADDR:$PORT/check/app")"
expect "GET /check/writer" 503 "$(curl -s -o /dev/null -w '%{http_code}' "http://$ADDR:$PORT/check/writer")"
expect "GET /check/nope" 404 "$(curl -s -o /dev/null -w '%{http_code}' "http://$ADDR:$PORT/check/nope")"
expect "GET /primary without postgres" 503 "$(curl -s -o /dev/null -w '%{http_code}' "http://$ADDR:$PORT/primary")"
expect "GET /health without postgres" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://$ADDR:$PORT/health")"
expect "HEAD /check/app" 200 "$(curl -s -I -o /dev/null -w '%{http_code}' "http://$ADDR:$PORT/check/app")"
expect "POST" 405 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$ADDR:$PORT/")"
expect "POST with a 64 KiB body still reads 405" 405 "$(head -c 65536 /dev/zero | curl -s -o /dev/null -w '%{http_code}' --data-binary @- "http://$ADDR:$PORT/")"
metrics=$(curl -s "http://$ADDR:$PORT/metrics")
expect_match "/metrics check_up" '^haprole_check_up\{check="app"\} 1$' "$(printf '%s\n' "$metrics" | grep check_up)"
expect_match "/metrics replies" 'haprole_replies_total\{dialect="agent-check"\} [1-9]' "$metrics"

# ---- limits ---------------------------------------------------------------------------------
# a 1 MiB line: closed (or a bounded answer), and other clients are served meanwhile
$PY - "$ADDR" "$PORT" >"$tmp/big.out" 2>&1 <<'EOF' &
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
got = b""
try:
    s.sendall(b"x" * (1 << 20))
except OSError:
    pass
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += d
except OSError:
    pass
print("answer-bytes", len(got))
EOF
bigpid=$!
expect "served during a 1 MiB line" "up ready 100%" "$(ask 'app\n')"
wait "$bigpid"
expect_match "1 MiB line gets a bounded answer or a close" '^answer-bytes [0-9]{1,3}$' "$(cat "$tmp/big.out")"
big=$(printf 'GET /%0900d HTTP/1.1\r\nHost: x\r\n%0500d\r\n\r\n' 0 0 | nc -w 3 "$ADDR" "$PORT" | head -n 1 | tr -d '\r')
expect_match "oversized HTTP head" '^HTTP/1.1 4(14|31) ' "$big"

# max_clients = 4: four clients that have not finished their request hold the slots; a fifth
# that speaks at once (as HAProxy's checks do) is served, and the OLDEST waiting client is
# closed to make room, so silent peers never lock the checks out
$PY - "$ADDR" "$PORT" >"$tmp/maxc.out" 2>&1 <<'EOF'
import socket, sys, time
addr = (sys.argv[1], int(sys.argv[2]))
# a partial HTTP line keeps a connection in the first-line state for idle_timeout (1 s)
held = []
for _ in range(4):
    c = socket.create_connection(addr, timeout=3)
    c.sendall(b"GET /x")
    held.append(c)
    time.sleep(0.05)
time.sleep(0.2)
extra = socket.create_connection(addr, timeout=3)
extra.sendall(b"app\n")
try:
    d = extra.recv(100)
except OSError:
    d = b""
print("fifth:", repr(d))
held[0].settimeout(0.5)
try:
    print("oldest:", repr(held[0].recv(100)))
except OSError as e:
    print("oldest: error", e)
held[1].settimeout(0.2)
try:
    print("second:", repr(held[1].recv(100)))
except socket.timeout:
    print("second: still open")
for c in held:
    c.close()
EOF
expect "fifth client over max_clients is served" "fifth: b'up ready 100%\\n'" "$(grep '^fifth' "$tmp/maxc.out")"
expect "the oldest waiting client made room (closed)" "oldest: b''" "$(grep '^oldest' "$tmp/maxc.out")"
expect "the next waiting client keeps its slot" "second: still open" "$(grep '^second' "$tmp/maxc.out")"
got=""
for i in $(seq 1 30); do
	got=$(ask 'app\n')
	[ -n "$got" ] && break
	sleep 0.1
done
expect "served again after the silent clients left" "up ready 100%" "$got"

# ---- SUBSCRIBE ------------------------------------------------------------------------------
sub=$($PY - "$ADDR" "$PORT" 2>&1 <<'EOF'
import socket, struct, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
s.sendall(b"SUBSCRIBE\n")
buf = b""
frames = []
deadline = time.time() + 3
while len(frames) < 3 and time.time() < deadline:
    d = s.recv(65536)
    if not d:
        break
    buf += d
    while len(buf) >= 4:
        n = struct.unpack(">I", buf[:4])[0]
        if len(buf) < 4 + n:
            break
        frames.append(buf[4:4 + n])
        buf = buf[4 + n:]
ok = len(frames) >= 3 and all(b"n1" in f and b"checks" in f for f in frames)
print("frames", len(frames), "ok" if ok else "bad")
EOF
)
expect "SUBSCRIBE: full state, then heartbeats" "frames 3 ok" "$sub"

# ---- SIGHUP ---------------------------------------------------------------------------------
write_conf 50
kill -HUP "$apid"
got=""
for i in $(seq 1 30); do
	got=$(ask 'app\n')
	[ "$got" = "up ready 50%" ] && break
	sleep 0.1
done
expect "SIGHUP applies the new weight" "up ready 50%" "$got"
printf '[agent]\nnode = n1\nlisten = nonsense\n' >"$tmp/agent.conf"
kill -HUP "$apid"
sleep 0.3
expect "a bad file is refused, the old config stays" "up ready 50%" "$(ask 'app\n')"
expect_match "refused reload is counted" 'haprole_reloads_total\{result="failed"\} 1' "$(curl -s "http://$ADDR:$PORT/metrics")"
expect_match "refused reload is logged with file:line:key" "reload: .*agent.conf:3: key 'listen'" "$(cat "$tmp/agent.log")"

# ---- a second agent on the same port fails its start ------------------------------------------
# the port is bound at start (it listens only once the probes have a first result): a taken
# port is still an exit 1 with the reason, not a silent agent
write_conf 50 # a good file again (the reload test left a bad one)
sed 's/^admin_socket = .*/admin_socket =/; s/^state_file = .*/state_file =/' "$tmp/agent.conf" >"$tmp/second.conf"
out=$(timeout 10 $AGENT --allow-root -d -f "$tmp/second.conf" 2>&1); rc=$?
expect "second agent on the same port: exit code" 1 "$rc"
expect_match "second agent names the bind error" "bind $ADDR:$PORT: Address already in use" "$out"
expect "the first agent still answers" "up ready 50%" "$(ask 'app\n')"

# ---- SIGTERM --------------------------------------------------------------------------------
kill -TERM "$apid"
sleep 0.2
expect "SIGTERM: drain during the grace" "up drain 50% #shutdown" "$(ask 'app\n')"
rc=
for i in $(seq 1 50); do
	if ! kill -0 "$apid" 2>/dev/null; then
		wait "$apid"
		rc=$?
		break
	fi
	sleep 0.1
done
expect "SIGTERM: exits 0 after the grace" 0 "$rc"
apid=

if [ "$fails" -ne 0 ]; then
	echo "--- agent log (tail)"
	tail -n 40 "$tmp/agent.log"
	exit 1
fi
exit 0
