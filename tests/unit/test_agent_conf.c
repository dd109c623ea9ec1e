/* tests/unit/test_agent_conf.c - haprole-agent's config: the sample conf/haprole-agent.conf
 * states every key with its built-in default, and every error names file, line and key in the
 * one format. Vectors name their line on failure. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/agent_conf.h"

#ifndef SAMPLE_CONF
#define SAMPLE_CONF "conf/haprole-agent.conf"
#endif

static struct agent_conf conf; /* big: not on the stack */

/* Compares every key of <table> in <base> with its default; <skip> names keys the sample
 * must set to a non-default value (required keys, the check kind). */
static void expect_defaults(const char *section, const struct cfg_key *table, const void *base,
                            const char *const *skip)
{
	static char def_mem[sizeof(struct agent_conf)];
	char err[HR_ERR_LEN];

	memset(def_mem, 0, sizeof(def_mem));
	assert_int_equal(cfg_set_defaults(table, def_mem, err, sizeof(err)), 0);
	for (const struct cfg_key *k = table; k->name != NULL; k++) {
		char got[512];
		char want[512];
		bool skipped = false;

		for (const char *const *s = skip; s != NULL && *s != NULL; s++)
			skipped |= strcmp(*s, k->name) == 0;
		if (skipped)
			continue;
		assert_int_equal(cfg_format_value(k, base, got, sizeof(got)), 0);
		assert_int_equal(cfg_format_value(k, def_mem, want, sizeof(want)), 0);
		if (strcmp(got, want) != 0)
			fail_msg(
			    "%s: [%s] key '%s': sample says \"%s\", built-in default is \"%s\"",
			    SAMPLE_CONF, section, k->name, got, want);
	}
}

/* Every key of <table> is written in the sample as "KEY = " (possibly commented out). */
static void expect_mentioned(const char *text, const char *section, const struct cfg_key *table)
{
	for (const struct cfg_key *k = table; k->name != NULL; k++) {
		char pat[96];

		snprintf(pat, sizeof(pat), "\n%s = ", k->name);
		if (strstr(text, pat) != NULL)
			continue;
		snprintf(pat, sizeof(pat), "\n# %s = ", k->name);
		if (strstr(text, pat) == NULL)
			fail_msg("%s: [%s] key '%s' is not documented", SAMPLE_CONF, section,
			         k->name);
	}
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text;
	long n;

	if (f == NULL)
		fail_msg("cannot open %s (run from the source tree)", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	text = calloc(1, (size_t)n + 2);
	assert_non_null(text);
	text[0] = '\n';
	assert_int_equal(fread(text + 1, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return text;
}

static void test_agent_conf_load_sample_defaults(void **state)
{
	static const char *const skip_agent[] = { "node", NULL };
	static const char *const skip_http[] = { "url", NULL };
	static const char *const skip_check[] = { "kind", NULL };
	char err[HR_ERR_LEN] = "";
	char *text;

	(void)state;
	if (agent_conf_load(&conf, SAMPLE_CONF, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_string_equal(conf.agent.node, "db1");
	assert_true(conf.has_pg);
	assert_true(conf.has_app);
	assert_true(conf.has_nginx);
	assert_int_equal(conf.n_checks, 3);
	assert_int_equal(conf.default_check, 0);
	expect_defaults("agent", agent_main_keys, &conf.agent, skip_agent);
	expect_defaults("postgres", pgp_conf_keys, &conf.pg, NULL);
	expect_defaults("http app", hp_http_keys, &conf.app, skip_http);
	expect_defaults("http nginx", hp_http_keys, &conf.nginx, skip_http);
	for (size_t i = 0; i < conf.n_checks; i++)
		expect_defaults(conf.checks[i].name, agent_check_keys, &conf.checks[i], skip_check);
	assert_int_equal(conf.checks[0].kind, CHECK_KIND_WRITER);
	assert_int_equal(conf.checks[1].kind, CHECK_KIND_READER);
	assert_int_equal(conf.checks[2].kind, CHECK_KIND_APP);
	/* every key is documented, those of sections the sample shows commented out too */
	text = read_all(SAMPLE_CONF);
	expect_mentioned(text, "agent", agent_main_keys);
	expect_mentioned(text, "postgres", pgp_conf_keys);
	expect_mentioned(text, "http", hp_http_keys);
	expect_mentioned(text, "check", agent_check_keys);
	expect_mentioned(text, "tcp", hp_tcp_keys);
	expect_mentioned(text, "peer", agent_peer_keys);
	free(text);
}

/* The built-in defaults are what the key tables say (a spot check of the documented ones). */
static void test_agent_conf_load_minimal(void **state)
{
	char err[HR_ERR_LEN] = "";

	(void)state;
	if (agent_conf_load_string(&conf, "t.conf", "[agent]\nnode = n1\n", err, sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_string_equal(conf.agent.cluster, "main");
	assert_string_equal(conf.agent.listen.text, "*:5555");
	assert_true(conf.agent.first_line_wait > 0.049 && conf.agent.first_line_wait < 0.051);
	assert_true(conf.agent.heartbeat > 0.499 && conf.agent.heartbeat < 0.501);
	assert_int_equal(conf.agent.max_line, 2048);
	assert_string_equal(conf.agent.admin_socket, "/run/haprole/agent.sock");
	assert_string_equal(conf.agent.state_file, "/var/lib/haprole/agent.state");
	assert_false(conf.has_pg);
	assert_false(conf.has_app);
	/* no [check]: writer, reader, app; writer is the default */
	assert_int_equal(conf.n_checks, 3);
	assert_string_equal(conf.checks[0].name, "writer");
	assert_string_equal(conf.checks[1].name, "reader");
	assert_string_equal(conf.checks[2].name, "app");
	assert_int_equal(conf.checks[1].kind, CHECK_KIND_READER);
	assert_int_equal(conf.checks[1].lag_answer, CHECK_LAG_DRAIN);
	assert_int_equal(conf.default_check, 0);
	assert_int_equal(conf.n_peers, 0);
}

static void test_agent_conf_load_checks_and_peers(void **state)
{
	const char *text = "[agent]\n"
	                   "node = db2\n"
	                   "default_check = rw\n"
	                   "[check ro]\n"
	                   "kind = reader\n"
	                   "primary_weight = 0\n"
	                   "lag_answer = down\n"
	                   "[check rw]\n"
	                   "standby_answer = maint\n"
	                   "[peer db1]\n"
	                   "address = 127.0.0.1:5555\n"
	                   "[peer db3]\n"
	                   "address = [::1]:5556\n";
	char err[HR_ERR_LEN] = "";

	(void)state;
	if (agent_conf_load_string(&conf, "t.conf", text, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_int_equal(conf.n_checks, 2);
	assert_int_equal(conf.default_check, 1);
	assert_int_equal(conf.checks[0].primary_weight, 0);
	assert_int_equal(conf.checks[0].lag_answer, CHECK_LAG_DOWN);
	assert_int_equal(conf.checks[1].lag_answer, CHECK_LAG_DRAIN);
	assert_int_equal(conf.checks[1].kind, CHECK_KIND_WRITER);
	assert_int_equal(conf.checks[1].standby_answer, CHECK_STANDBY_MAINT);
	assert_int_equal(conf.n_peers, 2);
	assert_string_equal(conf.peers[0].name, "db1");
	assert_string_equal(conf.peers[1].address.text, "[::1]:5556");
	assert_non_null(agent_conf_find_check(&conf, "ro", 2));
	assert_null(agent_conf_find_check(&conf, "r", 1));
	assert_null(agent_conf_find_check(&conf, "rox", 3));
}

struct err_vec {
	const char *text;     /* config */
	const char *expected; /* exact error */
	int line;             /* __LINE__ */
};

static void test_agent_conf_load_errors(void **state)
{
	static const struct err_vec v[] = {
		{ "[agent]\n", "t.conf: key 'node': required in [agent] (got \"\")", __LINE__ },
		{ "[agent]\nnode = a\nlisten = db1:5555\n",
		  "t.conf:3: key 'listen': not a numeric IPv4 address (host names are not "
		  "resolved) "
		  "(got \"db1:5555\")",
		  __LINE__ },
		{ "[agent]\nnode = a\nheartbeat = 2d\n",
		  "t.conf:3: key 'heartbeat': not a duration (examples: 250ms, 2s, 1m) (got "
		  "\"2d\")",
		  __LINE__ },
		/* issue 15: a range error states the range */
		{ "[agent]\nnode = a\nheartbeat = 5m\n",
		  "t.conf:3: key 'heartbeat': out of range: 10ms to 1m (got \"5m\")", __LINE__ },
		{ "[agent]\nnode = a\nmax_clients = 0\n",
		  "t.conf:3: key 'max_clients': out of range: 1 to 100000 (got \"0\")", __LINE__ },
		{ "[agent]\nnode = a\nnode = b\n",
		  "t.conf:3: key 'node': set twice, first at line 2 (got \"b\")", __LINE__ },
		{ "[agent]\nnode = a\nbogus = 1\n",
		  "t.conf:3: key 'bogus': unknown key in section [agent] (got \"1\")", __LINE__ },
		{ "[agent]\nnode = a\nlog_level = loud\n",
		  "t.conf:3: key 'log_level': expected one of error, warning, info, debug (got "
		  "\"loud\")",
		  __LINE__ },
		{ "[agent]\nnode = a\n[agent]\n", "t.conf:3: section [agent] given twice",
		  __LINE__ },
		{ "[agent]\nnode = a\n[wat]\n",
		  "t.conf:3: unknown section [wat] (expected [agent], [postgres], [http app], "
		  "[http nginx], [tcp app], [tcp nginx], [check NAME] or [peer NAME])",
		  __LINE__ },
		{ "[agent]\nnode = a\n[check]\n",
		  "t.conf:3: unknown section [check] (expected [agent], [postgres], [http app], "
		  "[http nginx], [tcp app], [tcp nginx], [check NAME] or [peer NAME])",
		  __LINE__ },
		{ "[agent]\nnode = a\n[check w]\nkind = primary\n",
		  "t.conf:4: key 'kind': expected one of writer, reader, app (got \"primary\")",
		  __LINE__ },
		{ "[agent]\nnode = a\n[check r]\nkind = reader\nlag_answer = maint\n",
		  "t.conf:5: key 'lag_answer': expected one of drain, down (got \"maint\")",
		  __LINE__ },
		{ "[agent]\nnode = a\n[check w]\n[check w]\n",
		  "t.conf:4: section [check w] given twice", __LINE__ },
		{ "[agent]\nnode = a\n[check w]\nweight = 300\n",
		  "t.conf:4: key 'weight': out of range: 0 to 256 (got \"300\")", __LINE__ },
		{ "[agent]\nnode = a\n[check w]\nweight = 5\n",
		  "t.conf: [check w] key 'min_weight': above weight 5 (got \"10\")", __LINE__ },
		{ "[agent]\nnode = a\n[check r]\nmax_lag = lots\n",
		  "t.conf:4: key 'max_lag': not a size (examples: 512, 64k, 16MB) (got \"lots\")",
		  __LINE__ },
		{ "[agent]\nnode = a\ndefault_check = nope\n",
		  "t.conf: key 'default_check': no [check nope] section (got \"nope\")", __LINE__ },
		{ "[agent]\nnode = a\n[peer p]\n",
		  "t.conf:3: key 'address': required in [peer p] (got \"\")", __LINE__ },
		{ "[agent]\nnode = a\n[peer p]\naddress = x\n",
		  "t.conf:4: key 'address': expected IP:PORT (got \"x\")", __LINE__ },
		{ "[agent]\nnode = a\n[http db]\n",
		  "t.conf:3: probe name must be app or nginx (the node-state member it feeds) (got "
		  "\"[http db]\")",
		  __LINE__ },
		{ "[agent]\nnode = a\n[http app]\n[tcp app]\n",
		  "t.conf:4: section [tcp app] given twice", __LINE__ },
		{ "[agent]\nnode = a\n[tcp nginx]\nurl = http://127.0.0.1/\n",
		  "t.conf:4: key 'url': unknown key in section [tcp] (got \"http://127.0.0.1/\")",
		  __LINE__ },
		{ "[agent]\nnode = a\n[postgres]\ninterval = 0\n",
		  "t.conf:4: key 'interval': out of range: 10ms to 1m (got \"0\")", __LINE__ },
		{ "node = a\n", "t.conf:1: key 'node': outside any [section] (got \"a\")",
		  __LINE__ },
		{ "[agent]\nnode = a\n[check SUBSCRIBE]\n",
		  "t.conf:3: check name reserved for the feed (got \"SUBSCRIBE\")", __LINE__ },
		{ "[agent]\nnode = a\nfirst_line_wait = 2s\n",
		  "t.conf: key 'first_line_wait': must be below idle_timeout (2s) (got \"2s\")",
		  __LINE__ },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char err[HR_ERR_LEN] = "";
		int rc = agent_conf_load_string(&conf, "t.conf", v[i].text, err, sizeof(err));

		if (rc != -1)
			fail_msg("vector at line %d: accepted", v[i].line);
		if (strcmp(err, v[i].expected) != 0)
			fail_msg("vector at line %d:\n  expected: %s\n  got:      %s", v[i].line,
			         v[i].expected, err);
	}
}

/* Probe sections: validation errors of the probe modules come prefixed with the section. */
static void test_agent_conf_load_probe_validation(void **state)
{
	char err[HR_ERR_LEN] = "";

	(void)state;
	assert_int_equal(agent_conf_load_string(&conf, "t.conf",
	                                        "[agent]\nnode = a\n[http app]\nexpect = 200\n",
	                                        err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "t.conf: [http app] key 'url'"));
	assert_int_equal(agent_conf_load_string(&conf, "t.conf",
	                                        "[agent]\nnode = a\n[postgres]\nconninfo = "
	                                        "\"host=db.example.com\"\n",
	                                        err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "t.conf: [postgres] key 'conninfo'"));
}

static void test_agent_conf_load_too_many_checks(void **state)
{
	char text[4096];
	char err[HR_ERR_LEN] = "";
	size_t off = (size_t)snprintf(text, sizeof(text), "[agent]\nnode = a\n");

	(void)state;
	for (int i = 0; i <= NS_CHECKS_MAX; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off, "[check c%d]\n", i);
	assert_int_equal(agent_conf_load_string(&conf, "t.conf", text, err, sizeof(err)), -1);
	assert_string_equal(err, "t.conf:19: too many [check] sections, at most 16 (got \"c16\")");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_conf_load_sample_defaults),
		cmocka_unit_test(test_agent_conf_load_minimal),
		cmocka_unit_test(test_agent_conf_load_checks_and_peers),
		cmocka_unit_test(test_agent_conf_load_errors),
		cmocka_unit_test(test_agent_conf_load_probe_validation),
		cmocka_unit_test(test_agent_conf_load_too_many_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
