#!/bin/bash
# bench/spoa-bench.sh - NOTIFY->ACK throughput and latency of haprole-spoa, beside the ceiling of
# the load generator itself against a trivial echo agent (spoa-load --echo), same machine, same
# run. The agent under test is pinned to CPU 0, the load generator to CPU 1 (docs/design.md section
# 10: one core each). Prints one line per connection count (1, 10, 100; 20 NOTIFYs in flight per
# connection, as HAProxy 3.x does) with NOTIFY->ACK/s, p50/p99 latency (from the NOTIFY write to
# the ACK read, generator side), the agent's CPU time per message and its RSS.
#   [ROUNDS=3] bench/spoa-bench.sh [SECONDS_PER_LEVEL]     (default 5; `make` first)
# Address and ports: block bench/spoa-bench of tests/integration/lib/fixture.sh.
set -u
cd "$(dirname "$0")/.."
. tests/integration/lib/fixture.sh # fix_block
secs=${1:-5}
fix_block bench/spoa-bench # IP
fix_ports SPOA_PORT STATUS_PORT FEED1 FEED2 ECHO_PORT
LOAD=build/bench/spoa-load
for b in ./haprole-spoa "$LOAD" build/bench/feed-fake; do
	[ -x "$b" ] || { echo "spoa-bench: $b not built (make)"; exit 1; }
done
ncpu=$(nproc)
if [ "$ncpu" -ge 2 ]; then A_CPU=0; L_CPU=1; else A_CPU=0; L_CPU=0; fi
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT

cat >"$tmp/spoa.conf" <<CONF
[spoa]
listen = $IP:$SPOA_PORT
status_listen = $IP:$STATUS_PORT
log_level = warning
[cluster main]
[node db1]
cluster = main
agent = $IP:$FEED1
[node db2]
cluster = main
agent = $IP:$FEED2
CONF
build/bench/feed-fake -l "$IP:$FEED1" -n db1 -r primary </dev/null >/dev/null 2>&1 &
pids+=($!)
build/bench/feed-fake -l "$IP:$FEED2" -n db2 -r standby </dev/null >/dev/null 2>&1 &
pids+=($!)
taskset -c $A_CPU ./haprole-spoa --allow-root -d -f "$tmp/spoa.conf" 2>"$tmp/spoa.log" &
spoa=$!
pids+=($spoa)
taskset -c $A_CPU "$LOAD" --echo "$IP:$ECHO_PORT" >/dev/null &
echo_pid=$!
pids+=($echo_pid)
for i in $(seq 1 50); do
	curl -s "http://$IP:$STATUS_PORT/" 2>/dev/null | grep -q '"status":"ok"' && break
	sleep 0.1
done
echo "# $(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)); agent on CPU $A_CPU, generator on CPU $L_CPU, ${secs}s per level"
echo "# idle RSS: haprole-spoa $(sed -n 's/^VmRSS:[[:space:]]*//p' /proc/$spoa/status), echo agent $(sed -n 's/^VmRSS:[[:space:]]*//p' /proc/$echo_pid/status)"
# The machine may be shared: alternate the two agents for ROUNDS rounds and keep, per agent and
# connection count, the round with the best throughput (printed last as "best").
rounds=${ROUNDS:-3}
for r in $(seq 1 "$rounds"); do
	for c in 1 10 100; do
		"$LOAD" -a "$IP:$SPOA_PORT" -c $c -d 20 -t "$secs" -p "$spoa" -C $L_CPU -l haprole-spoa
		"$LOAD" -a "$IP:$ECHO_PORT" -c $c -d 20 -t "$secs" -p "$echo_pid" -C $L_CPU -l echo-ceiling
	done
done | tee "$tmp/runs"
echo "# best of $rounds rounds (load average now: $(cut -d' ' -f1-3 /proc/loadavg)):"
awk '{ split($4, a, "="); k = $1 " " $2; if (a[2] + 0 > best[k] + 0) { best[k] = a[2]; line[k] = $0 } }
	END { for (k in line) print "best " line[k] }' "$tmp/runs" | sort -k2,2 -k3,3V
curl -s "http://$IP:$STATUS_PORT/metrics" | grep -E '^haprole_spoa_(errors_total|connections_refused_total|messages_total\{message="haprole-route",outcome)' |
	sed 's/^/# /'
