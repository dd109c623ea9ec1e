# tests/failover/lib.sh - the runner helpers tests/failover/scenarios.sh expects, shared by
# its two runners: tests/integration/test_failover.sh and bench/failover.sh.
#
# Sourced after the runner has set: ROOT, D (docker/demo.sh), PY (/usr/bin/python3 with
# psycopg2), ENV (the demo's cluster.env), STATE (the demo's state.env), WORK (the runner's
# work directory, where client.py writes progress.json), LOG (its log) and WRITE_SRC (the `src`
# column writable() inserts).

# wait_cond SECONDS CMD... : polls every 0.1 s, returns 1 after SECONDS.
wait_cond() {
	local limit=$1 i
	shift
	for ((i = 0; i < limit * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
prog() { jq -r ".$1 // 0" "$WORK/progress.json" 2>/dev/null || echo 0; }
prog_ge() { [ "$(prog "$1")" -ge "$2" ]; }
prog_node() { jq -r ".acks_by_node.\"$1\" // 0" "$WORK/progress.json" 2>/dev/null || echo 0; }
prog_node_ge() { [ "$(prog_node "$1")" -ge "$2" ]; }
state() { sed -n "s/^$1=//p" "$STATE" | tail -1; }
host_of() { sed -n "s/^$1_HOST=//p" "$ENV"; }
agent_json() { curl -fsS -m1 "http://$(host_of "$1"):$(sed -n "s/^$1_AGENT_PORT=//p" "$ENV")/status"; }
note() { NOTES="${NOTES:+$NOTES; }$*"; }
# server_is BACKEND SERVER STATE: HAProxy's stats socket says the server's status starts so.
server_is() {
	$PY - "$ROOT/.demo/haproxy.sock" "$1" "$2" "$3" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(sys.argv[1])
s.sendall(b"show stat\n"); out = b""
while True:
    d = s.recv(65536)
    if not d: break
    out += d
for line in out.decode().splitlines():
    f = line.split(",")
    if len(f) > 17 and f[0] == sys.argv[2] and f[1] == sys.argv[3]:
        sys.exit(0 if f[17].startswith(sys.argv[4]) else 1)
sys.exit(1)
EOF
}
writable() { # one write (src WRITE_SRC) through HAProxy's write port succeeds
	$PY - "$ENV" "$WRITE_SRC" <<'EOF'
import sys, psycopg2
env = dict(l.strip().split("=", 1) for l in open(sys.argv[1]) if "=" in l and not l.startswith("#"))
c = psycopg2.connect(host=env["HAPROXY_HOST"], port=env["HAPROXY_PG_PORT"], user=env["PGUSER"],
                     dbname=env["PGDATABASE"], connect_timeout=2)
c.autocommit = True
c.cursor().execute("INSERT INTO demo_writes (src) VALUES (%s)", (sys.argv[2],))
EOF
}

# demo_up_or_use WHY_LEFT_UP FAIL_PREFIX - uses the running demo (says so, with WHY_LEFT_UP) or
# starts one (STARTED_DEMO=1, its output in $LOG); when that fails shows the log's tail and
# "FAIL_PREFIXdocker/demo.sh up failed", and returns 1.
demo_up_or_use() {
	if [ -f "$ROOT/.demo/up" ] && "$D" status >/dev/null 2>&1; then
		echo "using the running demo ($1)"
		return 0
	fi
	STARTED_DEMO=1
	"$D" up >>"$LOG" 2>&1 && return 0
	tail -20 "$LOG"
	echo "$2docker/demo.sh up failed"
	return 1
}
