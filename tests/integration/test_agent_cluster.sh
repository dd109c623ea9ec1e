#!/bin/bash
# tests/integration/test_agent_cluster.sh - haprole-agent on a real cluster: PostgreSQL 15
# primary + pg_basebackup -R standby (lib/pg.sh), a real nginx and a tiny app stub per node,
# and a real HAProxy 2.6 reading the agents through agent-check. Shows, through real sockets:
#   - `printf 'writer\n' | nc` gives up on the primary, down #... on the standby;
#   - curl of /, /metrics, /primary, /replica?lag= give the documented codes and bodies;
#   - HAProxy 2.6 (and every 3.x found under HAPROLE_HAPROXY_ROOTS) shows the primary UP and
#     the standby DOWN in its writer backend, and the weight in its reader backend follows the
#     reader check (primary_weight 50 -> weight 50);
#   - app down or nginx down turns the app check down;
#   - a standby whose replay is paused while the primary writes: reader weight falls, past
#     max_lag the check drains (HAProxy DRAIN, an open session through it stays), and comes
#     back when replay resumes; with lag_answer = down it answers down instead (HAProxy DOWN,
#     and on-marked-down shutdown-sessions cuts an open session);
#   - a SIGSTOPped server turns the writer check down within the probe timeout, while the
#     agent keeps answering;
#   - after stopping the primary and promoting the standby, the verdicts swap (agents and
#     HAProxy). Figures (ms) are printed, never asserted (bench/ measures).
# Addresses and ports: block test_agent_cluster of tests/integration/lib/fixture.sh (node N's
# PostgreSQL, nginx, app stub and agent on the block's address N, HAProxy's frontends on the
# third).
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib/pg.sh
. tests/integration/lib/haproxy.sh
. tests/integration/lib/fixture.sh # expect.sh, proc.sh; the block, tmp, PIDS, the EXIT trap

AGENT=$HAPROLE_AGENT
PY=/usr/bin/python3
fails=0
fix_block test_agent_cluster
# node N (1, 2): PostgreSQL NODE[N]:PGP[N], nginx NODE[N]:NGP[N], app stub NODE[N]:APPP[N],
# agent NODE[N]:AGP[N]; HAProxy's frontends on FE from port FE_PORT, two per HAProxy
declare -a NODE PGP NGP APPP AGP
fix_addrs NODE[1] NODE[2] FE
fix_ports PGP[1] PGP[2] NGP[1] NGP[2] APPP[1] APPP[2] AGP[1] AGP[2] FE_PORT
fix_tmp agent-cluster

pg_require || exit 77
hap_require || exit 77
for b in nc curl jq nginx "$PY"; do
	command -v "$b" >/dev/null 2>&1 || { echo "skip: $b not found"; exit 77; }
done
[ -x "$AGENT" ] || { echo "FAIL: $AGENT not built (make)"; exit 1; }

# ok, ko, expect, expect_match: lib/expect.sh.
EXPECT_SHOW=100
now_ms() { date +%s%3N; }

AG1=${NODE[1]}; AP1=${AGP[1]}
AG2=${NODE[2]}; AP2=${AGP[2]}
PG1=${NODE[1]}:${PGP[1]}
PG2=${NODE[2]}:${PGP[2]}

# check NODE NAME - the agent-check line node N answers for check NAME
check() {
	local a p
	if [ "$1" = 1 ]; then a=$AG1 p=$AP1; else a=$AG2 p=$AP2; fi
	printf '%s\n' "$2" | nc -w 2 "$a" "$p" 2>/dev/null
}
# wait_check NODE NAME REGEX SECONDS - polls every 50 ms; prints the ms it took
wait_check() {
	local t0 got="" i
	t0=$(now_ms)
	for i in $(seq 1 $(($4 * 20))); do
		got=$(check "$1" "$2")
		if printf '%s' "$got" | grep -Eq -- "$3"; then
			echo $(($(now_ms) - t0))
			return 0
		fi
		sleep 0.05
	done
	echo "timeout, last \"$got\""
	return 1
}
http_code() { curl -s -o /dev/null -w '%{http_code}' "$1"; }

# hold_session NAME PORT - a pooled read connection through HAProxy's FE:PORT:
# "select 1" every 100 ms for at most 60 s; its log $tmp/hold_NAME.log says "connected", then
# "cut: ..." when the session is cut. Sets HOLD_PID.
hold_session() {
	$PY - "$FE" "$2" >"$tmp/hold_$1.log" 2>&1 <<'EOF' &
import sys, time
import psycopg2
c = psycopg2.connect(host=sys.argv[1], port=int(sys.argv[2]), user="postgres",
                     dbname="postgres", connect_timeout=2)
c.autocommit = True
print("connected", flush=True)
end = time.time() + 60
while time.time() < end:
    try:
        cur = c.cursor()
        cur.execute("select 1")
        cur.fetchone()
    except Exception as e:
        print("cut: %s" % (" ".join(str(e).split()) or type(e).__name__), flush=True)
        sys.exit(3)
    time.sleep(0.1)
print("timeout", flush=True)
EOF
	HOLD_PID=$!
	PIDS+=("$HOLD_PID")
}
# wait_log FILE REGEX SECONDS - polls every 50 ms
wait_log() {
	local i
	for i in $(seq 1 $(($3 * 20))); do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

start_nginx() {
	local n=$1
	mkdir -p "$tmp/nginx$n"
	cat >"$tmp/nginx$n/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $tmp/nginx$n/nginx.pid;
error_log $tmp/nginx$n/error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $tmp/nginx$n;
	proxy_temp_path $tmp/nginx$n;
	fastcgi_temp_path $tmp/nginx$n;
	uwsgi_temp_path $tmp/nginx$n;
	scgi_temp_path $tmp/nginx$n;
	server {
		listen ${NODE[n]}:${NGP[n]};
		location / { return 200 "nginx ok\n"; }
	}
}
EOF
	nginx -c "$tmp/nginx$n/nginx.conf" -p "$tmp/nginx$n" >"$tmp/nginx$n/out.log" 2>&1 &
	NGINX_PID[$n]=$!
	PIDS+=("${NGINX_PID[$n]}")
}
start_app() {
	local n=$1
	mkdir -p "$tmp/www$n"
	echo "app ok" >"$tmp/www$n/index.html"
	$PY -m http.server "${APPP[n]}" --bind "${NODE[n]}" --directory "$tmp/www$n" \
		>"$tmp/app$n.log" 2>&1 &
	APP_PID[$n]=$!
	PIDS+=("${APP_PID[$n]}")
}
start_agent() {
	local n=$1
	cat >"$tmp/agent$n.conf" <<EOF
[agent]
cluster = t
node = db$n
listen = ${NODE[n]}:${AGP[n]}
first_line_wait = 50ms
heartbeat = 200ms
log_level = info
admin_socket = $tmp/agent$n.sock
state_file = $tmp/agent$n.state
[postgres]
conninfo = "hostaddr=${NODE[n]} port=${PGP[n]} user=postgres dbname=postgres"
interval = 100ms
timeout = 500ms
connect_timeout = 500ms
[http app]
url = http://${NODE[n]}:${APPP[n]}/
interval = 100ms
timeout = 500ms
rise = 1
fall = 1
[http nginx]
url = http://${NODE[n]}:${NGP[n]}/
interval = 100ms
timeout = 500ms
rise = 1
fall = 1
[check writer]
kind = writer
[check reader]
kind = reader
primary_weight = 50
[check app]
kind = app
[check writer_m]
kind = writer
standby_answer = maint
[check reader_small]
kind = reader
max_lag = 256k
max_lag_time = 0
[check reader_cut]
kind = reader
max_lag = 256k
max_lag_time = 0
lag_answer = down
EOF
	$AGENT --allow-root -d -f "$tmp/agent$n.conf" 2>"$tmp/agent$n.log" &
	AGENT_PID[$n]=$!
	PIDS+=("${AGENT_PID[$n]}")
}

# ---- the cluster ----------------------------------------------------------------------------
pg_init_primary "$tmp/pg/pg1" "${PGP[1]}" "${NODE[1]}" || exit 1
pg_start "$tmp/pg/pg1" || exit 1
pg_make_standby "${NODE[1]}" "${PGP[1]}" "$tmp/pg/pg2" "${PGP[2]}" "${NODE[2]}" || exit 1
pg_start "$tmp/pg/pg2" || exit 1
pg_wait_streaming "${NODE[2]}" "${PGP[2]}" 30 || exit 1
for n in 1 2; do
	start_nginx $n
	start_app $n
	start_agent $n
done

# hap_cfg FILE SOCK PORT - the same backends for every HAProxy version; frontends on FE ports
# PORT and PORT+1
hap_cfg() {
	cat >"$1" <<EOF
global
	stats socket $2 level admin
defaults
	mode tcp
	timeout connect 1s
	timeout client 10s
	timeout server 10s
	timeout check 1s
backend be_writer
	server db1 $PG1 check inter 500ms agent-check agent-addr $AG1 agent-port $AP1 agent-send "writer\n" agent-inter 200ms
	server db2 $PG2 check inter 500ms agent-check agent-addr $AG2 agent-port $AP2 agent-send "writer\n" agent-inter 200ms
backend be_reader
	balance roundrobin
	server db1 $PG1 weight 100 check inter 500ms agent-check agent-addr $AG1 agent-port $AP1 agent-send "reader\n" agent-inter 200ms
	server db2 $PG2 weight 100 check inter 500ms agent-check agent-addr $AG2 agent-port $AP2 agent-send "reader\n" agent-inter 200ms
# no agent-send: the agent answers its default check (writer) after first_line_wait
backend be_default
	server db1 $PG1 check inter 500ms agent-check agent-addr $AG1 agent-port $AP1 agent-inter 200ms
	server db2 $PG2 check inter 500ms agent-check agent-addr $AG2 agent-port $AP2 agent-inter 200ms
# standby_answer = maint: a healthy standby shows MAINT; the agent's "up ready" must undo it
backend be_writer_maint
	server db1 $PG1 check inter 500ms agent-check agent-addr $AG1 agent-port $AP1 agent-send "writer_m\n" agent-inter 200ms
	server db2 $PG2 check inter 500ms agent-check agent-addr $AG2 agent-port $AP2 agent-send "writer_m\n" agent-inter 200ms
# a reader with a small max_lag, to see the weight fall and the drain
backend be_reader_small
	server db2 $PG2 weight 100 check inter 500ms agent-check agent-addr $AG2 agent-port $AP2 agent-send "reader_small\n" agent-inter 200ms
# the same, also HTTP-checked on /check/reader_small (200 while draining: drain drains)
backend be_reader_small_http
	option httpchk GET /check/reader_small
	http-check expect status 200
	server db2 $PG2 check addr $AG2 port $AP2 inter 200ms fall 2 rise 1 agent-check agent-addr $AG2 agent-port $AP2 agent-send "reader_small\n" agent-inter 200ms
# lag_answer = down: past max_lag db2 is DOWN and its open sessions are cut
backend be_reader_cut
	server db2 $PG2 check inter 500ms agent-check agent-addr $AG2 agent-port $AP2 agent-send "reader_cut\n" agent-inter 200ms on-marked-down shutdown-sessions
# sessions held open through each, as an application's connection pool does
frontend fe_reader_small
	bind $FE:$3
	default_backend be_reader_small
frontend fe_reader_cut
	bind $FE:$(($3 + 1))
	default_backend be_reader_cut
# the HTTP check that pairs with agent-check on writer backends (fails closed)
backend be_writer_http
	option httpchk GET /check/writer
	http-check expect status 200
	server db1 $PG1 check addr $AG1 port $AP1 inter 200ms fall 1 rise 1
	server db2 $PG2 check addr $AG2 port $AP2 inter 200ms fall 1 rise 1
EOF
}
# Debian's 2.6, plus every 3.x found under a root directory (HAPROLE_HAPROXY_ROOTS, default
# the chroots the demo tooling builds; missing ones are skipped).
socks=()
hnames=()
hap_cfg "$tmp/haproxy.cfg" "$tmp/hap.sock" "$FE_PORT"
hap_start "$tmp/haproxy.cfg" || exit 1
socks+=("$tmp/hap.sock")
hnames+=("haproxy-$(hap_version)")
i=0
for root in ${HAPROLE_HAPROXY_ROOTS-/var/cache/haprole/chroot-trixie /var/cache/haprole/chroot-sid}; do
	i=$((i + 1))
	hap_require "$root" >/dev/null || continue
	[ $((FE_PORT + 2 * i + 1)) -le "$PORT_LAST" ] || fail "block test_agent_cluster: no ports left for the HAProxy of $root"
	hap_cfg "$tmp/haproxy$i.cfg" "$tmp/hap$i.sock" $((FE_PORT + 2 * i))
	if hap_start "$tmp/haproxy$i.cfg" "$root"; then
		socks+=("$tmp/hap$i.sock")
		hnames+=("haproxy-$(hap_version "$root")")
	else
		ko "haproxy from $root did not start"
	fi
done
echo "HAProxy versions under test: ${hnames[*]}"

# ---- agent-check through nc -----------------------------------------------------------------
t=$(wait_check 1 writer '^up ready 100%$' 20) && ok "db1 writer up (${t} ms after start)" || ko "db1 writer: $t"
t=$(wait_check 2 writer '^down ready #pg: standby$' 20) && ok "db2 writer down #pg: standby" || ko "db2 writer: $t"
t=$(wait_check 2 reader '^up ready (9[0-9]|100)%$' 20) && ok "db2 reader up, weight $(check 2 reader)" || ko "db2 reader: $t"
expect "db1 reader (primary_weight 50)" "up ready 50%" "$(check 1 reader)"
t=$(wait_check 1 app '^up ready 100%$' 10) && ok "db1 app up" || ko "db1 app: $t"
expect "db2 app (standby)" "down ready #pg: standby" "$(check 2 app)"

# ---- HTTP -----------------------------------------------------------------------------------
body=$(curl -s "http://$AG1:$AP1/")
expect "db1 GET / role" primary "$(printf '%s' "$body" | jq -r .pg.role)"
expect "db1 GET / writer" "up ready 100%" "$(printf '%s' "$body" | jq -r .checks.writer)"
body=$(curl -s "http://$AG2:$AP2/status")
expect "db2 GET /status role" standby "$(printf '%s' "$body" | jq -r .pg.role)"
expect "db2 GET /status streaming" true "$(printf '%s' "$body" | jq -r .pg.streaming)"
expect "db1 /primary" 200 "$(http_code "http://$AG1:$AP1/primary")"
expect "db2 /primary" 503 "$(http_code "http://$AG2:$AP2/primary")"
expect "db1 /master" 200 "$(http_code "http://$AG1:$AP1/master")"
expect "db1 /replica?lag=16MB" 503 "$(http_code "http://$AG1:$AP1/replica?lag=16MB")"
expect "db2 /replica?lag=16MB" 200 "$(http_code "http://$AG2:$AP2/replica?lag=16MB")"
expect "db2 /replica?lag=bogus" 400 "$(http_code "http://$AG2:$AP2/replica?lag=bogus")"
expect "db2 /read-only" 200 "$(http_code "http://$AG2:$AP2/read-only")"
expect "db1 /health" 200 "$(http_code "http://$AG1:$AP1/health")"
expect "db2 /check/writer" 503 "$(http_code "http://$AG2:$AP2/check/writer")"
expect_match "db2 /primary body" '"ok":false' "$(curl -s "http://$AG2:$AP2/primary")"
metrics=$(curl -s "http://$AG1:$AP1/metrics")
expect_match "db1 /metrics role" '^haprole_pg_role\{role="primary"\} 1$' "$(printf '%s\n' "$metrics" | grep 'role="primary"')"
expect_match "db1 /metrics probe up" '^haprole_probe_up\{probe="pg"\} 1$' "$(printf '%s\n' "$metrics" | grep 'probe="pg"')"
expect_match "db1 /metrics writer verdict" '^haprole_check_up\{check="writer"\} 1$' "$(printf '%s\n' "$metrics" | grep 'check_up{check="writer"')"

# ---- HAProxy 2.6 (and 3.x) -----------------------------------------------------------------
for k in "${!socks[@]}"; do
	sock=${socks[$k]}
	hv=${hnames[$k]}
	hap_wait_field "$sock" be_writer db1 status UP 20 && ok "$hv be_writer/db1 UP" || ko "$hv be_writer/db1 not UP"
	hap_wait_field "$sock" be_writer db2 status "DOWN.*" 20 && ok "$hv be_writer/db2 $(hap_server_field "$sock" be_writer db2 status)" || ko "$hv be_writer/db2 not DOWN"
	hap_wait_field "$sock" be_reader db1 weight 50 20 && ok "$hv be_reader/db1 weight 50 (reader check)" || ko "$hv be_reader/db1 weight"
	w=$(hap_server_field "$sock" be_reader db2 weight)
	expect_match "$hv be_reader/db2 weight follows the reader check" '^(9[0-9]|100)$' "$w"
	hap_wait_field "$sock" be_default db1 status UP 20 && ok "$hv be_default/db1 UP (no agent-send: default check)" || ko "$hv be_default/db1 not UP"
	hap_wait_field "$sock" be_default db2 status "DOWN.*" 20 && ok "$hv be_default/db2 DOWN (no agent-send: default check)" || ko "$hv be_default/db2 not DOWN"
	hap_wait_field "$sock" be_writer_maint db1 status UP 20 && ok "$hv be_writer_maint/db1 UP" || ko "$hv be_writer_maint/db1 not UP"
	hap_wait_field "$sock" be_writer_maint db2 status "MAINT.*" 20 && ok "$hv be_writer_maint/db2 $(hap_server_field "$sock" be_writer_maint db2 status) (standby_answer = maint)" || ko "$hv be_writer_maint/db2 not MAINT"
	hap_wait_field "$sock" be_writer_http db1 status UP 20 && ok "$hv be_writer_http/db1 UP (httpchk /check/writer)" || ko "$hv be_writer_http/db1 not UP"
	hap_wait_field "$sock" be_writer_http db2 status "DOWN.*" 20 && ok "$hv be_writer_http/db2 DOWN (httpchk /check/writer)" || ko "$hv be_writer_http/db2 not DOWN"
	echo "     $hv show servers state be_writer:"
	hap_servers_state "$sock" be_writer | awk '{print "       " $4, "op_state=" $6, "admin=" $7, "weight=" $8}'
done
sock=${socks[0]}

# ---- app and nginx down -> app check down ---------------------------------------------------
stop_pid "${APP_PID[1]}"
t=$(wait_check 1 app '^fail ready #app: ' 10) && ok "app stub down -> db1 app $(check 1 app) (${t} ms)" || ko "db1 app after app down: $t"
start_app 1
t=$(wait_check 1 app '^up ready 100%$' 10) && ok "app stub back -> db1 app up" || ko "db1 app after app back: $t"
stop_pid "${NGINX_PID[1]}"
t=$(wait_check 1 app '^fail ready #nginx: ' 10) && ok "nginx down -> db1 app $(check 1 app) (${t} ms)" || ko "db1 app after nginx down: $t"
start_nginx 1
t=$(wait_check 1 app '^up ready 100%$' 10) && ok "nginx back -> db1 app up" || ko "db1 app after nginx back: $t"

# ---- lag: replay paused on the standby while the primary writes -> weight falls, then drain
# (lag_answer = drain) or down (lag_answer = down); a session held open through each
hap_wait_field "$sock" be_reader_cut db2 status UP 20 && ok "haproxy be_reader_cut/db2 UP before the lag" || ko "haproxy be_reader_cut/db2 not UP"
hap_wait_field "$sock" be_reader_small db2 status UP 20 || ko "haproxy be_reader_small/db2 not UP"
hold_session drain "$FE_PORT"
HOLD_DRAIN=$HOLD_PID
hold_session cut $((FE_PORT + 1))
HOLD_CUT=$HOLD_PID
wait_log "$tmp/hold_drain.log" '^connected' 10 && ok "pooled session open through be_reader_small (drain)" || ko "no session through be_reader_small: $(cat "$tmp/hold_drain.log")"
wait_log "$tmp/hold_cut.log" '^connected' 10 && ok "pooled session open through be_reader_cut (down)" || ko "no session through be_reader_cut: $(cat "$tmp/hold_cut.log")"
pg_psql "${NODE[2]}" "${PGP[2]}" "select pg_wal_replay_pause()" >/dev/null || ko "pause replay"
pg_psql "${NODE[1]}" "${PGP[1]}" "create table lagtest as select i, repeat('x', 20) as pad from generate_series(1, 2000) i" >/dev/null || ko "write on the primary"
t=$(wait_check 2 reader_small '^up ready ([0-9]|[1-8][0-9]|9[0-8])%$' 10) && ok "some lag -> db2 reader_small weight falls: $(check 2 reader_small), $(curl -s "http://$AG2:$AP2/" | jq .pg.lag_bytes) bytes behind" || ko "db2 reader_small with some lag: $t"
pg_psql "${NODE[1]}" "${PGP[1]}" "insert into lagtest select i, repeat('x', 200) from generate_series(1, 20000) i" >/dev/null || ko "write on the primary"
t=$(wait_check 2 reader_small '^up drain #pg: lag [0-9]+ bytes' 10) && ok "lag past max_lag -> db2 reader_small $(check 2 reader_small)" || ko "db2 reader_small past max_lag: $t"
expect_match "db2 /replica?lag=64k refuses a lagging standby" '^503$' "$(http_code "http://$AG2:$AP2/replica?lag=64k")"
hap_wait_field "$sock" be_reader_small db2 status "DRAIN.*" 10 && ok "haproxy be_reader_small/db2 $(hap_server_field "$sock" be_reader_small db2 status)" || ko "haproxy be_reader_small/db2 not DRAIN"
t=$(wait_check 2 reader_cut '^down ready #pg: lag [0-9]+ bytes' 10) && ok "lag past max_lag, lag_answer = down -> db2 reader_cut $(check 2 reader_cut)" || ko "db2 reader_cut past max_lag: $t"
for k in "${!socks[@]}"; do
	hv=${hnames[$k]}
	hap_wait_field "${socks[$k]}" be_reader_cut db2 status "DOWN.*" 10 && ok "$hv be_reader_cut/db2 $(hap_server_field "${socks[$k]}" be_reader_cut db2 status) (lag_answer = down)" || ko "$hv be_reader_cut/db2 not DOWN"
	hap_wait_field "${socks[$k]}" be_reader_small_http db2 status "DRAIN.*" 10 && ok "$hv be_reader_small_http/db2 $(hap_server_field "${socks[$k]}" be_reader_small_http db2 status) (drain, /check/reader_small 200)" || ko "$hv be_reader_small_http/db2 not DRAIN: $(hap_server_field "${socks[$k]}" be_reader_small_http db2 status)"
done
wait_log "$tmp/hold_cut.log" '^cut: ' 10 && ok "on-marked-down shutdown-sessions cut the pooled session on db2: $(grep '^cut: ' "$tmp/hold_cut.log" | head -c 100)" || ko "pooled session through be_reader_cut not cut: $(cat "$tmp/hold_cut.log")"
if kill -0 "$HOLD_DRAIN" 2>/dev/null && ! grep -q '^cut: ' "$tmp/hold_drain.log"; then
	ok "the pooled session through be_reader_small stays on the draining db2 (HAProxy DRAIN)"
else
	ko "the pooled session through be_reader_small ended: $(cat "$tmp/hold_drain.log")"
fi
stop_pid "$HOLD_DRAIN"
stop_pid "$HOLD_CUT"
pg_psql "${NODE[2]}" "${PGP[2]}" "select pg_wal_replay_resume()" >/dev/null || ko "resume replay"
t=$(wait_check 2 reader_small '^up ready (9[0-9]|100)%$' 20) && ok "replay resumed -> db2 reader_small $(check 2 reader_small) (${t} ms)" || ko "db2 reader_small after resume: $t"
hap_wait_field "$sock" be_reader_small db2 status UP 10 && ok "haproxy be_reader_small/db2 UP again" || ko "haproxy be_reader_small/db2 not UP after resume"
t=$(wait_check 2 reader_cut '^up ready (9[0-9]|100)%$' 20) && ok "replay resumed -> db2 reader_cut $(check 2 reader_cut)" || ko "db2 reader_cut after resume: $t"
hap_wait_field "$sock" be_reader_cut db2 status UP 10 && ok "haproxy be_reader_cut/db2 UP again" || ko "haproxy be_reader_cut/db2 not UP after resume"

# ---- a hung server: SIGSTOP -----------------------------------------------------------------
pg_freeze "$tmp/pg/pg1" || ko "pg_freeze"
t0=$(now_ms)
answered=0
silent=0
got=""
for i in $(seq 1 100); do
	got=$(check 1 writer)
	if [ -n "$got" ]; then answered=$((answered + 1)); else silent=$((silent + 1)); fi
	printf '%s' "$got" | grep -q '^fail ready #pg: ' && break
	sleep 0.05
done
dt=$(($(now_ms) - t0))
expect_match "SIGSTOPped postmaster -> db1 writer fails (${dt} ms, timeout 500 ms)" '^fail ready #pg: ' "$got"
expect "the agent kept answering while PostgreSQL hung ($answered answers)" 0 "$silent"
hap_wait_field "$sock" be_writer db1 status "DOWN.*" 10 && ok "haproxy be_writer/db1 DOWN while hung" || ko "haproxy be_writer/db1 not DOWN while hung"
pg_thaw "$tmp/pg/pg1"
t=$(wait_check 1 writer '^up ready 100%$' 20) && ok "thawed -> db1 writer up again (${t} ms)" || ko "db1 writer after thaw: $t"

# ---- failover: stop the primary, promote the standby ----------------------------------------
pg_stop "$tmp/pg/pg1" immediate || ko "pg_stop pg1"
t=$(wait_check 1 writer '^fail ready #pg: ' 10) && ok "old primary stopped -> db1 writer $(check 1 writer) (${t} ms)" || ko "db1 writer after stop: $t"
pg_promote "$tmp/pg/pg2" || ko "pg_promote pg2"
t0=$(now_ms)
t=$(wait_check 2 writer '^up ready 100%$' 10) && ok "promoted -> db2 writer up ${t} ms after pg_promote returned (probe interval 100 ms)" || ko "db2 writer after promote: $t"
expect "db2 reader is now the primary's" "up ready 50%" "$(check 2 reader)"
expect "db2 /primary" 200 "$(http_code "http://$AG2:$AP2/primary")"
expect "db1 /primary" 503 "$(http_code "http://$AG1:$AP1/primary")"
expect_match "db2 timeline moved" '^[2-9]$' "$(curl -s "http://$AG2:$AP2/" | jq -r .pg.tl)"
for k in "${!socks[@]}"; do
	hv=${hnames[$k]}
	hap_wait_field "${socks[$k]}" be_writer db2 status UP 10 && ok "$hv be_writer/db2 UP $(($(now_ms) - t0)) ms after promote" || ko "$hv be_writer/db2 not UP"
	hap_wait_field "${socks[$k]}" be_writer db1 status "DOWN.*" 10 && ok "$hv be_writer/db1 DOWN" || ko "$hv be_writer/db1 not DOWN"
	hap_wait_field "${socks[$k]}" be_reader db2 weight 50 10 && ok "$hv be_reader/db2 weight 50 (now primary)" || ko "$hv be_reader/db2 weight"
	hap_wait_field "${socks[$k]}" be_writer_http db2 status UP 10 && ok "$hv be_writer_http/db2 UP" || ko "$hv be_writer_http/db2 not UP"
	hap_wait_field "${socks[$k]}" be_writer_maint db2 status UP 10 && ok "$hv be_writer_maint/db2 MAINT -> UP (the agent undid its maint)" || ko "$hv be_writer_maint/db2 not UP after promotion"
	hap_wait_field "${socks[$k]}" be_writer_maint db1 status "(DOWN|MAINT).*" 10 && ok "$hv be_writer_maint/db1 $(hap_server_field "${socks[$k]}" be_writer_maint db1 status)" || ko "$hv be_writer_maint/db1 still UP"
	hap_wait_field "${socks[$k]}" be_writer_http db1 status "DOWN.*" 10 && ok "$hv be_writer_http/db1 DOWN" || ko "$hv be_writer_http/db1 not DOWN"
done

# ---- SIGHUP: probes reconfigured, state kept ------------------------------------------------
before=$(curl -s "http://$AG2:$AP2/")
sed -i 's/^primary_weight = 50$/primary_weight = 30/; s/^interval = 100ms$/interval = 200ms/' "$tmp/agent2.conf"
kill -HUP "${AGENT_PID[2]}"
t=$(wait_check 2 reader '^up ready 30%$' 10) && ok "SIGHUP -> db2 reader up ready 30% (${t} ms)" || ko "db2 reader after SIGHUP: $t"
expect "db2 writer unchanged across the reload" "up ready 100%" "$(check 2 writer)"
after=$(curl -s "http://$AG2:$AP2/")
expect "same boot id after the reload (state kept)" "$(printf '%s' "$before" | jq -r .boot)" "$(printf '%s' "$after" | jq -r .boot)"
expect "seq went on after the reload" true "$(jq -n --argjson a "$(printf '%s' "$before" | jq .seq)" --argjson b "$(printf '%s' "$after" | jq .seq)" '$b > $a')"
expect_match "reload logged" 'reload: .*agent2.conf applied' "$(cat "$tmp/agent2.log")"
if grep -q 'pg: up primary -> down' "$tmp/agent2.log"; then ko "pg flapped across the reload"; else ok "pg did not flap across the reload"; fi
hap_wait_field "$sock" be_reader db2 weight 30 10 && ok "haproxy be_reader/db2 weight 30 after the reload" || ko "haproxy be_reader/db2 weight after reload"

for n in 1 2; do
	kill -0 "${AGENT_PID[$n]}" 2>/dev/null && ok "agent db$n still running" || ko "agent db$n died"
done
if [ "$fails" -ne 0 ]; then
	for n in 1 2; do
		echo "--- agent db$n log (tail)"
		tail -n 25 "$tmp/agent$n.log"
	done
	echo "--- haproxy logs (tail)"
	tail -n 20 "$tmp"/haproxy*.cfg.log
	exit 1
fi
exit 0
