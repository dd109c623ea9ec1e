# tests/integration/lib/probe.sh - helpers of the probe tests (test_probe_http.sh,
# test_probe_https.sh, test_probe_pg.sh), which run one probe alone under a bench/*-watch
# program and read its output lines. Source it (bash) after lib/pg.sh when the test uses
# PostgreSQL; it loads lib/fixture.sh (ok / ko / expect / fail, fix_block, fix_tmp: the watchers
# and servers started here are in PIDS, stopped at exit). Functions return 0/1 unless they say
# they end the test.
#
#   probe_watch_built WATCH || exit 1      # builds it with make when missing; says FAIL
#   lines FILE                             # its line count
#   wait_line FILE FROM_LINE REGEX SECONDS # prints the first matching line after FROM_LINE
#   probe_watch NAME ARGS...               # $WATCH $PROBE_WATCH_OPTS ARGS > $tmp/NAME.out &
#   probe_dump NAME [LINES]                # the last lines of its output and errors
#   probe_expect NAME REGEX WHAT [FROM [SECONDS]]  # ok when NAME prints a line matching REGEX
#   probe_nginx CHECK_URL < SERVERS        # nginx with these server blocks; ends the test on failure
#   probe_silent ADDR PORT                 # a listener that accepts and never answers
#   probe_watchers_stop                    # SIGTERM every watcher; ko on sanitizer reports

. "$(dirname "${BASH_SOURCE[0]}")/fixture.sh"

NGINX=${NGINX:-/usr/sbin/nginx}
PROBE_WATCH_OPTS=${PROBE_WATCH_OPTS:-}
PROBE_WATCHERS=()
NGINX_PID=

# probe_watch_built WATCH - 0 when WATCH is executable or `make WATCH` builds it.
probe_watch_built() {
	if [ ! -x "$1" ] && ! make -s "$1" >/dev/null; then
		echo "FAIL: cannot build $1"
		return 1
	fi
	return 0
}

lines() { wc -l <"$1"; }

# wait_line FILE FROM_LINE REGEX SECONDS - waits until a line after line FROM_LINE of FILE
# matches the extended REGEX; prints it. Polls every 50 ms, SECONDS at most.
wait_line() {
	local file=$1 from=$2 re=$3 secs=$4 i line
	for ((i = 0; i < secs * 20; i++)); do
		line=$(tail -n +"$((from + 1))" "$file" | grep -E -m 1 -- "$re") && {
			echo "$line"
			return 0
		}
		sleep 0.05
	done
	return 1
}

# probe_watch NAME ARGS... - $WATCH with $PROBE_WATCH_OPTS (word-split) and ARGS in the
# background, output in $tmp/NAME.out, errors in $tmp/NAME.err.
probe_watch() {
	local name=$1
	shift
	# shellcheck disable=SC2086 # options, split on purpose
	"$WATCH" $PROBE_WATCH_OPTS "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	PIDS+=($!)
	PROBE_WATCHERS+=($!)
}

# probe_dump NAME [LINES] - the last LINES (PROBE_DUMP_LINES, 8) lines of NAME's output, the
# last errors.
probe_dump() {
	echo "---- $1"
	tail -n "${2:-${PROBE_DUMP_LINES:-8}}" "$tmp/$1.out"
	tail -n 4 "$tmp/$1.err"
}

# probe_expect NAME REGEX WHAT [FROM [SECONDS]] - waits (SECONDS, 5, at most) for a line of
# NAME after its line FROM (0) matching REGEX.
probe_expect() {
	local l
	if l=$(wait_line "$tmp/$1.out" "${4:-0}" "$2" "${5:-5}"); then
		ok "$3: ${l#* }"
	else
		ko "$3 (no line matching '$2')"
		probe_dump "$1"
	fi
}

# probe_nginx CHECK_URL - nginx (NGINX_PID, in PIDS) with the server blocks read from stdin,
# config and logs in $tmp/nginx; waits (5 s) until curl -k gets CHECK_URL. Ends the test (fail)
# when it does not.
probe_nginx() {
	local i
	mkdir -p "$tmp/nginx"
	{
		cat <<EOF
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
EOF
		cat
		echo "}"
	} >"$tmp/nginx/nginx.conf"
	"$NGINX" -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx" &
	NGINX_PID=$!
	PIDS+=($NGINX_PID)
	for ((i = 0; i < 100; i++)); do
		curl -kfs -o /dev/null "$1" && return 0
		proc_live "$NGINX_PID" || break
		sleep 0.05
	done
	FIX_LOGS="nginx/error.log" fail "nginx did not start (no answer on $1)"
}

# probe_silent ADDR PORT - a server that accepts (the kernel does, from the backlog) and never
# answers, in PIDS; waits (5 s) until it listens. Ends the test (fail) when it does not.
probe_silent() {
	local i
	python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('$1', $2)); s.listen(16); time.sleep(300)" &
	PIDS+=($!)
	for ((i = 0; i < 100; i++)); do
		nc -z "$1" "$2" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "the silent listener on $1:$2 did not start"
}

# probe_watchers_stop - SIGTERM to every watcher of probe_watch (bounded wait each); a failed
# check when one wrote a sanitizer report (SAN=1 builds), with the reports.
probe_watchers_stop() {
	local p
	for p in "${PROBE_WATCHERS[@]}"; do
		stop_pid "$p"
	done
	PROBE_WATCHERS=()
	if grep -Eq 'Sanitizer|runtime error' "$tmp"/*.err; then
		ko "sanitizer reports:"
		grep -E -A 12 'Sanitizer|runtime error' "$tmp"/*.err | head -40
	else
		ok "watchers stopped cleanly"
	fi
}
