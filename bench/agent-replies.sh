#!/bin/bash
# bench/agent-replies.sh [SECONDS] - haprole-agent's agent-check throughput and latency, and
# its CPU and RSS when idle at default probe intervals, on this machine. Starts a real
# PostgreSQL 15 primary (tests/integration/lib/pg.sh) and an app stub, one agent with the
# default [postgres] (100 ms) and [http app] (1 s) probes, pinned to CPU 0; the client
# (bench/agent-replies.c, built by `make`) runs on CPU 1. Prints the figures; record them in
# bench/README.md. Addresses 127.0.11.133-226, ports 21533-21573; run as root.
set -u
cd "$(dirname "$0")/.."
. tests/integration/lib/pg.sh
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

pg_init_primary "$tmp/pg/pg1" 21533 127.0.11.133 >/dev/null || exit 1
pg_start "$tmp/pg/pg1" || exit 1
mkdir -p "$tmp/www"; echo ok >"$tmp/www/index.html"
/usr/bin/python3 -m http.server 21573 --bind 127.0.11.153 --directory "$tmp/www" >/dev/null 2>&1 &
spid=$!
cat >"$tmp/agent.conf" <<CONF
[agent]
node = bench
listen = 127.0.11.204:21570
log_level = warning
admin_socket = $tmp/agent.sock
state_file = $tmp/agent.state
[postgres]
conninfo = "hostaddr=127.0.11.133 port=21533 user=postgres dbname=postgres"
[http app]
url = http://127.0.11.153:21573/
CONF
taskset -c 0 $AGENT --allow-root -d -f "$tmp/agent.conf" 2>"$tmp/agent.log" &
apid=$!
for i in $(seq 1 100); do
	[ "$(printf 'writer\n' | nc -w 1 127.0.11.204 21570)" = "up ready 100%" ] && break
	sleep 0.1
done

echo "machine: $(nproc) CPU, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(uname -r)"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "agent: $(printf 'writer\n' | nc -w 1 127.0.11.204 21570), pid $apid on CPU 0, client on CPU 1"

# idle at default probe intervals (postgres 100 ms, app 1 s)
t0=$(awk '{print $14 + $15}' "/proc/$apid/stat")
sleep "$IDLE"
t1=$(awk '{print $14 + $15}' "/proc/$apid/stat")
hz=$(getconf CLK_TCK)
echo "idle ${IDLE}s at default probe intervals: cpu_percent $(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s="$IDLE" 'BEGIN{printf "%.2f", 100*(b-a)/hz/s}') rss_kib $(awk '/VmRSS/{print $2}' "/proc/$apid/status") (anon $(awk '/RssAnon/{print $2}' "/proc/$apid/status"), file-backed shared libraries $(awk '/RssFile/{print $2}' "/proc/$apid/status"))"

# buckets NAME - the agent's reply-time histogram, "le count" per line
buckets() {
	curl -s http://127.0.11.204:21570/metrics |
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
	taskset -c 1 "$BENCH" -a 127.0.11.204 -p 21570 -c "$c" -d "$SECS" -l writer -s 210 -P "$apid"
	buckets >"$tmp/b1"
	agent_quantiles "$tmp/b0" "$tmp/b1"
done
echo "--- agent after the runs: rss_kib $(awk '/VmRSS/{print $2}' "/proc/$apid/status") (anon $(awk '/RssAnon/{print $2}' "/proc/$apid/status"))"
echo "--- agent counters"
curl -s http://127.0.11.204:21570/metrics | grep -E '^haprole_(replies_total|connections_refused|requests_too_long|request_timeouts)'
