/* tests/unit/test_netacl.c - allow-lists of source networks (common/netacl.c): parsing with
 * its errors, and matching IPv4, IPv6 and IPv4-mapped peers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "common/compiler.h"
#include "common/netacl.h"

struct parse_vec {
	const char *text; /* as written */
	int ret;          /* expected return */
	size_t n;         /* networks when ret == 0 */
	int line;         /* __LINE__ */
};

static const struct parse_vec parse_vecs[] = {
	{ "", 0, 0, __LINE__ },
	{ "  , ,", 0, 0, __LINE__ },
	{ "127.0.0.1", 0, 1, __LINE__ },
	{ "10.0.0.0/8, 192.168.1.0/24 ::1,fd00::/8", 0, 4, __LINE__ },
	{ "0.0.0.0/0", 0, 1, __LINE__ },
	{ "10.0.0.0/33", -1, 0, __LINE__ },
	{ "::/129", -1, 0, __LINE__ },
	{ "10.0.0.0/", -1, 0, __LINE__ },
	{ "10.0.0.0/-1", -1, 0, __LINE__ },
	{ "10.0.0.0/8x", -1, 0, __LINE__ },
	{ "localhost", -1, 0, __LINE__ },
	{ "10.0.0", -1, 0, __LINE__ },
	{ "/8", -1, 0, __LINE__ },
	{ "1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4,5.5.5.5,6.6.6.6,7.7.7.7,8.8.8.8,9.9.9.9,1.0.0.1,"
	  "1.0.0.2,1.0.0.3,1.0.0.4,1.0.0.5,1.0.0.6,1.0.0.7,1.0.0.8",
	  -1, 0, __LINE__ }, /* 17 networks */
};

static void test_netacl_parse_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < HR_ARRAY_SIZE(parse_vecs); i++) {
		struct netacl acl;
		const char *why = NULL;
		int r;

		print_message("vector line %d\n", parse_vecs[i].line);
		r = netacl_parse(parse_vecs[i].text, &acl, &why);
		assert_int_equal(r, parse_vecs[i].ret);
		if (r == 0)
			assert_int_equal(acl.n, parse_vecs[i].n);
		else
			assert_non_null(why);
	}
}

static bool allows4(const struct netacl *acl, const char *ip)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };

	assert_int_equal(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
	return netacl_allows(acl, (const struct sockaddr *)&sin, sizeof(sin));
}

static bool allows6(const struct netacl *acl, const char *ip)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };

	assert_int_equal(inet_pton(AF_INET6, ip, &sin6.sin6_addr), 1);
	return netacl_allows(acl, (const struct sockaddr *)&sin6, sizeof(sin6));
}

static void test_netacl_allows(void **state)
{
	struct netacl acl;
	const char *why = NULL;

	(void)state;
	assert_int_equal(netacl_parse("", &acl, &why), 0);
	assert_true(allows4(&acl, "203.0.113.9")); /* empty: everyone */

	assert_int_equal(netacl_parse("10.1.0.0/16, 127.0.0.1, fd00::/8", &acl, &why), 0);
	assert_true(allows4(&acl, "10.1.0.0"));
	assert_true(allows4(&acl, "10.1.255.254"));
	assert_false(allows4(&acl, "10.2.0.1"));
	assert_true(allows4(&acl, "127.0.0.1"));
	assert_false(allows4(&acl, "127.0.0.2"));
	assert_true(allows6(&acl, "fd12::1"));
	assert_false(allows6(&acl, "fe80::1"));
	/* an IPv4 peer on a dual-stack socket */
	assert_true(allows6(&acl, "::ffff:10.1.2.3"));
	assert_false(allows6(&acl, "::ffff:10.2.2.3"));

	/* host bits in the written network are ignored: 10.1.2.3/16 is 10.1.0.0/16 */
	assert_int_equal(netacl_parse("10.1.2.3/16", &acl, &why), 0);
	assert_true(allows4(&acl, "10.1.9.9"));
	/* odd prefixes */
	assert_int_equal(netacl_parse("192.168.1.128/25", &acl, &why), 0);
	assert_true(allows4(&acl, "192.168.1.200"));
	assert_false(allows4(&acl, "192.168.1.127"));
	assert_int_equal(netacl_parse("0.0.0.0/0", &acl, &why), 0);
	assert_true(allows4(&acl, "198.51.100.1"));
	assert_false(allows6(&acl, "2001:db8::1")); /* an IPv4 list says nothing of IPv6 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_netacl_parse_vectors),
		cmocka_unit_test(test_netacl_allows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
