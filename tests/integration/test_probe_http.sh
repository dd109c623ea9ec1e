#!/bin/bash
# tests/integration/test_probe_http.sh - the agent's HTTP and TCP probes (agent/http_probe.c)
# against a real nginx, through bench/hp-watch (one probe alone on a libev loop, one line per
# change, a "tick" line every second from the same loop).
#
# Shows: 200 -> up; 503 -> down with the status in err; expect=503 -> up; the Host header picks
# the nginx server block; stub_status -> active connection count; a server that accepts and
# never answers -> down by the probe timeout while the loop keeps ticking; nginx stopped -> http
# and tcp probes down (connection refused).
# Addresses 127.0.11.3, ports 21080-21081 (this engineer's range).
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib/probe.sh

NGINX=${NGINX:-/usr/sbin/nginx}
PY=/usr/bin/python3
if [ ! -x "$NGINX" ]; then
	echo "skip: $NGINX not found (apt-get install nginx-light)"
	exit 77
fi
if [ ! -x "$PY" ]; then
	echo "skip: $PY not found"
	exit 77
fi
WATCH=${HP_WATCH:-build/bench/hp-watch}
probe_watch_built "$WATCH" || exit 1

ADDR=127.0.11.3
PORT=21080
SILENT_PORT=21081

tmp=$(mktemp -d)
pids=()
nginx_pid=""
cleanup() {
	local p
	for p in "${pids[@]}" $nginx_pid; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

fails=0
# ok, bad, lines, wait_line: lib/probe.sh.

# watch NAME ARGS... - hp-watch in the background, output in $tmp/NAME.out.
watch() {
	local name=$1
	shift
	"$WATCH" -i 100ms -t 300ms -r 2 -f 2 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	pids+=($!)
}

dump() {
	echo "---- $1"
	tail -n 8 "$tmp/$1.out"
	tail -n 4 "$tmp/$1.err"
}

# expect NAME REGEX WHAT - waits (5 s at most) for a line of NAME matching REGEX.
expect() {
	local l
	if l=$(wait_line "$tmp/$1.out" 0 "$2" 5); then
		ok "$3: ${l#* }"
	else
		bad "$3 (no line matching '$2')"
		dump "$1"
	fi
}

mkdir -p "$tmp/nginx"
cat >"$tmp/nginx/nginx.conf" <<EOF
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
worker_processes 1;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $tmp/nginx;
	proxy_temp_path $tmp/nginx;
	fastcgi_temp_path $tmp/nginx;
	uwsgi_temp_path $tmp/nginx;
	scgi_temp_path $tmp/nginx;
	server {
		listen $ADDR:$PORT default_server;
		location = / { return 200 "ok\n"; }
		location = /down { return 503; }
		location = /stub { stub_status; }
		location = /host { return 404; }
	}
	server {
		listen $ADDR:$PORT;
		server_name probe.example;
		location = /host { return 200 "right host\n"; }
	}
}
EOF
"$NGINX" -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx" &
nginx_pid=$!
for ((i = 0; i < 100; i++)); do
	curl -fs -o /dev/null "http://$ADDR:$PORT/" && break
	sleep 0.05
done
if ! curl -fs -o /dev/null "http://$ADDR:$PORT/"; then
	echo "FAIL: nginx did not start"
	cat "$tmp/nginx/error.log"
	exit 1
fi

# a server that accepts (the kernel does, from the backlog) and never answers
"$PY" -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('$ADDR', $SILENT_PORT)); s.listen(16); time.sleep(120)" &
pids+=($!)
for ((i = 0; i < 100; i++)); do
	nc -z "$ADDR" $SILENT_PORT 2>/dev/null && break
	sleep 0.05
done

watch root "http://$ADDR:$PORT/"
watch down "http://$ADDR:$PORT/down"
watch down503 -e 503 "http://$ADDR:$PORT/down"
watch stub -s "http://$ADDR:$PORT/stub"
watch host -H probe.example "http://$ADDR:$PORT/host"
watch nohost "http://$ADDR:$PORT/host"
watch tcp -k tcp "$ADDR:$PORT"
watch silent "http://$ADDR:$SILENT_PORT/"

expect root "up=1 status=200 .*err=\"\"" "GET / -> 200 -> up"
expect down "up=0 status=503 .*err=\"HTTP status 503, expected 200-399\"" "GET /down -> 503 -> down"
expect down503 "up=1 status=503" "GET /down with expect 503 -> up"
expect stub "up=1 status=200 active=[1-9][0-9]* " "stub_status -> active connections read"
expect host "up=1 status=200" "Host: probe.example picks its server block -> 200 -> up"
expect nohost "up=0 status=404" "default Host -> default server -> 404 -> down"
expect tcp "up=1 " "tcp connect -> up"
expect silent "up=0 .*err=\"timeout after 300 ms \\(waiting for the response\\)\"" \
	"server that never answers -> down by the probe timeout"
from=$(lines "$tmp/silent.out")
if wait_line "$tmp/silent.out" "$from" "^tick" 3 >/dev/null; then
	ok "the probe's loop keeps ticking while the server stays silent"
else
	bad "no tick while the server is silent"
	dump silent
fi

# nginx stopped: refused
from_root=$(lines "$tmp/root.out")
from_tcp=$(lines "$tmp/tcp.out")
kill "$nginx_pid"
wait "$nginx_pid" 2>/dev/null
nginx_pid=""
if l=$(wait_line "$tmp/root.out" "$from_root" "up=0 .*err=\"connect: Connection refused\"" 5); then
	ok "nginx stopped -> http probe down: ${l##* err=}"
else
	bad "nginx stopped, http probe not down"
	dump root
fi
if l=$(wait_line "$tmp/tcp.out" "$from_tcp" "up=0 .*err=\"connect: Connection refused\"" 5); then
	ok "nginx stopped -> tcp probe down: ${l##* err=}"
else
	bad "nginx stopped, tcp probe not down"
	dump tcp
fi

# every watcher exits cleanly on SIGTERM (under SAN=1 builds, without sanitizer reports)
for p in "${pids[@]}"; do
	kill -TERM "$p" 2>/dev/null
	wait "$p" 2>/dev/null
done
pids=()
if grep -Eq 'Sanitizer|runtime error' "$tmp"/*.err; then
	bad "sanitizer reports:"
	grep -E -A 12 'Sanitizer|runtime error' "$tmp"/*.err | head -40
else
	ok "watchers stopped cleanly: root $(tail -n 1 "$tmp/root.out")"
fi

if [ "$fails" -ne 0 ]; then
	echo "test_probe_http: $fails check(s) failed"
	exit 1
fi
echo "test_probe_http: all checks passed"
exit 0
