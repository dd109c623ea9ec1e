/* common/conn.c - one connection on libev, accepted or connected; see conn.h for what it owns,
 * when it is freed, and how a transport (TLS) sits between the socket and the buffers. */
#include "common/conn.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netinet/in.h>

#include "common/sock.h"

#define CONN_WRITE_ROUNDS 16 /* write + on_drain rounds per event before EV_WRITE takes over */

static const char *const conn_st_name[CONN_ST_COUNT] = {
	[CONN_ST_OPEN] = "OPEN",
	[CONN_ST_FLUSHING] = "FLUSHING",
	[CONN_ST_CLOSED] = "CLOSED",
	[CONN_ST_OPENING] = "OPENING",
};

const char *conn_state_name(enum conn_state st)
{
	return (unsigned)st < CONN_ST_COUNT ? conn_st_name[st] : "?";
}

/* "<kind>#<id> <peer> :<lport> age <s>s <STATE>: <message>", one line, one call. */
void log_conn(enum log_level level, const struct conn *c, const char *fmt, ...)
{
	char msg[512];
	char port[16] = "";
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->lport != 0)
		snprintf(port, sizeof(port), " :%u", c->lport);
	log_msg(level, "%s#%llu %s%s age %.3fs %s: %s", c->kind, (unsigned long long)c->id, c->peer,
	        port, conn_age(c), conn_state_name(c->state), msg);
}

/* The only writer of <c->state>. CLOSED stops both watchers. */
static void conn_set_state(struct conn *c, enum conn_state to)
{
	if (log_enabled(LOG_LVL_DEBUG) && c->state != to)
		log_conn(LOG_LVL_DEBUG, c, "-> %s", conn_state_name(to));
	c->state = to;
	switch (to) {
	case CONN_ST_OPENING:
	case CONN_ST_OPEN:
	case CONN_ST_FLUSHING:
		break;
	case CONN_ST_CLOSED:
	case CONN_ST_COUNT:
		ev_io_stop(c->loop, &c->io);
		ev_timer_stop(c->loop, &c->timer);
		c->events = 0;
		break;
	}
}

/* Reading is wanted: open, not paused, not at the end, under the backpressure bound. */
static bool conn_reading(const struct conn *c)
{
	return c->state == CONN_ST_OPEN && !c->read_off && !c->eof &&
	       (c->tx_high == 0 || buf_len(&c->tx) < c->tx_high);
}

/* Sets the watcher's interest from the state and <tx>: the opening's next step; the event the
 * next read waits for (EV_READ unless a transport said otherwise) while reading is wanted;
 * the event the next write waits for while <tx> holds bytes. Touches libev only on a change. */
static void conn_arm(struct conn *c)
{
	int ev = 0;

	if (c->state == CONN_ST_CLOSED)
		return;
	if (c->state == CONN_ST_OPENING) {
		ev = c->rx_wait;
	} else {
		if (conn_reading(c))
			ev |= c->rx_wait;
		if (buf_len(&c->tx) > 0)
			ev |= c->tx_wait;
	}
	if (ev == c->events)
		return;
	ev_io_stop(c->loop, &c->io);
	if (ev != 0) {
		ev_io_set(&c->io, c->fd, ev);
		ev_io_start(c->loop, &c->io);
	}
	c->events = ev;
}

/* Bytes moved: an idle deadline counts from now (the timer catches up when it fires). */
static inline void conn_touch(struct conn *c)
{
	c->last_active = ev_now(c->loop);
}

/* Links <c> at the head of <l>; it leaves <l> when it is freed. */
void conn_list_add(struct conn_list *l, struct conn *c)
{
	c->list = l;
	c->prev = NULL;
	c->next = l->head;
	if (l->head != NULL)
		l->head->prev = c;
	l->head = c;
	l->n++;
}

static void conn_list_unlink(struct conn *c)
{
	struct conn_list *l = c->list;

	if (l == NULL)
		return;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	l->n--;
	c->list = NULL;
	c->prev = NULL;
	c->next = NULL;
}

/* Unlinks <c>, frees its buffers and hands it back to its owner. <c> is CLOSED, no callback of
 * it runs. */
static void conn_reap(struct conn *c)
{
	conn_list_unlink(c);
	ev_io_stop(c->loop, &c->io);
	ev_timer_stop(c->loop, &c->timer);
	buf_free(&c->rx);
	buf_free(&c->tx);
	c->ops->on_free(c);
}

/* Frees the connections of <l> that are closed and in none of their callbacks: an owner's
 * operation over many connections (a publish) calls it at its end, so that what it closed is
 * gone when it returns rather than on the loop's next iteration. */
void conn_list_reap(struct conn_list *l)
{
	struct conn *c = l->head;

	while (c != NULL) {
		struct conn *next = c->next;

		if (c->state == CONN_ST_CLOSED && c->depth == 0)
			conn_reap(c);
		c = next;
	}
}

/* Leaves a callback (or a call that may close): the outermost one reaps a closed connection
 * when <may_reap>, else has the loop reap it; an open one gets its watchers set. */
static void conn_leave(struct conn *c, bool may_reap)
{
	assert(c->depth > 0);
	if (--c->depth > 0)
		return;
	if (c->state != CONN_ST_CLOSED) {
		conn_arm(c);
		/* decoded bytes wait in the transport: no socket event will say so */
		if (c->tp != NULL && c->tp->pending != NULL && conn_reading(c) && c->tp->pending(c))
			ev_feed_event(c->loop, &c->io, c->rx_wait);
		return;
	}
	if (may_reap) {
		conn_reap(c);
		return;
	}
	ev_timer_stop(c->loop, &c->timer);
	ev_timer_set(&c->timer, 0., 0.);
	ev_timer_start(c->loop, &c->timer);
}

/* Closes <c> with <why>, closing the socket unless <keep_fd>; returns the socket. */
static int conn_shut(struct conn *c, const char *why, bool keep_fd)
{
	int fd = c->fd;

	if (c->state == CONN_ST_CLOSED)
		return -1;
	c->why = why;
	log_conn(LOG_LVL_DEBUG, c, "closed: %s", why);
	c->depth++; /* on_close is a callback of <c>: a release from it frees nothing under us */
	conn_set_state(c, CONN_ST_CLOSED);
	if (c->ops->on_close != NULL)
		c->ops->on_close(c);
	if (c->tp != NULL && c->tp->close != NULL)
		c->tp->close(c);
	if (!keep_fd)
		close(fd);
	c->fd = -1;
	/* outside the connection's callbacks: the loop reaps it on its next iteration */
	conn_leave(c, false);
	return fd;
}

void conn_close(struct conn *c, const char *why)
{
	conn_shut(c, why, false);
}

/* Sends up to <len> bytes at <p> through the transport, or write()s them. Returns the bytes
 * sent (> 0) or a CONN_IO_* value, <c->err> set on CONN_IO_ERROR. */
static ssize_t conn_tx(struct conn *c, const void *p, size_t len)
{
	ssize_t n;

	if (c->tp != NULL)
		return c->tp->send(c, p, len);
	do {
		n = write(c->fd, p, len);
	} while (n == -1 && errno == EINTR);
	if (n > 0)
		return n;
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return CONN_IO_WANT_WRITE;
	c->err = n == 0 ? EPIPE : errno;
	return CONN_IO_ERROR;
}

/* Reads up to <len> bytes into <p> through the transport, or read()s them. Returns the bytes
 * (> 0), 0 at the end, or a CONN_IO_* value, <c->err> set on CONN_IO_ERROR. */
static ssize_t conn_rx(struct conn *c, void *p, size_t len)
{
	ssize_t n;

	if (c->tp != NULL)
		return c->tp->recv(c, p, len);
	do {
		n = read(c->fd, p, len);
	} while (n == -1 && errno == EINTR);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return CONN_IO_WANT_READ;
	c->err = errno;
	return CONN_IO_ERROR;
}

/* A CONN_IO_WANT_* value as the libev event it waits for. */
static int conn_io_wait(ssize_t r)
{
	return r == CONN_IO_WANT_WRITE ? EV_WRITE : EV_READ;
}

/* A send or the opening failed: closes with the transport's reason, else <why>. */
static void conn_fail(struct conn *c, const char *doing, const char *why)
{
	log_conn(LOG_LVL_DEBUG, c, "%s: %s", doing,
	         c->tp_why != NULL ? c->tp_why : strerror(c->err));
	conn_close(c, c->tp_why != NULL ? c->tp_why : why);
}

/* Writes <tx> until it is empty or the socket refuses; an emptied <tx> is told to the owner
 * (on_drain), who may queue more. A FLUSHING connection closes once all is sent. */
static void conn_write(struct conn *c)
{
	int round;

	if (c->state == CONN_ST_OPENING)
		return; /* the owner's bytes wait for the transport's opening */
	for (round = 0; round < CONN_WRITE_ROUNDS && buf_len(&c->tx) > 0; round++) {
		bool over = c->tx_high > 0 && buf_len(&c->tx) >= c->tx_high;
		ssize_t n = conn_tx(c, buf_head(&c->tx), buf_len(&c->tx));

		if (n == CONN_IO_WANT_READ || n == CONN_IO_WANT_WRITE) {
			c->tx_wait = conn_io_wait(n);
			return;
		}
		if (n <= 0) {
			conn_fail(c, "write", "write failed");
			return;
		}
		c->tx_wait = EV_WRITE;
		buf_consume(&c->tx, (size_t)n);
		conn_touch(c);
		if (buf_len(&c->tx) == 0)
			buf_reset(&c->tx);
		else if (!over || buf_len(&c->tx) >= c->tx_high)
			continue; /* a short write: try once more, EAGAIN ends it */
		if (c->ops->on_drain != NULL)
			c->ops->on_drain(c);
		if (c->state == CONN_ST_CLOSED)
			return;
	}
	if (c->state == CONN_ST_FLUSHING && buf_len(&c->tx) == 0)
		conn_close(c, c->why);
	if (c->shut_wr && c->state == CONN_ST_OPEN && buf_len(&c->tx) == 0) {
		c->shut_wr = false; /* once: the peer reads the end of the request */
		if (shutdown(c->fd, SHUT_WR) == -1) {
			c->err = errno;
			log_conn(LOG_LVL_DEBUG, c, "shutdown: %s", strerror(c->err));
			conn_close(c, "write failed");
		}
	}
}

/* No storage in <rx> yet: a peek says whether bytes came (the owner gives storage then), or
 * the end. Returns true when <rx> may be read into. */
static bool conn_rx_ready(struct conn *c)
{
	uint8_t probe;
	ssize_t p;

	if (c->rx.size > 0)
		return true;
	if (c->ops->take_buffers == NULL) {
		conn_close(c, "no receive buffer (bug)");
		return false;
	}
	p = recv(c->fd, &probe, 1, MSG_PEEK);
	if (p == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return false; /* nothing yet: no buffer taken */
	if (p == 1) {
		if (c->ops->take_buffers(c) == -1) {
			conn_close(c, "out of memory for the buffers");
			return false;
		}
		return true;
	}
	c->eof = true; /* the end before any byte */
	c->err = p == 0 ? 0 : errno;
	c->ops->on_read(c, true);
	return false;
}

/* One read into <rx>, then the owner. */
static void conn_read(struct conn *c)
{
	ssize_t n;

	if (!conn_rx_ready(c))
		return;
	if (buf_room(&c->rx) == 0) {
		/* the owner stopped with <rx> full (backpressure): its turn first */
		c->ops->on_read(c, false);
		if (c->state == CONN_ST_OPEN && buf_room(&c->rx) == 0)
			conn_close(c, "receive buffer full");
		return;
	}
	if (buf_tail_room(&c->rx) == 0)
		buf_compact(&c->rx);
	n = conn_rx(c, buf_tail(&c->rx), buf_tail_room(&c->rx));
	if (n == CONN_IO_WANT_READ || n == CONN_IO_WANT_WRITE) {
		c->rx_wait = conn_io_wait(n);
		return;
	}
	c->rx_wait = EV_READ;
	if (n > 0) {
		buf_commit(&c->rx, (size_t)n);
		conn_touch(c);
	} else {
		c->eof = true;
		if (n == 0)
			c->err = 0;
		if (c->err != 0)
			log_conn(LOG_LVL_DEBUG, c, "read: %s",
			         c->tp_why != NULL ? c->tp_why : strerror(c->err));
	}
	c->ops->on_read(c, c->eof);
}

/* OPENING: one step of the transport's opening; done, the connection is OPEN and the owner is
 * told (on_open), failed, it is closed with the transport's reason. */
static void conn_open_step(struct conn *c)
{
	int r = c->tp->open(c);

	if (r == CONN_IO_WANT_READ || r == CONN_IO_WANT_WRITE) {
		c->rx_wait = conn_io_wait(r);
		return;
	}
	if (r != 0) {
		conn_fail(c, "opening", "opening failed");
		return;
	}
	c->rx_wait = EV_READ;
	/* a close after flush asked during the opening (<why> set) flushes now */
	conn_set_state(c, c->why != NULL ? CONN_ST_FLUSHING : CONN_ST_OPEN);
	if (c->ops->on_open != NULL)
		c->ops->on_open(c);
}

static void conn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = container_of(w, struct conn, io);

	(void)loop;
	c->depth++;
	if (c->state == CONN_ST_OPENING)
		conn_open_step(c);
	/* the read waits for <rx_wait> (EV_WRITE: a TLS read that must write first) */
	if ((revents & c->rx_wait) != 0 && conn_reading(c))
		conn_read(c);
	if (c->state != CONN_ST_CLOSED)
		conn_write(c); /* what the owner queued, or what EV_WRITE says fits now */
	if (c->state == CONN_ST_OPEN && c->eof && c->err != 0)
		conn_close(c, c->tp_why != NULL      ? c->tp_why
		              : c->err == ECONNRESET ? "reset by the peer"
		                                     : "read failed");
	else if (c->state == CONN_ST_OPEN && c->eof && buf_len(&c->tx) == 0)
		conn_close(c, "closed by the peer");
	else if (c->state == CONN_ST_OPEN && c->eof)
		conn_close_after_flush(c, "closed by the peer");
	conn_leave(c, true);
}

static void conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = container_of(w, struct conn, timer);

	(void)revents;
	c->depth++;
	if (c->state != CONN_ST_CLOSED && c->deadline_idle) {
		double left = c->last_active + c->deadline - ev_now(loop);

		if (left > 0.001) { /* bytes moved meanwhile: the rest of the idle time */
			c->timer.repeat = left;
			ev_timer_again(loop, &c->timer);
			conn_leave(c, true);
			return;
		}
		c->timer.repeat = c->deadline; /* a next period, for an owner that keeps <c> */
		ev_timer_again(loop, &c->timer);
	}
	if (c->state != CONN_ST_CLOSED) {
		if (c->ops->on_timeout != NULL)
			c->ops->on_timeout(c);
		else
			conn_close(c, "timeout");
		if (c->state != CONN_ST_CLOSED)
			conn_write(c);
	}
	conn_leave(c, true);
}

/* Takes <fd> (non-blocking, accepted or connected) for <ops>. <peer>: the address accept()
 * gave, or NULL to ask the socket. Buffers are empty and storage-less: the owner gives them theirs (buf_init or
 * buf_init_static) before conn_start(). Nothing is armed yet. */
void conn_init(struct conn *c, struct ev_loop *loop, int fd, const struct conn_ops *ops,
               const char *kind, uint64_t id, const struct sockaddr_storage *peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	memset(c, 0, sizeof(*c));
	c->loop = loop;
	c->fd = fd;
	c->ops = ops;
	c->kind = kind;
	c->id = id;
	c->opened = ev_now(loop); /* <state> is CONN_ST_OPEN (0) from the memset */
	c->rx_wait = EV_READ;
	c->tx_wait = EV_WRITE;
	ev_io_init(&c->io, conn_io_cb, fd, 0);
	ev_init(&c->timer, conn_timer_cb);
	if (peer == NULL) {
		memset(&ss, 0, sizeof(ss));
		if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
			ss.ss_family = AF_UNSPEC;
		peer = &ss;
	}
	sock_addr_str(peer, c->peer, sizeof(c->peer));
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET)
			c->lport = ntohs(((const struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			c->lport = ntohs(((const struct sockaddr_in6 *)&ss)->sin6_port);
	}
}

/* Puts <tp> (with its state <ctx>) between the socket and the buffers; before conn_start(). A
 * transport with an opening starts it when the socket is writable (conn_start(c, true): at
 * once). */
void conn_set_transport(struct conn *c, const struct conn_transport *tp, void *ctx)
{
	c->tp = tp;
	c->tp_ctx = ctx;
	c->tp_why = NULL;
	if (tp->open != NULL) {
		c->rx_wait = EV_WRITE;
		conn_set_state(c, CONN_ST_OPENING);
	}
}

/* The deadline: <seconds> from now (0: none); <idle>: started again by every read or write
 * that moves bytes, else fixed. */
void conn_set_deadline(struct conn *c, double seconds, bool idle)
{
	c->deadline = seconds;
	c->deadline_idle = idle;
	if (c->state == CONN_ST_CLOSED)
		return;
	ev_timer_stop(c->loop, &c->timer);
	if (seconds <= 0)
		return;
	if (idle) {
		c->last_active = ev_now(c->loop);
		c->timer.repeat = seconds;
		ev_timer_again(c->loop, &c->timer);
	} else {
		ev_timer_set(&c->timer, seconds, 0.);
		ev_timer_start(c->loop, &c->timer);
	}
}

/* Arms reading. <read_now>: read at once what is already in the socket, as if EV_READ had
 * fired (and take the first step of a transport's opening); <c> may then be closed and freed
 * on return (the owner must not touch it after). */
void conn_start(struct conn *c, bool read_now)
{
	c->depth++;
	conn_leave(c, false);
	if (read_now)
		conn_io_cb(c->loop, &c->io, EV_READ);
}

/* Sends what the owner queued in <tx>, now. For use outside the connection's own callbacks
 * (inside them, the layer writes when the callback returns). Returns 0, or -1 when <c> is
 * closed (it is then reaped by the loop, never under the caller's feet). */
int conn_flush(struct conn *c)
{
	if (c->state == CONN_ST_CLOSED)
		return -1;
	c->depth++;
	conn_write(c);
	conn_leave(c, false);
	return c->state == CONN_ST_CLOSED ? -1 : 0;
}

/* Sends <len> bytes at <p>: written at once when nothing waits before them, the rest (or all)
 * queued in <tx>; a <tx> without storage gets just the room for that rest (a reply built in a
 * shared scratch buffer costs no copy when the socket takes it whole). Returns 0, or -1 when
 * <c> is closed (write error, no memory, <tx> full). */
int conn_send(struct conn *c, const void *p, size_t len)
{
	const uint8_t *b = p;
	ssize_t n = 0;

	if (c->state == CONN_ST_CLOSED)
		return -1;
	if (buf_len(&c->tx) == 0 && len > 0 && c->state != CONN_ST_OPENING) {
		n = conn_tx(c, b, len);
		if (n == CONN_IO_ERROR) {
			conn_fail(c, "write", "write failed");
			return -1;
		}
		if (n > 0) {
			conn_touch(c);
		} else {
			c->tx_wait = conn_io_wait(n);
			n = 0;
		}
	}
	b += n;
	len -= (size_t)n;
	if (len == 0)
		return 0;
	if (c->tx.data == NULL && buf_init(&c->tx, len) == -1) {
		conn_close(c, "out of memory for the rest of a reply");
		return -1;
	}
	if (buf_append(&c->tx, b, len) == -1) {
		conn_close(c, "send buffer full");
		return -1;
	}
	if (c->depth == 0)
		conn_arm(c);
	return 0;
}

/* Hands the socket to another owner: stops the watchers and closes <c> without closing the
 * socket, which is returned (-1 when <c> was closed already). <c> is freed as after
 * conn_close(). */
int conn_take_fd(struct conn *c, const char *why)
{
	return conn_shut(c, why, true);
}

/* The owner stops (or resumes) reading, whatever <tx> holds. */
void conn_pause_read(struct conn *c, bool paused)
{
	c->read_off = paused;
	if (c->depth == 0)
		conn_arm(c);
}

/* No more reading; closes with <why> (a static text) once <tx> is sent. Asked while a
 * transport's opening is under way: once it is done and <tx> is sent. */
void conn_close_after_flush(struct conn *c, const char *why)
{
	if (c->state == CONN_ST_OPENING) {
		c->why = why; /* FLUSHING once the opening is done */
		return;
	}
	if (c->state != CONN_ST_OPEN)
		return;
	c->why = why;
	conn_set_state(c, CONN_ST_FLUSHING);
	if (c->depth == 0) {
		c->depth++;
		conn_write(c);
		conn_leave(c, false);
	}
}

/* Closes <c> (if open) and frees it now. Only outside the connection's own callbacks (an owner
 * evicting it, or stopping). */
void conn_destroy(struct conn *c, const char *why)
{
	assert(c->depth == 0);
	c->depth++; /* no reaper timer: it goes below */
	conn_close(c, why);
	c->depth--;
	conn_reap(c);
}

/* For an owner that keeps one connection in its own struct and starts it again (a client that
 * reconnects): closes <c> (if open) and frees it now, or, from inside one of <c>'s own
 * callbacks, at the end of the outermost one. Either way on_free tells the owner, who may then
 * conn_init() <c> again. */
void conn_release(struct conn *c, const char *why)
{
	if (c->depth > 0) {
		conn_close(c, why);
		return;
	}
	conn_destroy(c, why);
}

/* The request is whole: shuts the socket's write side (the peer reads its end) once <tx> is
 * sent, and goes on reading the answer. For a client whose server answers until the end of
 * the request (HAProxy's runtime API). Nothing may be sent after it. A failed shutdown closes
 * <c> as "write failed". It shuts the socket itself: over a transport (TLS) the transport's own
 * end of stream (close_notify) is not sent, so no TLS owner uses it. */
void conn_shut_write(struct conn *c)
{
	if (c->state != CONN_ST_OPEN)
		return;
	c->shut_wr = true;
	if (c->depth == 0) {
		c->depth++;
		conn_write(c);
		conn_leave(c, false);
	}
}
