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
# Its addresses and ports: block test_probe_https of tests/integration/lib/fixture.sh.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib/probe.sh

fix_need "$NGINX" python3 /usr/bin/openssl curl nc
"$NGINX" -V 2>&1 | grep -q -- --with-http_ssl_module || skip "$NGINX has no ssl module"
WATCH=${HP_WATCH:-build/bench/hp-watch}
probe_watch_built "$WATCH" || exit 1
PROBE_WATCH_OPTS="-i 100ms -t 300ms -r 1 -f 1"

fix_block test_probe_https
ADDR=$IP
# SELF_PORT: a self-signed certificate; CA_PORT: signed by our test CA, names app.example and
# $ADDR; SILENT_PORT: accepts, never answers
fix_ports SELF_PORT CA_PORT SILENT_PORT
fix_tmp probe-https
FIX_LOGS=openssl.log
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
	fail "could not make the certificates"
fi

probe_nginx "https://$ADDR:$CA_PORT/" <<EOF
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
EOF
probe_silent "$ADDR" "$SILENT_PORT"

probe_watch none -V none "https://$ADDR:$SELF_PORT/"
probe_watch sysca -V peer "https://$ADDR:$SELF_PORT/"
probe_watch byip -V peer -C "$tmp/ca.pem" "https://$ADDR:$CA_PORT/"
probe_watch bysni -V peer -C "$tmp/ca.pem" -N app.example "https://$ADDR:$CA_PORT/"
probe_watch byhost -V peer -C "$tmp/ca.pem" -H app.example:443 "https://$ADDR:$CA_PORT/"
probe_watch wrongname -V peer -C "$tmp/ca.pem" -N wrong.example "https://$ADDR:$CA_PORT/"
probe_watch wrongca -V peer -C "$tmp/other-ca.pem" "https://$ADDR:$CA_PORT/"
probe_watch status -V peer -C "$tmp/ca.pem" "https://$ADDR:$CA_PORT/down"
probe_watch silent -V none "https://$ADDR:$SILENT_PORT/"
probe_watch plain -V none "http://$ADDR:$CA_PORT/"

probe_expect none 'up=1 status=200 .*err=""' "verify none, self-signed certificate -> up"
probe_expect sysca 'up=0 .*err="tls: certificate verify failed \(self-signed certificate\)"' \
	"verify peer, self-signed certificate, system CAs -> down with the reason"
probe_expect byip 'up=1 status=200 .*err=""' "verify peer, right CA file, certificate names the IP -> up"
probe_expect bysni 'up=1 status=200 .*err=""' "verify peer, right CA file, SNI app.example -> up"
probe_expect byhost 'up=1 status=200 .*err=""' "verify peer, name from the host key -> up"
probe_expect wrongname 'up=0 .*err="tls: certificate verify failed \(hostname mismatch\)"' \
	"verify peer, SNI wrong.example -> down (hostname mismatch)"
probe_expect wrongca 'up=0 .*err="tls: certificate verify failed \(unable to get local issuer certificate\)"' \
	"verify peer, wrong CA file -> down with the reason"
probe_expect status 'up=0 status=503 .*err="HTTP status 503, expected 200-399"' \
	"the request goes over TLS: /down -> 503 -> down"
probe_expect silent 'up=0 .*err="timeout after 300 ms \(TLS handshake\)"' \
	"server accepts TCP, never answers the handshake -> down at the deadline"
probe_expect plain 'up=0 status=400 ' "plain http:// to the TLS port -> nginx's 400 -> down"
probe_expect silent "^tick" "the probe's loop keeps ticking while the handshake hangs" \
	"$(lines "$tmp/silent.out")" 3

# nginx stopped: refused, also over https
from_byip=$(lines "$tmp/byip.out")
stop_pid "$NGINX_PID"
probe_expect byip 'up=0 .*err="connect: Connection refused"' "nginx stopped -> https probe down" \
	"$from_byip"

probe_watchers_stop

if [ "$fails" -ne 0 ]; then
	echo "test_probe_https: $fails check(s) failed"
	exit 1
fi
echo "test_probe_https: all checks passed"
exit 0
