#!/bin/bash
# tests/integration/test_probe_https.sh - the agent's HTTPS probe (agent/http_probe.c, url =
# https://...) against a real nginx serving TLS with certificates made here (openssl req),
# through bench/hp-watch (one probe alone on a libev loop, one line per change, a "tick" line
# every second from the same loop).
#
# Shows: verify none + a self-signed certificate -> up; verify peer with the system's CAs on it
# -> down "tls: certificate verify failed (self-signed certificate)"; verify peer with the right
# CA file -> up, by the certificate's IP entry and by SNI name; the wrong SNI name -> down
# (hostname mismatch); the wrong CA -> down with the reason; the request really goes over TLS
# (a 503 location -> down with the status); a server that accepts TCP and never answers the
# ClientHello -> down at the probe deadline "(TLS handshake)", the loop ticking meanwhile.
# Addresses 127.0.42.3, ports 31500-31502 (this engineer's block).
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib/probe.sh

NGINX=${NGINX:-/usr/sbin/nginx}
PY=/usr/bin/python3
for bin in "$NGINX" "$PY" /usr/bin/openssl; do
	if [ ! -x "$bin" ]; then
		echo "skip: $bin not found"
		exit 77
	fi
done
if ! "$NGINX" -V 2>&1 | grep -q -- --with-http_ssl_module; then
	echo "skip: $NGINX has no ssl module"
	exit 77
fi
WATCH=${HP_WATCH:-build/bench/hp-watch}
probe_watch_built "$WATCH" || exit 1

ADDR=127.0.42.3
SELF_PORT=31500   # self-signed certificate
CA_PORT=31501     # certificate signed by our test CA, names app.example and 127.0.42.3
SILENT_PORT=31502 # accepts, never answers

tmp=$(mktemp -d)
pids=()
nginx_pid=""
cleanup() {
	local p
	for p in "${pids[@]}" $nginx_pid; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

fails=0

# certificates: a self-signed one, a CA + a server certificate it signs, and an unrelated CA
if ! (
	cd "$tmp" &&
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=self.example" \
			-keyout self.key -out self.crt &&
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=haprole test CA" \
			-keyout ca.key -out ca.pem &&
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=other CA" \
			-keyout other.key -out other-ca.pem &&
		openssl req -newkey rsa:2048 -nodes -subj "/CN=app.example" -keyout srv.key \
			-out srv.csr &&
		printf 'subjectAltName=DNS:app.example,IP:%s\n' "$ADDR" >srv.ext &&
		openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
			-extfile srv.ext -out srv.crt
) >"$tmp/openssl.log" 2>&1; then
	cat "$tmp/openssl.log"
	echo "FAIL: could not make the certificates"
	exit 1
fi

# watch NAME ARGS... - hp-watch in the background, output in $tmp/NAME.out.
watch() {
	local name=$1
	shift
	"$WATCH" -i 100ms -t 300ms -r 1 -f 1 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	pids+=($!)
}

dump() {
	echo "---- $1"
	tail -n 8 "$tmp/$1.out"
	tail -n 4 "$tmp/$1.err"
}

# expect NAME REGEX WHAT - waits (5 s at most) for a line of NAME matching REGEX.
expect() {
	local l
	if l=$(wait_line "$tmp/$1.out" 0 "$2" 5); then
		ok "$3: ${l#* }"
	else
		bad "$3 (no line matching '$2')"
		dump "$1"
	fi
}

mkdir -p "$tmp/nginx"
cat >"$tmp/nginx/nginx.conf" <<EOF
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
worker_processes 1;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $tmp/nginx;
	proxy_temp_path $tmp/nginx;
	fastcgi_temp_path $tmp/nginx;
	uwsgi_temp_path $tmp/nginx;
	scgi_temp_path $tmp/nginx;
	server {
		listen $ADDR:$SELF_PORT ssl;
		ssl_certificate $tmp/self.crt;
		ssl_certificate_key $tmp/self.key;
		location = / { return 200 "self\n"; }
	}
	server {
		listen $ADDR:$CA_PORT ssl;
		ssl_certificate $tmp/srv.crt;
		ssl_certificate_key $tmp/srv.key;
		location = / { return 200 "ca\n"; }
		location = /down { return 503; }
	}
}
EOF
"$NGINX" -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx" &
nginx_pid=$!
for ((i = 0; i < 100; i++)); do
	curl -kfs -o /dev/null "https://$ADDR:$CA_PORT/" && break
	sleep 0.05
done
if ! curl -kfs -o /dev/null "https://$ADDR:$CA_PORT/"; then
	echo "FAIL: nginx did not start"
	cat "$tmp/nginx/error.log"
	exit 1
fi

# a server that accepts (the kernel does, from the backlog) and never answers
"$PY" -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('$ADDR', $SILENT_PORT)); s.listen(16); time.sleep(120)" &
pids+=($!)
for ((i = 0; i < 100; i++)); do
	nc -z "$ADDR" $SILENT_PORT 2>/dev/null && break
	sleep 0.05
done

watch none -V none "https://$ADDR:$SELF_PORT/"
watch sysca -V peer "https://$ADDR:$SELF_PORT/"
watch byip -V peer -C "$tmp/ca.pem" "https://$ADDR:$CA_PORT/"
watch bysni -V peer -C "$tmp/ca.pem" -N app.example "https://$ADDR:$CA_PORT/"
watch byhost -V peer -C "$tmp/ca.pem" -H app.example:443 "https://$ADDR:$CA_PORT/"
watch wrongname -V peer -C "$tmp/ca.pem" -N wrong.example "https://$ADDR:$CA_PORT/"
watch wrongca -V peer -C "$tmp/other-ca.pem" "https://$ADDR:$CA_PORT/"
watch status -V peer -C "$tmp/ca.pem" "https://$ADDR:$CA_PORT/down"
watch silent -V none "https://$ADDR:$SILENT_PORT/"
watch plain -V none "http://$ADDR:$CA_PORT/"

expect none 'up=1 status=200 .*err=""' "verify none, self-signed certificate -> up"
expect sysca 'up=0 .*err="tls: certificate verify failed \(self-signed certificate\)"' \
	"verify peer, self-signed certificate, system CAs -> down with the reason"
expect byip 'up=1 status=200 .*err=""' "verify peer, right CA file, certificate names the IP -> up"
expect bysni 'up=1 status=200 .*err=""' "verify peer, right CA file, SNI app.example -> up"
expect byhost 'up=1 status=200 .*err=""' "verify peer, name from the host key -> up"
expect wrongname 'up=0 .*err="tls: certificate verify failed \(hostname mismatch\)"' \
	"verify peer, SNI wrong.example -> down (hostname mismatch)"
expect wrongca 'up=0 .*err="tls: certificate verify failed \(unable to get local issuer certificate\)"' \
	"verify peer, wrong CA file -> down with the reason"
expect status 'up=0 status=503 .*err="HTTP status 503, expected 200-399"' \
	"the request goes over TLS: /down -> 503 -> down"
expect silent 'up=0 .*err="timeout after 300 ms \(TLS handshake\)"' \
	"server accepts TCP, never answers the handshake -> down at the deadline"
expect plain 'up=0 status=400 ' "plain http:// to the TLS port -> nginx's 400 -> down"
from=$(lines "$tmp/silent.out")
if wait_line "$tmp/silent.out" "$from" "^tick" 3 >/dev/null; then
	ok "the probe's loop keeps ticking while the handshake hangs"
else
	bad "no tick while the handshake hangs"
	dump silent
fi

# nginx stopped: refused, also over https
from_byip=$(lines "$tmp/byip.out")
kill "$nginx_pid"
wait "$nginx_pid" 2>/dev/null
nginx_pid=""
if l=$(wait_line "$tmp/byip.out" "$from_byip" 'up=0 .*err="connect: Connection refused"' 5); then
	ok "nginx stopped -> https probe down: ${l##* err=}"
else
	bad "nginx stopped, https probe not down"
	dump byip
fi

for p in "${pids[@]}"; do
	kill -TERM "$p" 2>/dev/null
	wait "$p" 2>/dev/null
done
pids=()
if grep -Eq 'Sanitizer|runtime error' "$tmp"/*.err; then
	bad "sanitizer reports:"
	grep -E -A 12 'Sanitizer|runtime error' "$tmp"/*.err | head -40
else
	ok "watchers stopped cleanly"
fi

if [ "$fails" -ne 0 ]; then
	echo "test_probe_https: $fails check(s) failed"
	exit 1
fi
echo "test_probe_https: all checks passed"
exit 0
