# bench/lib.sh - the fixture the HAProxy throughput benchmarks share (bench/*-haproxy-bench.sh):
# a work directory cleaned up at exit, an nginx backend answering `return 200`, haprole-spoa fed
# by bench/feed-fake, the common head of their haproxy.cfg, and one wrk run. Source it (bash)
# from the repository root, after tests/integration/lib/haproxy.sh:
#
#   bench_require NAME BIN...           # exits 1 (with NAME: why) unless BINs, wrk, nginx exist
#   bench_tmp                           # BENCH_TMP, BENCH_PIDS; EXIT trap stops all (by pid)
#   bench_nginx IP PORT [LOCATION...]   # nginx on CPU 1; LOCATION: extra `location` lines
#   bench_feed IP PORT [ARGS...]        # build/bench/feed-fake -l IP:PORT -n db1 -r primary ARGS
#   bench_spoa IP LISTEN STATUS FEED [EXTRA]  # haprole-spoa on CPU 1 (cluster main, node db1
#                                       # fed from IP:FEED), EXTRA appended to its config;
#                                       # sets BENCH_SPOA_PID, waits (5 s) for a view "ok"
#   bench_spoe_conf IP PORT             # haproxy/spoe-haprole.conf pointed at IP:PORT
#   bench_hap_head [GLOBAL_LINE...]     # prints global (nbthread 1 on CPU 0, stats socket) and
#                                       # defaults (mode http, timeouts) of a haproxy.cfg
#   bench_spoe_backend ADDR             # prints the spoe-haprole backend, server spoa1 at ADDR
#   bench_wrk URL                       # wrk -t1 -c50 for BENCH_SECS on CPU 1: its whole output
#   bench_rps WRK_OUTPUT                # the req/s of a wrk run
#
# HAProxy runs `nbthread 1` alone on CPU 0; everything else shares CPU 1.

# bench_require NAME BIN... - every BIN built, wrk and nginx installed; else says so, exits 1.
bench_require() {
	local name=$1 b
	shift
	for b in "$@"; do
		[ -x "$b" ] || { echo "$name: $b not built (make)"; exit 1; }
	done
	command -v wrk >/dev/null || { echo "$name: wrk not installed"; exit 1; }
	command -v nginx >/dev/null || { echo "$name: nginx not installed"; exit 1; }
}

# bench_cleanup - the EXIT trap of bench_tmp: haproxy, then every pid in BENCH_PIDS, then the
# work directory.
bench_cleanup() {
	hap_cleanup_all
	kill "${BENCH_PIDS[@]}" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$BENCH_TMP"
}

# bench_tmp - a work directory (BENCH_TMP, readable by nginx's workers) and the EXIT trap.
bench_tmp() {
	BENCH_TMP=$(mktemp -d)
	chmod 755 "$BENCH_TMP"
	BENCH_PIDS=()
	trap bench_cleanup EXIT
}

# bench_nginx IP PORT [LOCATION...] - nginx on IP:PORT answering "db1" to /, on CPU 1.
bench_nginx() {
	local ip=$1 port=$2 t=$BENCH_TMP loc
	shift 2
	{
		cat <<CONF
daemon off;
worker_processes 1;
pid $t/nginx.pid;
error_log $t/nginx.err;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $t; proxy_temp_path $t; fastcgi_temp_path $t;
	uwsgi_temp_path $t; scgi_temp_path $t;
	server {
		listen $ip:$port;
CONF
		for loc in "$@"; do printf '\t\t%s\n' "$loc"; done
		cat <<CONF
		location / { return 200 "db1\n"; }
	}
}
CONF
	} >"$t/nginx.conf"
	taskset -c 1 nginx -c "$t/nginx.conf" -p "$t" &
	BENCH_PIDS+=($!)
}

# bench_feed IP PORT [ARGS...] - a fake agent feed for node db1, the primary.
bench_feed() {
	local ip=$1 port=$2
	shift 2
	build/bench/feed-fake -l "$ip:$port" "$@" -n db1 -r primary </dev/null >/dev/null 2>&1 &
	BENCH_PIDS+=($!)
}

# bench_spoa IP LISTEN STATUS FEED [EXTRA] - haprole-spoa on CPU 1 for cluster main (node db1,
# its feed at IP:FEED), EXTRA appended to spoa.conf; waits (5 s) until its view says ok.
bench_spoa() {
	local ip=$1 i
	cat >"$BENCH_TMP/spoa.conf" <<CONF
[spoa]
listen = $ip:$2
status_listen = $ip:$3
log_level = warning
[cluster main]
[node db1]
cluster = main
agent = $ip:$4
${5:-}
CONF
	taskset -c 1 ./haprole-spoa --allow-root -d -f "$BENCH_TMP/spoa.conf" 2>"$BENCH_TMP/spoa.log" &
	BENCH_SPOA_PID=$!
	BENCH_PIDS+=($!)
	for i in $(seq 1 50); do
		curl -s "http://$ip:$3/" 2>/dev/null | grep -q '"status":"ok"' && return 0
		sleep 0.1
	done
	return 0 # the run's own check before measuring says what is wrong
}

# bench_spoe_conf IP PORT - $BENCH_TMP/spoe.conf: the shipped SPOE config, agent at IP:PORT.
bench_spoe_conf() {
	sed "s/127.0.0.1:12345/$1:$2/" haproxy/spoe-haprole.conf >"$BENCH_TMP/spoe.conf"
}

# bench_hap_head [GLOBAL_LINE...] - global and defaults sections of the benchmarks' HAProxy.
bench_hap_head() {
	local l
	printf 'global\n\tnbthread 1\n\tcpu-map 1 0\n\tstats socket %s/stats.sock mode 600 level admin\n' \
		"$BENCH_TMP"
	for l in "$@"; do printf '\t%s\n' "$l"; done
	printf 'defaults\n\tmode http\n\ttimeout connect 1s\n\ttimeout client 10s\n\ttimeout server 10s\n'
}

# bench_spoe_backend ADDR - the backend HAProxy reaches the SPOA at ADDR through (no check).
bench_spoe_backend() {
	printf 'backend spoe-haprole\n\tmode tcp\n\ttimeout connect 500ms\n\ttimeout server 1m\n'
	printf '\tserver spoa1 %s\n' "$1"
}

# bench_wrk URL - one wrk run (1 thread, 50 connections, BENCH_SECS seconds) on CPU 1.
bench_wrk() {
	taskset -c 1 wrk -t1 -c50 -d"${BENCH_SECS}s" "$1"
}

# bench_rps WRK_OUTPUT - the Requests/sec figure of a wrk run.
bench_rps() {
	printf '%s\n' "$1" | sed -n 's/^Requests\/sec:[[:space:]]*//p'
}
