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

#define GUARD_S 10.0 /* a loop run that waits longer than this fails the test */

struct fake_pm {
	ev_io accept_io; /* listening socket */
	ev_io conn_io;   /* the check's connection */
	int conn_fd;     /* -1 when none */
	bool answer;     /* accept and answer 'N'; false: never accept (a stopped postmaster) */
	uint8_t got[16]; /* the request as read */
	size_t got_len;  /* bytes in <got> */
	char port[8];    /* the listening port, as PQport() gives it */
};

static void fake_conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fake_pm *pm = container_of(w, struct fake_pm, conn_io);
	ssize_t n;

	(void)revents;
	n = read(pm->conn_fd, pm->got + pm->got_len, sizeof(pm->got) - pm->got_len);
	if (n > 0)
		pm->got_len += (size_t)n;
	if (pm->got_len < 8 && n != 0)
		return;
	if (pm->got_len == 8)
		assert_int_equal(write(pm->conn_fd, "N", 1), 1); /* no GSSAPI encryption here */
	ev_io_stop(loop, &pm->conn_io);
	close(pm->conn_fd);
	pm->conn_fd = -1;
}

static void fake_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fake_pm *pm = container_of(w, struct fake_pm, accept_io);
	int fd = sock_accept(w->fd, NULL, NULL);

	(void)revents;
	if (fd == -1)
		return;
	assert_int_equal(pm->conn_fd, -1);
	pm->conn_fd = fd;
	pm->got_len = 0;
	ev_io_init(&pm->conn_io, fake_conn_cb, fd, EV_READ);
	ev_io_start(loop, &pm->conn_io);
}

static void fake_start(struct fake_pm *pm, struct ev_loop *loop, bool answer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char err[HR_ERR_LEN];
	struct cfg_addr addr;
	const char *why;
	char text[64];
	int fd;

	memset(pm, 0, sizeof(*pm));
	pm->conn_fd = -1;
	pm->answer = answer;
	assert_int_equal(cfg_parse_addr("127.0.0.1:0", &addr, &why), 0);
	fd = sock_listen_tcp(&addr, 8, err, sizeof(err));
	assert_true(fd != -1);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	sock_addr_str(&ss, text, sizeof(text));
	snprintf(pm->port, sizeof(pm->port), "%s", strrchr(text, ':') + 1);
	ev_io_init(&pm->accept_io, fake_accept_cb, fd, EV_READ);
	if (answer)
		ev_io_start(loop, &pm->accept_io); /* else the kernel's queue completes connects */
}

static void fake_stop(struct fake_pm *pm, struct ev_loop *loop)
{
	ev_io_stop(loop, &pm->accept_io);
	close(pm->accept_io.fd);
	if (pm->conn_fd != -1) {
		ev_io_stop(loop, &pm->conn_io);
		close(pm->conn_fd);
	}
}

static void on_guard(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	*(bool *)w->data = true;
}

/* Runs <loop> until <a> has run <want> checks, bounded by a guard timer. */
static void run_checks(struct ev_loop *loop, struct pgp_accept *a, uint64_t want)
{
	bool fired = false;
	ev_timer guard;

	ev_timer_init(&guard, on_guard, GUARD_S, 0.);
	guard.data = &fired;
	ev_timer_start(loop, &guard);
	while (a->checks < want && !fired)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &guard);
	assert_false(fired);
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
	run_checks(loop, &a, 3);
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
	run_checks(loop, &a, 2);
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
	run_checks(loop, &a, 1);
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
