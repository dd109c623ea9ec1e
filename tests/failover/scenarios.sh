# tests/failover/scenarios.sh - the failover suite's scenarios, sourced by
# tests/integration/test_failover.sh and bench/failover.sh (which provide D, ROOT, PY, ENV, LOG,
# ROUTER; wait_cond, prog, agent_json, must, never, fail, agent_says, spoa_says, ctl_says and the
# other runner helpers come from tests/failover/lib.sh).
#
# Each sc_NAME runs with the cluster healed (P primary, S streaming standby, every process up)
# and the counting client already writing and reading through HAProxy. It performs the
# disruption, asserts the states HAProxy (stats socket) and the feeds (agents' JSON, haprolectl
# --json, haprole-spoa's status page) must reach, each within a stated bound (`must`: a bound on
# a wait, never a performance threshold; a miss is a `fail`, which fails the scenario), and sets:
#   FINAL        the node that is the primary at the end (where every acked write must be)
#   PROMOTED     epoch of the promotion (0: none in this scenario)
#   DISRUPTED    epoch when a promotion scenario started its disruption (the runner prints
#                disruption -> promotion: the stand-in manager's speed, not haprole's)
#   RESUME_AT, RESUME_WITHIN  writes must be acknowledged by FINAL again at most RESUME_WITHIN
#                seconds after the epoch RESUME_AT (the verifier's --resume-* rule; the runner
#                defaults them to "2 s after sc_NAME returned")
#   VERIFY_ARGS  extra rules for `client.py verify` (--max-stale-ms, --closed-from/--closed-until,
#                --http-ok-after, --http-tail)
# It returns non-zero, with REASON set, when the disruption itself could not be done.
# Needs: the words listed in NEEDS_<name> (agent spoa ctl fence netns faketime iptables) must be
# available, else SKIP.
#
# Negative controls (NEG_<name>, a function printing a sed script for the generated HAProxy
# config, docker/demo.sh's DEMO_HAPROXY_EDIT; NEGDESC_<name> says what it breaks): the same
# scenario with routing made wrong on purpose, through real HAProxy; the verifier must then
# fail, which the runner asserts. The config is the shipped template with that one edit. The
# runner starts HAProxy with it before the client; a scenario whose NEGAT_<name> is "reload"
# applies it itself, at its reload (NEG_EDIT holds it; empty in a normal run).
# HOOK_OLD_ROLE: the role the old primary's role-change hook must end on (when the demo's agents
# run one: tests/failover/lib.sh hooks_check; the new primary's is always checked).
# The scenario may set AFTER (a command) that the runner runs once the client has stopped.
# CLIENT_ARGS_<name>: extra arguments for `client.py run`.
# LOAD_<name>=1: the runner also runs `client.py load` beside the client (connections on the
# read port, each one a NOTIFY to the router), and fails the run when it got no answer.

# ---- negative-control edits ------------------------------------------------------------------

# Writes pinned to the old primary P: `use-server P` forced even while P is DOWN, before the
# SPOA's choice (in pg_write, and in pg_write_routed where the router's writes go), and no
# refusal when the SPOA says there is no writer.
neg_pin_old() {
	printf '%s\n' "/^backend pg_write\$/,/^\$/ s/^\\tforce-persist if .*/\\tforce-persist if TRUE\\n\\tuse-server $P if TRUE/" \
		"/^backend pg_write_routed\$/,/^\$/ s/^\\toption persist\$/\\toption persist\\n\\tforce-persist if TRUE\\n\\tuse-server $P if TRUE/" \
		'/^\ttcp-request content reject if { var(txn.haprole.status)/d'
}
NEGDESC_pin_old="pg_write pinned to the old primary (force-persist + use-server), no refusal"
# The fallback path made blind: pg_write's writer checks (agent-check and HTTP check) replaced by
# the reader's, round-robin instead of `first`: every healthy node takes writes.
neg_blind_fallback() {
	printf '%s\n' '/^backend pg_write$/,/^$/ { s/^\tbalance first$/\tbalance roundrobin/; s|/check/writer|/check/reader|; }' \
		's/agent-send "writer\\n"/agent-send "reader\\n"/'
}
NEGDESC_blind_fallback="pg_write checks ask for reader instead of writer, balance roundrobin"
# ... and no SPOE filter on pg_write either: writes go round-robin to any healthy node.
neg_no_router() {
	neg_blind_fallback
	printf '%s\n' '/^frontend pg_write$/,/^$/ { /filter spoe/d; /send-spoe-group/d; }'
}
NEGDESC_no_router="no SPOE filter on pg_write, writer checks replaced by reader checks, roundrobin"

# ---- helpers -------------------------------------------------------------------------------

# promoted_checks NEW OLD: after NEW's promotion, HAProxy, NEW's agent, haprolectl and the SPOA
# must all say NEW is the writer and HAProxy must take OLD out of pg_write.
promoted_checks() {
	local n=$1 o=$2
	must 3 "$n's agent does not report a primary with its writer check up" \
		agent_says "$n" '.pg.up and .pg.role == "primary" and (.checks.writer | startswith("up"))'
	must 3 "HAProxy did not mark $n UP in pg_write" server_is pg_write "$n" UP
	must 5 "HAProxy kept the old primary $o UP in pg_write" server_is pg_write "$o" DOWN
	must 3 "haprolectl --json does not name $n the writer" ctl_says ".writer == \"$n\""
	[ "$ROUTER" = spoa ] && must 3 "haprole-spoa does not route writes to $n (status page)" \
		spoa_says ".clusters[0].status == \"ok\" and .clusters[0].writer == \"$n\""
	return 0
}
is_down() { ! "$@"; }

NEEDS_switchover="agent ctl"
NEG_switchover=neg_pin_old
sc_switchover() { # planned: drain (haprolectl), clean stop, promote, pg_rewind rejoin
	DISRUPTED=$(now)
	$D switchover >>"$LOG" 2>&1 || { REASON="demo.sh switchover failed"; return 1; }
	FINAL=$S
	PROMOTED=$(state PROMOTED_AT)
	RESUME_AT=$PROMOTED
	RESUME_WITHIN=2
	promoted_checks "$S" "$P"
	HOOK_OLD_ROLE=standby # the runner checks P's role-change hook said so
	must 3 "$P's agent does not report a streaming standby after the rejoin" \
		agent_says "$P" '.pg.up and .pg.role == "standby" and .pg.streaming'
}

NEEDS_kill9="agent ctl"
NEG_kill9=neg_pin_old
sc_kill9() { # the primary's postmaster gets SIGKILL; the "manager" promotes the standby at once
	DISRUPTED=$(now)
	$D pg-stop "$P" kill >>"$LOG" 2>&1
	$D promote "$S" >>"$LOG" 2>&1 || { REASON="promote $S failed"; return 1; }
	FINAL=$S
	PROMOTED=$(state PROMOTED_AT)
	RESUME_AT=$PROMOTED
	RESUME_WITHIN=2
	must 3 "$P's agent still reports its PostgreSQL up" agent_says "$P" '.pg.up == false'
	promoted_checks "$S" "$P"
}

NEEDS_cutoff="agent ctl netns"
NEG_cutoff=neg_pin_old
sc_cutoff() { # the primary's host loses its network (link down in its namespace), then promote
	DISRUPTED=$(now)
	ip -n "hr-$P" link set eth0 down
	$D promote "$S" >>"$LOG" 2>&1 || { REASON="promote $S failed"; return 1; }
	FINAL=$S
	PROMOTED=$(state PROMOTED_AT)
	RESUME_AT=$PROMOTED
	RESUME_WITHIN=2
	must 3 "$P's agent still answers with its link down" is_down agent_json "$P"
	# HTTP check: timeout check 1s, inter 500ms, fall 2.
	promoted_checks "$S" "$P"
}

NEEDS_lag="agent"
NEG_lag=neg_pin_reader
NEGDESC_pin_reader="pg_read pinned to the standby (force-persist + use-server)"
neg_pin_reader() {
	printf '%s\n' "/^backend pg_read\$/,/^\$/ s/^\\tbalance leastconn\$/\\tbalance leastconn\\n\\tforce-persist if TRUE\\n\\tuse-server $S if TRUE/"
}
sc_lag() { # the standby's replay is paused: new reads must leave it once it is past max_lag
	local t_drained r0
	$D sql "$S" "SELECT pg_wal_replay_pause()" >>"$LOG" 2>&1
	# The reader check must stop taking reads on the paused standby ("up drain #pg: lag ...").
	if ! must 20 "$S's reader check still up after its replay paused" reader_not_up "$S"; then
		$D sql "$S" "SELECT pg_wal_replay_resume()" >/dev/null 2>&1
		return 0
	fi
	t_drained=$(now)
	must 3 "HAProxy did not drain $S in pg_read" server_is pg_read "$S" DRAIN
	r0=$(prog reads)
	observe 10 prog_ge reads $((r0 + 100))
	$D sql "$S" "SELECT pg_wal_replay_resume()" >>"$LOG" 2>&1
	must 10 "$S's reader check not up again after its replay resumed" \
		agent_says "$S" '.checks.reader | startswith("up ready")'
	FINAL=$P
	PROMOTED=0
	RESUME_AT=$t_drained
	RESUME_WITHIN=2
	# Fresh-connection reads that start 1 s after the check drained the standby (HAProxy's
	# agent-inter is 500 ms) must not be more than max_lag_time (1 s) stale.
	VERIFY_ARGS="--max-stale-ms 1000 --stale-after $(awk -v t="$t_drained" 'BEGIN { printf "%.3f", t + 1 }') --stale-lanes r-fresh"
}
# The reader check no longer takes new reads: drain, or down/fail/stopped/maint.
reader_not_up() {
	agent_says "$1" '.checks.reader | test("^(down|fail|stopped|maint)|(^| )drain( |$)")'
}

# The app node pinned whatever its state: no redispatch to the other one.
neg_pin_app() {
	printf '%s\n' "/^backend app\$/,/^\$/ s/^\\toption redispatch 1\$/\\tforce-persist if TRUE\\n\\tuse-server $APPNODE if TRUE/"
}
NEGDESC_pin_app="backend app pinned to $APPNODE (force-persist + use-server), no redispatch"
NEEDS_appdown="agent"
NEG_appdown=neg_pin_app
sc_appdown() { http_down_up "app-$APPNODE" app; }
NEEDS_nginxdown="agent"
NEG_nginxdown=neg_pin_app
sc_nginxdown() { http_down_up "nginx-$APPNODE" nginx; } # KILL of nginx's process group

# http_down_up PROC WHAT : kill PROC on app1; its agent and HAProxy must mark app1 down; every
# GET from then on is served (by app2); restart it and see app1 back. The last 20 HTTP requests
# must all have succeeded.
http_down_up() {
	local proc=$1 what=$2 h0 t_down
	$D stop-proc "$proc" KILL >>"$LOG" 2>&1
	must 5 "$APPNODE's agent does not report its $what down" \
		agent_says "$APPNODE" ".$what.up == false and (.checks.app | startswith(\"up\") | not)"
	if ! must 5 "HAProxy did not mark $APPNODE down after $proc was killed" server_is app "$APPNODE" DOWN; then
		$D start-proc "$proc" >>"$LOG" 2>&1
		return 0
	fi
	t_down=$(now)
	h0=$(prog http)
	observe 15 prog_ge http $((h0 + 40))
	$D start-proc "$proc" >>"$LOG" 2>&1 || { REASON="$proc did not restart"; return 1; }
	must 5 "$APPNODE not back UP in HAProxy after $proc restarted" server_is app "$APPNODE" UP
	h0=$(prog http)
	observe 15 prog_ge http $((h0 + 25))
	FINAL=$P
	PROMOTED=0
	RESUME_AT=$t_down
	RESUME_WITHIN=2
	VERIFY_ARGS="--http-tail 20 --http-ok-after $t_down"
}

NEEDS_agentkill="agent"
NEG_agentkill=neg_pin_old
sc_agentkill() { # the primary's agent dies (SIGKILL): writes fail closed, then it restarts
	local t_closed t_open
	$D stop-proc "agent-$P" KILL >>"$LOG" 2>&1
	# HTTP check /check/writer: inter 500ms, fall 2 (the agent-check alone would keep UP).
	must 5 "agent killed but HAProxy kept the primary $P UP in pg_write" server_is pg_write "$P" DOWN
	[ "$ROUTER" = spoa ] && must 5 "haprole-spoa still names a writer with $P's feed lost" \
		spoa_says '.clusters[0].status != "ok" and .clusters[0].writer == ""'
	# The Lua router on HAProxy 2.6 learns of the agent's death from its silence (3
	# heartbeats): under load that can come after HAProxy's checks, and until then it routes
	# new connections to the primary it still names (by persist, past the DOWN check). The
	# window in which routing must fail closed starts once the router knows, as for the SPOA.
	[ "$ROUTER" = lua ] && must 5 "the Lua router still names a writer with $P's feed lost" \
		lua_says '^cluster .* writer - '
	t_closed=$(now)
	# Writes keep being tried (and refused) meanwhile: longer than the SPOA holds a write
	# (hold_max 3 s), so that held writes are answered inside the window.
	observe_full 5 false
	t_open=$(now)
	$D start-proc "agent-$P" >>"$LOG" 2>&1 || { REASON="agent $P did not restart"; return 1; }
	must 5 "HAProxy did not mark $P UP in pg_write after its agent restarted" server_is pg_write "$P" UP
	FINAL=$P
	PROMOTED=0
	# The SPOA reconnects with a backoff of at most 2 s, then needs one frame.
	RESUME_AT=$t_open
	RESUME_WITHIN=4
	VERIFY_ARGS="--closed-from $t_closed --closed-until $t_open"
	# The Lua router on HAProxy 2.6 learned of the agent's death only from its silence (3
	# heartbeats), later than HAProxy's checks: a pooled connection
	# reopened in between is routed to the node (still the writable primary) and stays. New
	# connections must still fail closed (docs/lua.md, "Trade-offs").
	[ "$ROUTER" = lua ] && VERIFY_ARGS="$VERIFY_ARGS --closed-lanes w-fresh"
	return 0
}

NEEDS_spoakill="agent spoa"
NEG_spoakill=neg_blind_fallback
LOAD_spoakill=1 # killed under load: ~200 more connections a second, each a NOTIFY
# HAProxy gives up on a NOTIFY the dead SPOA cannot answer after the SPOE's `timeout processing`
# and only then routes by the agent checks: the client waits longer than that.
CLIENT_ARGS_spoakill="--timeout 6"
sc_spoakill() { # haprole-spoa dies: HAProxy falls back to the agent checks, then it restarts
	local f0 t_down tp
	$D stop-proc spoa KILL >>"$LOG" 2>&1
	# spop-check: inter 1s, fall 3 (default).
	must 6 "HAProxy did not mark haprole-spoa DOWN" server_is haprole_spoa spoa DOWN
	t_down=$(now)
	f0=$(prog_lane w-fresh)
	tp=$(spoe_processing_s)
	must $((${tp%.*} + 8)) "new connections' writes did not continue without the SPOA" \
		prog_lane_ge w-fresh $((f0 + 20))
	$D start-proc spoa >>"$LOG" 2>&1 || { REASON="spoa did not restart"; return 1; }
	must 5 "haprole-spoa not back UP in HAProxy" server_is haprole_spoa spoa UP
	must 3 "haprole-spoa does not route writes to $P after its restart" \
		spoa_says ".clusters[0].status == \"ok\" and .clusters[0].writer == \"$P\""
	FINAL=$P
	PROMOTED=0
	# New connections (the pooled one stays put) are routed again by the agent checks once
	# HAProxy gives up on the SPOE: within its `timeout processing` + 2 s.
	RESUME_AT=$t_down
	RESUME_WITHIN=$(awk -v t="$tp" 'BEGIN { print t + 2 }')
	VERIFY_ARGS="--resume-lanes w-fresh"
}
# spoe_processing_s: the SPOE `timeout processing` of the demo's write engine, in seconds.
spoe_processing_s() {
	awk '/^\[haprole-write\]/ { w = 1 } /^\[/ && !/haprole-write/ { w = 0 }
		w && $1 == "timeout" && $2 == "processing" { v = $3; m = 1
			if (v ~ /ms$/) { sub(/ms$/, "", v); m = 0.001 } else if (v ~ /s$/) { sub(/s$/, "", v) }
			else m = 0.001
			print v * m; exit }' "$ROOT/.demo/spoe.conf"
}

NEEDS_splitbrain="agent ctl fence"
NEG_splitbrain=neg_pin_old
sc_splitbrain() { # failover, then the old primary comes back AS A PRIMARY on the old timeline
	DISRUPTED=$(now)
	local a0
	$D pg-stop "$P" immediate >>"$LOG" 2>&1
	$D promote "$S" >>"$LOG" 2>&1 || { REASON="promote $S failed"; return 1; }
	FINAL=$S
	PROMOTED=$(state PROMOTED_AT)
	RESUME_AT=$PROMOTED
	RESUME_WITHIN=2
	promoted_checks "$S" "$P"
	# The old primary would take writes without waiting for any standby (the dangerous case).
	$D set-sync "$P" "" >>"$LOG" 2>&1
	$D pg-start "$P" >>"$LOG" 2>&1 || { REASON="could not restart $P"; return 1; }
	old_primary_fenced
	a0=$(prog acks)
	observe 10 prog_ge acks $((a0 + 150))
}
# old_primary_fenced: P runs as a primary on the old timeline; its agent must fence it and
# every router keep it out.
old_primary_fenced() {
	must 15 "$P's agent does not see it a primary" agent_says "$P" '.pg.up and .pg.role == "primary"'
	must 5 "$P's agent never fenced it" agent_says "$P" '.fenced == true and (.checks.writer | startswith("down"))'
	must 3 "HAProxy has the fenced $P UP in pg_write" server_is pg_write "$P" DOWN
	must 3 "haprolectl --json does not see $P fenced with $S the writer" \
		ctl_says ".writer == \"$S\" and ([.nodes[] | select(.name == \"$P\") | .state.fenced] == [true])"
	[ "$ROUTER" = spoa ] && must 3 "haprole-spoa does not keep $S the writer with $P back" \
		spoa_says ".clusters[0].status == \"ok\" and .clusters[0].writer == \"$S\""
	return 0
}

# ---- faults of issue 12 item 5 ------------------------------------------------------------

# reload_sf / reload_mw: HAProxy reloaded while the client's connections keep the SPOE busy.
# The new process must take over (its stats socket answers, the writer UP, the standby DOWN),
# writes continue, and the old process must exit once its sessions are gone.
NEEDS_reload_sf="agent"
NEG_reload_sf=neg_no_router
LOAD_reload_sf=1
NEGAT_reload_sf=reload
sc_reload_sf() {
	local old t
	old=$(cat "$ROOT/.demo/pids/haproxy.pid")
	t=$(now)
	DEMO_HAPROXY_EDIT="$NEG_EDIT" $D reload-haproxy sf >>"$LOG" 2>&1 || { REASON="reload-haproxy sf failed"; return 1; }
	NEW_HAPROXY=$(cat "$ROOT/.demo/pids/haproxy.pid")
	must 5 "the new HAProxy ($NEW_HAPROXY) does not answer the stats socket" haproxy_pid_serving "$NEW_HAPROXY"
	reloaded_checks
	FINAL=$P
	PROMOTED=0
	RESUME_AT=$t
	RESUME_WITHIN=2
	OLD_HAPROXY=$old
	AFTER=old_haproxy_gone
}
NEEDS_reload_mw="agent"
NEG_reload_mw=neg_no_router
LOAD_reload_mw=1
NEGAT_reload_mw=reload
HAPROXY_MW_reload_mw=1 # the runner starts HAProxy master-worker for this scenario
sc_reload_mw() {
	local master olds t w
	master=$(cat "$ROOT/.demo/pids/haproxy.pid")
	olds=$(pgrep -P "$master" -d ' ')
	[ -n "$olds" ] || { REASON="HAProxy ($master) has no worker: not master-worker"; return 1; }
	t=$(now)
	DEMO_HAPROXY_EDIT="$NEG_EDIT" $D reload-haproxy mw >>"$LOG" 2>&1 || { REASON="reload-haproxy mw failed"; return 1; }
	must 5 "no new worker after the master-worker reload" new_worker "$master" "$olds"
	NEW_HAPROXY=$(new_worker "$master" "$olds")
	must 5 "the new worker ($NEW_HAPROXY) does not answer the stats socket" haproxy_pid_serving "$NEW_HAPROXY"
	reloaded_checks
	FINAL=$P
	PROMOTED=0
	RESUME_AT=$t
	RESUME_WITHIN=2
	OLD_HAPROXY=$olds
	AFTER=old_haproxy_gone
}
new_worker() { # new_worker MASTER OLD_PIDS: prints a worker of MASTER not among OLD_PIDS
	local w
	for w in $(pgrep -P "$1"); do
		case " $2 " in *" $w "*) ;; *) echo "$w"; return 0 ;; esac
	done
	return 1
}
reloaded_checks() {
	must 3 "the reloaded HAProxy does not have $P UP in pg_write" server_is pg_write "$P" UP
	must 3 "the reloaded HAProxy has the standby $S UP in pg_write" server_is pg_write "$S" DOWN
	[ "$ROUTER" = spoa ] && must 5 "the reloaded HAProxy has haprole-spoa DOWN" server_is haprole_spoa spoa UP
	return 0
}
# AFTER of the reloads: the old process(es) exit once the client's sessions are closed.
old_haproxy_gone() {
	local p
	for p in $OLD_HAPROXY; do
		must 10 "the old HAProxy $p still runs 10 s after its sessions ended" is_down kill -0 "$p"
	done
	rm -f "$ROOT/.demo/pids/haproxy-old.pid"
}

# sigstop: the primary's PostgreSQL frozen (SIGSTOP to the postmaster and its children: the
# kernel still accepts connections, nothing answers). Its agent must see it down (probe
# timeout), HAProxy take it out; the standby is promoted; writes resume there; the old primary
# is thawed (SIGCONT) and must then be fenced.
NEEDS_sigstop="agent ctl fence"
NEG_sigstop=neg_pin_old
sc_sigstop() {
	local pm
	pm=$(cat "$ROOT/.demo/pids/pg-$P.pid" 2>/dev/null)
	[ -n "$pm" ] || { REASON="no postmaster pid for $P"; return 1; }
	FROZEN="$pm $(pgrep -P "$pm" -d ' ')"
	DISRUPTED=$(now)
	# shellcheck disable=SC2086
	kill -STOP $FROZEN
	must 5 "$P's agent still reports its frozen PostgreSQL up" agent_says "$P" '.pg.up == false'
	must 3 "HAProxy kept the frozen $P UP in pg_write" server_is pg_write "$P" DOWN
	$D promote "$S" >>"$LOG" 2>&1 || { thaw; REASON="promote $S failed"; return 1; }
	FINAL=$S
	PROMOTED=$(state PROMOTED_AT)
	RESUME_AT=$PROMOTED
	RESUME_WITHIN=2
	promoted_checks "$S" "$P"
	thaw
	old_primary_fenced
}
thaw() {
	# shellcheck disable=SC2086
	[ -n "${FROZEN:-}" ] && kill -CONT $FROZEN 2>/dev/null
	FROZEN=
}

# partition: after a failover, a one-way partition hides the new primary's feed from the SPOA
# (the agent's frames to the SPOA are dropped in its namespace; the SPOA's packets still
# arrive), then the old primary comes back as a primary on the old timeline. The SPOA must name
# no writer while it cannot see the new primary (fail closed: no write acknowledged by anyone),
# never the old primary; once the partition is removed, writes resume on the new primary.
NEEDS_partition="agent spoa ctl fence netns iptables"
NEG_partition=neg_pin_old
sc_partition() {
	local t_closed t_open
	DISRUPTED=$(now)
	$D pg-stop "$P" kill >>"$LOG" 2>&1
	$D promote "$S" >>"$LOG" 2>&1 || { REASON="promote $S failed"; return 1; }
	FINAL=$S
	PROMOTED=$(state PROMOTED_AT)
	promoted_checks "$S" "$P"
	partition_on "$S" || { REASON="could not install the partition in hr-$S"; return 1; }
	must 5 "haprole-spoa still hears $S's feed through the partition" \
		spoa_says ".clusters[0].nodes[] | select(.name == \"$S\") | .known == false"
	must 3 "haprole-spoa still names a writer without $S's feed" \
		spoa_says '.clusters[0].status != "ok" and .clusters[0].writer == ""'
	# The fencing feed between the agents is not partitioned: the peers still see each other.
	$D set-sync "$P" "" >>"$LOG" 2>&1
	$D pg-start "$P" >>"$LOG" 2>&1 || { partition_off; REASON="could not restart $P"; return 1; }
	must 5 "$P's agent never fenced it" agent_says "$P" '.fenced == true'
	t_closed=$(now)
	never 5 "haprole-spoa named a writer while $S's feed was partitioned" \
		spoa_says '.clusters[0].writer != ""'
	t_open=$(now)
	partition_off
	must 5 "haprole-spoa does not route writes to $S after the partition healed" \
		spoa_says ".clusters[0].status == \"ok\" and .clusters[0].writer == \"$S\""
	# The SPOA reconnects with a backoff of at most 2 s, then needs one frame.
	RESUME_AT=$t_open
	RESUME_WITHIN=4
	# New connections only: the SPOE routes a connection once, and the pooled one opened to
	# the new primary before the partition rightly stays there (it is UP in HAProxy's checks).
	VERIFY_ARGS="--closed-from $t_closed --closed-until $t_open --closed-lanes w-fresh"
}
# partition_on NODE: in NODE's namespace, drop what its agent sends on feed connections that
# came from the root namespace (the SPOA's: HAProxy's checks never SUBSCRIBE, the peer agents
# are not in the root namespace); then cut the SPOA's open feed socket so it reconnects into it.
partition_on() {
	local n=$1 a
	a=$(host_of "$n")
	PARTITIONED=$n
	ip netns exec "hr-$n" iptables -t mangle -A PREROUTING -s "$(envv SPOA_HOST)" -p tcp --dport "$(envv "${n}_AGENT_PORT")" \
		-m string --algo bm --string SUBSCRIBE -j CONNMARK --set-mark 0x4835 || return 1
	ip netns exec "hr-$n" iptables -A OUTPUT -p tcp --sport "$(envv "${n}_AGENT_PORT")" -m connmark --mark 0x4835 -j DROP || return 1
	ss -K -t state established dst "$a" dport = "$(envv "${n}_AGENT_PORT")" >>"$LOG" 2>&1
}
partition_off() {
	[ -n "${PARTITIONED:-}" ] || return 0
	ip netns exec "hr-$PARTITIONED" iptables -t mangle -F PREROUTING 2>/dev/null
	ip netns exec "hr-$PARTITIONED" iptables -F OUTPUT 2>/dev/null
	PARTITIONED=
}

# clockstep: both PostgreSQL nodes' agents run under libfaketime; their wall clocks are stepped
# (the primary's 1 h forward, the standby's 1 h back) while writes flow. Nothing may change
# (the SPOA keeps the writer, HAProxy the servers); then a failover must still go through.
NEEDS_clockstep="agent ctl faketime"
NEG_clockstep=neg_pin_old
sc_clockstep() {
	AFTER=clock_agents_restore # also when it stops half-way
	clock_agents_start || { REASON="could not restart the agents under libfaketime"; return 1; }
	echo "+3600" >"$CLOCKDIR/$P"
	echo "-3600" >"$CLOCKDIR/$S"
	# libfaketime re-reads the offset file every second (FAKETIME_CACHE_DURATION=1).
	must 4 "$P's agent clock was not stepped forward (ts_ms)" agent_clock_off "$P" 3000000 4200000
	must 4 "$S's agent clock was not stepped back (ts_ms)" agent_clock_off "$S" -4200000 -3000000
	[ "$ROUTER" = spoa ] && never 3 "haprole-spoa lost the writer after the agents' clocks stepped" \
		spoa_says ".clusters[0].status != \"ok\" or .clusters[0].writer != \"$P\""
	never 1 "HAProxy took $P out of pg_write after the clock step" is_down server_is pg_write "$P" UP
	DISRUPTED=$(now)
	$D pg-stop "$P" kill >>"$LOG" 2>&1
	$D promote "$S" >>"$LOG" 2>&1 || { REASON="promote $S failed"; return 1; }
	FINAL=$S
	PROMOTED=$(state PROMOTED_AT)
	RESUME_AT=$PROMOTED
	RESUME_WITHIN=2
	promoted_checks "$S" "$P"
}
# agent_clock_off NODE MIN MAX: NODE's feed timestamp minus our clock is within [MIN, MAX] ms.
agent_clock_off() {
	local ts
	ts=$(agent_json "$1" | jq -r .ts_ms) && [ -n "$ts" ] && [ "$ts" != null ] || return 1
	awk -v ts="$ts" -v now="$(date +%s%3N)" -v lo="$2" -v hi="$3" 'BEGIN { d = ts - now; exit !(d >= lo && d <= hi) }'
}
FAKETIME_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
# clock_agents_start: restarts the PostgreSQL nodes' agents with libfaketime preloaded, offset 0,
# one offset file per node in CLOCKDIR; the host's clock is never touched. CLOCK_MONOTONIC is
# left alone (a wall-clock step does not move it).
clock_agents_start() {
	local n
	CLOCKDIR=$WORK/clock
	mkdir -p "$CLOCKDIR"
	# the agents read their offset file after dropping root (the demo's user haprole)
	chmod a+x "$WORK"
	chmod 755 "$CLOCKDIR"
	for n in $(envv DEMO_PG_NODES | tr -d "'\""); do
		echo "+0" >"$CLOCKDIR/$n"
		$D stop-proc "agent-$n" >>"$LOG" 2>&1
		# libfaketime in the agent only (docker/demo.sh's DEMO_AGENT_ENV), not in the demo
		# script: preloaded into bash it makes a semaphore that the script's subshells remove
		# when they exit, and a later child failed to start ("sem_open failed and recreation
		# attempts failed"), seen on a loaded machine.
		DEMO_AGENT_ENV="LD_PRELOAD=$FAKETIME_LIB FAKETIME_TIMESTAMP_FILE=$CLOCKDIR/$n FAKETIME_CACHE_DURATION=1 FAKETIME_DONT_FAKE_MONOTONIC=1" \
			$D start-proc "agent-$n" >>"$LOG" 2>&1 || return 1
		must 3 "agent $n does not run under libfaketime" agent_faked "$n" || return 1
	done
}
agent_faked() { grep -q libfaketime "/proc/$(cat "$ROOT/.demo/pids/agent-$1.pid")/maps"; }
# AFTER of clockstep: the agents without libfaketime again.
clock_agents_restore() {
	local n
	for n in $(envv DEMO_PG_NODES | tr -d "'\""); do
		$D stop-proc "agent-$n" >>"$LOG" 2>&1
		$D start-proc "agent-$n" >>"$LOG" 2>&1
	done
}
