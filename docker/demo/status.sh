# docker/demo/status.sh - the status view: `docker/demo.sh status`, the banner of `up`, and what
# HAProxy's stats socket says of a server.
# Sourced by docker/demo.sh (bash, set -euo pipefail), which sets the layout variables first.

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
