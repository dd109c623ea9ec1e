#!/bin/bash
# tests/integration/test_lua_router.sh - the Lua router (haproxy/haprole.lua, docs/lua.md).
#   A. its writer rule against the shared vectors (tests/vectors/route_rule.txt) with lua5.3,
#      outside HAProxy; a negative control: the same file with one expectation changed must fail;
#   B. inside real HAProxy 2.6 and every 3.x lib/haproxy3.sh provides, with bench/feed-fake
#      standing in for the agents and two tiny HTTP servers as db1/db2 (their answer names the
#      node), behind the reference rules (use-server + force-persist, reject when status is not
#      ok) on an HTTP and a TCP frontend:
#        1. writes land on the writer; reads on the standby;
#        2. promotion with no reload: routed to db2 while its agent check (agent-inter 10s) still
#           says DOWN; prints promotion -> first write routed to db2;
#        3. split brain (two primaries on one timeline): writes refused;
#        4. the writer's feed goes silent: stale after 3 heartbeats, writes refused; back: ok;
#        5. the old primary fenced beside the new one: the new one writes;
#        6. a feed naming another cluster is ignored (fail closed);
#        7. the router component killed: the writer's agent (its feed-fake) dies: stale,
#           writes refused; restarted: routing resumes;
#        9. reload (-sf): the old process ends its feed tasks and exits; the new one routes;
#        8. hold (HAPROLE_HOLD_MAX): the writer drained beside a standby of its timeline: a write
#           waits for the promotion and lands on the new primary; a read is not held;
#      and a bad HAPROLE_* setting is refused by `haproxy -c`, naming the variable.
# Address and ports: block test_lua_router of tests/integration/lib/fixture.sh.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib/haproxy.sh
. tests/integration/lib/haproxy3.sh
. tests/integration/lib/fixture.sh # expect.sh, skip.sh; fix_block (this test's fail and cleanup below)
fails=0

command -v lua5.3 >/dev/null || skip "lua5.3 missing (make deps)"

# ---- A. the shared vectors --------------------------------------------------------------------
out=$(lua5.3 tests/lua/route_rule_vectors.lua haproxy/haprole.lua tests/vectors/route_rule.txt 2>&1)
rc=$?
if [ "$rc" = 0 ]; then ok "vectors: $out"; else ko "vectors (status $rc): $out"; fi
tmp=$(mktemp -d /tmp/haprole-lua.XXXXXX)
# negative control: the first "writer=a" expectation becomes "writer=b"
awk '!done && /^expect .*writer=a / { sub(/writer=a /, "writer=b "); done = 1 } { print }' \
	tests/vectors/route_rule.txt >"$tmp/wrong.txt"
out=$(lua5.3 tests/lua/route_rule_vectors.lua haproxy/haprole.lua "$tmp/wrong.txt" 2>&1)
rc=$?
if [ "$rc" = 1 ] && printf '%s' "$out" | grep -q '^FAIL '; then
	ok "vectors: a wrong expectation is caught: $(printf '%s' "$out" | head -n 1 | cut -c1-100)"
else
	ko "vectors: a wrong expectation passed (status $rc): $out"
fi

# ---- B. inside HAProxy -----------------------------------------------------------------------
if ! hap_require; then
	rm -rf "$tmp"
	[ "$fails" = 0 ] || exit 1
	skip "part B (no haproxy or nc: make deps); part A passed"
fi
[ -x build/bench/feed-fake ] || { echo "FAIL: build/bench/feed-fake not built (make)"; exit 1; }

fix_block test_lua_router # IP: every server, feed and frontend below
fix_ports FEED1 FEED2 SRV1 SRV2 HTTP_FE PG_FE RO_FE STATUS_FE
HB=200ms

PIDS=()
cleanup() {
	hap_cleanup_all
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
	ko "$*"
	[ -f "$tmp/haproxy.cfg.log" ] && { echo "--- haproxy log (last 15 lines)"; tail -n 15 "$tmp/haproxy.cfg.log"; }
	exit 1
}
now_ms() { date +%s%3N; }
live() { [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
feed() { echo "$2" >"$tmp/f$1"; } # feed 1|2 "command" (bench/feed-fake's commands)
http_get() { curl -s -m 2 "http://$IP:$HTTP_FE/"; }
pg_get() { curl -s -m 2 "http://$IP:$PG_FE/"; } # raw TCP through the "port 5000" frontend
ro_get() { curl -s -m 2 "http://$IP:$RO_FE/"; }
view() { curl -s -m 1 "http://$IP:$STATUS_FE/" | head -n "${1:-1}"; }
# wait_view REGEX [page]: the router's view (first line of lua.haprole-status, or the whole
# page) matches, within 10 s
wait_view() {
	local i v=""
	for i in $(seq 1 100); do
		v=$(view "$([ "${2:-}" = page ] && echo 100 || echo 1)")
		printf '%s' "$v" | grep -Eq -- "$1" && return 0
		sleep 0.1
	done
	fail "$label: view: wanted /$1/, got \"$v\""
}

mkdir -p "$tmp/d1" "$tmp/d2"
echo db1 >"$tmp/d1/index.html"
echo db2 >"$tmp/d2/index.html"
for i in 1 2; do
	port=$SRV1
	[ "$i" = 2 ] && port=$SRV2
	python3 -m http.server --bind "$IP" "$port" --directory "$tmp/d$i" >/dev/null 2>&1 &
	PIDS+=($!)
done
for i in $(seq 1 50); do
	[ "$(curl -s -m 1 "http://$IP:$SRV1/")" = db1 ] && [ "$(curl -s -m 1 "http://$IP:$SRV2/")" = db2 ] && break
	sleep 0.1
done
[ "$(curl -s -m 1 "http://$IP:$SRV2/")" = db2 ] || fail "backend servers did not start"

# The backends follow haproxy/haproxy.cfg (use-server + force-persist, no redispatch), with a
# long agent-inter so that the agent-check path visibly lags the Lua path.
write_cfg() { # write_cfg NODES
	cat >"$tmp/haproxy.cfg" <<CFG
global
	stats socket $tmp/stats.sock mode 600 level admin
	setenv HAPROLE_NODES "$1"
	setenv HAPROLE_CLUSTER main
	setenv HAPROLE_HEARTBEAT $HB
	setenv HAPROLE_MAX_LAG 1MB
	setenv HAPROLE_HOLD_MAX 3s
	lua-load $PWD/haproxy/haprole.lua
defaults
	timeout connect 1s
	timeout client 10s
	timeout server 10s
	retries 1
listen router_status
	mode http
	bind $IP:$STATUS_FE
	http-request use-service lua.haprole-status
frontend fe_http
	mode http
	bind $IP:$HTTP_FE
	http-request lua.haprole-route
	http-request return status 503 content-type text/plain lf-string "refused: %[var(txn.haprole.status)]" if { var(txn.haprole.status) -m found } !{ var(txn.haprole.status) -m str ok }
	default_backend be_app
backend be_app
	mode http
	balance first
	use-server %[var(txn.haprole.writer)] if { var(txn.haprole.writer) -m found }
	force-persist if { var(txn.haprole.writer) -m found }
	default-server check inter 1s agent-check agent-inter 10s agent-send "writer\n"
	server db1 $IP:$SRV1 agent-port $FEED1
	server db2 $IP:$SRV2 agent-port $FEED2
frontend fe_pg
	mode tcp
	bind $IP:$PG_FE
	tcp-request inspect-delay 4s
	tcp-request content lua.haprole-route
	tcp-request content reject if { var(txn.haprole.status) -m found } !{ var(txn.haprole.status) -m str ok }
	default_backend be_pg
backend be_pg
	mode tcp
	balance first
	use-server %[var(txn.haprole.writer)] if { var(txn.haprole.writer) -m found }
	force-persist if { var(txn.haprole.writer) -m found }
	default-server check inter 1s agent-check agent-inter 10s agent-send "writer\n"
	server db1 $IP:$SRV1 agent-port $FEED1
	server db2 $IP:$SRV2 agent-port $FEED2
frontend fe_ro
	mode tcp
	bind $IP:$RO_FE
	tcp-request content lua.haprole-route-read
	default_backend be_ro
backend be_ro
	mode tcp
	balance leastconn
	use-server %[var(txn.haprole.reader)] if { var(txn.haprole.reader) -m found }
	server db1 $IP:$SRV1
	server db2 $IP:$SRV2
CFG
}

# A bad setting is refused at `haproxy -c`, naming the variable.
write_cfg "db1=$IP:$FEED1 db2=nohost:$FEED2"
out=$(haproxy -c -f "$tmp/haproxy.cfg" 2>&1)
rc=$?
if [ "$rc" != 0 ] && printf '%s' "$out" | grep -q 'HAPROLE_NODES'; then
	ok "haproxy -c refuses a bad HAPROLE_NODES: $(printf '%s' "$out" | grep -m1 HAPROLE_NODES | cut -c1-140)"
else
	ko "haproxy -c with a bad HAPROLE_NODES: status $rc: $out"
fi
write_cfg "db1=$IP:$FEED1 db2=$IP:$FEED2"

start_ff() { # start_ff 1|2 ROLE TL [CLUSTER]
	local port=$FEED1
	[ "$1" = 2 ] && port=$FEED2
	rm -f "$tmp/f$1"
	build/bench/feed-fake -l "$IP:$port" -c "${4:-main}" -n "db$1" -r "$2" -t "$3" -s 42 \
		-H "$HB" -C "$tmp/f$1" >"$tmp/ff$1.log" 2>&1 &
	eval "FF$1=$!"
	PIDS+=($!)
	local i
	for i in $(seq 1 50); do
		grep -q ready "$tmp/ff$1.log" && return 0
		kill -0 "$(eval echo \$FF$1)" 2>/dev/null || break
		sleep 0.1
	done
	fail "feed-fake $1 did not start: $(cat "$tmp/ff$1.log")"
}

run_version() {
	local root=$1 ver i got s t0 t1 early
	ver=$(hap_version "$root")
	label="haproxy $ver"
	echo "== $label"
	start_ff 1 primary 1
	start_ff 2 standby 1
	hap_start "$tmp/haproxy.cfg" "$root" || fail "$label: haproxy did not start"
	local sock=$tmp/stats.sock
	wait_view "status ok writer db1 reader db2 "
	hap_wait_field "$sock" be_pg db2 status "DOWN.*" 25 || fail "$label: db2 never DOWN"

	# 1. writes land on the writer, reads on the standby
	for i in 1 2 3 4 5; do
		got=$(http_get); [ "$got" = db1 ] || fail "$label: HTTP write landed on '$got'"
		got=$(pg_get); [ "$got" = db1 ] || fail "$label: TCP write landed on '$got'"
		got=$(ro_get); [ "$got" = db2 ] || fail "$label: read landed on '$got'"
	done
	ok "$label: writes land on the writer db1 (HTTP and TCP), reads on the standby db2"

	# 2. promotion, no reload; db2's agent check (agent-inter 10s) still says DOWN
	t0=$(now_ms)
	feed 2 "tl 2"
	feed 2 "role primary"
	early=0
	got=""
	for i in $(seq 1 500); do
		got=$(pg_get)
		[ "$got" = db2 ] && break
		[ "$got" = db1 ] && early=$((early + 1))
	done
	t1=$(now_ms)
	[ "$got" = db2 ] || fail "$label: writes never reached the new primary (last answer \"$got\", view: $(view 3))"
	s=$(hap_server_field "$sock" be_pg db2 status)
	ok "$label: promotion -> first write routed to db2: $((t1 - t0)) ms (db2's agent check: $s; the old primary, still primary on timeline 1, is outranked; $early writes on db1 while the change was on its way)"
	got=$(view)
	expect_match "$label: view after the promotion" "status ok writer db2 reader db2 epoch 2 " "$got"
	feed 1 "role standby"
	feed 1 "tl 2"
	wait_view "status ok writer db2 reader db1 "
	for i in 1 2 3; do
		got=$(http_get); [ "$got" = db2 ] || fail "$label: HTTP after promotion landed on '$got'"
		got=$(ro_get); [ "$got" = db1 ] || fail "$label: read after promotion landed on '$got'"
	done

	# 3. split brain: two primaries on one timeline
	feed 1 "role primary"
	wait_view "status split-brain writer - "
	got=$(http_get)
	expect "$label: split brain, HTTP" "refused: split-brain" "$got"
	got=$(pg_get)
	expect "$label: split brain, TCP write refused" "" "$got"
	feed 1 "role standby"
	wait_view "status ok writer db2 "

	# 4. the writer's feed goes silent: stale after 3 heartbeats
	t0=$(now_ms)
	feed 2 "silent 1"
	wait_view "status stale writer - "
	t1=$(now_ms)
	# the hold window is open (the writer lost, its standby can take over): refused after it
	got=$(curl -s -m 6 "http://$IP:$HTTP_FE/")
	expect "$label: silent writer, HTTP (after the hold)" "refused: stale" "$got"
	got=$(curl -s -m 6 "http://$IP:$PG_FE/")
	expect "$label: silent writer, TCP write refused" "" "$got"
	ok "$label: writer's feed silent: stale seen after $((t1 - t0)) ms (3 heartbeats of $HB)"
	feed 2 "silent 0"
	wait_view "status ok writer db2 "

	# 5. old primary on a lower timeline, fenced: the new one writes; unfenced and higher: it
	# outranks
	feed 1 "tl 1"
	feed 1 "fenced 1"
	feed 1 "role primary"
	wait_view "status ok writer db2 reader db2 "
	got=$(pg_get); expect "$label: fenced old primary beside the new one, write" db2 "$got"
	feed 1 "role standby"
	feed 1 "fenced 0"
	feed 1 "tl 2"
	wait_view "status ok writer db2 reader db1 "

	# 6. a feed naming another cluster: ignored (fail closed)
	kill "$FF1"; wait "$FF1" 2>/dev/null
	start_ff 1 primary 9 other
	wait_view "node db1 .*fresh false.*why cluster mismatch" page
	got=$(view)
	expect_match "$label: a feed naming another cluster is ignored" "status ok writer db2 reader db2 " "$got"
	kill "$FF1"; wait "$FF1" 2>/dev/null
	start_ff 1 standby 2
	wait_view "status ok writer db2 reader db1 "

	# 7. the writer's agent killed (the router's source gone): stale at once, then back
	kill -9 "$FF2"; wait "$FF2" 2>/dev/null
	wait_view "status stale writer - "
	got=$(pg_get)
	expect "$label: writer's agent dead, TCP write refused" "" "$got"
	start_ff 2 primary 2
	wait_view "status ok writer db2 "
	got=$(pg_get)
	expect "$label: writer's agent back, write" db2 "$got"
	grep -a "haprole: cluster main: writer" "$tmp/haproxy.cfg.log" | tail -n 3 | sed "s/^/   $label log: /"

	# 8. hold: the writer drained (planned switchover) with a standby of its timeline: a write
	# waits for the promotion instead of going to the drained writer; a read does not wait
	feed 2 "admin drain"
	wait_view "status ok writer db2 .* hold open"
	pg_get >"$tmp/held" &
	local held=$!
	got=$(ro_get)
	expect "$label: hold open, a read is not held" db1 "$got"
	sleep 0.3
	live "$held" || fail "$label: hold open, a write was not held (answered '$(cat "$tmp/held")')"
	# role and timeline in one frame, as an agent reports a promotion: apart, the router may
	# see "db1 a standby of timeline 3" first, not a candidate of the writer's timeline, and
	# close the hold before the promotion (seen on a loaded machine)
	feed 1 "role primary tl 3"
	feed 2 "role standby"
	wait "$held"
	expect "$label: the held write went to the new primary" db1 "$(cat "$tmp/held")"
	feed 2 "admin ready"
	feed 2 "tl 3"
	wait_view "status ok writer db1 reader db2 "
	got=$(pg_get)
	expect "$label: after the hold, write" db1 "$got"

	# 9. reload (-sf): the old process ends its feed tasks at the soft stop and exits; the new
	# one follows the feeds on its own
	local old=$HAP_PID cmd
	cmd=$(hap_cmdline "$root")
	$cmd -db -f "$tmp/haproxy.cfg" -sf "$old" >>"$tmp/haproxy.cfg.log" 2>&1 &
	HAP_PID=$!
	HAP_LIB_PIDS+=("$HAP_PID")
	for i in $(seq 1 100); do
		live "$old" || break
		sleep 0.1
	done
	if live "$old"; then
		ko "$label: reload: the old process still runs 10 s after -sf (its Lua tasks kept it)"
	else
		ok "$label: reload: the old process exited after $((i * 100)) ms"
	fi
	wait_view "status ok writer db1 "
	got=$(pg_get)
	expect "$label: after the reload, write" db1 "$got"

	hap_stop
	kill "$FF1" "$FF2" 2>/dev/null
	wait "$FF1" "$FF2" 2>/dev/null
}

versions=""
for root in "" $(hap3_roots); do
	hap_require "$root" >/dev/null || continue
	run_version "$root"
	versions="$versions $(hap_version "$root")"
done
echo "Lua router ran on haproxy:$versions"
[ "$fails" = 0 ] || exit 1
exit 0
