#!/bin/bash
# tests/integration/test_failover.sh - the failover suite on the demo cluster (issues 7, 12).
#
# Brings the demo up (docker/demo.sh up) and stops it afterwards; runs each scenario of
# tests/failover/scenarios.sh with the counting client (tests/failover/client.py) writing and
# reading through HAProxy, and prints one table, a row per scenario: the write-unavailable
# window, promotion -> first write on the new primary, the time writes took to resume against
# the scenario's bound, writes that reached a non-primary (must be 0), acknowledged writes lost
# (must be 0). A scenario passes when the verifier finds none of those, writes resume on the
# expected node within the scenario's bound, its other verifier rules hold (fail closed, stale
# reads, HTTP) and every state it asserts (HAProxy's stats socket, the agents' JSON, haprolectl
# --json, haprole-spoa's status page) is reached within its bound.
# Then, for each scenario, its negative control: the same scenario through real HAProxy with
# routing made wrong on purpose (the shipped demo config with one edit, NEG_<name> in
# scenarios.sh); the verifier must FAIL it, else the suite fails (a verifier that cannot see a
# wrong landing or a stall proves nothing). Between runs `docker/demo.sh heal` restores one
# primary + one streaming standby, so runs are independent.
# A scenario whose parts are missing (haprole-agent, haprole-spoa, fencing, namespaces,
# libfaketime, iptables) is a SKIP row with the reason.
# Environment:
#   FAILOVER_SCENARIOS   only these scenarios, of either set (default: this set's, below)
#   FAILOVER_SET         core (default: switchover ... splitbrain) or faults (reload_sf ...
#                        clockstep: what tests/integration/test_failover_faults.sh runs)
#   FAILOVER_NEGATIVE=0  skip the negative controls (default 1: run them)
#   FAILOVER_REUSE_DEMO=1  run on a demo that is already up (and leave it up, healed); by
#                        default the suite refuses to: that demo may run another config
#   FAILOVER_ROUTER      the router the demo runs (passed to docker/demo.sh up as DEMO_ROUTER;
#                        default spoa); the scenarios' SPOA-only checks run with spoa only, and
#                        NEG_<name>_<router> overrides NEG_<name>
#   KEEP_LOGS=1          keep the work directory (client logs, per-run JSON) even on success
# Exit: 0 all run scenarios passed and all their negative controls failed as they must (some
# may be skipped), 77 all skipped, 1 otherwise.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
D=$ROOT/docker/demo.sh
PY=/usr/bin/python3
CLIENT=$ROOT/tests/failover/client.py
ENV=$ROOT/.demo/cluster.env
STATE=$ROOT/.demo/state.env
# Two sets, one integration test each (each within run.sh's time limit): this file runs the
# core set; tests/integration/test_failover_faults.sh runs it with FAILOVER_SET=faults.
case ${FAILOVER_SET:-core} in
core) SCENARIOS="switchover kill9 cutoff lag appdown nginxdown agentkill spoakill splitbrain" ;;
faults) SCENARIOS="reload_sf reload_mw sigstop partition clockstep" ;;
*) echo "FAIL: FAILOVER_SET is core or faults, not '$FAILOVER_SET'"; exit 1 ;;
esac
SCENARIOS=${FAILOVER_SCENARIOS:-$SCENARIOS}
NEGATIVE=${FAILOVER_NEGATIVE:-1}
ROUTER=${FAILOVER_ROUTER:-spoa}
REUSE_DEMO=${FAILOVER_REUSE_DEMO:-0}
REUSE_VAR=FAILOVER_REUSE_DEMO
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
HAPROXY_DIRTY=0 # HAProxy runs an edited config or master-worker: restore_haproxy before heal
LOAD_PID=
cleanup() {
	[ -n "$CLIENT_PID" ] && kill "$CLIENT_PID" 2>/dev/null
	[ -n "$LOAD_PID" ] && kill "$LOAD_PID" 2>/dev/null
	# Whatever a scenario left half-done: a frozen postmaster, a partition, faked clocks.
	thaw
	partition_off
	[ -n "${AFTER:-}" ] && [ "$AFTER" = clock_agents_restore ] && clock_agents_restore
	if [ "$STARTED_DEMO" = 1 ]; then
		"$D" stop >>"$LOG" 2>&1
	elif [ "$USING_DEMO" = 1 ] && [ -f "$ROOT/.demo/up" ]; then
		[ "$HAPROXY_DIRTY" = 1 ] && restore_haproxy
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
# server_is, writable, must, never, fail, agent_says, spoa_says, ctl_says: tests/failover/lib.sh.
WRITE_SRC=failover-probe
. "$ROOT/tests/failover/lib.sh"

have() { # have WORD: agent spoa ctl fence netns
	case $1 in
	netns) [ "$("$D" mode)" = netns ] ;;
	agent) "$D" has-agent ;;
	spoa) "$D" has-spoa ;;
	ctl) "$D" has-ctl ;;
	fence) [ -f "$ROOT/agent/fence.c" ] || "$D" has-spoa ;;
	faketime) [ -r "$FAKETIME_LIB" ] ;;
	iptables) command -v iptables >/dev/null && command -v ss >/dev/null ;;
	esac
}
why_missing() {
	case $1 in
	agent) echo "haprole-agent not built (or docker/agent-*.conf.in missing)" ;;
	spoa) echo "haprole-spoa not built (or docker/spoa.conf.in missing)" ;;
	ctl) echo "haprolectl not built" ;;
	fence) echo "no fencing (agent/fence.c) and no SPOA" ;;
	netns) echo "the demo runs in the loopback layout (no network namespaces)" ;;
	faketime) echo "no libfaketime ($FAKETIME_LIB; Debian package faketime)" ;;
	iptables) echo "no iptables or ss" ;;
	esac
}

# . tests/failover/scenarios.sh: sc_NAME functions and NEEDS_NAME words.
. "$ROOT/tests/failover/scenarios.sh"

# ---- bring the cluster up ------------------------------------------------------------------

echo "==== failover suite, set ${FAILOVER_SET:-core} (logs: $WORK)"
export DEMO_ROUTER=$ROUTER
demo_up_or_use "it stays up afterwards" "FAIL: " || { FAILED=1; exit 1; }
USING_DEMO=1
r=$(envv DEMO_ROUTER)
if [ "${r:-spoa}" != "$ROUTER" ]; then
	echo "FAIL: the demo runs router '${r:-spoa}', not FAILOVER_ROUTER=$ROUTER"
	FAILED=1
	exit 1
fi

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

# ---- least privilege: no haprole daemon of the demo runs as root (issue 12 item 7) -----------
users=$(demo_daemon_users)
want=4 # the four agents, and the SPOA where the router is haprole-spoa
case $ROUTER in spoa | push) want=5 ;; esac
if [ "$(printf '%s\n' "$users" | grep -c .)" -lt "$want" ] || printf '%s\n' "$users" | grep -q ' root$'; then
	echo "FAIL: the demo's haprole daemons (want $want, none as root): $(echo $users)"
	FAILED=1
	exit 1
fi
echo "least privilege: $(echo $users)"


# ---- run the scenarios ----------------------------------------------------------------------

# restore_haproxy: the demo's own HAProxy (shipped config, not master-worker) again.
restore_haproxy() {
	"$D" stop-proc haproxy >>"$LOG" 2>&1
	"$D" stop-proc haproxy-old >>"$LOG" 2>&1
	env -u DEMO_HAPROXY_EDIT DEMO_HAPROXY_MW=0 "$D" start-proc haproxy >>"$LOG" 2>&1
	HAPROXY_DIRTY=0
	[ "$(state HAPROXY_EDITED)" = 0 ] && [ "$(state HAPROXY_MW)" = 0 ]
}
# start_haproxy EDIT MW: HAProxy restarted with the sed script EDIT applied (may be empty),
# master-worker when MW is 1.
start_haproxy() {
	HAPROXY_DIRTY=1
	"$D" stop-proc haproxy >>"$LOG" 2>&1
	"$D" stop-proc haproxy-old >>"$LOG" 2>&1
	if [ -n "$1" ]; then
		DEMO_HAPROXY_EDIT=$1 DEMO_HAPROXY_MW=$2 "$D" start-proc haproxy >>"$LOG" 2>&1
	else
		env -u DEMO_HAPROXY_EDIT DEMO_HAPROXY_MW="$2" "$D" start-proc haproxy >>"$LOG" 2>&1
	fi
}

# phase WHAT: a time-stamped line in the suite log (where a run spends its time).
phase() { echo "== $(date +%T.%3N) $*" >>"$LOG"; }

ROWS=()
npass=0
nfail=0
nskip=0
nneg=0
idx=0
row() { ROWS+=("$(printf '%-14s %-5s %6s %10s %10s %13s %6s %5s %13s %12s  %s' "$@")"); }
g() { echo "$res" | jq -r ".$1 // \"-\"" 2>/dev/null || echo "?"; }

# run_case SCENARIO pos|neg : one run; sets RESULT (PASS / FAIL, and for neg: PASS means the
# verifier failed it as it must), adds a row.
run_case() {
	local sc=$1 mode=$2 name=$1 negf="" edit="" negat mw t_sc base sc_rc vrc a0 left f
	NOTES=
	REASON=
	VERIFY_ARGS=
	SC_FAILS=
	AFTER=
	NEG_EDIT=
	FROZEN=
	PARTITIONED=
	HOOK_OLD_ROLE=
	RESULT=FAIL
	idx=$((idx + 1))
	t_sc=$SECONDS
	NEG=0
	[ "$mode" = neg ] && { name="$sc/neg"; NEG=1; }
	f=$WORK/${name//\//-} # its client log (.ops) and verdict (.json)
	phase "$name: start"
	echo "---- $name"
	[ "$HAPROXY_DIRTY" = 1 ] && ! restore_haproxy && {
		row "$name" FAIL - - - - - - - - "could not restore the demo's own HAProxy (see $LOG)"
		return
	}
	if ! "$D" heal >>"$LOG" 2>&1; then
		row "$name" FAIL - - - - - - - - "docker/demo.sh heal failed (see $LOG)"
		return
	fi
	phase "$name: healed"
	P=$("$D" primary)
	S=$("$D" standby)
	negat=NEGAT_$sc
	negat=${!negat:-start}
	mw=HAPROXY_MW_$sc
	mw=${!mw:-0}
	if [ "$mode" = neg ]; then
		negf=NEG_${sc}_$ROUTER
		[ -n "${!negf:-}" ] || negf=NEG_$sc
		negf=${!negf:-}
		edit=$($negf)
		NOTES="negative: $(v=NEGDESC_${negf#neg_}; echo "${!v:-$negf}")"
		[ "$negat" = reload ] && { NEG_EDIT=$edit; edit=; }
	fi
	# A negative control leaves HAProxy on a wrong config (at start or at its reload).
	[ "$mode" = neg ] && HAPROXY_DIRTY=1
	if [ -n "$edit" ] || [ "$mw" = 1 ]; then
		if ! start_haproxy "$edit" "$mw"; then
			row "$name" FAIL - - - - - - - - "HAProxy did not start with the case's config (see $LOG)"
			return
		fi
	fi
	if ! wait_cond 30 writable; then
		row "$name" FAIL - - - - - - - - "cluster not writable before the scenario (see $LOG)"
		return
	fi
	base=$((1000000000000 + idx * 10000000 + (RANDOM % 100) * 100000))
	rm -f "$WORK/progress.json"
	local cargs=CLIENT_ARGS_$sc
	# A write may wait up to 5 s (the demo's SPOA holds writes up to hold_max = 3 s while a
	# promotion is plausible). One fresh-connection write every 40 ms on up to 40 lanes: writes
	# stuck 2 s on a dead server (HAProxy's timeout connect) do not delay new ones, and all of
	# them at once stay under the demo PostgreSQL's max_connections (60; a hold releasing 120
	# writes at once overflowed it).
	# shellcheck disable=SC2086
	$PY "$CLIENT" run --env "$ENV" --log "$f.ops" --base "$base" --progress "$WORK/progress.json" \
		--http --timeout 5 --fresh-lanes 40 --write-interval 0.04 ${!cargs:-} >>"$LOG" 2>&1 &
	CLIENT_PID=$!
	# LOAD_<name>=1: connections on the read port as well (each one a NOTIFY: the router busy).
	local load=LOAD_$sc
	LOAD_PID=
	if [ "${!load:-0}" = 1 ]; then
		$PY "$CLIENT" load --env "$ENV" --out "$f.load" >>"$LOG" 2>&1 &
		LOAD_PID=$!
	fi
	if ! wait_cond 20 prog_ge acks 20; then
		kill "$CLIENT_PID" 2>/dev/null; wait "$CLIENT_PID" 2>/dev/null; CLIENT_PID=
		[ -n "$LOAD_PID" ] && { kill "$LOAD_PID" 2>/dev/null; wait "$LOAD_PID" 2>/dev/null; LOAD_PID=; }
		row "$name" FAIL - - - - - - - - "no writes through HAProxy before the disruption"
		return
	fi
	FINAL=$P
	PROMOTED=0
	DISRUPTED=0
	RESUME_AT=
	RESUME_WITHIN=2
	hooks_mark
	phase "$name: writes flowing, disruption"
	"sc_$sc"
	sc_rc=$?
	phase "$name: scenario done"
	thaw          # a scenario that stopped half-way: no frozen postmaster,
	partition_off # no partition left behind
	[ -n "$RESUME_AT" ] || RESUME_AT=$(now)
	# A promotion ran the new primary's role-change hook exactly once.
	# shellcheck disable=SC2086
	[ "$mode" = pos ] && [ "$PROMOTED" != 0 ] && hooks_check "$FINAL" ${HOOK_OLD_ROLE:+"$P" "$HOOK_OLD_ROLE"}
	# Give writes the scenario's bound (plus 5 s; 1 s in a negative control) to be acknowledged
	# by FINAL 30 times more: the verifier then judges when the first one came.
	a0=$(prog_node "$FINAL")
	left=$(awk -v a="$RESUME_AT" -v w="$RESUME_WITHIN" -v n="$(now)" -v m=$((NEG ? 1 : 5)) \
		'BEGIN { l = a + w + m - n; printf "%d", l < 1 ? 1 : l + 0.999 }')
	wait_cond "$left" prog_node_ge "$FINAL" $((a0 + 30)) || :
	kill "$CLIENT_PID" 2>/dev/null
	wait_cond 10 bash -c "! kill -0 $CLIENT_PID" || kill -9 "$CLIENT_PID" 2>/dev/null
	wait "$CLIENT_PID" 2>/dev/null
	CLIENT_PID=
	if [ -n "$LOAD_PID" ]; then
		kill "$LOAD_PID" 2>/dev/null
		wait_cond 10 bash -c "! kill -0 $LOAD_PID" || kill -9 "$LOAD_PID" 2>/dev/null
		wait "$LOAD_PID" 2>/dev/null
		LOAD_PID=
		# shellcheck disable=SC2015
		[ "$(jq -r '.done // 0' "$f.load" 2>/dev/null || echo 0)" -gt 0 ] &&
			note "load: $(jq -r '"\(.done) connections answered, \(.failed) failed"' "$f.load")" ||
			fail "the connection load got no answer (see $f.load)"
	fi
	[ -n "$AFTER" ] && "$AFTER"
	# shellcheck disable=SC2086
	res=$($PY "$CLIENT" verify --env "$ENV" --log "$f.ops" --base "$base" \
		--primary "$FINAL" --promoted-at "${PROMOTED:-0}" --scenario "$name" \
		--resume-node "$FINAL" --resume-after "$RESUME_AT" --resume-within "$RESUME_WITHIN" \
		--write-tail 20 $VERIFY_ARGS)
	vrc=$?
	phase "$name: verified"
	echo "$res" >"$f.json"
	echo "$res" | jq -c '{writes, acked, errors, timeouts, reached_nonprimary, acked_lost, unavail_ms,
		promo_to_write_ms, resume_ms, resume_bound_ms, reads, read_errors, max_stale_ms_by_lane,
		stale_reads, http, http_errors, http_errors_after, acked_while_closed, acks_by_node,
		reads_by_node, http_by_node, stray_rows, error_kinds, violations}' 2>/dev/null || echo "$res"
	[ "$sc_rc" = 0 ] || { SC_FAILS="${SC_FAILS:+$SC_FAILS; }could not run: $REASON"; }
	if [ "$mode" = pos ]; then
		RESULT=PASS
		[ -n "$SC_FAILS" ] && { RESULT=FAIL; note "$SC_FAILS"; }
		[ "$vrc" = 0 ] || { RESULT=FAIL; note "verifier: $(echo "$res" | jq -r '(.violations // [.error]) | join("; ")' 2>/dev/null)"; }
		[ "$(g acked)" = 0 ] && { RESULT=FAIL; note "no write acknowledged"; }
		case $sc in
		lag) note "pooled reader max stale $(echo "$res" | jq -r '.max_stale_ms_by_lane["r-pool"] // 0') ms" ;;
		appdown | nginxdown) note "http errors $(g http_errors) over $(g http_err_window_ms) ms, after DOWN $(g http_errors_after)" ;;
		esac
	else
		# The verifier must have failed this run (exit 1); the scenario must have run.
		if [ "$sc_rc" != 0 ]; then
			note "could not run: $REASON"
		elif [ "$vrc" = 1 ]; then
			RESULT=PASS
			note "verifier failed it as it must: $(echo "$res" | jq -r '.violations | join("; ")')"
		elif [ "$vrc" = 0 ]; then
			note "the verifier PASSED wrong routing"
		else
			note "verifier error: $(g error)"
		fi
	fi
	if [ "$DISRUPTED" != 0 ] && [ "${PROMOTED:-0}" != 0 ]; then
		note "disruption->promotion $(awk -v a="$DISRUPTED" -v b="$PROMOTED" 'BEGIN { printf "%d", (b - a) * 1000 }') ms"
	fi
	row "$name" "$RESULT" "$((SECONDS - t_sc))" "$(g unavail_ms)" "$(g promo_to_write_ms)" \
		"$(g resume_ms)/$(g resume_bound_ms)" "$(g reached_nonprimary)" "$(g acked_lost)" \
		"$(g writes)/$(g acked)" "$(g reads)/$(g stale_reads)" "$P->$FINAL${NOTES:+; $NOTES}"
}

t_suite=$SECONDS
for sc in $SCENARIOS; do
	needs_var="NEEDS_$sc"
	missing=
	for w in ${!needs_var-}; do have "$w" || missing="${missing:+$missing, }$(why_missing "$w")"; done
	if ! declare -F "sc_$sc" >/dev/null; then missing="no scenario named $sc"; fi
	if [ -n "$missing" ]; then
		row "$sc" SKIP - - - - - - - - "$missing"
		nskip=$((nskip + 1))
		echo "---- $sc: SKIP ($missing)"
		continue
	fi
	run_case "$sc" pos
	if [ "$RESULT" = PASS ]; then npass=$((npass + 1)); else nfail=$((nfail + 1)); fi
	[ "$NEGATIVE" = 1 ] || continue
	negf=NEG_${sc}_$ROUTER
	negf=${!negf:-}
	[ -n "$negf" ] || { negf=NEG_$sc; negf=${!negf:-}; }
	if [ -z "$negf" ]; then
		row "$sc/neg" FAIL - - - - - - - - "no negative control (NEG_$sc) for this scenario"
		nfail=$((nfail + 1))
		continue
	fi
	run_case "$sc" neg
	nneg=$((nneg + 1))
	if [ "$RESULT" = PASS ]; then npass=$((npass + 1)); else nfail=$((nfail + 1)); fi
done

echo
echo "==== failover scenarios (ms; nonprim = writes that reached a non-primary, lost = acknowledged writes lost: both must be 0;"
echo "     RESUME = first write acknowledged by the final primary after the scenario's reference / its bound;"
echo "     NAME/neg = negative control: routing wrong on purpose, PASS means the verifier failed it as it must)"
printf '%-14s %-5s %6s %10s %10s %13s %6s %5s %13s %12s  %s\n' SCENARIO RESULT SECS UNAVAIL_MS PROMO_MS RESUME/BOUND NONPRIM LOST WRITES/ACKED READS/STALE NOTE
printf '%s\n' "${ROWS[@]}"
echo "suite time: $((SECONDS - t_suite)) s (router $ROUTER; $nneg negative controls)"
# Not "NAME: N passed, N failed" at the start of a line: tests/run-all.sh would count it as a
# stage of its own beside the integration stage that already counts this test.
echo "failover scenarios: $npass passed, $nfail failed, $nskip skipped"
FAILED=$nfail
[ "$nfail" -gt 0 ] && exit 1
[ "$npass" -eq 0 ] && exit 77
exit 0
