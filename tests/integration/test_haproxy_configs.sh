#!/bin/bash
# tests/integration/test_haproxy_configs.sh - every haproxy/*.cfg, as shipped, passes
# `haproxy -c` on Debian 12's HAProxy 2.6 and on each HAProxy 3.x available
# (tests/integration/lib/haproxy3.sh; a missing one is skipped with the reason).
#
# Only paths are substituted: /etc/haproxy/ -> a temp copy of haproxy/ (so the SPOE engine file
# and Lua scripts the configs load are the shipped ones), /run/haproxy/ -> the temp dir. The TLS
# files a config names under /etc/haproxy/certs/ are made here with openssl (a CA and a server
# certificate signed by it). A config with a `.if defined(HAPROLE_SPOE)` block is checked twice:
# as shipped (agent-check only) and with HAPROLE_SPOE=1 (the SPOE variant); the same for
# HAPROLE_STICK_TABLE (active-active.cfg's stick-table persistence).
#
# Also checks that every PostgreSQL write backend sets `retries 0` itself. Fails when haproxy/
# holds no .cfg at all, or when `haproxy -c` prints a warning: a reference config should load
# clean.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib/expect.sh
. tests/integration/lib/haproxy.sh
. tests/integration/lib/haproxy3.sh

hap_require || exit 77
if ! command -v openssl >/dev/null 2>&1; then
	echo "skip: openssl not found (apt-get install openssl)"
	exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

etc=$tmp/etc/haproxy
mkdir -p "$etc/certs" "$tmp/run"
cp -r haproxy/. "$etc/"
# A CA and a server certificate it signs: `crt` (key + chain in one file) and `ca-file`.
if ! {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=haprole test CA" \
		-keyout "$tmp/ca.key" -out "$etc/certs/ca.pem" &&
		openssl req -newkey rsa:2048 -nodes -subj "/CN=app.example" \
			-keyout "$tmp/srv.key" -out "$tmp/srv.csr" &&
		openssl x509 -req -in "$tmp/srv.csr" -CA "$etc/certs/ca.pem" -CAkey "$tmp/ca.key" \
			-CAcreateserial -days 2 -out "$tmp/srv.crt" &&
		cat "$tmp/srv.crt" "$tmp/srv.key" >"$etc/certs/haprole.pem"
} >"$tmp/openssl.log" 2>&1; then
	cat "$tmp/openssl.log"
	echo "FAIL: could not make the test certificates"
	exit 1
fi

cfgs=$(ls haproxy/*.cfg 2>/dev/null)
if [ -z "$cfgs" ]; then
	echo "FAIL: no haproxy/*.cfg"
	exit 1
fi

# check LABEL ROOT CFG [ENV...] - haproxy -c on the path-substituted CFG.
check() {
	local label=$1 root=$2 cfg=$3 cmd out rc
	shift 3
	cmd=$(hap_cmdline "$root") || {
		ko "$label: cannot run haproxy from '$root'"
		return
	}
	out=$(env "$@" $cmd -c -f "$cfg" 2>&1)
	rc=$?
	if [ $rc -ne 0 ]; then
		ko "$label: refused (status $rc): $(printf '%s' "$out" | grep -E 'ALERT|WARNING' | head -n 5)"
	elif printf '%s' "$out" | grep -q 'WARNING'; then
		ko "$label: valid but warns: $(printf '%s' "$out" | grep WARNING | head -n 5)"
	else
		ok "$label: valid"
	fi
}

roots=$(hap3_roots)
for root in "" $roots; do
	ver=$(hap_version "$root")
	for f in $cfgs; do
		name=$(basename "$f")
		sed -e "s#/etc/haproxy/#$etc/#g" -e "s#/run/haproxy/#$tmp/run/#g" "$f" >"$tmp/$name"
		check "HAProxy $ver: $name" "$root" "$tmp/$name"
		if grep -q 'defined(HAPROLE_SPOE)' "$f"; then
			check "HAProxy $ver: $name with HAPROLE_SPOE=1" "$root" "$tmp/$name" HAPROLE_SPOE=1
		fi
		if grep -q 'defined(HAPROLE_STICK_TABLE)' "$f"; then
			check "HAProxy $ver: $name with HAPROLE_STICK_TABLE=1" "$root" "$tmp/$name" \
				HAPROLE_STICK_TABLE=1
		fi
	done
done
# Layouts that share their PostgreSQL part with distributed.cfg must not drift from it: from
# the "# ---- PostgreSQL writes" line to the end, the files are the same text.
pg_part() { sed -n '/^# ---- PostgreSQL writes/,$p' "$1"; }
for f in haproxy/distributed-tls.cfg haproxy/active-active.cfg; do
	[ -f "$f" ] && [ -f haproxy/distributed.cfg ] || continue
	if [ -z "$(pg_part "$f")" ]; then
		ko "$f: no '# ---- PostgreSQL writes' part"
	elif diff <(pg_part haproxy/distributed.cfg) <(pg_part "$f") >"$tmp/pg.diff"; then
		ok "$f: PostgreSQL part identical to distributed.cfg's"
	else
		ko "$f: PostgreSQL part differs from distributed.cfg's: $(head -c 400 "$tmp/pg.diff")"
	fi
done
# A write backend makes no connect retry: a write waiting in
# HAProxy's retries lands on the old primary if it comes back on its old timeline. Every
# PostgreSQL write backend (be_pg_rw, pg_write) of every config says `retries 0` itself.
for f in haproxy/*.cfg; do
	for be in $(awk '$1 == "backend" && ($2 == "be_pg_rw" || $2 == "pg_write") { print $2 }' "$f"); do
		r=$(awk -v be="$be" '$1 == "backend" || $1 == "listen" || $1 == "frontend" ||
			$1 == "defaults" || $1 == "global" { in_be = ($1 == "backend" && $2 == be) }
			in_be && $1 == "retries" { print $2 }' "$f")
		expect "$f: backend $be: retries" 0 "${r:-none, inherited from defaults}"
	done
done
case " $roots " in
*chroot-sid*) ;;
*) echo "note: no HAProxy 3.2 here (see the haproxy3.sh line above); 2.6 checked" ;;
esac

if [ "$fails" -ne 0 ]; then
	echo "test_haproxy_configs: $fails check(s) failed"
	exit 1
fi
echo "test_haproxy_configs: all checks passed"
exit 0
