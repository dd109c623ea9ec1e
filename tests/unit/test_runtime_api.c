/* tests/unit/test_runtime_api.c - HAProxy runtime API pieces of push mode: the target parser
 * and the `show servers state` decoder (answers captured from HAProxy 2.6.12, plus one broken
 * variant per rule). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/compiler.h"
#include "spoe/runtime_api.h"

#define HDR                                                                                    \
	"1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "  \
	"srv_iweight srv_time_since_last_change srv_check_status srv_check_result "             \
	"srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id "      \
	"srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr " \
	"srv_agent_port\n"
/* db1 ready and UP, db2 `disabled` in the config (admin 5 = FMAINT | CMAINT) and DOWN */
#define DB1_UP   "3 pg_write 1 db1 127.0.0.99 2 4 1 1 0 1 0 4 6 0 0 0 - 34991 - 0 0 - - 0\n"
#define DB2_MAINT "3 pg_write 2 db2 127.0.0.99 0 5 1 1 1 1 0 0 8 0 0 0 - 34992 - 0 0 - - 0\n"

struct ss_vec {
	const char *text; /* answer */
	int ret;          /* expected return */
	size_t n;         /* expected entries */
	int line;         /* __LINE__ */
};

static const struct ss_vec ss_vecs[] = {
	{ HDR DB1_UP DB2_MAINT "\n", 0, 2, __LINE__ },
	/* two backends' answers one after the other (two commands in one line) */
	{ HDR DB1_UP "\n" HDR "4 pg_read 1 db1 127.0.0.99 2 0 100 100 5 6 3 4 6 0 0 0 - 1 - 0 0 - - 0\n\n",
	  0, 2, __LINE__ },
	{ HDR "\n", 0, 0, __LINE__ },                 /* a backend with no server */
	{ "", 0, 0, __LINE__ },                        /* nothing at all */
	{ HDR "3 pg_write 1 db1 1.2.3.4 2 4 1 1 0\r\n", 0, 1, __LINE__ }, /* CRLF */
	{ "Can't find backend.\n\n", -1, 0, __LINE__ }, /* HAProxy's error */
	{ "Unknown command: 'show servers stat'\n", -1, 0, __LINE__ },
	{ HDR "3 pg_write 1 db1 1.2.3.4 2\n", -1, 0, __LINE__ },        /* too few fields */
	{ HDR "3 pg_write 1 db1 1.2.3.4 7 0 1\n", -1, 0, __LINE__ },    /* op state 7 */
	{ HDR "3 pg_write 1 db1 1.2.3.4 2 x 1\n", -1, 0, __LINE__ },    /* admin not a number */
	{ HDR "3 pg_write 1 db1 1.2.3.4 2 256 1\n", -1, 0, __LINE__ },  /* admin out of range */
	{ HDR "3 pg_write 1 db1 1.2.3.4 2 0 -1\n", -1, 0, __LINE__ },   /* negative weight */
	{ HDR "3 pg_write 1 "
	      "a123456789012345678901234567890123456789012345678901234567890123456789 "
	      "1.2.3.4 2 0 1\n",
	  -1, 0, __LINE__ }, /* server name longer than we track */
	{ HDR DB1_UP DB1_UP DB1_UP DB1_UP DB1_UP, -1, 0, __LINE__ }, /* more than the table */
	/* a control byte in a name (fuzz_servers_state found a NUL giving an empty name) */
	{ HDR "3 pg_write 1 d\tb1 1.2.3.4 2 0 1\n", -1, 0, __LINE__ },
};

static void test_rapi_parse_servers_state_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < HR_ARRAY_SIZE(ss_vecs); i++) {
		struct rapi_server_state st[4];
		const char *why = NULL;
		size_t n = 99;
		int r;

		print_message("vector line %d\n", ss_vecs[i].line);
		r = rapi_parse_servers_state(ss_vecs[i].text, strlen(ss_vecs[i].text), st, 4, &n,
		                             &why);
		assert_int_equal(r, ss_vecs[i].ret);
		if (r == 0)
			assert_int_equal(n, ss_vecs[i].n);
		else
			assert_non_null(why);
	}
}

static void test_rapi_parse_servers_state_fields(void **state)
{
	static const char text[] = HDR DB1_UP DB2_MAINT "\n";
	struct rapi_server_state st[4];
	const char *why = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(rapi_parse_servers_state(text, sizeof(text) - 1, st, 4, &n, &why), 0);
	assert_int_equal(n, 2);
	assert_string_equal(st[0].backend, "pg_write");
	assert_string_equal(st[0].server, "db1");
	assert_int_equal(st[0].op_state, RAPI_OP_RUNNING);
	assert_int_equal(st[0].admin_state, RAPI_ADMF_CMAINT);
	assert_int_equal(st[0].weight, 1);
	assert_string_equal(st[1].server, "db2");
	assert_int_equal(st[1].op_state, RAPI_OP_STOPPED);
	assert_int_equal(st[1].admin_state, RAPI_ADMF_FMAINT | RAPI_ADMF_CMAINT);
}

static void test_rapi_target_parse(void **state)
{
	struct rapi_target t;
	const char *why = NULL;

	(void)state;
	assert_int_equal(rapi_target_parse("/run/haproxy/admin.sock", &t, &why), 0);
	assert_true(t.is_unix);
	assert_string_equal(t.path, "/run/haproxy/admin.sock");
	assert_int_equal(rapi_target_parse("127.0.0.1:9999", &t, &why), 0);
	assert_false(t.is_unix);
	assert_string_equal(t.addr.text, "127.0.0.1:9999");
	assert_int_equal(rapi_target_parse("localhost:9999", &t, &why), -1);
	assert_non_null(why);
	assert_int_equal(rapi_target_parse("/a/path/that/is/much/too/long/for/a/unix/socket/"
	                                   "because/sun_path/has/only/one/hundred/and/eight/bytes/so/this/is/refused",
	                                   &t, &why),
	                 -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rapi_parse_servers_state_vectors),
		cmocka_unit_test(test_rapi_parse_servers_state_fields),
		cmocka_unit_test(test_rapi_target_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
