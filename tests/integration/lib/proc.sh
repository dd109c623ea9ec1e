# tests/integration/lib/proc.sh - is a process alive, and stop it by pid, bounded. Shared by the
# integration tests, the failover suite and docker/demo.sh. Source it (bash):
#
#   . tests/integration/lib/proc.sh
#   proc_live "$pid" && echo running          # exists and is not a zombie
#   stop_pid "$pid"                           # SIGTERM, SIGKILL after 5 s; always returns 0
#   stop_pid "$pid" KILL                      # SIGKILL at once
#
# A zombie counts as dead: PID 1 of a container may reap a SIGKILLed process late, and `kill -0`
# succeeds on a zombie. stop_pid signals PID's whole process group when PID leads one (a
# process started with setsid: nginx and its workers), else PID alone; the children it had when
# stop_pid was called get the SIGKILL too (an nginx master killed alone would leave its worker
# holding the port). Every wait is bounded; nothing here calls exit; safe under set -e.

# proc_live PID - 0 when PID exists and is not a zombie.
proc_live() {
	[ -n "$1" ] && [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# stop_pid PID [SIGNAL] - sends SIGNAL (default TERM) to PID (its group when it leads one),
# waits up to 5 s, then SIGKILLs it, its group and the children it had, and waits up to 5 s more.
# Reaps PID when it is a child of this shell. Returns 0 (nothing to stop is not an error).
stop_pid() {
	local p=$1 sig=${2:-TERM} kids i
	case $p in '' | *[!0-9]*) return 0 ;; esac
	if proc_live "$p"; then
		kids=$(pgrep -P "$p" 2>/dev/null) || :
		kill -"$sig" -- "-$p" 2>/dev/null || kill -"$sig" "$p" 2>/dev/null || :
		for ((i = 0; i < 100; i++)); do proc_live "$p" || break; sleep 0.05; done
		if proc_live "$p"; then
			kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || :
		fi
		# shellcheck disable=SC2086 # a list of pids
		[ -n "$kids" ] && { kill -KILL $kids 2>/dev/null || :; }
		for ((i = 0; i < 50; i++)); do proc_live "$p" || break; sleep 0.1; done
	fi
	wait "$p" 2>/dev/null || :
	return 0
}
