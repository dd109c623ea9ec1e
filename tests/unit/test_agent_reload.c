/* tests/unit/test_agent_reload.c - haprole-agent's SIGHUP reload is all or nothing, and its
 * agent port listens only once every probe has a first result (agent/agent.h).
 *
 * The reload tests never run the loop: agent_reload() is synchronous. fence_start() and
 * hp_init() are wrapped (-Wl,--wrap, see the Makefile) so that a reload can be made to fail at
 * its last preparing step, after the config loaded and validated and after other parts (a new
 * [postgres] probe, new peers) were prepared: the running config must stay fully in force.
 * Addresses 127.0.11.60-61, ports 21600-21619 (nothing listens there: probes fail fast). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "agent/agent.h"
#include "common/compiler.h"
#include "common/log.h"

/* ---- wrapped functions ---------------------------------------------------------------- */

int __real_fence_start(struct fence *f, struct ev_loop *loop, const struct fence_peer_conf *peers,
                       size_t n_peers, double heartbeat, const struct fence_ops *ops, char *err,
                       size_t errlen);
int __wrap_fence_start(struct fence *f, struct ev_loop *loop, const struct fence_peer_conf *peers,
                       size_t n_peers, double heartbeat, const struct fence_ops *ops, char *err,
                       size_t errlen);
int __real_hp_init(struct http_probe *p, struct ev_loop *loop, const struct hp_conf *conf,
                   hp_change_cb cb, void *arg, char *err, size_t errlen);
int __wrap_hp_init(struct http_probe *p, struct ev_loop *loop, const struct hp_conf *conf,
                   hp_change_cb cb, void *arg, char *err, size_t errlen);

static bool fail_fence_start; /* the next fence_start() fails */
static bool fail_hp_init;     /* the next hp_init() fails */

int __wrap_fence_start(struct fence *f, struct ev_loop *loop, const struct fence_peer_conf *peers,
                       size_t n_peers, double heartbeat, const struct fence_ops *ops, char *err,
                       size_t errlen)
{
	if (fail_fence_start) {
		fail_fence_start = false;
		memset(f, 0, sizeof(*f));
		snprintf(err, errlen, "fence: injected failure");
		return -1;
	}
	return __real_fence_start(f, loop, peers, n_peers, heartbeat, ops, err, errlen);
}

int __wrap_hp_init(struct http_probe *p, struct ev_loop *loop, const struct hp_conf *conf,
                   hp_change_cb cb, void *arg, char *err, size_t errlen)
{
	if (fail_hp_init) {
		fail_hp_init = false;
		memset(p, 0, sizeof(*p));
		snprintf(err, errlen, "injected hp_init failure");
		return -1;
	}
	return __real_hp_init(p, loop, conf, cb, arg, err, errlen);
}

/* ---- log sink: every line is formatted (debug), errors are counted ---------------------- */

static int log_errors;              /* error lines since the last fixture_start() */
static char log_last_error[1024];   /* the last one */
static char log_last_warning[1024]; /* the last warning line */

static void log_sink(enum log_level level, const char *line, void *arg)
{
	(void)arg;
	if (level == LOG_LVL_WARNING)
		snprintf(log_last_warning, sizeof(log_last_warning), "%s", line);
	if (level != LOG_LVL_ERROR)
		return;
	log_errors++;
	snprintf(log_last_error, sizeof(log_last_error), "%s", line);
}

/* ---- fixture -------------------------------------------------------------------------- */

/* The running config: postgres, a tcp app probe, one writer check, one peer. */
static const char conf_a[] = "[agent]\n"
                             "node = n1\n"
                             "listen = 127.0.11.60:21600\n"
                             "admin_socket =\n"
                             "state_file =\n"
                             "log_level = error\n"
                             "[postgres]\n"
                             "conninfo = hostaddr=127.0.11.60 port=21601 user=postgres\n"
                             "interval = 100ms\n"
                             "[tcp app]\n"
                             "addr = 127.0.11.60:21602\n"
                             "[check writer]\n"
                             "kind = writer\n"
                             "weight = 100\n"
                             "[peer p1]\n"
                             "address = 127.0.11.61:21603\n";

/* Changes every part: postgres, app, a new nginx probe, checks, peers. */
static const char conf_b[] = "[agent]\n"
                             "node = n1\n"
                             "listen = 127.0.11.60:21600\n"
                             "admin_socket =\n"
                             "state_file =\n"
                             "log_level = error\n"
                             "[postgres]\n"
                             "conninfo = hostaddr=127.0.11.60 port=21611 user=postgres\n"
                             "interval = 200ms\n"
                             "[tcp app]\n"
                             "addr = 127.0.11.60:21612\n"
                             "[tcp nginx]\n"
                             "addr = 127.0.11.60:21613\n"
                             "[check writer]\n"
                             "kind = writer\n"
                             "weight = 50\n"
                             "[check reader]\n"
                             "kind = reader\n"
                             "[peer p1]\n"
                             "address = 127.0.11.61:21603\n"
                             "[peer p2]\n"
                             "address = 127.0.11.61:21614\n";

/* No [postgres] (conf_b's postgres then appears on reload), one peer. */
static const char conf_nopg[] = "[agent]\n"
                                "node = n1\n"
                                "listen = 127.0.11.60:21600\n"
                                "admin_socket =\n"
                                "state_file =\n"
                                "log_level = error\n"
                                "[tcp app]\n"
                                "addr = 127.0.11.60:21602\n"
                                "[check writer]\n"
                                "kind = writer\n"
                                "weight = 100\n"
                                "[peer p1]\n"
                                "address = 127.0.11.61:21603\n";

struct fixture {
	char dir[64];          /* mkdtemp */
	char path[128];        /* the config file, rewritten per step */
	struct ev_loop *loop;  /* own loop */
	struct agent a;        /* under test */
	struct agent_conf *c0; /* the running config at start (pointer identity) */
	struct fence *f0;      /* the running fence at start */
};

static void write_conf(struct fixture *fx, const char *text)
{
	FILE *f = fopen(fx->path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void fixture_start(struct fixture *fx, const char *text)
{
	struct agent_conf *c = malloc(sizeof(*c));
	char err[HR_ERR_LEN] = "";

	memset(fx, 0, sizeof(*fx));
	log_errors = 0;
	log_last_error[0] = '\0';
	log_last_warning[0] = '\0';
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_agent_reload.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/agent.conf", fx->dir);
	write_conf(fx, text);
	assert_non_null(c);
	if (agent_conf_load(c, fx->path, err, sizeof(err)) == -1)
		fail_msg("config: %s", err);
	fx->loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(fx->loop);
	if (agent_init(&fx->a, fx->loop, c, err, sizeof(err)) == -1)
		fail_msg("agent_init: %s", err);
	if (agent_start(&fx->a, err, sizeof(err)) == -1)
		fail_msg("agent_start: %s", err);
	fx->c0 = fx->a.conf;
	fx->f0 = fx->a.fence;
}

static void fixture_stop(struct fixture *fx)
{
	agent_free(&fx->a);
	ev_loop_destroy(fx->loop);
	unlink(fx->path);
	rmdir(fx->dir);
	fail_fence_start = false;
	fail_hp_init = false;
}

/* Asserts that conf_a runs, untouched, as at fixture_start(). */
static void assert_conf_a_in_force(const struct fixture *fx)
{
	const struct agent *a = &fx->a;

	assert_ptr_equal(a->conf, fx->c0);
	assert_int_equal(a->conf->n_checks, 1);
	assert_int_equal(a->conf->checks[0].weight, 100);
	assert_true(a->probes[PS_PG].on);
	assert_string_equal(a->probes[PS_PG].u.pg.conf.conninfo,
	                    "hostaddr=127.0.11.60 port=21601 user=postgres");
	assert_true(a->probes[PS_PG].u.pg.conf.interval == 0.1);
	assert_true(a->probes[PS_APP].on);
	assert_string_equal(a->probes[PS_APP].u.hp.conf.addr.text, "127.0.11.60:21602");
	assert_false(a->probes[PS_NGINX].on);
	assert_ptr_equal(a->fence, fx->f0);
	assert_true(a->fence->started);
	assert_int_equal(a->fence->n_peers, 1);
	assert_int_equal(a->ns.n_checks, 1);
	assert_int_equal(a->stats.reloads, 0);
}

static void on_bound(struct ev_loop *loop, ev_timer *w, int revents);

/* ---- reload tests --------------------------------------------------------------------- */

static void test_agent_reload_applies_everything(void **state)
{
	struct fixture fx;

	(void)state;
	fixture_start(&fx, conf_a);
	write_conf(&fx, conf_b);
	assert_int_equal(agent_reload(&fx.a, fx.path), 0);
	assert_int_equal(fx.a.stats.reloads, 1);
	assert_int_equal(fx.a.conf->n_checks, 2);
	assert_int_equal(fx.a.conf->checks[0].weight, 50);
	assert_string_equal(fx.a.probes[PS_PG].u.pg.conf.conninfo,
	                    "hostaddr=127.0.11.60 port=21611 user=postgres");
	assert_true(fx.a.probes[PS_PG].u.pg.conf.interval == 0.2);
	assert_string_equal(fx.a.probes[PS_APP].u.hp.conf.addr.text, "127.0.11.60:21612");
	assert_true(fx.a.probes[PS_NGINX].on);
	assert_int_not_equal(fx.a.probes[PS_NGINX].u.hp.state, HP_ST_STOPPED);
	assert_int_equal(fx.a.fence->n_peers, 2);
	assert_true(fx.a.fence->started);
	assert_int_equal(fx.a.ns.n_checks, 2);
	fixture_stop(&fx);
}

static void test_agent_reload_fence_failure_keeps_all(void **state)
{
	struct fixture fx;

	(void)state;
	fixture_start(&fx, conf_a);
	write_conf(&fx, conf_b);
	fail_fence_start = true; /* the last step: after the new nginx probe was prepared */
	assert_int_equal(agent_reload(&fx.a, fx.path), -1);
	assert_false(fail_fence_start);
	assert_int_equal(fx.a.stats.reload_failures, 1);
	assert_int_equal(log_errors, 1);
	assert_non_null(
	    strstr(log_last_error, "reload: [peer]: fence: injected failure; running config kept"));
	assert_conf_a_in_force(&fx);
	/* and a later good reload still works from there */
	assert_int_equal(agent_reload(&fx.a, fx.path), 0);
	assert_int_equal(fx.a.fence->n_peers, 2);
	assert_true(fx.a.probes[PS_NGINX].on);
	fixture_stop(&fx);
}

static void test_agent_reload_probe_failure_keeps_all(void **state)
{
	struct fixture fx;

	(void)state;
	fixture_start(&fx, conf_a);
	write_conf(&fx, conf_b);
	fail_hp_init = true; /* the new [tcp nginx] cannot be set up */
	assert_int_equal(agent_reload(&fx.a, fx.path), -1);
	assert_false(fail_hp_init);
	assert_int_equal(fx.a.stats.reload_failures, 1);
	assert_int_equal(log_errors, 1);
	assert_non_null(strstr(log_last_error, "reload: [tcp nginx]: injected hp_init failure"));
	assert_conf_a_in_force(&fx);
	fixture_stop(&fx);
}

static void test_agent_reload_new_pg_not_kept_on_failure(void **state)
{
	struct fixture fx;

	(void)state;
	fixture_start(&fx, conf_nopg);
	assert_false(fx.a.probes[PS_PG].on);
	write_conf(&fx, conf_b);
	fail_fence_start = true; /* after the new [postgres] probe was initialised */
	assert_int_equal(agent_reload(&fx.a, fx.path), -1);
	assert_false(fx.a.probes[PS_PG].on);
	assert_int_equal(fx.a.probes[PS_PG].u.pg.state, PGP_ST_STOPPED);
	assert_ptr_equal(fx.a.conf, fx.c0);
	assert_ptr_equal(fx.a.fence, fx.f0);
	assert_int_equal(fx.a.fence->n_peers, 1);
	assert_false(fx.a.ns.pg.present);
	fixture_stop(&fx);
}

static void test_agent_reload_bad_file_keeps_all(void **state)
{
	struct fixture fx;

	(void)state;
	fixture_start(&fx, conf_a);
	write_conf(&fx, "[agent]\nnode = n1\nheartbeat = 2d\n");
	assert_int_equal(agent_reload(&fx.a, fx.path), -1);
	assert_conf_a_in_force(&fx);
	fixture_stop(&fx);
}

/* A probe the reload added counts as absent until its first result: the writer keeps its
 * "no postgres probe" answer rather than a "fail ... not probed yet". */
static void test_agent_reload_new_probe_pending(void **state)
{
	struct fixture fx;
	const char *before = "down ready #pg: no postgres probe on this node";
	ev_timer bound;

	(void)state;
	fixture_start(&fx, conf_nopg);
	assert_string_equal(fx.a.ns.checks[0].line, before);
	write_conf(&fx, conf_b);
	assert_int_equal(agent_reload(&fx.a, fx.path), 0);
	assert_true(fx.a.probes[PS_PG].on);
	if (!fx.a.probes[PS_PG].u.pg.rf.known) {
		assert_true(fx.a.probes[PS_PG].pending);
		assert_false(fx.a.ns.pg.present);
		assert_string_equal(fx.a.ns.checks[0].line, before);
	}
	/* nothing listens at the new conninfo: the first result is a failure, shown at once */
	ev_timer_init(&bound, on_bound, 2.0, 0);
	ev_timer_start(fx.loop, &bound);
	while (!fx.a.probes[PS_PG].u.pg.rf.known && ev_is_active(&bound))
		ev_run(fx.loop, EVRUN_ONCE);
	ev_timer_stop(fx.loop, &bound);
	assert_true(fx.a.probes[PS_PG].u.pg.rf.known);
	assert_false(fx.a.probes[PS_PG].pending);
	assert_true(fx.a.ns.pg.present);
	assert_int_equal(strncmp(fx.a.ns.checks[0].line, "fail ready #pg: ", 16), 0);
	assert_null(strstr(fx.a.ns.checks[0].line, "not probed yet"));
	fixture_stop(&fx);
}

/* ---- start gate ----------------------------------------------------------------------- */

static void on_bound(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* Whether a TCP connect to 127.0.11.60:21600 succeeds now. */
static bool port_accepts(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(21600) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok;

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(0x7f000b3c); /* 127.0.11.60 */
	ok = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	close(fd);
	return ok;
}

static void test_agent_start_listens_after_first_results(void **state)
{
	struct fixture fx;
	ev_timer bound;

	(void)state;
	fixture_start(&fx, conf_a);
	/* bound, not listening: refused, which HAProxy does not count against the server */
	assert_false(fx.a.serving);
	assert_false(agent_settled(&fx.a));
	assert_false(port_accepts());
	/* pg 1 s + 1 s; the peer's feed: connect 1.5 s + 3 heartbeats 1.5 s; + margin */
	assert_true(agent_start_wait(&fx.a) > 3.0 && agent_start_wait(&fx.a) < 3.2);
	/* nothing listens at the probes' targets: each fails at once, a first result all the
	 * same; the port opens long before the start wait */
	ev_timer_init(&bound, on_bound, 2.0, 0);
	ev_timer_start(fx.loop, &bound);
	while (!fx.a.serving && ev_is_active(&bound))
		ev_run(fx.loop, EVRUN_ONCE);
	ev_timer_stop(fx.loop, &bound);
	assert_true(fx.a.serving);
	assert_true(agent_settled(&fx.a));
	assert_true(port_accepts());
	assert_string_equal(fx.a.ns.checks[0].name, "writer");
	assert_int_equal(strncmp(fx.a.ns.checks[0].line, "fail ready #pg: ", 16), 0);
	assert_null(strstr(fx.a.ns.checks[0].line, "not probed yet"));
	fixture_stop(&fx);
}

/* A PostgreSQL that accepts TCP and never answers: no first result within the start wait
 * (shortened here), so the port opens anyway and the warning names what is missing. */
static const char conf_silent_pg[] = "[agent]\n"
                                     "node = n1\n"
                                     "listen = 127.0.11.60:21600\n"
                                     "admin_socket =\n"
                                     "state_file =\n"
                                     "[postgres]\n"
                                     "conninfo = hostaddr=127.0.11.60 port=21605 user=postgres\n"
                                     "connect_timeout = 5s\n"
                                     "[check writer]\n"
                                     "kind = writer\n";

static void test_agent_start_wait_opens_anyway(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(21605) };
	int one = 1;
	int silent = socket(AF_INET, SOCK_STREAM, 0);
	struct fixture fx;
	ev_timer bound;

	(void)state;
	assert_true(silent >= 0);
	assert_int_equal(setsockopt(silent, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	sin.sin_addr.s_addr = htonl(0x7f000b3c); /* 127.0.11.60 */
	assert_int_equal(bind(silent, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(silent, 8), 0); /* never accepted: the startup packet hangs */
	fixture_start(&fx, conf_silent_pg);
	assert_true(agent_start_wait(&fx.a) > 5.9); /* connect_timeout 5 s + timeout 1 s */
	/* shorten the wait: the test is about what happens when it passes */
	ev_timer_stop(fx.loop, &fx.a.gate_timer);
	ev_timer_set(&fx.a.gate_timer, 0.1, 0);
	ev_timer_start(fx.loop, &fx.a.gate_timer);
	ev_timer_init(&bound, on_bound, 2.0, 0);
	ev_timer_start(fx.loop, &bound);
	while (!fx.a.serving && ev_is_active(&bound))
		ev_run(fx.loop, EVRUN_ONCE);
	ev_timer_stop(fx.loop, &bound);
	assert_true(fx.a.serving);
	assert_false(agent_settled(&fx.a));
	assert_true(port_accepts());
	assert_non_null(strstr(log_last_warning, "over, no first result from: pg"));
	fixture_stop(&fx);
	close(silent);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_reload_applies_everything),
		cmocka_unit_test(test_agent_reload_fence_failure_keeps_all),
		cmocka_unit_test(test_agent_reload_probe_failure_keeps_all),
		cmocka_unit_test(test_agent_reload_new_pg_not_kept_on_failure),
		cmocka_unit_test(test_agent_reload_bad_file_keeps_all),
		cmocka_unit_test(test_agent_reload_new_probe_pending),
		cmocka_unit_test(test_agent_start_listens_after_first_results),
		cmocka_unit_test(test_agent_start_wait_opens_anyway),
	};

	/* debug: every log line of the agent is formatted (a bad argument crashes here) */
	log_init("test_agent_reload", LOG_TO_CALLBACK, LOG_LVL_DEBUG);
	log_set_sink(log_sink, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
