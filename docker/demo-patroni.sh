# docker/demo-patroni.sh - `make demo PATRONI=1`: the demo cluster with PostgreSQL managed by
# Patroni (issue 14). Sourced by docker/demo.sh (its hooks are marked "PATRONI hook"); uses its
# helpers (say, die, start_bg, stop_named, nsx, as_pg, psql_node, wait_for, state_get/set ...).
#
# What changes against the plain demo:
#  - one etcd (Debian's etcd-server) in the root namespace on $BR_ADDR:2379, data in .demo/etcd;
#  - one Patroni (Debian's patroni, run as postgres) in each database node's namespace, REST API
#    on :8008 there; Patroni runs initdb on db1 and makes db2 its replica itself
#    (synchronous_mode: an acknowledged write survives a kill of the primary), data in
#    .demo/NODE/pgdata. `master_start_timeout: 0`: a crashed primary is failed over, not
#    restarted in place (Patroni's default restarts it for up to 300 s);
#  - the same HAProxy serves, beside the default router's ports, one write port per way of
#    routing on the same cluster (docker/haproxy-patroni.cfg.in):
#      HAPROXY_PG_PORT_PATRONI  the HA guides' config: `option httpchk` on Patroni's REST API
#                               (`check port 8008`, `inter 3s fall 3 rise 2`, as published)
#      HAPROXY_PG_PORT_AGENT    haprole's agent checks alone (no SPOA)
#      HAPROXY_PG_PORT_SPOA     haprole with the SPOA (the default router's port, HAPROXY_PG_PORT)
#      HAPROXY_PG_PORT_LUA      haprole's Lua router (haproxy/haprole.lua) in the same HAProxy
#      HAPROXY_PG_PORT_PUSH     haprole's push router: the same haprole-spoa sets that backend's
#                               servers through the stats socket ([haproxy patroni-push])
#  - `switchover` runs `patronictl switchover --force`, `failover` SIGKILLs the primary's
#    postmaster: Patroni decides and promotes; the demo only waits and reports.
# Only the netns layout (root + `ip netns`): the REST API needs port 8008 on every node, and
# only with ROUTER=spoa (the SPOA port is one of the side-by-side ports).

PATRONI_BIN=${PATRONI_BIN:-/usr/bin/patroni}
PATRONICTL_BIN=${PATRONICTL_BIN:-/usr/bin/patronictl}
ETCD_BIN=${ETCD_BIN:-/usr/bin/etcd}
PATRONI_SCOPE=haprole-demo
PATRONI_REST=8008
ETCD_PORT=2379
ETCD_PEER=2380
PGW_PATRONI_PORT=24020 # HAProxy: writes routed by Patroni's REST API (the guides' config)
PGW_AGENT_PORT=24021   # HAProxy: writes routed by haprole's agent checks alone
PGW_LUA_PORT=24022     # HAProxy: writes routed by haprole's Lua router
PGW_PUSH_PORT=24023    # HAProxy: writes routed by haprole's push router

# patroni_on: this demo runs (or is being started) in Patroni mode.
# Chosen at `up` (DEMO_PATRONI=1), remembered in .demo/state.env like MODE and ROUTER.
PATRONI=
[ -f "$STATE_FILE" ] && PATRONI=$(sed -n 's/^PATRONI=//p' "$STATE_FILE" | tail -1)
patroni_on() { [ "${PATRONI:-}" = 1 ]; }

patroni_preflight() {
	[ "$MODE" = netns ] || die "PATRONI=1 needs the netns layout (root and 'ip netns'); DEMO_NETNS=0 is not supported"
	[ "$ROUTER" = spoa ] || die "PATRONI=1 runs with ROUTER=spoa (the SPOA is one of its side-by-side ports), not $ROUTER"
	local b
	for b in "$PATRONI_BIN" "$PATRONICTL_BIN" "$ETCD_BIN"; do
		[ -x "$b" ] || die "missing $b (run: make deps PATRONI=1, or apt-get install patroni etcd-server etcd-client)"
	done
	local p
	for p in $PGW_PATRONI_PORT $PGW_AGENT_PORT $PGW_LUA_PORT $PGW_PUSH_PORT; do
		if (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then die "port $p is in use"; fi
	done
	state_set PATRONI 1
}

# ---- etcd ----------------------------------------------------------------------------------

etcd_up() { curl -fsS -m1 "http://$BR_ADDR:$ETCD_PORT/health" | grep -q '"health":"true"'; }

etcd_start() {
	pid_alive etcd && return 0
	mkdir -p "$DEMO/etcd"
	chmod 700 "$DEMO/etcd"
	start_bg etcd - "$ETCD_BIN" --name hr-etcd --data-dir "$DEMO/etcd" \
		--listen-client-urls "http://$BR_ADDR:$ETCD_PORT" --advertise-client-urls "http://$BR_ADDR:$ETCD_PORT" \
		--listen-peer-urls "http://$BR_ADDR:$ETCD_PEER" --initial-advertise-peer-urls "http://$BR_ADDR:$ETCD_PEER" \
		--initial-cluster "hr-etcd=http://$BR_ADDR:$ETCD_PEER" --initial-cluster-state new
	wait_for 30 "etcd on $BR_ADDR:$ETCD_PORT" etcd_up
}

# ---- Patroni -------------------------------------------------------------------------------

patroni_conf() {
	local n=$1 f
	f=$DEMO/$n/patroni.yml
	mkdir -p "$DEMO/$n" "$(pgsock "$n")"
	chown "$PGOWNER": "$DEMO/$n" "$(pgsock "$n")"
	cat >"$f" <<EOF
# written by docker/demo.sh (docker/demo-patroni.sh): Patroni on $n
scope: $PATRONI_SCOPE
namespace: /haprole-demo/
name: $n
log:
  level: INFO
restapi:
  listen: 0.0.0.0:$PATRONI_REST
  connect_address: ${ADDR[$n]}:$PATRONI_REST
etcd3:
  host: $BR_ADDR:$ETCD_PORT
bootstrap:
  dcs:
    # Patroni's defaults, as the guides run them; only master_start_timeout differs: 0 fails
    # a crashed primary over instead of restarting it in place (default: for up to 300 s).
    ttl: 30
    loop_wait: 10
    retry_timeout: 10
    maximum_lag_on_failover: 1048576
    master_start_timeout: 0
    # The primary waits for the standby to flush: an acknowledged write survives the loss of
    # the primary, and Patroni promotes only a standby that has every acknowledged write.
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        # room for the side-by-side ports' clients at once: right after a promotion every
        # port's writes that waited reach the new primary together (with 60, the Lua and push
        # ports' first writes were refused "too many clients" for ~0.7 s while the SPOA's
        # held writes took the slots: the bench measured PostgreSQL's limit, not the routing)
        max_connections: 500
        shared_buffers: 32MB
        wal_level: replica
        max_wal_senders: 8
        max_replication_slots: 8
        wal_keep_size: 256MB
        hot_standby: "on"
        hot_standby_feedback: "on"
        wal_log_hints: "on"
        wal_receiver_status_interval: 1s
  initdb:
  - encoding: UTF8
  - locale: C.UTF-8
  - data-checksums
  - allow-group-access
postgresql:
  listen: 0.0.0.0:$PG_PORT
  connect_address: ${ADDR[$n]}:$PG_PORT
  data_dir: $(pgdata "$n")
  bin_dir: $PGBIN
  pgpass: $DEMO/$n/pgpass
  use_unix_socket: true
  # the replica's clone (pg_basebackup) asks for an immediate checkpoint, not a spread one
  basebackup:
  - checkpoint: fast
  authentication:
    superuser:
      username: postgres
    replication:
      username: postgres
    rewind:
      username: postgres
  parameters:
    unix_socket_directories: $(pgsock "$n")
    # the node that took a write (demo_writes.node's default; the failover client reads it)
    haprole_demo.node: $n
    log_line_prefix: '%m [%p] $n '
  pg_hba:
  # a demo on a private, non-routed range: trust, no passwords
  - local all all trust
  - host all all 127.0.0.0/8 trust
  - host all all $NET_PREFIX.0/24 trust
  - local replication all trust
  - host replication all 127.0.0.0/8 trust
  - host replication all $NET_PREFIX.0/24 trust
EOF
	chown "$PGOWNER": "$f"
	chmod 600 "$f"
}

patroni_start() {
	local n=$1
	pid_alive "patroni-$n" && return 0
	patroni_conf "$n"
	touch "$DEMO/logs/patroni-$n.log"
	# setpriv, not runuser: runuser would SIGKILL Patroni 2 s after a SIGTERM, before Patroni
	# has stopped its PostgreSQL.
	start_bg "patroni-$n" "$n" setpriv --reuid=postgres --regid=postgres --init-groups \
		env HOME="$DEMO/$n" "$PATRONI_BIN" "$DEMO/$n/patroni.yml"
}

# patroni_rest NODE PATH: HTTP status of GET PATH on NODE's Patroni REST API ("000": no answer).
patroni_rest() { curl -s -m1 -o /dev/null -w '%{http_code}' "http://${ADDR[$1]}:$PATRONI_REST$2" || :; }
patroni_is() { [ "$(patroni_rest "$1" "/$2")" = 200 ]; }

patronictl() { "$PATRONICTL_BIN" -c "$DEMO/db1/patroni.yml" "$@"; }

# (functions, so that wait_for runs the query each time)
pg_is_primary() { [ "$(pg_role "$1")" = primary ]; }
# pg_sync_standby PRIMARY STANDBY: PRIMARY streams to STANDBY synchronously.
pg_sync_standby() {
	[ "$(psql_node "$1" "SELECT sync_state FROM pg_stat_replication WHERE application_name = '$2'")" = sync ]
}

# patroni_leader: the member holding the leader lock, from etcd via patronictl ("" none).
patroni_leader() {
	patronictl list -f json "$PATRONI_SCOPE" 2>/dev/null |
		jq -r '.[] | select(.Role == "Leader") | .Member' 2>/dev/null | head -1
}

# patroni_sync NODE: Patroni (its sync key in etcd) names NODE the synchronous standby: only
# then will it fail over to NODE (synchronous_mode). Patroni names it on its first loop after
# the replica streams: up to loop_wait (10 s) after a rejoin.
# (Patroni's REST API: GET /sync is 200 only on that standby; cheaper to poll than patronictl.)
patroni_sync() { patroni_is "$1" sync; }

# patroni_settled PRIMARY: PRIMARY is the leader and writable, its peer a streaming replica
# that Patroni names synchronous standby, both agents agree.
patroni_settled() {
	local p=$1 s
	s=$(other_pg "$p")
	patroni_is "$p" primary && pg_is_primary "$p" && pg_streaming "$s" &&
		patroni_is "$s" replica && patroni_sync "$s" && agent_sees "$p" primary && agent_sees "$s" standby
}

# patroni_pg_up: `up`'s PostgreSQL part (PATRONI hook in cmd_up).
patroni_pg_up() {
	say "etcd: $BR_ADDR:$ETCD_PORT (data in $DEMO/etcd)"
	etcd_start
	say "postgres: Patroni on db1 (bootstraps the cluster), then on db2 (Patroni clones a replica)"
	patroni_start db1
	wait_for 90 "Patroni on db1 to bootstrap a primary" patroni_is db1 primary
	wait_for 30 "db1 writable" pg_is_primary db1
	psql_node db1 "CREATE ROLE $PGUSER_DEMO LOGIN" >/dev/null
	psql_node db1 "CREATE DATABASE $PGDB_DEMO OWNER $PGUSER_DEMO" >/dev/null
	psql_node db1 "CREATE ROLE haprole LOGIN IN ROLE pg_monitor" >/dev/null
	as_pg db1 "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$(pgsock db1)" -p $PG_PORT -U $PGUSER_DEMO \
		-d $PGDB_DEMO -c "CREATE TABLE demo_writes (
			id bigserial PRIMARY KEY,
			src text,
			node text DEFAULT current_setting('haprole_demo.node', true),
			at timestamptz DEFAULT clock_timestamp())" >/dev/null
	state_set PRIMARY db1
	patroni_start db2
	wait_for 90 "Patroni on db2 to clone a streaming replica" pg_streaming db2
	wait_for 60 "db2 as db1's synchronous standby" pg_sync_standby db1 db2
	wait_for 30 "Patroni to name db2 synchronous standby" patroni_sync db2
}

# patroni_follow: records the current leader as PRIMARY (and PROMOTED_AT when it changed).
patroni_follow() {
	local l
	l=$(patroni_leader)
	[ -n "$l" ] && [ "$l" != "$(state_get PRIMARY)" ] && state_set PRIMARY "$l"
	[ -n "$l" ]
}

patroni_switchover() {
	[ -f "$DEMO/up" ] || die "not running (make demo)"
	local p s t0
	p=$(patroni_leader)
	[ -n "$p" ] || die "Patroni has no leader (patronictl -c $DEMO/db1/patroni.yml list)"
	s=$(other_pg "$p")
	wait_for 60 "$p primary with $s as Patroni's synchronous standby" patroni_settled "$p"
	say "switchover (Patroni): patronictl switchover --leader $p --candidate $s --force"
	t0=$SECONDS
	state_set EVENT_AT "$(now)" # when the event was set off (tests/failover/patroni.sh reads it)
	patronictl switchover --leader "$p" --candidate "$s" --force "$PATRONI_SCOPE" \
		>>"$DEMO/logs/patronictl.log" 2>&1 || die "patronictl switchover failed (see $DEMO/logs/patronictl.log)"
	wait_for 60 "$s to be Patroni's writable leader" patroni_primary_is "$s"
	state_set PRIMARY "$s"
	say "$s is the primary ($((SECONDS - t0)) s); Patroni rejoins $p as its replica"
	wait_for 90 "$p streaming from $s, both agents agreeing" patroni_settled "$s"
	say "done: $s primary, $p standby"
}

patroni_primary_is() { patroni_is "$1" primary && pg_is_primary "$1"; }

# patroni_failover: SIGKILL of the primary's postmaster; Patroni notices on its next loop
# (loop_wait), fails over (master_start_timeout 0) and rejoins the old primary as a replica.
patroni_failover() {
	[ -f "$DEMO/up" ] || die "not running (make demo)"
	local p s pm t0
	p=$(patroni_leader)
	[ -n "$p" ] || die "Patroni has no leader (patronictl -c $DEMO/db1/patroni.yml list)"
	s=$(other_pg "$p")
	# Patroni in synchronous_mode fails over only to the standby its sync key names; before
	# that it restarts a crashed primary in place.
	wait_for 60 "$p primary with $s as Patroni's synchronous standby" patroni_settled "$p"
	pm=$(head -1 "$(pgdata "$p")/postmaster.pid" 2>/dev/null) || die "$p: no postmaster.pid"
	say "failover (Patroni): SIGKILL to $p's postmaster (pid $pm); Patroni decides"
	t0=$SECONDS
	state_set EVENT_AT "$(now)"
	kill -9 "$pm"
	wait_for 90 "Patroni to promote $s" patroni_primary_is "$s"
	state_set PRIMARY "$s"
	say "$s is the primary ($((SECONDS - t0)) s after the kill); Patroni rejoins $p as its replica"
	wait_for 120 "$p streaming from $s, both agents agreeing" patroni_settled "$s"
	say "done: $s primary, $p standby"
}

# patroni_heal: Patroni repairs the database nodes itself; start what is not running and wait
# for one writable leader with a streaming replica.
patroni_heal() {
	[ -f "$DEMO/up" ] || die "not running (make demo)"
	local n p
	[ "$MODE" = netns ] && for n in $ALL_NODES; do ip -n "hr-$n" link set eth0 up; done
	etcd_start
	for n in $PG_NODES; do patroni_start "$n"; done
	wait_for 90 "a Patroni leader" patroni_follow
	p=$(state_get PRIMARY)
	for n in $APP_NODES; do app_start "$n"; nginx_start "$n"; done
	for n in $ALL_NODES; do agent_start "$n"; ctl_admin "$n" ready >/dev/null; done
	spoa_start
	haproxy_start
	wait_for 120 "$p primary with a streaming replica, both agents agreeing" patroni_settled "$p"
	have_agent && wait_for 15 "HAProxy to show $p UP in pg_write" haproxy_says pg_write "$p" UP
	say "healed: $p primary, $(other_pg "$p") standby (Patroni), every node ready"
}

# patroni_stop_all: before the plain demo's stop: each Patroni stops its PostgreSQL (SIGTERM,
# a fast shutdown), then etcd.
patroni_stop_all() {
	local n
	for n in $PG_NODES; do stop_named "patroni-$n"; done
	stop_named etcd
}

# patroni_haproxy: the side-by-side listeners appended to haproxy.cfg (PATRONI hook in
# haproxy_conf; servers_w, lua_nodes and pg_inter are haproxy_conf's).
patroni_haproxy() {
	local servers_p="" servers_push="" n
	for n in $PG_NODES; do
		servers_p="$servers_p    server $n ${ADDR[$n]}:$PG_PORT maxconn 100 check port $PATRONI_REST\n"
		# as docker/demo.sh writes pg_write for ROUTER=push: disabled until haprole-spoa says
		servers_push="$servers_push    server $n ${ADDR[$n]}:$PG_PORT check port $AGENT_PORT inter $pg_inter fall 2 rise 1 on-marked-down shutdown-sessions disabled\n"
	done
	sed -e "s|@HOST@|$BR_ADDR|g" -e "s|@PGW_PATRONI_PORT@|$PGW_PATRONI_PORT|g" \
		-e "s|@PGW_AGENT_PORT@|$PGW_AGENT_PORT|g" -e "s|@SERVERS_PATRONI@|$servers_p|" \
		-e "s|@PGW_LUA_PORT@|$PGW_LUA_PORT|g" -e "s|@PGW_PUSH_PORT@|$PGW_PUSH_PORT|g" \
		-e "s|@LUA_NODES@|$lua_nodes|g" -e "s|@CLUSTER@|$CLUSTER|g" -e "s|@ROOT@|$ROOT|g" \
		-e "s|@SERVERS_PUSH@|$servers_push|" -e "s|@SERVERS_W@|$servers_w|" "$ROOT/docker/haproxy-patroni.cfg.in"
}

# patroni_spoa_conf: appended to haprole-spoa's config (PATRONI hook in spoa_start): the push
# router's [haproxy] section for the backend pg_write_push of this HAProxy.
patroni_spoa_conf() {
	printf '%s\n' "" "# PATRONI=1: the push router's port (docker/haproxy-patroni.cfg.in, pg_write_push)" \
		"[haproxy patroni-push]" "runtime_api = $DEMO/haproxy.sock" "cluster = $CLUSTER" \
		"writer_backend = pg_write_push" "verify_interval = 200ms"
}

# patroni_env: the keys of this mode in cluster.env (PATRONI hook in write_env).
patroni_env() {
	if patroni_on; then
		echo "DEMO_PATRONI=1"
		echo "HAPROXY_PG_PORT_PATRONI=$PGW_PATRONI_PORT"
		echo "HAPROXY_PG_PORT_AGENT=$PGW_AGENT_PORT"
		echo "HAPROXY_PG_PORT_SPOA=$PGW_PORT"
		echo "HAPROXY_PG_PORT_LUA=$PGW_LUA_PORT"
		echo "HAPROXY_PG_PORT_PUSH=$PGW_PUSH_PORT"
		echo "PATRONICTL='$PATRONICTL_BIN -c $DEMO/db1/patroni.yml'"
		echo "ETCD_ENDPOINT=$BR_ADDR:$ETCD_PORT"
		local n
		for n in $PG_NODES; do echo "${n}_PATRONI_PORT=$PATRONI_REST"; done
	else
		echo "DEMO_PATRONI="
	fi
}

patroni_banner() {
	patroni_on || return 0
	cat <<EOF
  Patroni mode (PATRONI=1): etcd $BR_ADDR:$ETCD_PORT, Patroni REST :$PATRONI_REST on db1 and db2
  Side by side, the same cluster, write ports on $BR_ADDR:
    :$PGW_PATRONI_PORT  the HA guides' config (option httpchk, check port $PATRONI_REST, inter 3s fall 3 rise 2)
    :$PGW_AGENT_PORT  haprole, agent checks alone
    :$PGW_PORT  haprole with the SPOA
    :$PGW_LUA_PORT  haprole's Lua router (haproxy/haprole.lua)
    :$PGW_PUSH_PORT  haprole's push router (haprole-spoa sets the servers through the stats socket)
  make demo-switchover: patronictl switchover; make demo-failover: SIGKILL of the primary's postmaster
    $PATRONICTL_BIN -c $DEMO/db1/patroni.yml list
EOF
}
