/* tests/unit/test_push.c - push mode's plan (spoe/push.c push_plan()): what each server of the
 * writer and reader backends must be for a routing decision. The steps themselves (old writer
 * out, read back, new writer in) run against real HAProxy in tests/integration/test_push.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <ev.h>

#include "common/compiler.h"
#include "spoe/cluster_view.h"
#include "spoe/push.h"
#include "spoe/spoa_conf.h"

static const char conf_text[] = "[cluster main]\n"
                                "[node db1]\ncluster = main\nagent = 127.0.0.1:5555\n"
                                "[node db2]\ncluster = main\nagent = 127.0.0.2:5555\n"
                                "server = pg2\n"
                                "[haproxy h1]\nruntime_api = /run/h.sock\ncluster = main\n"
                                "writer_backend = pg_write\nreader_backend = pg_read\n";

static struct spoa_conf conf;

static void want(const struct push_plan *p, const char *backend, const char *server,
                 enum push_want w)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->s[i].backend, backend) == 0 && strcmp(p->s[i].server, server) == 0) {
			if (p->s[i].want != w)
				fail_msg("%s/%s: want %s, plan says %s", backend, server,
				         push_want_name(w), push_want_name(p->s[i].want));
			return;
		}
	fail_msg("%s/%s not in the plan", backend, server);
}

static void test_push_plan_follows_the_decision(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct cluster_view cv;
	struct push_plan p;
	char err[256] = "";

	(void)state;
	assert_int_equal(spoa_conf_load_string("t.conf", conf_text, &conf, err, sizeof(err)), 0);
	assert_int_equal(cv_init(&cv, loop, &conf, NULL, NULL, err, sizeof(err)), 0);

	/* writer db1, reader pg2 (db2's server name) */
	snprintf(cv.clusters[0].writer, sizeof(cv.clusters[0].writer), "db1");
	snprintf(cv.clusters[0].reader, sizeof(cv.clusters[0].reader), "pg2");
	assert_int_equal(push_plan(&conf.haproxies[0], &cv, 0, &p, err, sizeof(err)), 0);
	assert_int_equal(p.n, 4);
	want(&p, "pg_write", "db1", PUSH_WANT_READY);
	want(&p, "pg_write", "pg2", PUSH_WANT_MAINT);
	want(&p, "pg_read", "pg2", PUSH_WANT_READY);
	want(&p, "pg_read", "db1", PUSH_WANT_DRAIN);

	/* promotion: pg2 writes, db1 is out of the writer backend */
	snprintf(cv.clusters[0].writer, sizeof(cv.clusters[0].writer), "pg2");
	snprintf(cv.clusters[0].reader, sizeof(cv.clusters[0].reader), "pg2");
	assert_int_equal(push_plan(&conf.haproxies[0], &cv, 0, &p, err, sizeof(err)), 0);
	want(&p, "pg_write", "pg2", PUSH_WANT_READY);
	want(&p, "pg_write", "db1", PUSH_WANT_MAINT);

	/* no writer (split brain, stale, no primary): every writer server out, fail closed */
	cv.clusters[0].writer[0] = '\0';
	cv.clusters[0].reader[0] = '\0';
	assert_int_equal(push_plan(&conf.haproxies[0], &cv, 0, &p, err, sizeof(err)), 0);
	want(&p, "pg_write", "db1", PUSH_WANT_MAINT);
	want(&p, "pg_write", "pg2", PUSH_WANT_MAINT);
	want(&p, "pg_read", "db1", PUSH_WANT_DRAIN);
	want(&p, "pg_read", "pg2", PUSH_WANT_DRAIN);

	cv_free(&cv);
	ev_loop_destroy(loop);
}

static void test_push_plan_no_reader_backend(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct cluster_view cv;
	struct push_plan p;
	char err[256] = "";

	(void)state;
	assert_int_equal(spoa_conf_load_string("t.conf", conf_text, &conf, err, sizeof(err)), 0);
	conf.haproxies[0].reader_backend[0] = '\0';
	assert_int_equal(cv_init(&cv, loop, &conf, NULL, NULL, err, sizeof(err)), 0);
	snprintf(cv.clusters[0].writer, sizeof(cv.clusters[0].writer), "db1");
	assert_int_equal(push_plan(&conf.haproxies[0], &cv, 0, &p, err, sizeof(err)), 0);
	assert_int_equal(p.n, 2);
	want(&p, "pg_write", "db1", PUSH_WANT_READY);
	want(&p, "pg_write", "pg2", PUSH_WANT_MAINT);
	cv_free(&cv);
	ev_loop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_push_plan_follows_the_decision),
		cmocka_unit_test(test_push_plan_no_reader_backend),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
