/* tests/unit/test_units.c - duration and size parsing, table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "common/units.h"

struct duration_vector {
	const char *in; /* text as in a config */
	int ret;        /* expected return */
	double secs;    /* expected value when ret == 0 */
	int line;       /* where the vector is, for the failure message */
};

static const struct duration_vector duration_vectors[] = {
	{ "250ms", 0, 0.25, __LINE__ },  { "2s", 0, 2.0, __LINE__ },
	{ "1.5s", 0, 1.5, __LINE__ },    { "500us", 0, 0.0005, __LINE__ },
	{ "5m", 0, 300.0, __LINE__ },    { "1h", 0, 3600.0, __LINE__ },
	{ "100", 0, 0.1, __LINE__ },     { "0", 0, 0.0, __LINE__ },
	{ "", -1, 0, __LINE__ },         { "ms", -1, 0, __LINE__ },
	{ "-1s", -1, 0, __LINE__ },      { "+1s", -1, 0, __LINE__ },
	{ "10 s", -1, 0, __LINE__ },     { "10sec", -1, 0, __LINE__ },
	{ "1d", -1, 0, __LINE__ },       { "1e400s", -1, 0, __LINE__ },
	{ "9999999h", -1, 0, __LINE__ }, { " 1s", -1, 0, __LINE__ },
};

struct size_vector {
	const char *in; /* text as in a config */
	int ret;        /* expected return */
	uint64_t bytes; /* expected value when ret == 0 */
	int line;       /* where the vector is */
};

static const struct size_vector size_vectors[] = {
	{ "512", 0, 512, __LINE__ },
	{ "512B", 0, 512, __LINE__ },
	{ "64k", 0, 65536, __LINE__ },
	{ "64KB", 0, 65536, __LINE__ },
	{ "64KiB", 0, 65536, __LINE__ },
	{ "16MB", 0, 16777216, __LINE__ },
	{ "1G", 0, 1073741824, __LINE__ },
	{ "18446744073709551615", 0, UINT64_MAX, __LINE__ },
	{ "18446744073709551616", -1, 0, __LINE__ },
	{ "17179869184G", -1, 0, __LINE__ },
	{ "1.5MB", -1, 0, __LINE__ },
	{ "-1", -1, 0, __LINE__ },
	{ "16 MB", -1, 0, __LINE__ },
	{ "16TB", -1, 0, __LINE__ },
	{ "", -1, 0, __LINE__ },
};

static void test_units_parse_duration_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(duration_vectors) / sizeof(duration_vectors[0]); i++) {
		const struct duration_vector *v = &duration_vectors[i];
		double d = -42.0;
		int ret = units_parse_duration(v->in, &d);

		if (ret != v->ret || (ret == 0 && (d < v->secs - 1e-12 || d > v->secs + 1e-12)))
			fail_msg("vector at line %d (\"%s\"): got ret %d value %g", v->line, v->in,
			         ret, d);
	}
}

static void test_units_parse_size_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(size_vectors) / sizeof(size_vectors[0]); i++) {
		const struct size_vector *v = &size_vectors[i];
		uint64_t s = 42;
		int ret = units_parse_size(v->in, &s);

		if (ret != v->ret || (ret == 0 && s != v->bytes))
			fail_msg("vector at line %d (\"%s\"): got ret %d value %llu", v->line,
			         v->in, ret, (unsigned long long)s);
	}
}

static void test_units_format_duration_round_trips(void **state)
{
	const double values[] = { 0.1, 0.25, 2.0, 0.0005, 60.0 };
	char text[32];

	(void)state;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		double back;

		assert_int_equal(units_format_duration(values[i], text, sizeof(text)), 0);
		assert_int_equal(units_parse_duration(text, &back), 0);
		assert_true(back > values[i] - 1e-12 && back < values[i] + 1e-12);
	}
	assert_int_equal(units_format_duration(2.0, text, 2), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_units_parse_duration_vectors),
		cmocka_unit_test(test_units_parse_size_vectors),
		cmocka_unit_test(test_units_format_duration_round_trips),
	};

	return cmocka_run_group_tests_name("units", tests, NULL, NULL);
}
