#!/bin/bash
# tests/docker/test_compose.sh - `make test-docker` (issue 11): the docker-compose demo cluster
# (docker/docker-compose.yml) built and failed over for real, as docker/README.md shows it.
#
#  1. a Docker engine: tools/docker-engine.sh installs docker.io/docker-compose when missing and
#     starts dockerd only when none answers; debian:bookworm-slim is imported from a debootstrap
#     tarball cached in /var/cache/haprole when missing (no image registry needed)
#  2. build the images, `up -d`, every service healthy; the runtime images hold no compiler and
#     run every process as a non-root user
#  3. the app and a write through HAProxy (localhost:8080 -> app -> HAProxy :5000 -> db1),
#     the agents' ports published, haprolectl status inside a container says healthy
#  4. stop the primary container: a write now fails (never lands on the standby); promote db2
#     with the README's command; the next write lands on db2; every row has the node that was
#     the primary when it was written, none is lost
#  5. start db1 again: it rejoins as db2's standby (pg_rewind), never a second primary
#  6. `down -v`, remove the images this test built (label org.haprole.demo=1) and the base image
#     when it imported it; stop the dockerd it started; check nothing of it is left and the
#     host's FORWARD policy, Docker chains and ip_forward are as they were.
# Prints `docker: N passed, N failed, N skipped`; exit 0 pass, 77 skip (with the reason), 1 fail.
# Host ports used (127.0.0.1): 8080 5000 5001 7000 7001 5551-5554; one run at a time (flock).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ENGINE=$ROOT/tools/docker-engine.sh
COMPOSE_FILE=$ROOT/docker/docker-compose.yml
PROJECT=haprole
# Its own state directory: an engine someone else started with tools/docker-engine.sh is theirs.
export HAPROLE_DOCKER_STATE=/run/haprole-docker-test
WAIT=${DOCKER_TEST_WAIT:-240} # bound on every wait for the cluster, seconds

# shellcheck source=../integration/lib/expect.sh
. "$ROOT/tests/integration/lib/expect.sh"
fails=0
passes=0
ok() { echo "ok   $*"; passes=$((passes + 1)); }
ko() { echo "FAIL $*"; fails=$((fails + 1)); }
t0=$SECONDS
# summary SKIPPED [REASON]: the reason and the time on their own line; the last line is exactly
# "docker: N passed, N failed, N skipped" (tests/run-all.sh parses it).
summary() {
	echo "test-docker: ${2:+skipped: $2; }$((SECONDS - t0)) s"
	echo "docker: $passes passed, $fails failed, $1 skipped"
}

exec 8>/tmp/hr-docker-test.lock
flock -w 900 8 || { echo "test-docker: another run holds /tmp/hr-docker-test.lock"; summary 0; exit 1; }

# ---- 1. engine -----------------------------------------------------------------------------
fwd_policy() { iptables -w 5 -S FORWARD 2>/dev/null | sed -n 's/^-P FORWARD //p'; }
POLICY_BEFORE=$(fwd_policy)
IPFWD_BEFORE=$(cat /proc/sys/net/ipv4/ip_forward)
CHAINS_BEFORE=$(iptables -w 5 -S 2>/dev/null | grep -c '^-N DOCKER' || :)

out=$("$ENGINE" start 2>&1)
rc=$?
echo "$out"
if [ $rc = 77 ]; then
	reason=$(echo "$out" | sed -n 's/^docker-engine: SKIP: //p' | tail -1)
	summary 1 "${reason:-no Docker engine}"
	exit 77
fi
[ $rc = 0 ] || { ko "docker engine start (rc $rc)"; summary 0; exit 1; }
OURS=$(sed -n 's/^OURS=//p' "$HAPROLE_DOCKER_STATE/state")
DOCKER=$("$ENGINE" docker)
if command -v docker-compose >/dev/null 2>&1; then
	COMPOSE=(docker-compose -p $PROJECT -f "$COMPOSE_FILE")
	echo "compose: $(docker-compose version --short 2>/dev/null || docker-compose --version)"
else
	COMPOSE=("$DOCKER" compose -p $PROJECT -f "$COMPOSE_FILE")
	echo "compose: $("$DOCKER" compose version)"
fi
dc() { "${COMPOSE[@]}" "$@"; }

cleanup() {
	trap - EXIT INT TERM
	echo "--- cleanup"
	dc down -v --remove-orphans >/dev/null 2>&1 || :
	local ids pass
	# Our images and the build's intermediate ones (children before parents: a few passes).
	for ((pass = 0; pass < 10; pass++)); do
		ids=$("$DOCKER" images -a -q --filter label=org.haprole.demo=1 | sort -u)
		[ -z "$ids" ] && break
		# shellcheck disable=SC2086
		"$DOCKER" rmi -f $ids >/dev/null 2>&1 || :
	done
	# What the project may leave is checked while the engine still answers.
	expect "no container of the project left" "" \
		"$("$DOCKER" ps -a -q --filter label=com.docker.compose.project=$PROJECT)"
	expect "no network of the project left" "" "$("$DOCKER" network ls -q --filter name=${PROJECT}_)"
	expect "no volume of the project left" "" "$("$DOCKER" volume ls -q --filter name=${PROJECT}_)"
	expect "no image of ours left" "" "$("$DOCKER" images -a -q --filter label=org.haprole.demo=1)"
	"$ENGINE" stop
	if [ "$OURS" = 1 ]; then
		expect "the dockerd we started is gone" "" \
			"$(for p in $(cat "$SPAWNED_PIDS" 2>/dev/null); do [ -e /proc/$p ] && echo $p; done)"
		expect "FORWARD policy as found" "$POLICY_BEFORE" "$(fwd_policy)"
		expect "Docker's iptables chains as found" "$CHAINS_BEFORE" \
			"$(iptables -w 5 -S 2>/dev/null | grep -c '^-N DOCKER' || :)"
		expect "ip_forward as found" "$IPFWD_BEFORE" "$(cat /proc/sys/net/ipv4/ip_forward)"
	fi
	rm -f "$SPAWNED_PIDS"
	summary 0
	[ $fails = 0 ]
	exit $?
}
SPAWNED_PIDS=$(mktemp)
if [ "$OURS" = 1 ]; then
	cat "$HAPROLE_DOCKER_STATE/dockerd.spawn" "$HAPROLE_DOCKER_STATE/containerd.pid" >"$SPAWNED_PIDS" 2>/dev/null
fi
trap cleanup EXIT
trap 'exit 1' INT TERM

"$ENGINE" base || { ko "debian:bookworm-slim (see above)"; exit 1; }

# ---- 2. build and up -------------------------------------------------------------------------
tb=$SECONDS
if dc build >/tmp/hr-docker-build.log 2>&1; then
	ok "images built in $((SECONDS - tb)) s"
else
	tail -20 /tmp/hr-docker-build.log
	ko "docker-compose build (log /tmp/hr-docker-build.log)"
	exit 1
fi
tu=$SECONDS
if dc up -d >/tmp/hr-docker-up.log 2>&1; then
	ok "up -d"
else
	cat /tmp/hr-docker-up.log
	dc logs --no-color --tail 30
	ko "up -d"
	exit 1
fi

SERVICES="db1 db2 spoa haproxy app1 app2"
cid() { dc ps -q "$1"; }
health() { "$DOCKER" inspect -f '{{.State.Health.Status}}' "$(cid "$1")" 2>/dev/null; }
all_healthy() { local s; for s in $SERVICES; do [ "$(health $s)" = healthy ] || return 1; done; }
# wait_until SECONDS CMD... : polls every 0.5 s until CMD succeeds, for SECONDS at most (each
# CMD is bounded itself: curl -m, docker exec of a bounded command).
wait_until() {
	local end=$((SECONDS + $1))
	shift
	while ((SECONDS < end)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
	"$@" >/dev/null 2>&1
}
write() { curl -s -m 10 -X POST http://localhost:8080/write; }
write_ok() { write | grep -q '"id"'; }

if wait_until "$WAIT" all_healthy; then
	ok "every service healthy $((SECONDS - tu)) s after up"
else
	ko "not every service healthy after $WAIT s: $(for s in $SERVICES; do printf '%s=%s ' $s "$(health $s)"; done)"
	dc logs --no-color --tail 30
	exit 1
fi

size=$("$DOCKER" image inspect -f '{{.Size}}' haprole-demo-runtime)
echo "runtime image haprole-demo-runtime: $((size / 1000000)) MB"
for img in haprole-demo-runtime haprole-demo-app haprole-demo-pg haprole-demo-haproxy; do
	expect "$img: no compiler" "" "$("$DOCKER" run --rm --entrypoint bash $img -c \
		'for c in cc gcc c99 clang tcc g++ as ld; do command -v $c; done; ls /usr/lib/gcc 2>/dev/null')"
done
for s in $SERVICES; do
	# Every process of the container, with its uid; the daemons must not be root.
	procs=$(dc exec -T "$s" bash -c 'for p in /proc/[0-9]*; do [ -r $p/status ] &&
		echo "$(awk "/^Uid:/{print \$2}" $p/status):$(cat $p/comm)"; done' 2>/dev/null)
	expect_match "$s: processes run" '.' "$(echo "$procs" | tr '\n' ' ')"
	expect "$s: no process as root" "" "$(echo "$procs" | grep '^0:' | tr '\n' ' ')"
done

# ---- 3. the README's first steps -------------------------------------------------------------
# The first write that succeeds (HAProxy marks the servers up within a few checks).
if wait_until 60 write_ok; then NW=1; else ko "no write through HAProxy succeeded within 60 s"; NW=0; fi
expect_match "GET localhost:8080/ (a read through HAProxy)" '"db_node": "db[12]"' "$(curl -s -m 10 http://localhost:8080/)"
W1=$(write)
expect_match "POST localhost:8080/write lands on db1" '"db_node": "db1"' "$W1"
expect_match "db1's agent on localhost:5553: primary" '"role":"primary"' "$(curl -s -m 5 http://localhost:5553/status)"
expect_match "db2's agent on localhost:5554: standby" '"role":"standby"' "$(curl -s -m 5 http://localhost:5554/status)"
expect_match "app1's agent on localhost:5551: app up" '"app":\{"present":true,"up":true' "$(curl -s -m 5 http://localhost:5551/status)"
expect_match "app2's agent on localhost:5552: app up" '"app":\{"present":true,"up":true' "$(curl -s -m 5 http://localhost:5552/status)"
expect_match "haprole-spoa status on localhost:7001: writer db1" '"writer":"db1"' "$(curl -s -m 5 http://localhost:7001/)"
expect_match "HAProxy stats on localhost:7000" 'pg_write' "$(curl -s -m 5 'http://localhost:7000/;csv')"
st=$(dc exec -T spoa haprole-node status 2>&1)
expect_match "haprolectl status in the spoa container" 'Cluster healthy' "$st"
NW=$((NW + 1)) # W1
for i in 1 2 3; do write_ok && NW=$((NW + 1)); done

# ---- 4. failover ---------------------------------------------------------------------------
dc stop db1 >/dev/null 2>&1
expect "db1's container stopped" "exited" "$("$DOCKER" inspect -f '{{.State.Status}}' "$(cid db1)")"
# No primary now: writes must fail (the standby is read-only and HAProxy has no writer).
wait_until 20 bash -c "! curl -s -m 10 -X POST http://localhost:8080/write | grep -q '\"id\"'"
gap=$(write)
expect_match "a write with the primary stopped fails" '"error"' "$gap"
pr=$(dc exec -T db2 haprole-node promote 2>&1)
expect_match "promote db2 (the README's command)" 'db2 promoted: primary on timeline 2' "$pr"
WP=
deadline=$((SECONDS + 30)) # each try is bounded too (curl -m 10)
while ((SECONDS < deadline)); do
	WP=$(write)
	echo "$WP" | grep -q '"id"' && break
	sleep 0.5
done
expect_match "the next write lands on db2" '"db_node": "db2"' "$WP"
NW=$((NW + 1))
id1=$(echo "$W1" | sed -n 's/.*"id": \([0-9]*\).*/\1/p')
idp=$(echo "$WP" | sed -n 's/.*"id": \([0-9]*\).*/\1/p')
dbq() { dc exec -T "$1" /usr/lib/postgresql/15/bin/psql -X -A -t -h /run/postgresql -U postgres -d demo -c "$2" 2>&1 | tr -d '\r'; }
expect "db2 holds the first write, taken by db1" "db1" "$(dbq db2 "select node from demo_writes where id = ${id1:-0}")"
rows=$(dbq db2 "select node || ':' || count(*) from demo_writes group by node order by node" | tr '\n' ' ')
expect_match "rows on db2 by the node that took them" "^db1:[0-9]+ db2:[0-9]+ $" "$rows"
total=$(echo "$rows" | tr ' ' '\n' | awk -F: '{s += $2} END {print s + 0}')
expect "rows on db2 = acknowledged writes (none lost, none extra)" "$NW" "$total"
expect "no row taken by db2 before its promotion" "0" \
	"$(dbq db2 "select count(*) from demo_writes where node = 'db2' and id < ${idp:-0}")"
expect "no row taken by db1 after the promotion" "0" \
	"$(dbq db2 "select count(*) from demo_writes where node = 'db1' and id >= ${idp:-0}")"
expect_match "db2's agent: primary on timeline 2" '"role":"primary","tl":2' "$(curl -s -m 5 http://localhost:5554/status)"

# ---- 5. the old primary comes back as a standby ------------------------------------------------
dc start db1 >/dev/null 2>&1
if wait_until 60 bash -c "[ \"\$(${COMPOSE[*]} exec -T db1 haprole-node role 2>/dev/null | tr -d '\r')\" = standby ]"; then
	ok "db1 restarted rejoins as a standby"
else
	ko "db1 is not a standby 60 s after its restart: $(dc exec -T db1 haprole-node role 2>&1)"
fi
expect_match "db1 followed db2's timeline (pg_rewind)" '"role":"standby","tl":2' "$(curl -s -m 5 http://localhost:5553/status)"
expect_match "a write still lands on db2" '"db_node": "db2"' "$(write)"
if wait_until 30 bash -c "${COMPOSE[*]} exec -T spoa haprole-node status >/dev/null 2>&1"; then
	ok "haprolectl: cluster healthy again (db2 primary, db1 standby)"
else
	ko "haprolectl: cluster not healthy: $(dc exec -T spoa haprole-node status 2>&1 | tail -3)"
fi
echo "cluster up to here: $((SECONDS - tu)) s; whole run so far: $((SECONDS - t0)) s"
exit 0 # cleanup (trap) tears down, checks, prints the summary and sets the exit status
