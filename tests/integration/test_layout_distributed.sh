#!/bin/bash
# tests/integration/test_layout_distributed.sh - the DISTRIBUTED layout's reference configs,
# haproxy/distributed.cfg and haproxy/distributed-tls.cfg, loaded AS SHIPPED (addresses, ports
# and paths substituted by lib/layout.sh, nothing else) by a real HAProxy in front of a real
# PostgreSQL 15 primary (DB1) + pg_basebackup -R standby (DB2), real haprole-agents on the four
# nodes, and nginx app nodes APP1/APP2; traffic driven through HAProxy across a promotion.
#
# Each round, for HAProxy 2.6 and the newest 3.x there is (lib/haproxy3.sh; skipped with the
# reason when none), shows:
#   - writes (5000) land on the primary, reads (5001) work, stats answer on 7000;
#   - the application on 80 and 443 is served by APP1 (APP2 is its backup);
#   - DB1 dies and DB2 is promoted: writes land on DB2 with the rows written before, DB1 is
#     DOWN in the writer backend, reads go on; with the SPOE variant (HAPROLE_SPOE=1: same
#     file) the SPOA's view moves to db2 as well;
#   - APP1's nginx stops: its agent's app check fails and HAProxy serves from APP2.
# distributed-tls.cfg rounds: the app nodes listen on 443 only (the agents probe them over
# HTTPS with verify peer), HAProxy terminates TLS with a certificate made here, verifies the
# app's certificate against the test CA, and redirects HTTP on 80 to HTTPS.
# The time from `pg_ctl promote` to the first write through HAProxy landing on DB2 is printed
# (measured by this script's clock, polling every 100 ms).
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib/expect.sh
. tests/integration/lib/haproxy.sh
. tests/integration/lib/haproxy3.sh
. tests/integration/lib/pg.sh
. tests/integration/lib/ops.sh
. tests/integration/lib/spoa.sh
. tests/integration/lib/layout.sh

fix_block test_layout_distributed
layout_setup

# wait_http URL WANT [CURL ARGS] - the body of URL is WANT within 20 s (a request every 100 ms).
wait_http() {
	local url=$1 want=$2 got="" i
	shift 2
	for i in $(seq 1 200); do
		got=$(curl -s -m 2 "$@" "$url" 2>/dev/null)
		[ "$got" = "$want" ] && break
		sleep 0.1
	done
	expect "$WHAT: GET $url" "$want" "$got"
}

# round LABEL ROOT CFG SPOE(0|1) TLS(0|1)
round() {
	local label=$1 root=$2 cfg=$3 spoe=$4 tls=$5 t0 t1 got app_be nginx_mode="" https=""
	WHAT="$label"
	echo "---- $label"
	[ "$tls" = 1 ] && { nginx_mode=tls-only; https=https; }
	if ! layout_pg_pair; then
		ko "$label: PostgreSQL pair did not start"
		return
	fi
	layout_nginx app1 "$APP1" "$nginx_mode" && layout_nginx app2 "$APP2" "$nginx_mode" ||
		{ ko "$label: nginx did not start"; return; }
	layout_agent_db db1 "$DB1" db2 "$DB2" && layout_agent_db db2 "$DB2" db1 "$DB1" &&
		layout_agent_app app1 "$APP1" $https && layout_agent_app app2 "$APP2" $https ||
		{ ko "$label: agents did not start"; return; }
	if [ "$spoe" = 1 ]; then
		layout_spoa || { ko "$label: haprole-spoa did not start"; return; }
		got=$(spoa_wait_view "$HAP_IP" "$P_SPOA_STATUS" "ok db1" 100) ||
			ko "$label: SPOA view before the promotion: '$got'"
	fi
	layout_cfg "haproxy/$cfg" "$LAYOUT_TMP/$cfg" || { ko "$label: $cfg changed shape"; return; }
	HSOCK=$LAYOUT_TMP/admin.sock
	if [ "$spoe" = 1 ]; then export HAPROLE_SPOE=1; else unset HAPROLE_SPOE; fi
	hap_start "$LAYOUT_TMP/$cfg" "$root" || { ko "$label: haproxy did not start"; return; }
	unset HAPROLE_SPOE

	# before: DB1 primary, DB2 standby, APP1 serving
	layout_wait_st be_pg_rw db1 'UP'
	layout_wait_st be_pg_rw db2 'DOWN.*'
	layout_wait_st be_pg_ro db2 'UP'
	[ "$tls" = 1 ] && app_be=be_app || app_be=be_app_http
	layout_wait_st "$app_be" app1 'UP'
	layout_wait_st "$app_be" app2 'UP'
	[ "$spoe" = 1 ] && layout_wait_st spoe-haprole spoa1 'UP'
	got=$(layout_psql "$P_RW" "create table t(i int); insert into t values (1)" 2>&1 && layout_psql "$P_RW" "select inet_server_addr()" 2>&1)
	expect "$label: a write through :5000 lands on DB1" "$DB1" "$got"
	pg_wait_caught_up "$DB1" "$P_PG" "$DB2" "$P_PG" 20 >/dev/null
	got=$(layout_psql "$P_RO" "select count(*) from t" 2>&1)
	expect "$label: a read through :5001 sees the row" "1" "$got"
	got=$(curl -s -m 2 "http://$HAP_IP:$P_STATS/;csv" | grep -c '^be_pg_rw,db[12],')
	expect "$label: stats on :7000 list both writer servers" "2" "$got"
	if [ "$tls" = 1 ]; then
		got=$(curl -s -m 2 -o /dev/null -w '%{http_code} %{redirect_url}' "http://$HAP_IP:$P_HTTP/a?b")
		expect_match "$label: HTTP on :80 redirected to HTTPS" '^301 https://[^ ]*/a\?b$' "$got"
		wait_http "https://$HAP_IP:$P_HTTPS/" app1 --cacert "$LAYOUT_TMP/etc/certs/ca.pem"
		got=$(hap_server_field "$HSOCK" be_app app1 check_status)
		expect "$label: HAProxy checks APP1 over TLS (its HTTPS check passes)" "L7OK" "$got"
		got=$(curl -s -m 2 "http://$APP1:$P_APP_HTTP/" 2>&1; echo "rc=$?")
		expect_match "$label: APP1 does not listen on plain HTTP" '^rc=7$' "$got"
	else
		wait_http "http://$HAP_IP:$P_HTTP/" app1
		wait_http "https://$HAP_IP:$P_HTTPS/" app1 -k
	fi

	# promotion: DB1 dies, DB2 promoted
	pg_stop "$LAYOUT_TMP/pg1/db1" immediate
	t0=$(date +%s%N)
	pg_promote "$LAYOUT_TMP/pg2/db2" || ko "$label: promotion failed"
	if layout_wait_psql "$P_RW" "select inet_server_addr()" "$DB2" 20; then
		t1=$(date +%s%N)
		ok "$label: after the promotion writes through :5000 land on DB2 ($(((t1 - t0) / 1000000)) ms after pg_ctl promote returned)"
	else
		ko "$label: writes through :5000 never reached DB2"
	fi
	got=$(layout_psql "$P_RW" "insert into t values (2)" 2>&1 && layout_psql "$P_RW" "select count(*) from t" 2>&1)
	expect "$label: the new primary has the rows written before + the new one" "2" "$got"
	layout_wait_st be_pg_rw db2 'UP'
	layout_wait_st be_pg_rw db1 'DOWN.*'
	# the reads follow once the new primary's reader check is up in be_pg_ro (its role changed
	# under that check too: HAProxy may have had it DOWN for one agent-inter)
	layout_wait_st be_pg_ro db2 'UP'
	layout_wait_st be_pg_ro db1 '(DOWN|MAINT).*' # stopped: its checks take it out within fall x inter
	got=$(layout_psql "$P_RO" "select count(*) from t" 2>&1)
	expect "$label: reads through :5001 go on (DB2 serves them)" "2" "$got"
	if [ "$spoe" = 1 ]; then
		got=$(spoa_wait_view "$HAP_IP" "$P_SPOA_STATUS" "ok db2" 100) &&
			ok "$label: SPOA view: ok db2" || ko "$label: SPOA view after the promotion: '$got'"
	fi

	# APP1 fails: APP2 serves
	layout_nginx_stop app1
	layout_wait_st "$app_be" app1 'DOWN.*'
	if [ "$tls" = 1 ]; then
		wait_http "https://$HAP_IP:$P_HTTPS/" app2 --cacert "$LAYOUT_TMP/etc/certs/ca.pem"
	else
		wait_http "http://$HAP_IP:$P_HTTP/" app2
		wait_http "https://$HAP_IP:$P_HTTPS/" app2 -k
	fi
	got=$(ops_ask "$APP1" "$P_AGENT" app)
	expect_match "$label: APP1's agent says why" '^(fail|down).*#.*(app|nginx)' "$got"
}

roots=$(HAP3_NO_CREATE=${HAP3_NO_CREATE:-1} hap3_roots | tail -n 1)
for root in "" $roots; do
	ver=$(hap_version "$root")
	round "HAProxy $ver distributed.cfg (agent checks)" "$root" distributed.cfg 0 0
	layout_stop_all
	round "HAProxy $ver distributed.cfg (SPOE)" "$root" distributed.cfg 1 0
	layout_stop_all
	round "HAProxy $ver distributed-tls.cfg (agent checks)" "$root" distributed-tls.cfg 0 1
	layout_stop_all
done
[ -z "$roots" ] && echo "note: no HAProxy 3.x here (see the haproxy3.sh line above); 2.6 only"

if [ "$fails" -ne 0 ]; then
	echo "test_layout_distributed: $fails check(s) failed"
	exit 1
fi
echo "test_layout_distributed: all checks passed"
exit 0
