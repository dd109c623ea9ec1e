#!/bin/bash
# bench/spoa-haproxy-bench.sh - HAProxy HTTP throughput with haprole-spoa on, against the same
# HAProxy with an instant echo SPOA (spoa-load --echo) and with no SPOE at all, same run
# (docs/design.md section 10). HAProxy runs `nbthread 1` alone on CPU 0; the SPOA, the load generator
# (wrk) and the backend (nginx, `return 200`) share CPU 1. Prints req/s for each and the ratios.
#   bench/spoa-haproxy-bench.sh [SECONDS] [ROOT]   ROOT: a 3.x root (lib/haproxy3.sh), default 2.6
# Uses 127.0.12.31, ports 22940-22949.
set -u
cd "$(dirname "$0")/.."
. tests/integration/lib/haproxy.sh
secs=${1:-10}
root=${2:-}
IP=127.0.12.31
for b in ./haprole-spoa build/bench/spoa-load build/bench/feed-fake; do
	[ -x "$b" ] || { echo "spoa-haproxy-bench: $b not built (make)"; exit 1; }
done
command -v wrk >/dev/null || { echo "spoa-haproxy-bench: wrk not installed"; exit 1; }
command -v nginx >/dev/null || { echo "spoa-haproxy-bench: nginx not installed"; exit 1; }
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
	server { listen $IP:22941; location / { return 200 "db1\n"; } }
}
CONF
taskset -c 1 nginx -c "$tmp/nginx.conf" -p "$tmp" &
pids+=($!)
cat >"$tmp/spoa.conf" <<CONF
[spoa]
listen = $IP:22942
status_listen = $IP:22943
log_level = warning
[cluster main]
[node db1]
cluster = main
agent = $IP:22944
CONF
build/bench/feed-fake -l "$IP:22944" -n db1 -r primary </dev/null >/dev/null 2>&1 &
pids+=($!)
taskset -c 1 ./haprole-spoa -d -f "$tmp/spoa.conf" 2>"$tmp/spoa.log" &
spoa=$!
pids+=($spoa)
taskset -c 1 build/bench/spoa-load --echo "$IP:22945" >/dev/null &
pids+=($!)
sed "s/127.0.0.1:12345/$IP:22942/" haproxy/spoe-haprole.conf >"$tmp/spoe.conf"

# mode: none | haprole | echo
write_cfg() {
	local spoe="" port=22942
	[ "$2" = echo ] && port=22945
	[ "$2" != none ] && spoe="filter spoe engine haprole-http config $tmp/spoe.conf
	http-request return status 503 if { var(txn.haprole.status) -m found } !{ var(txn.haprole.status) -m str ok }"
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
frontend fe
	bind $IP:22940
	$spoe
	default_backend be
backend be
	use-server %[var(txn.haprole.writer)] if { var(txn.haprole.writer) -m found }
	force-persist if { var(txn.haprole.writer) -m found }
	server db1 $IP:22941
backend spoe-haprole
	mode tcp
	timeout connect 500ms
	timeout server 1m
	server spoa1 $IP:$port
CFG
}

for i in $(seq 1 50); do
	curl -s "http://$IP:22943/" 2>/dev/null | grep -q '"status":"ok"' && break
	sleep 0.1
done
ver=$(hap_version "$root")
echo "# $(date -u +%FT%TZ) haproxy $ver nbthread 1 on CPU 0; SPOA, wrk (1 thread, 50 conns) and nginx on CPU 1; ${secs}s each"
declare -A rps
for mode in none echo haprole none echo haprole; do
	write_cfg "$tmp/haproxy.cfg" $mode
	hap_start "$tmp/haproxy.cfg" "$root" || exit 1
	got=$(curl -s "http://$IP:22940/")
	[ "$got" = db1 ] || { echo "spoa-haproxy-bench: $mode: got '$got'"; exit 1; }
	r=$(taskset -c 1 wrk -t1 -c50 -d"${secs}s" "http://$IP:22940/" | sed -n 's/^Requests\/sec:[[:space:]]*//p')
	hap_stop
	echo "$mode req/s $r"
	# keep the best of the two rounds per mode
	awk -v a="${rps[$mode]:-0}" -v b="$r" 'BEGIN { exit !(b > a) }' && rps[$mode]=$r
done
awk -v n="${rps[none]}" -v e="${rps[echo]}" -v h="${rps[haprole]}" 'BEGIN {
	printf "best: no-SPOE %.0f req/s, echo SPOA %.0f, haprole-spoa %.0f\n", n, e, h
	printf "haprole-spoa / echo SPOA = %.3f (target >= 0.95); echo / no-SPOE = %.3f; haprole-spoa / no-SPOE = %.3f\n", h / e, e / n, h / n }'
echo "# haprole-spoa RSS after the runs: $(sed -n 's/^VmRSS:[[:space:]]*//p' /proc/$spoa/status)"
