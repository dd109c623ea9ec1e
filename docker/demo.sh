#!/bin/bash
# docker/demo.sh - the demo cluster on this machine, without Docker (issue 7, docs/design.md section 12).
#
#   docker/demo.sh up          build nothing; start the whole cluster (make demo builds first)
#   docker/demo.sh status      haprolectl status (--table: a table from each agent's JSON)
#   docker/demo.sh failover    unplanned: stop the primary (immediate), promote the standby
#   docker/demo.sh switchover  planned: drain, stop the primary cleanly, promote the standby,
#                              rejoin the old primary as a standby with pg_rewind
#   docker/demo.sh heal        bring the cluster back to "one primary + one streaming standby,
#                              every process running, every node ready" (re-creates a broken
#                              standby with pg_basebackup); the failover tests run it between
#                              scenarios
#   docker/demo.sh upgrade NODE  the upgrade runbook's "upgrade" step on a drained node: restart
#                              its PostgreSQL (a standby) or app and nginx, then its agent
#   docker/demo.sh stop        stop every process by pid, remove namespaces, bridge and .demo/
#   docker/demo.sh help
# Lower-level verbs the failover tests use: pg-start NODE, pg-stop NODE [MODE], promote NODE,
# rebuild NODE (standby from the current primary), start-proc NAME, stop-proc NAME, primary,
# standby, reload-haproxy sf|mw.
# Environment for benchmarks: DEMO_PG_CHECK_INTER (default 500ms: inter and agent-inter of the
# PostgreSQL servers when HAProxy starts), DEMO_SPOA=0 (heal/start-proc leave the SPOA stopped).
# For the failover suite: DEMO_HAPROXY_EDIT (a sed script applied to the generated haproxy.cfg
# when HAProxy starts or reloads: its negative controls), DEMO_HAPROXY_MW=1 (master-worker) and
# DEMO_AGENT_ENV="VAR=VALUE ..." (extra environment of the agents it starts: libfaketime).
# DEMO_PATRONI=1 at `up` (make demo PATRONI=1; remembered in .demo/state.env): PostgreSQL managed
# by Patroni + etcd, write ports side by side for the HA guides' config and haprole; switchover
# and failover then let Patroni promote (docker/demo-patroni.sh, docs/demo.md "Beside Patroni").
# DEMO_ROUTER=spoa|lua|push|agent at `up` (make demo ROUTER=...; default spoa; remembered in
# .demo/state.env): how HAProxy learns the writer (docs/lua.md, "Which router when"):
#   spoa   haprole-spoa over SPOE, a NOTIFY per connection (the reference haproxy.cfg)
#   lua    haproxy/haprole.lua inside HAProxy follows the agents' feeds; no haprole-spoa
#   agent  the agent checks alone (agent-check + /check/writer); no haprole-spoa
#   push   haprole-spoa sets HAProxy's servers through the stats socket on every change; no
#          SPOE filter, no per-request work (haproxy/haprole-push.cfg, docs/spoa.md)
# One HAProxy template for all (docker/haproxy-demo.cfg.in, lines tagged per router).
# DEMO_HAPROXY at `up` (remembered): the command that runs HAProxy, default `haproxy` (Debian's
# 2.6); the failover suite gives a 3.x from tests/integration/lib/haproxy3.sh (hap_cmdline).
#
# Layout (root, network namespaces): bridge hr-br0 holds 198.18.0.1/24 in the root namespace;
# nodes app1 app2 db1 db2 live in namespaces hr-app1 ... with one veth each (198.18.0.11, .12,
# .21, .22) and standard ports inside (nginx 80, app 8080 on 127.0.0.1, postgres 5432, agent
# 5555). HAProxy and haprole-spoa run in the root namespace on ports 24000-24099 so that a user
# can curl / psql them from the shell. 198.18.0.0/15 is the range reserved for benchmarks: it
# never routes anywhere. Without root or without `ip netns` (or with DEMO_NETNS=0), it uses the
# loopback layout instead: every node on its own 127.0.14.x address in the one namespace there
# is, ports in 24000-24999 (the failover suite's cutoff scenario skips there).
#
# Everything it starts is recorded under .demo/pids/NAME.pid; `stop` kills exactly those pids
# (then whatever is still inside the demo's own namespaces) and removes what it created.
set -euo pipefail

# Daemons started here must not inherit a caller's descriptors (a lock held by a test, say).
for fd in /proc/$$/fd/*; do
	fd=${fd##*/}
	[ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null || :
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# proc_live, stop_pid; hap_cmd, hap_server_field, hap_status_is (the stats socket)
. "$ROOT/tests/integration/lib/proc.sh"
. "$ROOT/tests/integration/lib/haproxy.sh"
DEMO=${DEMO_DIR:-$ROOT/.demo}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PY=/usr/bin/python3
ENV_FILE=$DEMO/cluster.env
STATE_FILE=$DEMO/state.env # harness-private state (not docs/design.md section 12)

CLUSTER=demo
BRIDGE=hr-br0
APP_NODES="app1 app2"
PG_NODES="db1 db2"
ALL_NODES="$APP_NODES $PG_NODES"

# MODE netns: a namespace per node on 198.18.0.0/24, standard ports inside. MODE loopback
# (no root or no `ip netns`; or DEMO_NETNS=0): every node on its own 127.0.14.x address in the
# root namespace, ports in 24000-24999. Chosen at `up`, remembered in .demo/state.env.
MODE=
[ -f "$STATE_FILE" ] && MODE=$(sed -n 's/^MODE=//p' "$STATE_FILE" | tail -1)
if [ -z "$MODE" ]; then
	if [ "${DEMO_NETNS:-1}" != 0 ] && [ "$(id -u)" = 0 ] && ip netns list >/dev/null 2>&1; then
		MODE=netns
	else
		MODE=loopback
	fi
fi
# ROUTER: chosen at `up` (DEMO_ROUTER), remembered in .demo/state.env like MODE.
ROUTER=
[ -f "$STATE_FILE" ] && ROUTER=$(sed -n 's/^ROUTER=//p' "$STATE_FILE" | tail -1)
[ -z "$ROUTER" ] && ROUTER=${DEMO_ROUTER:-spoa}
HAPROXY_CMD=
[ -f "$STATE_FILE" ] && HAPROXY_CMD=$(sed -n 's/^HAPROXY_CMD=//p' "$STATE_FILE" | tail -1)
[ -z "$HAPROXY_CMD" ] && HAPROXY_CMD=${DEMO_HAPROXY:-haproxy}
if [ "$MODE" = netns ]; then
	BR_ADDR=198.18.0.1
	NET_PREFIX=198.18.0
	AGENT_PORT=5555
	PG_PORT=5432
	NGINX_PORT=80
	APP_PORT=8080
else
	BR_ADDR=127.0.14.1
	NET_PREFIX=127.0.14
	AGENT_PORT=24555
	PG_PORT=24432
	NGINX_PORT=24180
	APP_PORT=24181
fi
declare -A ADDR=([app1]=$NET_PREFIX.11 [app2]=$NET_PREFIX.12 [db1]=$NET_PREFIX.21 [db2]=$NET_PREFIX.22)
# Where a node's own services listen, seen from inside the node.
local_addr() { [ "$MODE" = netns ] && echo 127.0.0.1 || echo "${ADDR[$1]}"; }
PGOWNER=postgres
[ "$(id -u)" = 0 ] || PGOWNER=$(id -un)
# The account haprole-agent and haprole-spoa run as once their ports are bound (their `user`
# key): a dedicated system user, member of the postgres group (the data directories are made
# with group access, for the agent's inotify watch). Empty when the demo runs as a normal user:
# the daemons then run as that user, as started.
HAPROLE_USER=haprole
[ "$(id -u)" = 0 ] || HAPROLE_USER=
HTTP_PORT=24080    # HAProxy: the app, HTTP
PGW_PORT=24000     # HAProxy: PostgreSQL writes
PGR_PORT=24001     # HAProxy: PostgreSQL reads
STATS_PORT=24081   # HAProxy: stats page
SPOA_PORT=24012    # haprole-spoa: SPOP
SPOA_STATUS=24013  # haprole-spoa: status (HTTP)
LUA_STATUS=24014   # HAProxy, ROUTER=lua: the Lua router's view (lua.haprole-status)
PGUSER_DEMO=demo
PGDB_DEMO=demo

AGENT_BIN=$ROOT/haprole-agent
SPOA_BIN=$ROOT/haprole-spoa
CTL_BIN=$ROOT/haprolectl

# The pieces, in docker/demo/: supervisor (say, die, wait_for, start_bg, stop_named, state),
# network (namespaces, bridge), PostgreSQL lifecycle, node processes and daemons, templates
# (configs, cluster.env, haprolectl wrappers), status view.
for lib in proc net pg nodes conf status; do . "$ROOT/docker/demo/$lib.sh"; done

# PATRONI hook: `make demo PATRONI=1` (DEMO_PATRONI=1 at `up`): Patroni manages PostgreSQL.
. "$ROOT/docker/demo-patroni.sh"

# ---- verbs ---------------------------------------------------------------------------------

is_up() { [ -f "$DEMO/up" ] && pid_alive haproxy; }

preflight() {
	if [ "$MODE" = netns ]; then
		say "mode netns: a network namespace per node (DEMO_NETNS=0 for the loopback layout)"
	else
		say "mode loopback: every node on its own 127.0.14.x address (no root or no 'ip netns')"
	fi
	local b
	for b in "$PGBIN/initdb" "$PGBIN/pg_ctl" /usr/sbin/nginx /usr/sbin/haproxy curl $PY; do
		[ -x "$b" ] || command -v "$b" >/dev/null || die "missing $b (run: make deps)"
	done
	$PY -c 'import psycopg2' 2>/dev/null || die "python3-psycopg2 missing (run: make deps)"
	[ "$(id -u)" != 0 ] || id postgres >/dev/null 2>&1 || die "no user postgres (install postgresql-15)"
	# Our ports must be free in the root namespace.
	local p
	for p in $HTTP_PORT $PGW_PORT $PGR_PORT $STATS_PORT $SPOA_PORT $SPOA_STATUS $LUA_STATUS; do
		if (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then die "port $p is in use"; fi
	done
	if [ "$MODE" = loopback ]; then
		local n
		for n in $ALL_NODES; do
			for p in $AGENT_PORT $PG_PORT $NGINX_PORT $APP_PORT; do
				if (exec 3<>"/dev/tcp/${ADDR[$n]}/$p") 2>/dev/null; then die "${ADDR[$n]}:$p is in use"; fi
			done
		done
	fi
}

cmd_up() {
	if is_up; then
		if [ -n "${DEMO_ROUTER:-}" ] && [ "$DEMO_ROUTER" != "$ROUTER" ]; then
			die "already up with ROUTER=$ROUTER, not $DEMO_ROUTER: 'make demo-stop' first"
		fi
		[ -z "${DEMO_PATRONI:-}" ] || [ "$DEMO_PATRONI" = "${PATRONI:-0}" ] || # PATRONI hook
			die "already up with PATRONI=${PATRONI:-0}, not ${DEMO_PATRONI:-0}: 'make demo-stop' first"
		say "already up with ROUTER=$ROUTER (nothing changed); see $ENV_FILE, 'make demo-status', 'make demo-stop'"
		return 0
	fi
	ROUTER=${DEMO_ROUTER:-spoa}
	HAPROXY_CMD=${DEMO_HAPROXY:-haproxy}
	check_router
	$HAPROXY_CMD -v >/dev/null 2>&1 || die "DEMO_HAPROXY: '$HAPROXY_CMD -v' does not run"
	[ -d "$DEMO" ] && { say "leftovers of an earlier demo found: cleaning up first"; cmd_stop quiet; }
	PATRONI=${DEMO_PATRONI:-} # PATRONI hook
	preflight
	haprole_user
	local t0=$SECONDS n
	mkdir -p "$DEMO/pids" "$DEMO/logs"
	chmod 755 "$DEMO"
	state_set MODE "$MODE"
	state_set ROUTER "$ROUTER"
	state_set HAPROXY_CMD "$HAPROXY_CMD"
	if patroni_on; then patroni_preflight; fi # PATRONI hook
	say "router: $ROUTER; $($HAPROXY_CMD -v 2>/dev/null | head -n 1)"
	if [ "$MODE" = netns ]; then
		say "network: bridge $BRIDGE ($BR_ADDR/24), namespaces hr-app1 hr-app2 hr-db1 hr-db2"
	else
		say "network: none to create (loopback addresses $NET_PREFIX.x)"
	fi
	net_up
	if patroni_on; then patroni_pg_up; else # PATRONI hook
		say "postgres: db1 primary (initdb), db2 standby (pg_basebackup -R)"
		db_init_primary db1
		state_set PRIMARY db1
		db_make_standby db2 db1
	fi
	have_spoa && spoa_start
	say "haproxy: http :$HTTP_PORT, pg writes :$PGW_PORT, reads :$PGR_PORT, stats :$STATS_PORT"
	haproxy_start
	for n in $APP_NODES; do
		app_start "$n"
		nginx_start "$n"
	done
	if have_agent; then
		for n in $ALL_NODES; do agent_start "$n"; done
	fi
	write_env
	write_ctl_wrappers
	touch "$DEMO/up"
	if have_agent; then # HAProxy's checks take a moment to mark the servers up
		wait_for 20 "a write through HAProxy" "$PGBIN/psql" -X -q -h $BR_ADDR -p $PGW_PORT \
			-U $PGUSER_DEMO -d $PGDB_DEMO -c "SELECT 1" -o /dev/null
		wait_for 20 "the app through HAProxy" curl -fsS -m2 -o /dev/null "http://$BR_ADDR:$HTTP_PORT/"
	fi
	say "up in $((SECONDS - t0)) s"
	cmd_banner
}

cmd_failover() {
	[ -f "$DEMO/up" ] || die "not running (make demo)"
	local p s
	p=$(current_primary)
	s=$(other_pg "$p")
	[ "$(pg_role "$s")" = standby ] || die "$s is not a standby; nothing to promote (make demo-heal)"
	say "failover: stopping primary $p (immediate), promoting $s"
	db_stop "$p" immediate
	db_promote "$s"
	say "done: $s is the primary; $p is down. 'make demo-heal' rebuilds $p as a standby."
}

ctl_admin() { # ctl_admin NODE drain|ready [REASON] : through NODE's admin socket, when built
	have_ctl || return 0
	"$CTL_BIN" -s "$DEMO/$1/agent.sock" "$2" ${3:+$3} >>"$DEMO/logs/haprolectl.log" 2>&1 &&
		say "haprolectl $2 $1${3:+ ($3)}" || say "haprolectl $2 $1 failed (continuing)"
}

cmd_switchover() {
	[ -f "$DEMO/up" ] || die "not running (make demo)"
	local p s
	p=$(current_primary)
	s=$(other_pg "$p")
	[ "$(pg_role "$s")" = standby ] || die "$s is not a standby (make demo-heal)"
	pg_streaming "$s" || die "$s is not streaming from $p"
	say "switchover: $p -> $s"
	ctl_admin "$p" drain "switchover"
	# A clean stop sends every WAL record (shutdown checkpoint included) to the standby first.
	db_stop "$p" fast
	db_promote "$s"
	say "rejoining $p as a standby of $s (pg_rewind)"
	db_rejoin "$p" "$s"
	ctl_admin "$p" ready
	wait_for 15 "$p's agent to see a standby" agent_sees "$p" standby
	# "done" when HAProxy agrees too: the new primary UP for writes, the old one not.
	if have_agent; then
		wait_for 15 "HAProxy to show $s UP in pg_write" haproxy_says pg_write "$s" UP
		wait_for 15 "HAProxy to show $p out of pg_write" haproxy_out pg_write "$p"
	fi
	say "done: $s primary, $p standby"
}

# upgrade NODE: the runbook's "upgrade" step played on a drained node (docs/operations.md):
# a standby's PostgreSQL is stopped cleanly and started again, an app node's app and nginx are
# restarted, then the node's agent. While a standby is away the primary stops waiting for it
# (synchronous_standby_names = '', as a failover manager does for a standby that leaves:
# otherwise every commit waits for it), and waits again once it streams.
cmd_upgrade() {
	[ -f "$DEMO/up" ] || die "not running (make demo)"
	local n=$1 p
	case " $ALL_NODES " in *" $n "*) ;; *) die "upgrade: no node '$n' ($ALL_NODES)" ;; esac
	p=$(current_primary)
	[ "$n" != "$p" ] || die "upgrade: $n is the primary: move it away first (make demo-switchover)"
	case " $PG_NODES " in
	*" $n "*)
		say "upgrade $n: $p stops waiting for $n (synchronous_standby_names = '')"
		pg_set_sync "$p" ""
		say "upgrade $n: stopping PostgreSQL (fast), starting it again"
		db_stop "$n" fast
		db_start "$n"
		;;
	*)
		say "upgrade $n: restarting the app and nginx"
		stop_named "nginx-$n"
		stop_named "app-$n"
		app_start "$n"
		nginx_start "$n"
		;;
	esac
	say "upgrade $n: restarting haprole-agent"
	stop_named "agent-$n"
	agent_start "$n"
	case " $PG_NODES " in
	*" $n "*)
		wait_for 30 "$n streaming from $p" pg_streaming "$n"
		pg_set_sync "$p" "*"
		wait_for 15 "$n's agent to see a streaming standby" agent_sees "$n" standby
		;;
	esac
	say "upgraded $n"
}

# heal: one primary + one streaming standby + every process running.
cmd_heal() {
	[ -f "$DEMO/up" ] || die "not running (make demo)"
	local p s n
	p=$(current_primary)
	[ "$(pg_role "$p")" = primary ] || {
		s=$(other_pg "$p")
		if [ "$(pg_role "$s")" = primary ]; then state_set PRIMARY "$s"; p=$s
		else die "no primary to heal from ($p: $(pg_role "$p"), $s: $(pg_role "$s"))"; fi
	}
	s=$(other_pg "$p")
	# An old primary still running (cut off, or restarted on its old timeline) is stopped
	# before its link comes back, so it is never reachable beside the real primary.
	[ "$(pg_role "$s")" = primary ] && { say "heal: stopping stale primary $s"; db_stop "$s" immediate; }
	# A cut-off link, a paused replay: undo what the tests may have done.
	[ "$MODE" = netns ] && for n in $ALL_NODES; do ip -n "hr-$n" link set eth0 up; done
	if [ "$(pg_role "$s")" = standby ] && pg_streaming "$s"; then
		psql_node "$s" "SELECT pg_wal_replay_resume()" >/dev/null 2>&1 || :
		pg_set_sync "$p" "*"
	else
		say "heal: re-creating $s as a standby of $p"
		db_make_standby "$s" "$p"
	fi
	for n in $APP_NODES; do app_start "$n"; nginx_start "$n"; done
	for n in $ALL_NODES; do agent_start "$n"; ctl_admin "$n" ready >/dev/null; done
	spoa_start
	haproxy_start
	wait_for 15 "$p's agent to see a primary" agent_sees "$p" primary
	wait_for 15 "$s's agent to see a standby" agent_sees "$s" standby
	have_agent && wait_for 15 "HAProxy to show $p UP in pg_write" haproxy_says pg_write "$p" UP
	say "healed: $p primary, $s standby, every node ready"
}

cmd_stop() {
	local quiet=${1:-}
	[ -d "$DEMO" ] || { [ -z "$quiet" ] && say "not running"; [ "$(id -u)" = 0 ] && net_down; return 0; }
	local n f
	stop_named haproxy
	stop_named spoa
	if patroni_on; then patroni_stop_all; fi # PATRONI hook: before PostgreSQL, or Patroni restarts it
	for n in $ALL_NODES; do stop_named "agent-$n"; done
	for n in $APP_NODES; do stop_named "nginx-$n"; stop_named "app-$n"; done
	for n in $PG_NODES; do
		if [ -d "$(pgdata "$n")" ] && { [ "$MODE" != netns ] || ip netns list | grep -qw "hr-$n"; }; then
			db_stop "$n" immediate
		fi
	done
	for f in "$DEMO"/pids/*.pid; do
		[ -f "$f" ] && stop_named "$(basename "$f" .pid)" KILL
	done
	[ "$(id -u)" = 0 ] && net_down
	rm -rf "$DEMO"
	[ -z "$quiet" ] && say "stopped; no process, namespace or bridge left" || :
}

# One verb that changes the cluster at a time (two shells, or a test beside a user).
case "${1:-help}" in
up | stop | failover | switchover | heal | upgrade)
	exec 9>"/tmp/haprole-demo-$(echo "$DEMO" | md5sum | cut -c1-8).lock"
	flock -w 300 9 || die "another docker/demo.sh $1 has held the lock for 300 s"
	;;
esac

case "${1:-help}" in
up) cmd_up ;;
status) cmd_status "${2:-}" ;;
failover) if patroni_on; then patroni_failover; else cmd_failover; fi ;;       # PATRONI hook
switchover) if patroni_on; then patroni_switchover; else cmd_switchover; fi ;; # PATRONI hook
heal) if patroni_on; then patroni_heal; else cmd_heal; fi ;;                   # PATRONI hook
upgrade) cmd_upgrade "${2:-}" ;;
stop) cmd_stop ;;
primary) current_primary ;;
standby) other_pg "$(current_primary)" ;;
pg-start) db_start "$2" ;;
pg-stop) db_stop "$2" "${3:-fast}" ;;
pg-role) pg_role "$2" ;;
promote) db_promote "$2" ;;
rebuild) db_make_standby "$2" "$(current_primary)" ;;
set-sync) pg_set_sync "$2" "$3" ;;
sql) n=$2; shift 2; psql_node "$n" "$*" ;;
start-proc)
	case $2 in
	app-*) app_start "${2#app-}" ;;
	nginx-*) nginx_start "${2#nginx-}" ;;
	agent-*) agent_start "${2#agent-}" ;;
	spoa) spoa_start ;;
	haproxy) haproxy_start ;;
	*) die "start-proc: unknown $2" ;;
	esac ;;
reload-haproxy) haproxy_reload "${2:-}" ;;
stop-proc) stop_named "$2" "${3:-TERM}" ;;
has-agent) have_agent ;;
has-spoa) have_spoa ;;
has-ctl) have_ctl ;;
mode) echo "$MODE" ;;
help | -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' ;;
*) die "unknown verb '$1' (docker/demo.sh help)" ;;
esac
