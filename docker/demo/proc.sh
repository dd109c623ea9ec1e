# docker/demo/proc.sh - the supervisor: messages, bounded waits, namespaces, processes started in
# the background and stopped by pid (tests/integration/lib/proc.sh), the harness state file.
# Sourced by docker/demo.sh (bash, set -euo pipefail), which sets the layout variables first.

say() { printf 'demo: %s\n' "$*"; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }

# wait_for SECONDS WHAT CMD... : polls CMD every 0.1 s until it succeeds; dies after SECONDS.
# WAIT_LOG=FILE: on failure, the tail of that process log is printed too (the demo's logs are
# overwritten by its next start: a test's own log must say why).
wait_for() {
	local limit=$1 what=$2 i
	shift 2
	for ((i = 0; i < limit * 10; i++)); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	if [ -n "${WAIT_LOG:-}" ] && [ -f "$WAIT_LOG" ]; then
		printf 'demo: last lines of %s:\n' "$WAIT_LOG" >&2
		tail -n 20 "$WAIT_LOG" | sed 's/^/demo:   /' >&2
	fi
	die "$what: not ready after ${limit}s (see logs in $DEMO/)"
}

# try_for SECONDS CMD... : like wait_for, but returns 1 instead of dying.
try_for() {
	local limit=$1 i
	shift
	for ((i = 0; i < limit * 10; i++)); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	return 1
}

nsx() {
	local n=$1
	shift
	if [ "$MODE" = netns ]; then ip netns exec "hr-$n" "$@"; else "$@"; fi
}

pid_alive() { local f=$DEMO/pids/$1.pid; [ -s "$f" ] && proc_live "$(cat "$f")"; }
state_get() { [ -f "$STATE_FILE" ] && sed -n "s/^$1=//p" "$STATE_FILE" | tail -1; }
state_set() {
	touch "$STATE_FILE"
	sed -i "/^$1=/d" "$STATE_FILE"
	echo "$1=$2" >>"$STATE_FILE"
}

# ---- processes -----------------------------------------------------------------------------

# start_bg NAME NODE|- CMD... : starts CMD in the background (in NODE's namespace), records pid.
start_bg() {
	local name=$1 node=$2
	shift 2
	mkdir -p "$DEMO/pids" "$DEMO/logs"
	if [ "$node" = - ] || [ "$MODE" != netns ]; then
		setsid "$@" >>"$DEMO/logs/$name.log" 2>&1 </dev/null 9>&- &
	else
		setsid ip netns exec "hr-$node" "$@" >>"$DEMO/logs/$name.log" 2>&1 </dev/null 9>&- &
	fi
	echo $! >"$DEMO/pids/$name.pid"
}

# stop_named NAME [SIGNAL] : stops the recorded pid and forgets it (stop_pid: SIGNAL, SIGKILL
# after 5 s; start_bg made it a session leader, so its whole group goes, nginx workers too).
stop_named() {
	local f=$DEMO/pids/$1.pid
	[ -s "$f" ] || return 0
	stop_pid "$(cat "$f")" "${2:-TERM}"
	rm -f "$f"
}
