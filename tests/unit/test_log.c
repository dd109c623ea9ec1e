/* tests/unit/test_log.c - levels, one line per event, CR/LF neutralised, long lines marked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/log.h"

struct captured {
	int lines;            /* lines received */
	enum log_level level; /* level of the last one */
	char last[2048];      /* text of the last one */
};

static void sink(enum log_level level, const char *line, void *arg)
{
	struct captured *c = arg;

	c->lines++;
	c->level = level;
	strncpy(c->last, line, sizeof(c->last) - 1);
}

static void test_log_msg_filters_by_level(void **state)
{
	struct captured c = { 0 };

	(void)state;
	log_set_sink(sink, &c);
	log_set_level(LOG_LVL_INFO);
	log_debug("not shown %d", 1);
	assert_int_equal(c.lines, 0);
	log_info("role %s -> %s", "standby", "primary");
	assert_int_equal(c.lines, 1);
	assert_int_equal(c.level, LOG_LVL_INFO);
	assert_string_equal(c.last, "role standby -> primary");
	log_set_level(LOG_LVL_DEBUG);
	log_debug("shown");
	assert_int_equal(c.lines, 2);
}

static void test_log_msg_one_line_per_event(void **state)
{
	struct captured c = { 0 };

	(void)state;
	log_set_sink(sink, &c);
	log_set_level(LOG_LVL_INFO);
	log_warning("peer said %s", "bad\r\nforged line");
	assert_int_equal(c.lines, 1);
	assert_string_equal(c.last, "peer said bad  forged line");
}

static void test_log_msg_long_line_marked(void **state)
{
	struct captured c = { 0 };
	char big[3000];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_set_sink(sink, &c);
	log_error("%s", big);
	assert_int_equal(strlen(c.last), 1023);
	assert_string_equal(c.last + 1020, "...");
}

static void test_log_level_parse_names(void **state)
{
	enum log_level l;

	(void)state;
	assert_true(log_level_parse("debug", &l));
	assert_int_equal(l, LOG_LVL_DEBUG);
	assert_true(log_level_parse("error", &l));
	assert_int_equal(l, LOG_LVL_ERROR);
	assert_false(log_level_parse("verbose", &l));
	assert_string_equal(log_level_name(LOG_LVL_WARNING), "warning");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_msg_filters_by_level),
		cmocka_unit_test(test_log_msg_one_line_per_event),
		cmocka_unit_test(test_log_msg_long_line_marked),
		cmocka_unit_test(test_log_level_parse_names),
	};

	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
