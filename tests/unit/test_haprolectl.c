/* tests/unit/test_haprolectl.c - haprolectl's pure part (ctl/status.h): the cluster health rules
 * over a table of situations, the status table's cells, and the JSON document. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl/status.h"
#include "common/compiler.h"

/* DOWNMAINT: PostgreSQL down on a node in maint; NOSTREAM: a standby without a WAL receiver;
 * APPDOWN: an app node whose app probe fails. */
enum kind { PRI, STB, DOWN, APP, GONE, FENCED, DOWNMAINT, NOSTREAM, APPDOWN };

static struct ctl_node mk(const char *name, enum kind k, uint32_t tl, const char *sysid)
{
	struct ctl_node n;

	memset(&n, 0, sizeof(n));
	snprintf(n.name, sizeof(n.name), "%s", name);
	snprintf(n.address, sizeof(n.address), "127.0.13.1:23000");
	if (k == GONE) {
		snprintf(n.err, sizeof(n.err), "connect: Connection refused");
		return n;
	}
	n.reachable = true;
	ns_init(&n.st);
	snprintf(n.st.cluster, sizeof(n.st.cluster), "itsm");
	snprintf(n.st.node, sizeof(n.st.node), "%s", name);
	if (k == APP || k == APPDOWN) {
		n.st.app.present = true;
		n.st.app.up = k == APP;
		if (k == APPDOWN)
			snprintf(n.st.app.err, sizeof(n.st.app.err), "HTTP 502");
		return n;
	}
	n.st.pg.present = true;
	n.st.pg.up = k != DOWN && k != DOWNMAINT;
	n.st.pg.role = k == STB || k == NOSTREAM     ? NS_ROLE_STANDBY
	               : k == DOWN || k == DOWNMAINT ? NS_ROLE_UNKNOWN
	                                             : NS_ROLE_PRIMARY;
	n.st.pg.tl = tl;
	n.st.pg.streaming = k == STB;
	if (k == DOWN || k == DOWNMAINT)
		snprintf(n.st.pg.err, sizeof(n.st.pg.err), "connection refused");
	if (k == DOWNMAINT)
		n.st.admin = NS_ADMIN_MAINT;
	snprintf(n.st.pg.sysid, sizeof(n.st.pg.sysid), "%s", sysid);
	if (k == FENCED) {
		n.st.fenced = true;
		snprintf(n.st.fence_reason, sizeof(n.st.fence_reason),
		         "peer db2 is primary on timeline 3 (ours 2)");
	}
	return n;
}

static void test_ctl_health_eval_vectors(void **state)
{
	struct nv {
		const char *name; /* NULL ends */
		enum kind k;
		uint32_t tl;
		const char *sysid;
	};
	static const struct {
		struct nv nodes[4];
		size_t problems;
		size_t writers;
		const char *first; /* substring of the first problem, "" none */
		int line;
	} vec[] = {
		{ { { "db1", PRI, 2, "7" }, { "db2", STB, 2, "7" } }, 0, 1, "", __LINE__ },
		{ { { "db1", PRI, 2, "7" }, { "db2", STB, 2, "7" }, { "app1", APP, 0, "" } },
		  0,
		  1,
		  "",
		  __LINE__ },
		{ { { "app1", APP, 0, "" }, { "app2", APP, 0, "" } }, 0, 0, "", __LINE__ },
		{ { { "db1", STB, 2, "7" }, { "db2", STB, 2, "7" } },
		  1,
		  0,
		  "no primary",
		  __LINE__ },
		{ { { "db1", DOWN, 0, "" }, { "db2", STB, 2, "7" } },
		  2,
		  0,
		  "db1: PostgreSQL is down: connection refused",
		  __LINE__ },
		/* issue 15: the only standby's PostgreSQL down is not a healthy cluster */
		{ { { "db1", PRI, 2, "7" }, { "db2", DOWN, 0, "" } },
		  1,
		  1,
		  "db2: PostgreSQL is down: connection refused",
		  __LINE__ },
		/* ... unless the operator took that node out */
		{ { { "db1", PRI, 2, "7" }, { "db2", DOWNMAINT, 0, "" } }, 0, 1, "", __LINE__ },
		{ { { "db1", PRI, 2, "7" }, { "db2", NOSTREAM, 2, "7" } },
		  1,
		  1,
		  "db2: standby is not streaming from a primary",
		  __LINE__ },
		{ { { "db1", PRI, 2, "7" }, { "app1", APPDOWN, 0, "" } },
		  1,
		  1,
		  "app1: app is down: HTTP 502",
		  __LINE__ },
		{ { { "db1", PRI, 2, "7" }, { "db2", PRI, 2, "7" } },
		  1,
		  2,
		  "split-brain: 2 writable primaries: db1, db2",
		  __LINE__ },
		/* issue 12: the old primary not fenced yet beside the new one is no split brain
		 * (the SPOA routes to the new one), but it is a problem */
		{ { { "db1", PRI, 2, "7" }, { "db2", PRI, 3, "7" } },
		  1,
		  1,
		  "db1 is primary on timeline 2 below db2 on timeline 3: not fenced yet",
		  __LINE__ },
		{ { { "db1", PRI, 3, "7" }, { "db2", PRI, 3, "8" } },
		  2,
		  2,
		  "db2 has system identifier 8, db1 has 7",
		  __LINE__ },
		{ { { "db1", FENCED, 2, "7" }, { "db2", PRI, 3, "7" } },
		  1,
		  1,
		  "db1 is FENCED: peer db2 is primary on timeline 3",
		  __LINE__ },
		{ { { "db1", PRI, 2, "7" }, { "db2", GONE, 0, "" } },
		  1,
		  1,
		  "db2 (127.0.13.1:23000): no state: connect: Connection refused",
		  __LINE__ },
		{ { { "db1", PRI, 2, "7" }, { "x1", STB, 2, "8" } },
		  1,
		  1,
		  "x1 has system identifier 8, db1 has 7",
		  __LINE__ },
		{ { { "db1", GONE, 0, "" }, { "db2", GONE, 0, "" } }, 2, 0, "db1", __LINE__ },
	};
	size_t i;

	(void)state;
	for (i = 0; i < HR_ARRAY_SIZE(vec); i++) {
		struct ctl_node nodes[4];
		struct ctl_health h;
		size_t n = 0;

		for (; n < 4 && vec[i].nodes[n].name != NULL; n++)
			nodes[n] = mk(vec[i].nodes[n].name, vec[i].nodes[n].k, vec[i].nodes[n].tl,
			              vec[i].nodes[n].sysid);
		ctl_health_eval(nodes, n, &h);
		if (h.n != vec[i].problems || h.writers != vec[i].writers)
			fail_msg("vector at line %d: %zu problems (%s), %zu writers", vec[i].line,
			         h.n, h.n > 0 ? h.problems[0] : "", h.writers);
		if (h.n > 0 && strstr(h.problems[0], vec[i].first) == NULL)
			fail_msg("vector at line %d: first problem \"%s\"", vec[i].line,
			         h.problems[0]);
	}
}

static void test_ctl_health_eval_cluster_mismatch(void **state)
{
	struct ctl_node nodes[2] = { mk("db1", PRI, 2, "7"), mk("db2", STB, 2, "7") };
	struct ctl_health h;

	(void)state;
	snprintf(nodes[1].st.cluster, sizeof(nodes[1].st.cluster), "other");
	ctl_health_eval(nodes, 2, &h);
	assert_int_equal(h.n, 1);
	assert_string_equal(h.problems[0], "db2 is in cluster 'other', db1 in 'itsm'");
}

static void test_ctl_format_table_cells(void **state)
{
	struct ctl_node nodes[3] = { mk("db1", PRI, 3, "7"), mk("db2", STB, 3, "7"),
		                     mk("db3", GONE, 0, "") };
	struct ctl_health h;
	struct buf out;

	(void)state;
	nodes[0].st.n_checks = 1;
	strcpy(nodes[0].st.checks[0].name, "writer");
	strcpy(nodes[0].st.checks[0].line, "up ready 100%");
	nodes[1].st.n_checks = 2;
	strcpy(nodes[1].st.checks[0].name, "reader");
	strcpy(nodes[1].st.checks[0].line, "up drain 37%");
	strcpy(nodes[1].st.checks[1].name, "writer");
	strcpy(nodes[1].st.checks[1].line, "down drain #pg: standby");
	nodes[1].st.pg.lag_bytes = 2048;
	nodes[1].st.pg.lag_ms = 120;
	nodes[1].st.admin = NS_ADMIN_DRAIN;
	strcpy(nodes[1].st.admin_reason, "upgrade");
	ctl_health_eval(nodes, 3, &h);
	assert_int_equal(buf_init(&out, 65536), 0);
	assert_int_equal(ctl_format_table(nodes, 3, &h, &out), 0);
	assert_int_equal(buf_append(&out, "", 1), 0);
	{
		const char *t = (const char *)buf_head(&out);
		static const char *const want[] = {
			"Cluster: itsm (3 nodes)\n",
			"| Node | Address          | Role        | TL | Lag            | App | "
			"Nginx |",
			"| writer                  | reader       |",
			"| db1  | 127.0.13.1:23000 | primary     | 3  | -              | -   | -   "
			"  |",
			"| up ready 100%           | -            |",
			"| db2  | 127.0.13.1:23000 | standby     | 3  | 2.0 kB, 120 ms | -   | -   "
			"  |",
			"| drain: upgrade | down drain #pg: standby | up drain 37% |",
			"| db3  | 127.0.13.1:23000 | unreachable | ?  |",
			"Cluster UNHEALTHY:\n  - db3 (127.0.13.1:23000): no state: connect: "
			"Connection "
			"refused\n",
		};

		for (size_t i = 0; i < HR_ARRAY_SIZE(want); i++) {
			if (strstr(t, want[i]) == NULL)
				fail_msg("table lacks \"%s\":\n%s", want[i], t);
		}
	}
	buf_free(&out);
}

/* issue 13 item 8: a standby without a WAL receiver shows as such, not as "0 B" of lag. */
static void test_ctl_format_table_not_streaming(void **state)
{
	struct ctl_node nodes[2] = { mk("db1", PRI, 3, "7"), mk("db2", NOSTREAM, 3, "7") };
	struct ctl_health h;
	struct buf out;
	const char *t;

	(void)state;
	ctl_health_eval(nodes, 2, &h);
	assert_int_equal(buf_init(&out, 65536), 0);
	assert_int_equal(ctl_format_table(nodes, 2, &h, &out), 0);
	assert_int_equal(buf_append(&out, "", 1), 0);
	t = (const char *)buf_head(&out);
	if (strstr(t, "| standby, not streaming | 3  | not streaming |") == NULL ||
	    strstr(t, " 0 B") != NULL || strstr(t, "Cluster healthy.") != NULL)
		fail_msg("table:\n%s", t);
	buf_free(&out);
}

static void test_ctl_format_json_document(void **state)
{
	struct ctl_node nodes[2] = { mk("db1", PRI, 3, "7"), mk("db\"2", GONE, 0, "") };
	struct ctl_health h;
	struct buf out;
	const char *t;

	(void)state;
	ctl_health_eval(nodes, 2, &h);
	assert_int_equal(buf_init(&out, 65536), 0);
	assert_int_equal(ctl_format_json(nodes, 2, &h, &out), 0);
	assert_int_equal(buf_append(&out, "", 1), 0);
	t = (const char *)buf_head(&out);
	assert_non_null(strstr(t, "{\"healthy\":false,\"status\":\"ok\",\"writer\":\"db1\","
	                          "\"writers\":1,\"problems\":[\"db\\\"2 (127"));
	assert_non_null(strstr(t, "\"nodes\":[{\"name\":\"db1\",\"address\":\"127.0.13.1:23000\","
	                          "\"reachable\":true,\"state\":{"));
	assert_non_null(
	    strstr(t, "{\"name\":\"db\\\"2\",\"address\":\"127.0.13.1:23000\","
	              "\"reachable\":false,\"error\":\"connect: Connection refused\"}]}\n"));
	buf_free(&out);
}

static void test_ns_json_str_escapes_for_ctl(void **state)
{
	static const struct {
		const char *in;
		const char *out;
		int line;
	} vec[] = {
		{ "plain", "\"plain\"", __LINE__ },
		{ "a\"b\\c", "\"a\\\"b\\\\c\"", __LINE__ },
		{ "tab\there\n", "\"tab\\u0009here\\u000a\"", __LINE__ },
		{ "\xc3\xa9", "\"\xc3\xa9\"", __LINE__ }, /* UTF-8 passes through */
	};
	size_t i;

	(void)state;
	for (i = 0; i < HR_ARRAY_SIZE(vec); i++) {
		uint8_t mem[64];
		struct buf b;

		buf_init_static(&b, mem, sizeof(mem));
		assert_int_equal(ns_json_str(&b, vec[i].in), 0);
		if (buf_len(&b) != strlen(vec[i].out) ||
		    memcmp(buf_head(&b), vec[i].out, buf_len(&b)) != 0)
			fail_msg("vector at line %d: got %.*s", vec[i].line, (int)buf_len(&b),
			         (const char *)buf_head(&b));
	}
	/* No room: -1, never a cut string. */
	{
		uint8_t mem[4];
		struct buf b;

		buf_init_static(&b, mem, sizeof(mem));
		assert_int_equal(ns_json_str(&b, "abcdef"), -1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctl_health_eval_vectors),
		cmocka_unit_test(test_ctl_health_eval_cluster_mismatch),
		cmocka_unit_test(test_ctl_format_table_cells),
		cmocka_unit_test(test_ctl_format_table_not_streaming),
		cmocka_unit_test(test_ctl_format_json_document),
		cmocka_unit_test(test_ns_json_str_escapes_for_ctl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
