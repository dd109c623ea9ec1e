# tests/integration/lib/probe.sh - helpers of the probe tests (test_probe_http.sh,
# test_probe_pg.sh), which run one probe alone under a bench/*-watch program and read its
# output lines. Source it (bash) after setting fails=0. Functions return 0/1, never exit.
#
#   probe_watch_built WATCH || exit 1      # builds it with make when missing; says FAIL
#   ok WHAT / bad WHAT                     # a passed / failed check (bad counts in $fails)
#   lines FILE                             # its line count
#   wait_line FILE FROM_LINE REGEX SECONDS # prints the first matching line after FROM_LINE

# probe_watch_built WATCH - 0 when WATCH is executable or `make WATCH` builds it.
probe_watch_built() {
	if [ ! -x "$1" ] && ! make -s "$1" >/dev/null; then
		echo "FAIL: cannot build $1"
		return 1
	fi
	return 0
}

ok() { echo "ok   - $*"; }
bad() {
	echo "FAIL - $*"
	fails=$((fails + 1))
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
