# tests/integration/lib/expect.sh - the check helpers the agent and ops integration tests print
# with. Source it (bash) and set fails=0; the test exits non-zero when fails is not 0.
#
#   ok WHAT / ko WHAT          # a passed / failed check ("ok   ..." / "FAIL ..."; ko counts)
#   expect WHAT WANT GOT       # ok when GOT is WANT
#   expect_match WHAT RE GOT   # ok when GOT matches RE (grep -E)
#
# How much of a value expect_match shows: EXPECT_SHOW (120) characters of a match, only its
# first line when EXPECT_ONE_LINE=1; EXPECT_GOT (300) characters of a value that did not match.

ok() { echo "ok   $*"; }
ko() { echo "FAIL $*"; fails=$((fails + 1)); }
# expect WHAT WANT GOT - ok when GOT is WANT.
expect() {
	if [ "$2" = "$3" ]; then ok "$1: $3"; else ko "$1: wanted \"$2\", got \"$3\""; fi
}
# expect_match WHAT REGEX GOT - ok when GOT matches the extended REGEX.
expect_match() {
	local shown
	if printf '%s' "$3" | grep -Eq -- "$2"; then
		if [ "${EXPECT_ONE_LINE:-0}" = 1 ]; then
			shown=$(printf '%s' "$3" | head -n 1 | head -c "${EXPECT_SHOW:-120}")
		else
			shown=$(printf '%s' "$3" | head -c "${EXPECT_SHOW:-120}")
		fi
		ok "$1: $shown"
	else
		ko "$1: wanted /$2/, got \"$(printf '%s' "$3" | head -c "${EXPECT_GOT:-300}")\""
	fi
}
