# tests/integration/lib/skip.sh - how a test says it cannot run (tests/integration/run.sh counts
# it as skipped, and under CI=true as FAILED unless it is unavoidable). Source it (bash).
#
#   skip "postgresql-15 not installed (make deps)"      # avoidable: CI installs it, so CI fails
#   skip_unavoidable "no network namespaces in this container"
#   skip_unless_root "the demo starts network namespaces"   # unavoidable when not root
#
# Unavoidable means the prerequisite cannot be installed on this machine by `make deps`: the
# user is not root, the system is not Debian, the kernel or container lacks a feature. Both
# print one line and exit 77.

# skip REASON... - a prerequisite is missing that `make deps` could install.
skip() {
	echo "SKIP: $*"
	exit 77
}

# skip_unavoidable REASON... - a prerequisite that cannot be installed here.
skip_unavoidable() {
	echo "SKIP-UNAVOIDABLE: $*"
	exit 77
}

# skip_unless_root REASON... - skips (unavoidable) unless the test runs as root.
skip_unless_root() {
	[ "$(id -u)" = 0 ] || skip_unavoidable "not root: $*"
}
