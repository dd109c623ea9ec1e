#!/bin/bash
# tests/integration/test_failover.sh - the failover suite on the demo cluster (issue 7).
#
# Brings the demo up (docker/demo.sh up), or uses it when it is already up and leaves it
# running (healed) afterwards; runs each scenario of tests/failover/scenarios.sh with the
# counting client (tests/failover/client.py) writing and reading through HAProxy, and prints
# one table, a row per scenario: the write-unavailable window, promotion -> first write on
# the new primary, writes that reached a non-primary (must be 0), acknowledged writes lost
# (must be 0). Between scenarios `docker/demo.sh heal` restores one primary + one streaming
# standby (re-creating a broken standby with pg_basebackup), so scenarios are independent.
# A scenario whose parts have not landed (haprole-agent, haprole-spoa, fencing) is a SKIP row
# with the reason. Exit: 0 all run scenarios passed (some may be skipped), 77 all skipped,
# 1 otherwise. Only the scenarios named in FAILOVER_SCENARIOS run when it is set.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
D=$ROOT/docker/demo.sh
PY=/usr/bin/python3
CLIENT=$ROOT/tests/failover/client.py
ENV=$ROOT/.demo/cluster.env
STATE=$ROOT/.demo/state.env
SCENARIOS=${FAILOVER_SCENARIOS:-switchover kill9 cutoff lag appdown nginxdown agentkill spoakill splitbrain}
APPNODE=app1

# Without root or namespaces the demo runs in its loopback layout (the cutoff scenario skips).
$PY -c 'import psycopg2' 2>/dev/null || { echo "SKIP: /usr/bin/python3 lacks psycopg2"; exit 77; }

# One failover suite at a time on this machine (it owns the demo cluster while it runs).
exec 8>/tmp/haprole-failover-suite.lock
flock -w 600 8 || { echo "SKIP: another failover suite has held the lock for 600 s"; exit 77; }

WORK=$(mktemp -d /tmp/hr-failover.XXXXXX)
LOG=$WORK/suite.log
CLIENT_PID=
STARTED_DEMO=0
cleanup() {
	[ -n "$CLIENT_PID" ] && kill "$CLIENT_PID" 2>/dev/null
	if [ "$STARTED_DEMO" = 1 ]; then
		"$D" stop >>"$LOG" 2>&1
	elif [ -f "$ROOT/.demo/up" ]; then
		"$D" heal >>"$LOG" 2>&1
	fi
	if [ "${KEEP_LOGS:-0}" = 1 ] || [ "${FAILED:-0}" != 0 ]; then
		echo "logs kept in $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- helpers used by the scenarios --------------------------------------------------------

# wait_cond, prog, prog_ge, prog_node, prog_node_ge, state, host_of, agent_json, note,
# server_is, writable: tests/failover/lib.sh.
WRITE_SRC=failover-probe
. "$ROOT/tests/failover/lib.sh"

have() { # have WORD: agent spoa ctl fence netns
	case $1 in
	netns) [ "$("$D" mode)" = netns ] ;;
	agent) "$D" has-agent ;;
	spoa) "$D" has-spoa ;;
	ctl) "$D" has-ctl ;;
	fence) [ -f "$ROOT/agent/fence.c" ] || "$D" has-spoa ;;
	esac
}
why_missing() {
	case $1 in
	agent) echo "haprole-agent not built (or docker/agent-*.conf.in missing)" ;;
	spoa) echo "haprole-spoa not built (or docker/spoa.conf.in missing)" ;;
	ctl) echo "haprolectl not built" ;;
	fence) echo "no fencing (agent/fence.c) and no SPOA" ;;
	netns) echo "the demo runs in the loopback layout (no network namespaces): no link to cut" ;;
	esac
}

# . tests/failover/scenarios.sh: sc_NAME functions and NEEDS_NAME words.
. "$ROOT/tests/failover/scenarios.sh"

# ---- bring the cluster up ------------------------------------------------------------------

echo "==== failover suite (logs: $WORK)"
demo_up_or_use "it stays up afterwards" "FAIL: " || { FAILED=1; exit 1; }

# ---- the verifier must catch what it is there to catch (a negative control) ------------------
# Synthetic outcomes, none of which exists on any node: an ack from a node that was no longer
# the primary, a read-only error, an ack from the primary that is missing, and an ack from the
# old primary before the promotion that is missing.
P0=$("$D" primary)
S0=$("$D" standby)
{
	echo "{\"k\":\"w\",\"lane\":\"w-pool\",\"t0\":100.0,\"id\":900000000001,\"t1\":100.1,\"ok\":true,\"node\":\"$S0\"}"
	echo "{\"k\":\"w\",\"lane\":\"w-pool\",\"t0\":101.0,\"id\":900000000002,\"t1\":101.1,\"ok\":true,\"node\":\"$P0\"}"
	echo '{"k":"w","lane":"w-pool","t0":102.0,"id":900000000003,"t1":102.1,"ok":false,"err":"readonly","msg":"read-only"}'
	echo "{\"k\":\"w\",\"lane\":\"w-pool\",\"t0\":99.0,\"id\":900000000004,\"t1\":99.1,\"ok\":true,\"node\":\"$S0\"}"
	echo '{"k":"stop","t0":103,"t1":103,"ok":true}'
} >"$WORK/control.ops"
ctl=$($PY "$CLIENT" verify --env "$ENV" --log "$WORK/control.ops" --base 900000000000 \
	--primary "$P0" --promoted-at 99.5 --scenario control)
if [ "$(echo "$ctl" | jq -c '[.reached_nonprimary, .acked_lost]' 2>/dev/null)" != "[2,2]" ]; then
	echo "FAIL: the verifier missed planted faults (want non-primary 2, lost 2): $ctl"
	FAILED=1
	exit 1
fi
echo "verifier control: planted 2 non-primary writes and 2 lost acks; found $(echo "$ctl" | jq -c '[.reached_nonprimary, .acked_lost]')"

# ---- run the scenarios ----------------------------------------------------------------------

ROWS=()
npass=0
nfail=0
nskip=0
idx=0
row() { ROWS+=("$(printf '%-11s %-5s %10s %10s %6s %5s %13s %12s  %s' "$@")"); }

for sc in $SCENARIOS; do
	idx=$((idx + 1))
	NOTES=
	REASON=
	VERIFY_ARGS=
	needs_var="NEEDS_$sc"
	missing=
	for w in ${!needs_var-}; do have "$w" || missing="${missing:+$missing, }$(why_missing "$w")"; done
	if ! declare -F "sc_$sc" >/dev/null; then missing="no scenario named $sc"; fi
	if [ -n "$missing" ]; then
		row "$sc" SKIP - - - - - - "$missing"
		nskip=$((nskip + 1))
		echo "---- $sc: SKIP ($missing)"
		continue
	fi
	echo "---- $sc"
	t_sc=$SECONDS
	if ! "$D" heal >>"$LOG" 2>&1 || ! wait_cond 30 writable; then
		row "$sc" FAIL - - - - - - "cluster not healthy/writable before the scenario (see $LOG)"
		nfail=$((nfail + 1))
		continue
	fi
	P=$("$D" primary)
	S=$("$D" standby)
	base=$((1000000000000 + idx * 10000000 + (RANDOM % 100) * 100000))
	rm -f "$WORK/progress.json"
	$PY "$CLIENT" run --env "$ENV" --log "$WORK/$sc.ops" --base "$base" \
		--progress "$WORK/progress.json" --http >>"$LOG" 2>&1 &
	CLIENT_PID=$!
	if ! wait_cond 20 prog_ge acks 20; then
		kill "$CLIENT_PID" 2>/dev/null; wait "$CLIENT_PID" 2>/dev/null; CLIENT_PID=
		row "$sc" FAIL - - - - - - "no writes through HAProxy before the disruption"
		nfail=$((nfail + 1))
		continue
	fi
	FINAL=$P
	PROMOTED=0
	DISRUPTED=0
	"sc_$sc"
	sc_rc=$?
	# Writes must resume on the final primary: 30 more acknowledged there.
	a0=$(prog_node "$FINAL")
	wait_cond 30 prog_node_ge "$FINAL" $((a0 + 30)) || note "writes did not resume on $FINAL within 30 s"
	kill "$CLIENT_PID" 2>/dev/null
	wait_cond 10 bash -c "! kill -0 $CLIENT_PID" || kill -9 "$CLIENT_PID" 2>/dev/null
	wait "$CLIENT_PID" 2>/dev/null
	CLIENT_PID=
	# shellcheck disable=SC2086
	res=$($PY "$CLIENT" verify --env "$ENV" --log "$WORK/$sc.ops" --base "$base" \
		--primary "$FINAL" --promoted-at "${PROMOTED:-0}" --scenario "$sc" $VERIFY_ARGS)
	vrc=$?
	echo "$res" >"$WORK/$sc.json"
	echo "$res" | jq -c '{writes, acked, errors, timeouts, reached_nonprimary, acked_lost, unavail_ms,
		promo_to_write_ms, reads, read_errors, max_stale_ms_by_lane, stale_reads, http, http_errors,
		http_err_window_ms, acks_by_node, reads_by_node, http_by_node, stray_rows, error_kinds}' 2>/dev/null ||
		echo "$res"
	g() { echo "$res" | jq -r ".$1 // \"-\"" 2>/dev/null || echo "?"; }
	result=PASS
	[ "$sc_rc" = 0 ] || { result=FAIL; note "$REASON"; }
	[ "$vrc" = 0 ] || result=FAIL
	case $sc in
	lag) note "pooled reader max stale $(echo "$res" | jq -r '.max_stale_ms_by_lane["r-pool"] // 0') ms" ;;
	appdown | nginxdown) note "http errors $(g http_errors) over $(g http_err_window_ms) ms, tail errors $(g http_tail_errors)" ;;
	esac
	[ "$(g acked)" = 0 ] && { result=FAIL; note "no write acknowledged"; }
	if [ "$DISRUPTED" != 0 ] && [ "${PROMOTED:-0}" != 0 ]; then
		note "disruption->promotion $(awk -v a="$DISRUPTED" -v b="$PROMOTED" 'BEGIN { printf "%d", (b - a) * 1000 }') ms"
	fi
	row "$sc" "$result" "$(g unavail_ms)" "$(g promo_to_write_ms)" "$(g reached_nonprimary)" \
		"$(g acked_lost)" "$(g writes)/$(g acked)" "$(g reads)/$(g stale_reads)" \
		"$P->$FINAL $((SECONDS - t_sc))s${NOTES:+; $NOTES}"
	if [ "$result" = PASS ]; then npass=$((npass + 1)); else nfail=$((nfail + 1)); fi
done

echo
echo "==== failover scenarios (ms; nonprim = writes that reached a non-primary, lost = acknowledged writes lost: both must be 0)"
printf '%-11s %-5s %10s %10s %6s %5s %13s %12s  %s\n' SCENARIO RESULT UNAVAIL_MS PROMO_MS NONPRIM LOST WRITES/ACKED READS/STALE NOTE
printf '%s\n' "${ROWS[@]}"
# Not "NAME: N passed, N failed" at the start of a line: tests/run-all.sh would count it as a
# stage of its own beside the integration stage that already counts this test.
echo "failover scenarios: $npass passed, $nfail failed, $nskip skipped"
FAILED=$nfail
[ "$nfail" -gt 0 ] && exit 1
[ "$npass" -eq 0 ] && exit 77
exit 0
