#!/bin/bash
# tests/integration/test_drain_http.sh - issue 15 item 1, "drain drains": a reader backend that
# pairs the agent-check with `option httpchk GET /check/reader` (as haproxy/haproxy.cfg and the
# demo do), with `on-marked-down shutdown-sessions` (the worst case), on HAProxy 2.6 and 3.2.
# Real PostgreSQL 15: primary db1 + pg_basebackup -R standby db2, one agent each (peers).
#   1. SQL sessions held open through the reader port, some on db2 (pg_sleep);
#   2. haprolectl drain on db2: HAProxy shows DRAIN (never DOWN: /check/reader answers 200 to
#      "up drain"), every new session goes to db1, and every held session on db2 ends normally;
#   3. haprolectl maint: MAINT, /check/reader 503, new sessions to db1; ready: UP again;
#   4. db2's PostgreSQL stopped: DOWN, new sessions to db1.
# Its addresses and ports: block test_drain_http of tests/integration/lib/fixture.sh. Exit 0
# pass, 77 skip, 1 fail.
set -u
cd "$(dirname "$0")/../.."

. tests/integration/lib/pg.sh
. tests/integration/lib/haproxy.sh
. tests/integration/lib/haproxy3.sh
. tests/integration/lib/fixture.sh
. tests/integration/lib/ops.sh

CTL=$HAPROLE_CTL
ops_require "$CTL" || exit $?
fix_block test_drain_http
fix_addrs A1 A2 FE
fix_ports AP PGP FEPORT # FEPORT + i for the i-th HAProxy
ops_tmp drain-http
HOLD_SECS=60 # the longest a held session waits for its release
HOLD_PIDS=()
fix_pre_cleanup() {
	local p
	for p in "${HOLD_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	ops_cleanup
}

# HAProxy 2.6 (Debian 12) and 3.2 (the sid root of lib/haproxy3.sh).
roots=("")
names=("haproxy-$(hap_version)")
for r in $(hap3_roots); do
	v=$(hap_version "$r")
	case $v in 3.2.*) roots+=("$r"); names+=("haproxy-$v") ;; esac
done
[ "${#roots[@]}" -ge 2 ] || echo "note: no HAProxy 3.2 root (lib/haproxy3.sh said why above): 2.6 only"
echo "HAProxy versions under test: ${names[*]}"

# ---- cluster --------------------------------------------------------------------------------
# each node in its own directory: its PostgreSQL's unix socket lives beside PGDATA, so both can
# use the same port on their own address
ops_pg_pair "$OPS_TMP/n1/pg" $A1 $PGP "$OPS_TMP/n2/pg" $A2 $PGP || fail "PostgreSQL primary + standby"
ops_pair_up $A1 $AP $PGP $A2 $AP $PGP || exit 1
ops_wait_line $A2 $AP reader '^up ready' 20 || exit 1

# hap_cfg FILE SOCK PORT - the reader backend of haproxy/haproxy.cfg (be_pg_ro: httpchk GET
# /check/reader beside agent-check reader, check port = agent port) without the SPOE, with
# short intervals to bound the waits, and on-marked-down shutdown-sessions added: a DOWN would
# cut the held sessions, so only a real DRAIN lets them finish.
hap_cfg() {
	cat >"$1" <<EOF
global
	stats socket $2 mode 600 level admin
defaults
	mode tcp
	timeout connect 2s
	timeout client 30s
	timeout server 30s
	timeout check 2s
frontend fe_pg_ro
	bind $FE:$3
	default_backend be_pg_ro
backend be_pg_ro
	balance roundrobin
	option httpchk GET /check/reader
	http-check expect status 200
	default-server check port $AP inter 200ms fall 2 rise 1 agent-check agent-port $AP agent-inter 200ms agent-send "reader\n" on-marked-down shutdown-sessions
	server db1 $A1:$PGP
	server db2 $A2:$PGP
EOF
}

socks=()
for i in "${!roots[@]}"; do
	hap_cfg "$OPS_TMP/hap$i.cfg" "$OPS_TMP/hap$i.sock" $((FEPORT + i))
	hap_start "$OPS_TMP/hap$i.cfg" "${roots[$i]}" || exit 1
	socks+=("$OPS_TMP/hap$i.sock")
done
for i in "${!socks[@]}"; do
	HSOCK=${socks[$i]}
	wait_status be_pg_ro db1 UP
	wait_status be_pg_ro db2 UP
done

# new_sessions PORT N - N short sessions through the reader port; prints the server addresses.
new_sessions() {
	local n
	for n in $(seq 1 "$2"); do
		pg_psql $FE "$1" "select inet_server_addr()" 2>&1 | head -n 1
	done
}
# hold PORT TAG - one session through the reader port that lives until a row is in the table
# release (written on db1, replicated to db2; HOLD_SECS at most), then says which server it ran
# on; exit status and output in $OPS_TMP/hold_TAG.{out,rc}. Released, not timed: a loaded
# machine cannot end it before the checks that need it open.
hold() {
	(
		PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" -X -A -t -q -v ON_ERROR_STOP=1 -h $FE -p "$1" \
			-U postgres -d postgres \
			-c "select inet_server_addr(), held($HOLD_SECS)" >"$OPS_TMP/hold_$2.out" 2>&1
		echo $? >"$OPS_TMP/hold_$2.rc"
	) &
	HOLD_PIDS+=($!)
}
scur() { hap_server_field "$HSOCK" be_pg_ro "$1" scur; }

# ---- 1. sessions held open, some on db2 -------------------------------------------------------
pg_psql $A1 $PGP "create table release(x int);
create function held(secs int) returns bool language plpgsql as \$\$
begin
	for i in 1 .. secs * 20 loop
		if exists (select 1 from release) then return true; end if;
		perform pg_sleep(0.05);
	end loop;
	return false;
end \$\$" >/dev/null || fail "cannot create the release table"
pg_wait_caught_up $A1 $PGP $A2 $PGP 30 || fail "db2 did not replay the release table"
for i in "${!socks[@]}"; do
	for k in 1 2 3 4; do hold $((FEPORT + i)) "$i.$k"; done
done
for i in "${!socks[@]}"; do
	HSOCK=${socks[$i]}
	for t in $(seq 1 50); do [ "$(scur db2)" -ge 1 ] 2>/dev/null && break; sleep 0.1; done
	[ "$(scur db2)" -ge 1 ] 2>/dev/null && ok "${names[$i]}: $(scur db2) session(s) open on db2 before the drain" ||
		ko "${names[$i]}: no session open on db2 (scur '$(scur db2)')"
done

# ---- 2. drain ---------------------------------------------------------------------------------
out=$($CTL -s "$OPS_TMP/db2.sock" drain rolling upgrade); rc=$?
expect "haprolectl drain db2" "ok drain 0" "$out $rc"
expect_match "db2 reader answers up drain" '^up drain' "$(ops_ask $A2 $AP reader)"
expect "GET /check/reader on a draining db2" 200 "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://$A2:$AP/check/reader")"
for i in "${!socks[@]}"; do
	HSOCK=${socks[$i]}
	wait_status be_pg_ro db2 DRAIN
done
# the HTTP check runs every 200 ms with fall 2: a 503 would show DOWN within ~0.4 s; sample
# for a few check periods while the held sessions still run
notdrain=0
for t in $(seq 1 15); do
	for i in "${!socks[@]}"; do
		HSOCK=${socks[$i]}
		case $(hap_status be_pg_ro db2) in DRAIN*) ;; *) notdrain=$((notdrain + 1)) ;; esac
	done
	sleep 0.1
done
expect "samples of db2 not DRAIN while drained" 0 "$notdrain"
for i in "${!socks[@]}"; do
	HSOCK=${socks[$i]}
	[ "$(scur db2)" -ge 1 ] 2>/dev/null && ok "${names[$i]}: db2 still carries $(scur db2) open session(s) while DRAIN" ||
		ko "${names[$i]}: db2's sessions are gone while DRAIN (scur '$(scur db2)')"
	got=$(new_sessions $((FEPORT + i)) 6 | sort | uniq -c | sed 's/^ *//' | tr '\n' ' ')
	expect "${names[$i]}: 6 new sessions during the drain all on db1" "6 $A1 " "$got"
done
# every held session ends normally once released, the ones on db2 included
pg_psql $A1 $PGP "insert into release values (1)" >/dev/null || ko "cannot release the held sessions"
for p in "${HOLD_PIDS[@]}"; do
	for t in $(seq 1 $(((HOLD_SECS + 10) * 10))); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
done
HOLD_PIDS=()
on_db2=0
for i in "${!socks[@]}"; do
	for k in 1 2 3 4; do
		f=$OPS_TMP/hold_$i.$k
		if [ "$(cat "$f.rc" 2>/dev/null)" = 0 ]; then
			grep -q "^$A2|" "$f.out" && on_db2=$((on_db2 + 1))
		else
			ko "${names[$i]}: held session $k did not end normally: rc $(cat "$f.rc" 2>/dev/null) $(head -c 200 "$f.out")"
		fi
	done
done
[ "$on_db2" -ge "${#socks[@]}" ] && ok "$on_db2 held sessions on the draining db2 ran to their end" ||
	ko "only $on_db2 held sessions on db2 ran to their end"
for i in "${!socks[@]}"; do
	HSOCK=${socks[$i]}
	expect_match "${names[$i]}: db2 still DRAIN after its sessions ended" '^DRAIN' "$(hap_status be_pg_ro db2)"
done

# ---- 3. maint, then ready ----------------------------------------------------------------------
out=$($CTL -s "$OPS_TMP/db2.sock" maint); rc=$?
expect "haprolectl maint db2" "ok maint 0" "$out $rc"
expect "GET /check/reader on db2 in maint" 503 "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://$A2:$AP/check/reader")"
for i in "${!socks[@]}"; do
	HSOCK=${socks[$i]}
	wait_status be_pg_ro db2 MAINT
	got=$(new_sessions $((FEPORT + i)) 4 | sort | uniq -c | sed 's/^ *//' | tr '\n' ' ')
	expect "${names[$i]}: 4 new sessions with db2 in maint all on db1" "4 $A1 " "$got"
done
out=$($CTL -s "$OPS_TMP/db2.sock" ready); rc=$?
expect "haprolectl ready db2" "ok ready 0" "$out $rc"
for i in "${!socks[@]}"; do
	HSOCK=${socks[$i]}
	wait_status be_pg_ro db2 UP
done

# ---- 4. down: db2's PostgreSQL stopped ----------------------------------------------------------
pg_stop "$OPS_TMP/n2/pg" fast || ko "stop db2's PostgreSQL"
expect "GET /check/reader with db2's PostgreSQL down" 503 "$(sleep 1; curl -s -m 2 -o /dev/null -w '%{http_code}' "http://$A2:$AP/check/reader")"
for i in "${!socks[@]}"; do
	HSOCK=${socks[$i]}
	wait_status be_pg_ro db2 DOWN
	got=$(new_sessions $((FEPORT + i)) 4 | sort | uniq -c | sed 's/^ *//' | tr '\n' ' ')
	expect "${names[$i]}: 4 new sessions with db2 down all on db1" "4 $A1 " "$got"
done

[ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
exit 0
