#!/bin/bash
# tests/integration/test_push.sh - push mode (spoe/push.c): haprole-spoa sets HAProxy's servers
# through the runtime API, with haproxy/haprole-push.cfg loaded as shipped (addresses, ports
# and paths substituted only) on HAProxy 2.6 and on 3.2 at the same time (both are [haproxy]
# targets of one haprole-spoa), plus a third target whose socket accepts and never answers.
# bench/feed-fake stands in for the agents' feeds, a small HTTP server for the agents'
# /check/writer and /check/reader, and two TCP servers for the databases (they answer their
# name). On each HAProxy:
#   1. start: servers `disabled` until told; then writes land on the writer db1 only;
#   2. promotion (db1 standby, db2 primary on timeline 2): writes land on db2; the SPOA's log
#      shows db1 taken out before db2 was put in, on every target; a sampler reading
#      `show servers state` every few ms never sees both ready;
#   3. split brain (both primary, one timeline): no writer, connections refused, not landed;
#   4. HAProxy reloaded (a new process, servers `disabled` again): resynced by the periodic
#      read-back, writes land on db2 again;
#   5. haprole-spoa restarted: HAProxy keeps serving meanwhile; the new SPOA syncs;
#   6. a SIGHUP whose push configuration cannot be set up is refused whole: the running push
#      set keeps following the cluster (a promotion after it still reaches every HAProxy);
#   7. the stuck target never held up the others (they followed every step), and its
#      failures are logged with the reason.
# The config has no SPOE filter (checked): zero per-request cost.
# Address/port block: test_push (lib/fixture.sh).
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib/expect.sh
. tests/integration/lib/haproxy.sh
. tests/integration/lib/haproxy3.sh
. tests/integration/lib/spoa.sh

. tests/integration/lib/fixture.sh

hap_require || exit 77
fix_need "$HAPROLE_SPOA" build/bench/feed-fake python3
fix_block test_push
fix_ports SPOA_PORT STATUS_PORT FEED1 FEED2 CHECK1 CHECK2 DB_PORT
DB1=$NET.21
DB2=$NET.22
fails=0
fix_tmp push
FIX_LOG_LINES=30

if grep -Eq '^[[:space:]]*filter[[:space:]]+spoe' haproxy/haprole-push.cfg; then
	ko "haproxy/haprole-push.cfg has an SPOE filter: push mode must cost nothing per request"
else
	ok "haproxy/haprole-push.cfg has no SPOE filter (no per-request work)"
fi

# ---- fixtures ---------------------------------------------------------------------------------
# The databases: answer their name and close. The agents' checks: /check/writer 200 when the
# node's role file says primary, /check/reader 200 always.
cat >"$tmp/fixtures.py" <<'PY'
import http.server, os, socket, sys, threading
tmp = sys.argv[1]
def db(addr, port, name):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port)); s.listen(64)
    while True:
        c, _ = s.accept()
        try: c.sendall(name.encode())
        finally: c.close()
class Check(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        node = self.server.node
        role = open(os.path.join(tmp, node + ".role")).read().strip()
        ok = self.path == "/check/reader" or (self.path == "/check/writer" and role == "primary")
        self.send_response(200 if ok else 503); self.end_headers()
        self.wfile.write(("%s %s\n" % (node, role)).encode())
def check(addr, port, node):
    srv = http.server.ThreadingHTTPServer((addr, port), Check); srv.node = node
    srv.serve_forever()
ip, p1, p2, d1, d2, dbp = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6], int(sys.argv[7])
for f, a in ((db, (d1, dbp, "db1")), (db, (d2, dbp, "db2")), (check, (d1, p1, "db1")), (check, (d2, p2, "db2"))):
    threading.Thread(target=f, args=a, daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
PY
# a runtime API that accepts and never answers (a stopped HAProxy)
cat >"$tmp/stuck.py" <<'PY'
import socket, sys, threading
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(64)
held = []
print("ready", flush=True)
while True:
    c, _ = s.accept(); held.append(c)
PY
echo primary >"$tmp/db1.role"
echo standby >"$tmp/db2.role"
python3 "$tmp/fixtures.py" "$tmp" "$IP" "$CHECK1" "$CHECK2" "$DB1" "$DB2" "$DB_PORT" \
	>"$tmp/fixtures.log" 2>&1 &
PIDS+=($!)
python3 "$tmp/stuck.py" "$tmp/stuck.sock" >"$tmp/stuck.log" 2>&1 &
PIDS+=($!)
build/bench/feed-fake -l "$IP:$FEED1" -n db1 -r primary -t 1 -H 200ms -C "$tmp/f1" \
	>"$tmp/ff1.log" 2>&1 &
PIDS+=($!)
build/bench/feed-fake -l "$IP:$FEED2" -n db2 -r standby -t 1 -H 200ms -C "$tmp/f2" \
	>"$tmp/ff2.log" 2>&1 &
PIDS+=($!)
for i in $(seq 1 50); do
	grep -q ready "$tmp/fixtures.log" && grep -q ready "$tmp/stuck.log" &&
		grep -q ready "$tmp/ff1.log" && grep -q ready "$tmp/ff2.log" && break
	sleep 0.1
done
for f in fixtures stuck ff1 ff2; do
	grep -q ready "$tmp/$f.log" || fail "fixture $f did not start: $(cat "$tmp/$f.log")"
done
feed() { echo "$2" >"$tmp/f$1"; } # feed 1|2 "command"

# ---- HAProxy 2.6 and 3.2 from the shipped file ------------------------------------------------
# shipped_cfg N - haproxy/haprole-push.cfg with our addresses, ports and paths.
shipped_cfg() {
	local n=$1 base=$((PORT + 40 + 10 * $1))
	sed -e "s#/run/haproxy/admin.sock#$tmp/hap$n.sock#" \
		-e "s#^\([[:space:]]*log /dev/log.*\)#\t\# \1#" \
		-e "s#192.0.2.21:5432#$DB1:$DB_PORT#" -e "s#192.0.2.22:5432#$DB2:$DB_PORT#" \
		-e "s#bind :5000#bind $IP:$base#" -e "s#bind :5001#bind $IP:$((base + 1))#" \
		-e "s#bind :7000#bind $IP:$((base + 2))#" \
		-e "s#check port 5555#check port CHECKPORT#" \
		haproxy/haprole-push.cfg >"$tmp/hap$n.cfg"
	# the two nodes' checks listen on their own ports here (one per node, not one per host)
	python3 - "$tmp/hap$n.cfg" "$CHECK1" "$CHECK2" <<'PY'
import sys
p, c1, c2 = sys.argv[1], sys.argv[2], sys.argv[3]
lines = open(p).read().split("\n")
out = []
for l in lines:
    if l.strip().startswith("default-server") and "CHECKPORT" in l:
        l = l.replace(" check port CHECKPORT", "")
        out.append(l); continue
    if l.strip().startswith("server db1 "): l += " check port " + c1
    if l.strip().startswith("server db2 "): l += " check port " + c2
    out.append(l)
open(p, "w").write("\n".join(out))
PY
}

ROOTS=("")
LABELS=("$(hap_version "")")
for r in $(hap3_roots); do
	case $(hap_version "$r") in 3.2*) ROOTS+=("$r"); LABELS+=("$(hap_version "$r")") ;; esac
done
[ ${#ROOTS[@]} -ge 2 ] || echo "note: no HAProxy 3.2 root (lib/haproxy3.sh said why); 2.6 only"

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
[haproxy stuck]
runtime_api = $tmp/stuck.sock
cluster = main
writer_backend = pg_write
timeout = 300ms
verify_interval = 200ms
CONF
for n in "${!ROOTS[@]}"; do
	shipped_cfg "$n"
	hap_start "$tmp/hap$n.cfg" "${ROOTS[$n]}" || fail "HAProxy ${LABELS[$n]} did not start"
	HAP_PIDS[$n]=$HAP_PID
	cat >>"$tmp/spoa.conf" <<CONF
[haproxy h$n]
runtime_api = $tmp/hap$n.sock
cluster = main
writer_backend = pg_write
reader_backend = pg_read
verify_interval = 200ms
CONF
done

# write N - one connection through HAProxy N's write port: the name of the node it reached,
# or "refused" when HAProxy closed it without a server.
write() {
	python3 - "$IP" $((PORT + 40 + 10 * $1)) <<'PY'
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
    d = s.recv(16).decode()
    print(d if d else "refused")
except Exception:
    print("refused")
PY
}
# wait_writes N WANT TRIES - polls every 0.1 s until a write through HAProxy N reaches WANT.
wait_writes() {
	local i got=""
	for i in $(seq 1 "$3"); do
		got=$(write "$1")
		[ "$got" = "$2" ] && return 0
		sleep 0.1
	done
	echo "$got"
	return 1
}
# writes_land WANT WHAT - through every HAProxy, polls (5 s each) until a write reaches WANT
# (db1, db2 or refused): one check named WHAT for each.
writes_land() {
	local n got
	for n in "${!ROOTS[@]}"; do
		if got=$(wait_writes "$n" "$1" 50); then
			ok "HAProxy ${LABELS[$n]}: $2: writes reach $1"
		else
			ko "HAProxy ${LABELS[$n]}: $2: writes never reach $1 (last: $got)"
		fi
	done
}
# promote OLD NEW TL - node OLD becomes a standby and node NEW the primary on timeline TL: their
# role files (what their PostgreSQL answers) and their feeds.
promote() {
	echo standby >"$tmp/db$1.role"
	feed "$1" "role standby"
	echo primary >"$tmp/db$2.role"
	feed "$2" "tl $3"
	feed "$2" "role primary"
}
ready_set() { # ready_set N - the pg_write servers not in forced maint, e.g. "db1"
	hap_servers_state "$tmp/hap$1.sock" pg_write |
		awk '$7 % 2 == 0 && $6 == 2 { printf "%s%s", sep, $4; sep = " " }'
}

# 0. before haprole-spoa: nothing is ready, nothing lands
for n in "${!ROOTS[@]}"; do
	expect "HAProxy ${LABELS[$n]}: before any push, write" refused "$(write "$n")"
done

spoa_start "$tmp" "$IP" "$STATUS_PORT" || fail "haprole-spoa did not start"

# 1. the writer db1
for n in "${!ROOTS[@]}"; do
	if got=$(wait_writes "$n" db1 50); then
		ok "HAProxy ${LABELS[$n]}: writes land on db1 (servers ready: $(ready_set "$n"))"
	else
		ko "HAProxy ${LABELS[$n]}: writes never reached db1 (last: $got)"
	fi
	expect "HAProxy ${LABELS[$n]}: pg_write ready servers" db1 "$(ready_set "$n")"
done

# 2. promotion, with a sampler of every HAProxy's pg_write during it
sampler() {
	local end=$((SECONDS + 6)) n
	while [ $SECONDS -lt $end ] && [ ! -f "$tmp/sampler.stop" ]; do
		for n in "${!ROOTS[@]}"; do
			echo "$n $(ready_set "$n")"
		done
		sleep 0.005
	done >"$tmp/samples"
}
: >"$tmp/sampler.stop.tmp"
sampler &
sampler_pid=$!
log_from=$(wc -l <"$tmp/spoa.log")
promote 1 2 2
writes_land db2 "after the promotion"
touch "$tmp/sampler.stop"
wait "$sampler_pid" 2>/dev/null
two=$(grep -c ' db1 db2$\| db2 db1$' "$tmp/samples")
expect "samples of pg_write with two ready servers ($(wc -l <"$tmp/samples") samples)" 0 "$two"
for n in "${!ROOTS[@]}"; do
	out_line=$(tail -n +"$((log_from + 1))" "$tmp/spoa.log" | grep -n "push h$n: pg_write/db1 -> maint" | head -n 1 | cut -d: -f1)
	in_line=$(tail -n +"$((log_from + 1))" "$tmp/spoa.log" | grep -n "push h$n: pg_write/db2 -> ready" | head -n 1 | cut -d: -f1)
	if [ -n "$out_line" ] && [ -n "$in_line" ] && [ "$out_line" -lt "$in_line" ]; then
		ok "HAProxy ${LABELS[$n]}: old writer out (log line $out_line) before the new one in ($in_line)"
	else
		ko "HAProxy ${LABELS[$n]}: order of the steps: out at '$out_line', in at '$in_line'"
	fi
done

# 3. split brain: db1 primary on the same timeline as db2: no writer anywhere
feed 1 "tl 2"
feed 1 "role primary"
writes_land refused "split brain: connections refused"
feed 1 "role standby"
writes_land db2 "split brain over: db2 again"

# 4. HAProxy 2.6 reloaded: a new process (-sf) starts with every server disabled
old=${HAP_PIDS[0]}
cmd=$(hap_cmdline "") || fail "no haproxy"
$cmd -f "$tmp/hap0.cfg" -D -p "$tmp/hap0.pid" -sf "$old" >>"$tmp/hap0.cfg.log" 2>&1 ||
	fail "HAProxy reload failed: $(tail -n 5 "$tmp/hap0.cfg.log")"
HAP_LIB_PIDS+=($(cat "$tmp/hap0.pid"))
resync_before=$(grep -c "push h0: HAProxy's servers differ" "$tmp/spoa.log")
if got=$(wait_writes 0 db2 50); then
	ok "HAProxy ${LABELS[0]} reloaded (-sf): the new process is resynced, writes land on db2"
else
	ko "HAProxy ${LABELS[0]} reloaded: writes never reached db2 again (last: $got)"
fi
resync_after=$(grep -c "push h0: HAProxy's servers differ" "$tmp/spoa.log")
[ "$resync_after" -gt "$resync_before" ] && ok "the reload was seen as a resync ($resync_after)" ||
	ko "no resync logged after the reload"

# 5. haprole-spoa restarted: HAProxy keeps the state meanwhile; the new SPOA agrees
kill "$SPOA_PID"
wait "$SPOA_PID" 2>/dev/null
SPOA_PID=
for n in "${!ROOTS[@]}"; do
	expect "HAProxy ${LABELS[$n]}: writes while haprole-spoa is down" db2 "$(write "$n")"
done
log_from=$(wc -l <"$tmp/spoa.log")
spoa_start "$tmp" "$IP" "$STATUS_PORT" || fail "haprole-spoa did not restart"
sleep 0.5 # a few verify intervals: nothing must change
if tail -n +"$((log_from + 1))" "$tmp/spoa.log" | grep -q "push h[0-9]: pg_write/db2 -> maint"; then
	ko "the restarted haprole-spoa took the writer out before hearing the feeds"
else
	ok "the restarted haprole-spoa left the writer in while its feeds came up"
fi
for n in "${!ROOTS[@]}"; do
	expect "HAProxy ${LABELS[$n]}: writes after haprole-spoa restarted" db2 "$(write "$n")"
	expect "HAProxy ${LABELS[$n]}: pg_read ready servers after restart (reader: the standby)" db1 \
		"$(hap_servers_state "$tmp/hap$n.sock" pg_read | awk '$7 % 2 == 0 && int($7 / 8) % 2 == 0 { print $4 }' | xargs)"
done

# 6. a reload whose push configuration cannot be set up (an [haproxy] following a cluster of 33
# nodes, more than push mode sets) is refused whole: the running push set keeps driving every
# HAProxy, and the log says why. The nodes' agents are never contacted (the view is refused
# with the reload).
cp "$tmp/spoa.conf" "$tmp/spoa.conf.good"
{
	echo "[cluster big]"
	for i in $(seq 1 33); do
		printf '[node big%d]\ncluster = big\nagent = %s:%d\n' "$i" "$IP" $((PORT + 60 + i))
	done
	printf '[haproxy big]\nruntime_api = %s/big.sock\ncluster = big\nwriter_backend = pg_write\n' "$tmp"
} >>"$tmp/spoa.conf"
refused_before=$(curl -s -m 1 "http://$IP:$STATUS_PORT/metrics" | awk '$1 == "haprole_spoa_reload_failures_total" { print $2 }')
log_from=$(wc -l <"$tmp/spoa.log")
kill -HUP "$SPOA_PID"
for i in $(seq 1 50); do
	tail -n +"$((log_from + 1))" "$tmp/spoa.log" | grep -q "reload refused\|reloaded " && break
	sleep 0.1
done
expect_match "reload with a push set that cannot be set up: refused, with the reason" \
	"reload refused, keeping the running config, view and push mode: .*\[haproxy big\]: cluster big has 33 nodes, at most 32" \
	"$(tail -n +"$((log_from + 1))" "$tmp/spoa.log" | grep "reload refused")"
refused_after=$(curl -s -m 1 "http://$IP:$STATUS_PORT/metrics" | awk '$1 == "haprole_spoa_reload_failures_total" { print $2 }')
expect "haprole_spoa_reload_failures_total after the refused reload" "$((${refused_before:-0} + 1))" "${refused_after:-none}"
cp "$tmp/spoa.conf.good" "$tmp/spoa.conf"
# the old push set still follows the cluster: db1 promoted back (timeline 3) reaches HAProxy
promote 2 1 3
writes_land db1 "after the refused reload, push still follows"

# 7. the stuck target: timed out, logged, never in the way
if grep -q "push stuck ($tmp/stuck.sock): .*timed out" "$tmp/spoa.log"; then
	ok "the stuck HAProxy is logged: $(grep -m1 "push stuck (.*timed out" "$tmp/spoa.log" | sed "s/.*push stuck/push stuck/")"
else
	ko "no timeout logged for the stuck HAProxy"
fi

if [ "$fails" -ne 0 ]; then
	echo "--- spoa.log (last 30 lines)"
	tail -n 30 "$tmp/spoa.log"
	echo "test_push: $fails check(s) failed"
	exit 1
fi
echo "test_push: all checks passed"
exit 0
