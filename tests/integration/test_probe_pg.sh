#!/bin/bash
# tests/integration/test_probe_pg.sh - the agent's postgres probe (agent/pg_probe.c) against a
# real PostgreSQL 15 primary and a pg_basebackup -R standby, through bench/pgp-watch (the probe
# alone on a libev loop, one line per change, a "tick" line every second from the same loop).
#
# Shows: primary role and timeline; standby role, streaming, lag 0 while the primary is idle;
# replay paused -> paused=1; a hung server (postmaster and backends SIGSTOPped) -> down by the
# query deadline while the loop keeps ticking; postmaster alone stopped + probe's backend gone
# -> the reconnect hangs in startup and the connect deadline fails it; primary stopped ->
# standby's streaming=0 (receive == replay is not "caught up"); pg_ctl promote -> role primary
# on timeline 2; a watcher with a 30 s interval and the data directory watched (inotify) still
# sees that promotion within the 10 s wait, by the event (its burst counter k moves). Delays are
# printed (measured), never asserted: bench/ owns timing.
# Its addresses and ports: block test_probe_pg of tests/integration/lib/fixture.sh.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib/pg.sh
. tests/integration/lib/probe.sh

pg_require || exit 77

WATCH=${PGP_WATCH:-build/bench/pgp-watch}
probe_watch_built "$WATCH" || exit 1

fix_block test_probe_pg
fix_addrs P_ADDR S_ADDR
fix_ports P_PORT S_PORT
fix_tmp probe-pg
fails=0
INTERVAL=100ms
TIMEOUT=500ms
ACCEPT_CHECK=200ms
PROBE_DUMP_LINES=20

now_ms() { date +%s%3N; }

# start_watch NAME CONNINFO - pgp-watch in the background, output in $tmp/NAME.out.
start_watch() {
	PROBE_WATCH_OPTS="-i $INTERVAL -t $TIMEOUT -c $TIMEOUT -a $ACCEPT_CHECK -r 2 -f 1" \
		probe_watch "$1" "$2"
}

echo "# starting primary $P_ADDR:$P_PORT and standby $S_ADDR:$S_PORT"
pg_init_primary "$tmp/pg1" $P_PORT $P_ADDR || exit 1
# log at info, so that step 5 can show the accept check writes nothing there
echo "log_min_messages = info" >>"$tmp/pg1/postgresql.conf"
pg_start "$tmp/pg1" || exit 1
pg_make_standby $P_ADDR $P_PORT "$tmp/pg2" $S_PORT $S_ADDR || exit 1
pg_start "$tmp/pg2" || exit 1
pg_wait_streaming $S_ADDR $S_PORT 30 || exit 1
pg_wait_caught_up $P_ADDR $P_PORT $S_ADDR $S_PORT 30 || exit 1
sysid=$(pg_psql $P_ADDR $P_PORT "select system_identifier from pg_control_system()")

start_watch A "hostaddr=$P_ADDR port=$P_PORT user=postgres dbname=postgres"
start_watch B "hostaddr=$S_ADDR port=$S_PORT user=postgres dbname=postgres"
# C: the standby again, probing only every 30 s, but told of promotions by its data directory
PROBE_WATCH_OPTS="-i 30s -t $TIMEOUT -c $TIMEOUT -a 0 -r 1 -f 1 -D $tmp/pg2" probe_watch C \
	"hostaddr=$S_ADDR port=$S_PORT user=postgres dbname=postgres"

# 1. roles
if l=$(wait_line "$tmp/A.out" 0 "up=1 role=primary tl=1 sysid=$sysid " 10); then
	ok "primary seen: ${l%% q=*}"
else
	ko "primary not seen as up primary tl 1 sysid $sysid"
	probe_dump A
fi
re="up=1 role=standby tl=1 sysid=$sysid .*streaming=1 paused=0"
if l=$(wait_line "$tmp/B.out" 0 "$re" 10); then
	ok "standby seen: ${l%% q=*}"
else
	ko "standby not seen as up, streaming standby"
	probe_dump B
fi

# 2. idle primary: lag stays 0 on the standby (2 s, ~20 probes). The rule under test:
# lag_ms is counted only while replay is behind receive (lag_bytes > 0), so it never grows with
# the age of the last commit. The server may write a little WAL on its own (checkpoints).
from=$(lines "$tmp/B.out")
sleep 2
changes=$(tail -n +"$((from + 1))" "$tmp/B.out" | grep -c '^[0-9]')
if tail -n +"$((from + 1))" "$tmp/B.out" | grep '^[0-9]' | grep -q 'lag_bytes=0 lag_ms=[1-9]'; then
	ko "idle standby reported lag_ms > 0 with nothing left to replay"
	probe_dump B
elif tail -n +"$((from + 1))" "$tmp/B.out" | grep '^[0-9]' | grep -q 'lag_ms=[1-9]'; then
	ko "idle standby reported lag_ms > 0 while the primary was idle"
	probe_dump B
else
	ok "idle standby: lag_ms stayed 0 over 2 s ($changes change lines)"
fi
ticks=$(tail -n +"$((from + 1))" "$tmp/B.out" | grep -c '^tick')
[ "$ticks" -ge 1 ] && ok "loop ticking ($ticks ticks in 2 s)" ||
	ko "no tick from the watcher's loop"

# 3. replay paused
from=$(lines "$tmp/B.out")
pg_psql $S_ADDR $S_PORT "select pg_wal_replay_pause()" >/dev/null
if l=$(wait_line "$tmp/B.out" "$from" "paused=1" 10); then
	ok "replay pause seen: ${l%% q=*}"
else
	ko "replay pause not seen"
	probe_dump B
fi
from=$(lines "$tmp/B.out")
pg_psql $P_ADDR $P_PORT \
	"create table t(i int); insert into t select generate_series(1, 1000)" >/dev/null
if l=$(wait_line "$tmp/B.out" "$from" "lag_bytes=[1-9].*paused=1" 10); then
	ok "paused standby shows WAL piling up: ${l%% q=*}"
else
	ko "paused standby shows no lag_bytes after a write on the primary"
	probe_dump B
fi
from=$(lines "$tmp/B.out")
pg_psql $S_ADDR $S_PORT "select pg_wal_replay_resume()" >/dev/null
if l=$(wait_line "$tmp/B.out" "$from" "lag_bytes=0 lag_ms=0 streaming=1 paused=0" 10); then
	ok "replay resumed and caught up: ${l%% q=*}"
else
	ko "resume not seen"
	probe_dump B
fi

# 3b. the query's row and its end (ReadyForQuery) in two reads, 50 ms apart (lib/pg_split_proxy.py
# between the probe and the primary): every query still counts as a success. A probe that
# forgets the row it read before the end arrives fails each one with "query: no result" (seen
# at promotions on a loaded machine: the node dropped for a probe interval).
mkdir -p "$tmp/split"
/usr/bin/python3 tests/integration/lib/pg_split_proxy.py "$tmp/split/.s.PGSQL.$P_PORT" \
	"$P_ADDR" "$P_PORT" 0.05 >"$tmp/split.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 50); do [ -S "$tmp/split/.s.PGSQL.$P_PORT" ] && break; sleep 0.1; done
start_watch D "host=$tmp/split port=$P_PORT user=postgres dbname=postgres"
if l=$(wait_line "$tmp/D.out" 0 "up=1 role=primary tl=1 sysid=$sysid " 10); then
	ok "split replies: primary seen: ${l%% q=*}"
else
	ko "split replies: primary not seen as up primary tl 1"
	probe_dump D
fi
sleep 1.5 # ~15 queries at 100 ms, each answered in two reads
kill "${PROBE_WATCHERS[-1]}" 2>/dev/null
for _ in $(seq 1 50); do grep -q '^end queries=' "$tmp/D.out" && break; sleep 0.1; done
got=$(sed -n 's/^end queries=\([0-9]*\) failures=\([0-9]*\).*/\1 \2/p' "$tmp/D.out")
if [ -n "$got" ] && [ "${got% *}" -ge 5 ] && [ "${got#* }" = 0 ]; then
	ok "split replies: ${got% *} queries, ${got#* } failures"
else
	ko "split replies: wanted >= 5 queries and 0 failures, got \"${got:-no end line}\""
	probe_dump D
fi

# 4. hung server: postmaster and every backend SIGSTOPped (the probe's backend included)
from=$(lines "$tmp/A.out")
t0=$(now_ms)
pg_freeze "$tmp/pg1" || exit 1
if l=$(wait_line "$tmp/A.out" "$from" "up=0 role=unknown.*err=\"query timeout" 10); then
	t1=$(now_ms)
	ok "hung primary seen down after $((t1 - t0)) ms (query timeout $TIMEOUT): ${l##* err=}"
else
	ko "hung primary not seen down by the query timeout"
	probe_dump A
fi
from2=$(lines "$tmp/A.out")
if wait_line "$tmp/A.out" "$from2" "^tick" 3 >/dev/null; then
	ok "the probe's loop keeps running while the server hangs"
else
	ko "no tick while the server hangs: the loop is blocked"
	probe_dump A
fi
if l=$(wait_line "$tmp/A.out" "$from" "err=\"connect timeout" 5); then
	ok "reconnect to the hung server fails by our connect deadline: ${l##* err=}"
else
	ko "reconnect to the hung server not failed by the connect deadline"
	probe_dump A
fi
from=$(lines "$tmp/A.out")
t0=$(now_ms)
pg_thaw "$tmp/pg1"
if l=$(wait_line "$tmp/A.out" "$from" "up=1 role=primary" 10); then
	ok "primary up again $(($(now_ms) - t0)) ms after SIGCONT"
else
	ko "primary not up again after SIGCONT"
	probe_dump A
fi

# 5. postmaster alone stopped: the probe's own backend still answers its queries, but new
# connections hang in the kernel's backlog: the accept check (a GSSENCRequest on a second, short
# connection every $ACCEPT_CHECK) notices and fails the probe. Then the probe's backend goes
# away too: the reconnect hangs in startup until our connect deadline.
bpid=$(pg_psql $P_ADDR $P_PORT \
	"select pid from pg_stat_activity where application_name = 'haprole-agent'")
from=$(lines "$tmp/A.out")
t0=$(now_ms)
pg_freeze "$tmp/pg1" postmaster || exit 1
re="up=0 role=unknown.*err=\"postmaster accepts no connection"
if l=$(wait_line "$tmp/A.out" "$from" "$re" 10); then
	ok "postmaster-only stop seen down after $(($(now_ms) - t0)) ms by the accept check: ${l##* err=}"
else
	ko "postmaster-only stop not noticed (the probe's backend still answers)"
	probe_dump A
fi
if [ -n "$bpid" ] && kill -TERM "$bpid" 2>/dev/null; then
	if l=$(wait_line "$tmp/A.out" "$from" "err=\"connect timeout" 10); then
		ok "backend gone, reconnect hangs, connect deadline fails it: ${l##* err=}"
	else
		ko "reconnect to a stopped postmaster not failed by the connect deadline"
		probe_dump A
	fi
else
	ko "could not find the probe's backend (application_name haprole-agent): '$bpid'"
fi
from=$(lines "$tmp/A.out")
pg_thaw "$tmp/pg1"
wait_line "$tmp/A.out" "$from" "up=1 role=primary" 10 >/dev/null &&
	ok "primary up again after SIGCONT" || ko "primary not up again after SIGCONT"
noise="did not match any process|EOF detected|incomplete startup packet|GSSAPI"
if grep -Eq "$noise" "$tmp/pg1.log"; then
	ko "the accept check left lines in the server log:"
	grep -E "$noise" "$tmp/pg1.log" | head -3
else
	ok "the accept check left nothing in the server log"
fi

# 6. receiver gone: stop the primary; the standby stays a standby but is no longer streaming
from=$(lines "$tmp/B.out")
fromA=$(lines "$tmp/A.out")
pg_stop "$tmp/pg1" fast || exit 1
if l=$(wait_line "$tmp/B.out" "$from" "up=1 role=standby .*streaming=0" 10); then
	ok "primary stopped: standby no longer streaming: ${l%% q=*}"
else
	ko "standby still streaming after the primary stopped"
	probe_dump B
fi
if l=$(wait_line "$tmp/A.out" "$fromA" "up=0 .*err=\"(connection lost|connect|query)" 10); then
	ok "stopped primary seen down: ${l##* err=}"
else
	ko "stopped primary not seen down"
	probe_dump A
fi

# 7. promotion: reported at once, timeline 2
from=$(lines "$tmp/B.out")
pg_promote "$tmp/pg2" || exit 1
t0=$(now_ms)
if l=$(wait_line "$tmp/B.out" "$from" "up=1 role=primary tl=2 " 10); then
	t1=$(now_ms)
	ok "promotion seen, $((t1 - t0)) ms after pg_ctl promote -w returned" \
		"(interval $INTERVAL): ${l%% q=*}"
else
	ko "promotion not seen as primary on timeline 2"
	probe_dump B
fi
# the 30 s watcher: nothing but the data directory event can show it the promotion in time
if l=$(wait_line "$tmp/C.out" 0 "up=1 role=primary tl=2 .* k=[1-9]" 10); then
	ok "promotion seen by the inotify-driven probe (interval 30 s): ${l%% q=*} ${l##* f=}"
else
	ko "the 30 s probe watching the data directory did not see the promotion within 10 s"
	probe_dump C
fi
if tail -n +"$((from + 1))" "$tmp/B.out" | grep -E '^[0-9]' | grep -q 'up=0'; then
	ko "the probe went down during the promotion"
	probe_dump B
else
	ok "the probe stayed up through the promotion"
fi

echo "# A (primary) output, last lines:"
tail -n 4 "$tmp/A.out" | sed 's/^/#   /'

# 8. the watchers exit cleanly on SIGTERM (under SAN=1 builds, without sanitizer reports)
echo "# last lines: $(tail -n 1 "$tmp/A.out"); $(tail -n 1 "$tmp/B.out")"
probe_watchers_stop
if [ "$fails" -ne 0 ]; then
	echo "test_probe_pg: $fails check(s) failed"
	exit 1
fi
echo "test_probe_pg: all checks passed"
exit 0
