# docker/demo/conf.sh - the templates: an agent's config, haproxy.cfg from
# docker/haproxy-demo.cfg.in, cluster.env (docs/design.md section 12) and the haprolectl wrappers.
# Sourced by docker/demo.sh (bash, set -euo pipefail), which sets the layout variables first.

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
		# the Lua router's view (lua.haprole-status on HAPROXY_HOST), empty with another router
		echo "LUA_STATUS_PORT=$([ "$ROUTER" = lua ] && echo "$LUA_STATUS")"
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
