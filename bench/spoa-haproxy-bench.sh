#!/bin/bash
# bench/spoa-haproxy-bench.sh - HAProxy HTTP throughput with haprole-spoa on, against the same
# HAProxy with an instant echo SPOA (spoa-load --echo) and with no SPOE at all, same run
# (docs/design.md section 10). HAProxy runs `nbthread 1` alone on CPU 0; the SPOA, the load generator
# (wrk) and the backend (nginx, `return 200`) share CPU 1. Prints req/s for each and the ratios.
#   bench/spoa-haproxy-bench.sh [SECONDS] [ROOT]   ROOT: a 3.x root (lib/haproxy3.sh), default 2.6
# Address and ports: block bench/spoa-haproxy-bench of tests/integration/lib/fixture.sh.
set -u
cd "$(dirname "$0")/.."
. tests/integration/lib/haproxy.sh
. bench/lib.sh
. tests/integration/lib/fixture.sh # fix_block
secs=${1:-10}
root=${2:-}
fix_block bench/spoa-haproxy-bench # IP
fix_ports FE NGINX SPOA STATUS FEED ECHO
bench_require spoa-haproxy-bench ./haprole-spoa build/bench/spoa-load build/bench/feed-fake
BENCH_SECS=$secs
bench_tmp
tmp=$BENCH_TMP
bench_nginx "$IP" "$NGINX"
bench_feed "$IP" "$FEED"
bench_spoa "$IP" "$SPOA" "$STATUS" "$FEED"
spoa=$BENCH_SPOA_PID
taskset -c 1 build/bench/spoa-load --echo "$IP:$ECHO" >/dev/null &
BENCH_PIDS+=($!)
bench_spoe_conf "$IP" "$SPOA"

# mode: none | haprole | echo
write_cfg() {
	local spoe="" port=$SPOA
	[ "$2" = echo ] && port=$ECHO
	[ "$2" != none ] && spoe="filter spoe engine haprole-http config $tmp/spoe.conf
	http-request return status 503 if { var(txn.haprole.status) -m found } !{ var(txn.haprole.status) -m str ok }"
	{
		bench_hap_head
		cat <<CFG
frontend fe
	bind $IP:$FE
	$spoe
	default_backend be
backend be
	use-server %[var(txn.haprole.writer)] if { var(txn.haprole.writer) -m found }
	force-persist if { var(txn.haprole.writer) -m found }
	server db1 $IP:$NGINX
CFG
		bench_spoe_backend "$IP:$port"
	} >"$1"
}

ver=$(hap_version "$root")
echo "# $(date -u +%FT%TZ) haproxy $ver nbthread 1 on CPU 0; SPOA, wrk (1 thread, 50 conns) and nginx on CPU 1; ${secs}s each"
declare -A rps
for mode in none echo haprole none echo haprole; do
	write_cfg "$tmp/haproxy.cfg" $mode
	hap_start "$tmp/haproxy.cfg" "$root" || exit 1
	got=$(curl -s "http://$IP:$FE/")
	[ "$got" = db1 ] || { echo "spoa-haproxy-bench: $mode: got '$got'"; exit 1; }
	r=$(bench_rps "$(bench_wrk "http://$IP:$FE/")")
	hap_stop
	echo "$mode req/s $r"
	# keep the best of the two rounds per mode
	awk -v a="${rps[$mode]:-0}" -v b="$r" 'BEGIN { exit !(b > a) }' && rps[$mode]=$r
done
awk -v n="${rps[none]}" -v e="${rps[echo]}" -v h="${rps[haprole]}" 'BEGIN {
	printf "best: no-SPOE %.0f req/s, echo SPOA %.0f, haprole-spoa %.0f\n", n, e, h
	printf "haprole-spoa / echo SPOA = %.3f (target >= 0.95); echo / no-SPOE = %.3f; haprole-spoa / no-SPOE = %.3f\n", h / e, e / n, h / n }'
echo "# haprole-spoa RSS after the runs: $(sed -n 's/^VmRSS:[[:space:]]*//p' /proc/$spoa/status)"
