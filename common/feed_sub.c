/* common/feed_sub.c - subscriber to one agent's state feed; see feed_sub.h.
 *
 * States: IDLE (stopped or backing off) -> CONNECTING (sock_connector, its own deadline) ->
 * STREAMING (a struct conn, common/conn.h; SUBSCRIBE sent; the connection's fixed deadline is
 * the silence limit, 3 heartbeats, set again on every frame) -> back to IDLE on any loss, with
 * a backoff timer doubling from FEED_SUB_BACKOFF_MIN to FEED_SUB_BACKOFF_MAX and reset by the
 * first good frame. Only feed_sub_set_state() writes ->state. The callback may call
 * feed_sub_stop() but must not free <fs>. */
#include "common/feed_sub.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The only writer of <fs->state>. The backoff timer runs in IDLE only; the connector and the
 * stream have their own deadlines. */
static void feed_sub_set_state(struct feed_sub *fs, enum feed_sub_state to)
{
	log_debug("feed %s %s -> %s", fs->addr.text, feed_sub_state_names[fs->state],
	          feed_sub_state_names[to]);
	fs->state = to;
	switch (to) {
	case FEED_SUB_ST_IDLE:
	case FEED_SUB_ST_CONNECTING:
	case FEED_SUB_ST_STREAMING:
		ev_timer_stop(fs->loop, &fs->timer);
		break;
	case FEED_SUB_ST_COUNT:
		break;
	}
}

/* Ends the current attempt, tells the owner, schedules the next attempt after the backoff. */
static void feed_sub_lost(struct feed_sub *fs, const char *why)
{
	bool had_state = fs->has_state;

	sock_connector_cancel(&fs->connector);
	feed_sub_set_state(fs, FEED_SUB_ST_IDLE); /* first: on_close then knows we closed */
	if (fs->c_live && !conn_is_closed(&fs->c))
		conn_close(&fs->c, why);
	fs->has_state = false;
	fs->losses++;
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
	struct buf *rx = &fs->c.rx;

	while (fs->state == FEED_SUB_ST_STREAMING) {
		struct node_state next;
		const char *why = NULL;
		size_t plen = 0;
		int n;

		n = ns_frame_peek(buf_head(rx), buf_len(rx), NS_FRAME_MAX, &plen);
		if (n == 0)
			return true;
		if (n < 0) {
			feed_sub_lost(fs, "bad frame length");
			return false;
		}
		if (ns_decode(buf_head(rx) + NS_FRAME_HDR, plen, &next, &why) == -1) {
			char msg[160];

			snprintf(msg, sizeof(msg), "bad frame: %s", why);
			feed_sub_lost(fs, msg);
			return false;
		}
		buf_consume(rx, (size_t)n);
		fs->last = next;
		fs->has_state = true;
		fs->frames++;
		fs->backoff = FEED_SUB_BACKOFF_MIN;
		conn_set_deadline(&fs->c, FEED_SUB_SILENCE * fs->heartbeat, false);
		fs->cb(fs, FEED_SUB_EV_STATE, &fs->last, NULL);
	}
	return false;
}

/* Frames, then the end of the stream. <rx> holds a whole maximal frame and frames are consumed
 * as soon as they are complete, so it is never full with nothing to consume. */
static void feed_sub_on_read(struct conn *c, bool eof)
{
	struct feed_sub *fs = container_of(c, struct feed_sub, c);
	char msg[128];

	if (!feed_sub_process(fs) || !eof)
		return;
	if (c->err == 0) {
		feed_sub_lost(fs, "closed by the agent");
		return;
	}
	snprintf(msg, sizeof(msg), "read: %s", strerror(c->err));
	feed_sub_lost(fs, msg);
}

static void feed_sub_on_timeout(struct conn *c)
{
	feed_sub_lost(container_of(c, struct feed_sub, c), "no frame for 3 heartbeats");
}

/* A close we did not ask for (the layer's: a failed write) is a loss too. */
static void feed_sub_on_close(struct conn *c)
{
	struct feed_sub *fs = container_of(c, struct feed_sub, c);

	switch (fs->state) {
	case FEED_SUB_ST_IDLE: /* feed_sub_lost() or feed_sub_stop() closed it */
	case FEED_SUB_ST_COUNT:
		return;
	case FEED_SUB_ST_CONNECTING: /* SUBSCRIBE was being sent */
		feed_sub_lost(fs, "could not send SUBSCRIBE");
		return;
	case FEED_SUB_ST_STREAMING:
		feed_sub_lost(fs, c->why);
		return;
	}
}

static void feed_sub_on_free(struct conn *c)
{
	container_of(c, struct feed_sub, c)->c_live = false;
}

static const struct conn_ops feed_sub_conn_ops = {
	.on_read = feed_sub_on_read,
	.on_timeout = feed_sub_on_timeout,
	.on_close = feed_sub_on_close,
	.on_free = feed_sub_on_free,
};

/* Connected: the stream goes on common/conn, SUBSCRIBE first, the silence deadline armed. */
static void feed_sub_on_connect(struct sock_connector *sc, int fd, int err)
{
	struct feed_sub *fs = sc->arg;
	static const char subscribe[] = "SUBSCRIBE\n";

	if (fd == -1) {
		char msg[128];

		snprintf(msg, sizeof(msg), "connect: %s", strerror(err));
		feed_sub_lost(fs, msg);
		return;
	}
	if (fs->c_live)
		conn_release(&fs->c, "replaced"); /* the last stream, closed, not yet reaped */
	conn_init(&fs->c, fs->loop, fd, &feed_sub_conn_ops, "feed-sub", ++fs->connects, NULL);
	fs->c_live = true;
	buf_init_static(&fs->c.rx, fs->rx_storage, NS_FRAME_HDR + NS_FRAME_MAX);
	conn_set_deadline(&fs->c, FEED_SUB_SILENCE * fs->heartbeat, false);
	conn_start(&fs->c, false);
	if (conn_send(&fs->c, subscribe, sizeof(subscribe) - 1) == -1)
		return; /* on_close told the loss */
	feed_sub_set_state(fs, FEED_SUB_ST_STREAMING);
}

static void feed_sub_connect(struct feed_sub *fs)
{
	feed_sub_set_state(fs, FEED_SUB_ST_CONNECTING);
	if (sock_connector_start(&fs->connector, &fs->addr, fs->connect_timeout) == -1) {
		char msg[128];

		snprintf(msg, sizeof(msg), "connect: %s", strerror(errno));
		feed_sub_lost(fs, msg);
	}
}

/* The backoff ended. */
static void feed_sub_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct feed_sub *fs = container_of(w, struct feed_sub, timer);

	(void)loop;
	(void)revents;
	if (fs->state == FEED_SUB_ST_IDLE)
		feed_sub_connect(fs);
}

/* Prepares <fs> to follow the agent at <addr> whose heartbeat interval is <heartbeat> seconds.
 * Allocates the receive buffer. Returns 0, or -1 with errno. */
int feed_sub_init(struct feed_sub *fs, struct ev_loop *loop, const struct cfg_addr *addr,
                  double heartbeat, feed_sub_cb cb, void *arg)
{
	memset(fs, 0, sizeof(*fs)); /* state FEED_SUB_ST_IDLE (0) */
	fs->rx_storage = malloc(NS_FRAME_HDR + NS_FRAME_MAX);
	if (fs->rx_storage == NULL)
		return -1;
	fs->loop = loop;
	fs->addr = *addr;
	fs->heartbeat = heartbeat > 0 ? heartbeat : 0.5;
	fs->connect_timeout = fs->heartbeat * FEED_SUB_SILENCE;
	fs->backoff = FEED_SUB_BACKOFF_MIN;
	fs->cb = cb;
	fs->arg = arg;
	sock_connector_init(&fs->connector, loop, feed_sub_on_connect, fs);
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

/* Stops every watcher and closes the connection (freed at once, or at the end of the stream's
 * callback when called from the owner's callback); no callback is made. */
void feed_sub_stop(struct feed_sub *fs)
{
	sock_connector_cancel(&fs->connector);
	ev_timer_stop(fs->loop, &fs->timer);
	fs->has_state = false;
	feed_sub_set_state(fs, FEED_SUB_ST_IDLE);
	if (fs->c_live)
		conn_release(&fs->c, "stopped");
}

void feed_sub_free(struct feed_sub *fs)
{
	feed_sub_stop(fs);
	free(fs->rx_storage);
	fs->rx_storage = NULL;
}
