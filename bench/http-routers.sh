#!/bin/bash
# bench/http-routers.sh - HAProxy HTTP throughput with each way of routing, against no routing at
# all, in ONE run (docs/design.md section 10): the variants are interleaved over ROUNDS rounds so
# that the shared machine's drift hits them alike (each round starting one variant later, so
# that none always runs first); every ratio is taken within a round (variant /
# none of the same round) and reported as the median and the spread (min-max) over the rounds,
# never the best round.
#   none   the backend server, no rule, no filter
#   echo   the SPOE filter asking an instant echo agent (build/bench/spoa-load --echo): HAProxy's
#          own SPOE cost, the floor of any SPOA
#   spoe   the SPOE filter asking haprole-spoa on every request (haproxy/haproxy.cfg's way)
#   lua    the Lua router's `http-request lua.haprole-route` (haproxy/haprole.lua, following a
#          feed-fake agent)
#   push   the push-mode backend of haproxy/haprole-push.cfg (server `disabled`, health check),
#          set ready by a running haprole-spoa through the stats socket; no per-request rule
# Per run: req/s (wrk) and HAProxy's own CPU time per request (utime + stime from
# /proc/PID/stat over the run / requests; it moves far less than req/s on a busy machine).
# Before each run the variant must route (the writer in a response header, or the push server
# set ready). HAProxy runs `nbthread 1` alone on CPU 0; wrk (1 thread, 50 connections), nginx
# (`return 200`), haprole-spoa, the echo agent and the feed share CPU 1.
#   bench/http-routers.sh [SECONDS] [ROUNDS] [ROOT]   (default 5 s, 5 rounds; ROOT: a 3.x root of
#                                                      tests/integration/lib/haproxy3.sh)
# Last lines, machine-readable (bench/run-all.sh reads them):
#   http_rps variant=V median=.. min=.. max=..
#   http_cpu_us variant=V median=.. min=.. max=..
#   http_ratio variant=V base=none|echo median=.. min=.. max=..       req/s ratio, per round
#   http_cpu_ratio variant=V base=none|echo median=.. min=.. max=..   HAProxy CPU/request,
#                                                  base / variant, per round
# Address and ports: block bench/http-routers of tests/integration/lib/fixture.sh.
set -u
cd "$(dirname "$0")/.."
. tests/integration/lib/haproxy.sh
. bench/lib.sh
. tests/integration/lib/fixture.sh # fix_block
secs=${1:-5}
rounds=${2:-5}
root=${3:-}
fix_block bench/http-routers # IP
fix_ports FE NGINX SPOA STATUS FEED ECHO
case $secs$rounds in *[!0-9]*) echo "http-routers: SECONDS and ROUNDS are numbers" >&2; exit 2 ;; esac
bench_require http-routers ./haprole-spoa build/bench/feed-fake build/bench/spoa-load
bench_tmp
tmp=$BENCH_TMP
bench_nginx "$IP" "$NGINX" 'location /check/writer { return 200 "up ready 100%\n"; }'
bench_feed "$IP" "$FEED" -c main
taskset -c 1 build/bench/spoa-load --echo "$IP:$ECHO" >/dev/null &
BENCH_PIDS+=($!)
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
taskset -c 1 ./haprole-spoa --allow-root -d -f "$tmp/spoa.conf" 2>"$tmp/spoa.log" &
spoa=$!
BENCH_PIDS+=($spoa)
sed "s/127.0.0.1:12345/$IP:$SPOA/" haproxy/spoe-haprole.conf >"$tmp/spoe-haprole.conf"
sed "s/127.0.0.1:12345/$IP:$ECHO/" haproxy/spoe-haprole.conf >"$tmp/spoe-echo.conf"

# write_cfg FILE VARIANT
write_cfg() {
	local glob="" rule="" hdr="" server="server db1 $IP:$NGINX"
	case $2 in
	echo) rule="filter spoe engine haprole-http config $tmp/spoe-echo.conf" ;;
	spoe) rule="filter spoe engine haprole-http config $tmp/spoe-haprole.conf" ;;
	lua)
		glob="setenv HAPROLE_NODES db1=$IP:$FEED
	setenv HAPROLE_CLUSTER main
	lua-load $PWD/haproxy/haprole.lua"
		rule="http-request lua.haprole-route" ;;
	push)
		# as haproxy/haprole-push.cfg's pg_write: disabled until haprole-spoa says ready
		server="option httpchk GET /check/writer
	http-check expect status 200
	server db1 $IP:$NGINX check inter 1s fall 2 rise 1 disabled" ;;
	esac
	# the writer the router chose, checked before each run (not in none/push: HAProxy 2.6.12
	# was seen to segfault at stop with this header in a config without any router)
	case $2 in echo | spoe | lua) hdr="http-response set-header x-writer %[var(txn.haprole.writer)]" ;; esac
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
	timeout check 1s
frontend fe
	bind $IP:$FE
	$rule
	http-request return status 503 if { var(txn.haprole.status) -m found } !{ var(txn.haprole.status) -m str ok }
	$hdr
	default_backend be
backend be
	balance first
	use-server %[var(txn.haprole.writer)] if { var(txn.haprole.writer) -m found }
	force-persist if { var(txn.haprole.writer) -m found }
	$server
backend spoe-haprole
	mode tcp
	timeout connect 500ms
	timeout server 1m
	server spoa1 $IP:$SPOA
CFG
}

# routes VARIANT: one request answered by db1, through the variant's router where it has one
routes() {
	local h
	h=$(curl -s -m 1 -D - "http://$IP:$FE/" 2>/dev/null | tr -d '\r') || return 1
	printf '%s\n' "$h" | grep -qx db1 || return 1
	case $1 in
	echo | spoe | lua) printf '%s\n' "$h" | grep -qix 'x-writer: db1' ;;
	esac
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

for i in $(seq 1 50); do
	curl -s "http://$IP:$STATUS/" 2>/dev/null | grep -q '"status":"ok"' && break
	sleep 0.1
done
ver=$(hap_version "$root")
echo "# $(date -u +%FT%TZ) $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# haproxy $ver nbthread 1 on CPU 0; wrk (1 thread, 50 conns), nginx, SPOAs, feed on CPU 1; ${secs}s x $rounds rounds, interleaved"
VARIANTS="none echo spoe lua push"
: >"$tmp/runs"
for r in $(seq 1 "$rounds"); do
	# each round starts one variant later: no variant always runs first (or after the same one)
	vs=($VARIANTS)
	k=$(((r - 1) % ${#vs[@]}))
	for v in "${vs[@]:k}" "${vs[@]:0:k}"; do
		write_cfg "$tmp/haproxy.cfg" $v
		hap_start "$tmp/haproxy.cfg" "$root" || exit 1
		ok=0
		for i in $(seq 1 50); do # push: until haprole-spoa has set the server ready
			routes $v && { ok=1; break; }
			sleep 0.1
		done
		[ $ok = 1 ] || { echo "http-routers: $v does not route to db1"; exit 1; }
		c0=$(cpu_ticks "$HAP_PID")
		out=$(taskset -c 1 wrk -t1 -c50 -d"${secs}s" "http://$IP:$FE/")
		c1=$(cpu_ticks "$HAP_PID")
		hap_stop
		rps=$(printf '%s\n' "$out" | sed -n 's/^Requests\/sec:[[:space:]]*//p')
		n=$(printf '%s\n' "$out" | sed -n 's/^[[:space:]]*\([0-9]*\) requests in.*/\1/p')
		non2xx=$(printf '%s\n' "$out" | sed -n 's/^[[:space:]]*Non-2xx or 3xx responses:[[:space:]]*//p')
		[ -z "$non2xx" ] || { echo "http-routers: $v: $non2xx non-2xx responses"; exit 1; }
		us=$(awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v n="$n" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
		echo "round $r $v req/s $rps haproxy_cpu_us_per_req $us"
		echo "$r $v $rps $us" >>"$tmp/runs"
	done
done
echo "# load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$tmp/runs" <<'EOF'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    r, v, rps, us = line.split()
    runs.setdefault(v, {})[int(r)] = (float(rps), float(us))
def out(kind, v, vals, fmt, extra=""):
    print(("%s variant=%s%s median=" + fmt + " min=" + fmt + " max=" + fmt) %
          (kind, v, extra, statistics.median(vals), min(vals), max(vals)))
for v in runs:
    out("http_rps", v, [x[0] for x in runs[v].values()], "%.0f")
    out("http_cpu_us", v, [x[1] for x in runs[v].values()], "%.1f")
for v in runs:
    for base in ("none", "echo"):
        if v == base or (base == "echo" and v != "spoe"):
            continue
        ratios = [runs[v][r][0] / runs[base][r][0] for r in runs[v] if r in runs[base]]
        out("http_ratio", v, ratios, "%.3f", " base=" + base)
        # the same ratio as HAProxy's own CPU per request gives it (base / variant): the
        # throughput ratio when HAProxy's core is the limit, far less moved by a busy machine
        ratios = [runs[base][r][1] / runs[v][r][1] for r in runs[v] if r in runs[base] and runs[v][r][1] > 0]
        out("http_cpu_ratio", v, ratios, "%.3f", " base=" + base)
EOF
