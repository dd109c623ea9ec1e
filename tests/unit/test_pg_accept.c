/* tests/unit/test_pg_accept.c - the postmaster accept check (agent/pg_accept.c) against fake
 * servers on a real loop: one that answers the GSSENCRequest with 'N', one whose listen queue
 * completes the connect but never answers (a stopped postmaster), and none at all. Every loop
 * run is bounded by a guard timer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/pg_accept.h"
#include "common/sock.h"
#include "evtest.h"

struct fake_pm {
	struct fake_peer peer; /* listens; peer.conn_fd: the check's connection */
	uint8_t got[16];       /* the request as read */
	size_t got_len;        /* bytes in <got> */
	char port[8];          /* the listening port, as PQport() gives it */
};

static void fake_conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fake_pm *pm = container_of(w, struct fake_pm, peer.conn_io);
	ssize_t n;

	(void)revents;
	n = read(pm->peer.conn_fd, pm->got + pm->got_len, sizeof(pm->got) - pm->got_len);
	if (n > 0)
		pm->got_len += (size_t)n;
	if (pm->got_len < 8 && n != 0)
		return;
	if (pm->got_len == 8)
		assert_int_equal(write(pm->peer.conn_fd, "N", 1),
		                 1); /* no GSSAPI encryption here */
	fake_peer_drop(&pm->peer, loop);
}

/* One check at a time: the previous connection is closed when the next one comes. */
static void fake_on_accept(struct fake_peer *fp)
{
	struct fake_pm *pm = container_of(fp, struct fake_pm, peer);

	assert_int_equal(pm->peer.conn_fd, -1);
	pm->got_len = 0;
}

/* <answer>: accept and answer 'N'; false: never accept (a stopped postmaster). */
static void fake_start(struct fake_pm *pm, struct ev_loop *loop, bool answer)
{
	struct cfg_addr addr;

	memset(pm, 0, sizeof(*pm));
	/* not answering: never accepts, the kernel's queue completes connects */
	fake_peer_listen_tcp(&pm->peer, loop, fake_conn_cb, &addr, answer);
	pm->peer.on_accept = fake_on_accept;
	snprintf(pm->port, sizeof(pm->port), "%s", strrchr(addr.text, ':') + 1);
}

static void fake_stop(struct fake_pm *pm, struct ev_loop *loop)
{
	fake_peer_stop(&pm->peer, loop);
}

/* A forked server process answers: the checks pass, each sent the 8-byte GSSENCRequest. */
static void test_pgp_acc_answered(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	static const uint8_t req[8] = { 0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30 };
	struct pgp_accept a;
	struct fake_pm pm;

	(void)state;
	fake_start(&pm, loop, true);
	pgp_acc_init(&a, loop);
	pgp_acc_learn(&a, "127.0.0.1", "127.0.0.1", pm.port, 0.01, 5.0);
	assert_int_equal(a.state, PGP_ACC_WAIT);
	EVTEST_RUN_UNTIL(loop, a.checks >= 3);
	assert_true(a.ok);
	assert_int_equal(a.failures, 0);
	assert_int_equal(pm.got_len, 8);
	assert_memory_equal(pm.got, req, 8);
	pgp_acc_stop(&a);
	assert_int_equal(a.state, PGP_ACC_OFF);
	assert_false(a.c_live);
	fake_stop(&pm, loop);
	ev_loop_destroy(loop);
}

/* The connect completes (the listen queue) but nobody answers: the check fails at its
 * deadline, the verdict says so, and the next check still runs. */
static void test_pgp_acc_no_answer(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct pgp_accept a;
	struct fake_pm pm;

	(void)state;
	fake_start(&pm, loop, false);
	pgp_acc_init(&a, loop);
	pgp_acc_learn(&a, "127.0.0.1", "127.0.0.1", pm.port, 0.01, 0.1);
	EVTEST_RUN_UNTIL(loop, a.checks >= 2);
	assert_false(a.ok);
	assert_int_equal(a.failures, 2);
	assert_string_equal(a.err, "postmaster accepts no connection (no answer in 100 ms)");
	pgp_acc_stop(&a);
	assert_true(a.ok); /* forgotten until the next connection */
	fake_stop(&pm, loop);
	ev_loop_destroy(loop);
}

/* Nobody listens: refused at once, said so. */
static void test_pgp_acc_refused(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct pgp_accept a;
	struct fake_pm pm;
	char port[8];

	(void)state;
	fake_start(&pm, loop, true);
	snprintf(port, sizeof(port), "%s", pm.port);
	fake_stop(&pm, loop); /* nobody listens there now */
	pgp_acc_init(&a, loop);
	pgp_acc_learn(&a, "127.0.0.1", "127.0.0.1", port, 0.01, 5.0);
	EVTEST_RUN_UNTIL(loop, a.checks >= 1);
	assert_false(a.ok);
	assert_string_equal(a.err, "postmaster accepts no connection: Connection refused");
	pgp_acc_stop(&a);
	ev_loop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pgp_acc_answered),
		cmocka_unit_test(test_pgp_acc_no_answer),
		cmocka_unit_test(test_pgp_acc_refused),
	};

	return cmocka_run_group_tests_name("pg_accept", tests, NULL, NULL);
}
