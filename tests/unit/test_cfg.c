/* tests/unit/test_cfg.c - the INI reader and key tables, with every error text asserted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/cfg.h"
#include "common/compiler.h"

/* A small daemon config: one [main] section and repeated [probe NAME] sections. */
struct demo_probe {
	char name[CFG_NAME_MAX]; /* from the header */
	double interval;         /* seconds */
	int64_t rise;            /* successes to turn up */
	struct cfg_seen seen;    /* duplicate detection */
};

struct demo_conf {
	struct cfg_addr listen;      /* where to listen */
	uint64_t max_line;           /* bytes */
	bool verbose;                /* yes/no */
	char conninfo[128];          /* libpq */
	int mode;                    /* index into demo_modes */
	struct cfg_seen seen;        /* duplicate detection for [main] */
	struct demo_probe probes[4]; /* [probe NAME] sections */
	size_t n_probes;             /* used entries of probes */
	struct demo_probe *cur;      /* section being read, NULL in [main] */
};

static const char *const demo_modes[] = { "down", "maint", NULL };

static const struct cfg_key demo_main_keys[] = {
	{ .name = "listen",
	  .type = CFG_T_ADDR,
	  .offset = offsetof(struct demo_conf, listen),
	  .def = "127.0.0.1:5555" },
	{ .name = "max_line",
	  .type = CFG_T_SIZE,
	  .offset = offsetof(struct demo_conf, max_line),
	  .min = 64,
	  .max = 65536,
	  .def = "1k" },
	{ .name = "verbose",
	  .type = CFG_T_BOOL,
	  .offset = offsetof(struct demo_conf, verbose),
	  .def = "no" },
	{ .name = "conninfo",
	  .type = CFG_T_STRING,
	  .offset = offsetof(struct demo_conf, conninfo),
	  .len = sizeof(((struct demo_conf *)0)->conninfo),
	  .min = 1,
	  .def = "host=/tmp" },
	{ .name = "mode",
	  .type = CFG_T_ENUM,
	  .offset = offsetof(struct demo_conf, mode),
	  .enum_names = demo_modes,
	  .def = "down" },
	{ .name = NULL },
};

static const struct cfg_key demo_probe_keys[] = {
	{ .name = "interval",
	  .type = CFG_T_DURATION,
	  .offset = offsetof(struct demo_probe, interval),
	  .min = 0.01,
	  .max = 60,
	  .def = "100ms" },
	{ .name = "rise",
	  .type = CFG_T_INT,
	  .offset = offsetof(struct demo_probe, rise),
	  .min = 1,
	  .max = 100,
	  .def = "2" },
	{ .name = NULL },
};

static int demo_item(void *arg, const struct cfg_item *it, char *err, size_t errlen)
{
	struct demo_conf *c = arg;

	if (it->key == NULL) {
		if (strcmp(it->section, "main") == 0 && it->name[0] == '\0') {
			c->cur = NULL;
			return 0;
		}
		if (strcmp(it->section, "probe") == 0 && it->name[0] != '\0' && c->n_probes < 4) {
			c->cur = &c->probes[c->n_probes++];
			memset(c->cur, 0, sizeof(*c->cur));
			strcpy(c->cur->name, it->name);
			return cfg_set_defaults(demo_probe_keys, c->cur, err, errlen);
		}
		cfg_item_err(err, errlen, it, "unknown section [%s%s%s]", it->section,
		             it->name[0] != '\0' ? " " : "", it->name);
		return -1;
	}
	if (c->cur != NULL)
		return cfg_set_key(demo_probe_keys, c->cur, &c->cur->seen, it, err, errlen);
	return cfg_set_key(demo_main_keys, c, &c->seen, it, err, errlen);
}

/* Writes <text> to a temporary file; returns its path (static buffer). */
static const char *write_tmp(const char *text)
{
	static char path[64];
	FILE *f;
	int fd;

	strcpy(path, "/tmp/haprole-test-cfg-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd != -1);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static int load(const char *text, struct demo_conf *c, char *err, size_t errlen)
{
	const char *path = write_tmp(text);
	int ret;

	memset(c, 0, sizeof(*c));
	assert_int_equal(cfg_set_defaults(demo_main_keys, c, err, errlen), 0);
	ret = cfg_read_file(path, demo_item, c, err, errlen);
	unlink(path);
	return ret;
}

/* Replaces the random temp path in <err> by "F" so texts can be compared exactly. */
static const char *norm(char *err)
{
	static char out[HR_ERR_LEN + 8];
	const char *colon = strchr(err, ':');

	snprintf(out, sizeof(out), "F%s", colon != NULL ? colon : err);
	return out;
}

static void test_cfg_read_file_good(void **state)
{
	struct demo_conf c;
	char err[HR_ERR_LEN] = "";

	(void)state;
	assert_int_equal(
	    load("# comment\n; also a comment\n\n[main]\nlisten = 0.0.0.0:6000\n"
	         "max_line=4k\n  verbose = yes  \nconninfo = \"host=/run dbname=x #1\"\n"
	         "mode = maint\n[probe pg]\ninterval = 250ms\n[probe app]\nrise = 5\n",
	         &c, err, sizeof(err)),
	    0);
	assert_string_equal(c.listen.text, "0.0.0.0:6000");
	assert_int_equal(c.max_line, 4096);
	assert_true(c.verbose);
	assert_string_equal(c.conninfo, "host=/run dbname=x #1");
	assert_int_equal(c.mode, 1);
	assert_int_equal(c.n_probes, 2);
	assert_string_equal(c.probes[0].name, "pg");
	assert_true(c.probes[0].interval > 0.2499 && c.probes[0].interval < 0.2501);
	assert_int_equal(c.probes[0].rise, 2); /* default */
	assert_int_equal(c.probes[1].rise, 5);
}

static void test_cfg_read_file_defaults_apply(void **state)
{
	struct demo_conf c;
	char err[HR_ERR_LEN] = "";

	(void)state;
	assert_int_equal(load("[main]\n", &c, err, sizeof(err)), 0);
	assert_string_equal(c.listen.text, "127.0.0.1:5555");
	assert_int_equal(c.max_line, 1024);
	assert_false(c.verbose);
	assert_string_equal(c.conninfo, "host=/tmp");
}

struct error_vector {
	const char *text;     /* file content */
	const char *expected; /* exact error, file name shown as F */
	int line;             /* where the vector is */
};

static const struct error_vector error_vectors[] = {
	{ "[main]\n[nosuch]\n", "F:2: unknown section [nosuch]", __LINE__ },
	{ "[main]\ncolour = blue\n",
	  "F:2: key 'colour': unknown key in section [main] (got \"blue\")", __LINE__ },
	{ "[probe pg]\nlisten = 1.2.3.4:5\n",
	  "F:2: key 'listen': unknown key in section [probe] (got \"1.2.3.4:5\")", __LINE__ },
	{ "[main]\nmax_line = lots\n",
	  "F:2: key 'max_line': not a size (examples: 512, 64k, 16MB) (got \"lots\")", __LINE__ },
	{ "[main]\nmax_line = 16\n", "F:2: key 'max_line': out of range: 64 to 64k (got \"16\")",
	  __LINE__ },
	{ "[main]\nverbose = maybe\n", "F:2: key 'verbose': expected yes or no (got \"maybe\")",
	  __LINE__ },
	{ "[main]\nmode = up\n", "F:2: key 'mode': expected one of down, maint (got \"up\")",
	  __LINE__ },
	{ "[main]\nlisten = localhost:80\n",
	  "F:2: key 'listen': not a numeric IPv4 address (host names are not resolved) "
	  "(got \"localhost:80\")",
	  __LINE__ },
	{ "[main]\nlisten = 1.2.3.4:70000\n",
	  "F:2: key 'listen': port must be a number from 0 to 65535 (got \"1.2.3.4:70000\")",
	  __LINE__ },
	{ "[probe pg]\ninterval = 2d\n",
	  "F:2: key 'interval': not a duration (examples: 250ms, 2s, 1m) (got \"2d\")", __LINE__ },
	{ "[probe pg]\nrise = 0\n", "F:2: key 'rise': out of range: 1 to 100 (got \"0\")",
	  __LINE__ },
	{ "[probe pg]\nrise = 2x\n", "F:2: key 'rise': not an integer (got \"2x\")", __LINE__ },
	{ "[main]\nconninfo =\n", "F:2: key 'conninfo': must not be empty (got \"\")", __LINE__ },
	{ "[main]\nverbose = yes\n\nverbose = no\n",
	  "F:4: key 'verbose': set twice, first at line 2 (got \"no\")", __LINE__ },
	{ "verbose = yes\n", "F:1: key 'verbose': outside any [section] (got \"yes\")", __LINE__ },
	{ "[main]\njust words\n", "F:2: expected 'key = value' or '[section]' (got \"just words\")",
	  __LINE__ },
	{ "[main\n", "F:1: malformed section header (got \"[main\")", __LINE__ },
	{ "[main]\nconninfo = \"abc\n",
	  "F:2: key 'conninfo': unterminated quoted value (got \"abc)", __LINE__ },
};

static void test_cfg_read_file_error_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < HR_ARRAY_SIZE(error_vectors); i++) {
		const struct error_vector *v = &error_vectors[i];
		struct demo_conf c;
		char err[HR_ERR_LEN] = "";

		if (load(v->text, &c, err, sizeof(err)) != -1)
			fail_msg("vector at line %d: accepted", v->line);
		if (strcmp(norm(err), v->expected) != 0)
			fail_msg("vector at line %d:\n got      %s\n expected %s", v->line,
			         norm(err), v->expected);
	}
}

static void test_cfg_read_file_missing_file(void **state)
{
	struct demo_conf c = { 0 };
	char err[HR_ERR_LEN] = "";

	(void)state;
	assert_int_equal(
	    cfg_read_file("/nonexistent/haprole.conf", demo_item, &c, err, sizeof(err)), -1);
	assert_string_equal(err,
	                    "/nonexistent/haprole.conf: cannot open: No such file or directory");
}

static void test_cfg_read_file_overlong_line(void **state)
{
	char text[CFG_LINE_MAX + 64];
	struct demo_conf c;
	char err[HR_ERR_LEN] = "";
	int n;

	(void)state;
	n = snprintf(text, sizeof(text), "[main]\nconninfo = ");
	memset(text + n, 'x', CFG_LINE_MAX);
	strcpy(text + n + CFG_LINE_MAX, "\n");
	assert_int_equal(load(text, &c, err, sizeof(err)), -1);
	assert_string_equal(norm(err), "F:2: line longer than 1024 bytes");
}

static void test_cfg_read_file_line_at_limit_accepted(void **state)
{
	char text[CFG_LINE_MAX + 64];
	struct demo_conf c;
	char err[HR_ERR_LEN] = "";
	int n;

	(void)state;
	/* "mode = maint" padded with blanks to exactly CFG_LINE_MAX bytes */
	n = snprintf(text, sizeof(text), "[main]\n");
	memset(text + n, ' ', CFG_LINE_MAX - 12);
	strcpy(text + n + CFG_LINE_MAX - 12, "mode = maint\n[main]\n");
	assert_int_equal(load(text, &c, err, sizeof(err)), 0);
	assert_int_equal(c.mode, 1);
}

static void test_cfg_read_string_same_rules(void **state)
{
	struct demo_conf c = { 0 };
	char err[HR_ERR_LEN] = "";

	(void)state;
	assert_int_equal(
	    cfg_read_string("inline", "[main]\nverbose = on\n", demo_item, &c, err, sizeof(err)),
	    0);
	assert_true(c.verbose);
	memset(&c, 0, sizeof(c));
	assert_int_equal(cfg_read_string("inline", "[main]\nverbose = on\nverbose = on", demo_item,
	                                 &c, err, sizeof(err)),
	                 -1);
	assert_string_equal(err,
	                    "inline:3: key 'verbose': set twice, first at line 2 (got \"on\")");
}

static void test_cfg_parse_addr_forms(void **state)
{
	struct cfg_addr a;
	const char *why;

	(void)state;
	assert_int_equal(cfg_parse_addr("*:5555", &a, &why), 0);
	assert_int_equal(a.ss.ss_family, AF_INET);
	assert_int_equal(cfg_parse_addr(":5555", &a, &why), 0);
	assert_int_equal(cfg_parse_addr("[::1]:5555", &a, &why), 0);
	assert_int_equal(a.ss.ss_family, AF_INET6);
	assert_int_equal(cfg_parse_addr("::1:5555", &a, &why), 0); /* last colon is the port's */
	assert_int_equal(cfg_parse_addr("[::1]5555", &a, &why), -1);
	assert_string_equal(why, "expected [IPv6]:PORT");
	assert_int_equal(cfg_parse_addr("1.2.3.4", &a, &why), -1);
	assert_string_equal(why, "expected IP:PORT");
}

struct redact_vector {
	const char *in;       /* conninfo as configured */
	const char *expected; /* as logged */
	int line;             /* where the vector is */
};

static const struct redact_vector redact_vectors[] = {
	{ "host=/run/postgresql dbname=app", "host=/run/postgresql dbname=app", __LINE__ },
	{ "host=x password=s3cret user=u", "host=x password=*** user=u", __LINE__ },
	{ "password = 's3 cr\\'et' user=u", "password=*** user=u", __LINE__ },
	{ "passwordless=1", "passwordless=1", __LINE__ },
	{ "postgresql://u:s3cret@10.0.0.1:5432/db", "postgresql://u:***@10.0.0.1:5432/db",
	  __LINE__ },
	{ "postgresql://u@10.0.0.1/db", "postgresql://u@10.0.0.1/db", __LINE__ },
};

static void test_cfg_redact_vectors(void **state)
{
	char out[128];

	(void)state;
	for (size_t i = 0; i < HR_ARRAY_SIZE(redact_vectors); i++) {
		const struct redact_vector *v = &redact_vectors[i];

		cfg_redact(v->in, out, sizeof(out));
		if (strcmp(out, v->expected) != 0)
			fail_msg("vector at line %d: got \"%s\"", v->line, out);
	}
	assert_string_equal(cfg_redact("host=x password=y", out, 8), "(connin");
}

static void test_cfg_format_value_round_trips(void **state)
{
	struct demo_conf c;
	char err[HR_ERR_LEN];
	char text[64];

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(cfg_set_defaults(demo_main_keys, &c, err, sizeof(err)), 0);
	for (const struct cfg_key *k = demo_main_keys; k->name != NULL; k++) {
		const char *why;

		assert_int_equal(cfg_format_value(k, &c, text, sizeof(text)), 0);
		assert_int_equal(cfg_parse_value(k, text, &c, &why), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cfg_read_file_good),
		cmocka_unit_test(test_cfg_read_file_defaults_apply),
		cmocka_unit_test(test_cfg_read_file_error_vectors),
		cmocka_unit_test(test_cfg_read_file_missing_file),
		cmocka_unit_test(test_cfg_read_file_overlong_line),
		cmocka_unit_test(test_cfg_read_file_line_at_limit_accepted),
		cmocka_unit_test(test_cfg_read_string_same_rules),
		cmocka_unit_test(test_cfg_parse_addr_forms),
		cmocka_unit_test(test_cfg_redact_vectors),
		cmocka_unit_test(test_cfg_format_value_round_trips),
	};

	return cmocka_run_group_tests_name("cfg", tests, NULL, NULL);
}
