/* tests/unit/evtest.h - what the unit tests of haprole's libev connections share: a loop run
 * bounded by a guard timer, and a fake server that accepts one connection at a time on a real
 * socket (TCP on 127.0.0.1, or unix). Header only, every function static inline (a test file
 * uses what it needs); include it after <cmocka.h>. */
#ifndef HAPROLE_TESTS_UNIT_EVTEST_H
#define HAPROLE_TESTS_UNIT_EVTEST_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "common/compiler.h"
#include "common/sock.h"

#define EVTEST_GUARD_S 10.0 /* a loop run that waits longer than this fails the test */

static inline void evtest_guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	*(bool *)w->data = true;
}

/* Runs <loop> one iteration at a time until <cond> holds; fails the test when the guard timer
 * (EVTEST_GUARD_S) fires first. */
#define EVTEST_RUN_UNTIL(loop, cond)                                                               \
	do {                                                                                       \
		bool evtest_fired_ = false;                                                        \
		ev_timer evtest_guard_;                                                            \
                                                                                                   \
		ev_timer_init(&evtest_guard_, evtest_guard_cb, EVTEST_GUARD_S, 0.);                \
		evtest_guard_.data = &evtest_fired_;                                               \
		ev_timer_start((loop), &evtest_guard_);                                            \
		while (!(cond) && !evtest_fired_)                                                  \
			ev_run((loop), EVRUN_ONCE);                                                \
		ev_timer_stop((loop), &evtest_guard_);                                             \
		assert_false(evtest_fired_);                                                       \
	} while (0)

/* A fake server: each accepted connection replaces the previous one and is watched by
 * <on_conn> (EV_READ). Embed it; container_of(w, OWNER, peer.conn_io) finds the owner. */
struct fake_peer {
	ev_io accept_io; /* listening socket */
	ev_io conn_io;   /* the latest accepted connection */
	int conn_fd;     /* -1 when none */
	int accepts;     /* connections accepted */
	char path[64];   /* unix socket path; "" for TCP */
	void (*on_conn)(struct ev_loop *loop, ev_io *w, int revents);
	/* optional: told of each accepted connection before it replaces the previous one */
	void (*on_accept)(struct fake_peer *fp);
};

/* Closes the current connection, if any. */
static inline void fake_peer_drop(struct fake_peer *fp, struct ev_loop *loop)
{
	if (fp->conn_fd == -1)
		return;
	ev_io_stop(loop, &fp->conn_io);
	close(fp->conn_fd);
	fp->conn_fd = -1;
}

static inline void fake_peer_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fake_peer *fp = container_of(w, struct fake_peer, accept_io);
	int fd = sock_accept(w->fd, NULL, NULL);

	(void)revents;
	if (fd == -1)
		return;
	if (fp->on_accept != NULL)
		fp->on_accept(fp);
	fake_peer_drop(fp, loop);
	fp->accepts++;
	fp->conn_fd = fd;
	ev_io_init(&fp->conn_io, fp->on_conn, fd, EV_READ);
	ev_io_start(loop, &fp->conn_io);
}

static inline void fake_peer_watch(struct fake_peer *fp, struct ev_loop *loop, int fd,
                                   bool accepting)
{
	ev_io_init(&fp->accept_io, fake_peer_accept_cb, fd, EV_READ);
	if (accepting)
		ev_io_start(loop, &fp->accept_io);
}

/* Listens on 127.0.0.1, on a port the kernel picks, given back in <addr>. <accepting> false:
 * never accepts (the kernel's listen queue still completes connects, as a stopped server's). */
static inline void fake_peer_listen_tcp(struct fake_peer *fp, struct ev_loop *loop,
                                        void (*on_conn)(struct ev_loop *, ev_io *, int),
                                        struct cfg_addr *addr, bool accepting)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char err[HR_ERR_LEN];
	const char *why;
	char text[64];
	int fd;

	memset(fp, 0, sizeof(*fp));
	fp->conn_fd = -1;
	fp->on_conn = on_conn;
	assert_int_equal(cfg_parse_addr("127.0.0.1:0", addr, &why), 0);
	fd = sock_listen_tcp(addr, 8, err, sizeof(err));
	assert_true(fd != -1);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	assert_int_equal(cfg_parse_addr(sock_addr_str(&ss, text, sizeof(text)), addr, &why), 0);
	fake_peer_watch(fp, loop, fd, accepting);
}

/* Listens on the unix socket <path> (replaced if it exists). */
static inline void fake_peer_listen_unix(struct fake_peer *fp, struct ev_loop *loop,
                                         void (*on_conn)(struct ev_loop *, ev_io *, int),
                                         const char *path)
{
	char err[HR_ERR_LEN];
	int fd;

	memset(fp, 0, sizeof(*fp));
	fp->conn_fd = -1;
	fp->on_conn = on_conn;
	snprintf(fp->path, sizeof(fp->path), "%s", path);
	fd = sock_listen_unix(fp->path, 0600, 8, err, sizeof(err));
	assert_true(fd != -1);
	fake_peer_watch(fp, loop, fd, true);
}

/* Stops listening (removing a unix socket's file) and closes the current connection. */
static inline void fake_peer_stop(struct fake_peer *fp, struct ev_loop *loop)
{
	ev_io_stop(loop, &fp->accept_io);
	close(fp->accept_io.fd);
	if (fp->path[0] != '\0')
		unlink(fp->path);
	fake_peer_drop(fp, loop);
}

#endif /* HAPROLE_TESTS_UNIT_EVTEST_H */
