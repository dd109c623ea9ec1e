/* tests/unit/test_check.c - the check policy: every kind over every node situation, the admin,
 * shutdown, standby_answer and lag_answer overrides, lag-to-weight. Vectors name their line on
 * failure. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/check.h"

/* Node situations the vectors refer to. */
enum sit {
	S_PRIMARY = 0,            /* pg up, primary */
	S_STANDBY,                /* pg up, streaming standby, no lag */
	S_STANDBY_LAG_HALF,       /* streaming standby at half of max_lag (8 MiB of 16) */
	S_STANDBY_LAG_OVER,       /* streaming standby beyond max_lag */
	S_STANDBY_TIME_OVER,      /* streaming standby 20 s behind (max 10 s) */
	S_STANDBY_NOSTREAM,       /* standby, WAL receiver gone */
	S_PG_DOWN,                /* pg probe failing */
	S_PG_UNKNOWN,             /* pg up but role unknown */
	S_FENCED,                 /* primary fenced by a peer */
	S_NO_PG,                  /* node without postgres (app node) */
	S_APP_DOWN,               /* primary, app probe failing */
	S_NGINX_DOWN,             /* primary, nginx probe failing */
	S_DRAIN,                  /* primary, operator drain */
	S_MAINT,                  /* primary, operator maint */
	S_STANDBY_DRAIN,          /* standby, operator drain */
	S_STANDBY_LAG_OVER_DRAIN, /* standby beyond max_lag, operator drain */
	S_STANDBY_LAG_OVER_MAINT, /* standby beyond max_lag, operator maint */
};

static void build(enum sit s, struct node_state *ns)
{
	ns_init(ns);
	strcpy(ns->node, "db1");
	ns->pg.present = true;
	ns->pg.up = true;
	ns->pg.role = NS_ROLE_PRIMARY;
	ns->pg.tl = 1;
	ns->app.present = true;
	ns->app.up = true;
	ns->nginx.present = true;
	ns->nginx.up = true;
	switch (s) {
	case S_PRIMARY:
		break;
	case S_STANDBY:
	case S_STANDBY_LAG_HALF:
	case S_STANDBY_LAG_OVER:
	case S_STANDBY_TIME_OVER:
	case S_STANDBY_NOSTREAM:
	case S_STANDBY_DRAIN:
	case S_STANDBY_LAG_OVER_DRAIN:
	case S_STANDBY_LAG_OVER_MAINT:
		ns->pg.role = NS_ROLE_STANDBY;
		ns->pg.streaming = s != S_STANDBY_NOSTREAM;
		if (s == S_STANDBY_LAG_HALF)
			ns->pg.lag_bytes = 8u << 20;
		if (s == S_STANDBY_LAG_OVER || s == S_STANDBY_LAG_OVER_DRAIN ||
		    s == S_STANDBY_LAG_OVER_MAINT)
			ns->pg.lag_bytes = 17u << 20;
		if (s == S_STANDBY_TIME_OVER)
			ns->pg.lag_ms = 20000;
		if (s == S_STANDBY_DRAIN || s == S_STANDBY_LAG_OVER_DRAIN) {
			ns->admin = NS_ADMIN_DRAIN;
			strcpy(ns->admin_reason, "upgrade");
		}
		if (s == S_STANDBY_LAG_OVER_MAINT)
			ns->admin = NS_ADMIN_MAINT;
		break;
	case S_PG_DOWN:
		ns->pg.up = false;
		ns->pg.role = NS_ROLE_UNKNOWN;
		strcpy(ns->pg.err, "query timeout after 1000 ms");
		break;
	case S_PG_UNKNOWN:
		ns->pg.role = NS_ROLE_UNKNOWN;
		break;
	case S_FENCED:
		ns->fenced = true;
		strcpy(ns->fence_reason, "db2 is primary on timeline 3");
		break;
	case S_NO_PG:
		ns->pg.present = false;
		ns->pg.up = false;
		ns->pg.role = NS_ROLE_UNKNOWN;
		break;
	case S_APP_DOWN:
		ns->app.up = false;
		strcpy(ns->app.err, "HTTP 502");
		break;
	case S_NGINX_DOWN:
		ns->nginx.up = false;
		strcpy(ns->nginx.err, "connection refused");
		break;
	case S_DRAIN:
		ns->admin = NS_ADMIN_DRAIN;
		strcpy(ns->admin_reason, "upgrade");
		break;
	case S_MAINT:
		ns->admin = NS_ADMIN_MAINT;
		break;
	}
}

static struct check_conf conf(enum check_kind kind, enum check_standby_answer sa)
{
	struct check_conf c = {
		.kind = kind,
		.standby_answer = sa,
		.weight = 100,
		.primary_weight = 100,
		.min_weight = 10,
		.max_lag = 16u << 20,
		.max_lag_time = 10,
		.maxconn = 0,
	};
	return c;
}

struct check_vec {
	enum check_kind kind;         /* check kind */
	enum check_standby_answer sa; /* standby_answer */
	enum check_lag_answer la;     /* lag_answer */
	enum sit sit;                 /* node situation */
	bool shutdown;                /* SIGTERM grace */
	const char *expected;         /* the line */
	int line;                     /* __LINE__ */
};

#define W  CHECK_KIND_WRITER
#define R  CHECK_KIND_READER
#define A  CHECK_KIND_APP
#define SD CHECK_STANDBY_DOWN
#define SM CHECK_STANDBY_MAINT
#define LR CHECK_LAG_DRAIN /* lag_answer = drain (the default) */
#define LD CHECK_LAG_DOWN

static const struct check_vec vecs[] = {
	/* writer */
	{ W, SD, LR, S_PRIMARY, false, "up ready 100%", __LINE__ },
	{ W, SD, LR, S_STANDBY, false, "down ready #pg: standby", __LINE__ },
	{ W, SM, LR, S_STANDBY, false, "down maint #pg: standby", __LINE__ },
	{ W, SD, LR, S_STANDBY_NOSTREAM, false, "down ready #pg: standby", __LINE__ },
	{ W, SD, LR, S_PG_DOWN, false, "fail ready #pg: query timeout after 1000 ms", __LINE__ },
	{ W, SM, LR, S_PG_DOWN, false, "fail ready #pg: query timeout after 1000 ms", __LINE__ },
	{ W, SD, LR, S_PG_UNKNOWN, false, "fail ready #pg: role unknown", __LINE__ },
	{ W, SD, LR, S_FENCED, false, "down ready #fenced: db2 is primary on timeline 3",
	  __LINE__ },
	{ W, SD, LR, S_NO_PG, false, "down ready #pg: no postgres probe on this node", __LINE__ },
	{ W, SD, LR, S_DRAIN, false, "up drain 100% #admin: upgrade", __LINE__ },
	{ W, SD, LR, S_MAINT, false, "up maint 100% #admin: maint", __LINE__ },
	{ W, SD, LR, S_STANDBY_DRAIN, false, "down drain #admin: upgrade", __LINE__ },
	{ W, SM, LR, S_STANDBY_DRAIN, false, "down maint #pg: standby", __LINE__ },
	{ W, SD, LR, S_PRIMARY, true, "up drain 100% #shutdown", __LINE__ },
	{ W, SD, LR, S_STANDBY, true, "down drain #shutdown", __LINE__ },
	{ W, SD, LR, S_MAINT, true, "up maint 100% #admin: maint", __LINE__ },
	/* the writer does not care about app/nginx */
	{ W, SD, LR, S_APP_DOWN, false, "up ready 100%", __LINE__ },
	/* reader */
	{ R, SD, LR, S_PRIMARY, false, "up ready 100%", __LINE__ },
	{ R, SD, LR, S_STANDBY, false, "up ready 100%", __LINE__ },
	{ R, SD, LR, S_STANDBY_LAG_HALF, false, "up ready 55%", __LINE__ },
	{ R, SD, LR, S_STANDBY_LAG_OVER, false, "up drain #pg: lag 17825792 bytes 0 ms", __LINE__ },
	{ R, SD, LR, S_STANDBY_TIME_OVER, false, "up drain #pg: lag 0 bytes 20000 ms", __LINE__ },
	{ R, SD, LR, S_STANDBY_NOSTREAM, false, "down ready #pg: standby not streaming", __LINE__ },
	{ R, SD, LR, S_PG_DOWN, false, "fail ready #pg: query timeout after 1000 ms", __LINE__ },
	{ R, SD, LR, S_PG_UNKNOWN, false, "fail ready #pg: role unknown", __LINE__ },
	{ R, SD, LR, S_FENCED, false, "down ready #fenced: db2 is primary on timeline 3",
	  __LINE__ },
	{ R, SD, LR, S_NO_PG, false, "down ready #pg: no postgres probe on this node", __LINE__ },
	{ R, SD, LR, S_STANDBY_DRAIN, false, "up drain 100% #admin: upgrade", __LINE__ },
	{ R, SD, LR, S_STANDBY, true, "up drain 100% #shutdown", __LINE__ },
	/* reader, lag_answer = down: only past the lag limits does it differ */
	{ R, SD, LD, S_STANDBY_LAG_OVER, false, "down ready #pg: lag 17825792 bytes 0 ms",
	  __LINE__ },
	{ R, SD, LD, S_STANDBY_TIME_OVER, false, "down ready #pg: lag 0 bytes 20000 ms", __LINE__ },
	{ R, SD, LD, S_STANDBY_LAG_HALF, false, "up ready 55%", __LINE__ },
	{ R, SD, LD, S_STANDBY, false, "up ready 100%", __LINE__ },
	{ R, SD, LD, S_PRIMARY, false, "up ready 100%", __LINE__ },
	{ R, SD, LD, S_STANDBY_NOSTREAM, false, "down ready #pg: standby not streaming", __LINE__ },
	{ R, SD, LD, S_PG_DOWN, false, "fail ready #pg: query timeout after 1000 ms", __LINE__ },
	{ R, SD, LD, S_STANDBY_LAG_OVER_DRAIN, false, "down drain #admin: upgrade", __LINE__ },
	{ R, SD, LD, S_STANDBY_LAG_OVER_MAINT, false, "down maint #admin: maint", __LINE__ },
	{ R, SD, LD, S_STANDBY_LAG_OVER, true, "down drain #shutdown", __LINE__ },
	{ R, SD, LR, S_STANDBY_LAG_OVER_DRAIN, false, "up drain #admin: upgrade", __LINE__ },
	{ R, SD, LR, S_STANDBY_LAG_OVER, true, "up drain #pg: lag 17825792 bytes 0 ms", __LINE__ },
	/* lag_answer is for the reader only */
	{ W, SD, LD, S_STANDBY_LAG_OVER, false, "down ready #pg: standby", __LINE__ },
	{ A, SD, LD, S_STANDBY_LAG_OVER, false, "down ready #pg: standby", __LINE__ },
	/* app */
	{ A, SD, LR, S_PRIMARY, false, "up ready 100%", __LINE__ },
	{ A, SD, LR, S_STANDBY, false, "down ready #pg: standby", __LINE__ },
	{ A, SM, LR, S_STANDBY, false, "down maint #pg: standby", __LINE__ },
	{ A, SD, LR, S_APP_DOWN, false, "fail ready #app: HTTP 502", __LINE__ },
	{ A, SD, LR, S_NGINX_DOWN, false, "fail ready #nginx: connection refused", __LINE__ },
	{ A, SD, LR, S_PG_DOWN, false, "fail ready #pg: query timeout after 1000 ms", __LINE__ },
	{ A, SD, LR, S_FENCED, false, "down ready #fenced: db2 is primary on timeline 3",
	  __LINE__ },
	{ A, SD, LR, S_NO_PG, false, "up ready 100%", __LINE__ },
	{ A, SD, LR, S_DRAIN, false, "up drain 100% #admin: upgrade", __LINE__ },
	{ A, SD, LR, S_MAINT, false, "up maint 100% #admin: maint", __LINE__ },
	{ A, SD, LR, S_PRIMARY, true, "up drain 100% #shutdown", __LINE__ },
};

static void test_check_eval_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		const struct check_vec *v = &vecs[i];
		struct check_conf c = conf(v->kind, v->sa);
		struct node_state ns;
		char line[NS_CHECK_LINE_MAX];
		int n;

		c.lag_answer = v->la;
		build(v->sit, &ns);
		n = check_eval(&c, &ns, v->shutdown, line, sizeof(line));
		if (n < 0 || strcmp(line, v->expected) != 0)
			fail_msg("vector at line %d: expected \"%s\", got \"%s\"", v->line,
			         v->expected, n < 0 ? "(error)" : line);
	}
}

/* Every line carries a state word and an admin word, first and second. */
static void test_check_eval_always_two_words(void **state)
{
	static const char *const states[] = { "up ", "down ", "fail ", "stopped " };
	static const char *const admins[] = { "ready", "drain", "maint" };

	(void)state;
	for (int kind = 0; kind < CHECK_KIND_COUNT; kind++) {
		for (int sit = S_PRIMARY; sit <= S_STANDBY_LAG_OVER_MAINT; sit++) {
			for (int sd = 0; sd < 4; sd++) {
				struct check_conf c =
				    conf((enum check_kind)kind, CHECK_STANDBY_DOWN);
				struct node_state ns;
				char line[NS_CHECK_LINE_MAX];
				const char *p = NULL;
				bool ok = false;

				c.lag_answer = sd < 2 ? CHECK_LAG_DRAIN : CHECK_LAG_DOWN;
				build((enum sit)sit, &ns);
				assert_true(check_eval(&c, &ns, sd % 2 == 1, line, sizeof(line)) >
				            0);
				for (size_t i = 0; i < 4 && p == NULL; i++) {
					if (strncmp(line, states[i], strlen(states[i])) == 0)
						p = line + strlen(states[i]);
				}
				assert_non_null(p);
				for (size_t i = 0; i < 3; i++)
					ok |= strncmp(p, admins[i], strlen(admins[i])) == 0;
				if (!ok)
					fail_msg("kind %d sit %d: no admin word in \"%s\"", kind,
					         sit, line);
				assert_null(strchr(line, '\n'));
			}
		}
	}
}

struct weight_vec {
	uint64_t lag_bytes; /* input */
	uint64_t lag_ms;    /* input */
	int weight;         /* expected */
	bool over;          /* expected */
	int line;           /* __LINE__ */
};

static void test_check_reader_weight_vectors(void **state)
{
	static const struct weight_vec v[] = {
		{ 0, 0, 100, false, __LINE__ },
		{ 1u << 20, 0, 94, false, __LINE__ },  /* 1/16: 100 - 90/16 = 94.4 */
		{ 4u << 20, 0, 78, false, __LINE__ },  /* 1/4 */
		{ 8u << 20, 0, 55, false, __LINE__ },  /* 1/2 */
		{ 16u << 20, 0, 10, false, __LINE__ }, /* exactly max: min_weight, not over */
		{ (16u << 20) + 1, 0, 10, true, __LINE__ },
		{ 0, 5000, 55, false, __LINE__ },        /* time fraction 1/2 */
		{ 4u << 20, 7500, 33, false, __LINE__ }, /* the larger fraction (3/4) wins */
		{ 0, 10001, 10, true, __LINE__ },
		{ UINT64_MAX, UINT64_MAX, 10, true, __LINE__ },
	};
	struct check_conf c = conf(CHECK_KIND_READER, CHECK_STANDBY_DOWN);

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		bool over = !v[i].over;
		int w = check_reader_weight(&c, v[i].lag_bytes, v[i].lag_ms, &over);

		if (w != v[i].weight || over != v[i].over)
			fail_msg("vector at line %d: expected %d%s, got %d%s", v[i].line,
			         v[i].weight, v[i].over ? " over" : "", w, over ? " over" : "");
	}
}

/* With both limits off (0), lag never drains and the weight stays at <weight>. */
static void test_check_reader_weight_limits_off(void **state)
{
	struct check_conf c = conf(CHECK_KIND_READER, CHECK_STANDBY_DOWN);
	bool over = true;

	(void)state;
	c.max_lag = 0;
	c.max_lag_time = 0;
	assert_int_equal(check_reader_weight(&c, 1ull << 40, 1000000, &over), 100);
	assert_false(over);
}

static void test_check_eval_maxconn(void **state)
{
	struct check_conf c = conf(CHECK_KIND_WRITER, CHECK_STANDBY_DOWN);
	struct node_state ns;
	char line[NS_CHECK_LINE_MAX];

	(void)state;
	c.maxconn = 50;
	build(S_PRIMARY, &ns);
	assert_true(check_eval(&c, &ns, false, line, sizeof(line)) > 0);
	assert_string_equal(line, "up ready 100% maxconn:50");
	build(S_STANDBY, &ns);
	assert_true(check_eval(&c, &ns, false, line, sizeof(line)) > 0);
	assert_string_equal(line, "down ready #pg: standby");
}

/* follow = db1 on an app node: up only while the view names db1 the writer; the app probes
 * still count; no view at all fails; standby_answer and the admin state apply. */
static void test_check_eval_follow(void **state)
{
	struct check_conf c = conf(CHECK_KIND_APP, CHECK_STANDBY_DOWN);
	struct check_view w1 = { "db1", "ok" };
	struct check_view w2 = { "db2", "ok" };
	struct check_view none = { "", "split-brain" };
	struct node_state ns;
	char line[NS_CHECK_LINE_MAX];

	(void)state;
	strcpy(c.follow, "db1");
	build(S_NO_PG, &ns);
	assert_true(check_eval_view(&c, &ns, &w1, false, line, sizeof(line)) > 0);
	assert_string_equal(line, "up ready 100%");
	assert_true(check_eval_view(&c, &ns, &w2, false, line, sizeof(line)) > 0);
	assert_string_equal(line, "down ready #follow: db1 is not the writer (writer db2)");
	assert_true(check_eval_view(&c, &ns, &none, false, line, sizeof(line)) > 0);
	assert_string_equal(line, "down ready #follow: db1 is not the writer (split-brain)");
	assert_true(check_eval_view(&c, &ns, NULL, false, line, sizeof(line)) > 0);
	assert_string_equal(line, "fail ready #follow db1: no view of the cluster");
	assert_true(check_eval(&c, &ns, false, line, sizeof(line)) > 0);
	assert_string_equal(line, "fail ready #follow db1: no view of the cluster");
	c.standby_answer = CHECK_STANDBY_MAINT;
	assert_true(check_eval_view(&c, &ns, &w2, false, line, sizeof(line)) > 0);
	assert_true(strncmp(line, "down maint #follow", 18) == 0);
	c.standby_answer = CHECK_STANDBY_DOWN;
	/* a local standby PostgreSQL does not matter: the followed node does */
	build(S_STANDBY, &ns);
	assert_true(check_eval_view(&c, &ns, &w1, false, line, sizeof(line)) > 0);
	assert_string_equal(line, "up ready 100%");
	build(S_APP_DOWN, &ns);
	assert_true(check_eval_view(&c, &ns, &w1, false, line, sizeof(line)) > 0);
	assert_true(strncmp(line, "fail ready #app:", 16) == 0);
	build(S_DRAIN, &ns);
	assert_true(check_eval_view(&c, &ns, &w1, false, line, sizeof(line)) > 0);
	assert_true(strncmp(line, "up drain 100%", 13) == 0);
}

static void test_check_eval_bad_kind(void **state)
{
	struct check_conf c = conf(CHECK_KIND_WRITER, CHECK_STANDBY_DOWN);
	struct node_state ns;
	char line[NS_CHECK_LINE_MAX];

	(void)state;
	c.kind = CHECK_KIND_COUNT;
	build(S_PRIMARY, &ns);
	assert_int_equal(check_eval(&c, &ns, false, line, sizeof(line)), -1);
	assert_int_equal(errno, EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_eval_vectors),
		cmocka_unit_test(test_check_eval_always_two_words),
		cmocka_unit_test(test_check_reader_weight_vectors),
		cmocka_unit_test(test_check_reader_weight_limits_off),
		cmocka_unit_test(test_check_eval_maxconn),
		cmocka_unit_test(test_check_eval_bad_kind),
		cmocka_unit_test(test_check_eval_follow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
