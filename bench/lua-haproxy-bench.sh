#!/bin/bash
# bench/lua-haproxy-bench.sh - HAProxy HTTP throughput with the Lua router's action
# (http-request lua.haprole-route, haproxy/haprole.lua) against the same HAProxy with no routing
# rule and with haprole-spoa's SPOE filter, same run: the per-request cost of each router, as
# req/s and as HAProxy's own CPU time per request (/proc/PID/stat, user + system).
# HAProxy runs `nbthread 1` alone on CPU 0; wrk (1 thread, 50 connections), nginx (`return 200`),
# haprole-spoa and the feed-fake agent share CPU 1. Two rounds, best of each mode kept.
#   bench/lua-haproxy-bench.sh [SECONDS] [ROOT]   ROOT: a 3.x root (lib/haproxy3.sh), default 2.6
# Address and ports: block bench/lua-haproxy-bench of tests/integration/lib/fixture.sh.
set -u
cd "$(dirname "$0")/.."
. tests/integration/lib/haproxy.sh
. bench/lib.sh
. tests/integration/lib/fixture.sh # fix_block
secs=${1:-10}
root=${2:-}
fix_block bench/lua-haproxy-bench # IP
fix_ports FE NGINX SPOA STATUS FEED
bench_require lua-haproxy-bench ./haprole-spoa build/bench/feed-fake
BENCH_SECS=$secs
bench_tmp
tmp=$BENCH_TMP
bench_nginx "$IP" "$NGINX"
bench_feed "$IP" "$FEED" -c main
bench_spoa "$IP" "$SPOA" "$STATUS" "$FEED"
bench_spoe_conf "$IP" "$SPOA"

# mode: none | lua | spoa
write_cfg() {
	local rule="" hdr="" glob=()
	# the writer the router chose, for the check before each run (HAProxy 2.6.12 was seen to
	# segfault at stop with this header in a config without any router: not in mode none)
	[ "$2" != none ] && hdr="http-response set-header x-writer %[var(txn.haprole.writer)]"
	case $2 in
	lua)
		glob=("setenv HAPROLE_NODES db1=$IP:$FEED" "setenv HAPROLE_CLUSTER main"
			"lua-load $PWD/haproxy/haprole.lua")
		rule="http-request lua.haprole-route" ;;
	spoa) rule="filter spoe engine haprole-http config $tmp/spoe.conf" ;;
	esac
	{
		bench_hap_head "${glob[@]}"
		cat <<CFG
frontend fe
	bind $IP:$FE
	$rule
	http-request return status 503 if { var(txn.haprole.status) -m found } !{ var(txn.haprole.status) -m str ok }
	$hdr
	default_backend be
backend be
	use-server %[var(txn.haprole.writer)] if { var(txn.haprole.writer) -m found }
	force-persist if { var(txn.haprole.writer) -m found }
	server db1 $IP:$NGINX
CFG
		bench_spoe_backend "$IP:$SPOA"
	} >"$1"
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
		got=$(curl -s -D - -o /dev/null "http://$IP:$FE/" | sed -n 's/^x-writer: *\([^[:space:]]*\).*/\1/pi')
		[ "$got" = "$want" ] && break
		sleep 0.1
	done
	[ "$got" = "$want" ] || { echo "lua-haproxy-bench: $mode: writer '$got', want '$want'"; exit 1; }
	c0=$(cpu_ticks "$HAP_PID")
	out=$(bench_wrk "http://$IP:$FE/")
	c1=$(cpu_ticks "$HAP_PID")
	hap_stop
	r=$(bench_rps "$out")
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
