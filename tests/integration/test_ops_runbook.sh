#!/bin/bash
# tests/integration/test_ops_runbook.sh - docs/operations.md's upgrade runbook, end to end on the
# demo, with writes flowing (issue 15).
#
# Runs, in order, the command lines of the block under "The runbook on the demo" in
# docs/operations.md (so the docs show exactly what is tested): drain --wait the standby,
# "upgrade" it (PostgreSQL and agent restarted), check it, ready; switch over; the same on the
# other node. Meanwhile tests/failover/client.py writes through HAProxy's write port (a pooled
# connection retired every 2 s, fresh connections) and reads through the read port.
# Asserts: every command exits 0; drain --wait reports the node drained; each upgraded standby
# is up, a standby, streaming and still drained before `ready`; no write (and no read) fails
# outside the switchover window (start of `make demo-switchover` to its return); no write
# reached a non-primary and no acknowledged write is lost (client.py verify).
# Also the admin socket's documented one-liner (`printf 'status\n' | nc -N -U ...`) answers
# well before the socket's 10 s idle limit.
# Brings the demo up when it is not (and stops it afterwards), else uses it and heals it.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
. tests/integration/lib/expect.sh
fails=0
D=$ROOT/docker/demo.sh
PY=/usr/bin/python3
CLIENT=$ROOT/tests/failover/client.py

$PY -c 'import psycopg2' 2>/dev/null || { echo "SKIP: /usr/bin/python3 lacks psycopg2"; exit 77; }
[ -x ./haprolectl ] && [ -x ./haprole-agent ] || { echo "FAIL: build first (make)"; exit 1; }
# The demo cluster is one per machine: the failover suite's lock orders its users.
exec 8>/tmp/haprole-failover-suite.lock
flock -w 600 8 || { echo "SKIP: the demo lock has been held for 600 s"; exit 77; }

WORK=$(mktemp -d /tmp/hr-runbook.XXXXXX)
STARTED_DEMO=0
CLIENT_PID=
cleanup() {
	[ -n "$CLIENT_PID" ] && kill "$CLIENT_PID" 2>/dev/null && wait "$CLIENT_PID" 2>/dev/null
	if [ "$STARTED_DEMO" = 1 ]; then
		"$D" stop >>"$WORK/demo.log" 2>&1
	elif [ -f "$ROOT/.demo/up" ]; then
		"$D" heal >>"$WORK/demo.log" 2>&1
	fi
	if [ "$fails" = 0 ] && [ "${KEEP_LOGS:-0}" != 1 ]; then rm -rf "$WORK"; else echo "logs kept in $WORK"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if [ -f .demo/up ]; then
	"$D" heal >>"$WORK/demo.log" 2>&1 || { ko "docker/demo.sh heal"; exit 1; }
else
	STARTED_DEMO=1
	"$D" up >>"$WORK/demo.log" 2>&1 || { ko "docker/demo.sh up"; tail -5 "$WORK/demo.log"; exit 1; }
fi
# The runbook block is written for db1 primary, db2 standby.
if [ "$("$D" primary)" != db1 ]; then
	"$D" switchover >>"$WORK/demo.log" 2>&1 || { ko "switchover back to db1"; exit 1; }
fi
[ -x .demo/haprolectl ] && [ -x .demo/db1/haprolectl ] || { ko "the demo wrote no .demo/haprolectl"; exit 1; }

# ---- the admin socket one-liner of docs/operations.md -----------------------------------------
out=$(timeout 5 sh -c "printf 'status\n' | nc -N -U .demo/db2/agent.sock" 2>&1)
rc=$?
expect "printf 'status\\n' | nc -N -U agent.sock returns before the 10 s idle limit" 0 "$rc"
expect "... with the node state" db2 "$(printf '%s' "$out" | jq -r .node 2>/dev/null)"

# ---- the runbook's commands, from the docs ------------------------------------------------------
sed -n '/^\*\*The runbook on the demo\.\*\*/,/^\*\*Upgrading haprole itself/p' docs/operations.md |
	sed -n '/^```$/,/^```$/p' | sed -e '/^```$/d' -e 's/[[:space:]]*#.*$//' -e '/^$/d' >"$WORK/commands"
n=$(wc -l <"$WORK/commands")
expect_match "docs/operations.md has the runbook block" '^[1-9][0-9]*$' "$n"
expect "its block has one switchover" 1 "$(grep -c '^make demo-switchover$' "$WORK/commands")"

base=$(( ($(date +%s) % 100000) * 10000000 + 900000000000 ))
$PY "$CLIENT" run --env .demo/cluster.env --log "$WORK/client.log" --base "$base" \
	--progress "$WORK/progress" --pool-lifetime 2 >"$WORK/client.out" 2>&1 &
CLIENT_PID=$!
# Writes flowing before the first command: the progress file counts acknowledgements.
for ((i = 0; i < 100; i++)); do
	[ "$(jq -r '.acks // 0' "$WORK/progress" 2>/dev/null || echo 0)" -gt 20 ] 2>/dev/null && break
	sleep 0.1
done
expect_match "the client writes through HAProxy" '^[0-9]*[1-9][0-9]*$' "$(jq -r '.acks // 0' "$WORK/progress" 2>/dev/null)"

sw0=
sw1=
i=0
while IFS= read -r cmd; do
	i=$((i + 1))
	[ "$cmd" = "make demo-switchover" ] && sw0=$(date +%s.%N)
	out=$(timeout -k 5 300 bash -o pipefail -c "$cmd" 2>&1 </dev/null)
	rc=$?
	[ "$cmd" = "make demo-switchover" ] && sw1=$(date +%s.%N)
	printf '%s\n' "\$ $cmd" "$out" >>"$WORK/transcript"
	expect "runbook command $i exits 0: $cmd" 0 "$rc"
	[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -15
	case $cmd in
	*"haprolectl drain --wait"*)
		expect_match "... the node drained" '^drained: no session on db[12] after' \
			"$(printf '%s\n' "$out" | grep '^drained:')"
		;;
	.demo/db[12]/haprolectl\ status)
		node=${cmd#.demo/}
		node=${node%%/*}
		st=$(".demo/$node/haprolectl" status --json 2>/dev/null |
			jq -c --arg n "$node" '.nodes[] | select(.name == $n) | .state |
				{up: .pg.up, role: .pg.role, streaming: .pg.streaming, admin}')
		expect "... $node is back: up, a streaming standby, still drained" \
			'{"up":true,"role":"standby","streaming":true,"admin":"drain"}' "$st"
		;;
	esac
done <"$WORK/commands"
expect "the switchover ran" 1 "$([ -n "$sw0" ] && [ -n "$sw1" ] && echo 1 || echo 0)"

# Writes keep flowing after the last command, then the client stops and finishes in flight.
sleep 1
kill "$CLIENT_PID" 2>/dev/null
wait "$CLIENT_PID" 2>/dev/null
CLIENT_PID=

# ---- the figures ----------------------------------------------------------------------------
res=$($PY - "$WORK/client.log" "$sw0" "$sw1" <<'EOF'
import json, sys
log, sw0, sw1 = sys.argv[1], float(sys.argv[2] or 0), float(sys.argv[3] or 0)
c = {"w": 0, "wack": 0, "wfail": 0, "wfail_out": 0, "r": 0, "rfail": 0, "rfail_out": 0}
first = {}
for line in open(log):
    o = json.loads(line)
    k = o.get("k")
    if k not in ("w", "r"):
        continue
    c[k] += 1
    if o.get("ok"):
        c["wack"] += k == "w"
        continue
    c[k + "fail"] += 1
    # Outside the window: the operation began after the switchover returned or ended before
    # it started.
    if o["t1"] < sw0 or o["t0"] > sw1:
        c[k + "fail_out"] += 1
        first.setdefault(k, "%s at %+.2f s from the switchover: %s" % (
            o.get("err"), o["t0"] - sw0, o.get("msg", "")))
print(" ".join("%s=%d" % kv for kv in c.items()))
for k, v in first.items():
    print("first %s failure outside: %s" % (k, v))
EOF
)
echo "client: $res (switchover window $(awk -v a="$sw0" -v b="$sw1" 'BEGIN {printf "%.1f", b - a}') s)"
get() { printf '%s\n' "$res" | head -1 | tr ' ' '\n' | sed -n "s/^$1=//p"; }
expect_match "writes were acknowledged all along" '^[0-9]*[1-9][0-9]{2,}$' "$(get wack)"
expect "failed writes outside the switchover window" 0 "$(get wfail_out)"
expect "failed reads outside the switchover window" 0 "$(get rfail_out)"
printf '%s\n' "$res" | sed -n 's/^first /  /p'

primary=$("$D" primary)
verify=$($PY "$CLIENT" verify --env .demo/cluster.env --log "$WORK/client.log" --base "$base" \
	--primary "$primary" 2>&1)
rc=$?
expect "client.py verify: no write reached a non-primary, none acknowledged lost" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$verify" | head -c 600
[ "$fails" = 0 ] || { echo "transcript:"; cat "$WORK/transcript"; }
exit $((fails > 0))
