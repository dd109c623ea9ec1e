#!/bin/bash
# bench/agent-replies.sh [SECONDS] - haprole-agent's agent-check throughput and latency, and
# its CPU and RSS when idle at default probe intervals, on this machine. Starts a real
# PostgreSQL 15 primary (tests/integration/lib/pg.sh) and an app stub, one agent with the
# default [postgres] (100 ms) and [http app] (1 s) probes, pinned to CPU 0; the client
# (bench/agent-replies.c, built by `make`) runs on CPU 1. Prints the figures; record them in
# bench/README.md. Address and ports: block bench/agent-replies of
# tests/integration/lib/fixture.sh; run as root.
set -u
cd "$(dirname "$0")/.."
. tests/integration/lib/pg.sh
. tests/integration/lib/fixture.sh # fix_block
fix_block bench/agent-replies # IP: PostgreSQL, the app stub and the agent, each on its port
fix_ports PG_PORT APP_PORT AGENT_PORT
# the client's 16 source addresses: the block's next ones (bench/agent-replies.c -s: 127.0.11.x)
SRC=$((${IP##*.} + 1))
[ "$NET" = 127.0.11 ] && [ $((SRC + 15)) -le "${IP_LAST##*.}" ] ||
	fail "block bench/agent-replies: 16 source addresses in 127.0.11 after $IP wanted"
SECS=${1:-5}
IDLE=${IDLE_SECONDS:-10}
BENCH=build/bench/agent-replies
AGENT=./haprole-agent
tmp=$(mktemp -d)
chmod 0755 "$tmp"
apid=
spid=
cleanup() {
	[ -n "$apid" ] && kill -TERM "$apid" 2>/dev/null && wait "$apid" 2>/dev/null
	[ -n "$spid" ] && kill -TERM "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
	pg_cleanup_all
	rm -rf "$tmp"
}
trap cleanup EXIT
pg_require || exit 1
[ -x "$BENCH" ] && [ -x "$AGENT" ] || { echo "build first: make"; exit 1; }

pg_init_primary "$tmp/pg/pg1" "$PG_PORT" "$IP" >/dev/null || exit 1
pg_start "$tmp/pg/pg1" || exit 1
mkdir -p "$tmp/www"; echo ok >"$tmp/www/index.html"
/usr/bin/python3 -m http.server "$APP_PORT" --bind "$IP" --directory "$tmp/www" >/dev/null 2>&1 &
spid=$!
cat >"$tmp/agent.conf" <<CONF
[agent]
node = bench
listen = $IP:$AGENT_PORT
log_level = warning
admin_socket = $tmp/agent.sock
state_file = $tmp/agent.state
[postgres]
conninfo = "hostaddr=$IP port=$PG_PORT user=postgres dbname=postgres"
[http app]
url = http://$IP:$APP_PORT/
CONF
taskset -c 0 $AGENT --allow-root -d -f "$tmp/agent.conf" 2>"$tmp/agent.log" &
apid=$!
for i in $(seq 1 100); do
	[ "$(printf 'writer\n' | nc -w 1 "$IP" "$AGENT_PORT")" = "up ready 100%" ] && break
	sleep 0.1
done

echo "machine: $(nproc) CPU, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(uname -r)"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "agent: $(printf 'writer\n' | nc -w 1 "$IP" "$AGENT_PORT"), pid $apid on CPU 0, client on CPU 1"

# idle at default probe intervals (postgres 100 ms, app 1 s)
t0=$(awk '{print $14 + $15}' "/proc/$apid/stat")
sleep "$IDLE"
t1=$(awk '{print $14 + $15}' "/proc/$apid/stat")
hz=$(getconf CLK_TCK)
echo "idle ${IDLE}s at default probe intervals: cpu_percent $(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s="$IDLE" 'BEGIN{printf "%.2f", 100*(b-a)/hz/s}') rss_kib $(awk '/VmRSS/{print $2}' "/proc/$apid/status") (anon $(awk '/RssAnon/{print $2}' "/proc/$apid/status"), file-backed shared libraries $(awk '/RssFile/{print $2}' "/proc/$apid/status"))"

# buckets NAME - the agent's reply-time histogram, "le count" per line
buckets() {
	curl -s "http://$IP:$AGENT_PORT/metrics" |
		sed -n 's/^haprole_check_reply_seconds_bucket{le="\([^"]*\)"} \([0-9]*\)$/\1 \2/p'
}
# agent_quantiles BEFORE AFTER - p50/p99/p99.9 bucket bounds of the replies between the two
agent_quantiles() {
	paste -d' ' "$1" "$2" | awk '{ le[NR] = $1; n[NR] = $4 - $2 } END {
		total = n[NR]
		split("0.5 0.99 0.999", q, " ")
		out = "agent-side reply time (accept to written, bucket bounds):"
		for (j = 1; j <= 3; j++) {
			for (i = 1; i <= NR; i++) if (n[i] >= q[j] * total) break
			b = le[i] == "+Inf" ? "+Inf" : sprintf("%g us", le[i] * 1e6)
			out = out sprintf(" p%g <= %s", q[j] * 100, b)
		}
		print out
	}'
}
for c in 1 16 64; do
	echo "--- $c client(s), ${SECS}s, agent-send \"writer\\n\""
	buckets >"$tmp/b0"
	taskset -c 1 "$BENCH" -a "$IP" -p "$AGENT_PORT" -c "$c" -d "$SECS" -l writer -s "$SRC" -P "$apid"
	buckets >"$tmp/b1"
	agent_quantiles "$tmp/b0" "$tmp/b1"
done
echo "--- agent after the runs: rss_kib $(awk '/VmRSS/{print $2}' "/proc/$apid/status") (anon $(awk '/RssAnon/{print $2}' "/proc/$apid/status"))"
echo "--- agent counters"
curl -s "http://$IP:$AGENT_PORT/metrics" | grep -E '^haprole_(replies_total|connections_refused|requests_too_long|request_timeouts)'
