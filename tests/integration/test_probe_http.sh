#!/bin/bash
# tests/integration/test_probe_http.sh - the agent's HTTP and TCP probes (agent/http_probe.c)
# against a real nginx, through bench/hp-watch (one probe alone on a libev loop, one line per
# change, a "tick" line every second from the same loop).
#
# Shows: 200 -> up; 503 -> down with the status in err; expect=503 -> up; the Host header picks
# the nginx server block; stub_status -> active connection count; a server that accepts and
# never answers -> down by the probe timeout while the loop keeps ticking; nginx stopped -> http
# and tcp probes down (connection refused).
# Its addresses and ports: block test_probe_http of tests/integration/lib/fixture.sh.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib/probe.sh

fix_need "$NGINX" python3 curl nc
WATCH=${HP_WATCH:-build/bench/hp-watch}
probe_watch_built "$WATCH" || exit 1
PROBE_WATCH_OPTS="-i 100ms -t 300ms -r 2 -f 2"

fix_block test_probe_http
ADDR=$IP
fix_ports PORT SILENT_PORT
fix_tmp probe-http
fails=0

probe_nginx "http://$ADDR:$PORT/" <<EOF
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
EOF
probe_silent "$ADDR" "$SILENT_PORT"

probe_watch root "http://$ADDR:$PORT/"
probe_watch down "http://$ADDR:$PORT/down"
probe_watch down503 -e 503 "http://$ADDR:$PORT/down"
probe_watch stub -s "http://$ADDR:$PORT/stub"
probe_watch host -H probe.example "http://$ADDR:$PORT/host"
probe_watch nohost "http://$ADDR:$PORT/host"
probe_watch tcp -k tcp "$ADDR:$PORT"
probe_watch silent "http://$ADDR:$SILENT_PORT/"

probe_expect root "up=1 status=200 .*err=\"\"" "GET / -> 200 -> up"
probe_expect down "up=0 status=503 .*err=\"HTTP status 503, expected 200-399\"" "GET /down -> 503 -> down"
probe_expect down503 "up=1 status=503" "GET /down with expect 503 -> up"
probe_expect stub "up=1 status=200 active=[1-9][0-9]* " "stub_status -> active connections read"
probe_expect host "up=1 status=200" "Host: probe.example picks its server block -> 200 -> up"
probe_expect nohost "up=0 status=404" "default Host -> default server -> 404 -> down"
probe_expect tcp "up=1 " "tcp connect -> up"
probe_expect silent "up=0 .*err=\"timeout after 300 ms \\(waiting for the response\\)\"" \
	"server that never answers -> down by the probe timeout"
probe_expect silent "^tick" "the probe's loop keeps ticking while the server stays silent" \
	"$(lines "$tmp/silent.out")" 3

# nginx stopped: refused
from_root=$(lines "$tmp/root.out")
from_tcp=$(lines "$tmp/tcp.out")
stop_pid "$NGINX_PID"
refused='up=0 .*err="connect: Connection refused"'
probe_expect root "$refused" "nginx stopped -> http probe down" "$from_root"
probe_expect tcp "$refused" "nginx stopped -> tcp probe down" "$from_tcp"

# every watcher exits cleanly on SIGTERM (under SAN=1 builds, without sanitizer reports)
echo "# root, last line: $(tail -n 1 "$tmp/root.out")"
probe_watchers_stop

if [ "$fails" -ne 0 ]; then
	echo "test_probe_http: $fails check(s) failed"
	exit 1
fi
echo "test_probe_http: all checks passed"
exit 0
