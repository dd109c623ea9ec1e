# tests/failover/lib.sh - the runner helpers tests/failover/scenarios.sh expects, shared by
# its two runners: tests/integration/test_failover.sh and bench/failover.sh.
#
# Sourced after the runner has set: ROOT, D (docker/demo.sh), PY (/usr/bin/python3 with
# psycopg2), ENV (the demo's cluster.env), STATE (the demo's state.env), WORK (the runner's
# work directory, where client.py writes progress.json), LOG (its log) and WRITE_SRC (the `src`
# column writable() inserts).

. "$ROOT/tests/integration/lib/haproxy.sh" # hap_status_is: the stats socket

# wait_cond SECONDS CMD... : polls every 0.1 s, returns 1 after SECONDS.
wait_cond() {
	local limit=$1 i
	shift
	for ((i = 0; i < limit * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
prog() { jq -r ".$1 // 0" "$WORK/progress.json" 2>/dev/null || echo 0; }
prog_ge() { [ "$(prog "$1")" -ge "$2" ]; }
prog_node() { jq -r ".acks_by_node.\"$1\" // 0" "$WORK/progress.json" 2>/dev/null || echo 0; }
prog_node_ge() { [ "$(prog_node "$1")" -ge "$2" ]; }
prog_lane() { jq -r ".acks_by_lane.\"$1\" // 0" "$WORK/progress.json" 2>/dev/null || echo 0; }
prog_lane_ge() { [ "$(prog_lane "$1")" -ge "$2" ]; }
state() { sed -n "s/^$1=//p" "$STATE" | tail -1; }
host_of() { sed -n "s/^$1_HOST=//p" "$ENV"; }
agent_json() { curl -fsS -m1 "http://$(host_of "$1"):$(sed -n "s/^$1_AGENT_PORT=//p" "$ENV")/status"; }
note() { NOTES="${NOTES:+$NOTES; }$*"; }
# server_is BACKEND SERVER STATE: HAProxy's stats socket says the server's status starts so
# (STATE DOWN also accepts MAINT: both take no traffic; the push router sets MAINT, not DOWN).
server_is() {
	if [ "$3" = DOWN ]; then
		hap_status_is "$ROOT/.demo/haproxy.sock" "$1" "$2" DOWN MAINT
	else
		hap_status_is "$ROOT/.demo/haproxy.sock" "$1" "$2" "$3"
	fi
}
writable() { # one write (src WRITE_SRC) through HAProxy's write port succeeds
	$PY - "$ENV" "$WRITE_SRC" <<'EOF'
import sys, psycopg2
env = dict(l.strip().split("=", 1) for l in open(sys.argv[1]) if "=" in l and not l.startswith("#"))
c = psycopg2.connect(host=env["HAPROXY_HOST"], port=env["HAPROXY_PG_PORT"], user=env["PGUSER"],
                     dbname=env["PGDATABASE"], connect_timeout=2)
c.autocommit = True
c.cursor().execute("INSERT INTO demo_writes (src) VALUES (%s)", (sys.argv[2],))
EOF
}

# demo_up_or_use WHY_LEFT_UP FAIL_PREFIX - uses the running demo (says so, with WHY_LEFT_UP) or
# starts one (STARTED_DEMO=1, its output in $LOG); when that fails shows the log's tail and
# "FAIL_PREFIXdocker/demo.sh up failed", and returns 1. With REUSE_DEMO=0 a demo that is
# already up is refused (it may run another config than the shipped one, or be mid-experiment):
# "FAIL_PREFIXa demo is already running ...", return 1.
demo_up_or_use() {
	if [ -f "$ROOT/.demo/up" ]; then
		if [ "${REUSE_DEMO:-1}" != 1 ]; then
			echo "$2a demo is already running ($ROOT/.demo): stop it (make demo-stop), or set" \
				"${REUSE_VAR:-REUSE_DEMO}=1 to run on it"
			return 1
		fi
		if "$D" status >/dev/null 2>&1; then
			echo "using the running demo ($1)"
			return 0
		fi
	fi
	STARTED_DEMO=1
	"$D" up >>"$LOG" 2>&1 && return 0
	tail -20 "$LOG"
	echo "$2docker/demo.sh up failed"
	return 1
}

# demo_daemon_users - one line "NAME USER" per haprole daemon the demo started (its pid files,
# read with ps: agents and the SPOA), so a caller can assert none runs as root (issue 12 item 7).
# A pid file whose process is gone or is no haprole daemon is skipped.
demo_daemon_users() {
	local f p u c
	for f in "$ROOT"/.demo/pids/agent-*.pid "$ROOT"/.demo/pids/spoa.pid; do
		[ -s "$f" ] || continue
		p=$(cat "$f")
		read -r u c < <(ps -o user=,comm= -p "$p" 2>/dev/null) || continue
		case $c in haprole-agent | haprole-spoa) echo "$(basename "$f" .pid) $u" ;; esac
	done
}

# ---- pass rules: what a scenario asserts beside the verifier ---------------------------------
# fail WHY: one of the scenario's pass rules failed (the runner makes the row FAIL and prints WHY).
fail() { SC_FAILS="${SC_FAILS:+$SC_FAILS; }$*"; }
# must SECONDS WHY CMD... : CMD becomes true within SECONDS (a bound on a wait, not a
# performance threshold), else fail WHY.
must() {
	local s=$1 why=$2
	shift 2
	wait_cond "$s" "$@" && return 0
	fail "$why (waited ${s} s)"
	return 1
}
# never SECONDS WHY CMD... : CMD stays false for SECONDS (polled every 0.1 s), else fail WHY.
never() {
	local s=$1 why=$2
	shift 2
	wait_cond "$s" "$@" || return 0
	fail "$why"
	return 1
}
# observe SECONDS CMD... : lets the client work until CMD is true, at most SECONDS (at most 3 in
# a negative control, NEG=1: a shorter run, the wrong routing shows at once).
observe() {
	local s=$1
	shift
	[ "${NEG:-0}" = 1 ] && [ "$s" -gt 3 ] && s=3
	wait_cond "$s" "$@" || :
}
# observe_full SECONDS CMD... : the same, never shortened (a window the rule itself needs).
observe_full() { wait_cond "$@" || :; }
now() { date +%s.%N; }
agent_says() { # agent_says NODE JQ: NODE's agent answers and its /status JSON satisfies JQ
	local j
	j=$(agent_json "$1") && [ -n "$j" ] || return 1 # jq -e on empty input says "true"
	echo "$j" | jq -e "$2" >/dev/null
}
envv() { sed -n "s/^$1=//p" "$ENV" | tail -1; }
spoa_json() { curl -fsS -m1 "http://$(envv SPOA_HOST):$(envv SPOA_STATUS_PORT)/status"; }
# spoa_says JQ: haprole-spoa's status page satisfies JQ (.clusters[0] is the demo's cluster).
spoa_says() {
	local j
	j=$(spoa_json) && [ -n "$j" ] || return 1
	echo "$j" | jq -e "$1" >/dev/null
}
# lua_says ERE: the Lua router's view (lua.haprole-status, ROUTER=lua) has a line matching ERE;
# its first line is "cluster C status S writer W reader R epoch N ...".
lua_says() {
	local v
	v=$(curl -fsS -m1 "http://$(envv HAPROXY_HOST):$(envv LUA_STATUS_PORT)/") && [ -n "$v" ] || return 1
	printf '%s\n' "$v" | grep -Eq "$1"
}
# ctl_says JQ: `haprolectl --json status` over the PostgreSQL nodes' agents satisfies JQ.
ctl_says() {
	local j a="" n
	for n in $(envv DEMO_PG_NODES | tr -d "'\""); do a="$a -a $(host_of "$n"):$(envv "${n}_AGENT_PORT")"; done
	# shellcheck disable=SC2086
	j=$("$ROOT/haprolectl" $a -t 1 --json status 2>/dev/null)
	[ -n "$j" ] && echo "$j" | jq -e "$1" >/dev/null
}
# haproxy_pid_serving PID: the stats socket is answered by the HAProxy process PID.
haproxy_pid_serving() {
	local info
	info=$(hap_cmd "$ROOT/.demo/haproxy.sock" "show info")
	printf '%s\n' "$info" | grep -qx "Pid: $1"
}

# ---- the agents' role-change hook (on_role_change; the demo's db agents append one line
# "<epoch_ms> <node> <old> <new> <tl>" to .demo/<node>/role-changes.log per change) ----------
hooks_on() { grep -qs '^[[:space:]]*on_role_change[[:space:]]*=[[:space:]]*[^[:space:]]' "$ROOT/.demo/$1/agent.conf"; }
hook_log() { echo "$ROOT/.demo/$1/role-changes.log"; }
hook_lines() { local f; f=$(hook_log "$1"); [ -f "$f" ] && wc -l <"$f" || echo 0; }
# hooks_mark: remembers how many lines each PostgreSQL node's log has (HOOK_MARK_<node>).
hooks_mark() {
	local n
	for n in $(envv DEMO_PG_NODES | tr -d "'\""); do printf -v "HOOK_MARK_$n" %s "$(hook_lines "$n")"; done
}
# hook_new NODE: the lines NODE's log got since hooks_mark.
hook_new() { local m="HOOK_MARK_$1"; tail -n +"$((${!m:-0} + 1))" "$(hook_log "$1")" 2>/dev/null; }
hook_new_count() { hook_new "$1" | grep -c .; }
# hooks_check NEW [OLD OLD_ROLE] : after NEW's promotion its hook ran exactly once for it
# ("NEW standby primary TL"); every node's new lines are well-formed role changes (old role !=
# new role, each line's old role the previous new line's new one: one line per change, none
# repeated), none but NEW's says "primary" on NEW's timeline; given OLD and OLD_ROLE, OLD's last
# line says it is now OLD_ROLE. Skipped (a note) when the demo's agents run no hook.
hooks_check() {
	local new=$1 old=${2:-} old_role=${3:-} n tl bad
	if ! hooks_on "$new"; then
		note "role-change hook not configured in the demo: not checked"
		return 0
	fi
	# The hook runs beside the agent's loop: give it a bounded moment.
	must 3 "$new's role-change hook did not log its promotion" hook_new_count_ge "$new" 1 || return 0
	[ -n "$old" ] && must 3 "$old's role-change hook did not log it $old_role" hook_last_is "$old" "$old_role"
	wait_cond 1 false || : # a second (wrong) line would come as fast as the first
	if [ "$(hook_new_count "$new")" != 1 ]; then
		fail "$new's role-change hook logged $(hook_new_count "$new") lines for one promotion: $(hook_new "$new" | tr '\n' '|')"
		return 0
	fi
	must 3 "$new's role-change hook line is not \"<epoch_ms> $new standby primary <its timeline>\": $(hook_new "$new")" \
		hook_line_ok "$new"
	tl=$(hook_new "$new" | awk '{ print $5 }') # checked against its agent above
	for n in $(envv DEMO_PG_NODES | tr -d "'\""); do
		bad=$(hook_new "$n" | awk -v n="$n" -v tl="$tl" '
			$0 !~ /^[0-9]+ [^ ]+ [a-z]+ [a-z]+ [0-9]+$/ || length($1) != 13 || $2 != n { print "malformed: " $0; exit }
			$3 == $4 { print "no change: " $0; exit }
			prev != "" && $3 != prev { print "not chained to the line before: " $0; exit }
			$4 == "primary" && $5 == tl && n != new { print "primary on the new timeline: " $0; exit }
			{ prev = $4 }' new="$new")
		[ -z "$bad" ] || fail "$n's role-change hook log: $bad"
	done
}
# hook_line_ok NEW: NEW's one new line says its promotion to the timeline its agent reports.
hook_line_ok() {
	local tl
	tl=$(agent_json "$1" | jq -r .pg.tl) && [ -n "$tl" ] && [ "$tl" != null ] || return 1
	hook_new "$1" | grep -Eq "^[0-9]{13} $1 standby primary $tl\$"
}
hook_last_is() { [ "$(hook_new "$1" | tail -1 | awk '{ print $4 }')" = "$2" ]; }
hook_new_count_ge() { [ "$(hook_new_count "$1")" -ge "$2" ]; }
