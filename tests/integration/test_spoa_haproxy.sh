#!/bin/bash
# tests/integration/test_spoa_haproxy.sh - haprole-spoa behind real HAProxy 2.6 and every 3.x
# that lib/haproxy3.sh provides (3.0 trixie, 3.2 sid), with bench/feed-fake standing in for the
# agents (it serves the feed contract and answers agent checks) and two tiny HTTP servers as
# the nodes db1/db2 (their answer names the node). On each version:
#   1. writes (HTTP frontend, and the TCP frontend standing for PostgreSQL's port 5000) land on
#      the writer db1;
#   2. promotion of db2 with no HAProxy reload: routed to db2 at once while its agent check
#      (agent-inter 10s) still says DOWN (docs/design.md section 8, trap a); prints the time from
#      the promotion to the first write routed to db2;
#   3. the writer's server dies without promotion: writes get an error, never the standby
#      (trap b); then the agent says its PostgreSQL is down: refused with status no-primary;
#   4. the SPOA killed: HAProxy serves through the fallback (agent checks); restarted: SPOE
#      routing resumes (a new promotion is followed before the agent checks see it);
#   5. split brain (two primaries on one timeline): writes refused, while a second cluster
#      served by the same SPOA keeps its writer;
#   6. the writer's feed goes silent (a node cut off): status stale, writes refused;
#   7. SIGHUP with a broken config keeps the old one; with a good one applies it, feeds kept.
# Asserts what HAProxy's stats socket reports. Address/port block: test_spoa_haproxy (lib/fixture.sh).
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib/haproxy.sh
. tests/integration/lib/haproxy3.sh
. tests/integration/lib/spoa.sh

. tests/integration/lib/fixture.sh

hap_require || exit 77
fix_need "$HAPROLE_SPOA" build/bench/feed-fake python3 curl
fix_block test_spoa_haproxy
fix_ports SPOA_PORT STATUS_PORT FEED1 FEED2 FEED3 SRV1 SRV2 HTTP_FE PG_FE
fix_tmp spoa-hap

now_ms() {
	date +%s%3N
}

start_spoa() { spoa_start "$tmp" "$IP" "$STATUS_PORT" || fail "haprole-spoa did not start"; }
spoa_status() { spoa_view "$IP" "$STATUS_PORT" "${1:-0}"; } # spoa_status [CLUSTER_INDEX]
wait_spoa() { # wait_spoa "ok db1"
	local s
	s=$(spoa_wait_view "$IP" "$STATUS_PORT" "$1" 50) || fail "SPOA view: wanted \"$1\", got \"$s\""
}

feed() { # feed 1|2 "command"
	echo "$2" >"$tmp/f$1"
}

http_get() { curl -s -m 2 "http://$IP:$HTTP_FE/"; }
pg_get() { curl -s -m 2 "http://$IP:$PG_FE/"; } # raw TCP through the "port 5000" frontend

# ---- fixtures shared by every version ---------------------------------------------------------
mkdir -p "$tmp/d1" "$tmp/d2"
echo db1 >"$tmp/d1/index.html"
echo db2 >"$tmp/d2/index.html"
start_server() { # start_server 1|2
	local port=$SRV1
	[ "$1" = 2 ] && port=$SRV2
	python3 -m http.server --bind "$IP" "$port" --directory "$tmp/d$1" >/dev/null 2>&1 &
	eval "SRV_PID$1=$!"
	PIDS+=($!)
	local i
	for i in $(seq 1 50); do
		if curl -s -m 1 "http://$IP:$port/" 2>/dev/null | grep -qx "db$1"; then
			kill -0 "$(eval echo \$SRV_PID$1)" 2>/dev/null && return 0
			break # another process answers on our port
		fi
		sleep 0.1
	done
	fail "backend server $1 did not start"
}

cat >"$tmp/spoa.conf" <<CONF
[spoa]
listen = $IP:$SPOA_PORT
status_listen = $IP:$STATUS_PORT
heartbeat = 200ms
log_level = info
[cluster main]
[node db1]
cluster = main
agent = $IP:$FEED1
[node db2]
cluster = main
agent = $IP:$FEED2
# a second cluster in the same SPOA: decided on its own
[cluster other]
[node db3]
cluster = other
agent = $IP:$FEED3
CONF
sed "s/^\(spoe-agent .*\)/\1/" haproxy/spoe-haprole.conf >"$tmp/spoe.conf"

# The backends follow haproxy/haproxy.cfg (use-server + force-persist, no redispatch), with a
# deliberately long agent-inter so that the agent-check path visibly lags the SPOE path.
write_haproxy_cfg() {
	cat >"$tmp/haproxy.cfg" <<CFG
global
	stats socket $tmp/stats.sock mode 600 level admin
defaults
	timeout connect 1s
	timeout client 10s
	timeout server 10s
	retries 1
frontend fe_http
	mode http
	bind $IP:$HTTP_FE
	filter spoe engine haprole-http config $tmp/spoe.conf
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
$(spoa_hap_pg_route fe_pg be_pg "$IP:$PG_FE" "$tmp/spoe.conf")
	server db1 $IP:$SRV1 agent-port $FEED1
	server db2 $IP:$SRV2 agent-port $FEED2
$(spoa_hap_spoe_backend "$IP" "$SPOA_PORT")
CFG
	sed -i "s/127.0.0.1:12345/$IP:$SPOA_PORT/" "$tmp/haproxy.cfg"
}

# ---- one version ------------------------------------------------------------------------------
run_version() {
	local root=$1 ver label t0 t1 i got s
	ver=$(hap_version "$root")
	label="haproxy $ver"
	echo "== $label"
	: >"$tmp/spoa.log"
	rm -f "$tmp/f1" "$tmp/f2"
	build/bench/feed-fake -l "$IP:$FEED1" -n db1 -r primary -t 1 -H 200ms -C "$tmp/f1" \
		>"$tmp/ff1.log" 2>&1 &
	local ff1=$!
	build/bench/feed-fake -l "$IP:$FEED2" -n db2 -r standby -t 1 -H 200ms -C "$tmp/f2" \
		>"$tmp/ff2.log" 2>&1 &
	local ff2=$!
	build/bench/feed-fake -l "$IP:$FEED3" -c other -n db3 -r primary -t 4 -H 200ms \
		</dev/null >"$tmp/ff3.log" 2>&1 &
	local ff3=$!
	PIDS+=($ff1 $ff2 $ff3)
	# each feed-fake prints "ready" once listening; one that could not bind exits
	for i in $(seq 1 50); do
		grep -q ready "$tmp/ff1.log" && grep -q ready "$tmp/ff2.log" &&
			grep -q ready "$tmp/ff3.log" && break
		sleep 0.1
	done
	for p in $ff1 $ff2 $ff3; do
		kill -0 "$p" 2>/dev/null || fail "$label: a feed-fake did not start: $(cat "$tmp"/ff*.log)"
	done
	start_spoa
	wait_spoa "ok db1"
	write_haproxy_cfg
	hap_start "$tmp/haproxy.cfg" "$root" || fail "$label: haproxy did not start"
	local sock=$tmp/stats.sock
	hap_wait_field "$sock" spoe-haprole spoa1 status "UP.*" 10 || fail "$label: SPOA not UP"
	# the agent checks settle: db1 UP, db2 DOWN (agent says standby); bounded by agent-inter
	hap_wait_field "$sock" be_pg db2 status "DOWN.*" 25 || fail "$label: db2 never DOWN"
	hap_wait_field "$sock" be_pg db1 status "UP.*" 25 || fail "$label: db1 not UP"

	# 1. writes land on the writer
	for i in 1 2 3 4 5; do
		got=$(http_get); [ "$got" = db1 ] || fail "$label: HTTP write landed on '$got'"
		got=$(pg_get); [ "$got" = db1 ] || fail "$label: TCP write landed on '$got'"
	done
	echo "ok $label: writes land on the writer db1 (HTTP and TCP frontends)"

	# 2. promotion, no reload; trap a: db2's agent check still says DOWN
	t0=$(now_ms)
	feed 2 "tl 2"
	feed 2 "role primary"
	feed 1 "role standby"
	got=""
	local early=0
	for i in $(seq 1 500); do
		got=$(pg_get)
		[ "$got" = db2 ] && break
		# db1 is still the primary of the view until feed-fake has pushed the change
		[ "$got" = db1 ] && early=$((early + 1))
	done
	t1=$(now_ms)
	[ "$got" = db2 ] || fail "$label: writes never reached the new primary"
	s=$(hap_server_field "$sock" be_pg db2 status)
	case $s in
	DOWN*) ;;
	*) echo "note $label: db2's agent check already said UP ($s); trap a not observable this run" ;;
	esac
	echo "ok $label: promotion -> first write routed to db2: $((t1 - t0)) ms (db2 agent check: $s, no reload; $early writes on db1 while the change was on its way)"
	for i in 1 2 3; do
		got=$(http_get); [ "$got" = db2 ] || fail "$label: HTTP after promotion landed on '$got'"
		got=$(pg_get); [ "$got" = db2 ] || fail "$label: TCP after promotion landed on '$got'"
	done

	# 3. trap b: the writer's server dies, no promotion: an error, never the standby
	kill "$SRV_PID2"; wait "$SRV_PID2" 2>/dev/null
	for i in 1 2 3 4 5; do
		got=$(pg_get)
		[ "$got" = db1 ] && fail "$label: writer down, a write reached the standby db1"
		[ -z "$got" ] || fail "$label: writer down, write answered '$got'"
	done
	feed 2 "up 0" # the agent notices: its PostgreSQL is down
	wait_spoa "no-primary -"
	got=$(http_get)
	[ "$got" = "refused: no-primary" ] || fail "$label: no primary, HTTP answered '$got'"
	got=$(pg_get)
	[ -z "$got" ] || fail "$label: no primary, TCP write answered '$got'"
	echo "ok $label: writer down and no promotion: writes get an error, never the standby"
	start_server 2
	feed 2 "up 1"
	wait_spoa "ok db2"

	# 4. SPOA killed: fallback through the agent checks; restart: SPOE routing resumes
	hap_wait_field "$sock" be_pg db2 status "UP.*" 15 || fail "$label: db2 agent never UP"
	hap_wait_field "$sock" be_pg db1 status "DOWN.*" 15 || fail "$label: db1 agent never DOWN"
	hap_wait_field "$sock" be_app db2 status "UP.*" 15 || fail "$label: db2 app agent never UP"
	hap_wait_field "$sock" be_app db1 status "DOWN.*" 15 || fail "$label: db1 app never DOWN"
	kill "$SPOA_PID"; wait "$SPOA_PID" 2>/dev/null; SPOA_PID=
	for i in 1 2 3 4 5; do
		got=$(pg_get); [ "$got" = db2 ] || fail "$label: SPOA down, fallback answered '$got'"
		got=$(http_get); [ "$got" = db2 ] || fail "$label: SPOA down, HTTP fallback '$got'"
	done
	echo "ok $label: SPOA killed: HAProxy serves through the fallback (agent checks)"
	start_spoa
	wait_spoa "ok db2"
	feed 1 "tl 3"
	feed 1 "role primary"
	feed 2 "role standby"
	wait_spoa "ok db1"
	got=""
	for i in $(seq 1 200); do # HAProxy reconnects to the SPOA on its own (no reload)
		got=$(pg_get)
		[ "$got" = db1 ] && break
		sleep 0.05
	done
	[ "$got" = db1 ] || fail "$label: SPOE routing did not resume after the SPOA restart"
	s=$(hap_server_field "$sock" be_pg db1 status)
	echo "ok $label: SPOA restarted: SPOE routing resumed (db1 chosen, its agent check: $s)"

	# 5. split brain: two primaries on one timeline -> writes refused
	feed 2 "tl 3"
	feed 2 "role primary"
	wait_spoa "split-brain -"
	got=$(http_get)
	[ "$got" = "refused: split-brain" ] || fail "$label: split brain, HTTP answered '$got'"
	for i in 1 2 3; do
		got=$(pg_get); [ -z "$got" ] || fail "$label: split brain, TCP write answered '$got'"
	done
	[ "$(spoa_status 1)" = "ok db3" ] || fail "$label: cluster other: $(spoa_status 1)"
	echo "ok $label: split brain: writes refused (the other cluster of the SPOA still ok)"

	# 6. a writer cut off (its feed goes silent): unknown after 3 heartbeats, writes refused
	feed 2 "role standby"
	wait_spoa "ok db1"
	t0=$(now_ms)
	feed 1 "silent 1"
	wait_spoa "stale -"
	t1=$(now_ms)
	got=$(http_get)
	[ "$got" = "refused: stale" ] || fail "$label: silent writer, HTTP answered '$got'"
	got=$(pg_get)
	[ -z "$got" ] || fail "$label: silent writer, TCP write answered '$got'"
	s=$(grep -a "node db1 .*feed lost" "$tmp/spoa.log" | tail -n 1 | cut -c1-23)
	s=$(( $(date -d "$s" +%s%3N) - t0 ))
	echo "ok $label: writer's feed silent: stale in the SPOA after $s ms (3 heartbeats of 200 ms; seen by the test's polling after $((t1 - t0)) ms), writes refused"
	feed 1 "silent 0"
	wait_spoa "ok db1"

	# 7. SIGHUP: a broken file is refused and the old config keeps routing; a good one is
	# applied without dropping the feeds (no blink in the routing)
	cp "$tmp/spoa.conf" "$tmp/spoa.conf.good"
	printf '[cluster main]\nmax_lag = lots\n' >>"$tmp/spoa.conf"
	kill -HUP "$SPOA_PID"
	for i in $(seq 1 50); do grep -q "reload refused" "$tmp/spoa.log" && break; sleep 0.1; done
	grep -q "reload refused" "$tmp/spoa.log" || fail "$label: a broken config was not refused"
	got=$(pg_get); [ "$got" = db1 ] || fail "$label: after a refused reload, write on '$got'"
	sed 's/^\[cluster main\]$/[cluster main]\nmax_lag = 1MB/' "$tmp/spoa.conf.good" >"$tmp/spoa.conf"
	kill -HUP "$SPOA_PID"
	for i in $(seq 1 50); do grep -q "reloaded" "$tmp/spoa.log" && break; sleep 0.1; done
	grep -q "reloaded" "$tmp/spoa.log" || fail "$label: the good config was not reloaded"
	[ "$(spoa_status)" = "ok db1" ] || fail "$label: view after reload: $(spoa_status)"
	grep -q "feed lost" "$tmp/spoa.log" && grep -A100 "reloaded" "$tmp/spoa.log" | grep -q "feed lost" &&
		fail "$label: a reload dropped a feed"
	got=$(pg_get); [ "$got" = db1 ] || fail "$label: after reload, write on '$got'"
	cp "$tmp/spoa.conf.good" "$tmp/spoa.conf"
	echo "ok $label: SIGHUP: broken config refused (old one kept), good one applied, feeds kept"

	# counters: nothing unknown, no bad args, no protocol errors
	curl -s "http://$IP:$STATUS_PORT/metrics" >"$tmp/metrics"
	grep -q '^haprole_spoa_messages_total{message="haprole-route",outcome="bad-args"} 0$' \
		"$tmp/metrics" || fail "$label: bad-args counted"
	grep -q '^haprole_spoa_errors_total' "$tmp/metrics" &&
		fail "$label: protocol errors: $(grep '^haprole_spoa_errors_total' "$tmp/metrics")"
	echo "ok $label: $(grep -c . "$tmp/metrics") metric lines, no protocol error"

	hap_stop
	kill "$SPOA_PID" "$ff1" "$ff2" "$ff3" 2>/dev/null
	wait "$SPOA_PID" "$ff1" "$ff2" "$ff3" 2>/dev/null
	SPOA_PID=
}

start_server 1
start_server 2
ran=""
for root in "" $(hap3_roots); do
	run_version "$root"
	ran="$ran $(hap_version "$root")"
done
echo "SPOE scenarios ran on haproxy:$ran"
exit 0
