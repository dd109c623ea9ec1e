#!/bin/bash
# tests/integration/test_spoa_rule.sh - the one writer rule (common/route_rule.h) as haprole-spoa
# applies it to live feeds (bench/feed-fake stands in for the agents of db1 and db2), on the
# edge cases of tests/vectors/route_rule.txt that need a feed to go away:
#   1. db1 primary on timeline 1, db2 standby: writer db1;
#   2. db2 promoted (primary on timeline 2) while db1's feed still says primary on timeline 1
#      (the new primary's feed seen before the old one's loss): writer db2, at once;
#   3. one-way partition: the SPOA loses db2's feed, not db1's, and db1's agent has not fenced
#      it: no writer (status stale), never db1; the log says db2's feed was lost;
#   4. db2's feed back: writer db2 again.
# Asserts the SPOA's status page (the view its NOTIFY answers are built from).
# Address/port block: test_spoa_rule (lib/fixture.sh).
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib/spoa.sh
. tests/integration/lib/fixture.sh

fix_need "$HAPROLE_SPOA" build/bench/feed-fake python3 curl
fix_block test_spoa_rule
fix_ports SPOA_PORT STATUS_PORT FEED1 FEED2
fails=0
fix_tmp spoa-rule

feed() { echo "$2" >"$tmp/f$1"; } # feed 1|2 "command"
# verdicts - "db1=VERDICT db2=VERDICT": the rule's verdict per node, from the status page
verdicts() {
	curl -s -m 1 "http://$IP:$STATUS_PORT/" | python3 -c '
import json,sys
print(" ".join("%s=%s" % (n["name"], n["verdict"]) for n in json.load(sys.stdin)["clusters"][0]["nodes"]))' 2>&1
}
# view WANT [TRIES] - waits (TRIES polls, default 50, 0.1 s apart) for cluster 0's
# "status writer" to be WANT; records the check
view() {
	local s
	if s=$(spoa_wait_view "$IP" "$STATUS_PORT" "$1" "${2:-50}"); then
		ok "view: $1"
	else
		ko "view: wanted \"$1\", got \"$s\""
	fi
}

build/bench/feed-fake -l "$IP:$FEED1" -n db1 -r primary -t 1 -H 200ms -C "$tmp/f1" \
	>"$tmp/ff1.log" 2>&1 &
PIDS+=($!)
build/bench/feed-fake -l "$IP:$FEED2" -n db2 -r standby -t 1 -H 200ms -C "$tmp/f2" \
	>"$tmp/ff2.log" 2>&1 &
PIDS+=($!)
for i in $(seq 1 50); do
	grep -q ready "$tmp/ff1.log" && grep -q ready "$tmp/ff2.log" && break
	sleep 0.1
done
for p in "${PIDS[@]}"; do
	kill -0 "$p" 2>/dev/null || fail "a feed-fake did not start: $(cat "$tmp"/ff*.log)"
done
cat >"$tmp/spoa.conf" <<CONF
[spoa]
listen = $IP:$SPOA_PORT
status_listen = $IP:$STATUS_PORT
heartbeat = 200ms
[cluster main]
[node db1]
cluster = main
agent = $IP:$FEED1
[node db2]
cluster = main
agent = $IP:$FEED2
CONF
spoa_start "$tmp" "$IP" "$STATUS_PORT" || fail "haprole-spoa did not start"

# 1.
view "ok db1"
expect "verdicts" "db1=writer db2=reader" "$(verdicts)"
# 2. the new primary's feed first; db1 still says primary on timeline 1
feed 2 "tl 2"
feed 2 "role primary"
view "ok db2"
expect "db1's feed still says primary on timeline 1" "primary 1" \
	"$(curl -s -m 1 "http://$IP:$STATUS_PORT/" | python3 -c '
import json,sys
for n in json.load(sys.stdin)["clusters"][0]["nodes"]:
    if n["name"] == "db1": print(n["pg"]["role"], n["pg"]["tl"])' 2>&1)"
expect "verdicts: the old primary is outranked" "db1=outranked db2=writer" "$(verdicts)"
# 3. one-way partition: db2's feed goes silent, db1's stays
t0=$(date +%s%3N)
feed 2 "silent 1"
view "stale -"
echo "     (stale $(($(date +%s%3N) - t0)) ms after db2's feed went silent: 3 heartbeats of 200 ms)"
for i in $(seq 1 20); do # stays so: db1 never becomes the writer again (2 s, 10 heartbeats)
	s=$(spoa_view "$IP" "$STATUS_PORT")
	[ "$s" = "stale -" ] || break
	sleep 0.1
done
expect "no writer while db2's feed is lost (db1 outranked by db2's last state)" "stale -" "$s"
expect "verdicts: db1 outranked by db2's last state" "db1=outranked db2=stale" "$(verdicts)"
expect_match "the SPOA says db2's feed was lost" "node db2 .*feed lost" \
	"$(grep -a 'node db2 .*feed lost' "$tmp/spoa.log")"
# 4. (the SPOA reconnects with a backoff of up to 2 s)
t0=$(date +%s%3N)
feed 2 "silent 0"
view "ok db2" 100
echo "     (db2's feed back in the view $(($(date +%s%3N) - t0)) ms after it spoke again)"

[ "$fails" -eq 0 ] || { echo "--- spoa.log"; tail -n 30 "$tmp/spoa.log"; exit 1; }
echo "ok: the SPOA applies the writer rule to promotions and one-way partitions"
