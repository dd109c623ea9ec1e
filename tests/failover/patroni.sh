# tests/failover/patroni.sh - one Patroni event measured through every write port of the demo
# in Patroni mode (`make demo PATRONI=1`, docker/demo-patroni.sh); shared by
# tests/integration/test_patroni.sh (asserts) and bench/patroni-failover.sh (N trials, figures).
#
# Sourced after the runner has set ROOT, D (docker/demo.sh), PY, ENV (.demo/cluster.env), WORK
# and LOG. PT_PORTS: the ports' names (default "agent spoa lua push patroni":
# HAPROXY_PG_PORT_<NAME>).
#
#   pt_probe_start / pt_probe_stop   tests/failover/promoprobe.py on every node, log $WORK/probe.log
#   pt_trial EVENT TAG BASE          EVENT switchover|failover (docker/demo.sh switchover|failover:
#                                    patronictl switchover, SIGKILL of the primary's postmaster);
#                                    writes $WORK/TAG.NAME.json per port: client.py verify's JSON
#                                    plus "port", "event", "from", "to", "promoted_at",
#                                    "event_to_promo_ms" (from the kill or the patronictl call:
#                                    EVENT_AT in state.env, Patroni's own time); returns 1
#                                    when the trial could not be run (a harness failure, not a
#                                    routing figure), with the reason in PT_WHY.
# Each port's client is tests/failover/client.py run with HAPROXY_PG_PORT set to that port: a
# write every PT_INTERVAL (default 10 ms) on a fresh connection (open loop, PT_FRESH_LANES lanes)
# and one every PT_INTERVAL on a pooled connection. "Promotion" is the first write the new primary
# accepts on a direct connection (promoprobe.py), independent of HAProxy.

. "$ROOT/tests/integration/lib/haproxy.sh" # hap_status_is: the stats socket

PT_PORTS=${PT_PORTS:-agent spoa lua push patroni}
PT_INTERVAL=${PT_INTERVAL:-0.01}
PT_FRESH_LANES=${PT_FRESH_LANES:-200}
PT_PROBE_PID=
declare -A PT_CLIENT_PID=()

pt_env() { sed -n "s/^$1=//p" "$ENV" | tail -1 | tr -d "'\""; }
pt_port() { pt_env "HAPROXY_PG_PORT_${1^^}"; }
pt_host() { pt_env "$1_HOST"; }
# pt_rest NODE PATH: Patroni's REST API answers PATH with 200 on NODE.
pt_rest() { [ "$(curl -s -m1 -o /dev/null -w '%{http_code}' "http://$(pt_host "$1"):$(pt_env "$1_PATRONI_PORT")$2")" = 200 ]; }
pt_leader() { local n; for n in $(pt_env DEMO_PG_NODES); do pt_rest "$n" /primary && { echo "$n"; return 0; }; done; return 1; }
pt_other() { local n; for n in $(pt_env DEMO_PG_NODES); do [ "$n" = "$1" ] || echo "$n"; done | head -1; }
pt_wait() { # pt_wait SECONDS CMD...: polls every 0.1 s
	local limit=$1 i
	shift
	for ((i = 0; i < limit * 10; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}
# pt_stat BACKEND SERVER PREFIX: HAProxy's stats socket shows SERVER's status so
pt_stat() { hap_status_is "$(pt_env HAPROXY_STATS_SOCKET)" "$1" "$2" "$3"; }
# pt_routes_to PRIMARY: every port's HAProxy view has PRIMARY UP and the other DOWN (the
# guide's config included: a trial starts from a settled cluster on every port); on the push
# router's backend the other is in MAINT (haprole-spoa set it so).
pt_routes_to() {
	local p=$1 s
	s=$(pt_other "$p")
	pt_stat pg_write "$p" UP && pt_stat pg_write_agent "$p" UP && pt_stat pg_write_agent "$s" DOWN &&
		pt_stat pg_write_lua "$p" UP && pt_stat pg_write_lua "$s" DOWN &&
		pt_stat pg_write_push "$p" UP && pt_stat pg_write_push "$s" MAINT &&
		pt_stat pg_write_patroni "$p" UP && pt_stat pg_write_patroni "$s" DOWN
}
pt_prog() { jq -r ".$2 // 0" "$WORK/$1.progress" 2>/dev/null || echo 0; }
pt_prog_node() { jq -r ".acks_by_node.\"$2\" // 0" "$WORK/$1.progress" 2>/dev/null || echo 0; }
pt_acks_ge() { [ "$(pt_prog "$1" acks)" -ge "$2" ]; }
pt_node_acks_ge() { [ "$(pt_prog_node "$1" "$2")" -ge "$3" ]; }

pt_probe_start() {
	$PY "$ROOT/tests/failover/promoprobe.py" run --env "$ENV" --log "$WORK/probe.log" \
		--interval "$PT_INTERVAL" >>"$WORK/probe.err" 2>&1 &
	PT_PROBE_PID=$!
}
pt_probe_stop() {
	[ -n "$PT_PROBE_PID" ] || return 0
	kill "$PT_PROBE_PID" 2>/dev/null
	wait "$PT_PROBE_PID" 2>/dev/null
	PT_PROBE_PID=
}
pt_clients_stop() {
	local k
	for k in "${!PT_CLIENT_PID[@]}"; do kill "${PT_CLIENT_PID[$k]}" 2>/dev/null; done
	for k in "${!PT_CLIENT_PID[@]}"; do wait "${PT_CLIENT_PID[$k]}" 2>/dev/null; done
	PT_CLIENT_PID=()
}

pt_trial() {
	local ev=$1 tag=$2 base=$3 p s name i=0 t_ev promo res
	PT_WHY=
	p=$(pt_leader) || { PT_WHY="no Patroni leader"; return 1; }
	s=$(pt_other "$p")
	# Patroni fails over only to the standby its sync key names (synchronous_mode).
	pt_wait 60 pt_rest "$s" /sync || { PT_WHY="Patroni does not name $s synchronous standby"; return 1; }
	pt_wait 60 pt_routes_to "$p" || { PT_WHY="HAProxy does not route every port to $p before the event"; return 1; }
	for name in $PT_PORTS; do
		sed "s/^HAPROXY_PG_PORT=.*/HAPROXY_PG_PORT=$(pt_port "$name")/" "$ENV" >"$WORK/$tag.$name.env"
		rm -f "$WORK/$tag.$name.ops" "$WORK/$name.progress"
		$PY "$ROOT/tests/failover/client.py" run --env "$WORK/$tag.$name.env" --log "$WORK/$tag.$name.ops" \
			--base $((base + i * 10000000)) --progress "$WORK/$name.progress" --write-interval "$PT_INTERVAL" \
			--read-interval 1 --fresh-lanes "$PT_FRESH_LANES" >>"$WORK/client.err" 2>&1 &
		PT_CLIENT_PID[$name]=$!
		i=$((i + 1))
	done
	for name in $PT_PORTS; do
		pt_wait 20 pt_node_acks_ge "$name" "$p" 20 || { pt_clients_stop; PT_WHY="$name: no writes acknowledged by $p before the event"; return 1; }
	done
	t_ev=$(date +%s.%N)
	echo "$tag: $ev $p -> $s" >>"$LOG"
	if ! "$D" "$ev" >>"$LOG" 2>&1; then
		pt_clients_stop
		PT_WHY="docker/demo.sh $ev failed (see $LOG)"
		return 1
	fi
	[ "$(pt_leader)" = "$s" ] || { pt_clients_stop; PT_WHY="Patroni did not make $s the leader"; return 1; }
	# Patroni's own time counts from when the verb set the event off (after its own checks).
	local at
	at=$(sed -n 's/^EVENT_AT=//p' "$(dirname "$ENV")/state.env" 2>/dev/null | tail -1)
	[ -n "$at" ] && [ "${at%%.*}" -ge "${t_ev%%.*}" ] && t_ev=$at
	# Writes continue on the new primary through every port (the guide's port may take its
	# checks' time; it is reported, not waited for beyond this bound).
	for name in $PT_PORTS; do
		pt_wait 30 pt_node_acks_ge "$name" "$s" 30 || echo "$tag: $name: fewer than 30 writes acknowledged by $s within 30 s" >>"$LOG"
	done
	pt_clients_stop
	promo=$($PY "$ROOT/tests/failover/promoprobe.py" first --log "$WORK/probe.log" --node "$s" --after "$t_ev") ||
		{ PT_WHY="the probe never saw $s accept a write after the event"; return 1; }
	i=0
	for name in $PT_PORTS; do
		res=$($PY "$ROOT/tests/failover/client.py" verify --env "$WORK/$tag.$name.env" --log "$WORK/$tag.$name.ops" \
			--base $((base + i * 10000000)) --primary "$s" --promoted-at "$promo" --scenario "$ev")
		[ -n "$res" ] || { PT_WHY="$name: client.py verify printed nothing"; return 1; }
		echo "$res" | jq -c --arg port "$name" --arg ev "$ev" --arg from "$p" --arg to "$s" \
			--argjson promo "$promo" --argjson t_ev "$t_ev" \
			'. + {port: $port, event: $ev, from: $from, to: $to, promoted_at: $promo,
			      event_to_promo_ms: ((($promo - $t_ev) * 1000) | round)}' >"$WORK/$tag.$name.json"
		i=$((i + 1))
	done
	return 0
}
