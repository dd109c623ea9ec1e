#!/bin/bash
# bench/run-all.sh - `make bench`: runs every benchmark of bench/ once, one after the other, and
# prints ONE table: each figure next to its target of docs/design.md section 10
# (bench/table.py reads the scripts' outputs). Every script stays runnable alone; this only
# chooses their parameters, keeps their raw output, and samples the load average meanwhile.
#
#   bench/run-all.sh            the full run (about 9 minutes here: 518 s on 2026-12-03); `make bench`
#   BENCH_QUICK=1 bench/run-all.sh   a smoke run: every step, shortest settings (about 7 minutes);
#                                    the figures are NOT for quoting
#
# Steps (raw output in OUT/STEP.out, OUT = BENCH_OUT, default build/bench-results/DATE):
#   agent    bench/agent-replies.sh           agent-check replies/s, latency, CPU, memory
#   spoa     bench/spoa-bench.sh              NOTIFY->ACK/s at 1/10/100 connections, beside an
#                                             echo agent, alternated over ROUNDS rounds
#   http     bench/http-routers.sh            HTTP req/s: none, echo SPOA, haprole-spoa, Lua,
#                                             push, interleaved over rounds (median, spread)
#   hold     bench/hold-switchover.sh -l      failed writes per switchover, hold on / off
#   lag      bench/route-lag.sh when present (every router), else bench/failover.sh
#            (spoa and agent-check paths): promotion -> first routed write, demo switchovers
#   patroni  bench/patroni-failover.sh        Patroni switchover + kill, every port of
#                                             `make demo PATRONI=1`
# The steps that use the netns demo (lag, patroni) take /tmp/hr-demo.lock each (waiting up to
# BENCH_LOCK_WAIT seconds, default 900) and stop the demo before releasing it. BENCH_STEPS
# (default all, in the order above) runs a subset; the table then says which rows were not run.
# BENCH_OUT=DIR of an earlier run with BENCH_STEPS re-runs those steps into it (its machine and
# commit lines are kept, the load average is appended) and prints the whole table again.
# Root (PostgreSQL, network namespaces); `make all` first (make bench does it).
# Exit: 0 when every step ran and the table has every row; 1 otherwise.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
QUICK=${BENCH_QUICK:-0}
STEPS=${BENCH_STEPS:-agent spoa http hold lag patroni}
OUT=${BENCH_OUT:-$ROOT/build/bench-results/$(date -u +%Y%m%dT%H%M%SZ)$([ "$QUICK" = 1 ] && echo -quick)}
LOCK_WAIT=${BENCH_LOCK_WAIT:-900}
mkdir -p "$OUT" || exit 1
[ "$(id -u)" = 0 ] || { echo "run-all: needs root (PostgreSQL, network namespaces)" >&2; exit 2; }

if [ "$QUICK" = 1 ]; then
	AGENT_SECS=2 AGENT_IDLE=3 SPOA_SECS=1 SPOA_ROUNDS=1 HTTP_SECS=2 HTTP_ROUNDS=2
	HOLD_N=1 LAG_N=1 PATRONI_N=1
else
	AGENT_SECS=10 AGENT_IDLE=10 SPOA_SECS=3 SPOA_ROUNDS=3 HTTP_SECS=5 HTTP_ROUNDS=5
	HOLD_N=3 LAG_N=5 PATRONI_N=1
fi
# The Patroni step: PATRONI_N trials per event within make bench's 20 minutes (1.5 to 2 minutes
# per event here). BENCH_PATRONI_FROM="DIR..." instead puts in the table the summary of longer
# runs made alone and kept (bench/patroni-failover.sh -k: an N >= 10 run in several parts, so
# that none holds the shared demo long); the table's step line then says so.
PATRONI_N=${BENCH_PATRONI_N:-$PATRONI_N}
LAG_N=${BENCH_LAG_N:-$LAG_N}

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT
trap 'exit 1' INT TERM
# the load average every 5 s while the benchmarks run
(while :; do echo "$(date +%s) $(cut -d' ' -f1-3 /proc/loadavg)"; sleep 5; done) >>"$OUT/load.log" &
pids+=($!)

# a re-run of some steps into an earlier run's directory (BENCH_OUT) keeps its description
[ -s "$OUT/meta" ] || {
	echo "date $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "quick $QUICK"
	echo "machine $(nproc) CPU, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(free -g | awk '/^Mem:/ { print $2 " GiB" }'), kernel $(uname -r)"
	echo "os $(. /etc/os-release && echo "$PRETTY_NAME")"
	echo "commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo '+changes')"
	echo "versions $(haproxy -v | head -n 1 | cut -d' ' -f1-3), PostgreSQL $(/usr/lib/postgresql/15/bin/postgres -V | awk '{ print $3 }'), $(/usr/bin/patroni --version 2>&1 | head -n 1), etcd $(/usr/bin/etcd --version 2>/dev/null | sed -n 's/^etcd Version: //p'), $(lua5.3 -v 2>&1 | cut -d' ' -f1-2), wrk $(wrk -v 2>&1 | head -n 1 | awk '{ print $2 }')"
} >"$OUT/meta"

# step NAME TIMEOUT CMD...: runs one benchmark, its output in OUT/NAME.out, its exit status and
# times in OUT/NAME.rc
step() {
	local name=$1 limit=$2 t0 rc
	shift 2
	echo "== $name: $* (log: $OUT/$name.out)"
	t0=$(date +%s)
	timeout -k 10 "$limit" "$@" >"$OUT/$name.out" 2>&1
	rc=$?
	echo "$rc $t0 $(date +%s) $*" >"$OUT/$name.rc"
	echo "   exit $rc after $(($(date +%s) - t0)) s"
	tail -n 3 "$OUT/$name.out" | sed 's/^/   | /'
}
# demo_step: the same under the demo lock; the scripts stop (or leave as found) the demo.
# BENCH_DEMO_LOCKED=1: the caller already holds /tmp/hr-demo.lock (one hold for several runs).
demo_step() {
	local name=$1 limit=$2
	shift 2
	if [ "${BENCH_DEMO_LOCKED:-0}" = 1 ]; then
		step "$name" "$limit" "$@"
	else
		step "$name" "$limit" flock -w "$LOCK_WAIT" /tmp/hr-demo.lock "$@"
	fi
}

for s in $STEPS; do
	case $s in
	agent) IDLE_SECONDS=$AGENT_IDLE step agent 300 bench/agent-replies.sh "$AGENT_SECS" ;;
	spoa) ROUNDS=$SPOA_ROUNDS step spoa 300 bench/spoa-bench.sh "$SPOA_SECS" ;;
	http) step http 600 bench/http-routers.sh "$HTTP_SECS" "$HTTP_ROUNDS" ;;
	hold) step hold 900 bench/hold-switchover.sh -l -n "$HOLD_N" ;;
	lag)
		if [ -x bench/route-lag.sh ]; then
			demo_step lag $((LOCK_WAIT + 900)) bench/route-lag.sh -n "$LAG_N"
		else
			demo_step lag $((LOCK_WAIT + 900)) bench/failover.sh -n "$LAG_N" -s switchover -p "spoe agent"
		fi
		;;
	patroni)
		if [ -n "${BENCH_PATRONI_FROM:-}" ]; then # the summary of longer runs made alone (-k)
			step patroni 60 bench/patroni-failover.sh -S "$BENCH_PATRONI_FROM"
		else
			demo_step patroni $((LOCK_WAIT + 1200)) bench/patroni-failover.sh -n "$PATRONI_N" -e "switchover failover"
		fi
		;;
	*) echo "run-all: unknown step '$s'" >&2; exit 2 ;;
	esac
done
kill "${pids[@]}" 2>/dev/null
wait 2>/dev/null
pids=()
echo
/usr/bin/python3 bench/table.py "$OUT" >"$OUT/table.md"
rc=$?
cat "$OUT/table.md"
exit $rc
