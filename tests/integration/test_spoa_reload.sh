#!/bin/bash
# tests/integration/test_spoa_reload.sh - haprole-spoa's SIGHUP reload is all or nothing
# (issue 12): bench/feed-fake stands in for three agents (db1 primary, db2 and db3 standbys).
#   1. a broken file that would also change the nodes (adds db3 with a bad agent address) is
#      refused: the log names FILE:LINE and the key, the reload failure is counted in /metrics,
#      and the view, its writer and epoch are unchanged;
#   2. a good file that changes the nodes (adds db3) rebuilds the view beside the running one
#      and swaps it: the writer and epoch stay, and the routing never blinks (no writer or
#      status change is logged: nodes that did not change keep their state across the swap);
#   3. a file that removes the writer's node is applied too, and the view follows it.
# (A new view that cannot be built at all, e.g. out of memory, is covered by
# tests/unit/test_spoa_reload.c, which makes it fail on purpose.)
# Asserts the SPOA's status page (the view NOTIFYs are answered from) and its log.
# Address/port block: test_spoa_reload (lib/fixture.sh).
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib/spoa.sh
. tests/integration/lib/fixture.sh

fix_need "$HAPROLE_SPOA" build/bench/feed-fake python3 curl
fix_block test_spoa_reload
fix_ports SPOA_PORT STATUS_PORT FEED1 FEED2 FEED3
fails=0
fix_tmp spoa-reload

# epoch and node count of cluster 0, from the status page: "EPOCH NODES"
spoa_epoch_nodes() {
	curl -s -m 1 "http://$IP:$STATUS_PORT/" | python3 -c '
import json,sys
c=json.load(sys.stdin)["clusters"][0]
print(c["epoch"], len(c["nodes"]))' 2>/dev/null
}
metric() { curl -s -m 1 "http://$IP:$STATUS_PORT/metrics" | sed -n "s/^$1 //p"; }
# wait_log PATTERN N - waits (5 s) until PATTERN occurs N times in the SPOA's log
wait_log() {
	local i
	for i in $(seq 1 50); do
		[ "$(grep -c -- "$1" "$tmp/spoa.log")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

n=1
for port in $FEED1 $FEED2 $FEED3; do
	role=standby
	[ $n = 1 ] && role=primary
	build/bench/feed-fake -l "$IP:$port" -n db$n -r $role -t 1 -H 200ms </dev/null \
		>"$tmp/ff$n.log" 2>&1 &
	PIDS+=($!)
	n=$((n + 1))
done
for i in $(seq 1 50); do
	grep -q ready "$tmp/ff1.log" && grep -q ready "$tmp/ff2.log" &&
		grep -q ready "$tmp/ff3.log" && break
	sleep 0.1
done
for p in "${PIDS[@]}"; do
	kill -0 "$p" 2>/dev/null || fail "a feed-fake did not start: $(cat "$tmp"/ff*.log)"
done

conf() { # conf "extra [node] sections" - the SPOA config with db1 and db2, plus the extra text
	cat <<CONF
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
$1
CONF
}
conf "" >"$tmp/spoa.conf"
spoa_start "$tmp" "$IP" "$STATUS_PORT" || fail "haprole-spoa did not start"
s=$(spoa_wait_view "$IP" "$STATUS_PORT" "ok db1" 50) || fail "view: wanted \"ok db1\", got \"$s\""
before=$(spoa_epoch_nodes)
expect "view before the reloads: epoch, nodes" "1 2" "$before"

# 1. broken, and it would add a node: refused whole
conf "[node db3]
cluster = main
agent = nowhere" >"$tmp/spoa.conf"
line=$(grep -n '^agent = nowhere' "$tmp/spoa.conf" | cut -d: -f1)
kill -HUP "$SPOA_PID"
wait_log "reload refused" 1 || fail "a broken config was not refused"
expect_match "refusal names file:line and key" "$tmp/spoa.conf:$line: key 'agent'" \
	"$(grep 'reload refused' "$tmp/spoa.log")"
expect "reload failures counted" "1" "$(metric haprole_spoa_reload_failures_total)"
expect "view after the refused reload" "ok db1" "$(spoa_view "$IP" "$STATUS_PORT")"
expect "epoch and nodes after the refused reload" "$before" "$(spoa_epoch_nodes)"

# 2. good, adds db3: a new view, swapped without a blink
conf "[node db3]
cluster = main
agent = $IP:$FEED3" >"$tmp/spoa.conf"
mark=$(grep -c . "$tmp/spoa.log")
kill -HUP "$SPOA_PID"
wait_log "reloaded .*: 1 clusters, 3 nodes" 1 || fail "the good config was not reloaded"
expect "view right after the rebuild" "ok db1" "$(spoa_view "$IP" "$STATUS_PORT")"
expect "epoch kept, node added" "1 3" "$(spoa_epoch_nodes)"
# db3's new feed arrives within a heartbeat or two; the decision must not have moved meanwhile
wait_log "node db3 .*feed up" 1 || ko "db3's feed never came up"
blink=$(tail -n +"$((mark + 1))" "$tmp/spoa.log" | grep -E "cluster main: (writer|status) ")
expect "no writer or status change logged across the swap" "" "$blink"
expect "reload counted" "1" "$(metric haprole_spoa_reloads_total)"

# 3. the writer's node removed: applied, the view follows (no writer: no-primary)
cat >"$tmp/spoa.conf" <<CONF
[spoa]
listen = $IP:$SPOA_PORT
status_listen = $IP:$STATUS_PORT
heartbeat = 200ms
[cluster main]
[node db2]
cluster = main
agent = $IP:$FEED2
CONF
kill -HUP "$SPOA_PID"
wait_log "reloaded .*: 1 clusters, 1 nodes" 1 || fail "the third config was not reloaded"
s=$(spoa_wait_view "$IP" "$STATUS_PORT" "no-primary -" 50)
expect "view without the writer's node" "" "$s"
expect_match "epoch moved on (writer gone)" "^2 1$" "$(spoa_epoch_nodes)"

[ "$fails" -eq 0 ] || { echo "--- spoa.log"; tail -n 30 "$tmp/spoa.log"; exit 1; }
echo "ok: SIGHUP reloads are all or nothing and keep the routing"
