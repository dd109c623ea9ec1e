/* tests/unit/test_agent_line.c - the agent-check line encoder: every state and admin word,
 * weights, maxconn, reason sanitising and bounds. Vectors name their line on failure. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/agent_line.h"

struct line_vec {
	struct al_reply r;    /* input */
	const char *expected; /* line, or NULL for an error */
	int line;             /* __LINE__ */
};

static void test_al_format_vectors(void **state)
{
	static const struct line_vec v[] = {
		{ { AL_UP, NS_ADMIN_READY, 100, 0, NULL }, "up ready 100%", __LINE__ },
		{ { AL_UP, NS_ADMIN_READY, 37, 0, NULL }, "up ready 37%", __LINE__ },
		{ { AL_UP, NS_ADMIN_READY, 0, 0, NULL }, "up ready 0%", __LINE__ },
		{ { AL_UP, NS_ADMIN_READY, 256, 0, NULL }, "up ready 256%", __LINE__ },
		{ { AL_UP, NS_ADMIN_READY, -1, 0, NULL }, "up ready", __LINE__ },
		{ { AL_UP, NS_ADMIN_READY, 100, 30, NULL }, "up ready 100% maxconn:30", __LINE__ },
		{ { AL_UP, NS_ADMIN_READY, -1, 30, NULL }, "up ready maxconn:30", __LINE__ },
		{ { AL_UP, NS_ADMIN_DRAIN, -1, 0, "admin: upgrade" },
		  "up drain #admin: upgrade",
		  __LINE__ },
		{ { AL_UP, NS_ADMIN_MAINT, -1, 0, NULL }, "up maint", __LINE__ },
		{ { AL_DOWN, NS_ADMIN_READY, -1, 0, "pg: standby" },
		  "down ready #pg: standby",
		  __LINE__ },
		{ { AL_DOWN, NS_ADMIN_MAINT, -1, 0, "pg: standby" },
		  "down maint #pg: standby",
		  __LINE__ },
		{ { AL_FAIL, NS_ADMIN_READY, -1, 0, "pg: timeout" },
		  "fail ready #pg: timeout",
		  __LINE__ },
		{ { AL_STOPPED, NS_ADMIN_DRAIN, -1, 0, "" }, "stopped drain", __LINE__ },
		/* sanitising: CR, LF, '#', control and non-ASCII bytes become spaces */
		{ { AL_DOWN, NS_ADMIN_READY, -1, 0,
		    "a\r\nb#c\td\x7f"
		    "e\xc3\xa9" },
		  "down ready #a  b c d e  ",
		  __LINE__ },
		/* out of range */
		{ { AL_COUNT, NS_ADMIN_READY, -1, 0, NULL }, NULL, __LINE__ },
		{ { AL_UP, NS_ADMIN_COUNT, -1, 0, NULL }, NULL, __LINE__ },
		{ { AL_UP, NS_ADMIN_READY, 257, 0, NULL }, NULL, __LINE__ },
		{ { AL_UP, NS_ADMIN_READY, -2, 0, NULL }, NULL, __LINE__ },
		{ { AL_UP, NS_ADMIN_READY, 10, -1, NULL }, NULL, __LINE__ },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char out[NS_CHECK_LINE_MAX];
		int n = al_format(&v[i].r, out, sizeof(out));

		if (v[i].expected == NULL) {
			if (n != -1)
				fail_msg("vector at line %d: expected an error, got \"%s\"",
				         v[i].line, out);
			assert_int_equal(errno, EINVAL);
			continue;
		}
		if (n < 0 || strcmp(out, v[i].expected) != 0 || (size_t)n != strlen(out))
			fail_msg("vector at line %d: expected \"%s\", got \"%s\" (%d)", v[i].line,
			         v[i].expected, n < 0 ? "(error)" : out, n);
	}
}

/* A long reason is shortened so the line stays within AL_LINE_MAX; the words survive. */
static void test_al_format_long_reason(void **state)
{
	char reason[1000];
	char out[NS_CHECK_LINE_MAX];
	struct al_reply r = { AL_DOWN, NS_ADMIN_DRAIN, -1, 0, reason };
	int n;

	(void)state;
	memset(reason, 'x', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	n = al_format(&r, out, sizeof(out));
	assert_int_equal(n, AL_LINE_MAX);
	assert_int_equal(strlen(out), AL_LINE_MAX);
	assert_memory_equal(out, "down drain #xxx", 15);
	assert_null(strchr(out, '\n'));
}

/* A buffer too small for the words HAProxy acts on is an error, never a cut line. */
static void test_al_format_small_buffer(void **state)
{
	struct al_reply r = { AL_UP, NS_ADMIN_READY, 100, 0, "reason" };
	char out[13];

	(void)state;
	assert_int_equal(al_format(&r, out, sizeof(out)), -1);
	assert_int_equal(errno, ENOBUFS);
	/* room for the words but not for " #r": the reason is left out, the words stay */
	char out2[16];
	assert_int_equal(al_format(&r, out2, sizeof(out2)), 13);
	assert_string_equal(out2, "up ready 100%");
}

static void test_al_is_up_vectors(void **state)
{
	(void)state;
	assert_true(al_is_up("up ready 100%"));
	assert_true(al_is_up("up ready"));
	assert_false(al_is_up("up drain #x"));
	assert_false(al_is_up("up maint"));
	assert_false(al_is_up("down ready #pg: standby"));
	assert_false(al_is_up("up readyx"));
	assert_false(al_is_up(""));
}

static void test_al_state_name_all(void **state)
{
	(void)state;
	assert_string_equal(al_state_name(AL_UP), "up");
	assert_string_equal(al_state_name(AL_DOWN), "down");
	assert_string_equal(al_state_name(AL_FAIL), "fail");
	assert_string_equal(al_state_name(AL_STOPPED), "stopped");
	assert_string_equal(al_state_name(AL_COUNT), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_al_format_vectors),
		cmocka_unit_test(test_al_format_long_reason),
		cmocka_unit_test(test_al_format_small_buffer),
		cmocka_unit_test(test_al_is_up_vectors),
		cmocka_unit_test(test_al_state_name_all),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
