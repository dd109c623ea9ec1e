# docker/demo/nodes.sh - the node processes: the app and nginx on app nodes, haprole-agent on
# every node, haprole-spoa and HAProxy (start, reload) in the root namespace.
# Sourced by docker/demo.sh (bash, set -euo pipefail), which sets the layout variables first.

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
