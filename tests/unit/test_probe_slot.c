/* tests/unit/test_probe_slot.c - the agent's probe slot (agent/probe_slot.h) without sockets:
 * what a slot shows in the node state (absent while off or pending, its own result once it
 * has one), when the start gate waits on it, what it names, and that it initialises, forwards
 * its probe's changes and frees without I/O. Addresses 127.0.72.1, ports 39200-39202 are only
 * written into configs: nothing connects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <ev.h>

#include "agent/agent_conf.h"
#include "agent/probe_slot.h"
#include "common/compiler.h"

static const char conf_text[] = "[agent]\n"
                                "node = n1\n"
                                "listen = 127.0.72.1:39200\n"
                                "admin_socket =\n"
                                "state_file =\n"
                                "[postgres]\n"
                                "conninfo = hostaddr=127.0.72.1 port=39201 user=postgres\n"
                                "timeout = 700ms\n"
                                "connect_timeout = 2s\n"
                                "[tcp app]\n"
                                "addr = 127.0.72.1:39202\n"
                                "timeout = 300ms\n"
                                "[http nginx]\n"
                                "url = http://127.0.72.1:39202/\n"
                                "timeout = 1500ms\n"
                                "[check writer]\n"
                                "kind = writer\n";

static void load_conf(struct agent_conf *c)
{
	char err[256] = "";

	if (agent_conf_load_string(c, "probe_slot.conf", conf_text, err, sizeof(err)) == -1)
		fail_msg("config: %s", err);
}

static void no_cb(void *arg)
{
	(void)arg;
}

/* A slot of <kind> marked on, its probe's result set by hand (no ps_init()). */
static void hand_slot(struct probe_slot *s, enum ps_kind kind, bool on, bool pending, bool known)
{
	ps_setup(s, kind, NULL, no_cb, NULL);
	s->on = on;
	s->pending = pending;
	if (kind == PS_PG) {
		s->u.pg.rf.known = known;
		s->u.pg.pg.present = true;
		s->u.pg.pg.up = true;
		s->u.pg.pg.tl = 9;
		s->u.pg.pg.role = NS_ROLE_PRIMARY;
	} else {
		s->u.hp.rf.known = known;
		s->u.hp.res.present = true;
		s->u.hp.res.up = true;
		s->u.hp.res.ms = 42;
	}
}

/* A state whose probe fields say "before": what a hidden slot must leave alone. */
static void before_state(struct node_state *ns)
{
	memset(ns, 0, sizeof(*ns));
	ns->pg.present = true;
	ns->pg.tl = 7;
	snprintf(ns->pg.err, sizeof(ns->pg.err), "before");
	ns->app.present = true;
	ns->app.ms = 11;
	ns->nginx.present = true;
	ns->nginx.ms = 13;
}

/* Pending (added by a reload, no first result): absent, the rest of the state untouched; the
 * first result shows it and ends <pending> for good. */
static void test_ps_publish_pending_pg(void **state)
{
	struct probe_slot s;
	struct node_state ns;

	(void)state;
	hand_slot(&s, PS_PG, true, true, false);
	before_state(&ns);
	ps_publish(&s, &ns);
	assert_true(s.pending);
	assert_false(ns.pg.present);
	assert_int_equal(ns.pg.tl, 7);
	assert_string_equal(ns.pg.err, "before");
	assert_true(ns.app.present);
	assert_true(ns.nginx.present);

	s.u.pg.rf.known = true; /* first result */
	ps_publish(&s, &ns);
	assert_false(s.pending);
	assert_true(ns.pg.present);
	assert_int_equal(ns.pg.tl, 9);
	assert_int_equal(ns.pg.role, NS_ROLE_PRIMARY);

	/* pending never comes back by itself */
	s.u.pg.rf.known = false;
	ps_publish(&s, &ns);
	assert_false(s.pending);
	assert_true(ns.pg.present);
}

/* The http/tcp slots write their own field only, and hide while pending. */
static void test_ps_publish_hp_fields(void **state)
{
	struct probe_slot app;
	struct probe_slot nginx;
	struct node_state ns;

	(void)state;
	hand_slot(&app, PS_APP, true, false, true);
	hand_slot(&nginx, PS_NGINX, true, true, false);
	before_state(&ns);
	ps_publish(&app, &ns);
	ps_publish(&nginx, &ns);
	assert_true(ns.app.present);
	assert_int_equal(ns.app.ms, 42);
	assert_false(ns.nginx.present);
	assert_int_equal(ns.nginx.ms, 13);
	assert_true(ns.pg.present);
	assert_int_equal(ns.pg.tl, 7);

	nginx.u.hp.rf.known = true;
	ps_publish(&nginx, &ns);
	assert_true(ns.nginx.present);
	assert_int_equal(ns.nginx.ms, 42);
	assert_int_equal(ns.app.ms, 42);
}

/* A slot that is off is absent whatever its (stale) probe memory says. */
static void test_ps_publish_off(void **state)
{
	struct probe_slot s;
	struct node_state ns;

	(void)state;
	for (int k = 0; k < PS_COUNT; k++) {
		hand_slot(&s, (enum ps_kind)k, false, false, true);
		before_state(&ns);
		ps_publish(&s, &ns);
		assert_false(s.pending);
		switch ((enum ps_kind)k) {
		case PS_PG:
			assert_false(ns.pg.present);
			assert_int_equal(ns.pg.tl, 7);
			break;
		case PS_APP:
			assert_false(ns.app.present);
			assert_int_equal(ns.app.ms, 11);
			break;
		case PS_NGINX:
			assert_false(ns.nginx.present);
			assert_int_equal(ns.nginx.ms, 13);
			break;
		case PS_COUNT:
			fail();
		}
	}
}

/* The start gate waits on a slot that is on and has no first result, for every kind. */
static void test_ps_waiting(void **state)
{
	struct probe_slot s;

	(void)state;
	for (int k = 0; k < PS_COUNT; k++) {
		hand_slot(&s, (enum ps_kind)k, false, false, false);
		assert_false(ps_waiting(&s));
		s.on = true;
		assert_true(ps_waiting(&s));
		assert_false(ps_rf(&s)->known);
		if (k == PS_PG)
			s.u.pg.rf.known = true;
		else
			s.u.hp.rf.known = true;
		assert_true(ps_rf(&s)->known);
		assert_false(ps_waiting(&s));
	}
}

static void test_ps_conf_views(void **state)
{
	struct agent_conf c;
	char sect[32];

	(void)state;
	load_conf(&c);
	assert_string_equal(ps_name(PS_PG), "pg");
	assert_string_equal(ps_name(PS_APP), "app");
	assert_string_equal(ps_name(PS_NGINX), "nginx");
	for (int k = 0; k < PS_COUNT; k++)
		assert_true(ps_wanted((enum ps_kind)k, &c));
	ps_section(PS_PG, &c, sect, sizeof(sect));
	assert_string_equal(sect, "[postgres]");
	ps_section(PS_APP, &c, sect, sizeof(sect));
	assert_string_equal(sect, "[tcp app]");
	ps_section(PS_NGINX, &c, sect, sizeof(sect));
	assert_string_equal(sect, "[http nginx]");
	/* a connect then a query for PostgreSQL, one probe for the others */
	assert_true(ps_first_wait(PS_PG, &c) == 2.7);
	assert_true(ps_first_wait(PS_APP, &c) == 0.3);
	assert_true(ps_first_wait(PS_NGINX, &c) == 1.5);
	c.has_app = false;
	assert_false(ps_wanted(PS_APP, &c));
	assert_true(ps_wanted(PS_NGINX, &c));
}

static int changes;      /* ps_change_cb calls */
static void *change_arg; /* the argument of the last one */

static void count_cb(void *arg)
{
	changes++;
	change_arg = arg;
}

/* ps_init() takes the section, no watcher runs, a change of the probe reaches the slot's
 * callback with its argument, ps_free() ends <on> and <pending>. */
static void test_ps_init_forward_free(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct agent_conf c;
	struct probe_slot s[PS_COUNT];
	char err[256] = "";
	int tag = 0;

	(void)state;
	assert_non_null(loop);
	load_conf(&c);
	for (int k = 0; k < PS_COUNT; k++) {
		ps_setup(&s[k], (enum ps_kind)k, loop, count_cb, &tag);
		assert_int_equal(ps_init(&s[k], &c, err, sizeof(err)), 0);
		s[k].on = true;
		s[k].pending = true;
		assert_int_equal(ps_validate(&s[k], &c, err, sizeof(err)), 0);
	}
	assert_string_equal(s[PS_PG].u.pg.conf.conninfo,
	                    "hostaddr=127.0.72.1 port=39201 user=postgres");
	assert_int_equal(s[PS_PG].u.pg.state, PGP_ST_STOPPED);
	assert_string_equal(s[PS_APP].u.hp.conf.addr.text, "127.0.72.1:39202");
	assert_int_equal(s[PS_APP].u.hp.state, HP_ST_STOPPED);
	assert_int_equal(s[PS_NGINX].u.hp.state, HP_ST_STOPPED);
	assert_ptr_equal(ps_pg(&s[PS_PG]), &s[PS_PG].u.pg);
	assert_null(ps_pg(&s[PS_APP]));
	assert_int_equal(ev_pending_count(loop), 0);

	changes = 0;
	s[PS_PG].u.pg.cb(&s[PS_PG].u.pg, PGP_CH_UP, s[PS_PG].u.pg.arg);
	assert_int_equal(changes, 1);
	assert_ptr_equal(change_arg, &tag);
	s[PS_NGINX].u.hp.cb(&s[PS_NGINX].u.hp, s[PS_NGINX].u.hp.arg);
	assert_int_equal(changes, 2);
	assert_ptr_equal(change_arg, &tag);

	for (int k = 0; k < PS_COUNT; k++) {
		ps_free(&s[k]);
		assert_false(s[k].on);
		assert_false(s[k].pending);
	}
	assert_null(ps_pg(&s[PS_PG]));
	ev_loop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ps_publish_pending_pg),
		cmocka_unit_test(test_ps_publish_hp_fields),
		cmocka_unit_test(test_ps_publish_off),
		cmocka_unit_test(test_ps_waiting),
		cmocka_unit_test(test_ps_conf_views),
		cmocka_unit_test(test_ps_init_forward_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
