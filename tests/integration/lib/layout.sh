# tests/integration/lib/layout.sh - the pieces of the layout tests (test_layout_*.sh), which run
# a shipped haproxy/<layout>.cfg AS SHIPPED (addresses, ports and paths substituted, nothing
# else) in front of real PostgreSQL 15 nodes, real haprole-agents and nginx app nodes.
# Source it (bash) after lib/expect.sh, lib/haproxy.sh, lib/pg.sh, lib/ops.sh and lib/spoa.sh
# (it loads lib/fixture.sh), then ask for the test's block (fix_block NAME) and call layout_setup.
#
#   fix_block test_NAME    # the test's line of FIX_BLOCKS (lib/fixture.sh): 5 addresses, 11 ports
#   layout_setup           # require, LAYOUT_TMP + EXIT trap, layout_addrs, layout_certs
#   layout_addrs           # sets the addresses and ports below from the block
#   layout_certs           # CA + app certificate (DNS app.example, the app IPs) + HAProxy's
#   layout_cfg SRC DST     # SRC with the guide's addresses/ports/paths replaced by the test's
#   layout_nginx NAME ADDR [tls-only] [extra server lines]   # an app node's nginx
#   layout_nginx_stop NAME
#   layout_agent_db NAME ADDR PEERNAME PEERADDR [app] / layout_agent_app NAME ADDR [https]
#   layout_pg_pair         # DB1 primary + DB2 pg_basebackup -R standby, streaming
#   layout_spoa            # haprole-spoa for nodes db1/db2 (the SPOE variant)
#   layout_wait_st BACKEND SERVER REGEX   # HAProxy ($HSOCK) shows that status within 20 s
#   layout_cleanup         # EXIT trap: haproxy, agents, spoa, nginx, postgres, by pid
#
# Address plan, from the block of fix_block: HAProxy HAP_IP, DB1, DB2, APP1, APP2 are its
# addresses in that order. Ports, the block's in this order: the guide's 80, 443, 5000, 5001,
# 7000 on HAP_IP (P_HTTP, P_HTTPS, P_RW, P_RO, P_STATS); PostgreSQL's 5432 (P_PG) and the
# agents' 5555 (P_AGENT) on each node's address; the app's 80 and 443 (P_APP_HTTP,
# P_APP_HTTPS) on each node's; haprole-spoa's 12345 and its status page (P_SPOA,
# P_SPOA_STATUS) on HAP_IP.

. "$(dirname "${BASH_SOURCE[0]}")/fixture.sh" # fix_block, fix_addrs, fix_ports; stop_pid

LAYOUT_NGINX=${LAYOUT_NGINX:-/usr/sbin/nginx}
declare -A LAYOUT_NGINX_PIDS=()
LAYOUT_SPOA_PID=""

layout_log() {
	echo "layout.sh: $*" >&2
}

# layout_require - 0 when everything the layout tests run is here; else prints why and returns
# the exit status the test should take (77 skip, 1 fail).
layout_require() {
	local b
	pg_require || return 77
	hap_require || return 77
	for b in nc curl openssl python3 "$LAYOUT_NGINX"; do
		command -v "$b" >/dev/null 2>&1 || { echo "skip: $b not found"; return 77; }
	done
	[ -x "${HAPROLE_AGENT:-./haprole-agent}" ] && [ -x "${HAPROLE_SPOA:-./haprole-spoa}" ] ||
		{ echo "FAIL: not built (make)"; return 1; }
	return 0
}

# layout_setup - what every layout test does first, after fix_block: layout_require (exits 77
# or 1 when it cannot run), the work directory LAYOUT_TMP (= OPS_TMP) with layout_cleanup as
# EXIT trap, fails=0, layout_addrs, layout_certs (exits 1 when they cannot be made).
layout_setup() {
	local rc=0
	layout_require || rc=$?
	[ "$rc" -ne 0 ] && exit "$rc"
	LAYOUT_TMP=$(mktemp -d)
	OPS_TMP=$LAYOUT_TMP
	chmod 755 "$LAYOUT_TMP"
	trap layout_cleanup EXIT
	fails=0
	layout_addrs
	layout_certs || { ko "certificates"; exit 1; }
}

# layout_wait_st BACKEND SERVER REGEX - HAProxy's (socket HSOCK) status of the server matches
# REGEX within 20 s; a check named after WHAT.
layout_wait_st() {
	if hap_wait_field "$HSOCK" "$1" "$2" status "$3" 20; then
		ok "$WHAT: HAProxy $1/$2 is $(hap_server_field "$HSOCK" "$1" "$2" status)"
	else
		ko "$WHAT: HAProxy $1/$2 not $3"
	fi
}

# layout_addrs - the addresses and ports of one test (see above), from its block (fix_block);
# ends the test (fail) when the block is too small.
layout_addrs() {
	fix_addrs HAP_IP DB1 DB2 APP1 APP2
	fix_ports P_HTTP P_HTTPS P_RW P_RO P_STATS P_PG P_AGENT P_APP_HTTP P_APP_HTTPS P_SPOA \
		P_SPOA_STATUS
}

# layout_certs - $LAYOUT_TMP/etc/certs/{ca.pem, haprole.pem (HAProxy: cert + key), app.crt,
# app.key (the app nodes': DNS app.example and IP APP1, APP2)}.
layout_certs() {
	local d=$LAYOUT_TMP/etc/certs
	mkdir -p "$d"
	(
		cd "$d" &&
			openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=haprole layout CA" \
				-keyout ca.key -out ca.pem &&
			openssl req -newkey rsa:2048 -nodes -subj "/CN=app.example" -keyout app.key \
				-out app.csr &&
			printf 'subjectAltName=DNS:app.example,IP:%s,IP:%s\n' "$APP1" "$APP2" >app.ext &&
			openssl x509 -req -in app.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
				-extfile app.ext -out app.crt &&
			openssl req -newkey rsa:2048 -nodes -subj "/CN=www.example" -keyout hap.key \
				-out hap.csr &&
			printf 'subjectAltName=DNS:www.example,IP:%s\n' "$HAP_IP" >hap.ext &&
			openssl x509 -req -in hap.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
				-extfile hap.ext -out hap.crt &&
			cat hap.crt hap.key >haprole.pem
	) >"$LAYOUT_TMP/openssl.log" 2>&1 || {
		cat "$LAYOUT_TMP/openssl.log" >&2
		return 1
	}
}

# layout_cfg SRC DST - SRC with only addresses, ports and paths replaced; fails when one of the
# guide's addresses or ports is left (the file changed shape: the test must follow).
layout_cfg() {
	local src=$1 dst=$2
	mkdir -p "$LAYOUT_TMP/etc"
	cp haproxy/spoe-haprole.conf "$LAYOUT_TMP/etc/"
	sed -e "s#/etc/haproxy/#$LAYOUT_TMP/etc/#g" \
		-e "s#/run/haproxy/#$LAYOUT_TMP/#g" \
		-e "s#^\([[:space:]]*bind \):80\([[:space:]]\|\$\)#\1$HAP_IP:$P_HTTP\2#" \
		-e "s#^\([[:space:]]*bind \):443\([[:space:]]\|\$\)#\1$HAP_IP:$P_HTTPS\2#" \
		-e "s#^\([[:space:]]*bind \):5000\([[:space:]]\|\$\)#\1$HAP_IP:$P_RW\2#" \
		-e "s#^\([[:space:]]*bind \):5001\([[:space:]]\|\$\)#\1$HAP_IP:$P_RO\2#" \
		-e "s#^\([[:space:]]*bind \):7000\([[:space:]]\|\$\)#\1$HAP_IP:$P_STATS\2#" \
		-e "s#10\.0\.0\.11:5432#$DB1:$P_PG#g" -e "s#10\.0\.0\.12:5432#$DB2:$P_PG#g" \
		-e "s#10\.0\.0\.11:80\\b#$DB1:$P_APP_HTTP#g" -e "s#10\.0\.0\.12:80\\b#$DB2:$P_APP_HTTP#g" \
		-e "s#10\.0\.0\.21:80\\b#$APP1:$P_APP_HTTP#g" -e "s#10\.0\.0\.22:80\\b#$APP2:$P_APP_HTTP#g" \
		-e "s#10\.0\.0\.21:443#$APP1:$P_APP_HTTPS#g" -e "s#10\.0\.0\.22:443#$APP2:$P_APP_HTTPS#g" \
		-e "s#\(agent-\)\{0,1\}port 5555#\1port $P_AGENT#g" \
		-e "s#127\.0\.0\.1:12345#$HAP_IP:$P_SPOA#g" \
		"$src" >"$dst"
	if grep -v '^[[:space:]]*#' "$dst" | grep -E '10\.0\.0\.|bind :|[ :]5555\b|12345' >"$dst.left"; then
		layout_log "$src: left unsubstituted: $(head -n 3 "$dst.left")"
		return 1
	fi
	return 0
}

# layout_nginx NAME ADDR [tls-only] [EXTRA] - an app node: nginx answering "NAME" on / and 200 on
# /health, on ADDR:P_APP_HTTP (unless tls-only) and over TLS on ADDR:P_APP_HTTPS (app.crt).
# EXTRA: more lines for both server blocks. Waits (5 s) until it answers.
layout_nginx() {
	local name=$1 addr=$2 mode=${3:-} extra=${4:-} d=$LAYOUT_TMP/nginx-$1 http="" i
	mkdir -p "$d"
	[ "$mode" != tls-only ] && http="listen $addr:$P_APP_HTTP;"
	cat >"$d/nginx.conf" <<EOF
daemon off;
pid $d/nginx.pid;
error_log $d/error.log;
worker_processes 1;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path $d;
	proxy_temp_path $d;
	fastcgi_temp_path $d;
	uwsgi_temp_path $d;
	scgi_temp_path $d;
	server {
		$http
		listen $addr:$P_APP_HTTPS ssl;
		ssl_certificate $LAYOUT_TMP/etc/certs/app.crt;
		ssl_certificate_key $LAYOUT_TMP/etc/certs/app.key;
		location = /health { return 200 "ok\n"; }
		$extra
		location / { return 200 "$name\n"; }
	}
}
EOF
	"$LAYOUT_NGINX" -c "$d/nginx.conf" -p "$d" &
	LAYOUT_NGINX_PIDS[$name]=$!
	for i in $(seq 1 50); do
		curl -ksf -o /dev/null "https://$addr:$P_APP_HTTPS/health" && return 0
		sleep 0.1
	done
	layout_log "nginx $name did not start: $(tail -n 3 "$d/error.log")"
	return 1
}

# layout_nginx_stop NAME - stops that nginx (SIGQUIT: graceful; SIGKILL after 5 s).
layout_nginx_stop() {
	stop_pid "${LAYOUT_NGINX_PIDS[$1]:-}" QUIT
	unset "LAYOUT_NGINX_PIDS[$1]"
	return 0
}

# layout_agent_common NAME ADDR - the [agent] section (cluster main: the SPOE message's).
layout_agent_common() {
	cat <<EOF
[agent]
cluster = main
node = $1
listen = $2:$P_AGENT
heartbeat = 200ms
shutdown_grace = 200ms
log_level = info
admin_socket = $LAYOUT_TMP/$1.sock
state_file = $LAYOUT_TMP/$1.state
EOF
}

# layout_agent_db NAME ADDR PEERNAME PEERADDR [app] - a database node's agent: writer and reader
# checks from its PostgreSQL at ADDR:P_PG, the other database node as peer; with "app", also the
# app check from this node's nginx (standalone layout: app up only where PostgreSQL is primary).
# Started.
layout_agent_db() {
	{
		layout_agent_common "$1" "$2"
		[ "${5:-}" = app ] && layout_app_probes "$2" http
		cat <<EOF
[postgres]
conninfo = hostaddr=$2 port=$P_PG user=postgres dbname=postgres
interval = 100ms
rise = 1
fall = 1
[check writer]
kind = writer
[check reader]
kind = reader
[peer $3]
address = $4:$P_AGENT
EOF
	} >"$LAYOUT_TMP/$1.conf"
	ops_agent_start "$1"
}

# layout_app_probes ADDR http|https [WEIGHT] - [http app] (/health, over http or https), [http
# nginx] (/ over https, verify peer with our CA) and [check app] (announcing WEIGHT percent).
layout_app_probes() {
	local app_url="http://$1:$P_APP_HTTP/health"
	[ "$2" = https ] && app_url="https://$1:$P_APP_HTTPS/health"
	cat <<EOF
[http app]
url = $app_url
verify = peer
ca_file = $LAYOUT_TMP/etc/certs/ca.pem
sni = app.example
interval = 200ms
timeout = 500ms
rise = 1
fall = 1
[http nginx]
url = https://$1:$P_APP_HTTPS/
verify = peer
ca_file = $LAYOUT_TMP/etc/certs/ca.pem
sni = app.example
interval = 200ms
timeout = 500ms
rise = 1
fall = 1
[check app]
kind = app
weight = ${3:-100}
EOF
}

# layout_agent_app NAME ADDR [https] [WEIGHT] - an application node's agent: check app from its
# app probe (/health) and nginx probe (/), both over https (verify peer, our CA) when asked,
# else app over http and nginx over https; the app check announces WEIGHT percent (100).
# Started.
layout_agent_app() {
	local mode=${3:-http}
	{
		layout_agent_common "$1" "$2"
		layout_app_probes "$2" "$mode" "${4:-100}"
	} >"$LAYOUT_TMP/$1.conf"
	ops_agent_start "$1"
}

# layout_pg_pair - DB1 primary, DB2 its streaming standby (pg_basebackup -R); data under
# $LAYOUT_TMP/pg1/db1 and pg2/db2 (fresh each call).
layout_pg_pair() {
	# one parent per server: it holds the unix socket, named by the port both servers share
	rm -rf "$LAYOUT_TMP/pg1" "$LAYOUT_TMP/pg2"
	pg_init_primary "$LAYOUT_TMP/pg1/db1" "$P_PG" "$DB1" &&
		pg_start "$LAYOUT_TMP/pg1/db1" &&
		pg_make_standby "$DB1" "$P_PG" "$LAYOUT_TMP/pg2/db2" "$P_PG" "$DB2" &&
		pg_start "$LAYOUT_TMP/pg2/db2" &&
		pg_wait_streaming "$DB2" "$P_PG" 30
}

# layout_spoa - haprole-spoa on HAP_IP:P_SPOA for cluster main (nodes db1, db2).
layout_spoa() {
	cat >"$LAYOUT_TMP/spoa.conf" <<EOF
[spoa]
listen = $HAP_IP:$P_SPOA
status_listen = $HAP_IP:$P_SPOA_STATUS
heartbeat = 200ms
log_level = info
[cluster main]
[node db1]
cluster = main
agent = $DB1:$P_AGENT
[node db2]
cluster = main
agent = $DB2:$P_AGENT
EOF
	spoa_start "$LAYOUT_TMP" "$HAP_IP" "$P_SPOA_STATUS" || return 1
	LAYOUT_SPOA_PID=$SPOA_PID
}

# layout_spoa_stop - stops haprole-spoa (SIGTERM, SIGKILL after 5 s).
layout_spoa_stop() {
	stop_pid "$LAYOUT_SPOA_PID"
	LAYOUT_SPOA_PID=""
}

# layout_psql PORT SQL - SQL through HAProxy's PORT on HAP_IP (5 s connect, 10 s statement).
layout_psql() {
	pg_psql "$HAP_IP" "$1" "$2"
}

# layout_wait_psql PORT SQL WANT SECONDS - polls SQL through HAProxy until it prints WANT.
layout_wait_psql() {
	local got="" i
	for ((i = 0; i < $4 * 10; i++)); do
		got=$(layout_psql "$1" "$2" 2>&1) && [ "$got" = "$3" ] && return 0
		sleep 0.1
	done
	layout_log "through $HAP_IP:$1 '$2': wanted '$3' within $4 s, last '$got'"
	return 1
}

# layout_stop_all - stops everything of one round (haproxy, spoa, agents, postgres); nginx too.
layout_stop_all() {
	local n
	hap_cleanup_all
	layout_spoa_stop
	ops_cleanup
	pg_cleanup_all
	for n in "${!LAYOUT_NGINX_PIDS[@]}"; do
		layout_nginx_stop "$n"
	done
}

# layout_cleanup - EXIT trap.
layout_cleanup() {
	layout_stop_all
	rm -rf "$LAYOUT_TMP"
}
