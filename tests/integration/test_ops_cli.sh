#!/bin/bash
# tests/integration/test_ops_cli.sh - one command-line convention for both daemons, and the
# user-facing lists that must stay complete (issue 15).
#
#   1. haprole-agent and haprole-spoa: -v and --version print "PROGRAM VERSION", one version;
#      --help shows the same options block (common/proc.c) with examples; -c prints
#      "FILE: configuration is valid (...)"; a value out of range says the range.
#   2. Without -d each goes to the background once its ports are bound: the command returns 0,
#      -p PIDFILE names the running daemon, its port answers, the pidfile goes at exit; a port
#      already in use gives exit 1 to the caller. With -d it stays in the foreground.
#   3. make help lists every target of the Makefile's .PHONY lines; docker/demo.sh help does not
#      call the loopback layout unimplemented.
# Its address and ports: block test_ops_cli of tests/integration/lib/fixture.sh.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
. tests/integration/lib/fixture.sh
fails=0
fix_block test_ops_cli
fix_ports P_AGENT P_SPOA P_STATUS P_BUSY
fix_tmp ops-cli
pids=()
fix_pre_cleanup() {
	local p
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ -f "$tmp/busy.pid" ] && kill "$(cat "$tmp/busy.pid")" 2>/dev/null
	# A daemon that went to the background where a check failed: every process of ours
	# names this test's own directory in its arguments.
	for p in $(pgrep -f -- "$tmp/"); do kill -9 "$p" 2>/dev/null; done
}
trap 'exit 1' INT TERM
for b in ./haprole-agent ./haprole-spoa; do [ -x "$b" ] || { echo "FAIL: $b not built (make)"; exit 1; }; done

cat >"$tmp/agent.conf" <<EOF
[agent]
cluster = t
node = n1
listen = $IP:$P_AGENT
heartbeat = 200ms
shutdown_grace = 100ms
admin_socket = $tmp/agent.sock
state_file = $tmp/agent.state
[check writer]
kind = writer
EOF
cat >"$tmp/spoa.conf" <<EOF
[spoa]
listen = $IP:$P_SPOA
status_listen = $IP:$P_STATUS
[cluster main]
[node db1]
cluster = main
agent = $IP:$P_AGENT
EOF

# ---- 1. the same words ------------------------------------------------------------------------
va=$(./haprole-agent -v)
vs=$(./haprole-spoa -v)
expect_match "haprole-agent -v" '^haprole-agent [0-9]+\.[0-9]+\.[0-9]+$' "$va"
expect "haprole-agent --version = -v" "$va" "$(./haprole-agent --version)"
expect "haprole-spoa -v: the same format and version" "haprole-spoa ${va#haprole-agent }" "$vs"
expect "haprole-spoa --version = -v" "$vs" "$(./haprole-spoa --version)"
expect "haprolectl --version: the same version" "haprolectl ${va#haprole-agent }" "$(./haprolectl --version)"
opts() { "$1" --help | sed -n '/^options:/,/^$/p' | sed -e "s|$1|PROG|g" -e 's|/etc/haprole/haprole-[a-z]*.conf|CONF|'; }
oa=$(opts ./haprole-agent | sed 's|haprole-agent|PROG|g')
os=$(opts ./haprole-spoa | sed 's|haprole-spoa|PROG|g')
expect_match "haprole-agent --help has the options block" '-p PIDFILE' "$oa"
expect "haprole-spoa --help: the same options block" "$oa" "$os"
for b in haprole-agent haprole-spoa; do
	h=$(./$b --help)
	expect_match "$b --help teaches by examples" "examples:" "$h"
	expect_match "$b --help points at the man page" "man $b" "$h"
done
out=$(./haprole-agent -c -f "$tmp/agent.conf" 2>&1)
expect "haprole-agent -c" "$tmp/agent.conf: configuration is valid (1 checks, default writer) 0" "$out $?"
out=$(./haprole-spoa -c -f "$tmp/spoa.conf" 2>&1)
expect "haprole-spoa -c: the same wording" "$tmp/spoa.conf: configuration is valid (1 clusters, 1 nodes) 0" "$out $?"
sed 's/^heartbeat = 200ms/heartbeat = 5m/' "$tmp/agent.conf" >"$tmp/bad.conf"
out=$(./haprole-agent -c -f "$tmp/bad.conf" 2>&1)
expect "heartbeat = 5m says the range" "$tmp/bad.conf:5: key 'heartbeat': out of range: 10ms to 1m (got \"5m\") 1" "$out $?"
printf '[spoa]\nlisten = %s:%s\nheartbeat = 5m\n' $IP $P_SPOA >"$tmp/bad-spoa.conf"
out=$(./haprole-spoa -c -f "$tmp/bad-spoa.conf" 2>&1)
expect_match "haprole-spoa: a range error says the range" "key 'heartbeat': out of range: [0-9]+m?s to [0-9]+[smh] \(got \"5m\"\)" "$out"
for b in haprole-agent haprole-spoa; do
	./$b -d -f "$tmp/agent.conf" extra >/dev/null 2>"$tmp/err"
	expect "$b refuses a stray argument (exit 2)" 2 "$?"
done

# ---- 2. background, pidfile ---------------------------------------------------------------------
# daemon_bg NAME BIN CONF PORT: starts without -d, checks the pidfile and port, stops it.
daemon_bg() {
	local name=$1 bin=$2 conf=$3 port=$4 pf=$tmp/$1.pid p i
	timeout 10 "$bin" --allow-root -f "$conf" -p "$pf" >"$tmp/$name.out" 2>&1
	expect "$name without -d returns once bound" 0 "$?"
	p=$(cat "$pf" 2>/dev/null)
	expect_match "$name -p: the pidfile names a pid" '^[0-9]+$' "$p"
	[ -n "$p" ] || return
	pids+=("$p")
	expect "$name: that pid is the daemon, in the background" "$(basename "$bin")" \
		"$(ps -o comm= -p "$p" 2>/dev/null | head -c 15)"
	if (exec 3<>"/dev/tcp/$IP/$port") 2>/dev/null; then ok "$name: its port answers"; else ko "$name: its port answers"; fi
	kill -TERM "$p"
	for ((i = 0; i < 100; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
	expect "$name stops on SIGTERM" gone "$(kill -0 "$p" 2>/dev/null && echo running || echo gone)"
	expect "$name: the pidfile is removed at exit" absent "$([ -e "$pf" ] && echo present || echo absent)"
}
daemon_bg haprole-agent ./haprole-agent "$tmp/agent.conf" $P_AGENT
daemon_bg haprole-spoa ./haprole-spoa "$tmp/spoa.conf" $P_SPOA

# A port in use: the bind error reaches the caller (exit 1), nothing stays behind.
python3 -c 'import socket,sys,time,os
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1)
open(sys.argv[3], "w").write(str(os.getpid())); time.sleep(30)' $IP $P_BUSY "$tmp/busy.pid" &
for ((i = 0; i < 50; i++)); do [ -s "$tmp/busy.pid" ] && break; sleep 0.05; done
sed "s/^listen = .*/listen = $IP:$P_BUSY/" "$tmp/agent.conf" >"$tmp/busy-agent.conf"
sed "s/^listen = .*/listen = $IP:$P_BUSY/" "$tmp/spoa.conf" >"$tmp/busy-spoa.conf"
timeout 10 ./haprole-agent --allow-root -f "$tmp/busy-agent.conf" -p "$tmp/busy-a.pid" >/dev/null 2>&1
expect "haprole-agent on a port in use: exit 1 to the caller" 1 "$?"
timeout 10 ./haprole-spoa --allow-root -f "$tmp/busy-spoa.conf" -p "$tmp/busy-s.pid" >/dev/null 2>&1
expect "haprole-spoa on a port in use: exit 1 to the caller" 1 "$?"
expect "no pidfile for a daemon that did not start" absent \
	"$([ -e "$tmp/busy-a.pid" ] || [ -e "$tmp/busy-s.pid" ] && echo present || echo absent)"

# -d: foreground (the started process itself keeps running).
./haprole-spoa --allow-root -d -f "$tmp/spoa.conf" -p "$tmp/fg.pid" 2>"$tmp/fg.log" &
fg=$!
pids+=("$fg")
for ((i = 0; i < 100; i++)); do [ -s "$tmp/fg.pid" ] && break; sleep 0.05; done
expect "haprole-spoa -d stays in the foreground (the pidfile names the process started)" "$fg" "$(cat "$tmp/fg.pid" 2>/dev/null)"
kill -TERM "$fg"; wait "$fg" 2>/dev/null

# ---- 3. the lists -------------------------------------------------------------------------------
# .PHONY lines, continuation lines joined; fuzz-bins is an internal step of `make fuzz`.
targets=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' Makefile | sed -n 's/^\.PHONY://p' | tr ' \t' '\n\n' |
	sed '/^$/d' | grep -vx 'fuzz-bins' | sort -u)
help=$(make -s help)
missing=
for t in $targets; do
	printf '%s\n' "$help" | grep -Eq "make $t( |,|$)" || missing="$missing $t"
done
expect "make help lists every .PHONY target ($(echo $targets | wc -w) of them)" "" "$missing"
expect "docker/demo.sh help no longer calls the loopback layout unimplemented" 0 \
	"$(docker/demo.sh help | grep -ci 'not implemented')"
exit $((fails > 0))
