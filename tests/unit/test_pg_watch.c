/* tests/unit/test_pg_watch.c - inotify on the data directory (agent/pg_watch.c): the names
 * that mean a role or life change call back, others do not, a missing directory says why. */
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
#include <ev.h>

#include "agent/pg_watch.h"

struct seen {
	int calls;     /* callbacks */
	char last[64]; /* last name told */
};

static void on_event(struct pg_watch *w, const char *name, void *arg)
{
	struct seen *s = arg;

	(void)w;
	s->calls++;
	snprintf(s->last, sizeof(s->last), "%s", name);
}

static void touch(const char *dir, const char *name)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
}

static void rm(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(unlink(path), 0);
}

/* Runs the loop until nothing is pending (inotify events are queued by the time the syscall
 * that caused them returned). */
static void drain(struct ev_loop *loop)
{
	for (int i = 0; i < 5; i++)
		ev_run(loop, EVRUN_NOWAIT);
}

static void test_pgw_is_relevant_names(void **state)
{
	(void)state;
	assert_true(pgw_is_relevant("promote"));
	assert_true(pgw_is_relevant("standby.signal"));
	assert_true(pgw_is_relevant("recovery.signal"));
	assert_true(pgw_is_relevant("postmaster.pid"));
	assert_false(pgw_is_relevant("postmaster.opts"));
	assert_false(pgw_is_relevant("promote.tmp"));
	assert_false(pgw_is_relevant(""));
	assert_false(pgw_is_relevant("standby"));
}

static void test_pgw_events_call_back(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	char dir[] = "/tmp/test_pg_watch.XXXXXX";
	char err[256] = "";
	struct pg_watch w;
	struct seen s = { 0 };

	(void)state;
	assert_non_null(mkdtemp(dir));
	touch(dir, "standby.signal");
	pgw_init(&w, loop, on_event, &s);
	assert_int_equal(pgw_start(&w, dir, err, sizeof(err)), 0);

	touch(dir, "base.tmp"); /* irrelevant: no call */
	drain(loop);
	assert_int_equal(s.calls, 0);

	touch(dir, "promote");
	drain(loop);
	assert_int_equal(s.calls, 1);
	assert_string_equal(s.last, "promote");

	rm(dir, "standby.signal");
	drain(loop);
	assert_int_equal(s.calls, 2);
	assert_string_equal(s.last, "standby.signal");
	assert_int_equal(w.events, 2);

	/* stopped: nothing more */
	pgw_stop(&w);
	rm(dir, "promote");
	drain(loop);
	assert_int_equal(s.calls, 2);

	rm(dir, "base.tmp");
	assert_int_equal(rmdir(dir), 0);
	ev_loop_destroy(loop);
}

static void test_pgw_start_missing_dir(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	char err[256] = "";
	struct pg_watch w;
	struct seen s = { 0 };

	(void)state;
	pgw_init(&w, loop, on_event, &s);
	assert_int_equal(pgw_start(&w, "/nonexistent/haprole-pgdata", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/haprole-pgdata"));
	assert_non_null(strstr(err, "No such file"));
	assert_int_equal(w.fd, -1);
	pgw_stop(&w); /* harmless when off */
	ev_loop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pgw_is_relevant_names),
		cmocka_unit_test(test_pgw_events_call_back),
		cmocka_unit_test(test_pgw_start_missing_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
