/* tests/unit/test_spoa_reload.c - haprole-spoa's SIGHUP reload is all or nothing (issue 12): a
 * file that does not load, or a new cluster view that cannot be built, leaves the running
 * config, view and routing snapshot in force, and says why.
 *
 * The loop never runs: spoa_reload() is synchronous. feed_sub_init() is wrapped (-Wl,--wrap, see
 * the Makefile) so that building the new view fails after the new config loaded and validated.
 * Addresses 127.0.43.1 (listeners on ports the kernel picks: several checkouts may run the unit
 * tests at once) and 127.0.43.2 (agents nobody serves, ports 32510-32519): feeds just fail,
 * nodes stay stale. */
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

#include "common/compiler.h"
#include "common/feed_sub.h"
#include "common/log.h"
#include "spoe/spoa.h"
#include "spoe/spoa_conf.h"

int __real_feed_sub_init(struct feed_sub *fs, struct ev_loop *loop, const struct cfg_addr *addr,
                         double heartbeat, feed_sub_cb cb, void *arg);
int __wrap_feed_sub_init(struct feed_sub *fs, struct ev_loop *loop, const struct cfg_addr *addr,
                         double heartbeat, feed_sub_cb cb, void *arg);

static int fail_feed_init_after = -1; /* feed_sub_init() calls to let through, -1 all */

int __wrap_feed_sub_init(struct feed_sub *fs, struct ev_loop *loop, const struct cfg_addr *addr,
                         double heartbeat, feed_sub_cb cb, void *arg)
{
	if (fail_feed_init_after == 0)
		return -1;
	if (fail_feed_init_after > 0)
		fail_feed_init_after--;
	return __real_feed_sub_init(fs, loop, addr, heartbeat, cb, arg);
}

static char logged[4096]; /* error lines logged since the last reset */

static void sink(enum log_level level, const char *line, void *arg)
{
	size_t used = strlen(logged);

	(void)arg;
	if (level == LOG_LVL_ERROR)
		snprintf(logged + used, sizeof(logged) - used, "%s\n", line);
}

static const char conf_two[] = "[spoa]\n"
                               "listen = 127.0.43.1:0\n"
                               "status_listen = 127.0.43.1:0\n"
                               "[cluster main]\n"
                               "[node db1]\n"
                               "cluster = main\n"
                               "agent = 127.0.43.2:32510\n"
                               "[node db2]\n"
                               "cluster = main\n"
                               "agent = 127.0.43.2:32511\n";

/* Same listeners, one more node: a reload that rebuilds the view. */
static const char conf_three[] = "[spoa]\n"
                                 "listen = 127.0.43.1:0\n"
                                 "status_listen = 127.0.43.1:0\n"
                                 "[cluster main]\n"
                                 "[node db1]\n"
                                 "cluster = main\n"
                                 "agent = 127.0.43.2:32510\n"
                                 "[node db2]\n"
                                 "cluster = main\n"
                                 "agent = 127.0.43.2:32511\n"
                                 "[node db3]\n"
                                 "cluster = main\n"
                                 "agent = 127.0.43.2:32512\n";

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

struct fixture {
	struct ev_loop *loop;
	struct spoa s;
	char path[64];
};

static int setup(void **state)
{
	static struct fixture fx;
	struct spoa_conf *conf = malloc(sizeof(*conf));
	char err[HR_ERR_LEN];

	log_init("test", LOG_TO_CALLBACK, LOG_LVL_INFO);
	log_set_sink(sink, NULL);
	memset(&fx, 0, sizeof(fx));
	fx.loop = ev_default_loop(0);
	snprintf(fx.path, sizeof(fx.path), "/tmp/hr-test-spoa-reload.%d.conf", (int)getpid());
	write_file(fx.path, conf_two);
	assert_non_null(conf);
	assert_int_equal(spoa_conf_load(fx.path, conf, err, sizeof(err)), 0);
	fail_feed_init_after = -1;
	if (spoa_init(&fx.s, fx.loop, conf, err, sizeof(err)) < 0)
		fail_msg("spoa_init: %s", err);
	*state = &fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	spoa_free(&fx->s);
	unlink(fx->path);
	return 0;
}

/* What must not move when a reload is refused. */
struct snapshot {
	const struct spoa_conf *conf;
	const struct route_table *route;
	uint64_t route_version;
	size_t n_nodes;
	const struct cv_node *nodes;
	uint64_t epoch;
};

static void snap(const struct spoa *s, struct snapshot *out)
{
	out->conf = s->conf;
	out->route = s->route;
	out->route_version = s->route->version;
	out->n_nodes = s->cv.n_nodes;
	out->nodes = s->cv.nodes;
	out->epoch = s->cv.clusters[0].epoch;
}

static void assert_unchanged(const struct spoa *s, const struct snapshot *b)
{
	size_t i;

	assert_true(s->cv_ready);
	assert_ptr_equal(s->conf, b->conf);
	assert_ptr_equal(s->route, b->route);
	assert_int_equal(s->route->version, b->route_version);
	assert_non_null(route_find(s->route, (const uint8_t *)"main", 4));
	assert_int_equal(s->cv.n_nodes, b->n_nodes);
	assert_ptr_equal(s->cv.nodes, b->nodes);
	assert_int_equal(s->cv.clusters[0].n_nodes, b->n_nodes);
	assert_int_equal(s->cv.clusters[0].epoch, b->epoch);
	for (i = 0; i < s->cv.n_nodes; i++)
		assert_ptr_equal(s->cv.nodes[i].cv, &s->cv);
}

/* A file with an error: refused with FILE:LINE, nothing changes. */
static void test_spoa_reload_broken_file_keeps_all(void **state)
{
	struct fixture *fx = *state;
	struct snapshot b;
	char want[128];

	snap(&fx->s, &b);
	write_file(fx->path, "[spoa]\nlisten = 127.0.43.1:0\n[cluster main]\nmax_lag = lots\n");
	logged[0] = '\0';
	assert_int_equal(spoa_reload(&fx->s, fx->path), -1);
	assert_int_equal(fx->s.stats.reload_failures, 1);
	assert_int_equal(fx->s.stats.reloads, 0);
	snprintf(want, sizeof(want), "%s:4: key 'max_lag'", fx->path);
	if (strstr(logged, want) == NULL || strstr(logged, "reload refused") == NULL)
		fail_msg("log does not say why with file:line: %s", logged);
	assert_unchanged(&fx->s, &b);
}

/* A valid file whose new view cannot be built: refused, the old view keeps routing. */
static void test_spoa_reload_view_failure_keeps_all(void **state)
{
	struct fixture *fx = *state;
	struct snapshot b;

	snap(&fx->s, &b);
	write_file(fx->path, conf_three);
	fail_feed_init_after = 2; /* the third node's feed cannot be set up */
	logged[0] = '\0';
	assert_int_equal(spoa_reload(&fx->s, fx->path), -1);
	fail_feed_init_after = -1;
	assert_int_equal(fx->s.stats.reload_failures, 1);
	if (strstr(logged, "keeping the running config and view") == NULL ||
	    strstr(logged, "db3") == NULL)
		fail_msg("log does not say why: %s", logged);
	assert_unchanged(&fx->s, &b);

	/* the same file once the view can be built: swapped whole, epochs kept */
	assert_int_equal(spoa_reload(&fx->s, fx->path), 0);
	assert_int_equal(fx->s.stats.reloads, 1);
	assert_ptr_not_equal(fx->s.conf, b.conf);
	assert_int_equal(fx->s.cv.n_nodes, 3);
	assert_int_equal(fx->s.cv.clusters[0].n_nodes, 3);
	assert_true(fx->s.cv.clusters[0].epoch >= b.epoch);
	assert_string_equal(fx->s.cv.nodes[2].name, "db3");
	assert_ptr_equal(fx->s.cv.nodes[2].cv, &fx->s.cv);
	assert_non_null(route_find(fx->s.route, (const uint8_t *)"main", 4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_spoa_reload_broken_file_keeps_all, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_spoa_reload_view_failure_keeps_all, setup,
		                                teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
