# tests/failover/scenarios.sh - the failover suite's scenarios, sourced by
# tests/integration/test_failover.sh and bench/failover.sh (which provide D, ROOT, PY, ENV;
# wait_cond, prog, agent_json, note and the other runner helpers come from
# tests/failover/lib.sh).
#
# Each sc_NAME runs with the cluster healed (P primary, S streaming standby, every process up)
# and the counting client already writing and reading through HAProxy. It performs the
# disruption and sets:
#   FINAL     the node that is the primary at the end (where every acked write must be)
#   PROMOTED  epoch of the promotion (0: none in this scenario)
#   DISRUPTED epoch when a promotion scenario started its disruption (the runner prints
#             disruption -> promotion: the stand-in manager's speed, not haprole's)
#   VERIFY_ARGS extra arguments for `client.py verify` (e.g. --max-stale-ms)
# It returns non-zero, with REASON set, when the disruption itself could not be done; the
# runner then waits for writes to resume on FINAL and verifies.
# Needs: the words listed in NEEDS_<name> (agent spoa ctl fence netns) must be available, else
# SKIP.

NEEDS_switchover="agent"
sc_switchover() { # planned: drain (haprolectl when built), clean stop, promote, pg_rewind rejoin
	DISRUPTED=$(date +%s.%N)
	$D switchover >>"$LOG" 2>&1 || { REASON="demo.sh switchover failed"; return 1; }
	FINAL=$S
	PROMOTED=$(state PROMOTED_AT)
}

NEEDS_kill9="agent"
sc_kill9() { # the primary's postmaster gets SIGKILL; the "manager" promotes the standby at once
	DISRUPTED=$(date +%s.%N)
	$D pg-stop "$P" kill >>"$LOG" 2>&1
	$D promote "$S" >>"$LOG" 2>&1 || { REASON="promote $S failed"; return 1; }
	FINAL=$S
	PROMOTED=$(state PROMOTED_AT)
}

NEEDS_cutoff="agent netns"
sc_cutoff() { # the primary's host loses its network (link down in its namespace), then promote
	DISRUPTED=$(date +%s.%N)
	ip -n "hr-$P" link set eth0 down
	$D promote "$S" >>"$LOG" 2>&1 || { REASON="promote $S failed"; return 1; }
	FINAL=$S
	PROMOTED=$(state PROMOTED_AT)
}

NEEDS_lag="agent"
sc_lag() { # the standby's replay is paused: new reads must leave it once it is past max_lag
	local t_drained
	$D sql "$S" "SELECT pg_wal_replay_pause()" >>"$LOG" 2>&1
	# The reader check must stop taking reads on the paused standby ("up drain #pg: lag ...").
	if ! wait_cond 20 reader_not_up "$S"; then
		REASON="$S's reader check still up 20 s after replay paused ($(agent_json "$S" | jq -c .checks))"
		$D sql "$S" "SELECT pg_wal_replay_resume()" >/dev/null 2>&1
		return 1
	fi
	t_drained=$(date +%s.%N)
	local r0
	r0=$(prog reads)
	wait_cond 20 prog_ge reads $((r0 + 100)) || :
	$D sql "$S" "SELECT pg_wal_replay_resume()" >>"$LOG" 2>&1
	FINAL=$P
	PROMOTED=0
	# Fresh-connection reads that start 1 s after the check drained the standby (HAProxy's
	# agent-inter is 500 ms) must not be more than max_lag_time (1 s) stale.
	VERIFY_ARGS="--max-stale-ms 1000 --stale-after $(awk -v t="$t_drained" 'BEGIN { printf "%.3f", t + 1 }') --stale-lanes r-fresh"
}
# The reader check no longer takes new reads: drain, or down/fail/stopped/maint.
reader_not_up() {
	local j
	j=$(agent_json "$1") && [ -n "$j" ] || return 1 # jq -e on empty input says "true"
	echo "$j" | jq -e '.checks.reader | test("^(down|fail|stopped|maint)|(^| )drain( |$)")' >/dev/null
}

NEEDS_appdown="agent"
sc_appdown() { http_down_up "app-$APPNODE"; }
NEEDS_nginxdown="agent"
sc_nginxdown() { http_down_up "nginx-$APPNODE"; } # KILL of nginx's process group

# http_down_up PROC : kill PROC on app1; HAProxy must mark app1 down and serve from app2; then
# restart it and see app1 back. The last 20 HTTP requests must all have succeeded.
http_down_up() {
	local proc=$1 sig=${2:-KILL} h0
	$D stop-proc "$proc" "$sig" >>"$LOG" 2>&1
	if ! wait_cond 15 server_is app "$APPNODE" DOWN; then
		REASON="HAProxy did not mark $APPNODE down after $proc was killed"
		$D start-proc "$proc" >>"$LOG" 2>&1
		return 1
	fi
	h0=$(prog http)
	wait_cond 15 prog_ge http $((h0 + 40)) || :
	$D start-proc "$proc" >>"$LOG" 2>&1
	wait_cond 15 server_is app "$APPNODE" UP || { REASON="$APPNODE not back UP after restart"; return 1; }
	h0=$(prog http)
	wait_cond 15 prog_ge http $((h0 + 25)) || :
	FINAL=$P
	PROMOTED=0
	VERIFY_ARGS="--http-tail 20"
}

NEEDS_agentkill="agent"
sc_agentkill() { # the primary's agent dies (SIGKILL): writes fail closed, then it restarts
	$D stop-proc "agent-$P" KILL >>"$LOG" 2>&1
	wait_cond 15 server_is pg_write "$P" DOWN ||
		note "HAProxy kept $P UP in pg_write 15 s after its agent died"
	$D start-proc "agent-$P" >>"$LOG" 2>&1 || { REASON="agent $P did not restart"; return 1; }
	FINAL=$P
	PROMOTED=0
}

NEEDS_spoakill="agent spoa"
sc_spoakill() { # haprole-spoa dies: HAProxy falls back to the agent checks, then it restarts
	local a0
	$D stop-proc spoa KILL >>"$LOG" 2>&1
	wait_cond 10 server_is haprole_spoa spoa DOWN || note "spoa server not marked DOWN"
	a0=$(prog acks)
	wait_cond 20 prog_ge acks $((a0 + 100)) || note "writes did not continue without the SPOA"
	$D start-proc spoa >>"$LOG" 2>&1 || { REASON="spoa did not restart"; return 1; }
	wait_cond 15 server_is haprole_spoa spoa UP || note "spoa server not back UP"
	FINAL=$P
	PROMOTED=0
}

NEEDS_splitbrain="agent fence"
sc_splitbrain() { # failover, then the old primary comes back AS A PRIMARY on the old timeline
	DISRUPTED=$(date +%s.%N)
	local a0
	$D pg-stop "$P" immediate >>"$LOG" 2>&1
	$D promote "$S" >>"$LOG" 2>&1 || { REASON="promote $S failed"; return 1; }
	FINAL=$S
	PROMOTED=$(state PROMOTED_AT)
	a0=$(prog_node "$S")
	wait_cond 20 prog_node_ge "$S" $((a0 + 30)) || note "writes slow to resume on $S"
	# The old primary would take writes without waiting for any standby (the dangerous case).
	$D set-sync "$P" "" >>"$LOG" 2>&1
	$D pg-start "$P" >>"$LOG" 2>&1 || { REASON="could not restart $P"; return 1; }
	wait_cond 15 agent_says "$P" '.pg.role == "primary"' || note "$P's agent does not see it primary"
	wait_cond 15 agent_says "$P" '.fenced == true' || note "$P's agent never said fenced"
	a0=$(prog acks)
	wait_cond 20 prog_ge acks $((a0 + 150)) || :
}
agent_says() {
	local j
	j=$(agent_json "$1") && [ -n "$j" ] || return 1
	echo "$j" | jq -e "$2" >/dev/null
}
