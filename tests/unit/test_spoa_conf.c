/* tests/unit/test_spoa_conf.c - haprole-spoa's config: defaults, every error text, and the
 * sample conf/haprole-spoa.conf documenting each key with the table's default. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spoe/spoa_conf.h"

static struct spoa_conf conf;

static void test_spoa_conf_load_string_defaults(void **state)
{
	char err[HR_ERR_LEN] = "";

	(void)state;
	assert_int_equal(spoa_conf_load_string("t.conf",
	                                       "[cluster main]\n[node db1]\ncluster = main\n"
	                                       "agent = 127.0.0.1:5555\n",
	                                       &conf, err, sizeof(err)),
	                 0);
	assert_string_equal(conf.listen.text, "127.0.0.1:12345");
	assert_string_equal(conf.status.text, "127.0.0.1:12346");
	assert_int_equal(conf.max_frame, 16384);
	assert_int_equal(conf.max_conns, 4096);
	assert_true(conf.heartbeat == 0.5);
	assert_true(conf.hello_timeout == 5);
	assert_int_equal(conf.n_clusters, 1);
	assert_int_equal(conf.clusters[0].max_lag, 16 * 1024 * 1024);
	assert_string_equal(conf.clusters[0].sysid, "");
	assert_int_equal(conf.n_nodes, 1);
	assert_string_equal(spoa_conf_server(&conf.nodes[0]), "db1");
	assert_non_null(spoa_conf_cluster(&conf, "main"));
	assert_null(spoa_conf_cluster(&conf, "mai"));
}

struct err_vec {
	const char *text; /* config */
	const char *err;  /* expected error, exactly */
	int line;         /* __LINE__ */
};

#define NODE1 "[node db1]\ncluster = main\nagent = 127.0.0.1:5555\n"

static const struct err_vec errs[] = {
	{ "[node db1]\ncluster = main\nagent = 127.0.0.1:5555\n",
	  "t.conf: no [cluster NAME] section: nothing to route", __LINE__ },
	{ "[cluster main]\n[node db1]\ncluster = other\nagent = 127.0.0.1:5555\n",
	  "t.conf:2: key 'cluster': no [cluster other] section (got \"other\")", __LINE__ },
	{ "[cluster main]\n[node db1]\ncluster = main\n",
	  "t.conf:2: key 'agent': missing in [node db1]", __LINE__ },
	{ "[cluster main]\n[node db1]\ncluster = main\nagent = 127.0.0.1:5555\nserver = a b\n",
	  "t.conf:2: key 'server': letters, digits, '_', '-', '.', ':', up to 47 bytes "
	  "(got \"a b\")",
	  __LINE__ },
	{ "[cluster main]\n" NODE1 "[node db2]\ncluster = main\nagent = 127.0.0.1:5556\n"
	  "server = db1\n",
	  "t.conf:5: key 'server': server name already used by [node db1] in cluster main "
	  "(got \"db1\")",
	  __LINE__ },
	{ "[cluster main]\n[cluster main]\n", "t.conf:2: [cluster main] already defined at line 1",
	  __LINE__ },
	{ "[cluster main]\n" NODE1 "[node db1]\n", "t.conf:5: [node db1] already defined at line 2",
	  __LINE__ },
	{ "listen = 1.2.3.4:5\n",
	  "t.conf:1: key 'listen': outside any [section] (got \"1.2.3.4:5\")", __LINE__ },
	{ "[spoa]\n[bogus]\n",
	  "t.conf:2: unknown section [bogus] (expected [spoa], [cluster NAME], [node NAME], "
	  "[haproxy NAME])",
	  __LINE__ },
	{ "[cluster main]\n" NODE1 "[haproxy h1]\ncluster = main\nwriter_backend = pg_write\n",
	  "t.conf:5: key 'runtime_api': missing in [haproxy h1]", __LINE__ },
	{ "[cluster main]\n" NODE1 "[haproxy h1]\nruntime_api = /run/h.sock\ncluster = main\n",
	  "t.conf:5: key 'writer_backend': missing in [haproxy h1]", __LINE__ },
	{ "[cluster main]\n" NODE1 "[haproxy h1]\nruntime_api = /run/h.sock\ncluster = x\n"
	  "writer_backend = w\n",
	  "t.conf:5: key 'cluster': no [cluster x] section (got \"x\")", __LINE__ },
	{ "[cluster main]\n" NODE1 "[haproxy h1]\nruntime_api = localhost:9999\ncluster = main\n"
	  "writer_backend = w\n",
	  "t.conf:5: key 'runtime_api': not a numeric IPv4 address (host names are not "
	  "resolved): a socket path (/...) or a numeric ip:port (got \"localhost:9999\")",
	  __LINE__ },
	{ "[cluster main]\n" NODE1 "[haproxy h1]\nruntime_api = /a\n[haproxy h1]\n",
	  "t.conf:7: [haproxy h1] already defined at line 5", __LINE__ },
};

static void test_spoa_conf_load_string_errors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < HR_ARRAY_SIZE(errs); i++) {
		char err[HR_ERR_LEN] = "";

		print_message("vector line %d\n", errs[i].line);
		assert_int_equal(
		    spoa_conf_load_string("t.conf", errs[i].text, &conf, err, sizeof(err)), -1);
		assert_string_equal(err, errs[i].err);
	}
}

/* Errors of typed values come from common/cfg.c with file, line and key. */
static void test_spoa_conf_load_string_bad_values(void **state)
{
	static const char *const bad[] = {
		"[spoa]\nmax_frame_size = 100\n",
		"[spoa]\nmax_frame_size = 2M\n",
		"[spoa]\nheartbeat = soon\n",
		"[spoa]\nlisten = localhost:1\n",
		"[spoa]\nlog_level = loud\n",
		"[spoa]\nmax_connections = 0\n",
		"[spoa]\nlisten = 1.2.3.4:5\nlisten = 1.2.3.4:6\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < HR_ARRAY_SIZE(bad); i++) {
		char err[HR_ERR_LEN] = "";

		print_message("%s", bad[i]);
		assert_int_equal(spoa_conf_load_string("t.conf", bad[i], &conf, err, sizeof(err)),
		                 -1);
		assert_non_null(strstr(err, "t.conf:"));
		assert_non_null(strstr(err, "key '"));
	}
}

/* Every key of every table appears in the sample, commented, with the table's default. */
static void test_spoa_conf_sample_matches_defaults(void **state)
{
	const struct cfg_key *tables[] = { spoa_conf_main_keys, spoa_conf_cluster_keys,
		                           spoa_conf_haproxy_keys };
	char line[512], err[HR_ERR_LEN] = "";
	FILE *f = fopen("conf/haprole-spoa.conf", "r");
	size_t t;
	char *text;
	long len;

	(void)state;
	if (f == NULL)
		f = fopen("../../conf/haprole-spoa.conf", "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)len + 1);
	assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	for (t = 0; t < HR_ARRAY_SIZE(tables); t++) {
		const struct cfg_key *k;

		for (k = tables[t]; k->name != NULL; k++) {
			snprintf(line, sizeof(line), "\n#%s =%s%s\n", k->name,
			         k->def != NULL && k->def[0] != '\0' ? " " : "",
			         k->def != NULL ? k->def : "");
			print_message("key %s\n", k->name);
			assert_non_null(strstr(text, line));
		}
	}
	/* and the sample itself is valid */
	assert_int_equal(spoa_conf_load_string("sample", text, &conf, err, sizeof(err)), 0);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spoa_conf_load_string_defaults),
		cmocka_unit_test(test_spoa_conf_load_string_errors),
		cmocka_unit_test(test_spoa_conf_load_string_bad_values),
		cmocka_unit_test(test_spoa_conf_sample_matches_defaults),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
