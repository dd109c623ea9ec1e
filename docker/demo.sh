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

say() { printf 'demo: %s\n' "$*"; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }

# wait_for SECONDS WHAT CMD... : polls CMD every 0.1 s until it succeeds; dies after SECONDS.
# WAIT_LOG=FILE: on failure, the tail of that process log is printed too (the demo's logs are
# overwritten by its next start: a test's own log must say why).
wait_for() {
	local limit=$1 what=$2 i
	shift 2
	for ((i = 0; i < limit * 10; i++)); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	if [ -n "${WAIT_LOG:-}" ] && [ -f "$WAIT_LOG" ]; then
		printf 'demo: last lines of %s:\n' "$WAIT_LOG" >&2
		tail -n 20 "$WAIT_LOG" | sed 's/^/demo:   /' >&2
	fi
	die "$what: not ready after ${limit}s (see logs in $DEMO/)"
}

# try_for SECONDS CMD... : like wait_for, but returns 1 instead of dying.
try_for() {
	local limit=$1 i
	shift
	for ((i = 0; i < limit * 10; i++)); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	return 1
}

nsx() {
	local n=$1
	shift
	if [ "$MODE" = netns ]; then ip netns exec "hr-$n" "$@"; else "$@"; fi
}
pgdata() { echo "$DEMO/$1/pgdata"; }
pgsock() { echo "$DEMO/$1/run"; }
as_pg() {
	local n=$1
	shift
	if [ "$(id -u)" = 0 ]; then nsx "$n" runuser -u postgres -- "$@"; else nsx "$n" "$@"; fi
}
# psql_node NODE SQL : runs SQL on NODE over its unix socket, prints unaligned tuples.
psql_node() {
	local n=$1
	shift
	as_pg "$n" "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$(pgsock "$n")" -p $PG_PORT \
		-U postgres -d postgres -c "$*"
}

pid_alive() { local f=$DEMO/pids/$1.pid; [ -s "$f" ] && proc_live "$(cat "$f")"; }
state_get() { [ -f "$STATE_FILE" ] && sed -n "s/^$1=//p" "$STATE_FILE" | tail -1; }
state_set() {
	touch "$STATE_FILE"
	sed -i "/^$1=/d" "$STATE_FILE"
	echo "$1=$2" >>"$STATE_FILE"
}

# ---- network ---------------------------------------------------------------------------------

# A Docker engine on the same host sets the iptables FORWARD policy to DROP (and loads
# br_netfilter, so bridged frames go through FORWARD too): the nodes on hr-br0 would lose each
# other (replication, agents). The demo allows its own bridge's traffic with one rule of its
# own, tagged with a comment, inserted at `up` and removed at `stop`; nothing else is touched.
FW_RULE=(FORWARD -i $BRIDGE -o $BRIDGE -m comment --comment haprole-demo-$BRIDGE -j ACCEPT)
fw_allow() {
	command -v iptables >/dev/null 2>&1 || return 0
	iptables -w 5 -C "${FW_RULE[@]}" 2>/dev/null || iptables -w 5 -I "${FW_RULE[@]}" ||
		say "warning: could not add the iptables rule for $BRIDGE (a Docker engine would cut the demo)"
}
fw_remove() {
	command -v iptables >/dev/null 2>&1 || return 0
	local i
	for ((i = 0; i < 10; i++)); do # our rule only, however many times it was added
		iptables -w 5 -C "${FW_RULE[@]}" 2>/dev/null || break
		iptables -w 5 -D "${FW_RULE[@]}" 2>/dev/null || break
	done
}

net_up() {
	[ "$MODE" = netns ] || return 0
	fw_allow
	ip link show $BRIDGE >/dev/null 2>&1 || {
		ip link add $BRIDGE type bridge
		ip addr add $BR_ADDR/24 dev $BRIDGE
	}
	ip link set $BRIDGE up
	local n
	for n in $ALL_NODES; do
		ip netns list | grep -qw "hr-$n" || ip netns add "hr-$n"
		if ! ip link show "hr-$n-h" >/dev/null 2>&1; then
			ip link add "hr-$n-h" type veth peer name eth0 netns "hr-$n"
			ip link set "hr-$n-h" master $BRIDGE up
			ip -n "hr-$n" addr add "${ADDR[$n]}/24" dev eth0
		fi
		ip -n "hr-$n" link set lo up
		ip -n "hr-$n" link set eth0 up
		ip -n "hr-$n" route replace default via $BR_ADDR
	done
}

net_down() {
	local n p
	for n in $ALL_NODES; do
		if ip netns list | grep -qw "hr-$n"; then
			# Anything still inside one of OUR namespaces was started by this demo.
			for p in $(ip netns pids "hr-$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null || :; done
			ip netns del "hr-$n" 2>/dev/null || :
		fi
		ip link del "hr-$n-h" 2>/dev/null || :
	done
	ip link del $BRIDGE 2>/dev/null || :
	fw_remove
}

# ---- processes -----------------------------------------------------------------------------

# start_bg NAME NODE|- CMD... : starts CMD in the background (in NODE's namespace), records pid.
start_bg() {
	local name=$1 node=$2
	shift 2
	mkdir -p "$DEMO/pids" "$DEMO/logs"
	if [ "$node" = - ] || [ "$MODE" != netns ]; then
		setsid "$@" >>"$DEMO/logs/$name.log" 2>&1 </dev/null 9>&- &
	else
		setsid ip netns exec "hr-$node" "$@" >>"$DEMO/logs/$name.log" 2>&1 </dev/null 9>&- &
	fi
	echo $! >"$DEMO/pids/$name.pid"
}

# stop_named NAME [SIGNAL] : stops the recorded pid and forgets it (stop_pid: SIGNAL, SIGKILL
# after 5 s; start_bg made it a session leader, so its whole group goes, nginx workers too).
stop_named() {
	local f=$DEMO/pids/$1.pid
	[ -s "$f" ] || return 0
	stop_pid "$(cat "$f")" "${2:-TERM}"
	rm -f "$f"
}

# ---- PostgreSQL ----------------------------------------------------------------------------

# node.conf: what differs per node and per role; rewritten after pg_basebackup and promotion.
write_node_conf() {
	local n=$1 sync=$2
	cat >"$(pgdata "$n")/node.conf" <<EOF
# written by docker/demo.sh: this node's identity and replication role settings
haprole_demo.node = '$n'
listen_addresses = '$([ "$MODE" = netns ] && echo '*' || echo "${ADDR[$n]}")'
unix_socket_directories = '$(pgsock "$n")'
synchronous_standby_names = '$sync'
EOF
	chown "$PGOWNER": "$(pgdata "$n")/node.conf"
}

pg_is_up() { as_pg "$1" "$PGBIN/pg_isready" -q -h "$(pgsock "$1")" -p $PG_PORT; }

# pg_leftovers NODE: prints the pids of processes still running in NODE's data directory (the
# children of a postmaster killed with -9 outlive it for a moment, and a new postmaster refuses
# to start while they hold the old shared memory).
pg_leftovers() {
	local d p
	d=$(pgdata "$1")
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/cwd" 2>/dev/null)" = "$d" ] && echo "${p#/proc/}"
	done
}

pg_drop_stale_lock() {
	local f p
	f=$(pgdata "$1")/postmaster.pid
	[ -f "$f" ] || return 0
	p=$(head -1 "$f")
	[ -n "$p" ] && ! proc_live "$p" && [ -z "$(pg_leftovers "$1")" ] || return 0
	# the socket directory's lock files name the same dead postmaster
	for f in "$f" "$(pgsock "$1")"/.s.PGSQL.*.lock; do
		[ -f "$f" ] && [ "$(head -1 "$f")" = "$p" ] && rm -f "$f"
	done
	return 0
}

pg_start() {
	local n=$1 i
	# after `pg_stop NODE kill`: let the old postmaster's children finish first (bounded)
	for ((i = 0; i < 150; i++)); do [ -z "$(pg_leftovers "$n")" ] && break; sleep 0.1; done
	# A postmaster killed with SIGKILL stays a zombie until its parent (init here, which may
	# be slow to reap) collects it, and postgres refuses to start while the pid in
	# postmaster.pid exists at all. With no process left in the data directory, the lock
	# file of a dead postmaster is stale.
	pg_drop_stale_lock "$n"
	mkdir -p "$(pgsock "$n")"
	chown "$PGOWNER": "$(pgsock "$n")"
	touch "$DEMO/logs/pg-$n.log"
	chown "$PGOWNER": "$DEMO/logs/pg-$n.log"
	as_pg "$n" "$PGBIN/pg_ctl" -D "$(pgdata "$n")" -l "$DEMO/logs/pg-$n.log" -w -t 60 start \
		>/dev/null 9>&- || {
		tail -5 "$DEMO/logs/pg-$n.log" >&2
		die "postgres $n did not start (see $DEMO/logs/pg-$n.log)"
	}
	head -1 "$(pgdata "$n")/postmaster.pid" >"$DEMO/pids/pg-$n.pid"
	WAIT_LOG=$DEMO/logs/pg-$n.log wait_for 30 "postgres $n" pg_is_up "$n"
}

# pg_stop NODE [fast|immediate|kill] : kill = SIGKILL of the postmaster.
pg_stop() {
	local n=$1 mode=${2:-fast} p i
	p=$(cat "$DEMO/pids/pg-$n.pid" 2>/dev/null || :)
	if [ "$mode" = kill ]; then
		[ -n "$p" ] && kill -9 "$p" 2>/dev/null || :
		for ((i = 0; i < 100; i++)); do [ -n "$p" ] && proc_live "$p" || break; sleep 0.02; done
	elif [ -f "$(pgdata "$n")/postmaster.pid" ]; then
		as_pg "$n" "$PGBIN/pg_ctl" -D "$(pgdata "$n")" -m "$mode" -w -t 30 stop >/dev/null 2>&1 ||
			{ [ -n "$p" ] && kill -9 "$p" 2>/dev/null || :; }
	fi
	rm -f "$DEMO/pids/pg-$n.pid"
}

pg_role() { # prints primary, standby or down
	local r
	r=$(psql_node "$1" "SELECT pg_is_in_recovery()" 2>/dev/null) || { echo down; return; }
	[ "$r" = f ] && echo primary || echo standby
}

pg_init_primary() {
	local n=$1 d
	d=$(pgdata "$n")
	mkdir -p "$DEMO/$n"
	chown "$PGOWNER": "$DEMO/$n"
	# Data checksums: pg_rewind (switchover) needs them or wal_log_hints.
	as_pg "$n" "$PGBIN/initdb" -D "$d" -U postgres --auth=trust --data-checksums -E UTF8 \
		--allow-group-access \
		--locale=C.UTF-8 >"$DEMO/logs/initdb-$n.log" 2>&1 ||
		die "initdb $n failed (see $DEMO/logs/initdb-$n.log)"
	cat >>"$d/postgresql.conf" <<EOF

# ---- docker/demo.sh ----
port = $PG_PORT
max_connections = 60
shared_buffers = 32MB
wal_level = replica
max_wal_senders = 8
wal_keep_size = 256MB
hot_standby = on
hot_standby_feedback = on
wal_log_hints = on
wal_receiver_status_interval = 1s
# Synchronous replication (the primary waits for the standby to flush): an acknowledged
# write survives the loss of the primary. node.conf holds synchronous_standby_names: '*' on
# a primary with a streaming standby, '' otherwise (the harness switches it, as a failover
# manager would).
synchronous_commit = on
log_line_prefix = '%m [%p] $n '
log_connections = off
include_if_exists = 'node.conf'
EOF
	cat >"$d/pg_hba.conf" <<EOF
# docker/demo.sh: a demo on a private, non-routed range: trust, no passwords.
local all all trust
host all all 127.0.0.0/8 trust
host all all $NET_PREFIX.0/24 trust
host replication all $NET_PREFIX.0/24 trust
host replication all 127.0.0.0/8 trust
local replication all trust
EOF
	write_node_conf "$n" ""
	pg_start "$n"
	psql_node "$n" "CREATE ROLE $PGUSER_DEMO LOGIN" >/dev/null
	psql_node "$n" "CREATE DATABASE $PGDB_DEMO OWNER $PGUSER_DEMO" >/dev/null
	psql_node "$n" "CREATE ROLE haprole LOGIN IN ROLE pg_monitor" >/dev/null
	as_pg "$n" "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$(pgsock "$n")" -p $PG_PORT -U $PGUSER_DEMO \
		-d $PGDB_DEMO -c "CREATE TABLE demo_writes (
			id bigserial PRIMARY KEY,
			src text,
			node text DEFAULT current_setting('haprole_demo.node', true),
			at timestamptz DEFAULT clock_timestamp())" >/dev/null
}

# pg_make_standby NODE PRIMARY : (re)creates NODE as a streaming standby of PRIMARY.
pg_make_standby() {
	local n=$1 p=$2 d
	d=$(pgdata "$n")
	pg_stop "$n" immediate
	rm -rf "$d"
	mkdir -p "$DEMO/$n"
	chown "$PGOWNER": "$DEMO/$n"
	as_pg "$n" "$PGBIN/pg_basebackup" -h "${ADDR[$p]}" -p $PG_PORT -U postgres -D "$d" -R \
		-X stream -c fast -d "application_name=$n" >"$DEMO/logs/basebackup-$n.log" 2>&1 ||
		die "pg_basebackup $n from $p failed (see $DEMO/logs/basebackup-$n.log)"
	write_node_conf "$n" ""
	pg_start "$n"
	wait_for 30 "$n streaming from $p" pg_streaming "$n"
	pg_set_sync "$p" "*"
}

pg_streaming() {
	[ "$(psql_node "$1" "SELECT status FROM pg_stat_wal_receiver" 2>/dev/null)" = streaming ]
}

# pg_set_sync NODE VALUE : synchronous_standby_names in NODE's node.conf, then reload.
pg_set_sync() {
	local n=$1 v=$2
	sed -i "s/^synchronous_standby_names = .*/synchronous_standby_names = '$v'/" \
		"$(pgdata "$n")/node.conf"
	psql_node "$n" "SELECT pg_reload_conf()" >/dev/null 2>&1 || :
}

# pg_promote NODE : promotes, records when it became a primary (the new timeline's history
# file is written during promotion, just before the node accepts writes).
pg_promote() {
	local n=$1 hist
	pg_set_sync "$n" ""
	psql_node "$n" "SELECT pg_promote(true, 60)" >/dev/null || die "promote $n failed"
	wait_for 30 "$n primary" test "$(pg_role "$n")" = primary
	hist=$(ls -t "$(pgdata "$n")"/pg_wal/*.history 2>/dev/null | head -1)
	[ -n "$hist" ] && state_set PROMOTED_AT "$(stat -c %.6Y "$hist")" || state_set PROMOTED_AT "$(now)"
	state_set PRIMARY "$n"
	say "promoted $n (timeline $(psql_node "$n" "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()),1,8))::bit(32)::int"))"
}

current_primary() { state_get PRIMARY; }
other_pg() { local n; for n in $PG_NODES; do [ "$n" = "$1" ] || echo "$n"; done | head -1; }

# ---- app nodes -----------------------------------------------------------------------------

app_start() {
	local n=$1
	mkdir -p "$DEMO/$n/nginx-tmp"
	pid_alive "app-$n" || {
		start_bg "app-$n" "$n" $PY "$ROOT/docker/app/app.py" --listen "$(local_addr "$n"):$APP_PORT" --node "$n" \
			--db-host $BR_ADDR --write-port $PGW_PORT --read-port $PGR_PORT --user $PGUSER_DEMO \
			--dbname $PGDB_DEMO
		wait_for 15 "app on $n" nsx "$n" curl -fsS -m1 "http://$(local_addr "$n"):$APP_PORT/health"
	}
}

nginx_start() {
	local n=$1
	mkdir -p "$DEMO/$n/nginx-tmp"
	local listen=$NGINX_PORT
	[ "$MODE" = netns ] || listen="${ADDR[$n]}:$NGINX_PORT"
	sed -e "s|@DIR@|$DEMO/$n|g" -e "s|@NODE@|$n|g" -e "s|@LISTEN@|$listen|g" \
		-e "s|@APP@|$(local_addr "$n"):$APP_PORT|g" "$ROOT/docker/nginx.conf.in" >"$DEMO/$n/nginx.conf"
	pid_alive "nginx-$n" || {
		start_bg "nginx-$n" "$n" nginx -c "$DEMO/$n/nginx.conf" -e "$DEMO/$n/nginx-error.log"
		wait_for 15 "nginx on $n" nsx "$n" curl -fsS -m1 "http://$(local_addr "$n"):$NGINX_PORT/nginx-health"
	}
}

# ---- haprole daemons -----------------------------------------------------------------------

agent_conf() {
	local n=$1 kind tmpl peers="" p
	case " $PG_NODES " in *" $n "*) kind=db ;; *) kind=app ;; esac
	tmpl=$ROOT/docker/agent-$kind.conf.in
	[ -f "$tmpl" ] || return 1
	for p in $PG_NODES; do
		[ "$p" = "$n" ] && continue
		peers="$peers[peer $p]\naddress = ${ADDR[$p]}:$AGENT_PORT\n\n"
	done
	mkdir -p "$DEMO/$n"
	sed -e "s|@NODE@|$n|g" -e "s|@CLUSTER@|$CLUSTER|g" -e "s|@DIR@|$DEMO/$n|g" -e "s|@ROOT@|$ROOT|g" \
		-e "s|@ADDR@|${ADDR[$n]}|g" -e "s|@PGSOCK@|$(pgsock "$n")|g" -e "s|@PGPORT@|$PG_PORT|g" \
		-e "s|@PGDATA@|$(pgdata "$n")|g" -e "s|@AGENT_PORT@|$AGENT_PORT|g" -e "s|@PEERS@|$peers|" \
		-e "s|@LISTEN@|$([ "$MODE" = netns ] && echo '*' || echo "${ADDR[$n]}"):$AGENT_PORT|g" \
		-e "s|@APP@|$(local_addr "$n"):$APP_PORT|g" -e "s|@NGINX@|$(local_addr "$n"):$NGINX_PORT|g" \
		"$tmpl" >"$DEMO/$n/agent.conf"
	# started as root (setsid, ip netns exec), it drops to this user once bound
	[ -z "$HAPROLE_USER" ] || sed -i "/^\[agent\]\$/a user = $HAPROLE_USER" "$DEMO/$n/agent.conf"
	agent_dir "$n"
}

# haprole_user: creates the daemons' account (idempotent) and puts it in the postgres group.
haprole_user() {
	[ -n "$HAPROLE_USER" ] || return 0
	getent passwd "$HAPROLE_USER" >/dev/null ||
		useradd --system --user-group --home-dir /nonexistent --no-create-home \
			--shell /usr/sbin/nologin "$HAPROLE_USER" || die "useradd $HAPROLE_USER failed"
	id -nG "$HAPROLE_USER" | tr ' ' '\n' | grep -qx postgres ||
		usermod -aG postgres "$HAPROLE_USER" || die "usermod -aG postgres $HAPROLE_USER failed"
}

# agent_dir NODE: the agent, once it runs as $HAPROLE_USER, writes its state file, and its hook
# the role-change log, in .demo/NODE: group-writable, by postgres (db nodes, where PostgreSQL
# owns the directory) or by $HAPROLE_USER's own group (app nodes).
agent_dir() {
	[ -n "$HAPROLE_USER" ] || return 0
	case " $PG_NODES " in *" $1 "*) ;; *) chgrp "$HAPROLE_USER" "$DEMO/$1" ;; esac
	chmod 0775 "$DEMO/$1"
}

have_agent() { [ -x "$AGENT_BIN" ] && [ -f "$ROOT/docker/agent-db.conf.in" ]; }
# have_spoa: the demo routes with haprole-spoa (ROUTER=spoa: SPOE; ROUTER=push: it sets
# HAProxy's servers through the stats socket) and it is built.
have_spoa() {
	{ [ "$ROUTER" = spoa ] || [ "$ROUTER" = push ]; } && [ -x "$SPOA_BIN" ] &&
		[ -f "$ROOT/docker/spoa.conf.in" ]
}
check_router() {
	case $ROUTER in
	spoa | lua | push | agent) ;;
	*) die "unknown ROUTER '$ROUTER' (spoa, lua, push or agent)" ;;
	esac
}

agent_up() { curl -fsS -m1 "http://${ADDR[$1]}:$AGENT_PORT/status" >/dev/null; }

# agent_sees NODE ROLE: NODE's agent reports its PostgreSQL up in ROLE (true without agents).
agent_sees() {
	have_agent || return 0
	local j
	j=$(curl -fsS -m1 "http://${ADDR[$1]}:$AGENT_PORT/status") && [ -n "$j" ] || return 1
	echo "$j" | jq -e --arg r "$2" '.pg.up and .pg.role == $r' >/dev/null
}

agent_start() {
	local n=$1
	have_agent || return 0
	pid_alive "agent-$n" && return 0
	agent_conf "$n"
	"$AGENT_BIN" -c -f "$DEMO/$n/agent.conf" >"$DEMO/logs/agent-$n.check" 2>&1 ||
		die "agent config for $n refused: $(cat "$DEMO/logs/agent-$n.check")"
	# DEMO_AGENT_ENV="VAR=VALUE ...": extra environment for the agent process alone (the
	# failover suite's clockstep preloads libfaketime into the agent this way)
	# shellcheck disable=SC2086 # word splitting of VAR=VALUE pairs is the point
	start_bg "agent-$n" "$n" env ${DEMO_AGENT_ENV:-} "$AGENT_BIN" -d -f "$DEMO/$n/agent.conf"
	WAIT_LOG=$DEMO/logs/agent-$n.log wait_for 15 "agent on $n" agent_up "$n"
}

spoa_start() {
	have_spoa || return 0
	# DEMO_SPOA=0 (bench/failover.sh, agent-check path): heal and start-proc leave it stopped.
	[ "${DEMO_SPOA:-1}" = 0 ] && return 0
	pid_alive spoa && return 0
	local agents="" n
	for n in $PG_NODES; do
		agents="$agents[node $n]\ncluster = $CLUSTER\nagent = ${ADDR[$n]}:$AGENT_PORT\n\n"
	done
	sed -e "s|@CLUSTER@|$CLUSTER|g" -e "s|@HOST@|$BR_ADDR|g" -e "s|@PORT@|$SPOA_PORT|g" \
		-e "s|@STATUS_PORT@|$SPOA_STATUS|g" -e "s|@DIR@|$DEMO|g" -e "s|@NODES@|$agents|" \
		"$ROOT/docker/spoa.conf.in" >"$DEMO/spoa.conf"
	[ -z "$HAPROLE_USER" ] || sed -i "/^\[spoa\]\$/a user = $HAPROLE_USER" "$DEMO/spoa.conf"
	if [ "$ROUTER" = push ]; then # the push router: this HAProxy's servers, set on every change
		printf '%s\n' "" "# ROUTER=push: HAProxy's servers set through its stats socket (docs/spoa.md)" \
			"[haproxy demo]" "runtime_api = $DEMO/haproxy.sock" "cluster = $CLUSTER" \
			"writer_backend = pg_write" "reader_backend = pg_read" "verify_interval = 200ms" \
			>>"$DEMO/spoa.conf"
	fi
	if patroni_on; then patroni_spoa_conf >>"$DEMO/spoa.conf"; fi # PATRONI hook
	"$SPOA_BIN" -c -f "$DEMO/spoa.conf" >"$DEMO/logs/spoa.check" 2>&1 ||
		die "spoa config refused: $(cat "$DEMO/logs/spoa.check")"
	start_bg spoa - "$SPOA_BIN" -d -f "$DEMO/spoa.conf"
	WAIT_LOG=$DEMO/logs/spoa.log wait_for 15 "haprole-spoa" bash -c "exec 3<>/dev/tcp/$BR_ADDR/$SPOA_PORT"
}

# haproxy_conf: writes $DEMO/haproxy.cfg (and spoe.conf) from docker/haproxy-demo.cfg.in and
# checks it. DEMO_HAPROXY_EDIT (the failover suite's negative controls: routing made wrong on
# purpose) is a sed script applied to the result; it must change something.
haproxy_conf() {
	local servers_w="" servers_wr="" servers_r="" servers_app="" n
	# DEMO_PG_CHECK_INTER (bench/failover.sh): inter and agent-inter of the PostgreSQL servers.
	local pg_inter=${DEMO_PG_CHECK_INTER:-500ms}
	for n in $PG_NODES; do
		servers_wr="$servers_wr    server $n ${ADDR[$n]}:$PG_PORT track pg_write/$n on-marked-down shutdown-sessions\n"
		if [ "$ROUTER" = push ]; then
			# haprole-spoa sets these servers (haproxy/haprole-push.cfg): `disabled` until it
			# says, and no agent-check, whose `ready` would undo its maint/drain
			servers_w="$servers_w    server $n ${ADDR[$n]}:$PG_PORT check port $AGENT_PORT inter $pg_inter fall 2 rise 1 on-marked-down shutdown-sessions disabled\n"
			servers_r="$servers_r    server $n ${ADDR[$n]}:$PG_PORT check port $AGENT_PORT inter $pg_inter fall 2 rise 1 on-marked-down shutdown-sessions\n"
			continue
		fi
		servers_w="$servers_w    server $n ${ADDR[$n]}:$PG_PORT check port $AGENT_PORT inter $pg_inter fall 2 rise 1 agent-check agent-port $AGENT_PORT agent-inter $pg_inter agent-send \"writer\\\\n\" on-marked-down shutdown-sessions\n"
		servers_r="$servers_r    server $n ${ADDR[$n]}:$PG_PORT check port $AGENT_PORT inter $pg_inter fall 2 rise 1 agent-check agent-port $AGENT_PORT agent-inter $pg_inter agent-send \"reader\\\\n\" on-marked-down shutdown-sessions\n"
	done
	for n in $APP_NODES; do
		servers_app="$servers_app    server $n ${ADDR[$n]}:$NGINX_PORT check port $AGENT_PORT inter 1s fall 2 rise 1 agent-check agent-port $AGENT_PORT agent-inter 1s agent-send \"app\\\\n\"\n"
	done
	# the router's tagged lines are kept (tag removed), the other routers' dropped
	local lua_nodes="" tags=() t
	for n in $PG_NODES; do lua_nodes="$lua_nodes${lua_nodes:+ }$n=${ADDR[$n]}:$AGENT_PORT"; done
	for t in SPOA LUA PUSH; do
		if [ "$t" = "${ROUTER^^}" ]; then tags+=(-e "s|^@$t@||"); else tags+=(-e "/^@$t@/d"); fi
	done
	# ROUTER=push: haprole-spoa, no longer root, reaches the stats socket through its group
	[ -z "$HAPROLE_USER" ] ||
		tags+=(-e "s|haproxy.sock mode 600 level admin|haproxy.sock mode 660 group $HAPROLE_USER level admin|")
	sed "${tags[@]}" -e "s|@DIR@|$DEMO|g" -e "s|@HOST@|$BR_ADDR|g" -e "s|@CLUSTER@|$CLUSTER|g" \
		-e "s|@HTTP_PORT@|$HTTP_PORT|g" -e "s|@PGW_PORT@|$PGW_PORT|g" -e "s|@PGR_PORT@|$PGR_PORT|g" \
		-e "s|@STATS_PORT@|$STATS_PORT|g" -e "s|@SPOA_PORT@|$SPOA_PORT|g" -e "s|@SPOA_HOST@|$BR_ADDR|g" \
		-e "s|@LUA_NODES@|$lua_nodes|g" -e "s|@ROOT@|$ROOT|g" -e "s|@LUA_STATUS_PORT@|$LUA_STATUS|g" \
		-e "s|@SERVERS_W@|$servers_w|" -e "s|@SERVERS_WR@|$servers_wr|" -e "s|@SERVERS_R@|$servers_r|" -e "s|@SERVERS_APP@|$servers_app|" \
		"$ROOT/docker/haproxy-demo.cfg.in" >"$DEMO/haproxy.cfg"
	if patroni_on; then patroni_haproxy >>"$DEMO/haproxy.cfg"; fi # PATRONI hook
	if [ -n "${DEMO_HAPROXY_EDIT:-}" ]; then
		sed -e "$DEMO_HAPROXY_EDIT" "$DEMO/haproxy.cfg" >"$DEMO/haproxy.cfg.edit" ||
			die "DEMO_HAPROXY_EDIT: sed refused the script"
		cmp -s "$DEMO/haproxy.cfg" "$DEMO/haproxy.cfg.edit" && die "DEMO_HAPROXY_EDIT changed nothing"
		mv "$DEMO/haproxy.cfg.edit" "$DEMO/haproxy.cfg"
		state_set HAPROXY_EDITED 1
	else
		state_set HAPROXY_EDITED 0
	fi
	[ "$ROUTER" = spoa ] && sed -e "s|@CLUSTER@|$CLUSTER|g" "$ROOT/docker/spoe-demo.conf.in" >"$DEMO/spoe.conf"
	$HAPROXY_CMD -c -q -f "$DEMO/haproxy.cfg" >"$DEMO/logs/haproxy.check" 2>&1 ||
		die "haproxy config refused: $(cat "$DEMO/logs/haproxy.check")"
}

# haproxy_start: DEMO_HAPROXY_MW=1 runs it in master-worker mode (-W), for reload-haproxy mw.
haproxy_start() {
	pid_alive haproxy && return 0
	haproxy_conf
	local mw=
	[ "${DEMO_HAPROXY_MW:-0}" = 1 ] && mw=-W
	rm -f "$DEMO/haproxy.sock"
	start_bg haproxy - $HAPROXY_CMD $mw -db -f "$DEMO/haproxy.cfg"
	state_set HAPROXY_MW "${DEMO_HAPROXY_MW:-0}"
	wait_for 15 "haproxy" test -S "$DEMO/haproxy.sock"
}

# haproxy_reload sf|mw : a new config (DEMO_HAPROXY_EDIT applies) taken over by a new process
# while the old one finishes its sessions. sf: a new haproxy with -sf OLDPID (the old one is
# recorded as haproxy-old, so that stop ends it too); mw: SIGUSR2 to the master (started with
# DEMO_HAPROXY_MW=1), which starts a new worker and soft-stops the old ones.
haproxy_reload() {
	local how=$1 old
	pid_alive haproxy || die "reload-haproxy: haproxy is not running"
	old=$(cat "$DEMO/pids/haproxy.pid")
	haproxy_conf
	case $how in
	sf)
		[ "$(state_get HAPROXY_MW)" = 1 ] && die "reload-haproxy sf: HAProxy runs master-worker (use mw)"
		cp "$DEMO/pids/haproxy.pid" "$DEMO/pids/haproxy-old.pid"
		start_bg haproxy - $HAPROXY_CMD -db -f "$DEMO/haproxy.cfg" -sf "$old"
		;;
	mw)
		[ "$(state_get HAPROXY_MW)" = 1 ] || die "reload-haproxy mw: HAProxy does not run master-worker"
		kill -USR2 "$old"
		;;
	*) die "reload-haproxy: sf or mw, not '$how'" ;;
	esac
	say "haproxy reloaded ($how)"
}

# ---- environment file (docs/design.md section 12: exactly these keys) -----------------------------

write_env() {
	local n ctl
	if have_ctl; then
		ctl="$DEMO/haprolectl status"
	else
		ctl="$ROOT/docker/demo.sh status"
	fi
	{
		echo "# written by docker/demo.sh up; keys: docs/design.md section 12"
		echo "DEMO_NODES='$ALL_NODES'"
		echo "DEMO_PG_NODES='$PG_NODES'"
		echo "DEMO_APP_NODES='$APP_NODES'"
		for n in $ALL_NODES; do
			echo "${n}_HOST=${ADDR[$n]}"
			echo "${n}_AGENT_PORT=$AGENT_PORT"
			echo "${n}_NETNS=$([ "$MODE" = netns ] && echo "hr-$n")"
		done
		for n in $PG_NODES; do
			echo "${n}_PG_PORT=$PG_PORT"
			echo "${n}_PGDATA=$(pgdata "$n")"
		done
		echo "HAPROXY_HOST=$BR_ADDR"
		echo "HAPROXY_HTTP_PORT=$HTTP_PORT"
		echo "HAPROXY_PG_PORT=$PGW_PORT"
		echo "HAPROXY_PG_RO_PORT=$PGR_PORT"
		echo "HAPROXY_STATS_SOCKET=$DEMO/haproxy.sock"
		echo "DEMO_ROUTER=$ROUTER"
		patroni_env # PATRONI hook
		if have_spoa; then
			echo "SPOA_HOST=$BR_ADDR"
			echo "SPOA_PORT=$SPOA_PORT"
			echo "SPOA_STATUS_PORT=$SPOA_STATUS"
		else # no haprole-spoa runs with this router
			echo "SPOA_HOST="
			echo "SPOA_PORT="
			echo "SPOA_STATUS_PORT="
		fi
		echo "PGUSER=$PGUSER_DEMO"
		echo "PGDATABASE=$PGDB_DEMO"
		echo "PGPASSWORD="
		echo "DEMO_CLUSTER=$CLUSTER"
		echo "HAPROLECTL='$ctl'"
	} >"$ENV_FILE.tmp"
	mv "$ENV_FILE.tmp" "$ENV_FILE"
}

# write_ctl_wrappers: .demo/haprolectl (the whole cluster: every agent, HAProxy's stats socket,
# the SPOA) and .demo/NODE/haprolectl (haprolectl as run on NODE: its config, so its admin
# socket and peers). No paths to type: `.demo/db2/haprolectl drain --wait upgrade`.
write_ctl_wrappers() {
	have_ctl || return 0
	local n views
	views="--haproxy $DEMO/haproxy.sock"
	have_spoa && [ "${DEMO_SPOA:-1}" != 0 ] && views="$views --spoa $BR_ADDR:$SPOA_STATUS"
	{
		echo "#!/bin/sh"
		echo "# written by docker/demo.sh: haprolectl for the whole demo cluster"
		echo "exec $CTL_BIN $(ctl_args)$views \"\$@\""
	} >"$DEMO/haprolectl"
	chmod 755 "$DEMO/haprolectl"
	for n in $ALL_NODES; do
		{
			echo "#!/bin/sh"
			echo "# written by docker/demo.sh: haprolectl as an operator runs it on $n"
			echo "exec $CTL_BIN -f $DEMO/$n/agent.conf $views \"\$@\""
		} >"$DEMO/$n/haprolectl"
		chmod 755 "$DEMO/$n/haprolectl"
	done
}

# ctl_args: haprolectl's -a HOST:PORT for every agent of the demo.
ctl_args() { local n; for n in $ALL_NODES; do printf -- '-a %s:%s ' "${ADDR[$n]}" $AGENT_PORT; done; }
have_ctl() { [ -x "$CTL_BIN" ] && have_agent; }

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
		pg_init_primary db1
		state_set PRIMARY db1
		pg_make_standby db2 db1
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

cmd_banner() {
	local ns n what a=""
	have_agent && a=", haprole-agent :$AGENT_PORT"
	echo
	printf '  %-6s %-14s %-10s %s\n' node address namespace runs
	for n in $ALL_NODES; do
		ns=-
		[ "$MODE" = netns ] && ns=hr-$n
		case " $PG_NODES " in
		*" $n "*) what="postgres 15 :$PG_PORT ($(pg_role "$n"))$a" ;;
		*) what="nginx :$NGINX_PORT -> app :$APP_PORT$a" ;;
		esac
		printf '  %-6s %-14s %-10s %s\n' "$n" "${ADDR[$n]}" "$ns" "$what"
	done
	printf '  %-6s %-14s %-10s %s\n' - "$BR_ADDR" "(root)" \
		"haproxy :$HTTP_PORT http, :$PGW_PORT pg writes, :$PGR_PORT pg reads, :$STATS_PORT stats$(have_spoa && echo "; haprole-spoa :$SPOA_PORT")$([ "$ROUTER" = lua ] && echo "; Lua router view :$LUA_STATUS")"
	echo
	patroni_banner # PATRONI hook
	echo "  router: $ROUTER (make demo ROUTER=spoa|lua|push|agent after make demo-stop)"
	have_agent || echo "  NOTE: haprole-agent is not built yet: HAProxy has no health source, writes fail closed."
	[ "$ROUTER" != spoa ] || have_spoa || echo "  NOTE: haprole-spoa is not built yet: routing uses the agent checks only."
	cat <<EOF
  Try:
    curl -s http://$BR_ADDR:$HTTP_PORT/             # a read: HAProxy -> nginx -> app -> HAProxy -> PG
    curl -s -X POST http://$BR_ADDR:$HTTP_PORT/write # a write, the same way
    curl -s http://${ADDR[db1]}:$AGENT_PORT/          # what db1's agent says (JSON)
    psql -h $BR_ADDR -p $PGW_PORT -U $PGUSER_DEMO $PGDB_DEMO -c 'select * from demo_writes'
    make demo-status   make demo-failover   make demo-heal   make demo-switchover   make demo-stop
$(have_ctl && printf '%s\n' "  haprolectl, no paths to type (docs/operations.md):" \
	"    .demo/haprolectl status                      # the whole cluster, HAProxy's view, the SPOA's decision" \
	"    .demo/db2/haprolectl drain --wait upgrade    # as on db2: drain it, wait until HAProxy has no session on it" \
	"    .demo/db2/haprolectl ready")
  Addresses and ports for scripts: $ENV_FILE
EOF
}

cmd_status() {
	[ -f "$DEMO/up" ] || { say "not running (make demo)"; return 1; }
	if have_ctl && [ "${1:-}" != --table ]; then
		[ -x "$DEMO/haprolectl" ] || write_ctl_wrappers
		# The agents' table, HAProxy's view of each server, the SPOA's decision.
		"$DEMO/haprolectl" status
		return
	fi
	printf '%-6s %-14s %-9s %-8s %-4s %-10s %-6s %-6s %s\n' NODE ADDRESS PG ROLE TL LAG_BYTES APP NGINX CHECKS
	local n j
	for n in $ALL_NODES; do
		if j=$(curl -fsS -m1 "http://${ADDR[$n]}:$AGENT_PORT/status" 2>/dev/null); then
			echo "$j" | jq -r --arg n "$n" --arg a "${ADDR[$n]}" '[ $n, $a,
				(if .pg.present then (if .pg.up then "up" else "down" end) else "-" end),
				(if .pg.present then .pg.role else "-" end),
				(if .pg.present then (.pg.tl | tostring) else "-" end),
				(if .pg.present then (.pg.lag_bytes | tostring) else "-" end),
				(if .app.present then (if .app.up then "up" else "down" end) else "-" end),
				(if .nginx.present then (if .nginx.up then "up" else "down" end) else "-" end),
				([.checks // {} | to_entries[] | "\(.key)=\(.value)"] | join(", "))] | @tsv' |
				awk -F'\t' '{printf "%-6s %-14s %-9s %-8s %-4s %-10s %-6s %-6s %s\n", $1,$2,$3,$4,$5,$6,$7,$8,$9}'
		else
			local role="-"
			case " $PG_NODES " in *" $n "*) role=$(pg_role "$n") ;; esac
			printf '%-6s %-14s %-9s %-8s %s\n' "$n" "${ADDR[$n]}" "(no agent answer)" "$role" ""
		fi
	done
	echo
	echo "HAProxy servers (stats socket):"
	hap_cmd "$DEMO/haproxy.sock" "show stat" | awk -F, 'NR>1 && NF>17 && $2 != "FRONTEND" && $2 != "BACKEND" {printf "  %-12s %-6s %s\n", $1, $2, $18}'
}

# haproxy_says BACKEND SERVER STATUS-PREFIX: HAProxy's stats socket shows SERVER of BACKEND in
# a status that starts with STATUS-PREFIX ("UP", "DOWN", "DRAIN").
haproxy_says() { hap_status_is "$DEMO/haproxy.sock" "$1" "$2" "$3"; }

# haproxy_out BACKEND SERVER: HAProxy sends it nothing: DOWN (its checks), or MAINT (set by the
# push router through the stats socket).
haproxy_out() { hap_status_is "$DEMO/haproxy.sock" "$1" "$2" DOWN MAINT; }

cmd_failover() {
	[ -f "$DEMO/up" ] || die "not running (make demo)"
	local p s
	p=$(current_primary)
	s=$(other_pg "$p")
	[ "$(pg_role "$s")" = standby ] || die "$s is not a standby; nothing to promote (make demo-heal)"
	say "failover: stopping primary $p (immediate), promoting $s"
	pg_stop "$p" immediate
	pg_promote "$s"
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
	pg_stop "$p" fast
	pg_promote "$s"
	say "rejoining $p as a standby of $s (pg_rewind)"
	pg_rejoin "$p" "$s"
	ctl_admin "$p" ready
	wait_for 15 "$p's agent to see a standby" agent_sees "$p" standby
	# "done" when HAProxy agrees too: the new primary UP for writes, the old one not.
	if have_agent; then
		wait_for 15 "HAProxy to show $s UP in pg_write" haproxy_says pg_write "$s" UP
		wait_for 15 "HAProxy to show $p out of pg_write" haproxy_out pg_write "$p"
	fi
	say "done: $s primary, $p standby"
}

# pg_rejoin NODE NEWPRIMARY : pg_rewind NODE onto NEWPRIMARY, start it as a standby;
# falls back to a fresh pg_basebackup when pg_rewind cannot do it.
pg_rejoin() {
	local n=$1 p=$2 d
	d=$(pgdata "$n")
	pg_stop "$n" fast
	# Right after a promotion the new primary's control file still names the old timeline
	# until its end-of-recovery checkpoint: pg_rewind would then rewind to the wrong point and
	# the old primary not start ("requested timeline N does not contain minimum recovery
	# point"; 2 switchovers in 10 back to back). A checkpoint first, as failover managers do.
	psql_node "$p" "CHECKPOINT" >/dev/null 2>&1 || :
	if as_pg "$n" "$PGBIN/pg_rewind" -D "$d" -R \
		--source-server="host=${ADDR[$p]} port=$PG_PORT user=postgres dbname=postgres application_name=$n" \
		>"$DEMO/logs/rewind-$n.log" 2>&1; then
		write_node_conf "$n" ""
		# In a subshell: pg_start dies when the server does not start; fall back then.
		if (pg_start "$n") && try_for 30 pg_streaming "$n"; then
			pg_set_sync "$p" "*"
			return 0
		fi
		say "$n did not start or stream after pg_rewind; re-creating it with pg_basebackup"
	else
		say "pg_rewind failed (see $DEMO/logs/rewind-$n.log); re-creating $n with pg_basebackup"
	fi
	pg_make_standby "$n" "$p"
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
		pg_stop "$n" fast
		pg_start "$n"
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
	[ "$(pg_role "$s")" = primary ] && { say "heal: stopping stale primary $s"; pg_stop "$s" immediate; }
	# A cut-off link, a paused replay: undo what the tests may have done.
	[ "$MODE" = netns ] && for n in $ALL_NODES; do ip -n "hr-$n" link set eth0 up; done
	if [ "$(pg_role "$s")" = standby ] && pg_streaming "$s"; then
		psql_node "$s" "SELECT pg_wal_replay_resume()" >/dev/null 2>&1 || :
		pg_set_sync "$p" "*"
	else
		say "heal: re-creating $s as a standby of $p"
		pg_make_standby "$s" "$p"
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
			pg_stop "$n" immediate
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
pg-start) pg_start "$2" ;;
pg-stop) pg_stop "$2" "${3:-fast}" ;;
pg-role) pg_role "$2" ;;
promote) pg_promote "$2" ;;
rebuild) pg_make_standby "$2" "$(current_primary)" ;;
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
