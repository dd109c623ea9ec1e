/* tests/unit/test_conn.c - common/conn.c on socketpairs and a real libev loop: replies are
 * flushed, backpressure stops and resumes reading, the deadline closes (idle and fixed), the
 * peer's FIN closes after the last reply, and a connection is freed only once no callback of
 * it runs (closed inside its callback, closed from outside, destroyed). A fake transport checks
 * the hook (conn_set_transport): a read that waits for writability, a write that waits for
 * readability, short writes and EAGAIN, bytes left inside the transport, an opening before the
 * owner's bytes, and the transport's reason on failure. Every loop run is bounded by a guard
 * timer; no test depends on how fast the machine is. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/conn.h"

#define GUARD_S 10.0 /* a loop run that waits longer than this fails the test */

enum tmode {
	T_ECHO = 0,        /* on_read: copy rx to tx */
	T_CLOSE_IN_READ,   /* on_read: conn_close, then touch the connection */
	T_FLOOD,           /* on_read: fill tx up to its size (once per read) */
	T_REPLY_AND_DONE,  /* on_read: queue a reply, conn_close_after_flush */
	T_IGNORE,          /* on_read: leave rx as it is */
	T_RELEASE_IN_READ, /* on_read: conn_release, then touch the connection */
};

struct tstats {
	int reads;
	int eofs;
	int drains;
	int timeouts;
	int frees;
	bool freed_during_read; /* on_free ran while on_read was running */
	bool in_read;
	const char *why; /* close reason seen at free */
	size_t echoed;
	int opens;          /* on_open calls */
	int closes;         /* on_close calls */
	int takes;          /* take_buffers calls */
	int err_at_close;   /* c->err seen by on_close */
	char rx_seen[16];   /* the head of <rx> at the last on_read */
	size_t rx_seen_len; /* bytes in <rx> at the last on_read */
};

struct tconn {
	struct conn c;
	enum tmode mode;
	struct tstats *st;
	bool keep_open_on_timeout;
	bool release_in_close; /* on_close calls conn_release (an owner stopping there) */
};

static void t_on_read(struct conn *c, bool eof)
{
	struct tconn *t = container_of(c, struct tconn, c);
	size_t n;

	t->st->reads++;
	t->st->in_read = true;
	t->st->rx_seen_len = buf_len(&c->rx);
	n = buf_len(&c->rx) < sizeof(t->st->rx_seen) ? buf_len(&c->rx) : sizeof(t->st->rx_seen);
	if (n > 0)
		memcpy(t->st->rx_seen, buf_head(&c->rx), n);
	if (eof)
		t->st->eofs++;
	switch (t->mode) {
	case T_ECHO:
		n = buf_len(&c->rx);
		if (n > buf_room(&c->tx))
			n = buf_room(&c->tx);
		assert_int_equal(buf_append(&c->tx, buf_head(&c->rx), n), 0);
		buf_consume(&c->rx, n);
		t->st->echoed += n;
		break;
	case T_CLOSE_IN_READ:
		conn_close(c, "closed in on_read");
		/* still valid memory: freed at the end of the callback, not here */
		assert_true(conn_is_closed(c));
		assert_int_equal(c->fd, -1);
		assert_int_equal(t->st->frees, 0);
		break;
	case T_FLOOD: /* the first read only: later ones just consume */
		buf_consume(&c->rx, buf_len(&c->rx));
		while (t->st->reads == 1 && buf_room(&c->tx) > 0) {
			static const uint8_t junk[4096];
			size_t k =
			    buf_room(&c->tx) < sizeof(junk) ? buf_room(&c->tx) : sizeof(junk);

			assert_int_equal(buf_append(&c->tx, junk, k), 0);
		}
		break;
	case T_REPLY_AND_DONE:
		buf_consume(&c->rx, buf_len(&c->rx));
		assert_int_equal(buf_printf(&c->tx, "bye\n"), 0);
		conn_close_after_flush(c, "reply sent");
		break;
	case T_IGNORE:
		break;
	case T_RELEASE_IN_READ:
		conn_release(c, "released in on_read");
		assert_true(conn_is_closed(c)); /* freed at the end of the callback, not here */
		assert_int_equal(t->st->frees, 0);
		break;
	}
	t->st->in_read = false;
}

static void t_on_timeout(struct conn *c)
{
	struct tconn *t = container_of(c, struct tconn, c);

	t->st->timeouts++;
	if (!t->keep_open_on_timeout)
		conn_close(c, "test deadline");
}

static void t_on_drain(struct conn *c)
{
	struct tconn *t = container_of(c, struct tconn, c);

	t->st->drains++;
}

static void t_on_free(struct conn *c)
{
	struct tconn *t = container_of(c, struct tconn, c);

	t->st->frees++;
	t->st->why = c->why;
	if (t->st->in_read)
		t->st->freed_during_read = true;
	free(t);
}

static const struct conn_ops t_ops = {
	.on_read = t_on_read,
	.on_timeout = t_on_timeout,
	.on_drain = t_on_drain,
	.on_free = t_on_free,
};

static void t_on_close(struct conn *c)
{
	struct tconn *t = container_of(c, struct tconn, c);

	t->st->closes++;
	t->st->err_at_close = c->err;
	assert_true(c->fd >= 0); /* still open for the owner's last words */
	if (t->release_in_close)
		conn_release(c, "released in on_close");
}

static int t_take_buffers(struct conn *c)
{
	struct tconn *t = container_of(c, struct tconn, c);

	t->st->takes++;
	if (buf_init(&c->rx, 64) == -1 || buf_init(&c->tx, 64) == -1)
		return -1;
	return 0;
}

static const struct conn_ops t_ops_lazy = {
	.on_read = t_on_read,
	.on_free = t_on_free,
	.on_close = t_on_close,
	.take_buffers = t_take_buffers,
};

static void t_on_open(struct conn *c)
{
	struct tconn *t = container_of(c, struct tconn, c);

	t->st->opens++;
}

static const struct conn_ops t_ops_tp = {
	.on_read = t_on_read,
	.on_free = t_on_free,
	.on_close = t_on_close,
	.on_open = t_on_open,
};

static const struct conn_ops t_ops_default_timeout = {
	.on_read = t_on_read,
	.on_free = t_on_free,
};

struct fx {
	struct ev_loop *loop;
	int peer; /* our side of the socketpair */
	struct tconn *t;
	struct tstats st;
	ev_timer guard;
	bool guard_fired;
};

static void guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fx *f = container_of(w, struct fx, guard);

	(void)loop;
	(void)revents;
	f->guard_fired = true;
}

/* Runs the loop until <*flag> (an int) is at least <want>, or the guard fires (a failure). */
static void run_until(struct fx *f, const int *flag, int want)
{
	f->guard_fired = false;
	ev_timer_set(&f->guard, GUARD_S, 0.);
	ev_timer_start(f->loop, &f->guard);
	while (*flag < want && !f->guard_fired)
		ev_run(f->loop, EVRUN_ONCE);
	ev_timer_stop(f->loop, &f->guard);
	assert_false(f->guard_fired);
}

/* A socketpair; the connection's end gets a struct conn with <rx_size>/<tx_size> buffers. */
static struct fx *fx_new(enum tmode mode, size_t rx_size, size_t tx_size,
                         const struct conn_ops *ops)
{
	struct fx *f = calloc(1, sizeof(*f));
	int sv[2];

	assert_non_null(f);
	f->loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(f->loop);
	ev_init(&f->guard, guard_cb);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	f->peer = sv[0];
	f->t = calloc(1, sizeof(*f->t));
	assert_non_null(f->t);
	f->t->mode = mode;
	f->t->st = &f->st;
	conn_init(&f->t->c, f->loop, sv[1], ops, "test", 1, NULL);
	assert_string_equal(f->t->c.peer, "unix");
	assert_int_equal(buf_init(&f->t->c.rx, rx_size), 0);
	assert_int_equal(buf_init(&f->t->c.tx, tx_size), 0);
	return f;
}

static void fx_free(struct fx *f)
{
	if (f->st.frees == 0)
		conn_destroy(&f->t->c, "test over");
	assert_int_equal(f->st.frees, 1);
	if (f->peer != -1)
		close(f->peer);
	ev_loop_destroy(f->loop);
	free(f);
}

static void peer_send(struct fx *f, const char *s)
{
	assert_int_equal(write(f->peer, s, strlen(s)), (ssize_t)strlen(s));
}

/* Reads what the peer has now (non-blocking). Returns bytes, 0 on EOF, -1 none yet. */
static ssize_t peer_recv(struct fx *f, char *out, size_t len)
{
	return read(f->peer, out, len);
}

/* The peer reads until it has <want> bytes, the loop sending meanwhile. Returns the bytes. */
static size_t peer_drain(struct fx *f, size_t want)
{
	static char sink[65536];
	size_t total = 0;
	ssize_t n;

	f->guard_fired = false;
	ev_timer_set(&f->guard, GUARD_S, 0.);
	ev_timer_start(f->loop, &f->guard);
	while (total < want && !f->guard_fired) {
		n = peer_recv(f, sink, sizeof(sink));
		if (n > 0)
			total += (size_t)n;
		else
			ev_run(f->loop, EVRUN_ONCE);
	}
	ev_timer_stop(f->loop, &f->guard);
	assert_false(f->guard_fired);
	return total;
}

/* ---- tests -------------------------------------------------------------------------------- */

/* What on_read queues is on the wire when the callback returns, without EV_WRITE. */
static void test_conn_flushes_replies(void **state)
{
	struct fx *f = fx_new(T_ECHO, 64, 64, &t_ops);
	char got[64];

	(void)state;
	conn_start(&f->t->c, false);
	assert_int_equal(f->t->c.events, EV_READ);
	peer_send(f, "hello\n");
	run_until(f, &f->st.reads, 1);
	assert_int_equal(peer_recv(f, got, sizeof(got)), 6);
	assert_memory_equal(got, "hello\n", 6);
	assert_int_equal(buf_len(&f->t->c.tx), 0);
	assert_int_equal(f->st.drains, 1);
	assert_int_equal(f->t->c.events, EV_READ); /* EV_WRITE never armed: it all fitted */
	fx_free(f);
}

/* tx at or over tx_high: EV_READ off; the peer drains, on_drain runs, EV_READ is back. */
static void test_conn_backpressure(void **state)
{
	struct fx *f = fx_new(T_FLOOD, 64, 1 << 20, &t_ops);
	int sndbuf = 4096;

	(void)state;
	assert_int_equal(setsockopt(f->t->c.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
	f->t->c.tx_high = 1024;
	conn_start(&f->t->c, false);
	peer_send(f, "go");
	run_until(f, &f->st.reads, 1);
	/* 1 MiB does not fit a 4 KiB socket buffer: the rest waits, reading is off */
	assert_true(buf_len(&f->t->c.tx) >= f->t->c.tx_high);
	assert_int_equal(f->t->c.events, EV_WRITE);
	/* bytes sent now are not read while tx is over the bound */
	peer_send(f, "more");
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(f->st.reads, 1);
	/* the peer reads everything: tx empties, reading resumes and gets "more" */
	assert_int_equal(peer_drain(f, 1u << 20), 1u << 20);
	run_until(f, &f->st.reads, 2);
	assert_true(f->st.drains >= 1);
	assert_int_equal(f->st.frees, 0);
	fx_free(f);
}

/* A silent peer: the idle deadline fires, on_timeout closes, the connection is freed. */
static void test_conn_idle_deadline_closes(void **state)
{
	struct fx *f = fx_new(T_ECHO, 64, 64, &t_ops);

	(void)state;
	conn_set_deadline(&f->t->c, 0.05, true);
	conn_start(&f->t->c, false);
	run_until(f, &f->st.frees, 1);
	assert_int_equal(f->st.timeouts, 1);
	assert_string_equal(f->st.why, "test deadline");
	fx_free(f);
}

/* No on_timeout: the layer closes as "timeout". A fixed deadline is not moved by traffic. */
static void test_conn_fixed_deadline_default_close(void **state)
{
	struct fx *f = fx_new(T_ECHO, 64, 64, &t_ops_default_timeout);
	char got[8];

	(void)state;
	conn_set_deadline(&f->t->c, 0.2, false);
	conn_start(&f->t->c, false);
	peer_send(f, "x");
	run_until(f, &f->st.reads, 1);
	assert_int_equal(peer_recv(f, got, sizeof(got)), 1);
	run_until(f, &f->st.frees, 1);
	assert_string_equal(f->st.why, "timeout");
	assert_int_equal(peer_recv(f, got, sizeof(got)), 0); /* the socket was closed */
	fx_free(f);
}

/* A deadline whose owner keeps the connection: the idle timer runs again. */
static void test_conn_timeout_kept_open(void **state)
{
	struct fx *f = fx_new(T_ECHO, 64, 64, &t_ops);

	(void)state;
	f->t->keep_open_on_timeout = true;
	conn_set_deadline(&f->t->c, 0.02, true);
	conn_start(&f->t->c, false);
	run_until(f, &f->st.timeouts, 2);
	assert_int_equal(f->st.frees, 0);
	fx_free(f);
}

/* conn_close inside on_read: the memory stays until the callback ends, then goes once. */
static void test_conn_close_in_callback_frees_after(void **state)
{
	struct fx *f = fx_new(T_CLOSE_IN_READ, 64, 64, &t_ops);
	char got[8];

	(void)state;
	conn_start(&f->t->c, false);
	peer_send(f, "x");
	run_until(f, &f->st.frees, 1);
	assert_false(f->st.freed_during_read);
	assert_int_equal(f->st.reads, 1);
	assert_string_equal(f->st.why, "closed in on_read");
	assert_int_equal(peer_recv(f, got, sizeof(got)), 0);
	fx_free(f);
}

/* conn_close from outside any callback of the connection (an owner's other event): not freed
 * under the caller, reaped by the loop on its next iteration. */
static void test_conn_close_outside_reaped_by_loop(void **state)
{
	struct fx *f = fx_new(T_ECHO, 64, 64, &t_ops);

	(void)state;
	conn_start(&f->t->c, false);
	conn_close(&f->t->c, "closed from outside");
	assert_int_equal(f->st.frees, 0);
	assert_true(conn_is_closed(&f->t->c));
	conn_close(&f->t->c, "twice"); /* no-op */
	assert_int_equal(conn_flush(&f->t->c), -1);
	run_until(f, &f->st.frees, 1);
	assert_string_equal(f->st.why, "closed from outside");
	fx_free(f);
}

/* conn_destroy on a connection already closed and waiting for the loop: freed once. */
static void test_conn_destroy_pending_reap(void **state)
{
	struct fx *f = fx_new(T_ECHO, 64, 64, &t_ops);

	(void)state;
	conn_start(&f->t->c, false);
	conn_close(&f->t->c, "closed");
	conn_destroy(&f->t->c, "stop");
	assert_int_equal(f->st.frees, 1);
	ev_run(f->loop, EVRUN_NOWAIT); /* the reaper timer was stopped: no second free */
	assert_int_equal(f->st.frees, 1);
	fx_free(f);
}

/* conn_close_after_flush: the reply is sent whole, then the socket is closed. */
static void test_conn_close_after_flush(void **state)
{
	struct fx *f = fx_new(T_REPLY_AND_DONE, 64, 64, &t_ops);
	char got[16];

	(void)state;
	conn_start(&f->t->c, false);
	peer_send(f, "q");
	run_until(f, &f->st.frees, 1);
	assert_string_equal(f->st.why, "reply sent");
	assert_int_equal(peer_recv(f, got, sizeof(got)), 4);
	assert_memory_equal(got, "bye\n", 4);
	assert_int_equal(peer_recv(f, got, sizeof(got)), 0);
	fx_free(f);
}

/* The peer's FIN: on_read is told, what it queued is still sent, then the close. read_now
 * reads what was in the socket before conn_start. */
static void test_conn_eof_after_reply(void **state)
{
	struct fx *f = fx_new(T_ECHO, 64, 64, &t_ops);
	char got[16];

	(void)state;
	peer_send(f, "abc");
	assert_int_equal(shutdown(f->peer, SHUT_WR), 0);
	conn_start(&f->t->c, true);
	assert_int_equal(f->st.reads, 1);
	run_until(f, &f->st.frees, 1);
	assert_int_equal(f->st.eofs, 1);
	assert_string_equal(f->st.why, "closed by the peer");
	assert_int_equal(peer_recv(f, got, sizeof(got)), 3);
	assert_memory_equal(got, "abc", 3);
	fx_free(f);
}

/* rx full and the owner consumed nothing: closed, not spun on. */
static void test_conn_rx_full_closes(void **state)
{
	struct fx *f = fx_new(T_IGNORE, 4, 64, &t_ops);

	(void)state;
	conn_start(&f->t->c, false);
	peer_send(f, "abcdefgh");
	run_until(f, &f->st.frees, 1);
	assert_string_equal(f->st.why, "receive buffer full");
	fx_free(f);
}

/* Two connections in one owner's list: the one closed inside its callback leaves the list when
 * it is freed, the other stays; destroying the last empties it. */
static void test_conn_list_unlinks_on_free(void **state)
{
	struct fx *f = fx_new(T_CLOSE_IN_READ, 64, 64, &t_ops);
	struct tconn *other = calloc(1, sizeof(*other));
	struct tstats ost = { 0 };
	struct conn_list l = { 0 };
	int sv[2];

	(void)state;
	assert_non_null(other);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	other->mode = T_ECHO;
	other->st = &ost;
	conn_init(&other->c, f->loop, sv[1], &t_ops, "test", 2, NULL);
	assert_int_equal(buf_init(&other->c.rx, 16), 0);
	assert_int_equal(buf_init(&other->c.tx, 16), 0);
	conn_list_add(&l, &f->t->c);
	conn_list_add(&l, &other->c);
	assert_int_equal(l.n, 2);
	assert_ptr_equal(l.head, &other->c);
	conn_start(&f->t->c, false);
	conn_start(&other->c, false);
	peer_send(f, "x");
	run_until(f, &f->st.frees, 1);
	assert_int_equal(l.n, 1);
	assert_ptr_equal(l.head, &other->c);
	assert_null(other->c.next);
	assert_null(other->c.prev);
	conn_destroy(l.head, "test over");
	assert_int_equal(l.n, 0);
	assert_null(l.head);
	assert_int_equal(ost.frees, 1);
	close(sv[0]);
	fx_free(f);
}

/* conn_send: written at once when it fits (no tx storage taken); the rest of a large reply is
 * kept in a tx sized for it and sent as the peer reads. */
static void test_conn_send_write_through(void **state)
{
	struct fx *f = fx_new(T_IGNORE, 64, 64, &t_ops);
	static uint8_t big[1 << 20];
	char sink[64];
	int sndbuf = 4096;

	(void)state;
	buf_free(&f->t->c.tx); /* no storage: conn_send takes what it needs */
	conn_start(&f->t->c, false);
	assert_int_equal(conn_send(&f->t->c, "hi\n", 3), 0);
	assert_null(f->t->c.tx.data);
	assert_int_equal(peer_recv(f, sink, sizeof(sink)), 3);
	assert_int_equal(setsockopt(f->t->c.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
	memset(big, 'x', sizeof(big));
	assert_int_equal(conn_send(&f->t->c, big, sizeof(big)), 0);
	assert_true(buf_len(&f->t->c.tx) > 0);
	assert_true(f->t->c.tx.size < sizeof(big)); /* only the rest was copied */
	assert_true((f->t->c.events & EV_WRITE) != 0);
	assert_int_equal(peer_drain(f, sizeof(big)), sizeof(big));
	run_until(f, &f->st.drains, 1);
	fx_free(f);
}

/* conn_take_fd: the socket survives the connection, which is freed as after a close. */
static void test_conn_take_fd_keeps_socket(void **state)
{
	struct fx *f = fx_new(T_ECHO, 64, 64, &t_ops);
	char got[8];
	int fd;

	(void)state;
	conn_start(&f->t->c, false);
	fd = conn_take_fd(&f->t->c, "handed over");
	assert_true(fd >= 0);
	assert_int_equal(f->t->c.fd, -1);
	assert_int_equal(conn_take_fd(&f->t->c, "again"), -1);
	run_until(f, &f->st.frees, 1);
	assert_string_equal(f->st.why, "handed over");
	assert_int_equal(write(fd, "ok", 2), 2); /* still open */
	assert_int_equal(peer_recv(f, got, sizeof(got)), 2);
	close(fd);
	fx_free(f);
}

/* take_buffers: a silent peer costs no buffer; the first byte brings them, then it echoes. */
static void test_conn_take_buffers_at_first_byte(void **state)
{
	struct fx *f = fx_new(T_ECHO, 64, 64, &t_ops_lazy);
	char got[8];

	(void)state;
	buf_free(&f->t->c.rx);
	buf_free(&f->t->c.tx);
	conn_start(&f->t->c, true);
	assert_int_equal(f->st.takes, 0);
	assert_null(f->t->c.rx.data);
	peer_send(f, "ab");
	run_until(f, &f->st.reads, 1);
	assert_int_equal(f->st.takes, 1);
	assert_int_equal(peer_recv(f, got, sizeof(got)), 2);
	assert_int_equal(f->st.closes, 0);
	conn_destroy(&f->t->c, "test over");
	assert_int_equal(f->st.closes, 1);
	fx_free(f);
}

/* The peer leaves before saying anything: on_read(eof) without buffers, then on_close once. */
static void test_conn_eof_before_any_byte(void **state)
{
	struct fx *f = fx_new(T_ECHO, 64, 64, &t_ops_lazy);

	(void)state;
	buf_free(&f->t->c.rx);
	buf_free(&f->t->c.tx);
	conn_start(&f->t->c, false);
	assert_int_equal(shutdown(f->peer, SHUT_WR), 0);
	run_until(f, &f->st.frees, 1);
	assert_int_equal(f->st.takes, 0);
	assert_int_equal(f->st.eofs, 1);
	assert_int_equal(f->st.closes, 1);
	assert_string_equal(f->st.why, "closed by the peer");
	fx_free(f);
}

/* A write the peer cannot take any more (it is gone): closed as "write failed", on_close sees
 * the errno. */
static void test_conn_write_error_closes(void **state)
{
	struct fx *f = fx_new(T_IGNORE, 64, 64, &t_ops_lazy);

	(void)state;
	conn_start(&f->t->c, false);
	close(f->peer);
	f->peer = -1;
	assert_int_equal(buf_append(&f->t->c.tx, "x", 1), 0);
	assert_int_equal(conn_flush(&f->t->c), -1);
	assert_int_equal(f->st.closes, 1);
	assert_int_equal(f->st.err_at_close, EPIPE);
	run_until(f, &f->st.frees, 1);
	assert_string_equal(f->st.why, "write failed");
	fx_free(f);
}

/* conn_shut_write: the peer reads every byte of the request, then its end (the write side shut
 * only once <tx> is sent, EV_WRITE doing the rest); the answer is still read. */
static void test_conn_shut_write_after_tx(void **state)
{
	struct fx *f = fx_new(T_IGNORE, 64, 1 << 18, &t_ops);
	static uint8_t req[1 << 18];
	int sndbuf = 4096;
	char got[16];
	ssize_t n = -1;

	(void)state;
	assert_int_equal(setsockopt(f->t->c.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
	conn_start(&f->t->c, false);
	assert_int_equal(conn_send(&f->t->c, req, sizeof(req)), 0);
	assert_true(buf_len(&f->t->c.tx) > 0); /* the socket refused some: the shutdown waits */
	conn_shut_write(&f->t->c);
	assert_false(conn_is_closed(&f->t->c));
	assert_int_equal(peer_drain(f, sizeof(req)), sizeof(req));
	f->guard_fired = false;
	ev_timer_set(&f->guard, GUARD_S, 0.);
	ev_timer_start(f->loop, &f->guard);
	while (!f->guard_fired && (n = peer_recv(f, got, sizeof(got))) == -1)
		ev_run(f->loop, EVRUN_ONCE);
	ev_timer_stop(f->loop, &f->guard);
	assert_int_equal(n, 0); /* the request's end, nothing more */
	peer_send(f, "answer");
	close(f->peer);
	f->peer = -1;
	run_until(f, &f->st.frees, 1);
	assert_int_equal(f->st.eofs, 1);
	assert_int_equal(f->st.rx_seen_len, 6);
	assert_memory_equal(f->st.rx_seen, "answer", 6);
	assert_string_equal(f->st.why, "closed by the peer");
	fx_free(f);
}

/* conn_release outside the callbacks frees at once; inside one, at its end; on a connection
 * closed and waiting for the loop, at once and only once. */
static void test_conn_release(void **state)
{
	struct fx *f = fx_new(T_ECHO, 64, 64, &t_ops);

	(void)state;
	conn_start(&f->t->c, false);
	conn_release(&f->t->c, "stop");
	assert_int_equal(f->st.frees, 1);
	assert_string_equal(f->st.why, "stop");
	fx_free(f);

	f = fx_new(T_RELEASE_IN_READ, 64, 64, &t_ops);
	conn_start(&f->t->c, false);
	peer_send(f, "x");
	run_until(f, &f->st.frees, 1);
	assert_false(f->st.freed_during_read);
	assert_string_equal(f->st.why, "released in on_read");
	fx_free(f);

	f = fx_new(T_ECHO, 64, 64, &t_ops);
	conn_start(&f->t->c, false);
	conn_close(&f->t->c, "closed");
	assert_int_equal(f->st.frees, 0); /* the loop would reap it */
	conn_release(&f->t->c, "stop");
	assert_int_equal(f->st.frees, 1);
	ev_run(f->loop, EVRUN_NOWAIT); /* the reaper timer was stopped: no second free */
	assert_int_equal(f->st.frees, 1);
	fx_free(f);

	/* from on_close of a close outside the callbacks: on_close is a callback too */
	f = fx_new(T_ECHO, 64, 64, &t_ops_lazy);
	f->t->release_in_close = true;
	conn_start(&f->t->c, false);
	conn_close(&f->t->c, "closed");
	assert_int_equal(f->st.closes, 1);
	assert_int_equal(f->st.frees, 0);
	run_until(f, &f->st.frees, 1);
	ev_run(f->loop, EVRUN_NOWAIT);
	assert_int_equal(f->st.frees, 1);
	fx_free(f);
}

/* ---- a fake transport over the socketpair ------------------------------------------------ */

/* What the fake does; each mode models one thing TLS does to the layer. */
enum fmode {
	F_READ_WANTS_WRITE = 0, /* recv first writes its own 4 bytes ("CTRL"): WANT_WRITE if full */
	F_WRITE_WANTS_READ, /* send first reads a 1-byte token from the peer: WANT_READ if none */
	F_SHORT_EAGAIN,     /* send: every other call WANT_WRITE, else at most 7 bytes */
	F_HOARD,            /* recv reads all the socket holds, returns 2 bytes a call */
	F_OPEN_2STEPS,      /* open: send "HELLO", then wait for "OK" from the peer */
	F_OPEN_FAILS,       /* open: fails with a reason */
	F_RECV_FAILS,       /* recv: fails with a reason */
};

struct fake {
	enum fmode mode;
	int recvs;        /* recv calls */
	int sends;        /* send calls */
	int closes;       /* close calls */
	int open_step;    /* F_OPEN_2STEPS: 0 hello to send, 1 waiting for "OK", 2 open */
	bool ctrl_sent;   /* F_READ_WANTS_WRITE: its 4 bytes are out */
	bool token;       /* F_WRITE_WANTS_READ: the peer's token was read */
	char hoard[256];  /* F_HOARD: bytes read from the socket, not yet returned */
	size_t hoard_len; /* in <hoard> */
	size_t hoard_off; /* returned so far */
};

static ssize_t f_wait(ssize_t n, int want)
{
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return want;
	return n;
}

static int f_open(struct conn *c)
{
	struct fake *k = c->tp_ctx;
	char got[2];
	ssize_t n;

	if (k->mode == F_OPEN_FAILS) {
		c->err = EPROTO;
		c->tp_why = "fake: peer refused the opening";
		return CONN_IO_ERROR;
	}
	if (k->open_step == 0) {
		assert_int_equal(write(c->fd, "HELLO", 5), 5);
		k->open_step = 1;
		return CONN_IO_WANT_READ;
	}
	n = f_wait(read(c->fd, got, sizeof(got)), CONN_IO_WANT_READ);
	if (n < 0)
		return (int)n;
	assert_int_equal(n, 2);
	assert_memory_equal(got, "OK", 2);
	k->open_step = 2;
	return 0;
}

static ssize_t f_recv(struct conn *c, void *p, size_t len)
{
	struct fake *k = c->tp_ctx;
	ssize_t n;

	k->recvs++;
	switch (k->mode) {
	case F_READ_WANTS_WRITE:
		if (!k->ctrl_sent) {
			n = f_wait(write(c->fd, "CTRL", 4), CONN_IO_WANT_WRITE);
			if (n < 0)
				return n;
			assert_int_equal(n, 4);
			k->ctrl_sent = true;
		}
		break;
	case F_HOARD:
		if (k->hoard_off == k->hoard_len) {
			n = f_wait(read(c->fd, k->hoard, sizeof(k->hoard)), CONN_IO_WANT_READ);
			if (n <= 0)
				return n;
			k->hoard_len = (size_t)n;
			k->hoard_off = 0;
		}
		n = (ssize_t)(k->hoard_len - k->hoard_off);
		if (n > 2)
			n = 2;
		if ((size_t)n > len)
			n = (ssize_t)len;
		memcpy(p, k->hoard + k->hoard_off, (size_t)n);
		k->hoard_off += (size_t)n;
		return n;
	case F_RECV_FAILS:
		c->err = EPROTO;
		c->tp_why = "fake: bad record";
		return CONN_IO_ERROR;
	case F_WRITE_WANTS_READ:
	case F_SHORT_EAGAIN:
	case F_OPEN_2STEPS:
	case F_OPEN_FAILS:
		break;
	}
	return f_wait(read(c->fd, p, len), CONN_IO_WANT_READ);
}

static ssize_t f_send(struct conn *c, const void *p, size_t len)
{
	struct fake *k = c->tp_ctx;
	char tok;
	ssize_t n;

	k->sends++;
	if (k->mode == F_WRITE_WANTS_READ && !k->token) {
		n = f_wait(read(c->fd, &tok, 1), CONN_IO_WANT_READ);
		if (n < 0)
			return n;
		assert_int_equal(n, 1);
		k->token = true;
	}
	if (k->mode == F_SHORT_EAGAIN) {
		if (k->sends % 2 == 1)
			return CONN_IO_WANT_WRITE;
		if (len > 7)
			len = 7;
	}
	n = write(c->fd, p, len);
	if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
		c->err = errno;
		return CONN_IO_ERROR;
	}
	return f_wait(n, CONN_IO_WANT_WRITE);
}

static bool f_pending(const struct conn *c)
{
	const struct fake *k = c->tp_ctx;

	return k->hoard_off < k->hoard_len;
}

static void f_close(struct conn *c)
{
	struct fake *k = c->tp_ctx;

	assert_true(c->fd >= 0); /* before the socket goes */
	k->closes++;
}

static const struct conn_transport f_transport = {
	.open = NULL,
	.recv = f_recv,
	.send = f_send,
	.pending = f_pending,
	.close = f_close,
};

static const struct conn_transport f_transport_opening = {
	.open = f_open,
	.recv = f_recv,
	.send = f_send,
	.pending = f_pending,
	.close = f_close,
};

/* A connection of <mode> (echo) with <k> as its fake transport. */
static struct fx *fx_fake(struct fake *k, enum fmode fm, enum tmode mode, size_t rx, size_t tx)
{
	struct fx *f = fx_new(mode, rx, tx, &t_ops_tp);

	memset(k, 0, sizeof(*k));
	k->mode = fm;
	conn_set_transport(
	    &f->t->c,
	    fm == F_OPEN_2STEPS || fm == F_OPEN_FAILS ? &f_transport_opening : &f_transport, k);
	return f;
}

/* A few loop iterations that must not call the transport again (nothing it waits for came). */
static void spin(struct fx *f)
{
	for (int i = 0; i < 20; i++)
		ev_run(f->loop, EVRUN_NOWAIT);
}

/* A read that must write first while the socket is full: the layer waits for EV_WRITE (and
 * only that: EV_READ would fire at once and spin), then the read goes on and echoes. */
static void test_conn_tp_read_wants_write(void **state)
{
	struct fake k;
	struct fx *f = fx_fake(&k, F_READ_WANTS_WRITE, T_ECHO, 64, 64);
	char got[4096];
	char tail[8];
	size_t n = 0;
	int sndbuf = 4096;

	(void)state;
	assert_int_equal(setsockopt(f->t->c.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
	while (write(f->t->c.fd, "f", 1) == 1) /* the connection's socket cannot send now */
		;
	conn_start(&f->t->c, false);
	peer_send(f, "ping");
	run_until(f, &k.recvs, 1);
	assert_int_equal(f->t->c.events, EV_WRITE);
	spin(f);
	assert_int_equal(k.recvs, 1); /* not called again while the socket stays full */
	assert_int_equal(f->st.reads, 0);
	/* the peer reads the filler: writable, the read goes on, the echo comes back after the
	 * transport's own bytes */
	f->guard_fired = false;
	ev_timer_set(&f->guard, GUARD_S, 0.);
	ev_timer_start(f->loop, &f->guard);
	while (!f->guard_fired && !(n >= 8 && memcmp(tail + n - 8, "CTRLping", 8) == 0)) {
		ssize_t r = peer_recv(f, got, sizeof(got));

		for (ssize_t i = 0; i < r; i++) {
			if (n == sizeof(tail)) {
				memmove(tail, tail + 1, sizeof(tail) - 1);
				n--;
			}
			tail[n++] = got[i];
		}
		if (r <= 0)
			ev_run(f->loop, EVRUN_ONCE);
	}
	ev_timer_stop(f->loop, &f->guard);
	assert_false(f->guard_fired);
	assert_int_equal(f->st.reads, 1);
	assert_int_equal(f->t->c.events, EV_READ);
	fx_free(f);
	assert_int_equal(k.closes, 1);
}

/* A write that must read first (reading paused by the owner): the layer waits for EV_READ for
 * it (EV_WRITE would spin), does not give the owner anything, and sends once the token came. */
static void test_conn_tp_write_wants_read(void **state)
{
	struct fake k;
	struct fx *f = fx_fake(&k, F_WRITE_WANTS_READ, T_ECHO, 64, 64);

	(void)state;
	conn_start(&f->t->c, false);
	conn_pause_read(&f->t->c, true);
	/* the layer's write of <tx> */
	assert_int_equal(buf_printf(&f->t->c.tx, "abc"), 0);
	assert_int_equal(conn_flush(&f->t->c), 0);
	assert_int_equal(k.sends, 1);
	assert_int_equal(buf_len(&f->t->c.tx), 3);
	assert_int_equal(f->t->c.events, EV_READ);
	spin(f);
	assert_int_equal(k.sends, 1);
	peer_send(f, "t");
	run_until(f, &k.sends, 2);
	assert_int_equal(peer_drain(f, 3), 3);
	assert_int_equal(f->st.reads,
	                 0); /* paused: the token was the transport's, not the owner's */
	assert_int_equal(f->t->c.events, 0);
	/* conn_send's write at once: the same wait */
	k.token = false;
	assert_int_equal(conn_send(&f->t->c, "de", 2), 0);
	assert_int_equal(k.sends, 3);
	assert_int_equal(f->t->c.events, EV_READ);
	spin(f);
	assert_int_equal(k.sends, 3);
	peer_send(f, "t");
	assert_int_equal(peer_drain(f, 2), 2);
	assert_int_equal(f->st.reads, 0);
	fx_free(f);
}

/* Short writes and EAGAIN every other call: every byte arrives once, in order. */
static void test_conn_tp_short_writes_and_eagain(void **state)
{
	struct fake k;
	struct fx *f = fx_fake(&k, F_SHORT_EAGAIN, T_IGNORE, 64, 1024);
	char want[1000];
	char got[1000];
	size_t have = 0;
	ssize_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(want); i++)
		want[i] = (char)('a' + i % 26);
	conn_start(&f->t->c, false);
	assert_int_equal(conn_send(&f->t->c, want, sizeof(want)), 0);
	f->guard_fired = false;
	ev_timer_set(&f->guard, GUARD_S, 0.);
	ev_timer_start(f->loop, &f->guard);
	while (have < sizeof(got) && !f->guard_fired) {
		n = peer_recv(f, got + have, sizeof(got) - have);
		if (n > 0)
			have += (size_t)n;
		else
			ev_run(f->loop, EVRUN_ONCE);
	}
	ev_timer_stop(f->loop, &f->guard);
	assert_false(f->guard_fired);
	assert_memory_equal(got, want, sizeof(want));
	assert_int_equal(buf_len(&f->t->c.tx), 0);
	assert_true(k.sends >= 2 * (1000 / 7));
	assert_int_equal(f->st.closes, 0);
	fx_free(f);
}

/* The transport took all the socket held and gives 2 bytes a call: the rest is read without a
 * socket event, and all of it is echoed. */
static void test_conn_tp_pending_bytes_read(void **state)
{
	struct fake k;
	struct fx *f = fx_fake(&k, F_HOARD, T_ECHO, 64, 64);

	(void)state;
	conn_start(&f->t->c, false);
	peer_send(f, "hello world");
	assert_int_equal(peer_drain(f, 11), 11);
	assert_int_equal(f->st.echoed, 11);
	assert_true(f->st.reads >= 6);
	fx_free(f);
}

/* An opening: the owner's bytes (queued before the start) wait for it; the transport's own
 * bytes go first; on_open, then the owner's bytes, then reading. */
static void test_conn_tp_opening_before_bytes(void **state)
{
	struct fake k;
	struct fx *f = fx_fake(&k, F_OPEN_2STEPS, T_ECHO, 64, 64);
	char got[16];

	(void)state;
	assert_int_equal(f->t->c.state, CONN_ST_OPENING);
	assert_int_equal(buf_printf(&f->t->c.tx, "data"), 0);
	assert_int_equal(conn_send(&f->t->c, "+", 1), 0); /* queued behind, not written */
	conn_start(&f->t->c, true);
	assert_int_equal(k.open_step, 1);
	spin(f);
	assert_int_equal(peer_recv(f, got, sizeof(got)), 5);
	assert_memory_equal(got, "HELLO", 5);
	assert_int_equal(peer_recv(f, got, sizeof(got)), -1); /* nothing of the owner's yet */
	assert_int_equal(f->st.opens, 0);
	assert_int_equal(k.sends, 0);
	peer_send(f, "OK");
	run_until(f, &f->st.opens, 1);
	assert_int_equal(f->t->c.state, CONN_ST_OPEN);
	assert_int_equal(peer_drain(f, 5), 5);
	peer_send(f, "x");
	run_until(f, &f->st.reads, 1);
	assert_int_equal(f->st.echoed, 1);
	fx_free(f);
}

/* A close after flush asked during the opening: the owner's bytes still wait for it, then go,
 * then the close. */
static void test_conn_tp_close_after_flush_while_opening(void **state)
{
	struct fake k;
	struct fx *f = fx_fake(&k, F_OPEN_2STEPS, T_ECHO, 64, 64);
	char got[16];

	(void)state;
	assert_int_equal(buf_printf(&f->t->c.tx, "data"), 0);
	conn_start(&f->t->c, true);
	conn_close_after_flush(&f->t->c, "request sent");
	assert_int_equal(f->t->c.state, CONN_ST_OPENING);
	spin(f);
	assert_int_equal(peer_recv(f, got, sizeof(got)), 5);
	assert_memory_equal(got, "HELLO", 5);
	assert_int_equal(f->st.frees, 0);
	peer_send(f, "OK");
	run_until(f, &f->st.frees, 1);
	assert_int_equal(f->st.opens, 1);
	assert_string_equal(f->st.why, "request sent");
	assert_int_equal(peer_recv(f, got, sizeof(got)), 4);
	assert_memory_equal(got, "data", 4);
	assert_int_equal(peer_recv(f, got, sizeof(got)), 0);
	fx_free(f);
}

/* A failed opening: closed with the transport's reason; the owner got no read, no open. */
static void test_conn_tp_opening_fails_with_reason(void **state)
{
	struct fake k;
	struct fx *f = fx_fake(&k, F_OPEN_FAILS, T_ECHO, 64, 64);

	(void)state;
	conn_start(&f->t->c, false);
	run_until(f, &f->st.frees, 1);
	assert_string_equal(f->st.why, "fake: peer refused the opening");
	assert_int_equal(f->st.err_at_close, EPROTO);
	assert_int_equal(f->st.reads, 0);
	assert_int_equal(f->st.opens, 0);
	assert_int_equal(k.closes, 1);
	fx_free(f);
}

/* A failed read: the owner is told the end with the errno, the close has the reason. */
static void test_conn_tp_recv_fails_with_reason(void **state)
{
	struct fake k;
	struct fx *f = fx_fake(&k, F_RECV_FAILS, T_ECHO, 64, 64);

	(void)state;
	conn_start(&f->t->c, false);
	peer_send(f, "x");
	run_until(f, &f->st.frees, 1);
	assert_int_equal(f->st.eofs, 1);
	assert_int_equal(f->st.err_at_close, EPROTO);
	assert_string_equal(f->st.why, "fake: bad record");
	assert_int_equal(k.closes, 1);
	fx_free(f);
}

/* The log prefix: kind#id, peer, age, state. */
static char last_line[1024];

static void sink(enum log_level level, const char *line, void *arg)
{
	(void)level;
	(void)arg;
	snprintf(last_line, sizeof(last_line), "%s", line);
}

static void test_log_conn_prefix(void **state)
{
	struct fx *f = fx_new(T_ECHO, 64, 64, &t_ops);

	(void)state;
	log_init("test", LOG_TO_CALLBACK, LOG_LVL_DEBUG);
	log_set_sink(sink, NULL);
	f->t->c.id = 42;
	log_conn(LOG_LVL_INFO, &f->t->c, "hello %d", 7);
	assert_non_null(strstr(last_line, "test#42 unix age "));
	assert_non_null(strstr(last_line, "s OPEN: hello 7"));
	log_set_level(LOG_LVL_ERROR);
	last_line[0] = '\0';
	log_conn(LOG_LVL_DEBUG, &f->t->c, "quiet");
	assert_string_equal(last_line, "");
	log_init("test", LOG_TO_STDERR, LOG_LVL_ERROR);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conn_flushes_replies),
		cmocka_unit_test(test_conn_backpressure),
		cmocka_unit_test(test_conn_idle_deadline_closes),
		cmocka_unit_test(test_conn_fixed_deadline_default_close),
		cmocka_unit_test(test_conn_timeout_kept_open),
		cmocka_unit_test(test_conn_close_in_callback_frees_after),
		cmocka_unit_test(test_conn_close_outside_reaped_by_loop),
		cmocka_unit_test(test_conn_destroy_pending_reap),
		cmocka_unit_test(test_conn_close_after_flush),
		cmocka_unit_test(test_conn_eof_after_reply),
		cmocka_unit_test(test_conn_rx_full_closes),
		cmocka_unit_test(test_conn_list_unlinks_on_free),
		cmocka_unit_test(test_conn_send_write_through),
		cmocka_unit_test(test_conn_take_fd_keeps_socket),
		cmocka_unit_test(test_conn_take_buffers_at_first_byte),
		cmocka_unit_test(test_conn_eof_before_any_byte),
		cmocka_unit_test(test_conn_write_error_closes),
		cmocka_unit_test(test_conn_shut_write_after_tx),
		cmocka_unit_test(test_conn_release),
		cmocka_unit_test(test_log_conn_prefix),
		cmocka_unit_test(test_conn_tp_read_wants_write),
		cmocka_unit_test(test_conn_tp_write_wants_read),
		cmocka_unit_test(test_conn_tp_short_writes_and_eagain),
		cmocka_unit_test(test_conn_tp_pending_bytes_read),
		cmocka_unit_test(test_conn_tp_opening_before_bytes),
		cmocka_unit_test(test_conn_tp_close_after_flush_while_opening),
		cmocka_unit_test(test_conn_tp_opening_fails_with_reason),
		cmocka_unit_test(test_conn_tp_recv_fails_with_reason),
	};

	signal(SIGPIPE, SIG_IGN); /* as the daemons do: a write to a gone peer fails with EPIPE */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
