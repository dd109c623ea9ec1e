# tests/integration/lib/haproxy3.sh - HAProxy 3.x binaries for the SPOE tests, without touching
# the machine's own packages: Debian trixie (3.0) and sid (3.2, with the SPOE rewritten in 3.1)
# unpacked with debootstrap into /var/cache/haprole/chroot-<suite>, run from outside the chroot
# through lib/haproxy.sh (hap_start CFG ROOT). Source it (bash) after lib/haproxy.sh:
#
#   . tests/integration/lib/haproxy.sh
#   . tests/integration/lib/haproxy3.sh
#   for root in "" $(hap3_roots); do ...; done    # "" = Debian 12's /usr/sbin/haproxy (2.6)
#
# hap3_roots prints the root directory of every 3.x it has or could make, one per line, and
# says on stderr which it skipped and why. Making one takes ~3 minutes (debootstrap + apt-get
# install haproxy from Debian's registry); a lock keeps parallel tests from doing it twice.
# HAP3_SUITES (default "trixie sid") and HAP3_CACHE (default /var/cache/haprole) override;
# HAP3_NO_CREATE=1 only uses what is already there.

HAP3_CACHE=${HAP3_CACHE:-/var/cache/haprole}
HAP3_SUITES=${HAP3_SUITES:-trixie sid}
HAP3_MIRROR=${HAP3_MIRROR:-http://deb.debian.org/debian}

hap3_log() {
	echo "haproxy3.sh: $*" >&2
}

# hap3_make SUITE DIR - debootstrap + apt-get install haproxy, bounded to 15 minutes.
hap3_make() {
	local suite=$1 dir=$2 tmp=$2.tmp
	if ! command -v debootstrap >/dev/null 2>&1; then
		hap3_log "skip $suite: debootstrap not installed (apt-get install debootstrap)"
		return 1
	fi
	if [ "$(id -u)" != 0 ]; then
		hap3_log "skip $suite: making $dir needs root"
		return 1
	fi
	rm -rf "$tmp"
	hap3_log "making $dir (debootstrap $suite, ~3 minutes)"
	if ! timeout 900 debootstrap --variant=minbase "$suite" "$tmp" "$HAP3_MIRROR" \
		>"$tmp.log" 2>&1; then
		hap3_log "skip $suite: debootstrap failed, see $tmp.log"
		return 1
	fi
	if ! timeout 600 chroot "$tmp" apt-get install -y --no-install-recommends haproxy \
		>>"$tmp.log" 2>&1; then
		hap3_log "skip $suite: apt-get install haproxy in the chroot failed, see $tmp.log"
		return 1
	fi
	mv "$tmp" "$dir" && rm -f "$tmp.log"
}

# hap3_roots - prints the usable 3.x roots (see above).
hap3_roots() {
	local suite dir
	mkdir -p "$HAP3_CACHE" 2>/dev/null
	for suite in $HAP3_SUITES; do
		dir=$HAP3_CACHE/chroot-$suite
		if [ ! -x "$dir/usr/sbin/haproxy" ]; then
			if [ "${HAP3_NO_CREATE:-0}" = 1 ]; then
				hap3_log "skip $suite: $dir missing and HAP3_NO_CREATE=1"
				continue
			fi
			(
				flock -w 1200 9 || exit 1
				[ -x "$dir/usr/sbin/haproxy" ] || hap3_make "$suite" "$dir"
			) 9>"$HAP3_CACHE/.lock-$suite" || continue
		fi
		if ! hap_version "$dir" >/dev/null 2>&1 || [ -z "$(hap_version "$dir")" ]; then
			hap3_log "skip $suite: $dir/usr/sbin/haproxy does not run here"
			continue
		fi
		echo "$dir"
	done
}
