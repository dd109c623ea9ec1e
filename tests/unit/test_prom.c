/* tests/unit/test_prom.c - the table-driven Prometheus writer (common/prom.h): one # HELP and
 * # TYPE per family however many rows it has, labels as given, values read at the offsets,
 * label escaping, and -1 when the buffer is full. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/prom.h"

struct vals {
	uint64_t a; /* first */
	uint64_t b; /* second */
	uint64_t c; /* third */
};

static const struct prom_metric table[] = {
	{ "x_total", PROM_COUNTER, "k=\"1\"", offsetof(struct vals, a), "X by k." },
	{ "x_total", PROM_COUNTER, "k=\"2\"", offsetof(struct vals, b), "" },
	{ "y", PROM_GAUGE, NULL, offsetof(struct vals, c), "Y now." },
};

static void test_prom_write_families(void **state)
{
	static const char want[] = "# HELP x_total X by k.\n# TYPE x_total counter\n"
	                           "x_total{k=\"1\"} 1\nx_total{k=\"2\"} 18446744073709551615\n"
	                           "# HELP y Y now.\n# TYPE y gauge\ny 0\n";
	struct vals v = { 1, UINT64_MAX, 0 };
	uint8_t mem[512];
	struct buf b;

	(void)state;
	buf_init_static(&b, mem, sizeof(mem));
	assert_int_equal(prom_write(&b, table, 3, &v), 0);
	assert_int_equal(buf_len(&b), strlen(want));
	assert_memory_equal(buf_head(&b), want, strlen(want));
}

static void test_prom_write_full(void **state)
{
	struct vals v = { 1, 2, 3 };
	uint8_t mem[60];
	struct buf b;

	(void)state;
	buf_init_static(&b, mem, sizeof(mem));
	assert_int_equal(prom_write(&b, table, 3, &v), -1);
}

static void test_prom_label_escapes(void **state)
{
	static const char want[] = "a\\\\b\\\"c\\nd";
	uint8_t mem[64];
	struct buf b;

	(void)state;
	buf_init_static(&b, mem, sizeof(mem));
	assert_int_equal(prom_label(&b, "a\\b\"c\nd"), 0);
	assert_int_equal(buf_len(&b), strlen(want));
	assert_memory_equal(buf_head(&b), want, strlen(want));
	assert_int_equal(prom_one(&b, "z", PROM_GAUGE, "Z.", 7), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prom_write_families),
		cmocka_unit_test(test_prom_write_full),
		cmocka_unit_test(test_prom_label_escapes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
