#!/bin/bash
# tests/integration/test_privdrop.sh - least privilege (issue 12 item 7), no PostgreSQL needed:
#   1. root without `user`: haprole-agent and haprole-spoa refuse, naming the key and
#      --allow-root; with --allow-root they run (as root); -c refuses an unknown user/group.
#   2. `user = nobody`: ps shows nobody once started, /proc shows every uid and gid dropped, the
#      listeners still answer, the admin socket belongs to nobody, and the agent cannot write
#      into a root-owned directory (haprolectl drain refused) where the same agent kept as root
#      (--allow-root) can; SIGHUP with another user and a port below 1024 keeps nobody and the
#      old port, and says a restart is needed.
#   3. `[agent] expose = minimal` against full: the JSON, the feed and the agent-check reply of
#      a minimal agent carry no error text (libpq's, naming the closed port's address), no admin
#      reason; haprole-spoa and haprolectl still read its feed.
# Its address and ports: block test_privdrop of tests/integration/lib/fixture.sh.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib/fixture.sh

AGENT=$HAPROLE_AGENT
SPOA=$HAPROLE_SPOA
CTL=$HAPROLE_CTL
fix_block test_privdrop
# P_FULL: agent, expose = full (and the refusal / --allow-root runs); P_MIN: agent, expose =
# minimal; P_DROP: agent, user = nobody; P_SPOA, P_STATUS: haprole-spoa's SPOP and status;
# P_CLOSED: nothing listens (libpq's error names it)
fix_ports P_FULL P_MIN P_DROP P_SPOA P_STATUS P_CLOSED
fails=0
pids=()

[ "$(id -u)" = 0 ] || { echo "SKIP-UNAVOIDABLE: needs root (it tests dropping root)"; exit 77; }
for b in nc curl jq; do
	command -v "$b" >/dev/null 2>&1 || { echo "SKIP: $b not found"; exit 77; }
done
for b in "$AGENT" "$SPOA" "$CTL"; do [ -x "$b" ] || { echo "FAIL: $b not built (make)"; exit 1; }; done
getent passwd nobody >/dev/null || { echo "SKIP-UNAVOIDABLE: no user nobody"; exit 77; }
NOGROUP=$(id -gn nobody)

fix_tmp privdrop
chmod 0711 "$tmp" # nobody may pass through it to the files it is given, not list it
fix_pre_cleanup() {
	local p
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
}

# agent_conf FILE PORT DIR [EXTRA...] - an agent whose postgres probe aims at the closed port
# (so its state holds libpq's error, which names the server's address), admin socket and state
# file in DIR.
agent_conf() {
	local f=$1 port=$2 dir=$3
	shift 3
	{
		printf '%s\n' "[agent]" "cluster = t" "node = n1" "listen = $IP:$port" "heartbeat = 200ms" \
			"shutdown_grace = 0" "log_level = info" "admin_socket = $dir/agent.sock" \
			"state_file = $dir/agent.state" "$@"
		printf '%s\n' "[postgres]" "conninfo = hostaddr=$IP port=$P_CLOSED user=haprole dbname=postgres" \
			"interval = 100ms" "[check writer]" "kind = writer"
	} >"$f"
}
# wait_port PORT - true once PORT accepts (bounded: 10 s).
wait_port() {
	local i
	for ((i = 0; i < 100; i++)); do
		(exec 3<>"/dev/tcp/$IP/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
# start NAME BIN ARGS... - starts a daemon in the foreground (log in $tmp/NAME.log); PID in $!.
start() {
	local name=$1
	shift
	"$@" >>"$tmp/$name.log" 2>&1 &
	pids+=($!)
}
# stop PID - SIGTERM, then bounded wait, then SIGKILL.
stop() {
	local i
	kill -TERM "$1" 2>/dev/null
	for ((i = 0; i < 50; i++)); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null
}
ask() { printf '%b' "$2" | nc -w 3 "$IP" "$1" 2>/dev/null; }

# ---- 1. refusal, --allow-root, -c ----------------------------------------------------------------
mkdir -p "$tmp/root"
agent_conf "$tmp/root/agent.conf" $P_FULL "$tmp/root"
out=$(timeout 10 $AGENT -d -f "$tmp/root/agent.conf" 2>&1); rc=$?
expect "agent as root without user: exit 1" 1 "$rc"
expect_match "agent: the refusal names the key, the section and --allow-root" \
	"refusing to run as root: set 'user' \(and 'group'\) in \[agent\] of $tmp/root/agent.conf.*--allow-root" "$out"
printf '%s\n' "[spoa]" "listen = $IP:$P_SPOA" "status_listen = $IP:$P_STATUS" "heartbeat = 200ms" \
	"[cluster t]" "[node n1]" "cluster = t" "agent = $IP:$P_MIN" >"$tmp/spoa.conf"
out=$(timeout 10 $SPOA -d -f "$tmp/spoa.conf" 2>&1); rc=$?
expect "spoa as root without user: exit 1" 1 "$rc"
expect_match "spoa: the refusal names the key, the section and --allow-root" \
	"refusing to run as root: set 'user' \(and 'group'\) in \[spoa\] of $tmp/spoa.conf.*--allow-root" "$out"
for b in "$AGENT" "$SPOA"; do
	expect_match "$b --help documents --allow-root" "--allow-root" "$($b --help)"
done
agent_conf "$tmp/bad.conf" $P_FULL "$tmp/root" "user = hr-no-such-user-61"
out=$($AGENT -c -f "$tmp/bad.conf" 2>&1)
expect "-c: an unknown user, with file, line and key" "$tmp/bad.conf:10: key 'user': no such user (got \"hr-no-such-user-61\")" "$out"
printf '%s\n' "[spoa]" "user = nobody" "group = hr-no-such-group-61" >"$tmp/bad-spoa.conf"
out=$($SPOA -c -f "$tmp/bad-spoa.conf" 2>&1)
expect "spoa -c: an unknown group" "$tmp/bad-spoa.conf:3: key 'group': no such group (got \"hr-no-such-group-61\")" "$out"

# --allow-root: runs as root; haprolectl drain persists into the root-owned directory.
start root $AGENT --allow-root -d -f "$tmp/root/agent.conf"
root_pid=$!
wait_port $P_FULL || ko "agent --allow-root did not open its port"
expect "agent --allow-root runs as root" root "$(ps -o user= -p $root_pid | tr -d ' ')"
$CTL -s "$tmp/root/agent.sock" drain "control-as-root" >"$tmp/ctl-root.out" 2>&1
expect "kept as root, the agent persists a drain into a root-owned directory (exit 0)" 0 "$?"
expect_match "the state file holds the drain" "drain" "$(cat "$tmp/root/agent.state" 2>/dev/null)"
stop $root_pid

# ---- 2. user = nobody ------------------------------------------------------------------------
mkdir -p "$tmp/drop"
agent_conf "$tmp/drop/agent.conf" $P_DROP "$tmp/drop" "user = nobody"
start drop $AGENT -d -f "$tmp/drop/agent.conf"
drop_pid=$!
wait_port $P_DROP || ko "agent with user = nobody did not open its port"
expect "ps: the agent runs as nobody" nobody "$(ps -o user= -p $drop_pid | tr -d ' ')"
st=$(cat "/proc/$drop_pid/status" 2>/dev/null)
expect "real, effective, saved and fs uid are nobody's" "65534 65534 65534 65534" \
	"$(printf '%s\n' "$st" | awk '/^Uid:/ {print $2, $3, $4, $5}')"
g=$(id -g nobody)
expect "real, effective, saved and fs gid are nobody's" "$g $g $g $g" \
	"$(printf '%s\n' "$st" | awk '/^Gid:/ {print $2, $3, $4, $5}')"
expect "no supplementary group of root's is left" "$(id -G nobody)" \
	"$(printf '%s\n' "$st" | awk '/^Groups:/ {$1 = ""; print}' | xargs)"
expect "the agent-check listener answers after the drop" "fail ready #pg" \
	"$(ask $P_DROP 'writer\n' | sed 's/:.*//')"
expect "the HTTP listener answers after the drop" n1 "$(curl -s -m 5 "http://$IP:$P_DROP/status" | jq -r .node)"
expect "the admin socket was handed to nobody:$NOGROUP" "nobody:$NOGROUP" \
	"$(stat -c %U:%G "$tmp/drop/agent.sock")"
expect_match "the log says who it runs as" "running as uid 65534 gid $g, dropped from root to user nobody" \
	"$(cat "$tmp/drop.log")"
# The state directory is root's (0755): the dropped agent cannot write there.
$CTL -s "$tmp/drop/agent.sock" drain "must-not-persist" >"$tmp/ctl-drop.out" 2>&1
rc=$?
[ "$rc" != 0 ] && ok "dropped, the agent cannot write into a root-owned directory: drain refused (exit $rc)" ||
	ko "dropped, the agent wrote into a root-owned directory: drain exit 0"
expect_match "the refusal is a permission error" "Permission denied" "$(cat "$tmp/drop.log")"
expect "no state file was written" absent "$([ -e "$tmp/drop/agent.state" ] && echo present || echo absent)"
expect "the node is still ready" "ready" "$(curl -s -m 5 "http://$IP:$P_DROP/status" | jq -r .admin)"
# SIGHUP with another user: kept, and said.
sed -i 's/^user = nobody$/user = root/' "$tmp/drop/agent.conf"
sed -i "s/^listen = .*/listen = $IP:637/" "$tmp/drop/agent.conf" # privileged: needs root
kill -HUP $drop_pid
for ((i = 0; i < 50; i++)); do grep -q "key 'user' changed" "$tmp/drop.log" && break; sleep 0.1; done
expect_match "reload: a changed user needs a restart" \
	"reload: key 'user' changed from \"nobody\" to \"root\": needs a restart, keeping \"nobody\" \(root was given up at start\)" "$(cat "$tmp/drop.log")"
expect_match "reload: a new privileged port needs a restart" \
	"reload: key 'listen' changed from \"$IP:$P_DROP\" to \"$IP:637\": needs a restart, keeping \"$IP:$P_DROP\" \(root was given up at start\)" "$(cat "$tmp/drop.log")"
expect "after the reload the agent still runs as nobody" nobody "$(ps -o user= -p $drop_pid | tr -d ' ')"
expect "and still answers" n1 "$(curl -s -m 5 "http://$IP:$P_DROP/status" | jq -r .node)"
stop $drop_pid

# ---- 3. expose: full against minimal -----------------------------------------------------------
mkdir -p "$tmp/full" "$tmp/min"
chown nobody "$tmp/full" "$tmp/min" # state files: the dropped agents persist the drain below
agent_conf "$tmp/full/agent.conf" $P_FULL "$tmp/full" "user = nobody" "expose = full"
agent_conf "$tmp/min/agent.conf" $P_MIN "$tmp/min" "user = nobody" "expose = minimal"
start full $AGENT -d -f "$tmp/full/agent.conf"
full_pid=$!
start min $AGENT -d -f "$tmp/min/agent.conf"
min_pid=$!
wait_port $P_FULL && wait_port $P_MIN || ko "the full and minimal agents did not open their ports"
# the probe's first failure may take a moment: wait for the error text on the full agent
for ((i = 0; i < 50; i++)); do
	[ "$(curl -s -m 2 "http://$IP:$P_FULL/status" | jq -r .pg.err)" != "" ] && break
	sleep 0.1
done
expect_match "full: the agent-check reply quotes libpq's error" "#pg: .*$P_CLOSED" "$(ask $P_FULL 'writer\n')"
expect "minimal: the agent-check reply keeps the state words and the source" "fail ready #pg" \
	"$(ask $P_MIN 'writer\n')"
for d in full min; do
	$CTL -s "$tmp/$d/agent.sock" drain "secret-reason-61" >/dev/null 2>&1 ||
		ko "$d: haprolectl drain (dropped agent, state directory its own) failed"
done
jf=$(curl -s -m 5 "http://$IP:$P_FULL/status")
jm=$(curl -s -m 5 "http://$IP:$P_MIN/status")
expect_match "full: /status shows libpq's error with the address" "$P_CLOSED" "$(echo "$jf" | jq -r .pg.err)"
expect "minimal: /status shows that there is an error, not its text" error "$(echo "$jm" | jq -r .pg.err)"
expect "full: /status shows the admin reason" secret-reason-61 "$(echo "$jf" | jq -r .admin_reason)"
expect "minimal: /status hides the admin reason" "" "$(echo "$jm" | jq -r .admin_reason)"
expect "minimal: /status keeps the admin state routing reads" drain "$(echo "$jm" | jq -r .admin)"
expect "minimal: /status keeps the postgres verdict routing reads" "false unknown" \
	"$(echo "$jm" | jq -r '"\(.pg.up) \(.pg.role)"')"
expect "minimal: no address, no reason anywhere in /status" 0 "$(echo "$jm" | grep -c -e "$P_CLOSED" -e secret-reason)"
expect "minimal: none in the Patroni-style body's why either" 0 \
	"$(curl -s -m 5 "http://$IP:$P_MIN/health" | grep -c -e "$P_CLOSED" -e secret-reason)"
expect "minimal: the drained reply names only the source" "fail drain #admin" "$(ask $P_MIN 'writer\n')"
ask $P_FULL 'SUBSCRIBE\n' >"$tmp/feed-full" &
f1=$!
ask $P_MIN 'SUBSCRIBE\n' >"$tmp/feed-min" &
f2=$!
sleep 1 # the feed streams until nc's -w: one second of it is several heartbeats
kill $f1 $f2 2>/dev/null
wait $f1 $f2 2>/dev/null
expect "full: the feed carries the error text" "$P_CLOSED" "$(grep -a -o "$P_CLOSED" "$tmp/feed-full" | head -1)"
expect "full: the feed carries the admin reason" secret-reason-61 "$(grep -a -o secret-reason-61 "$tmp/feed-full" | head -1)"
expect "minimal: the feed has frames" yes "$([ -s "$tmp/feed-min" ] && echo yes || echo empty)"
expect "minimal: no error text in the feed" 0 "$(grep -a -c "$P_CLOSED" "$tmp/feed-min")"
expect "minimal: no admin reason in the feed" 0 "$(grep -a -c secret-reason-61 "$tmp/feed-min")"
# the feed's readers: haprolectl and haprole-spoa (dropped to nobody as well)
cj=$($CTL -a "$IP:$P_MIN" --json status 2>/dev/null)
expect "haprolectl reads the minimal agent's feed: node n1 reachable" "n1 true" \
	"$(echo "$cj" | jq -r '.nodes[0] | "\(.name) \(.reachable)"')"
sed -i "/^\[spoa\]$/a user = nobody" "$tmp/spoa.conf"
start spoa $SPOA -d -f "$tmp/spoa.conf"
spoa_pid=$!
wait_port $P_STATUS || ko "haprole-spoa with user = nobody did not open its status port"
expect "ps: haprole-spoa runs as nobody" nobody "$(ps -o user= -p $spoa_pid | tr -d ' ')"
expect "haprole-spoa: uids dropped" "65534 65534 65534 65534" \
	"$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$spoa_pid/status" 2>/dev/null)"
for ((i = 0; i < 50; i++)); do
	v=$(curl -s -m 2 "http://$IP:$P_STATUS/" | jq -r '.clusters[0].nodes[0] | "\(.known) \(.admin)"' 2>/dev/null)
	[ "$v" = "true drain" ] && break
	sleep 0.1
done
expect "haprole-spoa (dropped) reads the minimal agent's feed: n1 known, drain" "true drain" "$v"
(exec 3<>"/dev/tcp/$IP/$P_SPOA") 2>/dev/null && ok "haprole-spoa's SPOP listener accepts after the drop" ||
	ko "haprole-spoa's SPOP listener does not accept after the drop"
stop $spoa_pid
stop $full_pid
stop $min_pid

[ "$fails" = 0 ] && echo "ok: least privilege and expose = minimal" || echo "FAIL: $fails check(s)"
exit $((fails > 0))
