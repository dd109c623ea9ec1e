#!/bin/bash
# tests/integration/test_ops_drain.sh - issue 5: a drain that survives an agent crash, with real
# PostgreSQL (primary db1 + streaming standby db2), two agents that are each other's peer, and
# HAProxy 2.6 agent-checking both on a writer and a reader backend.
#   1. haprolectl status: the table shows db1 primary, db2 standby; --json parses (jq); exit 0.
#   2. haprolectl drain: every check of db1 answers drain; HAProxy shows DRAIN on both backends.
#   3. kill -9 the agent, restart it: its first answer already says drain; HAProxy stays DRAIN.
#   4. admin words over TCP (agent-check dialect, HTTP) are not accepted: the state is unchanged.
#   5. haprolectl maint -> MAINT; haprolectl ready -> UP again; the state file says ready.
#   6. a damaged state file at start: the node comes up MAINT, the log names file and line;
#      haprolectl ready clears it.
#   7. haprolectl status with an agent that does not answer: exit 1, the problem is listed.
# Its addresses and ports: block test_ops_drain of tests/integration/lib/fixture.sh (NOAGENT:
# an address and port where no agent listens).
set -u
cd "$(dirname "$0")/../.."

. tests/integration/lib/pg.sh
. tests/integration/lib/haproxy.sh
. tests/integration/lib/fixture.sh
. tests/integration/lib/ops.sh

CTL=$HAPROLE_CTL
ops_require "$CTL" || exit $?
fix_block test_ops_drain
fix_addrs A1 A2 NOAGENT
fix_ports P1 P2 PG1 PG2 NOAGENT_PORT
ops_tmp ops-drain
# ok, ko, expect, expect_match, hap_status, wait_status: lib/ops.sh.
# admin_state BACKEND SERVER - srv_admin_state of `show servers state` (0x08: FDRAIN, 0x01:
# FMAINT), the administrative state the agent's admin word sets.
admin_state() { hap_servers_state "$HSOCK" "$1" | awk -v s="$2" '$4 == s { print $7; exit }'; }
is_drain() { local v; v=$(admin_state "$1" "$2"); [ -n "$v" ] && (( (v & 8) != 0 )); }
admin_of() { curl -s -m 2 "http://$A1:$P1/" | jq -r .admin; }

# ---- cluster --------------------------------------------------------------------------------
ops_pg_pair "$OPS_TMP/pg1" $A1 $PG1 "$OPS_TMP/pg2" $A2 $PG2 || fail "PostgreSQL primary + standby"

ops_pair_up $A1 $P1 $PG1 $A2 $P2 $PG2 || exit 1
ops_wait_line $A2 $P2 reader '^up ready' 20 || exit 1

cat >"$OPS_TMP/haproxy.cfg" <<EOF
global
	stats socket $HSOCK mode 600 level admin
defaults
	mode tcp
	timeout connect 1s
	timeout client 10s
	timeout server 10s
backend be_writer
	server db1 $A1:$PG1 check inter 500ms agent-check agent-addr $A1 agent-port $P1 agent-send "writer\n" agent-inter 200ms
	server db2 $A2:$PG2 check inter 500ms agent-check agent-addr $A2 agent-port $P2 agent-send "writer\n" agent-inter 200ms
backend be_reader
	server db1 $A1:$PG1 check inter 500ms agent-check agent-addr $A1 agent-port $P1 agent-send "reader\n" agent-inter 200ms
	server db2 $A2:$PG2 check inter 500ms agent-check agent-addr $A2 agent-port $P2 agent-send "reader\n" agent-inter 200ms
EOF
hap_start "$OPS_TMP/haproxy.cfg" || exit 1
wait_status be_writer db1 UP
wait_status be_writer db2 DOWN
wait_status be_reader db1 UP
wait_status be_reader db2 UP

# ---- 1. status ------------------------------------------------------------------------------
out=$($CTL -f "$OPS_TMP/db1.conf" status); rc=$?
echo "$out" | sed 's/^/     | /'
expect "haprolectl status exit code on a healthy cluster" 0 "$rc"
expect_match "status row db1" "^\\| db1 +\\| $(re_quote $A1:$P1) +\\| primary +\\| 1 " "$(echo "$out" | grep '^| db1')"
expect_match "status row db2" "^\\| db2 +\\| $(re_quote $A2:$P2) +\\| standby +\\| 1 " "$(echo "$out" | grep '^| db2')"
json=$($CTL -a $A1:$P1 -a $A2:$P2 --json status); rc=$?
expect "haprolectl --json exit code" 0 "$rc"
expect "--json parses, roles" "db1=primary db2=standby" \
	"$(printf '%s' "$json" | jq -r '[.nodes[] | "\(.name)=\(.state.pg.role)"] | join(" ")')"
expect "--json healthy" "true 1" "$(printf '%s' "$json" | jq -r '"\(.healthy) \(.writers)"')"

# ---- 2. drain -------------------------------------------------------------------------------
out=$($CTL -s "$OPS_TMP/db1.sock" drain upgrade to 5.2); rc=$?
expect "haprolectl drain" "ok drain 0" "$out $rc"
expect_match "writer line drained" '^up drain( |$)' "$(ops_ask $A1 $P1 writer)"
expect_match "reader line drained" '^up drain( |$)' "$(ops_ask $A1 $P1 reader)"
wait_status be_writer db1 DRAIN
wait_status be_reader db1 DRAIN
expect "state file" "admin = drain" "$(grep '^admin' "$OPS_TMP/db1.state")"

# ---- 3. kill -9 and restart: still DRAIN ------------------------------------------------------
ops_agent_kill9 db1
# while the agent is gone HAProxy keeps the last agent state (docs/design.md section 11)
is_drain be_writer db1 && ok "HAProxy keeps DRAIN while the agent is down" ||
	ko "HAProxy lost DRAIN while the agent is down: $(hap_status be_writer db1)"
ops_agent_start db1 || exit 1
first=$(ops_ask $A1 $P1 writer)
expect_match "first writer answer after restart says drain" '^[a-z]+ drain( |$)' "$first"
expect_match "restored drain logged" 'restored admin state drain: upgrade to 5.2' "$(cat "$OPS_TMP/db1.log")"
ops_wait_line $A1 $P1 writer '^up drain' 10 && ok "writer up drain after restart"
# every sample over ~3 s (15 agent-inter periods): the admin state is DRAIN (FDRAIN bit set by
# the agent's admin word), HAProxy never saw "ready"
bad=0
notdrain=0
for i in $(seq 1 30); do
	for be in be_writer be_reader; do
		is_drain $be db1 || { bad=$((bad + 1)); echo "     sample $i: $be/db1 admin state $(admin_state $be db1)"; }
		case $(hap_status $be db1) in DRAIN*) ;; *) notdrain=$((notdrain + 1)) ;; esac
	done
	sleep 0.1
done
expect "samples without the DRAIN admin state after the restart" 0 "$bad"
# the restarted agent listens only once its probes have a first result: no "fail" reached
# HAProxy, so the status never left DRAIN (it showed DOWN before, docs/agent.md "Start and
# restart")
expect "samples not DRAIN (DOWN from a 'fail' before the first probe) after the restart" 0 "$notdrain"
expect_match "HAProxy status after the restart" '^DRAIN' "$(hap_status be_writer db1)"

# ---- 4. admin words on the network port are not accepted -------------------------------------
for w in ready "ready" "maint" "drain other"; do
	printf '%s\n' "$w" | nc -w 2 $A1 $P1 >/dev/null 2>&1
done
printf 'ready\r\n' | nc -w 2 $A1 $P1 >/dev/null 2>&1
code=$(curl -s -m 2 -o /dev/null -w '%{http_code}' -X POST "http://$A1:$P1/ready")
expect_match "HTTP POST /ready refused" '^(4[0-9][0-9])$' "$code"
code=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://$A1:$P1/ready")
expect_match "HTTP GET /ready refused" '^(4[0-9][0-9])$' "$code"
expect "admin state after TCP attempts" drain "$(admin_of)"
expect "reason unchanged" "upgrade to 5.2" "$(curl -s -m 2 "http://$A1:$P1/" | jq -r .admin_reason)"
expect_match "HAProxy still DRAIN" '^DRAIN' "$(hap_status be_writer db1)"
is_drain be_writer db1 && ok "admin state FDRAIN kept" || ko "admin state lost drain: $(admin_state be_writer db1)"
expect "state file unchanged" "admin = drain" "$(grep '^admin' "$OPS_TMP/db1.state")"

# ---- 5. maint, then ready ---------------------------------------------------------------------
out=$($CTL -s "$OPS_TMP/db1.sock" maint); rc=$?
expect "haprolectl maint" "ok maint 0" "$out $rc"
wait_status be_writer db1 MAINT
out=$($CTL -s "$OPS_TMP/db1.sock" ready); rc=$?
expect "haprolectl ready" "ok ready 0" "$out $rc"
wait_status be_writer db1 UP
wait_status be_reader db1 UP
expect "writer line ready" "up ready 100%" "$(ops_ask $A1 $P1 writer)"
expect "state file" "admin = ready" "$(grep '^admin' "$OPS_TMP/db1.state")"
out=$($CTL -s "$OPS_TMP/db1.sock" ready now 2>&1); rc=$?
expect "ready with an argument is refused locally" "haprolectl: this command takes no argument 2" "$out $rc"
out=$($CTL -s "$OPS_TMP/nope.sock" drain 2>&1); rc=$?
expect "no admin socket: exit 2" 2 "$rc"

# ---- 6. damaged state file -------------------------------------------------------------------
ops_agent_kill9 db1
printf '[admin]\nversion = 1\nadmin = drainn\nreason = "x"\n' >"$OPS_TMP/db1.state"
ops_agent_start db1 || exit 1
expect_match "damaged state file: first answer says maint" '^[a-z]+ maint( |$)' "$(ops_ask $A1 $P1 writer)"
expect_match "damaged state file: error with file:line" \
	"state file unusable, node kept in MAINT .*: $OPS_TMP/db1.state:3: key 'admin'" "$(cat "$OPS_TMP/db1.log")"
wait_status be_writer db1 MAINT
out=$($CTL -s "$OPS_TMP/db1.sock" ready); rc=$?
expect "haprolectl ready clears it" "ok ready 0" "$out $rc"
wait_status be_writer db1 UP
expect "state file rewritten" "admin = ready" "$(grep '^admin' "$OPS_TMP/db1.state")"

# ---- 7. an agent that does not answer ----------------------------------------------------------
none=$NOAGENT:$NOAGENT_PORT
out=$($CTL -a $A1:$P1 -a $A2:$P2 -a $none -t 1 status); rc=$?
expect "status with an unreachable agent: exit 1" 1 "$rc"
expect_match "unreachable agent listed" "$(re_quote $none) .*unreachable" "$out"
expect_match "problem names it" "  - $(re_quote $none) \\($(re_quote $none)\\): no state: " "$out"
out=$($CTL bogus 2>&1); rc=$?
expect "unknown command: exit 2" 2 "$rc"

echo "test_ops_drain: $fails failure(s)"
[ "$fails" -eq 0 ]
