#!/bin/bash
# tests/integration/test_layout_active_active.sh - the ACTIVE-ACTIVE application layout's
# reference config, haproxy/active-active.cfg, loaded AS SHIPPED (addresses, ports and paths
# substituted by lib/layout.sh, nothing else) by a real HAProxy in front of two nginx app nodes
# with real haprole-agents (app1 announcing weight 100%, app2 50%) and a real PostgreSQL 15
# primary + pg_basebackup -R standby with their agents.
#
# Each round (HAProxy 2.6 and the newest 3.x there is; cookie-insert persistence as shipped,
# then the stick-table variant: HAPROLE_STICK_TABLE=1, same file) shows:
#   - the agents' weights reach HAProxy (app1 100, app2 50) and new sessions follow them (more
#     on app1, some on app2);
#   - a client's session sticks to one node (HAProxy's SRV cookie, or the app's SESSIONID
#     cookie through the stick table);
#   - `haprolectl drain` on that node: HAProxy shows it DRAIN, new clients all go to the other
#     node, the sticky client keeps its node; `haprolectl ready` brings it back;
#   - the database fails over (DB1 dies, DB2 promoted): writes through :5000 land on DB2 with
#     the rows written before.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib/expect.sh
. tests/integration/lib/haproxy.sh
. tests/integration/lib/haproxy3.sh
. tests/integration/lib/pg.sh
. tests/integration/lib/ops.sh
. tests/integration/lib/spoa.sh
. tests/integration/lib/layout.sh

fix_block test_layout_active_active
layout_setup
[ -x ./haprolectl ] || { ko "haprolectl not built (make)"; exit 1; }

# count N [CURL ARGS] - N requests to the app through HAProxy, each a new client unless CURL ARGS
# carry a cookie jar; prints "app1=A app2=B other=C".
count() {
	local n=$1 a=0 b=0 o=0 i body
	shift
	for i in $(seq 1 "$n"); do
		body=$(curl -s -m 2 "$@" "http://$HAP_IP:$P_HTTP/")
		case $body in app1) a=$((a + 1)) ;; app2) b=$((b + 1)) ;; *) o=$((o + 1)) ;; esac
	done
	echo "app1=$a app2=$b other=$o"
}

# all_on NODE N - what count N prints when every request went to NODE.
all_on() {
	[ "$1" = app1 ] && echo "app1=$2 app2=0 other=0" || echo "app1=0 app2=$2 other=0"
}

# round LABEL ROOT STICK(0|1)
round() {
	local label=$1 root=$2 stick=$3 got jar=$LAYOUT_TMP/jar node other w1 w2 i
	WHAT=$label
	echo "---- $label"
	rm -f "$jar"
	layout_pg_pair || { ko "$label: PostgreSQL pair did not start"; return; }
	for node in app1 app2; do
		[ $node = app1 ] && i=$APP1 || i=$APP2
		layout_nginx $node "$i" "" \
			"location = /login { add_header Set-Cookie \"SESSIONID=\$request_id; Path=/\"; return 200 \"$node\\n\"; }" ||
			{ ko "$label: nginx"; return; }
	done
	layout_agent_db db1 "$DB1" db2 "$DB2" && layout_agent_db db2 "$DB2" db1 "$DB1" &&
		layout_agent_app app1 "$APP1" http 100 && layout_agent_app app2 "$APP2" http 50 ||
		{ ko "$label: agents did not start"; return; }
	layout_cfg haproxy/active-active.cfg "$LAYOUT_TMP/aa.cfg" || { ko "$label: active-active.cfg changed shape"; return; }
	HSOCK=$LAYOUT_TMP/admin.sock
	if [ "$stick" = 1 ]; then export HAPROLE_STICK_TABLE=1; else unset HAPROLE_STICK_TABLE; fi
	hap_start "$LAYOUT_TMP/aa.cfg" "$root" || { ko "$label: haproxy did not start"; return; }
	unset HAPROLE_STICK_TABLE

	layout_wait_st be_app app1 UP
	layout_wait_st be_app app2 UP
	layout_wait_st be_pg_rw db1 UP
	# the agents' weights: 100% and 50% of `weight 100`
	for i in $(seq 1 100); do
		w1=$(hap_server_field "$HSOCK" be_app app1 weight)
		w2=$(hap_server_field "$HSOCK" be_app app2 weight)
		[ "$w1/$w2" = 100/50 ] && break
		sleep 0.1
	done
	expect "$label: HAProxy weights app1/app2 from the agents" 100/50 "$w1/$w2"
	got=$(count 30)
	if [[ $got =~ ^app1=([0-9]+)\ app2=([0-9]+)\ other=0$ ]] &&
		[ "${BASH_REMATCH[2]}" -gt 0 ] && [ "${BASH_REMATCH[1]}" -gt "${BASH_REMATCH[2]}" ]; then
		ok "$label: 30 new clients follow the weights: $got"
	else
		ko "$label: 30 new clients do not follow the weights 100/50: $got"
	fi

	# one client's session
	if [ "$stick" = 1 ]; then
		node=$(curl -s -m 2 -c "$jar" -b "$jar" "http://$HAP_IP:$P_HTTP/login")
		expect_match "$label: the app set its SESSIONID" 'SESSIONID' "$(cat "$jar" 2>/dev/null)"
	else
		node=$(curl -s -m 2 -c "$jar" -b "$jar" "http://$HAP_IP:$P_HTTP/")
		expect_match "$label: HAProxy set its SRV cookie" 'SRV[[:space:]]+app[12]' "$(cat "$jar" 2>/dev/null)"
	fi
	[ "$node" = app1 ] && other=app2 || other=app1
	got=$(count 10 -b "$jar")
	expect "$label: the client's 10 next requests stay on $node" "$(all_on "$node" 10)" "$got"

	# drain that node through its agent
	got=$(./haprolectl -s "$LAYOUT_TMP/$node.sock" drain layout test 2>&1)
	layout_wait_st be_app "$node" 'DRAIN.*'
	got=$(count 10)
	expect "$label: $node drained: 10 new clients all on $other" "$(all_on "$other" 10)" "$got"
	got=$(count 10 -b "$jar")
	expect "$label: $node drained: the sticky client keeps $node" "$(all_on "$node" 10)" "$got"
	./haprolectl -s "$LAYOUT_TMP/$node.sock" ready >/dev/null 2>&1
	layout_wait_st be_app "$node" UP

	# the database fails over beneath the app tier
	got=$(layout_psql "$P_RW" "create table t(i int); insert into t values (1)" 2>&1 && layout_psql "$P_RW" "select inet_server_addr()" 2>&1)
	expect "$label: a write through :5000 lands on DB1" "$DB1" "$got"
	pg_stop "$LAYOUT_TMP/pg1/db1" immediate
	pg_promote "$LAYOUT_TMP/pg2/db2" || ko "$label: promotion failed"
	if layout_wait_psql "$P_RW" "select count(*) from t" 1 20; then
		ok "$label: after the promotion writes through :5000 reach DB2, with the earlier row"
	else
		ko "$label: writes through :5000 never reached DB2"
	fi
	got=$(layout_psql "$P_RW" "select inet_server_addr()" 2>&1)
	expect "$label: ... and it is DB2" "$DB2" "$got"
}

roots=$(HAP3_NO_CREATE=${HAP3_NO_CREATE:-1} hap3_roots | tail -n 1)
for root in "" $roots; do
	ver=$(hap_version "$root")
	round "HAProxy $ver active-active.cfg (cookie insert)" "$root" 0
	layout_stop_all
	round "HAProxy $ver active-active.cfg (stick table)" "$root" 1
	layout_stop_all
done
[ -z "$roots" ] && echo "note: no HAProxy 3.x here (see the haproxy3.sh line above); 2.6 only"

if [ "$fails" -ne 0 ]; then
	echo "test_layout_active_active: $fails check(s) failed"
	exit 1
fi
echo "test_layout_active_active: all checks passed"
exit 0
