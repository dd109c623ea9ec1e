#!/bin/bash
# tests/integration/test_agent_restart.sh - issue 4 follow-up: restarting the agent on a healthy
# primary must not make HAProxy mark it DOWN (with on-marked-down shutdown-sessions that cuts
# every open session). Real PostgreSQL 15 primary, one agent (default rise 2 / fall 1, one
# [peer] that is down, as after a peer's crash), HAProxy 2.6 (and every 3.x found under
# HAPROLE_HAPROXY_ROOTS, default the chroots of lib/haproxy3.sh; missing ones are skipped), all
# agent-checking the writer every 100 ms. Three times: kill -9 the agent, restart it, while
#   - a sampler reads `show servers state` every ~50 ms: be_writer/db1's srv_op_state stays 2
#     (RUNNING);
#   - a poller asks the agent port (agent-check line and HTTP GET /check/writer) every ~30 ms:
#     every answer it gets is "up ready" / 200, never fail/down/503 (refused is fine);
#   - one SQL session through each HAProxy stays open: the same backend answers after all
#     restarts.
# The restarted agent's log says when its port opened and why (first results, not the wait).
# Also sampled, for information only (a timing matter, not asserted): be_http_f1 and
# be_http_f2, HTTP health checks on GET /check/writer (inter 1s, fall 1 and fall 2): a check
# that lands while the restarted agent is not yet listening fails (connection refused).
# Negative control: stopping PostgreSQL makes the same sampler see the server leave RUNNING.
# Its addresses and ports: block test_agent_restart of tests/integration/lib/fixture.sh.
# AGENT=path runs another haprole-agent binary (e.g. an older build).
set -u
cd "$(dirname "$0")/../.."

. tests/integration/lib/pg.sh
. tests/integration/lib/haproxy.sh
. tests/integration/lib/fixture.sh

AGENT=${AGENT:-$HAPROLE_AGENT}
PY=/usr/bin/python3
fix_block test_agent_restart
fix_addrs ADDR PEER_ADDR
fix_ports PGPORT APORT FEPORT # FEPORT + i for the i-th HAProxy (0: Debian's 2.6), below PORT_LAST
PEER=$PEER_ADDR:$PORT_LAST    # nothing listens there: a peer that is down
RESTARTS=${RESTARTS:-3}
fix_tmp agent-restart
HSOCK=$tmp/haproxy0.sock # the 2.6 one: agent_status polls
apid=
sampler_pid=
poller_pid=
sess_pid=
fails=0

fix_pre_cleanup() {
	touch "$tmp/stop" "$tmp/go"
	stop_pid "$sampler_pid" KILL
	stop_pid "$poller_pid" KILL
	stop_pid "$sess_pid" KILL
	stop_pid "$apid" KILL
}

pg_require || exit 77
hap_require || exit 77
for b in nc curl; do
	command -v "$b" >/dev/null 2>&1 || { echo "skip: $b not found"; exit 77; }
done
$PY -c 'import psycopg2' 2>/dev/null || { echo "skip: $PY has no psycopg2"; exit 77; }
[ -x "$AGENT" ] || { echo "FAIL: $AGENT not built (make)"; exit 1; }

# ok, ko, expect: lib/expect.sh.
ask() { printf 'writer\n' | nc -w 1 $ADDR $APORT 2>/dev/null; }

# ---- PostgreSQL, agent, HAProxy ------------------------------------------------------------
chown postgres: "$tmp"
pg_init_primary "$tmp/pg1" $PGPORT $ADDR && pg_start "$tmp/pg1" || exit 1

cat >"$tmp/agent.conf" <<EOF
[agent]
cluster = restart
node = db1
listen = $ADDR:$APORT
heartbeat = 200ms
log_level = info
admin_socket = $tmp/agent.sock
state_file = $tmp/agent.state
[postgres]
conninfo = hostaddr=$ADDR port=$PGPORT user=postgres dbname=postgres
[check writer]
kind = writer
[peer db2]
address = $PEER
EOF

# agent_start - runs the agent, waits (10 s) until its port answers the writer check.
agent_start() {
	local i
	"$AGENT" --allow-root -d -f "$tmp/agent.conf" 2>>"$tmp/agent.log" &
	apid=$!
	for i in $(seq 1 100); do
		kill -0 "$apid" 2>/dev/null || { ko "agent exited at start"; tail -n 20 "$tmp/agent.log"; return 1; }
		[ -n "$(ask)" ] && return 0
		sleep 0.1
	done
	ko "agent did not answer within 10 s"
	return 1
}
agent_start || exit 1
for i in $(seq 1 100); do
	case $(ask) in "up ready"*) break ;; esac
	sleep 0.1
done
expect "writer on the healthy primary" "up ready 100%" "$(ask)"

# hap_conf I - the config of the I-th HAProxy (stats socket $tmp/haproxyI.sock, frontend
# FEPORT + I): be_writer agent-checked, be_http_f1/f2 HTTP-checked on /check/writer.
hap_conf() {
	cat >"$tmp/haproxy$1.cfg" <<EOF
global
	stats socket $tmp/haproxy$1.sock mode 600 level admin
defaults
	mode tcp
	timeout connect 1s
	timeout client 60s
	timeout server 60s
	timeout check 1s
frontend fe_writer
	bind $ADDR:$((FEPORT + $1))
	default_backend be_writer
backend be_writer
	server db1 $ADDR:$PGPORT check inter 500ms agent-check agent-addr $ADDR agent-port $APORT agent-send "writer\n" agent-inter 100ms on-marked-down shutdown-sessions
backend be_http_f1
	option httpchk GET /check/writer
	http-check expect status 200
	server db1 $ADDR:$PGPORT check addr $ADDR port $APORT inter 1s fall 1 rise 1
backend be_http_f2
	option httpchk GET /check/writer
	http-check expect status 200
	server db1 $ADDR:$PGPORT check addr $ADDR port $APORT inter 1s fall 2 rise 1
EOF
}
hnames=()
hap_conf 0
hap_start "$tmp/haproxy0.cfg" || exit 1
hnames+=("haproxy-$(hap_version)")
i=0
for root in ${HAPROLE_HAPROXY_ROOTS-/var/cache/haprole/chroot-trixie /var/cache/haprole/chroot-sid}; do
	[ "$i" -ge 3 ] && break
	hap_require "$root" >/dev/null || continue
	i=$((i + 1))
	hap_conf $i
	if hap_start "$tmp/haproxy$i.cfg" "$root"; then
		hnames+=("haproxy-$(hap_version "$root")")
	else
		ko "haproxy from $root did not start"
		exit 1
	fi
done
NH=${#hnames[@]}
echo "HAProxy versions under test: ${hnames[*]}"
for i in $(seq 0 $((NH - 1))); do
	hs=$tmp/haproxy$i.sock
	hap_wait_field "$hs" be_writer db1 status UP 20 && ok "${hnames[$i]} be_writer/db1 UP" ||
		{ ko "${hnames[$i]} be_writer/db1 never UP"; exit 1; }
	hap_wait_field "$hs" be_http_f1 db1 status UP 20 || ko "${hnames[$i]} be_http_f1/db1 never UP"
	hap_wait_field "$hs" be_http_f2 db1 status UP 20 || ko "${hnames[$i]} be_http_f2/db1 never UP"
done

# sampler FILE - appends "<ms>" then, for each HAProxy in turn, the srv_op_state of db1 in
# be_writer, be_http_f1 and be_http_f2 (0 STOPPED, 1 STARTING, 2 RUNNING, 3 STOPPING; "?" when
# the stats socket did not answer), every ~50 ms (one `show servers state` per HAProxy per
# sample) until $tmp/stop exists, at most 2400 samples (about two minutes).
sampler() {
	$PY - "$tmp/stop" "$1" "$NH" "$tmp" <<'PYEOF'
import os, socket, sys, time
stop, out, nh, tmp = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
backends = ["be_writer", "be_http_f1", "be_http_f2"]
def states(sock):
    state = {}
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(1)
        s.connect(sock)
        s.sendall(b"show servers state\n")
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        s.close()
        for line in data.decode().splitlines():
            w = line.split()
            if len(w) > 5 and not line.startswith("#") and w[3] == "db1":
                state[w[1]] = w[5]
    except OSError:
        pass
    return [state.get(b, "?") for b in backends]
with open(out, "a", buffering=1) as f:
    for _ in range(2400):
        if os.path.exists(stop):
            break
        row = ["%d" % (time.time() * 1000)]
        for i in range(nh):
            row += states("%s/haproxy%d.sock" % (tmp, i))
        f.write(" ".join(row) + "\n")
        time.sleep(0.05)
PYEOF
}

# poller FILE - appends "<ms> check <line>" and "<ms> http <code>" every ~30 ms until
# $tmp/stop exists (at most 1200 rounds). Refused connections give "" and "000".
poller() {
	local i
	for i in $(seq 1 1200); do
		[ -e "$tmp/stop" ] && return 0
		echo "$(date +%s%3N) check $(ask)" >>"$1"
		echo "$(date +%s%3N) http $(curl -s -m 1 -o /dev/null -w '%{http_code}' "http://$ADDR:$APORT/check/writer")" >>"$1"
		sleep 0.03
	done
}

# wait_lines FILE N - waits (20 s) until FILE has at least N lines.
wait_lines() {
	local i
	for i in $(seq 1 200); do
		[ "$(cat "$1" 2>/dev/null | wc -l)" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# agent_field FIELD - a field of `show stat` for be_writer/db1 (agent_status, last_agt, ...).
agent_field() { hap_server_field "$HSOCK" be_writer db1 "$1"; }

# ---- one SQL session through each HAProxy, kept open across the restarts --------------------
$PY - "$ADDR" "$FEPORT" "$NH" "$tmp" >"$tmp/session.out" 2>&1 <<'EOF' &
import os, sys, time
import psycopg2
addr, port, nh, tmp = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
sessions = []
for i in range(nh):
    c = psycopg2.connect(host=addr, port=port + i, user="postgres", dbname="postgres",
                         connect_timeout=5)
    c.autocommit = True
    cur = c.cursor()
    cur.execute("select pg_backend_pid()")
    sessions.append((cur, cur.fetchone()[0]))
open(tmp + "/session.ready", "w").close()
for _ in range(1200):  # at most 120 s
    if os.path.exists(tmp + "/go"):
        break
    time.sleep(0.1)
for cur, before in sessions:
    try:
        cur.execute("select pg_backend_pid()")
        after = cur.fetchone()[0]
        print("same" if after == before else "other %s %s" % (before, after))
    except Exception as e:
        print("lost: %s" % str(e).strip().replace("\n", " "))
EOF
sess_pid=$!
for i in $(seq 1 100); do [ -e "$tmp/session.ready" ] && break; sleep 0.1; done
[ -e "$tmp/session.ready" ] && ok "SQL sessions open through every HAProxy" || ko "SQL sessions did not open: $(cat "$tmp/session.out")"

# ---- kill -9 and restart, sampled ----------------------------------------------------------
sampler "$tmp/samples" &
sampler_pid=$!
poller "$tmp/answers" &
poller_pid=$!
wait_lines "$tmp/samples" 10 || ko "sampler produced no samples"

for r in $(seq 1 "$RESTARTS"); do
	kill -KILL "$apid"
	wait "$apid" 2>/dev/null
	apid=
	# HAProxy has seen the agent gone (connection refused) before the restart
	for i in $(seq 1 100); do
		case $(agent_field agent_status) in L4CON* | L4TOUT* | L7RSP*) break ;; esac
		sleep 0.05
	done
	ok "restart $r: agent killed, HAProxy agent_status $(agent_field agent_status), server $(agent_field status)"
	lines=$(wc -l <"$tmp/agent.log")
	agent_start || break
	# HAProxy has a fresh agent reply from the restarted agent
	for i in $(seq 1 100); do
		[ "$(agent_field agent_status)" = L7OK ] && break
		sleep 0.05
	done
	opened=$(tail -n +$((lines + 1)) "$tmp/agent.log" | grep -o 'agent port .* open after [0-9]* ms: .*' | head -n 1)
	case $opened in
	*"every probe has a first result"*) ok "restart $r: $opened" ;;
	*) ko "restart $r: port opening not logged as expected: \"$opened\"" ;;
	esac
	n=$(wc -l <"$tmp/samples")
	wait_lines "$tmp/samples" $((n + 10)) || ko "sampler stopped" # ~0.5 s after the first reply
done

touch "$tmp/stop"
wait "$sampler_pid" 2>/dev/null
wait "$poller_pid" 2>/dev/null
sampler_pid=
poller_pid=

total=$(wc -l <"$tmp/samples")
echo "     $total samples over $(awk 'NR == 1 { a = $1 } { b = $1 } END { print b - a }' "$tmp/samples") ms"
for i in $(seq 0 $((NH - 1))); do
	w=$((2 + 3 * i)) # column of be_writer for the i-th HAProxy
	bad=$(awk -v c=$w '$c != 2' "$tmp/samples" | wc -l)
	expect "${hnames[$i]}: samples with be_writer/db1 not RUNNING through $RESTARTS restarts" 0 "$bad"
	awk -v c=$w '$c != 2 { print $1, $c }' "$tmp/samples" | head -n 5 | sed 's/^/     not running (ms state): /'
	expect "${hnames[$i]}: status at the end" UP "$(hap_server_field "$tmp/haproxy$i.sock" be_writer db1 status)"
	echo "note ${hnames[$i]}: HTTP health checks on /check/writer, inter 1s (information, not asserted):" \
		"fall 1: $(awk -v c=$((w + 1)) '$c != 2' "$tmp/samples" | wc -l) samples not RUNNING," \
		"fall 2: $(awk -v c=$((w + 2)) '$c != 2' "$tmp/samples" | wc -l)"
done

checks=$(grep -c ' check .' "$tmp/answers")
refused=$(grep -c ' check $' "$tmp/answers")
wrong=$(grep ' check .' "$tmp/answers" | grep -vc ' check up ready')
echo "     agent-check answers: $checks (refused while down or starting: $refused)"
expect "agent-check answers other than \"up ready\"" 0 "$wrong"
grep ' check .' "$tmp/answers" | grep -v ' check up ready' | head -n 5 | sed 's/^/     /'
codes=$(awk '$2 == "http" { print $3 }' "$tmp/answers" | sort | uniq -c | tr -s ' ' | tr '\n' ',')
echo "     GET /check/writer codes (count code): $codes"
expect "GET /check/writer answers other than 200 (000 = refused)" 0 \
	"$(awk '$2 == "http" && $3 != "200" && $3 != "000"' "$tmp/answers" | wc -l)"
[ "$(awk '$2 == "http" && $3 == "200"' "$tmp/answers" | wc -l)" -gt 0 ] && ok "GET /check/writer answered 200" ||
	ko "GET /check/writer never answered"

touch "$tmp/go"
wait "$sess_pid" 2>/dev/null
sess_pid=
expect "SQL sessions (one per HAProxy) that survived the restarts" "$NH" "$(grep -c '^same$' "$tmp/session.out")"
grep -v '^same$' "$tmp/session.out" | head -n 5 | sed 's/^/     /'
grep -q 'check writer: .* -> fail' "$tmp/agent.log" && ko "the log shows a writer 'fail'" || ok "no writer 'fail' in the log"

# ---- negative control: the sampler does see a DOWN ------------------------------------------
rm -f "$tmp/stop"
sampler "$tmp/samples2" &
sampler_pid=$!
pg_stop "$tmp/pg1" immediate
for i in $(seq 0 $((NH - 1))); do
	hap_wait_field "$tmp/haproxy$i.sock" be_writer db1 status 'DOWN.*' 20 &&
		ok "PostgreSQL stopped: ${hnames[$i]} marks db1 DOWN" ||
		ko "${hnames[$i]} never marked db1 DOWN after PostgreSQL stopped"
done
n=$(wc -l <"$tmp/samples2")
wait_lines "$tmp/samples2" $((n + 2))
touch "$tmp/stop"
wait "$sampler_pid" 2>/dev/null
sampler_pid=
for i in $(seq 0 $((NH - 1))); do
	[ "$(awk -v c=$((2 + 3 * i)) '$c != 2' "$tmp/samples2" | wc -l)" -gt 0 ] &&
		ok "negative control: the sampler saw ${hnames[$i]}'s db1 leave RUNNING" ||
		ko "negative control: the sampler never saw ${hnames[$i]}'s db1 leave RUNNING"
done

echo "test_agent_restart: $fails failure(s)"
[ "$fails" -eq 0 ]
