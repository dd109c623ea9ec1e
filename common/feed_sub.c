/* common/feed_sub.c - subscriber to one agent's state feed; see feed_sub.h.
 *
 * States: IDLE (stopped or backing off) -> CONNECTING (sock_connector, its own deadline) ->
 * STREAMING (SUBSCRIBE sent; <timer> is the silence deadline, 3 heartbeats, re-armed on every
 * frame) -> back to IDLE on any loss, with a backoff timer doubling from FEED_SUB_BACKOFF_MIN
 * to FEED_SUB_BACKOFF_MAX and reset by the first good frame. Only feed_sub_set_state() writes
 * ->state. The callback may call feed_sub_stop() but must not free <fs>. */
#include "common/feed_sub.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

#define FEED_SUB_BACKOFF_MIN 0.1 /* first reconnect delay (s) */
#define FEED_SUB_BACKOFF_MAX 2.0 /* reconnect delay cap (s) */
#define FEED_SUB_SILENCE     3.0 /* heartbeats without a frame before the node is unknown */

static const char *const feed_sub_state_names[FEED_SUB_ST_COUNT] = {
	[FEED_SUB_ST_IDLE] = "IDLE",
	[FEED_SUB_ST_CONNECTING] = "CONNECTING",
	[FEED_SUB_ST_STREAMING] = "STREAMING",
};

const char *feed_sub_state_name(enum feed_sub_state st)
{
	return (unsigned)st < FEED_SUB_ST_COUNT ? feed_sub_state_names[st] : "?";
}

/* The only writer of <fs->state>; arms the new state's timer. */
static void feed_sub_set_state(struct feed_sub *fs, enum feed_sub_state to)
{
	log_debug("feed %s %s -> %s", fs->addr.text, feed_sub_state_names[fs->state],
	          feed_sub_state_names[to]);
	fs->state = to;
	switch (to) {
	case FEED_SUB_ST_IDLE:
		ev_timer_stop(fs->loop, &fs->timer);
		break;
	case FEED_SUB_ST_CONNECTING:
		ev_timer_stop(fs->loop, &fs->timer); /* the connector has its own deadline */
		break;
	case FEED_SUB_ST_STREAMING:
		fs->timer.repeat = FEED_SUB_SILENCE * fs->heartbeat;
		ev_timer_again(fs->loop, &fs->timer);
		break;
	case FEED_SUB_ST_COUNT:
		break;
	}
}

static void feed_sub_close_fd(struct feed_sub *fs)
{
	if (fs->fd != -1) {
		ev_io_stop(fs->loop, &fs->io);
		close(fs->fd);
		fs->fd = -1;
	}
	buf_reset(&fs->rx);
}

/* Ends the current attempt, tells the owner, schedules the next attempt after the backoff. */
static void feed_sub_lost(struct feed_sub *fs, const char *why)
{
	bool had_state = fs->has_state;

	sock_connector_cancel(&fs->conn);
	feed_sub_close_fd(fs);
	fs->has_state = false;
	fs->losses++;
	feed_sub_set_state(fs, FEED_SUB_ST_IDLE);
	ev_timer_set(&fs->timer, fs->backoff, 0.0);
	ev_timer_start(fs->loop, &fs->timer);
	fs->backoff =
	    fs->backoff * 2 > FEED_SUB_BACKOFF_MAX ? FEED_SUB_BACKOFF_MAX : fs->backoff * 2;
	/* A node we were hearing from going silent is news; retries that keep failing are not. */
	if (had_state)
		log_warning("feed %s: lost: %s", fs->addr.text, why);
	else
		log_debug("feed %s: attempt failed: %s", fs->addr.text, why);
	fs->cb(fs, FEED_SUB_EV_LOST, NULL, why);
}

/* Decodes every whole frame in <rx>. Returns false when the stream was closed meanwhile. */
static bool feed_sub_process(struct feed_sub *fs)
{
	while (fs->state == FEED_SUB_ST_STREAMING) {
		struct node_state next;
		const char *why = NULL;
		size_t plen = 0;
		int n;

		n = ns_frame_peek(buf_head(&fs->rx), buf_len(&fs->rx), NS_FRAME_MAX, &plen);
		if (n == 0)
			return true;
		if (n < 0) {
			feed_sub_lost(fs, "bad frame length");
			return false;
		}
		if (ns_decode(buf_head(&fs->rx) + NS_FRAME_HDR, plen, &next, &why) == -1) {
			char msg[160];

			snprintf(msg, sizeof(msg), "bad frame: %s", why);
			feed_sub_lost(fs, msg);
			return false;
		}
		buf_consume(&fs->rx, (size_t)n);
		fs->last = next;
		fs->has_state = true;
		fs->frames++;
		fs->backoff = FEED_SUB_BACKOFF_MIN;
		ev_timer_again(fs->loop, &fs->timer);
		fs->cb(fs, FEED_SUB_EV_STATE, &fs->last, NULL);
	}
	return false;
}

static void feed_sub_on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct feed_sub *fs = container_of(w, struct feed_sub, io);
	ssize_t n;

	(void)loop;
	(void)revents;
	n = buf_read_fd(&fs->rx, fs->fd);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n == -1) {
		char msg[128];

		/* ENOBUFS cannot happen: rx holds a whole maximal frame and frames are consumed
		 * as soon as they are complete. */
		snprintf(msg, sizeof(msg), "read: %s", strerror(errno));
		feed_sub_lost(fs, msg);
		return;
	}
	if (n == 0) {
		feed_sub_lost(fs, "closed by the agent");
		return;
	}
	feed_sub_process(fs);
}

static void feed_sub_on_connect(struct sock_connector *c, int fd, int err)
{
	struct feed_sub *fs = c->arg;
	static const char subscribe[] = "SUBSCRIBE\n";
	ssize_t n;

	if (fd == -1) {
		char msg[128];

		snprintf(msg, sizeof(msg), "connect: %s", strerror(err));
		feed_sub_lost(fs, msg);
		return;
	}
	/* A fresh socket always has room for 10 bytes: a short write here means trouble. */
	n = write(fd, subscribe, sizeof(subscribe) - 1);
	if (n != (ssize_t)sizeof(subscribe) - 1) {
		close(fd);
		feed_sub_lost(fs, "could not send SUBSCRIBE");
		return;
	}
	fs->fd = fd;
	ev_io_set(&fs->io, fd, EV_READ);
	ev_io_start(fs->loop, &fs->io);
	feed_sub_set_state(fs, FEED_SUB_ST_STREAMING);
}

static void feed_sub_connect(struct feed_sub *fs)
{
	feed_sub_set_state(fs, FEED_SUB_ST_CONNECTING);
	if (sock_connector_start(&fs->conn, &fs->addr, fs->connect_timeout) == -1) {
		char msg[128];

		snprintf(msg, sizeof(msg), "connect: %s", strerror(errno));
		feed_sub_lost(fs, msg);
	}
}

static void feed_sub_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct feed_sub *fs = container_of(w, struct feed_sub, timer);

	(void)loop;
	(void)revents;
	switch (fs->state) {
	case FEED_SUB_ST_IDLE:
		feed_sub_connect(fs);
		break;
	case FEED_SUB_ST_STREAMING:
		feed_sub_lost(fs, "no frame for 3 heartbeats");
		break;
	case FEED_SUB_ST_CONNECTING:
	case FEED_SUB_ST_COUNT:
		break;
	}
}

/* Prepares <fs> to follow the agent at <addr> whose heartbeat interval is <heartbeat> seconds.
 * Allocates the receive buffer. Returns 0, or -1 with errno. */
int feed_sub_init(struct feed_sub *fs, struct ev_loop *loop, const struct cfg_addr *addr,
                  double heartbeat, feed_sub_cb cb, void *arg)
{
	memset(fs, 0, sizeof(*fs)); /* state FEED_SUB_ST_IDLE (0) */
	if (buf_init(&fs->rx, NS_FRAME_HDR + NS_FRAME_MAX) == -1)
		return -1;
	fs->loop = loop;
	fs->addr = *addr;
	fs->heartbeat = heartbeat > 0 ? heartbeat : 0.5;
	fs->connect_timeout = fs->heartbeat * FEED_SUB_SILENCE;
	fs->backoff = FEED_SUB_BACKOFF_MIN;
	fs->fd = -1;
	fs->cb = cb;
	fs->arg = arg;
	sock_connector_init(&fs->conn, loop, feed_sub_on_connect, fs);
	ev_init(&fs->io, feed_sub_on_read);
	ev_init(&fs->timer, feed_sub_on_timer);
	return 0;
}

/* Starts connecting now; from here on <fs> reconnects by itself until feed_sub_stop(). */
void feed_sub_start(struct feed_sub *fs)
{
	if (fs->state != FEED_SUB_ST_IDLE)
		return;
	fs->backoff = FEED_SUB_BACKOFF_MIN;
	feed_sub_connect(fs);
}

/* Stops every watcher and closes the connection; no callback is made. */
void feed_sub_stop(struct feed_sub *fs)
{
	sock_connector_cancel(&fs->conn);
	feed_sub_close_fd(fs);
	ev_timer_stop(fs->loop, &fs->timer);
	fs->has_state = false;
	feed_sub_set_state(fs, FEED_SUB_ST_IDLE);
}

void feed_sub_free(struct feed_sub *fs)
{
	feed_sub_stop(fs);
	buf_free(&fs->rx);
}
