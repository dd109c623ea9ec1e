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
# Address and ports: block bench/push-haproxy-bench of tests/integration/lib/fixture.sh.
set -u
cd "$(dirname "$0")/.."
. tests/integration/lib/haproxy.sh
. bench/lib.sh
. tests/integration/lib/fixture.sh # fix_block
secs=${1:-5}
rounds=${2:-5}
root=${3:-}
fix_block bench/push-haproxy-bench # IP
fix_ports FE NGINX SPOA STATUS FEED
bench_require push-haproxy-bench ./haprole-spoa build/bench/feed-fake
BENCH_SECS=$secs
bench_tmp
tmp=$BENCH_TMP
bench_nginx "$IP" "$NGINX" 'location /check/writer { return 200 "up ready 100%\n"; }'
bench_feed "$IP" "$FEED"
bench_spoa "$IP" "$SPOA" "$STATUS" "$FEED" "[haproxy bench]
runtime_api = $tmp/stats.sock
cluster = main
writer_backend = be
verify_interval = 200ms"
bench_spoe_conf "$IP" "$SPOA"

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
	{
		bench_hap_head
		cat <<CFG
	timeout check 1s
frontend fe
	bind $IP:$FE
	$filter
	default_backend be
backend be
	balance first
	$route
	$server
CFG
		bench_spoe_backend "$IP:$SPOA"
	} >"$1"
}

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
		rps=$(bench_rps "$(bench_wrk "http://$IP:$FE/")")
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
