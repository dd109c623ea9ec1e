#!/bin/bash
# tests/integration/test_layout_standalone.sh - the STANDALONE MASTER/SLAVE PAIR layout's
# reference config, haproxy/haproxy.cfg, loaded AS SHIPPED (addresses, ports and paths
# substituted by lib/layout.sh, nothing else) by a real HAProxy on a third host in front of two
# nodes db1/db2, each with nginx (the app), a real PostgreSQL 15 (db1 primary, db2 its
# pg_basebackup -R standby) and a real haprole-agent answering writer, reader and app.
#
# Each round (HAProxy 2.6 and the newest 3.x there is; agent checks alone, then the SPOE
# variant: HAPROLE_SPOE=1, same file) shows:
#   - both nginx run, yet the app on :80 is served by db1 only (the app check is up only where
#     PostgreSQL is the primary); writes on :5000 land on db1, reads on :5001 work;
#   - db1's PostgreSQL dies: the app and writes are refused (HTTP 503; with SPOE the body says
#     "no writer: no-primary"), never sent to the standby, although db1's nginx still runs;
#   - db2 is promoted: the app is served by db2 and writes land on db2, with the rows written
#     before. The time from `pg_ctl promote` to the first app answer from db2 is printed
#     (measured by this script's clock, polling every 100 ms).
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib/expect.sh
. tests/integration/lib/haproxy.sh
. tests/integration/lib/haproxy3.sh
. tests/integration/lib/pg.sh
. tests/integration/lib/ops.sh
. tests/integration/lib/spoa.sh
. tests/integration/lib/layout.sh

fix_block test_layout_standalone
layout_setup

# wait_http URL WANT - "STATUS BODY" of URL is WANT within 20 s (a request every 100 ms).
wait_http() {
	local got="" i
	for i in $(seq 1 200); do
		got=$(curl -s -m 2 -w ' %{http_code}' "$1" 2>/dev/null | tr -d '\n')
		[ "$got" = "$2" ] && break
		sleep 0.1
	done
	expect "$WHAT: GET $1" "$2" "$got"
}

# round LABEL ROOT SPOE(0|1)
round() {
	local label=$1 root=$2 spoe=$3 t0 t1 got i
	WHAT=$label
	echo "---- $label"
	layout_pg_pair || { ko "$label: PostgreSQL pair did not start"; return; }
	layout_nginx db1 "$DB1" && layout_nginx db2 "$DB2" || { ko "$label: nginx"; return; }
	layout_agent_db db1 "$DB1" db2 "$DB2" app && layout_agent_db db2 "$DB2" db1 "$DB1" app ||
		{ ko "$label: agents did not start"; return; }
	if [ "$spoe" = 1 ]; then
		layout_spoa || { ko "$label: haprole-spoa did not start"; return; }
		got=$(spoa_wait_view "$HAP_IP" "$P_SPOA_STATUS" "ok db1" 100) ||
			ko "$label: SPOA view before the promotion: '$got'"
	fi
	layout_cfg haproxy/haproxy.cfg "$LAYOUT_TMP/haproxy.cfg" || { ko "$label: haproxy.cfg changed shape"; return; }
	HSOCK=$LAYOUT_TMP/admin.sock
	if [ "$spoe" = 1 ]; then export HAPROLE_SPOE=1; else unset HAPROLE_SPOE; fi
	hap_start "$LAYOUT_TMP/haproxy.cfg" "$root" || { ko "$label: haproxy did not start"; return; }
	unset HAPROLE_SPOE

	layout_wait_st be_app db1 UP
	layout_wait_st be_app db2 'DOWN.*'
	layout_wait_st be_pg_rw db1 UP
	layout_wait_st be_pg_rw db2 'DOWN.*'
	layout_wait_st be_pg_ro db2 UP
	[ "$spoe" = 1 ] && layout_wait_st spoe-haprole spoa1 UP
	got=$(curl -s -m 2 "http://$DB2:$P_APP_HTTP/")
	expect "$label: db2's nginx runs (asked directly)" db2 "$got"
	for i in 1 2 3 4 5; do
		got=$(curl -s -m 2 "http://$HAP_IP:$P_HTTP/")
		[ "$got" = db1 ] || break
	done
	expect "$label: 5 requests on :80 all served by db1, the primary's node" db1 "$got"
	got=$(layout_psql "$P_RW" "create table t(i int); insert into t values (1)" 2>&1 && layout_psql "$P_RW" "select inet_server_addr()" 2>&1)
	expect "$label: a write through :5000 lands on db1" "$DB1" "$got"
	pg_wait_caught_up "$DB1" "$P_PG" "$DB2" "$P_PG" 20 >/dev/null
	got=$(layout_psql "$P_RO" "select count(*) from t" 2>&1)
	expect "$label: a read through :5001 sees the row" 1 "$got"

	# db1's PostgreSQL dies; nobody promoted yet: refused, never the standby
	pg_stop "$LAYOUT_TMP/pg1/db1" immediate
	layout_wait_st be_app db1 'DOWN.*'
	if [ "$spoe" = 1 ]; then
		wait_http "http://$HAP_IP:$P_HTTP/" "no writer: no-primary 503"
	else
		got=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://$HAP_IP:$P_HTTP/")
		expect "$label: no primary: the app on :80 answers 503 (no server), not the standby's app" 503 "$got"
	fi
	got=$(layout_psql "$P_RW" "select inet_server_addr()" 2>&1)
	expect_match "$label: no primary: a write through :5000 is refused" 'server closed|connection|refused|reset|terminated' "$got"
	got=$(curl -s -m 2 "http://$DB1:$P_APP_HTTP/")
	expect "$label: db1's nginx still runs (asked directly)" db1 "$got"

	# db2 promoted
	t0=$(date +%s%N)
	pg_promote "$LAYOUT_TMP/pg2/db2" || ko "$label: promotion failed"
	for i in $(seq 1 200); do
		got=$(curl -s -m 2 "http://$HAP_IP:$P_HTTP/")
		[ "$got" = db2 ] && break
		sleep 0.1
	done
	t1=$(date +%s%N)
	expect "$label: after the promotion the app on :80 is served by db2 ($(((t1 - t0) / 1000000)) ms after pg_ctl promote returned)" db2 "$got"
	if layout_wait_psql "$P_RW" "select inet_server_addr()" "$DB2" 20; then
		ok "$label: writes through :5000 land on db2"
	else
		ko "$label: writes through :5000 never reached db2"
	fi
	got=$(layout_psql "$P_RW" "insert into t values (2)" 2>&1 && layout_psql "$P_RW" "select count(*) from t" 2>&1)
	expect "$label: db2 has the rows written before + the new one" 2 "$got"
	layout_wait_st be_app db2 UP
	layout_wait_st be_pg_rw db2 UP
	if [ "$spoe" = 1 ]; then
		got=$(spoa_wait_view "$HAP_IP" "$P_SPOA_STATUS" "ok db2" 100) &&
			ok "$label: SPOA view: ok db2" || ko "$label: SPOA view after the promotion: '$got'"
	fi
}

roots=$(HAP3_NO_CREATE=${HAP3_NO_CREATE:-1} hap3_roots | tail -n 1)
for root in "" $roots; do
	ver=$(hap_version "$root")
	round "HAProxy $ver haproxy.cfg (agent checks)" "$root" 0
	layout_stop_all
	round "HAProxy $ver haproxy.cfg (SPOE)" "$root" 1
	layout_stop_all
done
[ -z "$roots" ] && echo "note: no HAProxy 3.x here (see the haproxy3.sh line above); 2.6 only"

if [ "$fails" -ne 0 ]; then
	echo "test_layout_standalone: $fails check(s) failed"
	exit 1
fi
echo "test_layout_standalone: all checks passed"
exit 0
