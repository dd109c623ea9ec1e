# docker/demo/pg.sh - the PostgreSQL lifecycle: initdb, pg_basebackup standbys, start, stop,
# promote, pg_rewind rejoin, synchronous_standby_names, all inside the node's namespace.
# Sourced by docker/demo.sh (bash, set -euo pipefail), which sets the layout variables first.
#
# The server commands themselves (initdb, pg_basebackup, pg_ctl start/stop/promote, the
# postmaster's pid) are tests/integration/lib/pg.sh's, which the integration tests use too, run
# in the node's namespace (PG_NETNS); the db_* functions here add what is the demo's: nodes by
# name, its settings, its logs and pid files, synchronous replication, pg_rewind, kill -9.
PG_BIN=$PGBIN
PG_USER=$PGOWNER
. "$ROOT/tests/integration/lib/pg.sh"

pgdata() { echo "$DEMO/$1/pgdata"; }
pgsock() { echo "$DEMO/$1/run"; }
# pg_ns NODE: the namespace of NODE's servers (none in the loopback layout).
pg_ns() { [ "$MODE" = netns ] && echo "hr-$1" || :; }
# as_pg NODE CMD... : CMD as the servers' owner in NODE's namespace.
as_pg() {
	local n=$1
	shift
	PG_NETNS=$(pg_ns "$n") pg_as_postgres "$@"
}
# psql_node NODE SQL : runs SQL on NODE over its unix socket, prints unaligned tuples.
psql_node() {
	local n=$1
	shift
	as_pg "$n" "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$(pgsock "$n")" -p $PG_PORT \
		-U postgres -d postgres -c "$*"
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

db_start() {
	local n=$1 i
	# after `db_stop NODE kill`: let the old postmaster's children finish first (bounded)
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
	PG_NETNS=$(pg_ns "$n") pg_start "$(pgdata "$n")" "$DEMO/logs/pg-$n.log" ||
		die "postgres $n did not start (see $DEMO/logs/pg-$n.log)"
	pg_pid "$(pgdata "$n")" >"$DEMO/pids/pg-$n.pid"
	WAIT_LOG=$DEMO/logs/pg-$n.log wait_for 30 "postgres $n" pg_is_up "$n"
}

# db_stop NODE [fast|immediate|kill] : kill = SIGKILL of the postmaster.
db_stop() {
	local n=$1 mode=${2:-fast} p i
	p=$(cat "$DEMO/pids/pg-$n.pid" 2>/dev/null || :)
	if [ "$mode" = kill ]; then
		[ -n "$p" ] && kill -9 "$p" 2>/dev/null || :
		for ((i = 0; i < 100; i++)); do [ -n "$p" ] && proc_live "$p" || break; sleep 0.02; done
	elif [ -f "$(pgdata "$n")/postmaster.pid" ]; then
		PG_NETNS=$(pg_ns "$n") pg_stop "$(pgdata "$n")" "$mode" 30 2>/dev/null ||
			{ [ -n "$p" ] && kill -9 "$p" 2>/dev/null || :; }
	fi
	rm -f "$DEMO/pids/pg-$n.pid"
}

pg_role() { # prints primary, standby or down
	local r
	r=$(psql_node "$1" "SELECT pg_is_in_recovery()" 2>/dev/null) || { echo down; return; }
	[ "$r" = f ] && echo primary || echo standby
}

db_init_primary() {
	local n=$1 d
	d=$(pgdata "$n")
	mkdir -p "$DEMO/$n"
	chown "$PGOWNER": "$DEMO/$n"
	# Data checksums: pg_rewind (switchover) needs them or wal_log_hints.
	PG_NETNS=$(pg_ns "$n") pg_initdb "$d" "$DEMO/logs/initdb-$n.log" --data-checksums \
		--allow-group-access --locale=C.UTF-8 || die "initdb $n failed (see $DEMO/logs/initdb-$n.log)"
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
	db_start "$n"
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

# db_make_standby NODE PRIMARY : (re)creates NODE as a streaming standby of PRIMARY.
db_make_standby() {
	local n=$1 p=$2 d
	d=$(pgdata "$n")
	db_stop "$n" immediate
	rm -rf "$d"
	mkdir -p "$DEMO/$n"
	chown "$PGOWNER": "$DEMO/$n"
	PG_NETNS=$(pg_ns "$n") pg_basebackup_from "${ADDR[$p]}" $PG_PORT "$d" \
		"$DEMO/logs/basebackup-$n.log" -d "application_name=$n" ||
		die "pg_basebackup $n from $p failed (see $DEMO/logs/basebackup-$n.log)"
	write_node_conf "$n" ""
	db_start "$n"
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

# db_promote NODE : promotes, records when it became a primary (the new timeline's history
# file is written during promotion, just before the node accepts writes).
db_promote() {
	local n=$1 hist
	pg_set_sync "$n" ""
	PG_NETNS=$(pg_ns "$n") pg_promote "$(pgdata "$n")" || die "promote $n failed"
	wait_for 30 "$n primary" test "$(pg_role "$n")" = primary
	hist=$(ls -t "$(pgdata "$n")"/pg_wal/*.history 2>/dev/null | head -1)
	[ -n "$hist" ] && state_set PROMOTED_AT "$(stat -c %.6Y "$hist")" || state_set PROMOTED_AT "$(now)"
	state_set PRIMARY "$n"
	say "promoted $n (timeline $(psql_node "$n" "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()),1,8))::bit(32)::int"))"
}

current_primary() { state_get PRIMARY; }
other_pg() { local n; for n in $PG_NODES; do [ "$n" = "$1" ] || echo "$n"; done | head -1; }

# db_rejoin NODE NEWPRIMARY : pg_rewind NODE onto NEWPRIMARY, start it as a standby;
# falls back to a fresh pg_basebackup when pg_rewind cannot do it.
db_rejoin() {
	local n=$1 p=$2 d
	d=$(pgdata "$n")
	db_stop "$n" fast
	# Right after a promotion the new primary's control file still names the old timeline
	# until its end-of-recovery checkpoint: pg_rewind would then rewind to the wrong point and
	# the old primary not start ("requested timeline N does not contain minimum recovery
	# point"; 2 switchovers in 10 back to back). A checkpoint first, as failover managers do.
	psql_node "$p" "CHECKPOINT" >/dev/null 2>&1 || :
	if as_pg "$n" "$PGBIN/pg_rewind" -D "$d" -R \
		--source-server="host=${ADDR[$p]} port=$PG_PORT user=postgres dbname=postgres application_name=$n" \
		>"$DEMO/logs/rewind-$n.log" 2>&1; then
		write_node_conf "$n" ""
		# In a subshell: db_start dies when the server does not start; fall back then.
		if (db_start "$n") && try_for 30 pg_streaming "$n"; then
			pg_set_sync "$p" "*"
			return 0
		fi
		say "$n did not start or stream after pg_rewind; re-creating it with pg_basebackup"
	else
		say "pg_rewind failed (see $DEMO/logs/rewind-$n.log); re-creating $n with pg_basebackup"
	fi
	db_make_standby "$n" "$p"
}
