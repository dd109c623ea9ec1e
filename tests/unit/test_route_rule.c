/* tests/unit/test_route_rule.c - the one writer rule (common/route_rule.c) against the shared
 * vectors in tests/vectors/route_rule.txt (format in that file's header; the Lua port runs the
 * same file). A failure names the vector file's line, as pgbouncer's hba_test does. The file is
 * found from the current directory (make runs tests from the top of the tree) or $HR_VECTORS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/compiler.h"
#include "common/route_rule.h"

#define VEC_FILE      "tests/vectors/route_rule.txt"
#define VEC_LINE_MAX  512
#define VEC_NODES_MAX 32
#define VEC_NAME_MAX  32

/* One case being read. */
struct vec_case {
	unsigned line;                          /* line of its `case` */
	char sysid[NS_SYSID_MAX];               /* param sysid, "" learn */
	uint64_t max_lag;                       /* param max_lag */
	size_t n;                               /* nodes */
	char name[VEC_NODES_MAX][VEC_NAME_MAX]; /* node names */
	bool heard[VEC_NODES_MAX];              /* false: st NULL */
	struct rr_node in[VEC_NODES_MAX];       /* the rule's input */
	struct node_state st[VEC_NODES_MAX];    /* their states */
	bool expected;                          /* `expect` seen */
	enum rr_status status;                  /* expected status */
	int writer;                             /* expected writer, -1 none */
	int reader;                             /* expected reader, -1 none */
	bool verdicts;                          /* `verdict` seen */
	enum rr_verdict verdict[VEC_NODES_MAX]; /* expected verdicts */
	bool has_verdict[VEC_NODES_MAX];        /* each node named once */
};

/* Reports a malformed line of the vector file and fails. */
static void vec_bad(const char *path, unsigned line, const char *what, const char *word)
{
	fail_msg("%s:%u: %s (got \"%s\")", path, line, what, word != NULL ? word : "");
}

static bool vec_bool(const char *v, bool *out)
{
	if (strcmp(v, "yes") == 0)
		*out = true;
	else if (strcmp(v, "no") == 0)
		*out = false;
	else
		return false;
	return true;
}

static bool vec_num(const char *v, uint64_t *out)
{
	char *end;
	unsigned long long x;

	if (*v < '0' || *v > '9')
		return false;
	x = strtoull(v, &end, 10);
	if (*end != '\0' || x >= (1ULL << 53))
		return false;
	*out = x;
	return true;
}

/* "-" for none, else the index of node <v> in <c>; -2 when unknown. */
static int vec_node_ref(const struct vec_case *c, const char *v)
{
	size_t i;

	if (strcmp(v, "-") == 0)
		return -1;
	for (i = 0; i < c->n; i++)
		if (strcmp(c->name[i], v) == 0)
			return (int)i;
	return -2;
}

static void vec_node(const char *path, unsigned line, struct vec_case *c, char *save)
{
	const char *name = strtok_r(NULL, " \t\r\n", &save);
	struct node_state *s;
	char *w;
	size_t i;

	if (name == NULL || strcmp(name, "-") == 0 || strchr(name, '=') != NULL ||
	    strlen(name) >= VEC_NAME_MAX)
		vec_bad(path, line, "node: a NAME first", name);
	if (c->n == VEC_NODES_MAX)
		vec_bad(path, line, "too many nodes in one case", name);
	if (c->expected)
		vec_bad(path, line, "node after expect", name);
	for (i = 0; i < c->n; i++)
		if (strcmp(c->name[i], name) == 0)
			vec_bad(path, line, "node name used twice", name);
	i = c->n++;
	snprintf(c->name[i], sizeof(c->name[i]), "%s", name);
	s = &c->st[i];
	ns_init(s);
	snprintf(s->node, sizeof(s->node), "%s", name);
	s->pg.present = true;
	s->pg.up = true;
	s->pg.role = NS_ROLE_UNKNOWN;
	s->pg.tl = 1;
	s->pg.streaming = true;
	snprintf(s->pg.sysid, sizeof(s->pg.sysid), "1");
	c->heard[i] = true;
	c->in[i].fresh = true;
	while ((w = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
		char *eq = strchr(w, '=');
		const char *k = w, *v;
		uint64_t x = 0;
		bool ok = true;

		if (eq == NULL)
			vec_bad(path, line, "node: KEY=VALUE expected", w);
		*eq = '\0';
		v = eq + 1;
		if (strcmp(k, "heard") == 0)
			ok = vec_bool(v, &c->heard[i]);
		else if (strcmp(k, "fresh") == 0)
			ok = vec_bool(v, &c->in[i].fresh);
		else if (strcmp(k, "pg") == 0)
			ok = vec_bool(v, &s->pg.present);
		else if (strcmp(k, "up") == 0)
			ok = vec_bool(v, &s->pg.up);
		else if (strcmp(k, "role") == 0)
			ok = ns_role_parse(v, strlen(v), &s->pg.role);
		else if (strcmp(k, "tl") == 0) {
			ok = vec_num(v, &x) && x <= UINT32_MAX;
			s->pg.tl = (uint32_t)x;
		} else if (strcmp(k, "sysid") == 0) {
			ok = strlen(v) < sizeof(s->pg.sysid);
			snprintf(s->pg.sysid, sizeof(s->pg.sysid), "%s",
			         strcmp(v, "-") == 0 ? "" : v);
		} else if (strcmp(k, "fenced") == 0)
			ok = vec_bool(v, &s->fenced);
		else if (strcmp(k, "admin") == 0)
			ok = ns_admin_parse(v, strlen(v), &s->admin);
		else if (strcmp(k, "lag") == 0)
			ok = vec_num(v, &s->pg.lag_bytes);
		else if (strcmp(k, "lag_ms") == 0)
			ok = vec_num(v, &s->pg.lag_ms);
		else if (strcmp(k, "streaming") == 0)
			ok = vec_bool(v, &s->pg.streaming);
		else if (strcmp(k, "paused") == 0)
			ok = vec_bool(v, &s->pg.paused);
		else
			vec_bad(path, line, "node: unknown key", k);
		if (!ok)
			vec_bad(path, line, "node: bad value", v);
	}
	if (!c->heard[i] && c->in[i].fresh)
		vec_bad(path, line, "node: heard=no needs fresh=no", name);
	c->in[i].st = c->heard[i] ? s : NULL;
}

static void vec_param(const char *path, unsigned line, struct vec_case *c, char *save)
{
	char *w;

	if (c->n > 0)
		vec_bad(path, line, "param after a node", "param");
	while ((w = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
		char *eq = strchr(w, '=');

		if (eq == NULL)
			vec_bad(path, line, "param: KEY=VALUE expected", w);
		*eq = '\0';
		if (strcmp(w, "sysid") == 0 && strlen(eq + 1) < sizeof(c->sysid))
			snprintf(c->sysid, sizeof(c->sysid), "%s",
			         strcmp(eq + 1, "-") == 0 ? "" : eq + 1);
		else if (strcmp(w, "max_lag") == 0 && strcmp(eq + 1, "-") == 0)
			c->max_lag = RR_NO_LAG_LIMIT;
		else if (strcmp(w, "max_lag") != 0 || !vec_num(eq + 1, &c->max_lag))
			vec_bad(path, line, "param: sysid=ID|- or max_lag=N|-", w);
	}
}

static void vec_expect(const char *path, unsigned line, struct vec_case *c, char *save)
{
	unsigned seen = 0;
	char *w;

	while ((w = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
		char *eq = strchr(w, '=');

		if (eq == NULL)
			vec_bad(path, line, "expect: KEY=VALUE expected", w);
		*eq = '\0';
		if (strcmp(w, "status") == 0 && rr_status_parse(eq + 1, &c->status))
			seen |= 1;
		else if (strcmp(w, "writer") == 0 && (c->writer = vec_node_ref(c, eq + 1)) > -2)
			seen |= 2;
		else if (strcmp(w, "reader") == 0 && (c->reader = vec_node_ref(c, eq + 1)) > -2)
			seen |= 4;
		else
			vec_bad(path, line, "expect: status=S writer=NAME|- reader=NAME|-", w);
	}
	if (seen != 7)
		vec_bad(path, line, "expect: needs status, writer and reader", "");
	c->expected = true;
}

static void vec_verdict(const char *path, unsigned line, struct vec_case *c, char *save)
{
	char *w;
	size_t i;

	while ((w = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
		char *eq = strchr(w, '=');
		int k;

		if (eq == NULL)
			vec_bad(path, line, "verdict: NAME=VERDICT expected", w);
		*eq = '\0';
		k = vec_node_ref(c, w);
		if (k < 0)
			vec_bad(path, line, "verdict: no such node", w);
		if (c->has_verdict[k])
			vec_bad(path, line, "verdict: node named twice", w);
		if (!rr_verdict_parse(eq + 1, &c->verdict[k]))
			vec_bad(path, line, "verdict: unknown verdict", eq + 1);
		c->has_verdict[k] = true;
	}
	for (i = 0; i < c->n; i++)
		if (!c->has_verdict[i])
			vec_bad(path, line, "verdict: node missing", c->name[i]);
	c->verdicts = true;
}

static const char *vec_idx_name(const struct vec_case *c, int i)
{
	return i >= 0 && (size_t)i < c->n ? c->name[i] : "-";
}

/* Runs case <c>; fails naming its line and what differs. */
static void vec_run(const char *path, const struct vec_case *c)
{
	enum rr_verdict got[VEC_NODES_MAX];
	struct rr_decision d;
	size_t i;

	rr_decide(c->in, c->n, c->sysid, c->max_lag, &d, got);
	if (d.status != c->status || d.writer != c->writer || d.reader != c->reader)
		fail_msg("%s:%u: got status=%s writer=%s reader=%s, expected status=%s "
		         "writer=%s reader=%s",
		         path, c->line, rr_status_name(d.status), vec_idx_name(c, d.writer),
		         vec_idx_name(c, d.reader), rr_status_name(c->status),
		         vec_idx_name(c, c->writer), vec_idx_name(c, c->reader));
	for (i = 0; i < c->n; i++)
		if (got[i] != c->verdict[i])
			fail_msg("%s:%u: node %s: verdict %s, expected %s", path, c->line,
			         c->name[i], rr_verdict_name(got[i]),
			         rr_verdict_name(c->verdict[i]));
}

/* Reads and runs every case of <path>; returns how many ran. */
static size_t vec_file_run(const char *path)
{
	static struct vec_case c;
	char buf[VEC_LINE_MAX];
	unsigned line = 0;
	bool in_case = false;
	size_t ran = 0;
	FILE *f;

	f = fopen(path, "r");
	if (f == NULL)
		fail_msg("%s: cannot open the vector file (run from the top of the tree, or set "
		         "HR_VECTORS)",
		         path);
	while (fgets(buf, sizeof(buf), f) != NULL) {
		char *save = NULL;
		char *w;

		line++;
		if (strchr(buf, '\n') == NULL && !feof(f))
			vec_bad(path, line, "line too long", "");
		w = strtok_r(buf, " \t\r\n", &save);
		if (w == NULL || w[0] == '#')
			continue;
		if (strcmp(w, "case") == 0) {
			if (in_case)
				vec_bad(path, line, "case inside a case (missing end)", w);
			memset(&c, 0, sizeof(c));
			c.line = line;
			c.max_lag = RR_NO_LAG_LIMIT;
			c.writer = -1;
			c.reader = -1;
			in_case = true;
			continue;
		}
		if (!in_case)
			vec_bad(path, line, "directive outside a case", w);
		if (strcmp(w, "param") == 0) {
			vec_param(path, line, &c, save);
		} else if (strcmp(w, "node") == 0) {
			vec_node(path, line, &c, save);
		} else if (strcmp(w, "expect") == 0) {
			vec_expect(path, line, &c, save);
		} else if (strcmp(w, "verdict") == 0) {
			if (!c.expected)
				vec_bad(path, line, "verdict before expect", w);
			vec_verdict(path, line, &c, save);
		} else if (strcmp(w, "end") == 0) {
			if (!c.expected || !c.verdicts)
				vec_bad(path, line, "end: the case needs expect and verdict", w);
			vec_run(path, &c);
			ran++;
			in_case = false;
		} else {
			vec_bad(path, line, "unknown directive", w);
		}
	}
	fclose(f);
	if (in_case)
		vec_bad(path, line, "end of file inside a case", "");
	return ran;
}

static void test_rr_decide_vector_file(void **state)
{
	const char *path = getenv("HR_VECTORS") != NULL ? getenv("HR_VECTORS") : VEC_FILE;
	size_t ran;

	(void)state;
	ran = vec_file_run(path);
	print_message("%zu vectors from %s\n", ran, path);
	/* the file is the rule's specification: it cannot shrink to nothing unnoticed */
	assert_true(ran >= 40);
}

/* Every status and verdict has a name that parses back (the vector file and Lua use them). */
static void test_rr_names_round_trip(void **state)
{
	enum rr_status st;
	enum rr_verdict v;
	unsigned i;

	(void)state;
	for (i = 0; i < RR_STATUS_COUNT; i++) {
		assert_true(rr_status_parse(rr_status_name((enum rr_status)i), &st));
		assert_int_equal(st, i);
	}
	for (i = 0; i < RR_V_COUNT; i++) {
		assert_true(rr_verdict_parse(rr_verdict_name((enum rr_verdict)i), &v));
		assert_int_equal(v, i);
	}
	assert_false(rr_status_parse("OK", &st));
	assert_false(rr_verdict_parse("write", &v));
	assert_string_equal(rr_status_name(RR_STATUS_COUNT), "?");
}

/* rr_outranked_by() names the highest node of the same sysid above, fresh or not (the fence's
 * and haprolectl's reason), and ignores other sysids and nodes never heard from. */
static void test_rr_outranked_by_highest(void **state)
{
	struct node_state st[4];
	struct rr_node in[5];
	enum rr_verdict v[5];
	struct rr_decision d;
	size_t i;

	(void)state;
	for (i = 0; i < 4; i++) {
		ns_init(&st[i]);
		st[i].pg.present = true;
		st[i].pg.up = true;
		st[i].pg.role = NS_ROLE_PRIMARY;
		st[i].pg.tl = (uint32_t)(i + 1);
		snprintf(st[i].pg.sysid, sizeof(st[i].pg.sysid), "7");
		in[i].fresh = true;
		in[i].st = &st[i];
	}
	snprintf(st[3].pg.sysid, sizeof(st[3].pg.sysid), "8"); /* tl 4, another cluster */
	in[2].fresh = false;                                   /* tl 3, lost */
	in[4].fresh = false;
	in[4].st = NULL; /* never heard from */
	assert_int_equal(rr_outranked_by(in, 5, 0), 2);
	assert_int_equal(rr_outranked_by(in, 5, 1), 2);
	assert_int_equal(rr_outranked_by(in, 5, 2), -1);
	assert_int_equal(rr_outranked_by(in, 5, 4), -1);
	rr_decide(in, 5, "7", RR_NO_LAG_LIMIT, &d, v);
	assert_int_equal(d.status, RR_STATUS_STALE);
	assert_int_equal(v[0], RR_V_OUTRANKED);
	assert_int_equal(v[1], RR_V_OUTRANKED);
	assert_int_equal(v[2], RR_V_STALE);
	assert_int_equal(v[3], RR_V_FOREIGN);
	assert_int_equal(v[4], RR_V_STALE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rr_decide_vector_file),
		cmocka_unit_test(test_rr_names_round_trip),
		cmocka_unit_test(test_rr_outranked_by_highest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
