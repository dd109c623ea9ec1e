#!/bin/bash
# tests/integration/test_patroni.sh - haprole beside Patroni on the same cluster (issue 14):
# `make demo PATRONI=1` (docker/demo.sh up with DEMO_PATRONI=1: Patroni + etcd manage
# PostgreSQL; HAProxy serves one write port per way of routing), then one Patroni switchover
# (patronictl switchover) and one kill of the primary's postmaster (Patroni fails over), with
# the failover suite's client (tests/failover/client.py) writing every 10 ms, fresh and pooled,
# through each port (tests/failover/patroni.sh).
# Asserts, on every haprole port (agent checks alone; the SPOA; the Lua router; the push router):
# 0 writes reached a non-primary, 0 acknowledged writes lost, and writes resumed on Patroni's new primary. The guide's port
# (Patroni REST `option httpchk`, `inter 3s fall 3 rise 2`) is reported, not asserted: its
# landings on the read-only node are what the comparison shows.
# lane: demo
# Root, network namespaces, patroni + etcd-server (make deps PATRONI=1). ~3 minutes.
# KEEP_LOGS=1 keeps the work directory. Refuses to run beside a demo that is already up.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
D=$ROOT/docker/demo.sh
PY=/usr/bin/python3
ENV=$ROOT/.demo/cluster.env
. "$ROOT/tests/integration/lib/expect.sh"
. "$ROOT/tests/integration/lib/skip.sh"
fails=0

skip_unless_root "the demo starts network namespaces"
ip netns list >/dev/null 2>&1 || skip_unavoidable "no network namespaces here"
for b in /usr/bin/patroni /usr/bin/patronictl /usr/bin/etcd; do
	[ -x "$b" ] || skip "$b missing (make deps PATRONI=1)"
done
[ -x /usr/lib/postgresql/15/bin/postgres ] || skip "postgresql-15 not installed (make deps)"
$PY -c 'import psycopg2' 2>/dev/null || skip "python3-psycopg2 missing (make deps)"
for b in haprole-agent haprole-spoa; do [ -x "$ROOT/$b" ] || skip "$b not built (make all)"; done
[ -f "$ROOT/.demo/up" ] && { echo "FAIL: a demo is already running in $ROOT/.demo (make demo-stop)"; exit 1; }

WORK=$(mktemp -d /tmp/hr-patroni.XXXXXX)
LOG=$WORK/test.log
. "$ROOT/tests/failover/patroni.sh"
cleanup() {
	pt_clients_stop
	pt_probe_stop
	[ "$fails" = 0 ] || cp -r "$(dirname "$ENV")/logs" "$WORK/demo-logs" 2>/dev/null # kept for the failure
	DEMO_PATRONI= "$D" stop >>"$LOG" 2>&1
	if [ "$fails" = 0 ] && [ "${KEEP_LOGS:-0}" != 1 ]; then rm -rf "$WORK"; else echo "work directory kept: $WORK"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

echo "starting the demo with PATRONI=1 (log: $LOG)"
if ! DEMO_PATRONI=1 DEMO_ROUTER=spoa "$D" up >>"$LOG" 2>&1; then
	tail -30 "$LOG"
	ko "docker/demo.sh up with DEMO_PATRONI=1"
	exit 1
fi
ok "demo up with Patroni"
expect "cluster.env DEMO_PATRONI" 1 "$(pt_env DEMO_PATRONI)"
for name in $PT_PORTS; do
	expect_match "cluster.env HAPROXY_PG_PORT_${name^^}" '^[0-9]+$' "$(pt_port "$name")"
done
expect "Patroni leader after bootstrap" db1 "$(pt_leader)"
expect "db2 is Patroni's replica" 0 "$(pt_rest db2 /replica; echo $?)"

pt_probe_start
row() { # row FILE: one line of figures
	jq -r '"\(.event|.[0:10]) \(.port|.[0:8]) \(.from)->\(.to) promo->write \(.promo_to_write_ms // "none") ms, unavailable \(.unavail_ms) ms, writes \(.writes), acked \(.acked), on a non-primary \(.reached_nonprimary), acked lost \(.acked_lost)"' "$1"
}
trial=0
for ev in switchover failover; do
	trial=$((trial + 1))
	if ! pt_trial "$ev" "t$trial" $((700000000000 + trial * 100000000)); then
		ko "$ev: could not run: $PT_WHY"
		tail -20 "$LOG"
		continue
	fi
	ok "$ev: Patroni moved the primary ($(jq -r '"\(.from) -> \(.to), promotion \(.event_to_promo_ms) ms after the event"' "$WORK/t$trial.spoa.json"))"
	for name in $PT_PORTS; do
		f=$WORK/t$trial.$name.json
		echo "     $(row "$f")"
		[ "$name" = patroni ] && continue # the guide's port: reported only
		expect "$ev via $name: writes that reached a non-primary" 0 "$(jq -r .reached_nonprimary "$f")"
		expect "$ev via $name: acknowledged writes lost" 0 "$(jq -r .acked_lost "$f")"
		expect_match "$ev via $name: writes resumed on the new primary (promotion -> first write, ms)" \
			'^[0-9.]+$' "$(jq -r '.promo_to_write_ms // "none"' "$f")"
	done
done
pt_probe_stop
echo "guide's port (Patroni REST httpchk, inter 3s fall 3 rise 2): reported, not asserted"
for f in "$WORK"/t*.patroni.json; do [ -f "$f" ] && echo "     $(row "$f")"; done
[ "$fails" = 0 ] && echo "PASS test_patroni" || echo "FAIL test_patroni: $fails check(s) failed"
[ "$fails" = 0 ]
