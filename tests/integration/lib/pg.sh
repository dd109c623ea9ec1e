# tests/integration/lib/pg.sh - real PostgreSQL 15 servers for integration tests: a primary and
# `pg_basebackup -R` standbys, started, stopped, promoted and cleaned up by pid. Source it (bash):
#
#   . tests/integration/lib/pg.sh
#   pg_require || exit 77                    # prints why and returns 1 when it cannot run here
#   tmp=$(mktemp -d); trap 'pg_cleanup_all; rm -rf "$tmp"' EXIT
#   pg_init_primary "$tmp/pg1" 21432 127.0.11.1 || exit 1
#   pg_start "$tmp/pg1" || exit 1
#   pg_make_standby 127.0.11.1 21432 "$tmp/pg2" 21433 127.0.11.2 || exit 1
#   pg_start "$tmp/pg2" || exit 1
#   pg_wait_sql 127.0.11.2 21433 "select status from pg_stat_wal_receiver" streaming 30
#   pg_psql 127.0.11.1 21432 "create table t(i int)"
#   pg_promote "$tmp/pg2"; pg_stop "$tmp/pg1" immediate
#
# Every server: trust auth for user postgres on 127.0.0.0/8 and 198.18.0.0/15 (the demo's
# namespaces) and for replication, listen_addresses = the given address only, the unix socket in
# the data directory's parent, wal_level=replica, hot_standby=on, fsync=off (tests only: a
# crash of the machine loses the data, which a test never needs). Servers run as user postgres
# (they refuse root) through runuser. Logs go to DIR.log beside the data directory.
#
# Functions return 0 on success, 1 on failure with a line on stderr saying why (and the tail of
# the server log where one exists); nothing here calls exit. Every wait is bounded.
# pg_cleanup_all (put it in your EXIT trap) stops every server started through pg_start, by the
# pid in its postmaster.pid: SIGCONT first to it and its children (a test may have frozen it
# with pg_freeze), then an immediate shutdown, SIGKILL if it is still there after 10 s.
#
# Hung servers: pg_freeze DIR stops the postmaster and all its processes (what a hung host
# looks like); pg_freeze DIR postmaster stops the postmaster alone (new connections hang, open
# ones still work); pg_thaw DIR resumes.
#
# docker/demo.sh (docker/demo/pg.sh) runs its servers through the same functions: pg_initdb,
# pg_basebackup_from, pg_start, pg_stop, pg_promote and pg_pid, with its own settings, logs and
# node names around them. PG_NETNS=NAME runs the server commands inside that network namespace
# (ip netns exec: a demo node); not root, they run as the caller (the demo's loopback layout).

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_USER=${PG_USER:-postgres}
# Data directories started through pg_start, for pg_cleanup_all.
PG_LIB_STARTED=()

# pg_log MSG... - one line on stderr.
pg_log() {
	echo "pg.sh: $*" >&2
}

# pg_as_postgres CMD... - runs CMD as $PG_USER from / (the caller's cwd may be unreadable to it),
# inside the network namespace $PG_NETNS when that is set; as the caller when not root.
pg_as_postgres() {
	local ns=()
	[ -n "${PG_NETNS:-}" ] && ns=(ip netns exec "$PG_NETNS")
	if [ "$(id -u)" = 0 ]; then
		(cd / && "${ns[@]}" runuser -u "$PG_USER" -- "$@")
	else
		(cd / && "${ns[@]}" "$@")
	fi
}

# pg_require - returns 0 when servers can run here, else prints why and returns 1 (tests then
# exit 77: skipped).
pg_require() {
	local b
	for b in initdb pg_ctl postgres pg_basebackup psql; do
		if [ ! -x "$PG_BIN/$b" ]; then
			echo "skip: $PG_BIN/$b not found (apt-get install postgresql-15)"
			return 1
		fi
	done
	if [ "$(id -u)" -ne 0 ]; then
		# not installable by `make deps`: tests/integration/run.sh lets CI pass it
		echo "SKIP-UNAVOIDABLE: must run as root to start servers as $PG_USER"
		return 1
	fi
	if ! id "$PG_USER" >/dev/null 2>&1; then
		echo "skip: no user $PG_USER"
		return 1
	fi
	return 0
}

# pg_log_tail DIR [LOG] - the last lines of DIR's server log (LOG, default DIR.log), on stderr.
pg_log_tail() {
	local log=${2:-$1.log}
	[ -f "$log" ] && tail -n 15 "$log" | sed 's/^/    | /' >&2
	return 0
}

# pg_prepare_parent DIR - the parent of DIR, owned by postgres: it holds the unix socket and log.
pg_prepare_parent() {
	local parent
	parent=$(dirname "$1")
	mkdir -p "$parent" && chown "$PG_USER:" "$parent" && chmod 0755 "$parent"
}

# pg_write_conf DIR PORT ADDR - appends our settings (later lines win in postgresql.conf).
pg_write_conf() {
	local dir=$1 port=$2 addr=$3
	cat >>"$dir/postgresql.conf" <<EOF

# ---- tests/integration/lib/pg.sh ----
listen_addresses = '$addr'
port = $port
unix_socket_directories = '$(dirname "$dir")'
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = 128MB
hot_standby = on
hot_standby_feedback = on
fsync = off
full_page_writes = off
shared_buffers = 16MB
max_connections = 40
logging_collector = off
log_line_prefix = '%m [%p] '
log_min_messages = warning
EOF
}

# pg_write_hba DIR - trust for postgres from loopback and the demo's namespaces.
pg_write_hba() {
	cat >"$1/pg_hba.conf" <<'EOF'
# tests/integration/lib/pg.sh: trust, for tests only
local   all          all                    trust
local   replication  all                    trust
host    all          all    127.0.0.0/8     trust
host    replication  all    127.0.0.0/8     trust
host    all          all    198.18.0.0/15   trust
host    replication  all    198.18.0.0/15   trust
EOF
	chown "$PG_USER:" "$1/pg_hba.conf"
}

# pg_initdb DIR LOG [ARG...] - initdb DIR: superuser postgres, trust, UTF8, ARGs added
# (--locale=..., --data-checksums, ...); its output in LOG. The parent of DIR must be writable
# by $PG_USER.
pg_initdb() {
	local dir=$1 log=$2
	shift 2
	if ! pg_as_postgres "$PG_BIN/initdb" -D "$dir" -U postgres -A trust -E UTF8 "$@" \
		>"$log" 2>&1; then
		pg_log "initdb $dir failed (see $log):"
		tail -n 15 "$log" >&2
		return 1
	fi
}

# pg_init_primary DIR PORT ADDR - initdb DIR (must not exist yet) for a primary on ADDR:PORT.
pg_init_primary() {
	local dir=$1 port=$2 addr=$3
	if [ -e "$dir" ]; then
		pg_log "pg_init_primary: $dir exists"
		return 1
	fi
	pg_prepare_parent "$dir" || return 1
	pg_initdb "$dir" "$dir.initdb.log" --no-sync --locale=C || return 1
	pg_write_conf "$dir" "$port" "$addr"
	pg_write_hba "$dir"
}

# pg_basebackup_from PRIMARY_ADDR PRIMARY_PORT DIR LOG [ARG...] - pg_basebackup -R -X stream
# -c fast of a running primary into DIR as postgres, ARGs added (--no-sync, -d CONNINFO, ...);
# its output in LOG.
pg_basebackup_from() {
	local paddr=$1 pport=$2 dir=$3 log=$4
	shift 4
	if ! pg_as_postgres "$PG_BIN/pg_basebackup" -h "$paddr" -p "$pport" -U postgres \
		-D "$dir" -R -X stream -c fast "$@" >"$log" 2>&1; then
		pg_log "pg_basebackup from $paddr:$pport into $dir failed (see $log):"
		tail -n 15 "$log" >&2
		return 1
	fi
}

# pg_make_standby PRIMARY_ADDR PRIMARY_PORT DIR PORT ADDR - pg_basebackup -R of a running primary
# into DIR (must not exist), for a streaming standby on ADDR:PORT. Start it with pg_start.
pg_make_standby() {
	local paddr=$1 pport=$2 dir=$3 port=$4 addr=$5
	if [ -e "$dir" ]; then
		pg_log "pg_make_standby: $dir exists"
		return 1
	fi
	pg_prepare_parent "$dir" || return 1
	pg_basebackup_from "$paddr" "$pport" "$dir" "$dir.basebackup.log" --no-sync || return 1
	# the copy carries the primary's settings: ours, appended, win
	pg_write_conf "$dir" "$port" "$addr"
	pg_write_hba "$dir"
	chmod 0700 "$dir"
}

# pg_pid DIR - prints the postmaster's pid (first line of DIR/postmaster.pid); 1 when none.
pg_pid() {
	local pid
	[ -r "$1/postmaster.pid" ] || return 1
	read -r pid <"$1/postmaster.pid" || return 1
	case $pid in '' | *[!0-9]*) return 1 ;; esac
	echo "$pid"
}

# pg_children PID - pids of PID's child processes (backends, walsender, checkpointer, ...).
pg_children() {
	pgrep -P "$1" 2>/dev/null
}

# pg_freeze DIR [postmaster] - a hung server: SIGSTOPs the postmaster and every child process
# (each PostgreSQL process runs in its own session, so a process-group signal would not reach
# them). With "postmaster", only the postmaster stops: the kernel still accepts TCP and new
# connections hang in startup, but backends already connected keep answering (a persistent
# probe connection sees nothing until it reconnects). pg_thaw undoes either.
pg_freeze() {
	local pid c
	pid=$(pg_pid "$1") || {
		pg_log "pg_freeze: no postmaster in $1"
		return 1
	}
	kill -STOP "$pid" || return 1
	[ "${2:-}" = postmaster ] && return 0
	for c in $(pg_children "$pid"); do
		kill -STOP "$c" 2>/dev/null
	done
	return 0
}

# pg_thaw DIR - SIGCONTs the postmaster and its children.
pg_thaw() {
	local pid c
	pid=$(pg_pid "$1") || return 1
	for c in $(pg_children "$pid"); do
		kill -CONT "$c" 2>/dev/null
	done
	kill -CONT "$pid"
}

# pg_start DIR [LOG] - starts the server, its log in LOG (default DIR.log), and waits (60 s at
# most) until it accepts connections. The server inherits no descriptor 9 (a caller's lock).
pg_start() {
	local dir=$1 log=${2:-$1.log}
	PG_LIB_STARTED+=("$dir")
	if ! pg_as_postgres "$PG_BIN/pg_ctl" -D "$dir" -l "$log" -w -t 60 start >/dev/null 9>&-; then
		pg_log "pg_ctl start $dir failed (see $log):"
		pg_log_tail "$dir" "$log"
		return 1
	fi
}

# pg_stop DIR [MODE [SECONDS]] - stops the server (MODE smart|fast|immediate, default fast),
# SECONDS (default 60) at most. A SIGSTOPped postmaster is continued first.
pg_stop() {
	local dir=$1 mode=${2:-fast} secs=${3:-60} pid
	pid=$(pg_pid "$dir") || return 0
	pg_thaw "$dir" 2>/dev/null
	if ! pg_as_postgres "$PG_BIN/pg_ctl" -D "$dir" -m "$mode" -w -t "$secs" stop >/dev/null; then
		pg_log "pg_ctl stop $dir failed:"
		pg_log_tail "$dir"
		return 1
	fi
}

# pg_promote DIR - promotes a standby and waits (60 s at most) until it is out of recovery.
pg_promote() {
	if ! pg_as_postgres "$PG_BIN/pg_ctl" -D "$1" -w -t 60 promote >/dev/null; then
		pg_log "pg_ctl promote $1 failed:"
		pg_log_tail "$1"
		return 1
	fi
}

# pg_psql ADDR PORT SQL - runs SQL as postgres on database postgres over TCP; prints the result
# unaligned, tuples only ("t", "0/3000148", "a|b" for two columns). 10 s statement limit.
pg_psql() {
	PGCONNECT_TIMEOUT=5 PGOPTIONS='-c statement_timeout=10s' "$PG_BIN/psql" -X -A -t -q \
		-v ON_ERROR_STOP=1 -h "$1" -p "$2" -U postgres -d postgres -c "$3"
}

# pg_wait_sql ADDR PORT SQL EXPECTED [SECONDS] - polls SQL every 100 ms until it prints exactly
# EXPECTED, at most SECONDS (default 30). On timeout prints what it last got and returns 1.
pg_wait_sql() {
	local addr=$1 port=$2 sql=$3 want=$4 secs=${5:-30} got="" i
	for ((i = 0; i < secs * 10; i++)); do
		got=$(pg_psql "$addr" "$port" "$sql" 2>&1) && [ "$got" = "$want" ] && return 0
		sleep 0.1
	done
	pg_log "waited ${secs}s on $addr:$port for '$sql' = '$want', last got '$got'"
	return 1
}

# pg_wait_streaming ADDR PORT [SECONDS] - waits until the standby's WAL receiver streams.
pg_wait_streaming() {
	pg_wait_sql "$1" "$2" "select status from pg_stat_wal_receiver" streaming "${3:-30}"
}

# pg_wait_caught_up PADDR PPORT SADDR SPORT [SECONDS] - waits until the standby replayed
# everything the primary had written when this was called.
pg_wait_caught_up() {
	local lsn
	lsn=$(pg_psql "$1" "$2" "select pg_current_wal_lsn()") || return 1
	pg_wait_sql "$3" "$4" "select pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn" t "${5:-30}"
}

# pg_cleanup_all - stops every server started by pg_start (by pid), for EXIT traps.
pg_cleanup_all() {
	local dir pid i
	for dir in "${PG_LIB_STARTED[@]}"; do
		pid=$(pg_pid "$dir") || continue
		kill -0 "$pid" 2>/dev/null || continue
		pg_thaw "$dir" 2>/dev/null
		kill -QUIT "$pid" 2>/dev/null # immediate shutdown
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			pg_log "postmaster $pid of $dir ignored SIGQUIT, killing it"
			pkill -KILL -P "$pid" 2>/dev/null # its backends, by parent pid
			kill -KILL "$pid" 2>/dev/null
		fi
	done
	PG_LIB_STARTED=()
	return 0
}
