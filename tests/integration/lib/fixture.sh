# tests/integration/lib/fixture.sh - the house style of an integration test: the binaries under
# test, its address/port block, its work directory with the processes it started stopped at
# exit, and how it fails. Source it (bash) after the libs whose servers it should stop
# (lib/haproxy.sh, lib/pg.sh: their cleanup runs when they are loaded):
#
#   . tests/integration/lib/fixture.sh
#   fix_need ./haprole-spoa build/bench/feed-fake python3 curl   # else skip (exit 77)
#   fix_block test_spoa_rule          # this test's block: NET, IP (its first address), PORT
#   fix_ports SPOA_PORT STATUS_PORT   # consecutive ports of the block into these variables
#   fix_addrs DB1 DB2                 # consecutive addresses of the block (IP, IP+1, ...)
#   fix_tmp spoa-rule                 # tmp=/tmp/haprole-spoa-rule.XXXXXX, PIDS=(), SPOA_PID=,
#                                     # EXIT trap fix_cleanup
#   some_daemon & PIDS+=($!)          # stopped by pid at exit
#   FIX_LOGS="spoa.log agent*.log"    # what fail shows (globs in $tmp; default spoa.log)
#   fail "writer not db1"             # "FAIL writer not db1", the logs' tails, exit 1
#
# Binaries under test, one name each (set them to test another build): HAPROLE_AGENT,
# HAPROLE_SPOA, HAPROLE_CTL (default ./haprole-agent, ./haprole-spoa, ./haprolectl, run from
# the repository root). Checks print through lib/expect.sh (ok / ko / expect / expect_match).
#
# Address/port blocks: FIX_BLOCKS below is the one table of them (tests/integration/
# test_blocks.sh checks it): a test asks for its block by name instead of hand-picking numbers,
# so two tests that run in parallel (tests/integration/run.sh) never bind the same address and
# port. A new test takes a new line, with ports below 32768 (the kernel's ephemeral range
# starts there). Bench scripts (bench/NAME.sh) ask for theirs the same way (bench/NAME). The
# line marked "hand" is the netns demo's block, picked inside docker/ itself, listed so that a
# new block stays clear of it; a test's or bench script's line is never "hand" (test_blocks.sh
# fails on one).
#
# Before it removes the work directory fix_cleanup calls fix_pre_cleanup when the test defines
# one, and keeps the directory (saying where) when FIX_KEEP_TMP is set.

. "$(dirname "${BASH_SOURCE[0]}")/expect.sh"
. "$(dirname "${BASH_SOURCE[0]}")/skip.sh"
. "$(dirname "${BASH_SOURCE[0]}")/proc.sh"

fails=${fails:-0} # ko counts the failed checks here
HAPROLE_AGENT=${HAPROLE_AGENT:-./haprole-agent}
HAPROLE_SPOA=${HAPROLE_SPOA:-./haprole-spoa}
HAPROLE_CTL=${HAPROLE_CTL:-./haprolectl}
FIX_LOGS=${FIX_LOGS:-spoa.log}
FIX_LOG_LINES=${FIX_LOG_LINES:-20}

# NAME  ADDRESSES (a.b.c.d or a.b.c.d-e)  PORTS (first-last)  [hand]
FIX_BLOCKS="
test_spoa_haproxy       127.0.12.10        22100-22199
test_spoa_pg            127.0.12.40-52     22200-22299
test_spoa_reload        127.0.43.10        32520-32529
test_spoa_rule          127.0.43.11        32530-32539
test_spoa_hold          127.0.46.10-13     25000-25019
test_push               127.0.48.10-22     35000-35099
test_agent_cluster      127.0.11.131-133   21580-21599
test_agent_port         127.0.11.203       21510-21519
test_agent_restart      127.0.11.62-63     21620-21629
test_probe_pg           127.0.11.1-2       21432-21433
test_probe_http         127.0.11.3         21080-21081
test_probe_https        127.0.63.3         38000-38002
test_layout_distributed 127.0.42.1-5       31000-31019
test_layout_standalone  127.0.42.41-45     31020-31039
test_layout_active_active 127.0.42.81-85   31040-31059
test_ops_drain          127.0.13.1-3       23100-23109
test_ops_fence          127.0.13.4-6       23110-23119
test_ops_cli            127.0.45.1         33510-33519
test_drain_http         127.0.63.10-12     38010-38019
test_patroni_compat     127.0.41.1-5       25200-25229
test_lua_router         127.0.47.10        25100-25119
test_hostile            127.0.48.51-53     35200-35299
test_privdrop           127.0.61.1         37000-37199
bench/agent-replies     127.0.11.150-166   21550-21559
bench/spoa-bench        127.0.12.30        22930-22939
bench/spoa-haproxy-bench 127.0.12.31       22940-22949
bench/lua-haproxy-bench 127.0.47.31        25130-25139
bench/push-haproxy-bench 127.0.48.31       25140-25149
bench/http-routers      127.0.64.10        25150-25159
demo                    127.0.14.1-22      24000-24999  hand
"

# fix_block NAME - this test's block from FIX_BLOCKS: NET (a.b.c), IP (its first address),
# IP_LAST (its last), PORT and PORT_LAST. Ends the test (fail) when NAME has no line.
fix_block() {
	local line
	line=$(printf '%s\n' "$FIX_BLOCKS" | awk -v n="$1" '$1 == n { print $2, $3; exit }')
	[ -n "$line" ] || fail "no address/port block named $1 in tests/integration/lib/fixture.sh"
	IP=${line%%[- ]*}
	NET=${IP%.*}
	IP_LAST=${line%% *}
	IP_LAST=$NET.${IP_LAST##*[.-]}
	PORT=${line##* }
	PORT_LAST=${PORT#*-}
	PORT=${PORT%-*}
}

# fix_ports VAR... - sets each VAR to the next port of the block (PORT, PORT+1, ...); ends the
# test (fail) when the block has too few.
fix_ports() {
	local v p=$PORT
	for v in "$@"; do
		[ "$p" -le "$PORT_LAST" ] || fail "block $PORT-$PORT_LAST has no room for $v"
		printf -v "$v" '%s' "$p"
		p=$((p + 1))
	done
}

# fix_addrs VAR... - sets each VAR to the next address of the block (IP, IP+1, ...); ends the
# test (fail) when the block has too few.
fix_addrs() {
	local v h=${IP##*.}
	for v in "$@"; do
		[ "$h" -le "${IP_LAST##*.}" ] || fail "block $IP-${IP_LAST##*.} has no address for $v"
		printf -v "$v" '%s' "$NET.$h"
		h=$((h + 1))
	done
}

# fix_blocks_check - prints every pair of FIX_BLOCKS lines that share an address and a port
# (at least one of them not "hand"), and every name listed twice; returns 1 when any.
fix_blocks_check() {
	printf '%s\n' "$FIX_BLOCKS" | awk '
	NF >= 3 {
		n++; name[n] = $1; hand[n] = ($4 == "hand")
		split($2, a, "-"); split(a[1], o, "."); net[n] = o[1] "." o[2] "." o[3]
		h1[n] = o[4]; h2[n] = (2 in a) ? a[2] : o[4]
		split($3, p, "-"); p1[n] = p[1]; p2[n] = (2 in p) ? p[2] : p[1]
		if (seen[$1]++) { print "listed twice: " $1; bad = 1 }
		if (h1[n] > h2[n] || p1[n] > p2[n] || h2[n] > 255 || p2[n] > 65535) {
			print "malformed: " $0; bad = 1
		}
	}
	END {
		for (i = 1; i <= n; i++)
			for (j = i + 1; j <= n; j++) {
				if (hand[i] && hand[j]) continue
				if (net[i] != net[j] || h1[i] > h2[j] || h1[j] > h2[i]) continue
				if (p1[i] > p2[j] || p1[j] > p2[i]) continue
				print "overlap: " name[i] " and " name[j]; bad = 1
			}
		exit bad
	}'
}

# fix_need THING... - each THING with a slash must be an executable file (built by make), each
# other one a command on PATH; else skips the test (avoidable: make / make deps provides them).
fix_need() {
	local b
	for b in "$@"; do
		case $b in
		*/*) [ -x "$b" ] || skip "$b not built (make)" ;;
		*) command -v "$b" >/dev/null 2>&1 || skip "$b missing (make deps)" ;;
		esac
	done
}

# fix_tmp NAME - the work directory (tmp, mode 0755: servers run as other users read it), the
# pid list PIDS, SPOA_PID, and the EXIT trap.
fix_tmp() {
	tmp=$(mktemp -d "/tmp/haprole-$1.XXXXXX") || exit 1
	chmod 0755 "$tmp"
	PIDS=()
	SPOA_PID=
	trap fix_cleanup EXIT
}

# fix_cleanup - the EXIT trap: fix_pre_cleanup (when defined), every HAProxy of lib/haproxy.sh,
# every pid in PIDS and SPOA_PID (SIGTERM to all, then stop_pid each: bounded), every server of
# lib/pg.sh, then the work directory.
fix_cleanup() {
	local p
	declare -F fix_pre_cleanup >/dev/null && fix_pre_cleanup
	declare -F hap_cleanup_all >/dev/null && hap_cleanup_all
	for p in "${PIDS[@]}" $SPOA_PID; do
		kill "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}" $SPOA_PID; do
		stop_pid "$p"
	done
	declare -F pg_cleanup_all >/dev/null && pg_cleanup_all
	if [ -n "${FIX_KEEP_TMP:-}" ]; then
		echo "kept $tmp"
	else
		rm -rf "$tmp"
	fi
}

# fail WHAT - a failed check that ends the test: "FAIL WHAT", the last FIX_LOG_LINES lines of
# each log of FIX_LOGS found in $tmp, exit 1.
fail() {
	local f g
	ko "$*"
	[ -n "${tmp:-}" ] || exit 1
	for g in $FIX_LOGS; do
		for f in "$tmp"/$g; do
			[ -f "$f" ] && { echo "--- $f (last $FIX_LOG_LINES lines)"; tail -n "$FIX_LOG_LINES" "$f"; }
		done
	done
	exit 1
}
