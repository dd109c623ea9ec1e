# tests/integration/lib/ops.sh - helpers of the ops integration tests (test_ops_*.sh, issue 5):
# write an agent config for one node, start / kill / restart its agent by pid, ask its port.
# Source it (bash) after setting OPS_TMP (a mktemp -d directory), or after lib/fixture.sh and
# call ops_tmp. Addresses and ports: the test's block (lib/fixture.sh). Functions return 0/1
# and never exit.
#
#   ops_agent_conf NAME ADDR PORT PGADDR PGPORT PEERNAME PEERADDR:PEERPORT
#   ops_agent_start NAME          # runs ./haprole-agent -d, log in $OPS_TMP/NAME.log
#   ops_agent_kill9 NAME          # SIGKILL, as a crash or an OOM kill would
#   ops_ask ADDR PORT LINE        # one agent-check exchange: prints the agent's line
#   ops_wait_line ADDR PORT CHECK REGEX SECONDS
#   ops_cleanup                   # SIGKILL every agent started here (EXIT trap)

. "$(dirname "${BASH_SOURCE[0]}")/proc.sh" # stop_pid

OPS_AGENT=${OPS_AGENT:-${HAPROLE_AGENT:-./haprole-agent}}
declare -A OPS_PIDS=()

ops_log() {
	echo "ops.sh: $*" >&2
}

# ops_agent_conf NAME ADDR PORT PGADDR PGPORT PEERNAME PEER - one agent per PostgreSQL node, with
# checks writer and reader, heartbeat 200 ms, admin socket and state file in $OPS_TMP.
ops_agent_conf() {
	local name=$1 addr=$2 port=$3 pgaddr=$4 pgport=$5 peer=$6 peeraddr=$7
	cat >"$OPS_TMP/$name.conf" <<EOF
[agent]
cluster = opstest
node = $name
listen = $addr:$port
heartbeat = 200ms
shutdown_grace = 200ms
log_level = info
admin_socket = $OPS_TMP/$name.sock
state_file = $OPS_TMP/$name.state
[postgres]
conninfo = hostaddr=$pgaddr port=$pgport user=postgres dbname=postgres
interval = 100ms
rise = 1
fall = 1
[check writer]
kind = writer
[check reader]
kind = reader
[peer $peer]
address = $peeraddr
EOF
}

# ops_agent_start NAME - starts the agent of $OPS_TMP/NAME.conf, waits (10 s) for its port.
ops_agent_start() {
	local name=$1 listen addr port i
	listen=$(sed -n 's/^listen = //p' "$OPS_TMP/$name.conf")
	addr=${listen%:*}
	port=${listen##*:}
	"$OPS_AGENT" --allow-root -d -f "$OPS_TMP/$name.conf" 2>>"$OPS_TMP/$name.log" &
	OPS_PIDS[$name]=$!
	disown "${OPS_PIDS[$name]}" # no "Killed" job notices from ops_agent_kill9 / ops_cleanup
	for i in $(seq 1 100); do
		if ! kill -0 "${OPS_PIDS[$name]}" 2>/dev/null; then
			ops_log "agent $name exited at start:"
			tail -n 20 "$OPS_TMP/$name.log" >&2
			return 1
		fi
		[ -n "$(ops_ask "$addr" "$port" writer)" ] && return 0
		sleep 0.1
	done
	ops_log "agent $name did not answer on $listen within 10 s"
	return 1
}

# ops_agent_kill9 NAME - SIGKILL, then waits (5 s) until the process is gone.
ops_agent_kill9() {
	[ -z "${OPS_PIDS[$1]:-}" ] && return 1
	stop_pid "${OPS_PIDS[$1]}" KILL
	unset "OPS_PIDS[$1]"
	return 0
}

# ops_ask ADDR PORT LINE - the agent-check line the agent answers to LINE.
ops_ask() {
	printf '%s\n' "$3" | nc -w 2 "$1" "$2" 2>/dev/null
}

# ops_wait_line ADDR PORT CHECK REGEX SECONDS - polls the check every 0.1 s until its line
# matches REGEX (grep -E); on timeout prints the last line and returns 1.
ops_wait_line() {
	local addr=$1 port=$2 check=$3 re=$4 secs=$5 got="" i
	for i in $(seq 1 $((secs * 10))); do
		got=$(ops_ask "$addr" "$port" "$check")
		printf '%s' "$got" | grep -Eq -- "$re" && return 0
		sleep 0.1
	done
	ops_log "$addr:$port check $check: wanted /$re/ within ${secs}s, last \"$got\""
	return 1
}

# ops_cleanup - SIGKILLs every agent still running (EXIT trap).
ops_cleanup() {
	local n
	for n in "${!OPS_PIDS[@]}"; do
		kill -KILL "${OPS_PIDS[$n]}" 2>/dev/null
	done
	OPS_PIDS=()
	return 0
}

# ---- shared by test_ops_drain.sh and test_ops_fence.sh -----------------------------------------
# They source lib/pg.sh, lib/haproxy.sh and lib/fixture.sh before this file, and call ops_tmp.

# ops_tmp NAME - the work directory of lib/fixture.sh (fix_tmp NAME: tmp, PIDS, the EXIT trap,
# which stops the agents of ops_agent_start too) as OPS_TMP, owned by postgres; HSOCK, HAProxy's
# stats socket in it; fails=0.
ops_tmp() {
	fix_tmp "$1"
	OPS_TMP=$tmp
	chown postgres: "$OPS_TMP"
	HSOCK=$OPS_TMP/haproxy.sock
	FIX_LOGS="db1.log db2.log pg1.log pg2.log"
	fails=0
	fix_pre_cleanup() { ops_cleanup; }
}

# ops_pg_pair DIR1 A1 PG1 DIR2 A2 PG2 [SQL] - PostgreSQL primary A1:PG1 (data directory DIR1),
# SQL run on it, and its streaming standby A2:PG2 (DIR2): started; waits (30 s) until it streams.
# Two servers on one port need data directories with different parents (the unix socket).
ops_pg_pair() {
	pg_init_primary "$1" "$3" "$2" && pg_start "$1" || return 1
	if [ -n "${7:-}" ]; then
		pg_psql "$2" "$3" "$7" >/dev/null || return 1
	fi
	pg_make_standby "$2" "$3" "$4" "$6" "$5" && pg_start "$4" || return 1
	pg_wait_streaming "$5" "$6" 30
}

# re_quote STRING - STRING with the dots of an address escaped, for a regex.
re_quote() { printf '%s' "${1//./\\.}"; }

# ops_require CTL - 0 when PostgreSQL, HAProxy, nc, jq, curl, ./haprole-agent and CTL are there;
# else says why and returns the exit status the test should take (77 skip, 1 fail).
ops_require() {
	local b
	pg_require || return 77
	hap_require || return 77
	for b in nc jq curl; do
		command -v "$b" >/dev/null 2>&1 || { echo "skip: $b not found"; return 77; }
	done
	[ -x "$OPS_AGENT" ] && [ -x "$1" ] || { echo "FAIL: $OPS_AGENT/$1 not built (make)"; return 1; }
	return 0
}

# ok, ko, expect, expect_match: lib/expect.sh (a match shown by its first line, 400 chars of
# a failed value, as the ops tests always did).
. "${BASH_SOURCE[0]%/*}/expect.sh"
EXPECT_ONE_LINE=1
EXPECT_GOT=400
# hap_status BACKEND SERVER - HAProxy's status of a server (UP, DOWN, DRAIN, MAINT, ...).
hap_status() { hap_server_field "$HSOCK" "$1" "$2" status; }
# wait_status BACKEND SERVER WANT - polls (20 s) until the status is WANT, or "WANT (agent)".
wait_status() {
	local s="" i
	for i in $(seq 1 200); do
		s=$(hap_status "$1" "$2")
		case $s in "$3" | "$3 "*) ok "HAProxy $1/$2 is $s"; return 0 ;; esac
		sleep 0.1
	done
	ko "HAProxy $1/$2 never became $3 (last \"$s\")"
	return 1
}

# ops_pair_up A1 P1 PG1 A2 P2 PG2 - agents db1 (A1:P1, PostgreSQL A1:PG1) and db2 (A2:P2,
# A2:PG2), peers of each other, started; waits (20 s) for db1's writer check to say up ready.
ops_pair_up() {
	ops_agent_conf db1 "$1" "$2" "$1" "$3" db2 "$4:$5"
	ops_agent_conf db2 "$4" "$5" "$4" "$6" db1 "$1:$2"
	ops_agent_start db1 && ops_agent_start db2 || return 1
	ops_wait_line "$1" "$2" writer '^up ready' 20
}
