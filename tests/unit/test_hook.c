/* tests/unit/test_hook.c - the role-change hook (agent/hook.h) with real child processes on
 * libev's default loop: exactly one run per role change (restarts in the same role, probe
 * failures and the first role seen are none), the arguments and environment, changes queued
 * while a hook runs (each once, in order), a hanging hook killed at hook_timeout, and a missing
 * script counted as a failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "agent/hook.h"
#include "common/log.h"

static char dir[64];
static char script[128];
static char out[128];

static int setup(void **state)
{
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/hr-test-hook.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(script, sizeof(script), "%s/hook.sh", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	f = fopen(script, "w");
	if (f == NULL)
		return -1;
	/* one line per run: the arguments, then the environment; "sleep" in the out dir makes
	 * the next run hang */
	fprintf(f,
	        "#!/bin/sh\n"
	        "echo \"$1 $2 $3 $4 $HAPROLE_OLD_ROLE $HAPROLE_NEW_ROLE $HAPROLE_NODE "
	        "$HAPROLE_CLUSTER $HAPROLE_TIMELINE $HAPROLE_CONFIG\" >>%s\n"
	        "[ -e %s/sleep ] && exec sleep 30\n"
	        "exit 0\n",
	        out, dir);
	fclose(f);
	chmod(script, 0755);
	return 0;
}

static int teardown(void **state)
{
	char cmd[160];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct ns_pg pg_of(bool up, enum ns_role role, uint32_t tl)
{
	struct ns_pg pg;

	memset(&pg, 0, sizeof(pg));
	pg.present = true;
	pg.up = up;
	pg.role = up ? role : NS_ROLE_UNKNOWN;
	pg.tl = tl;
	return pg;
}

/* Runs the loop until <h> is idle with nothing queued (bounded: 10 s of loop time). */
static void drain_loop(struct hook *h)
{
	ev_tstamp end = ev_time() + 10;

	while ((h->state != HOOK_ST_IDLE || h->n_queued > 0) && ev_time() < end)
		ev_run(h->loop, EVRUN_ONCE);
	assert_int_equal(h->state, HOOK_ST_IDLE);
}

static size_t count_lines(char lines[][160], size_t max)
{
	FILE *f = fopen(out, "r");
	size_t n = 0;

	if (f == NULL)
		return 0;
	while (n < max && fgets(lines[n], 160, f) != NULL) {
		lines[n][strcspn(lines[n], "\n")] = '\0';
		n++;
	}
	fclose(f);
	return n;
}

static void test_hook_once_per_change(void **state)
{
	struct ev_loop *loop = ev_default_loop(0);
	struct hook h;
	struct ns_pg pg;
	char lines[8][160];

	(void)state;
	unlink(out);
	hook_init(&h, loop, "db2", "main", "/etc/haprole/a.conf");
	pg = pg_of(true, NS_ROLE_STANDBY, 1); /* first role seen: no change */
	hook_role_seen(&h, &pg, script, 5);
	hook_role_seen(&h, &pg, script, 5);    /* same again */
	pg = pg_of(false, NS_ROLE_UNKNOWN, 0); /* PostgreSQL restarts */
	hook_role_seen(&h, &pg, script, 5);
	pg = pg_of(true, NS_ROLE_STANDBY, 1);
	hook_role_seen(&h, &pg, script, 5);
	drain_loop(&h);
	assert_int_equal(count_lines(lines, 8), 0);
	assert_int_equal(h.runs, 0);
	pg = pg_of(true, NS_ROLE_PRIMARY, 2); /* promoted */
	hook_role_seen(&h, &pg, script, 5);
	hook_role_seen(&h, &pg, script, 5);
	drain_loop(&h);
	hook_role_seen(&h, &pg, script, 5);
	assert_int_equal(count_lines(lines, 8), 1);
	assert_string_equal(lines[0], "standby primary db2 2 standby primary db2 main 2 "
	                              "/etc/haprole/a.conf");
	pg = pg_of(false, NS_ROLE_UNKNOWN, 0); /* killed, then back as a standby */
	hook_role_seen(&h, &pg, script, 5);
	pg = pg_of(true, NS_ROLE_STANDBY, 2);
	hook_role_seen(&h, &pg, script, 5);
	drain_loop(&h);
	assert_int_equal(count_lines(lines, 8), 2);
	assert_string_equal(lines[1], "primary standby db2 2 primary standby db2 main 2 "
	                              "/etc/haprole/a.conf");
	assert_int_equal(h.runs, 2);
	assert_int_equal(h.failures, 0);
	hook_stop(&h);
}

/* Changes while a hook runs wait and run in order, each once; no script configured: nothing. */
static void test_hook_queue(void **state)
{
	struct ev_loop *loop = ev_default_loop(0);
	struct hook h;
	struct ns_pg pg;
	char lines[8][160];

	(void)state;
	unlink(out);
	hook_init(&h, loop, "db1", "main", "x.conf");
	pg = pg_of(true, NS_ROLE_PRIMARY, 1);
	hook_role_seen(&h, &pg, script, 5);
	pg = pg_of(true, NS_ROLE_STANDBY, 1);
	hook_role_seen(&h, &pg, "", 5); /* no hook configured: the role moves on, nothing runs */
	pg = pg_of(true, NS_ROLE_PRIMARY, 2);
	hook_role_seen(&h, &pg, script, 5);
	assert_int_equal(h.state, HOOK_ST_RUNNING);
	pg = pg_of(true, NS_ROLE_STANDBY, 2);
	hook_role_seen(&h, &pg, script, 5);
	pg = pg_of(true, NS_ROLE_PRIMARY, 3);
	hook_role_seen(&h, &pg, script, 5);
	assert_int_equal(h.n_queued, 2);
	drain_loop(&h);
	assert_int_equal(count_lines(lines, 8), 3);
	assert_true(strncmp(lines[0], "standby primary db1 2 ", 22) == 0);
	assert_true(strncmp(lines[1], "primary standby db1 2 ", 22) == 0);
	assert_true(strncmp(lines[2], "standby primary db1 3 ", 22) == 0);
	assert_int_equal(h.runs, 3);
	hook_stop(&h);
}

/* A hanging hook is killed at its timeout, counted as a failure, and the next change runs;
 * a missing script is a failure too. */
static void test_hook_timeout_and_missing(void **state)
{
	struct ev_loop *loop = ev_default_loop(0);
	struct hook h;
	struct ns_pg pg;
	char path[160];
	char lines[8][160];
	FILE *f;

	(void)state;
	unlink(out);
	snprintf(path, sizeof(path), "%s/sleep", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	hook_init(&h, loop, "db1", "main", "x.conf");
	pg = pg_of(true, NS_ROLE_STANDBY, 1);
	hook_role_seen(&h, &pg, script, 0.2);
	pg = pg_of(true, NS_ROLE_PRIMARY, 2);
	hook_role_seen(&h, &pg, script, 0.2);
	drain_loop(&h);
	assert_int_equal(h.runs, 1);
	assert_int_equal(h.failures, 1);
	assert_true(h.killed);
	unlink(path);
	pg = pg_of(true, NS_ROLE_STANDBY, 2);
	hook_role_seen(&h, &pg, script, 5);
	drain_loop(&h);
	assert_int_equal(h.runs, 2);
	assert_int_equal(h.failures, 1);
	assert_int_equal(count_lines(lines, 8), 2);
	snprintf(path, sizeof(path), "%s/nope.sh", dir);
	pg = pg_of(true, NS_ROLE_PRIMARY, 3);
	hook_role_seen(&h, &pg, path, 5);
	drain_loop(&h);
	assert_int_equal(h.runs, 3);
	assert_int_equal(h.failures, 2);
	hook_stop(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hook_once_per_change),
		cmocka_unit_test(test_hook_queue),
		cmocka_unit_test(test_hook_timeout_and_missing),
	};

	log_set_level(LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, setup, teardown);
}
