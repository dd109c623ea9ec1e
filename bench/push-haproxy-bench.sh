#!/bin/bash
# bench/push-haproxy-bench.sh - HAProxy HTTP throughput with the push router against no routing
# at all, and the SPOE router beside them, in one run (docs/design.md section 10: push mode,
# 1.00 within noise). The variants are interleaved over ROUNDS rounds so that the shared
# machine's drift hits them alike; prints each round, then per variant the median and the spread
# (min-max) of req/s, and the ratios of the medians.
#   none   the backend server, no check, no filter
#   push   the push-mode backend of haproxy/haprole-push.cfg (server `disabled`, health check)
#          set ready by a running haprole-spoa through the stats socket; no filter
#   spoe   the SPOE filter asking haprole-spoa on every request (haproxy/haproxy.cfg's way)
# HAProxy runs `nbthread 1` alone on CPU 0; haprole-spoa, wrk (1 thread, 50 connections) and the
# backend (nginx, `return 200`) share CPU 1.
#   bench/push-haproxy-bench.sh [SECONDS] [ROUNDS] [ROOT]   ROOT: a 3.x root (lib/haproxy3.sh)
# Uses 127.0.48.31, ports 35100-35109.
set -u
cd "$(dirname "$0")/.."
. tests/integration/lib/haproxy.sh
secs=${1:-5}
rounds=${2:-5}
root=${3:-}
IP=127.0.48.31
FE=35100
NGINX=35101
SPOA=35102
STATUS=35103
FEED=35104
for b in ./haprole-spoa build/bench/feed-fake; do
	[ -x "$b" ] || { echo "push-haproxy-bench: $b not built (make)"; exit 1; }
done
command -v wrk >/dev/null || { echo "push-haproxy-bench: wrk not installed"; exit 1; }
command -v nginx >/dev/null || { echo "push-haproxy-bench: nginx not installed"; exit 1; }
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
	server {
		listen $IP:$NGINX;
		location /check/writer { return 200 "up ready 100%\n"; }
		location / { return 200 "db1\n"; }
	}
}
CONF
taskset -c 1 nginx -c "$tmp/nginx.conf" -p "$tmp" &
pids+=($!)
build/bench/feed-fake -l "$IP:$FEED" -n db1 -r primary </dev/null >/dev/null 2>&1 &
pids+=($!)
cat >"$tmp/spoa.conf" <<CONF
[spoa]
listen = $IP:$SPOA
status_listen = $IP:$STATUS
log_level = warning
[cluster main]
[node db1]
cluster = main
agent = $IP:$FEED
[haproxy bench]
runtime_api = $tmp/stats.sock
cluster = main
writer_backend = be
verify_interval = 200ms
CONF
taskset -c 1 ./haprole-spoa -d -f "$tmp/spoa.conf" 2>"$tmp/spoa.log" &
spoa=$!
pids+=($spoa)
sed "s/127.0.0.1:12345/$IP:$SPOA/" haproxy/spoe-haprole.conf >"$tmp/spoe.conf"

# write_cfg FILE none|push|spoe
write_cfg() {
	local filter="" server="server db1 $IP:$NGINX" route=""
	case $2 in
	push)
		# as haproxy/haprole-push.cfg's pg_write: disabled until haprole-spoa says ready
		server="option httpchk GET /check/writer
	http-check expect status 200
	server db1 $IP:$NGINX check inter 1s fall 2 rise 1 disabled"
		;;
	spoe)
		filter="filter spoe engine haprole-http config $tmp/spoe.conf
	http-request return status 503 if { var(txn.haprole.status) -m found } !{ var(txn.haprole.status) -m str ok }"
		route="use-server %[var(txn.haprole.writer)] if { var(txn.haprole.writer) -m found }
	force-persist if { var(txn.haprole.writer) -m found }"
		;;
	esac
	cat >"$1" <<CFG
global
	nbthread 1
	cpu-map 1 0
	stats socket $tmp/stats.sock mode 600 level admin
defaults
	mode http
	timeout connect 1s
	timeout client 10s
	timeout server 10s
	timeout check 1s
frontend fe
	bind $IP:$FE
	$filter
	default_backend be
backend be
	balance first
	$route
	$server
backend spoe-haprole
	mode tcp
	timeout connect 500ms
	timeout server 1m
	server spoa1 $IP:$SPOA
CFG
}

for i in $(seq 1 50); do
	curl -s "http://$IP:$STATUS/" 2>/dev/null | grep -q '"status":"ok"' && break
	sleep 0.1
done
ver=$(hap_version "$root")
echo "# $(date -u +%FT%TZ) $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)); haproxy $ver nbthread 1 on CPU 0; haprole-spoa, wrk (1 thread, 50 conns) and nginx on CPU 1; ${secs}s x $rounds rounds, interleaved"
declare -A all
for r in $(seq 1 "$rounds"); do
	for mode in none push spoe; do
		write_cfg "$tmp/haproxy.cfg" $mode
		hap_start "$tmp/haproxy.cfg" "$root" || exit 1
		got=""
		for i in $(seq 1 50); do # push: until haprole-spoa has set the server ready
			got=$(curl -s -m 1 "http://$IP:$FE/")
			[ "$got" = db1 ] && break
			sleep 0.1
		done
		[ "$got" = db1 ] || { echo "push-haproxy-bench: $mode: got '$got'"; exit 1; }
		rps=$(taskset -c 1 wrk -t1 -c50 -d"${secs}s" "http://$IP:$FE/" | sed -n 's/^Requests\/sec:[[:space:]]*//p')
		hap_stop
		echo "round $r $mode req/s $rps"
		all[$mode]="${all[$mode]:-} $rps"
	done
done
# med_spread LIST - "median min max" of the numbers in LIST
med_spread() {
	echo "$1" | tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{ v[NR] = $1 } END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.0f %.0f %.0f", m, v[1], v[NR] }'
}
read -r nm nlo nhi <<<"$(med_spread "${all[none]}")"
read -r pm plo phi <<<"$(med_spread "${all[push]}")"
read -r sm slo shi <<<"$(med_spread "${all[spoe]}")"
echo "median (min-max) req/s: none $nm ($nlo-$nhi), push $pm ($plo-$phi), spoe $sm ($slo-$shi)"
awk -v n="$nm" -v p="$pm" -v s="$sm" -v nlo="$nlo" -v nhi="$nhi" 'BEGIN {
	printf "push / none = %.3f (target 1.00 within noise; none alone spreads %.3f-%.3f of its median); spoe / none = %.3f\n", p / n, nlo / n, nhi / n, s / n }'
