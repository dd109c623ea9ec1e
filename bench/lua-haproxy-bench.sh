#!/bin/bash
# bench/lua-haproxy-bench.sh - HAProxy HTTP throughput with the Lua router's action
# (http-request lua.haprole-route, haproxy/haprole.lua) against the same HAProxy with no routing
# rule and with haprole-spoa's SPOE filter, same run: the per-request cost of each router, as
# req/s and as HAProxy's own CPU time per request (/proc/PID/stat, user + system).
# HAProxy runs `nbthread 1` alone on CPU 0; wrk (1 thread, 50 connections), nginx (`return 200`),
# haprole-spoa and the feed-fake agent share CPU 1. Two rounds, best of each mode kept.
#   bench/lua-haproxy-bench.sh [SECONDS] [ROOT]   ROOT: a 3.x root (lib/haproxy3.sh), default 2.6
# Uses 127.0.47.31, ports 34940-34949.
set -u
cd "$(dirname "$0")/.."
. tests/integration/lib/haproxy.sh
secs=${1:-10}
root=${2:-}
IP=127.0.47.31
for b in ./haprole-spoa build/bench/feed-fake; do
	[ -x "$b" ] || { echo "lua-haproxy-bench: $b not built (make)"; exit 1; }
done
command -v wrk >/dev/null || { echo "lua-haproxy-bench: wrk not installed"; exit 1; }
command -v nginx >/dev/null || { echo "lua-haproxy-bench: nginx not installed"; exit 1; }
tmp=$(mktemp -d)
chmod 755 "$tmp"
pids=()
cleanup() {
	hap_cleanup_all
	kill "${pids[@]}" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

cat >"$tmp/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/nginx.err;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $tmp; proxy_temp_path $tmp; fastcgi_temp_path $tmp;
	uwsgi_temp_path $tmp; scgi_temp_path $tmp;
	server { listen $IP:34941; location / { return 200 "db1\n"; } }
}
CONF
taskset -c 1 nginx -c "$tmp/nginx.conf" -p "$tmp" &
pids+=($!)
build/bench/feed-fake -l "$IP:34944" -c main -n db1 -r primary </dev/null >/dev/null 2>&1 &
pids+=($!)
cat >"$tmp/spoa.conf" <<CONF
[spoa]
listen = $IP:34942
status_listen = $IP:34943
log_level = warning
[cluster main]
[node db1]
cluster = main
agent = $IP:34944
CONF
taskset -c 1 ./haprole-spoa -d -f "$tmp/spoa.conf" 2>"$tmp/spoa.log" &
pids+=($!)
sed "s/127.0.0.1:12345/$IP:34942/" haproxy/spoe-haprole.conf >"$tmp/spoe.conf"

# mode: none | lua | spoa
write_cfg() {
	local rule="" glob="" hdr=""
	# the writer the router chose, for the check before each run (HAProxy 2.6.12 was seen to
	# segfault at stop with this header in a config without any router: not in mode none)
	[ "$2" != none ] && hdr="http-response set-header x-writer %[var(txn.haprole.writer)]"
	case $2 in
	lua)
		glob="setenv HAPROLE_NODES db1=$IP:34944
	setenv HAPROLE_CLUSTER main
	lua-load $PWD/haproxy/haprole.lua"
		rule="http-request lua.haprole-route" ;;
	spoa) rule="filter spoe engine haprole-http config $tmp/spoe.conf" ;;
	esac
	cat >"$1" <<CFG
global
	nbthread 1
	cpu-map 1 0
	stats socket $tmp/stats.sock mode 600 level admin
	$glob
defaults
	mode http
	timeout connect 1s
	timeout client 10s
	timeout server 10s
frontend fe
	bind $IP:34940
	$rule
	http-request return status 503 if { var(txn.haprole.status) -m found } !{ var(txn.haprole.status) -m str ok }
	$hdr
	default_backend be
backend be
	use-server %[var(txn.haprole.writer)] if { var(txn.haprole.writer) -m found }
	force-persist if { var(txn.haprole.writer) -m found }
	server db1 $IP:34941
backend spoe-haprole
	mode tcp
	timeout connect 500ms
	timeout server 1m
	server spoa1 $IP:34942
CFG
}

ver=$(hap_version "$root")
echo "# $(date -u +%FT%TZ) haproxy $ver nbthread 1 on CPU 0; wrk (1 thread, 50 conns), nginx, SPOA, agent on CPU 1; ${secs}s each"
declare -A rps cpu
# cpu_ticks PID: utime + stime of the process, in clock ticks
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
for mode in none lua spoa none lua spoa; do
	write_cfg "$tmp/haproxy.cfg" $mode
	hap_start "$tmp/haproxy.cfg" "$root" || exit 1
	want=""
	[ "$mode" != none ] && want=db1
	got=""
	for i in $(seq 1 50); do # the router must be routing before the run counts
		got=$(curl -s -D - -o /dev/null "http://$IP:34940/" | sed -n 's/^x-writer: *\([^[:space:]]*\).*/\1/pi')
		[ "$got" = "$want" ] && break
		sleep 0.1
	done
	[ "$got" = "$want" ] || { echo "lua-haproxy-bench: $mode: writer '$got', want '$want'"; exit 1; }
	c0=$(cpu_ticks "$HAP_PID")
	out=$(taskset -c 1 wrk -t1 -c50 -d"${secs}s" "http://$IP:34940/")
	c1=$(cpu_ticks "$HAP_PID")
	hap_stop
	r=$(printf '%s\n' "$out" | sed -n 's/^Requests\/sec:[[:space:]]*//p')
	n=$(printf '%s\n' "$out" | sed -n 's/^[[:space:]]*\([0-9]*\) requests in.*/\1/p')
	# HAProxy's own CPU per request (user + system), less sensitive to a busy machine than req/s
	us=$(awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v n="$n" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
	echo "$mode req/s $r, haproxy CPU per request ${us} us"
	awk -v a="${rps[$mode]:-0}" -v b="$r" 'BEGIN { exit !(b > a) }' && rps[$mode]=$r
	awk -v a="${cpu[$mode]:-1e9}" -v b="$us" 'BEGIN { exit !(b < a) }' && cpu[$mode]=$us
done
awk -v n="${rps[none]}" -v l="${rps[lua]}" -v s="${rps[spoa]}" 'BEGIN {
	printf "best req/s: no routing %.0f, Lua router %.0f (%.3f of it), haprole-spoa %.0f (%.3f)\n", n, l, l / n, s, s / n }'
awk -v n="${cpu[none]}" -v l="${cpu[lua]}" -v s="${cpu[spoa]}" 'BEGIN {
	printf "least haproxy CPU per request: no routing %.1f us, Lua router %.1f us (+%.1f), haprole-spoa %.1f us (+%.1f)\n", n, l, l - n, s, s - n }'
