#!/bin/bash
# tools/docker-engine.sh - a Docker engine for `make test-docker` (issue 11), and nothing more.
#
#   tools/docker-engine.sh start   install docker.io/docker-compose when missing (root, apt);
#                                  start dockerd only when no engine answers; exit 77 (with the
#                                  reason on stderr) when no engine can be had
#   tools/docker-engine.sh base    make sure the image debian:bookworm-slim exists: imported from
#                                  $CACHE/debian-bookworm-slim.tar, which debootstrap makes when
#                                  missing (no image registry needed)
#   tools/docker-engine.sh stop    remove the base image when `base` imported it; stop the dockerd
#                                  `start` started (by its pid) and undo what it did to the host's
#                                  firewall: FORWARD policy, Docker's chains and rules, ip_forward,
#                                  docker0, br_netfilter. An engine that was already running is left
#                                  alone.
#   tools/docker-engine.sh docker  print the docker client to use (Debian's /usr/bin/docker first)
#
# State lives in $STATE (HAPROLE_DOCKER_STATE, default /run/haprole-docker-engine); `stop` reads
# it, so `start` and `stop` may run from different shells. Each user of this script keeps its own
# state directory: a second `start` with another one finds the engine running and will leave it. While the engine we started runs, the netns demo's
# bridge (hr-br0) keeps a FORWARD allow rule of ours: dockerd sets the FORWARD policy to DROP.
set -euo pipefail

STATE=${HAPROLE_DOCKER_STATE:-/run/haprole-docker-engine}
CACHE=${HAPROLE_CACHE:-/var/cache/haprole}
BASE_TAR=$CACHE/debian-bookworm-slim.tar
BASE_IMAGE=debian:bookworm-slim
DEMO_RULE=(FORWARD -i hr-br0 -o hr-br0 -m comment --comment haprole-docker-engine-hr-br0 -j ACCEPT)

say() { printf 'docker-engine: %s\n' "$*" >&2; }
skip() { say "SKIP: $*"; exit 77; }

docker_bin() {
	# /usr/local/bin/docker may be a stub of some other tool ahead in PATH: Debian's client first.
	if [ -x /usr/bin/docker ]; then echo /usr/bin/docker; else command -v docker; fi
}
engine_up() { "$(docker_bin)" info >/dev/null 2>&1; }
state_get() { sed -n "s/^$1=//p" "$STATE/state" 2>/dev/null | tail -1; }
state_set() { mkdir -p "$STATE"; touch "$STATE/state"; sed -i "/^$1=/d" "$STATE/state"; echo "$1=$2" >>"$STATE/state"; }
have_ipt() { command -v iptables >/dev/null 2>&1; }

install_pkgs() {
	local missing=()
	[ -x /usr/sbin/dockerd ] && [ -x /usr/bin/docker ] || missing+=(docker.io)
	command -v docker-compose >/dev/null 2>&1 || "$(docker_bin)" compose version >/dev/null 2>&1 ||
		missing+=(docker-compose)
	[ ${#missing[@]} = 0 ] && return 0
	[ "$(id -u)" = 0 ] || skip "${missing[*]} missing and not root to install them"
	command -v apt-get >/dev/null || skip "${missing[*]} missing and no apt-get"
	say "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
		>"$STATE/apt.log" 2>&1 || {
		apt-get update -q >>"$STATE/apt.log" 2>&1 &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
				"${missing[@]}" >>"$STATE/apt.log" 2>&1
	} || skip "could not install ${missing[*]} (see $STATE/apt.log)"
}

cmd_start() {
	mkdir -p "$STATE"
	install_pkgs
	if engine_up; then
		if [ "$(state_get OURS)" = 1 ] && [ -e "/proc/$(cat "$STATE/dockerd.spawn" 2>/dev/null || echo 0)" ]; then
			say "the dockerd an earlier 'start' started with state $STATE runs: nothing to do"
			return 0
		fi
		say "a Docker engine already runs: using it, it will be left running"
		state_set OURS 0
		return 0
	fi
	[ "$(id -u)" = 0 ] || skip "no Docker engine answers and not root to start dockerd"
	[ -s "$STATE/dockerd.pid" ] && [ -e "/proc/$(cat "$STATE/dockerd.pid")" ] &&
		skip "a dockerd of an earlier run ($(cat "$STATE/dockerd.pid")) runs but does not answer"
	# What dockerd changes on the host, to put back at stop.
	state_set OURS 1
	state_set HAD_BRNF "$([ -d /proc/sys/net/bridge ] && echo 1 || echo 0)"
	state_set HAD_DOCKER0 "$(ip link show docker0 >/dev/null 2>&1 && echo 1 || echo 0)"
	state_set IP_FORWARD "$(cat /proc/sys/net/ipv4/ip_forward)"
	if have_ipt; then
		state_set FWD_POLICY "$(iptables -w 5 -S FORWARD | sed -n 's/^-P FORWARD //p')"
		state_set HAD_CHAINS "$(iptables -w 5 -S DOCKER >/dev/null 2>&1 && echo 1 || echo 0)"
	fi
	# Before dockerd flips the policy: the netns demo (docker/demo.sh) keeps its bridge.
	if have_ipt && ! iptables -w 5 -C "${DEMO_RULE[@]}" 2>/dev/null; then
		iptables -w 5 -I "${DEMO_RULE[@]}" && state_set DEMO_RULE 1
	fi
	say "starting dockerd (log $STATE/dockerd.log)"
	setsid /usr/sbin/dockerd --pidfile "$STATE/dockerd.pid" >"$STATE/dockerd.log" 2>&1 </dev/null &
	echo $! >"$STATE/dockerd.spawn"
	local i
	for ((i = 0; i < 600; i++)); do
		engine_up && break
		if ! [ -e "/proc/$(cat "$STATE/dockerd.spawn")" ]; then
			tail -5 "$STATE/dockerd.log" >&2
			cleanup_host
			skip "dockerd exited at start (see $STATE/dockerd.log)"
		fi
		sleep 0.1
	done
	engine_up || { cmd_stop; skip "dockerd did not answer within 60 s (see $STATE/dockerd.log)"; }
	# dockerd runs its own containerd (a child) when no system one runs: remember it, to check
	# at stop that it went away with dockerd.
	pgrep -P "$(cat "$STATE/dockerd.spawn")" -x containerd >"$STATE/containerd.pid" 2>/dev/null || :
	say "dockerd $(cat "$STATE/dockerd.spawn") answers"
}

cmd_base() {
	local d docker
	docker=$(docker_bin)
	"$docker" image inspect $BASE_IMAGE >/dev/null 2>&1 && { say "$BASE_IMAGE present"; return 0; }
	if [ ! -s "$BASE_TAR" ]; then
		command -v debootstrap >/dev/null || {
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null 2>&1 ||
				skip "no $BASE_IMAGE, no cached $BASE_TAR and no debootstrap"
		}
		mkdir -p "$CACHE"
		d=$(mktemp -d "$CACHE/bookworm.XXXXXX")
		say "making $BASE_TAR with debootstrap --variant=minbase (about a minute)"
		if ! debootstrap --variant=minbase bookworm "$d" http://deb.debian.org/debian \
			>"$STATE/debootstrap.log" 2>&1; then
			rm -rf "$d"
			skip "debootstrap failed (see $STATE/debootstrap.log)"
		fi
		# Slim as Debian's own debian:bookworm-slim: no docs, man pages or locales, now or in
		# packages installed later; no apt caches.
		cat >"$d/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF2'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
EOF2
		find "$d/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete 2>/dev/null || :
		rm -rf "$d"/usr/share/man/* "$d"/usr/share/info/* "$d"/usr/share/locale/* \
			"$d"/var/cache/apt/archives/*.deb "$d"/var/cache/apt/*.bin "$d"/var/lib/apt/lists/*
		tar -C "$d" -c . >"$BASE_TAR.tmp" && mv "$BASE_TAR.tmp" "$BASE_TAR"
		rm -rf "$d"
	fi
	"$docker" import - $BASE_IMAGE <"$BASE_TAR" >/dev/null
	state_set BASE_IMPORTED 1
	say "$BASE_IMAGE imported from $BASE_TAR"
}

# cleanup_host: put back what dockerd changed (only when the engine was ours).
cleanup_host() {
	[ "$(state_get OURS)" = 1 ] || return 0
	if have_ipt && [ "$(state_get HAD_CHAINS)" = 0 ]; then
		local t c rule
		for t in filter nat; do
			# Every rule that jumps to one of Docker's chains or names a docker bridge, then the chains.
			iptables -w 5 -t $t -S 2>/dev/null | grep -E '^-A ' |
				grep -E -- '-j DOCKER|-o docker0|-i docker0|-o br-|-i br-|--comment "?DOCKER|MASQUERADE.*172\.' |
				while read -r rule; do
					# shellcheck disable=SC2086
					eval "iptables -w 5 -t $t ${rule/-A /-D }" 2>/dev/null || :
				done
			for c in $(iptables -w 5 -t $t -S 2>/dev/null | sed -n 's/^-N \(DOCKER[A-Z0-9_-]*\)$/\1/p'); do
				iptables -w 5 -t $t -F "$c" 2>/dev/null || :
			done
			for c in $(iptables -w 5 -t $t -S 2>/dev/null | sed -n 's/^-N \(DOCKER[A-Z0-9_-]*\)$/\1/p'); do
				iptables -w 5 -t $t -X "$c" 2>/dev/null || :
			done
		done
	fi
	if have_ipt && [ -n "$(state_get FWD_POLICY)" ]; then
		iptables -w 5 -P FORWARD "$(state_get FWD_POLICY)" || :
	fi
	if have_ipt && [ "$(state_get DEMO_RULE)" = 1 ]; then
		while iptables -w 5 -C "${DEMO_RULE[@]}" 2>/dev/null; do iptables -w 5 -D "${DEMO_RULE[@]}" || break; done
	fi
	[ -n "$(state_get IP_FORWARD)" ] && echo "$(state_get IP_FORWARD)" >/proc/sys/net/ipv4/ip_forward || :
	[ "$(state_get HAD_DOCKER0)" = 0 ] && ip link del docker0 2>/dev/null || :
	[ "$(state_get HAD_BRNF)" = 0 ] && modprobe -r br_netfilter 2>/dev/null || :
}

cmd_stop() {
	local docker p i
	docker=$(docker_bin)
	[ -f "$STATE/state" ] || { say "nothing to stop"; return 0; }
	if [ "$(state_get BASE_IMPORTED)" = 1 ] && engine_up; then
		"$docker" rmi $BASE_IMAGE >/dev/null 2>&1 || say "warning: could not remove $BASE_IMAGE"
	fi
	if [ "$(state_get OURS)" = 1 ]; then
		p=$(cat "$STATE/dockerd.spawn" 2>/dev/null || :)
		if [ -n "$p" ] && [ -e "/proc/$p" ]; then
			say "stopping dockerd $p"
			kill -TERM "$p" 2>/dev/null || :
			for ((i = 0; i < 300; i++)); do [ -e "/proc/$p" ] || break; sleep 0.1; done
			[ -e "/proc/$p" ] && { say "dockerd $p still there after 30 s: SIGKILL"; kill -9 "$p" 2>/dev/null || :; }
			for ((i = 0; i < 50; i++)); do [ -e "/proc/$p" ] || break; sleep 0.1; done
		fi
		# dockerd's own containerd normally leaves with it; if not, stop it by its pid.
		for p in $(cat "$STATE/containerd.pid" 2>/dev/null || :); do
			[ "$(cat "/proc/$p/comm" 2>/dev/null)" = containerd ] || continue
			kill -TERM "$p" 2>/dev/null || :
			for ((i = 0; i < 100; i++)); do [ -e "/proc/$p" ] || break; sleep 0.1; done
		done
		cleanup_host
	fi
	rm -rf "$STATE"
	say "stopped; host firewall and forwarding as found"
}

case "${1:-}" in
start) cmd_start ;;
base) cmd_base ;;
stop) cmd_stop ;;
docker) docker_bin ;;
*) echo "usage: $0 start|base|stop|docker" >&2; exit 2 ;;
esac
