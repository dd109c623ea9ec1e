#!/bin/sh
# tools/deps.sh - installs the Debian packages haprole needs to build, test and run the demo,
# only those missing, so that `make test` and `make demo` work on a fresh Debian 12 machine.
# Runs apt-get only when something is missing; needs root then.
set -eu

PKGS="build-essential pkg-config libev-dev libpq-dev libmsgpack-dev libcmocka-dev
clang libclang-rt-14-dev
postgresql-15 postgresql-client-15 nginx-light haproxy haproxy-doc
libssl-dev openssl debootstrap curl netcat-openbsd iproute2 iptables procps psmisc jq python3 python3-psycopg2
lua5.3 faketime"
# `make demo PATRONI=1` / `make deps PATRONI=1` (and tests/integration/test_patroni.sh): Patroni
# and etcd too. Only then: Debian's etcd-server enables a system etcd on 127.0.0.1:2379 at every
# boot, which a machine that only builds or runs haprole should not get as a side effect.
if [ "${PATRONI:-0}" = 1 ]; then
	PKGS="$PKGS patroni etcd-server etcd-client"
fi

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "tools/deps.sh: missing Debian packages:$missing" >&2
	echo "tools/deps.sh: run 'make deps' as root, or install them with apt-get." >&2
	exit 1
fi
echo "tools/deps.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The postgresql package would start a 'main' cluster on 5432 and nginx one on port 80: we
# run our own instances, so keep Debian's from starting (policy-rc.d) during the install.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' > "$policy"
	chmod 755 "$policy"
	made_policy=1
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/tmp/haprole-deps.log 2>&1 ||
	{ tail -20 /tmp/haprole-deps.log >&2; [ "$made_policy" = 1 ] && rm -f "$policy"; exit 1; }
[ "$made_policy" = 1 ] && rm -f "$policy"
echo "tools/deps.sh: done"
