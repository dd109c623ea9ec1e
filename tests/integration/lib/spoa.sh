# tests/integration/lib/spoa.sh - haprole-spoa in the integration tests (test_spoa_*.sh): start
# it from DIR/spoa.conf, read and poll its status page; and the pieces of HAProxy config those
# tests share (the SPOE-routed TCP frontend + backend of haproxy/haproxy.cfg, the SPOA's own
# backend). Source it (bash); curl and python3 are needed. Functions return 0/1, never exit.
#
#   spoa_start "$tmp" ADDR STATUS_PORT || fail ...   # sets SPOA_PID
#   spoa_view ADDR STATUS_PORT [CLUSTER_INDEX]       # prints "status writer"
#   s=$(spoa_wait_view ADDR STATUS_PORT "ok db1" 50) || fail "... got \"$s\""
#   spoa_hap_pg_route FE BE BIND SPOE_CONF          # prints config; the test adds its servers
#   spoa_hap_spoe_backend ADDR PORT                 # prints the spoe-haprole backend

# spoa_start DIR ADDR STATUS_PORT - runs $HAPROLE_SPOA (default ./haprole-spoa) --allow-root -d -f DIR/spoa.conf
# (output appended to DIR/spoa.log), sets SPOA_PID, waits (5 s) until its status page at
# ADDR:STATUS_PORT answers.
spoa_start() {
	"${HAPROLE_SPOA:-./haprole-spoa}" --allow-root -d -f "$1/spoa.conf" >>"$1/spoa.log" 2>&1 &
	SPOA_PID=$!
	local i
	for i in $(seq 1 50); do
		curl -s -m 1 "http://$2:$3/" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# spoa_view ADDR STATUS_PORT [CLUSTER_INDEX] - prints the cluster's "status writer" ("-": none).
spoa_view() {
	curl -s -m 1 "http://$1:$2/" | python3 -c '
import json,sys
c=json.load(sys.stdin)["clusters"][int(sys.argv[1])]
print(c["status"], c["writer"] or "-")' "${3:-0}" 2>/dev/null
}

# spoa_wait_view ADDR STATUS_PORT WANT TRIES - polls cluster 0's view every 0.1 s, TRIES times,
# until it is WANT; on timeout prints the last view and returns 1.
spoa_wait_view() {
	local i s=""
	for i in $(seq 1 "$4"); do
		s=$(spoa_view "$1" "$2")
		[ "$s" = "$3" ] && return 0
		sleep 0.1
	done
	echo "$s"
	return 1
}

# spoa_hap_pg_route FE BE BIND SPOE_CONF - a TCP frontend routed by the SPOE (haprole-pg) and
# its backend, as haproxy/haproxy.cfg's port 5000, up to the default-server line.
spoa_hap_pg_route() {
	cat <<CFG
frontend $1
	mode tcp
	bind $3
	tcp-request inspect-delay 2s
	filter spoe engine haprole-pg config $4
	tcp-request content reject if { var(txn.haprole.status) -m found } !{ var(txn.haprole.status) -m str ok }
	default_backend $2
backend $2
	mode tcp
	balance first
	use-server %[var(txn.haprole.writer)] if { var(txn.haprole.writer) -m found }
	force-persist if { var(txn.haprole.writer) -m found }
	default-server check inter 1s agent-check agent-inter 10s agent-send "writer\n" on-marked-down shutdown-sessions
CFG
}

# spoa_hap_spoe_backend ADDR PORT - the backend HAProxy reaches haprole-spoa through.
spoa_hap_spoe_backend() {
	cat <<CFG
backend spoe-haprole
	mode tcp
	timeout connect 500ms
	timeout server 1m
	option spop-check
	server spoa1 $1:$2 check inter 500ms
CFG
}
