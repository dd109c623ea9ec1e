#!/bin/bash
# tests/integration/test_patroni_compat.sh - issue 10, "Done when": HAProxy configs written for
# Patroni work against haprole-agent with only `check port 8008` changed to the agent's port.
#   - Patroni's published template: `option httpchk OPTIONS /master` in the writer listen,
#     `OPTIONS /replica` in the replica listen, `http-check expect status 200`,
#     `default-server inter 3s fall 3 rise 2 on-marked-down shutdown-sessions`;
#   - the guides' bare `option httpchk` (HAProxy sends `OPTIONS / HTTP/1.0`, no Host) +
#     `http-check expect status 200`: Patroni's own example file, loaded as Debian's patroni
#     package ships it (/usr/share/doc/patroni/examples/haproxy.cfg).
# Substituted, nothing else: bind addresses, the server lines' addresses, `check port`, and
# `inter 3s` -> 300ms to bound the waits; a stats socket is added to read the states.
# On HAProxy 2.6 and 3.2, with real PostgreSQL 15 (primary db1 + pg_basebackup -R standby db2,
# one agent each, peers of each other): exactly the primary is UP in the writer listens, the
# standby in the replica listen, SQL through them lands where it should; then db2 is promoted
# and db1 stopped, and HAProxy follows (db1 fenced by db2's higher timeline in between). The
# agents run the demo's on_role_change hook: exactly one line, db2's promotion. The app tier on
# its own hosts: app1 (follow = db1) and app2 (follow = db2), agent-checked in an app listen,
# swap within one feed hop of the promotion (the log lines show it).
# Addresses and ports: block test_patroni_compat of tests/integration/lib/fixture.sh. Exit 0
# pass, 77 skip, 1 fail.
set -u
cd "$(dirname "$0")/../.."

. tests/integration/lib/pg.sh
. tests/integration/lib/haproxy.sh
. tests/integration/lib/haproxy3.sh
. tests/integration/lib/fixture.sh # expect.sh; fix_block
OPS_TMP=$(mktemp -d)
. tests/integration/lib/ops.sh

CTL=./haprolectl
fix_block test_patroni_compat
# db1, db2 (A1, A2: PostgreSQL on port PGP), app1, app2 (A3, A4: the app on APPPORT), every
# agent on its node's address and port AP; HAProxy's listens on FE from FEBASE, 7 per version
fix_addrs A1 A2 A3 A4 FE
fix_ports AP PGP APPPORT FEBASE
PATRONI_EXAMPLE=${PATRONI_EXAMPLE:-/usr/share/doc/patroni/examples/haproxy.cfg}
fails=0

cleanup() {
	ops_cleanup
	hap_cleanup_all
	pg_cleanup_all
	rm -rf "$OPS_TMP"
}
trap cleanup EXIT

ops_require "$CTL" || exit $?
if [ ! -r "$PATRONI_EXAMPLE" ]; then
	echo "skip: $PATRONI_EXAMPLE not found (apt-get install patroni: Patroni's own HAProxy example)"
	exit 77
fi

roots=("")
names=("haproxy-$(hap_version)")
for r in $(hap3_roots); do
	v=$(hap_version "$r")
	case $v in 3.2.*) roots+=("$r"); names+=("haproxy-$v") ;; esac
done
[ "${#roots[@]}" -ge 2 ] || echo "note: no HAProxy 3.2 root (lib/haproxy3.sh said why above): 2.6 only"
echo "HAProxy versions under test: ${names[*]}"

# Patroni's published HAProxy template (writer and replica listens), as its documentation and
# the HA guides print it; NODE lines are filled in below like an operator would.
cat >"$OPS_TMP/template.cfg" <<'EOF'
global
    maxconn 100

defaults
    log global
    mode tcp
    retries 2
    timeout client 30m
    timeout connect 4s
    timeout server 30m
    timeout check 5s

listen stats
    mode http
    bind *:7000
    stats enable
    stats uri /

listen master
    bind *:5000
    option httpchk OPTIONS /master
    http-check expect status 200
    default-server inter 3s fall 3 rise 2 on-marked-down shutdown-sessions
    server node1 node1:5432 maxconn 100 check port 8008
    server node2 node2:5432 maxconn 100 check port 8008

listen replicas
    bind *:5001
    balance roundrobin
    option httpchk OPTIONS /replica
    http-check expect status 200
    default-server inter 3s fall 3 rise 2 on-marked-down shutdown-sessions
    server node1 node1:5432 maxconn 100 check port 8008
    server node2 node2:5432 maxconn 100 check port 8008
EOF

# localize SRC DST SOCK BASE - the substitutions above, and nothing else: binds *:7000/5000/5001
# on our address and ports BASE+0/1/2, server addresses (node1/127.0.0.1:5432 -> db1's,
# node2/127.0.0.1:5433 -> db2's, names kept), check port 8008/8009 -> the agent's port,
# inter 3s -> 300ms, and a stats socket in global.
localize() {
	sed -e "s|bind \*:7000|bind $FE:$4|" -e "s|bind \*:5000|bind $FE:$(($4 + 1))|" \
		-e "s|bind \*:5001|bind $FE:$(($4 + 2))|" \
		-e "s| node1:5432 | $A1:$PGP |; s| node2:5432 | $A2:$PGP |" \
		-e "s| 127\.0\.0\.1:5432 | $A1:$PGP |; s| 127\.0\.0\.1:5433 | $A2:$PGP |" \
		-e "s|check port 800[89]|check port $AP|" -e "s|inter 3s |inter 300ms |" \
		-e "s|^global$|global\n    stats socket $3 mode 600 level admin|" "$1" >"$2"
	if diff "$1" <(grep -v 'stats socket' "$2") | grep '^[<>]' |
		grep -Evq '^[<>] +(bind|server|default-server) '; then
		echo "localize changed more than addresses, ports and inter:"
		diff "$1" "$2"
		return 1
	fi
}

# ---- cluster --------------------------------------------------------------------------------
mkdir -p "$OPS_TMP/n1" "$OPS_TMP/n2"
chown postgres: "$OPS_TMP" "$OPS_TMP/n1" "$OPS_TMP/n2"
pg_init_primary "$OPS_TMP/n1/pg" $PGP $A1 && pg_start "$OPS_TMP/n1/pg" || exit 1
pg_make_standby $A1 $PGP "$OPS_TMP/n2/pg" $PGP $A2 && pg_start "$OPS_TMP/n2/pg" || exit 1
pg_wait_streaming $A2 $PGP 30 || exit 1
# as ops_pair_up, with the demo's role-change hook (docker/role-change-hook.sh, as shipped): one
# line per role change, "<epoch_ms> <node> <old> <new> <tl>", in the directory of the agents'
# configs ($OPS_TMP/role-changes.log, both nodes)
ops_agent_conf db1 $A1 $AP $A1 $PGP db2 $A2:$AP
ops_agent_conf db2 $A2 $AP $A2 $PGP db1 $A1:$AP
sed -i "s|^\[agent\]$|[agent]\non_role_change = $PWD/docker/role-change-hook.sh\nhook_timeout = 5s|" \
	"$OPS_TMP/db1.conf" "$OPS_TMP/db2.conf"
ops_agent_start db1 && ops_agent_start db2 || exit 1
ops_wait_line $A1 $AP writer '^up ready' 20 || exit 1
ops_wait_line $A2 $AP reader '^up ready' 20 || exit 1

# ---- the app tier on its own hosts: app1 follows db1, app2 follows db2 (issue 10 item 4) ---------
# each app is a python3 http.server; its agent probes it and reads db1's and db2's feeds
APP_PIDS=()
for n in 3 4; do
	addr=A$n
	name=app$((n - 2))
	python3 -m http.server --bind "${!addr}" $APPPORT --directory "$OPS_TMP" >/dev/null 2>&1 &
	APP_PIDS+=($!)
	cat >"$OPS_TMP/$name.conf" <<EOF
[agent]
cluster = opstest
node = $name
listen = ${!addr}:$AP
heartbeat = 200ms
admin_socket =
state_file =
[tcp app]
addr = ${!addr}:$APPPORT
interval = 100ms
[check app]
kind = app
follow = db$((n - 2))
[peer db1]
address = $A1:$AP
[peer db2]
address = $A2:$AP
EOF
done
trap 'kill "${APP_PIDS[@]}" 2>/dev/null; cleanup' EXIT
ops_agent_start app1 && ops_agent_start app2 || exit 1
ops_wait_line $A3 $AP app '^up ready' 20 && ok "app1 (follow = db1) up while db1 is the writer" || ko "app1 not up"
ops_wait_line $A4 $AP app '^down ready #follow: db2 is not the writer \(writer db1\)' 20 &&
	ok "app2 (follow = db2) down: $(ops_ask $A4 $AP app)" || ko "app2 not down"

# what HAProxy's checks send, straight at the agents
code() { curl -s -m 2 -o /dev/null -w '%{http_code}' -X "$1" "http://$2:$AP$3"; }
expect "OPTIONS /master on db1 (primary)" 200 "$(code OPTIONS $A1 /master)"
expect "OPTIONS /master on db2 (standby)" 503 "$(code OPTIONS $A2 /master)"
expect "OPTIONS /replica on db1" 503 "$(code OPTIONS $A1 /replica)"
expect "OPTIONS /replica on db2" 200 "$(code OPTIONS $A2 /replica)"
expect "bare httpchk (OPTIONS / HTTP/1.0, no Host) on db1" "HTTP/1.1 200 OK" \
	"$(printf 'OPTIONS / HTTP/1.0\r\n\r\n' | nc -w 2 $A1 $AP | head -n 1 | tr -d '\r')"
expect "bare httpchk (OPTIONS / HTTP/1.0, no Host) on db2" "HTTP/1.1 503 Service Unavailable" \
	"$(printf 'OPTIONS / HTTP/1.0\r\n\r\n' | nc -w 2 $A2 $AP | head -n 1 | tr -d '\r')"

# ---- HAProxy: the template and the example, on each version -----------------------------------
socks_t=()
socks_b=()
ports_t=()
ports_b=()
for i in "${!roots[@]}"; do
	bt=$((FEBASE + i * 7)) # the template's stats, master, replicas and app listens
	bb=$((bt + 4))         # the example's three
	[ $((bb + 2)) -le "$PORT_LAST" ] || fail "block test_patroni_compat: no ports left for ${names[$i]}"
	localize "$OPS_TMP/template.cfg" "$OPS_TMP/t$i.cfg" "$OPS_TMP/t$i.sock" $bt || exit 1
	localize "$PATRONI_EXAMPLE" "$OPS_TMP/b$i.cfg" "$OPS_TMP/b$i.sock" $bb || exit 1
	# the app listen: agent-check on each app server, as haproxy/haproxy.cfg's be_app
	cat >>"$OPS_TMP/t$i.cfg" <<EOF

listen app
    mode http
    bind $FE:$((bt + 3))
    timeout client 5s
    timeout server 5s
    server app1 $A3:$APPPORT check inter 300ms agent-check agent-port $AP agent-send "app\n" agent-inter 200ms
    server app2 $A4:$APPPORT check inter 300ms agent-check agent-port $AP agent-send "app\n" agent-inter 200ms
EOF
	hap_start "$OPS_TMP/t$i.cfg" "${roots[$i]}" || exit 1
	hap_start "$OPS_TMP/b$i.cfg" "${roots[$i]}" || exit 1
	socks_t+=("$OPS_TMP/t$i.sock")
	socks_b+=("$OPS_TMP/b$i.sock")
	ports_t+=("$bt")
	ports_b+=("$bb")
done
[ "$(grep -c 'option httpchk$' "$OPS_TMP/b0.cfg")" = 1 ] && ok "the example's listen uses a bare option httpchk" ||
	ko "the example has no bare option httpchk: $(grep httpchk "$OPS_TMP/b0.cfg")"

# states SOCK BACKEND - "name=STATUS ..." of the backend's servers, in order
states() {
	hap_cmd "$1" "show stat" | awk -F, -v be="$2" '$1 == be && $2 != "FRONTEND" && $2 != "BACKEND" { split($18, s, " "); printf "%s=%s ", $2, s[1] }' | sed 's/ $//'
}
# wait_states SOCK BACKEND WANT LABEL - polls (30 s) until states says WANT
wait_states() {
	local got="" t
	for t in $(seq 1 300); do
		got=$(states "$1" "$2")
		[ "$got" = "$3" ] && { ok "$4: $2 $got"; return 0; }
		sleep 0.1
	done
	ko "$4: $2 wanted \"$3\", got \"$got\""
	return 1
}
# sql PORT - where a new session through PORT lands: "ADDR|in_recovery"
sql() { pg_psql $FE "$1" "select inet_server_addr(), pg_is_in_recovery()" 2>&1 | head -n 1; }

for i in "${!roots[@]}"; do
	hv=${names[$i]}
	wait_states "${socks_t[$i]}" master "node1=UP node2=DOWN" "$hv template"
	wait_states "${socks_t[$i]}" replicas "node1=DOWN node2=UP" "$hv template"
	wait_states "${socks_t[$i]}" app "app1=UP app2=DOWN" "$hv app tier (follow)"
	wait_states "${socks_b[$i]}" batman "postgresql_127.0.0.1_5432=UP postgresql_127.0.0.1_5433=DOWN" "$hv bare httpchk"
	expect "$hv template writer port -> db1, writable" "$A1|f" "$(sql $((ports_t[i] + 1)))"
	expect "$hv template replica port -> db2, read-only" "$A2|t" "$(sql $((ports_t[i] + 2)))"
	expect "$hv bare httpchk port -> db1, writable" "$A1|f" "$(sql $((ports_b[i] + 1)))"
done

# ---- promotion: db2 promoted, then db1 stopped ---------------------------------------------------
t0=$(date +%s%3N)
pg_promote "$OPS_TMP/n2/pg" || ko "promote db2"
t1=$(date +%s%3N)
ops_wait_line $A4 $AP app '^up ready' 10 && ok "app2 (follow = db2) up after db2's promotion" || ko "app2 not up"
t2=$(date +%s%3N)
ops_wait_line $A3 $AP app '^down ready #follow: db1 is not the writer' 10 && ok "app1 (follow = db1) down: $(ops_ask $A3 $AP app)" || ko "app1 not down"
echo "     note: pg_ctl promote returned after $((t1 - t0)) ms, app2's agent said up $((t2 - t1)) ms later (polled every 100 ms; feed heartbeat 200 ms)"
grep -h "check app:" "$OPS_TMP/app1.log" "$OPS_TMP/app2.log" | tail -n 2 | sed 's/^/     /'
grep -h "pg: up standby -> up primary" "$OPS_TMP/db2.log" | tail -n 1 | sed 's/^/     /'
ops_wait_line $A2 $AP writer '^up ready' 10 && ok "db2's writer check up after the promotion" || ko "db2 writer not up"
# db1 still runs as a primary on the old timeline: fenced by db2's feed, so /master says 503
ops_wait_line $A1 $AP writer '^down ready #fenced' 10 && ok "db1 fenced while it still runs" || ko "db1 not fenced"
# the hook ran once on db2 for its promotion (bounded wait: hook_timeout)
for t in $(seq 1 50); do [ -s "$OPS_TMP/role-changes.log" ] && break; sleep 0.1; done
expect_match "role-change hook: one line, db2 standby -> primary on timeline 2" \
	'^[0-9]{13} db2 standby primary 2$' "$(cat "$OPS_TMP/role-changes.log" 2>/dev/null)"
expect "OPTIONS /master on the fenced old primary db1" 503 "$(code OPTIONS $A1 /master)"
for i in "${!roots[@]}"; do
	hv=${names[$i]}
	wait_states "${socks_t[$i]}" master "node1=DOWN node2=UP" "$hv template, after the promotion"
	wait_states "${socks_t[$i]}" app "app1=DOWN app2=UP" "$hv app tier (follow), after the promotion"
	expect "$hv app port answers through app2" 200 "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://$FE:$((ports_t[i] + 3))/")"
	wait_states "${socks_b[$i]}" batman "postgresql_127.0.0.1_5432=DOWN postgresql_127.0.0.1_5433=UP" "$hv bare httpchk, after the promotion"
done
pg_stop "$OPS_TMP/n1/pg" fast || ko "stop db1"
for i in "${!roots[@]}"; do
	hv=${names[$i]}
	wait_states "${socks_t[$i]}" master "node1=DOWN node2=UP" "$hv template, old primary stopped"
	wait_states "${socks_t[$i]}" replicas "node1=DOWN node2=DOWN" "$hv template, old primary stopped"
	wait_states "${socks_b[$i]}" batman "postgresql_127.0.0.1_5432=DOWN postgresql_127.0.0.1_5433=UP" "$hv bare httpchk, old primary stopped"
	expect "$hv template writer port -> db2, writable" "$A2|f" "$(sql $((ports_t[i] + 1)))"
	expect "$hv bare httpchk port -> db2, writable" "$A2|f" "$(sql $((ports_b[i] + 1)))"
done

# still exactly one line: the old primary stopping is no role change, nor any heartbeat since
expect "role-change hook lines after the promotion and the stop" 1 "$(wc -l <"$OPS_TMP/role-changes.log")"
expect_match "hook exit logged by db2's agent" 'hook .*role-change-hook.sh standby -> primary: exit 0' "$(cat "$OPS_TMP/db2.log")"

[ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
exit 0
