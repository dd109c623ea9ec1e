# tests/integration/lib/haproxy.sh - a real HAProxy for integration tests: start one from a
# config (Debian's 2.6, or a 3.x unpacked under a root directory), ask its stats socket, poll
# a server's state with a bounded wait, stop it by pid. Source it (bash):
#
#   . tests/integration/lib/haproxy.sh
#   hap_require || exit 77                     # prints why and returns 1 when it cannot run
#   hap_start "$tmp/haproxy.cfg" [ROOT] || exit 1   # ROOT: dir holding usr/sbin/haproxy 3.x
#   hap_cmd "$tmp/stats.sock" "show servers state"
#   hap_server_field "$tmp/stats.sock" be_pg db1 status     # UP, DOWN, DRAIN, MAINT, ...
#   hap_status_is "$tmp/stats.sock" be_pg db1 DOWN MAINT   # its status starts so
#   hap_wait_field "$tmp/stats.sock" be_pg db1 status UP 20 # polls every 0.1 s, at most 20 s
#   hap_stop                                   # also in your EXIT trap: hap_cleanup_all
#
# The stats socket is read with `nc -U` (netcat-openbsd; python3 without it), no socat needed.
# A 3.x from a root directory (e.g. a Debian trixie chroot made by debootstrap) runs with that
# root's dynamic loader and libraries, outside the chroot, so config paths and sockets stay ours.
# Functions return 0 on success, 1 on failure with a line on stderr; nothing here calls exit.

# sourced twice (a test, then the failover suite's lib): keep the pids already recorded
[ -n "${HAP_LIB_SOURCED:-}" ] && return 0
HAP_LIB_SOURCED=1
HAP_BIN=${HAP_BIN:-/usr/sbin/haproxy}
# pids of every haproxy started through hap_start, for hap_cleanup_all
HAP_LIB_PIDS=()
# pid of the last one started
HAP_PID=

hap_log() {
	echo "haproxy.sh: $*" >&2
}

# hap_require [ROOT] - 0 when haproxy (and nc -U) can run here, else prints why, returns 1.
hap_require() {
	local root=${1:-}
	if [ -n "$root" ]; then
		if [ ! -x "$root/usr/sbin/haproxy" ]; then
			echo "skip: $root/usr/sbin/haproxy not found"
			return 1
		fi
	elif [ ! -x "$HAP_BIN" ]; then
		echo "skip: $HAP_BIN not found (apt-get install haproxy)"
		return 1
	fi
	if ! command -v nc >/dev/null 2>&1; then
		echo "skip: nc not found (apt-get install netcat-openbsd)"
		return 1
	fi
	return 0
}

# hap_cmdline [ROOT] - prints the command that runs haproxy (from ROOT when given).
hap_cmdline() {
	local root=${1:-}
	if [ -z "$root" ]; then
		echo "$HAP_BIN"
		return 0
	fi
	local ld
	ld=$(ls "$root"/lib64/ld-linux-*.so.* "$root"/lib/*/ld-linux-*.so.* 2>/dev/null | head -n 1)
	if [ -z "$ld" ]; then
		hap_log "no dynamic loader under $root"
		return 1
	fi
	echo "$ld --library-path $root/lib/x86_64-linux-gnu:$root/usr/lib/x86_64-linux-gnu $root/usr/sbin/haproxy"
}

# hap_version [ROOT] - prints "2.6.12" or so.
hap_version() {
	local cmd
	cmd=$(hap_cmdline "${1:-}") || return 1
	$cmd -v 2>/dev/null | sed -n 's/^HA-\{0,1\}Proxy version \([0-9.]*\).*/\1/p' | head -n 1
}

# hap_start CFG [ROOT] - checks CFG, then runs haproxy in the foreground mode (-db) in the
# background; its output goes to CFG.log. Sets HAP_PID. Waits (bounded, 10 s) until the
# stats socket named in CFG ("stats socket PATH") answers, when there is one.
hap_start() {
	local cfg=$1 root=${2:-} cmd sock i
	cmd=$(hap_cmdline "$root") || return 1
	if ! $cmd -c -q -f "$cfg" >"$cfg.check.log" 2>&1; then
		hap_log "config $cfg refused:"
		cat "$cfg.check.log" >&2
		return 1
	fi
	$cmd -db -f "$cfg" >"$cfg.log" 2>&1 &
	HAP_PID=$!
	HAP_LIB_PIDS+=("$HAP_PID")
	sock=$(sed -n 's/^[[:space:]]*stats socket[[:space:]]\{1,\}\([^[:space:]]*\).*/\1/p' "$cfg" | head -n 1)
	[ -z "$sock" ] && return 0
	for i in $(seq 1 100); do
		if ! kill -0 "$HAP_PID" 2>/dev/null; then
			hap_log "haproxy exited at start:"
			tail -n 20 "$cfg.log" >&2
			return 1
		fi
		if [ -S "$sock" ] && hap_cmd "$sock" "show info" | grep -q '^Pid:'; then
			return 0
		fi
		sleep 0.1
	done
	hap_log "stats socket $sock did not answer within 10 s"
	return 1
}

# hap_cmd SOCK CMD - sends one command to the stats socket, prints the answer (2 s at most).
# The one stats-socket reader of the tests, the failover suite and docker/demo.sh: nc -U, or
# python3 where there is no nc.
hap_cmd() {
	if command -v nc >/dev/null 2>&1; then
		printf '%s\n' "$2" | nc -U -w 2 "$1" 2>/dev/null
		return
	fi
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n"); out = b""
while True:
    d = s.recv(65536)
    if not d: break
    out += d
sys.stdout.write(out.decode(errors="replace"))' "$1" "$2" 2>/dev/null
}

# hap_server_field SOCK BACKEND SERVER FIELD - prints one field of `show stat` for a server:
# status (UP, DOWN, DRAIN, MAINT, "UP 1/2"...), weight, check_status, agent_status,
# last_agt (the agent's last reply text), ... (header names of `show stat`).
hap_server_field() {
	local sock=$1 be=$2 srv=$3 field=$4
	hap_cmd "$sock" "show stat" | awk -F, -v be="$be" -v srv="$srv" -v f="$field" '
		NR == 1 { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
		$1 == be && $2 == srv { print $(col[f]); exit }'
}

# hap_status_is SOCK BACKEND SERVER PREFIX... - 0 when the server's status starts with one of
# the PREFIXes ("UP", "DOWN", "DRAIN", "MAINT"; 2.6 says "DOWN (agent)", "UP 1/2" ...).
hap_status_is() {
	local st p
	# (not the pipeline's status: under pipefail, awk's early exit may fail the reader)
	st=$(hap_server_field "$1" "$2" "$3" status) || :
	[ -n "$st" ] || return 1
	shift 3
	for p in "$@"; do
		case $st in "$p"*) return 0 ;; esac
	done
	return 1
}

# hap_wait_field SOCK BACKEND SERVER FIELD WANT SECONDS - polls until the whole field matches
# the extended regex WANT (e.g. "UP", "DOWN.*": 2.6 says "DOWN (agent)" when only the agent
# check fails), at most SECONDS. Prints the last value seen on failure.
hap_wait_field() {
	local sock=$1 be=$2 srv=$3 field=$4 want=$5 secs=$6 v="" i
	for i in $(seq 1 $((secs * 10))); do
		v=$(hap_server_field "$sock" "$be" "$srv" "$field")
		printf '%s\n' "$v" | grep -Eqx -- "$want" && return 0
		sleep 0.1
	done
	hap_log "$be/$srv $field: wanted \"$want\" within ${secs}s, last \"$v\""
	return 1
}

# hap_servers_state SOCK BACKEND - `show servers state BACKEND` without the header lines.
hap_servers_state() {
	hap_cmd "$1" "show servers state $2" | grep -v '^#' | grep -v '^1$' | sed '/^$/d'
}

# hap_stop [PID] - stops one haproxy (the last started by default), bounded: SIGUSR1 (soft
# stop), then SIGTERM after 3 s, SIGKILL after 6 s.
hap_stop() {
	local pid=${1:-$HAP_PID} i
	[ -z "$pid" ] && return 0
	kill -USR1 "$pid" 2>/dev/null || return 0
	for i in $(seq 1 60); do
		kill -0 "$pid" 2>/dev/null || return 0
		[ "$i" = 30 ] && kill -TERM "$pid" 2>/dev/null
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	return 0
}

# hap_cleanup_all - stops every haproxy started through hap_start (for EXIT traps).
hap_cleanup_all() {
	local p
	for p in "${HAP_LIB_PIDS[@]}"; do
		hap_stop "$p"
	done
	HAP_LIB_PIDS=()
}
