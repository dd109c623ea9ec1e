/* tests/unit/test_rise_fall.c - the rise/fall debounce, as sequences of results. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/rise_fall.h"
#include "common/compiler.h"

struct rf_vector {
	int64_t rise;        /* limits */
	int64_t fall;        /* limits */
	const char *results; /* one char per result: '+' pass, '-' fail */
	const char *verdict; /* expected verdict after each result: 'U' up, 'D' down */
	const char *flips;   /* expected rf_feed() return per result: '1' changed, '0' not */
	int line;            /* where the vector is */
};

static const struct rf_vector rf_vectors[] = {
	{ 1, 1, "+-+-", "UDUD", "1111", __LINE__ },
	{ 2, 3, "+", "U", "1", __LINE__ }, /* the first result sets up */
	{ 3, 2, "-", "D", "0", __LINE__ }, /* ... or down (no change) */
	{ 2, 3, "++", "UU", "10", __LINE__ },
	{ 2, 3, "-+-+", "DDDD", "0000", __LINE__ },             /* a failure resets the rise */
	{ 2, 3, "++--+---", "UUUUUUUD", "10000001", __LINE__ }, /* a pass resets the fall */
	{ 3, 1, "-+++-", "DDDUD", "00011", __LINE__ },          /* rise counts after the first */
	{ 2, 1, "+-++", "UDDU", "1101", __LINE__ },             /* back up needs rise passes */
	{ 0, 0, "+-", "UD", "11", __LINE__ },                   /* limits below 1 count as 1 */
	{ 2, 2, "----", "DDDD", "0000", __LINE__ },             /* starts down, stays down */
};

static void test_rf_feed_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < HR_ARRAY_SIZE(rf_vectors); i++) {
		const struct rf_vector *v = &rf_vectors[i];
		struct rise_fall rf;

		rf_init(&rf, v->rise, v->fall);
		assert_false(rf.up);
		assert_false(rf.known);
		for (size_t k = 0; v->results[k] != '\0'; k++) {
			bool changed = rf_feed(&rf, v->results[k] == '+');

			if (changed != (v->flips[k] == '1') || rf.up != (v->verdict[k] == 'U'))
				fail_msg("vector at line %d, result %zu: up=%d changed=%d", v->line,
				         k, rf.up, changed);
			assert_true(rf.known);
		}
	}
}

static void test_rf_set_limits_keeps_verdict(void **state)
{
	struct rise_fall rf;

	(void)state;
	rf_init(&rf, 1, 3);
	assert_true(rf_feed(&rf, true));
	assert_false(rf_feed(&rf, false));
	rf_set_limits(&rf, 5, 1);
	assert_true(rf.up);
	assert_true(rf.known);
	assert_int_equal(rf.count, 0);
	assert_true(rf_feed(&rf, false)); /* the new fall applies */
	assert_false(rf.up);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rf_feed_vectors),
		cmocka_unit_test(test_rf_set_limits_keeps_verdict),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
