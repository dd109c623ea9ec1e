#!/bin/bash
# tests/integration/test_ops_install.sh - make install into a staging root (issue 15).
#
#   1. make install PREFIX=/usr DESTDIR=STAGE: the three programs, their man pages, the units,
#      the sysusers.d file, and the sample configs in STAGE/etc/haprole (mode 0640) that the
#      installed daemons accept with -c; the man pages render without warning, `man ./...8`
#      and `man NAME` (MANPATH of the stage) find them.
#   2. A second make install keeps an edited /etc/haprole file as it is.
#   3. make install-user DESTDIR=STAGE creates the system user and group haprole there
#      (systemd-sysusers --root) and gives the configs to the group.
#   4. The units, against the stage (the host's own systemd units copied in, as on a real
#      system): `systemd-analyze verify` says nothing and exits 0; each unit runs as haprole,
#      with ProtectSystem=strict, NoNewPrivileges=yes, PrivateTmp=yes, Restart=on-failure, -d;
#      `systemd-analyze security --offline` rates each at most 3.0 ("OK").
#   5. PREFIX=/usr/local: the units start /usr/local/bin/haprole-*.
# Touches nothing outside its temporary directories.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
. tests/integration/lib/expect.sh
fails=0
command -v systemd-analyze >/dev/null || { echo "SKIP: no systemd-analyze"; exit 77; }
command -v systemd-sysusers >/dev/null || { echo "SKIP: no systemd-sysusers"; exit 77; }
tmp=$(mktemp -d /tmp/hr-ops-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
S=$tmp/stage

# ---- 1. the files ---------------------------------------------------------------------------------
make -s install PREFIX=/usr DESTDIR="$S" >"$tmp/install.log" 2>&1
expect "make install PREFIX=/usr DESTDIR=..." 0 "$?"
for f in usr/bin/haprole-agent usr/bin/haprole-spoa usr/bin/haprolectl \
	usr/share/man/man8/haprole-agent.8 usr/share/man/man8/haprole-spoa.8 \
	usr/share/man/man8/haprolectl.8 usr/lib/systemd/system/haprole-agent.service \
	usr/lib/systemd/system/haprole-spoa.service usr/lib/sysusers.d/haprole.conf \
	usr/share/haprole/docs/install.md; do
	[ -f "$S/$f" ] && ok "installed /$f" || ko "installed /$f"
done
for c in haprole-agent haprole-spoa; do
	expect "/etc/haprole/$c.conf, mode 0640" 640 "$(stat -c %a "$S/etc/haprole/$c.conf" 2>/dev/null)"
	out=$("$S/usr/bin/$c" -c -f "$S/etc/haprole/$c.conf" 2>&1)
	expect_match "the installed $c accepts its installed config" 'configuration is valid' "$out"
done
expect "no user created under DESTDIR by make install" absent "$([ -e "$S/etc/passwd" ] && echo present || echo absent)"
for m in haprole-agent haprole-spoa haprolectl; do
	w=$(LC_ALL=C.UTF-8 groff -t -man -ww -z "man/$m.8" 2>&1)
	expect "man/$m.8 renders without a warning" "" "$w"
	out=$(cd man && MANPAGER=cat MANWIDTH=80 man "./$m.8" 2>&1 | sed -n '4p')
	expect_match "man ./$m.8 works (from man/)" "^ +$m +- " "$out"
	expect "man $m finds the installed page" "$S/usr/share/man/man8/$m.8" \
		"$(MANPATH="$S/usr/share/man" man -w "$m" 2>/dev/null)"
done

# ---- 2. an administrator's file is kept ------------------------------------------------------------
echo "# edited by the administrator" >>"$S/etc/haprole/haprole-agent.conf"
sum=$(md5sum <"$S/etc/haprole/haprole-agent.conf")
make -s install PREFIX=/usr DESTDIR="$S" >"$tmp/install2.log" 2>&1
expect "make install again" 0 "$?"
expect "an edited /etc/haprole/haprole-agent.conf is kept" "$sum" "$(md5sum <"$S/etc/haprole/haprole-agent.conf")"
EXPECT_ONE_LINE=1 expect_match "... and make install says so" 'kept .*/etc/haprole/haprole-agent.conf' "$(cat "$tmp/install2.log")"

# ---- 3. the user ------------------------------------------------------------------------------------
make -s install-user PREFIX=/usr DESTDIR="$S" >"$tmp/user.log" 2>&1
expect "make install-user DESTDIR=..." 0 "$?"
line=$(grep '^haprole:' "$S/etc/passwd" 2>/dev/null)
expect_match "a system user haprole (uid < 1000, no login shell)" '^haprole:x:[0-9]{1,3}:[0-9]+:.*:/var/lib/haprole:/usr/sbin/nologin$' "$line"
gid=$(sed -n 's/^haprole:x:\([0-9]*\):.*/\1/p' "$S/etc/group" 2>/dev/null)
expect_match "a group haprole" '^[0-9]+$' "$gid"
expect "the configs belong to that group" "$gid $gid" \
	"$(stat -c %g "$S/etc/haprole/haprole-agent.conf" "$S/etc/haprole/haprole-spoa.conf" | tr '\n' ' ' | sed 's/ $//')"

# ---- 4. the units -------------------------------------------------------------------------------------
cp -a /usr/lib/systemd/system/. "$S/usr/lib/systemd/system/" 2>/dev/null
for u in haprole-agent haprole-spoa; do
	f=$S/usr/lib/systemd/system/$u.service
	out=$(cd "$tmp" && MANPATH="$S/usr/share/man" systemd-analyze verify --root="$S" "$u.service" 2>&1)
	rc=$?
	expect "systemd-analyze verify $u.service: exit 0, no message" "0 " "$rc $out"
	for d in "User=haprole" "Group=haprole" "ProtectSystem=strict" "NoNewPrivileges=yes" \
		"PrivateTmp=yes" "Restart=on-failure" "ExecStart=/usr/bin/$u -d -f /etc/haprole/$u.conf"; do
		grep -qx "$d" "$f" && ok "$u.service: $d" || ko "$u.service: $d"
	done
	out=$(systemd-analyze security --offline=true --root="$S" --threshold=30 "$u.service" 2>&1)
	rc=$?
	expect "systemd-analyze security $u.service: exposure at most 3.0 ($(printf '%s' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'))" 0 "$rc"
done

# ---- 5. another prefix ---------------------------------------------------------------------------------
make -s install PREFIX=/usr/local DESTDIR="$tmp/local" >"$tmp/install3.log" 2>&1
expect "make install PREFIX=/usr/local" 0 "$?"
expect "its agent unit starts /usr/local/bin/haprole-agent" \
	"ExecStart=/usr/local/bin/haprole-agent -d -f /etc/haprole/haprole-agent.conf" \
	"$(grep '^ExecStart=' "$tmp/local/usr/local/lib/systemd/system/haprole-agent.service")"
exit $((fails > 0))
