/* agent/port.c - the agent port; see port.h. A connection lives a few hundred microseconds in
 * the common case (HAProxy's agent-send arrives with the connect): accept, read, answer with
 * one write(), close, all in the accept callback. Connections are freed at the end of the
 * callback that closed them (STYLE: never free mid-callback). */
#include "agent/port.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/agent_line.h"
#include "agent/http_api.h"
#include "common/netacl.h"
#include "common/log.h"
#include "common/sock.h"

#define PORT_ACCEPTS_PER_EVENT 64 /* bounds one accept callback, so others get their turn */

static const char *const port_st_name[PORT_ST_COUNT] = {
	[PORT_ST_FIRST_LINE] = "FIRST_LINE",
	[PORT_ST_HTTP_HEAD] = "HTTP_HEAD",
	[PORT_ST_WRITING] = "WRITING",
	[PORT_ST_LINGER] = "LINGER",
};

static const char *const port_dialect_names[PORT_DIALECT_COUNT] = {
	[PORT_DIALECT_CHECK] = "agent-check",
	[PORT_DIALECT_HTTP] = "http",
	[PORT_DIALECT_SUBSCRIBE] = "subscribe",
};

const char *port_dialect_name(enum port_dialect d)
{
	return (unsigned)d < PORT_DIALECT_COUNT ? port_dialect_names[d] : "?";
}

static bool port_is_blank(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* Classifies the first line at <p>[<len>] (docs/design.md section 5). Returns the bytes of the line
 * with its "\n" (or "\r\n"), 0 while no "\n" is there and fewer than <max_line> bytes came,
 * -1 when <max_line> bytes came without a "\n" (the caller answers "too long" and closes).
 * <out->name> points into <p>. */
int port_first_line(const uint8_t *p, size_t len, size_t max_line, struct port_line *out)
{
	const uint8_t *nl;
	size_t n;
	size_t b = 0;

	memset(out, 0, sizeof(*out));
	out->name = (const char *)p;
	nl = memchr(p, '\n', len < max_line ? len : max_line);
	if (nl == NULL)
		return len >= max_line ? -1 : 0;
	n = (size_t)(nl - p);
	if (n > 0 && p[n - 1] == '\r')
		n--;
	if ((n == 9 && memcmp(p, "SUBSCRIBE", 9) == 0)) {
		out->dialect = PORT_DIALECT_SUBSCRIBE;
		return (int)(nl - p + 1);
	}
	if ((n >= 4 && memcmp(p, "GET ", 4) == 0) || (n >= 5 && memcmp(p, "HEAD ", 5) == 0) ||
	    (n >= 9 && memcmp(p + n - 9, " HTTP/1.", 8) == 0)) {
		out->dialect = PORT_DIALECT_HTTP;
		return (int)(nl - p + 1);
	}
	while (b < n && port_is_blank(p[b]))
		b++;
	while (n > b && (port_is_blank(p[n - 1]) || p[n - 1] == '\r'))
		n--;
	out->dialect = PORT_DIALECT_CHECK;
	out->name = (const char *)p + b;
	out->name_len = n - b;
	return (int)(nl - p + 1);
}

/* Whether <p>[<len>] is only a check name (letters, digits, '_', '-', '.'), possibly with
 * trailing blanks or CR: what HAProxy sends for an agent-send string without its "\n". */
static bool port_is_bare_name(const uint8_t *p, size_t len)
{
	size_t n = len;

	while (n > 0 && (port_is_blank(p[n - 1]) || p[n - 1] == '\r'))
		n--;
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

/* The only writer of <c->state>: logs at debug and arms the state's deadline. Deadlines are
 * fixed: idle_timeout counts from accept, whatever the client sends. */
static void port_conn_set_state(struct port_conn *c, enum port_conn_state to)
{
	const struct agent *a = c->port->agent;
	double left = a->conf->agent.idle_timeout - conn_age(&c->c);
	double deadline = 0;

	log_conn(LOG_LVL_DEBUG, &c->c, "%s -> %s", port_st_name[c->state], port_st_name[to]);
	c->state = to;
	switch (to) {
	case PORT_ST_FIRST_LINE:
		deadline = a->conf->agent.first_line_wait;
		break;
	case PORT_ST_HTTP_HEAD:
	case PORT_ST_WRITING:
		deadline = left > 0.001 ? left : 0.001;
		break;
	case PORT_ST_LINGER:
		deadline = PORT_LINGER_TIME;
		break;
	case PORT_ST_COUNT:
		break;
	}
	conn_set_deadline(&c->c, deadline > 1e-6 ? deadline : 1e-6, false);
}

/* The whole reply is out: close, or for an error reply with input left unread, shut the
 * write side and linger (a close with unread input sends a reset that can destroy the reply
 * before the client reads it). */
static void port_conn_done(struct port_conn *c)
{
	if (!c->linger) {
		conn_close(&c->c, "reply sent");
		return;
	}
	if (shutdown(c->c.fd, SHUT_WR) == -1) {
		conn_close(&c->c, "shutdown failed");
		return;
	}
	buf_reset(&c->c.rx); /* the request is answered: <rx> now takes the input to drop */
	port_conn_set_state(c, PORT_ST_LINGER);
}

/* Sends what <pt->scratch> holds: one write() in the common case; a rest that does not go
 * out at once waits in <c->c.tx> (common/conn.c). Then closes or lingers. */
static void port_conn_reply(struct port_conn *c)
{
	struct port *pt = c->port;

	if (conn_send(&c->c, buf_head(&pt->scratch), buf_len(&pt->scratch)) == -1)
		return;
	if (buf_len(&c->c.tx) == 0) {
		port_conn_done(c);
		return;
	}
	port_conn_set_state(c, PORT_ST_WRITING);
}

/* Answers an agent-check line naming <name>[<len>] (0: the default check). */
static void port_conn_answer_check(struct port_conn *c, const char *name, size_t len)
{
	struct port *pt = c->port;
	struct agent *a = pt->agent;
	const char *line = agent_check_line(a, name, len);
	char unknown[NS_CHECK_LINE_MAX];
	int rc;

	buf_reset(&pt->scratch);
	if (line == NULL) {
		char why[NS_NAME_MAX + 32];
		struct al_reply r = { .state = AL_FAIL, .admin = a->ns.admin, .weight = -1 };

		snprintf(why, sizeof(why), "no check named %.*s",
		         (int)(len < NS_NAME_MAX ? len : NS_NAME_MAX), name);
		r.reason = why;
		if (al_format(&r, unknown, sizeof(unknown)) == -1)
			snprintf(unknown, sizeof(unknown), "fail %s", ns_admin_name(a->ns.admin));
		line = unknown;
	}
	/* no formatting per reply: the line is built once per state change */
	rc = buf_append(&pt->scratch, line, strlen(line));
	if (rc == 0)
		rc = buf_append(&pt->scratch, "\n", 1);
	if (rc == -1) {
		conn_close(&c->c, "reply does not fit (bug)");
		return;
	}
	port_conn_reply(c);
	/* <c> is closed by now in the common case, but only freed at the callback's end */
	agent_count_reply(a, ev_time() - c->accepted);
}

static void port_conn_answer_http(struct port_conn *c, const struct h1_req *req,
                                  int status_if_error)
{
	struct port *pt = c->port;
	struct agent *a = pt->agent;
	const struct pg_probe *pg = ps_pg(&a->probes[PS_PG]);
	struct http_ctx ctx = {
		.ns = &a->ns,
		.conf = a->conf,
		.stats = &a->stats,
		.shutting_down = a->shutting_down,
		.uptime = ev_now(a->loop) - a->started,
		.pg_ms = pg != NULL ? pg->last_ms : 0,
		.pg_queries = pg != NULL ? pg->queries : 0,
		.pg_failures = pg != NULL ? pg->failures : 0,
		.feed_subscribers = a->feed.subs.n,
		.feed_frames = a->feed.frames,
		.feed_dropped = a->feed.dropped,
		.clients = pt->conns.n,
	};
	const struct node_state *peers[FENCE_PEERS_MAX];
	int status;

	/* ops: the peers' live feeds, for /sync, /async and the lag against the primary */
	for (size_t i = 0; a->fence != NULL && i < a->fence->n_peers && i < FENCE_PEERS_MAX; i++) {
		const struct fence_peer *fp = &a->fence->peers[i];

		if (fp->connected && fp->has_state)
			peers[ctx.n_peers++] = &fp->last;
	}
	ctx.peers = peers;
	/* expose = minimal: every body and verdict of this port is made from the minimal copy
	 * (ns_minimal()), so no error text reaches a "why" either (docs/security.md) */
	if (a->conf->agent.expose == AGENT_EXPOSE_MINIMAL) {
		static struct node_state shown; /* large for the stack; one loop */

		ns_minimal(&a->ns, &shown);
		ctx.ns = &shown;
	}

	buf_reset(&pt->scratch);
	a->stats.http_replies++;
	if (status_if_error != 0) {
		c->linger = true;
		status = h1_respond_error(status_if_error, false, &pt->scratch);
	} else {
		status = http_respond(&ctx, req, &pt->scratch);
	}
	if (status == -1) {
		conn_close(&c->c, "HTTP response does not fit");
		return;
	}
	log_conn(LOG_LVL_DEBUG, &c->c, "HTTP %d", status);
	/* a refused request may have a body we did not read (POST ...): linger so the client
	 * reads the status rather than a reset */
	if (status >= 400)
		c->linger = true;
	port_conn_reply(c);
}

/* Moves <c> on with what <c->rx> holds. */
static void port_conn_process(struct port_conn *c)
{
	struct port *pt = c->port;
	struct agent *a = pt->agent;
	size_t max_line = (size_t)a->conf->agent.max_line;
	struct buf *rx = &c->c.rx;
	struct port_line line;
	struct h1_req req;
	int n;

	switch (c->state) {
	case PORT_ST_FIRST_LINE:
		n = port_first_line(buf_head(rx), buf_len(rx), max_line, &line);
		if (n == 0)
			return;
		if (n == -1) {
			a->stats.too_long++;
			if ((buf_len(rx) >= 4 && memcmp(buf_head(rx), "GET ", 4) == 0) ||
			    (buf_len(rx) >= 5 && memcmp(buf_head(rx), "HEAD ", 5) == 0) ||
			    (buf_len(rx) >= 8 && memcmp(buf_head(rx), "OPTIONS ", 8) == 0)) {
				port_conn_answer_http(c, NULL, 414);
				return;
			}
			conn_close(&c->c, "first line longer than max_line");
			return;
		}
		switch (line.dialect) {
		case PORT_DIALECT_CHECK:
			port_conn_answer_check(c, line.name, line.name_len);
			return;
		case PORT_DIALECT_HTTP:
			port_conn_set_state(c, PORT_ST_HTTP_HEAD);
			port_conn_process(c);
			return;
		case PORT_DIALECT_SUBSCRIBE: {
			/* the feed owns the socket from here on */
			int fd = conn_take_fd(&c->c, "handed to the feed");

			if (feed_pub_add(&a->feed, fd, c->c.peer) == -1)
				log_debug("feed: subscriber %s not added", c->c.peer);
			return;
		}
		case PORT_DIALECT_COUNT:
			break;
		}
		conn_close(&c->c, "unknown dialect (bug)");
		return;
	case PORT_ST_HTTP_HEAD:
		switch (h1_read_head(buf_head(rx), buf_len(rx), max_line, &req)) {
		case H1_HEAD_OK:
			port_conn_answer_http(c, &req, 0);
			return;
		case H1_HEAD_BAD:
			port_conn_answer_http(c, NULL, 400);
			return;
		case H1_HEAD_TOO_LARGE:
			a->stats.too_long++;
			port_conn_answer_http(c, NULL, 431);
			return;
		case H1_HEAD_MORE:
			if (buf_room(rx) == 0) {
				a->stats.too_long++;
				port_conn_answer_http(c, NULL, 431);
			}
			return;
		}
		return;
	case PORT_ST_WRITING:
	case PORT_ST_LINGER:
	case PORT_ST_COUNT:
		return;
	}
}

/* Bytes, or the client's FIN. LINGER drops what comes, bounded in total. */
static void port_conn_on_read(struct conn *cn, bool eof)
{
	struct port_conn *c = container_of(cn, struct port_conn, c);

	if (c->state == PORT_ST_LINGER) {
		c->dropped += buf_len(&cn->rx);
		buf_reset(&cn->rx);
		if (c->dropped > PORT_LINGER_MAX)
			conn_close(cn, "error reply sent, client kept sending");
		return;
	}
	if (!eof) {
		port_conn_process(c);
		return;
	}
	/* the client closed its side: a line without '\n' still names a check */
	if (c->state == PORT_ST_FIRST_LINE && buf_len(&cn->rx) > 0 &&
	    buf_append(&cn->rx, "\n", 1) == 0) {
		port_conn_process(c);
		return;
	}
	if (c->state == PORT_ST_FIRST_LINE && buf_len(&cn->rx) == 0) {
		/* nothing said and half-closed: answer the default check */
		port_conn_answer_check(c, "", 0);
		return;
	}
	/* anything else: common/conn.c closes, the client is gone */
}

/* The rest of the reply is out. */
static void port_conn_on_drain(struct conn *cn)
{
	struct port_conn *c = container_of(cn, struct port_conn, c);

	if (c->state == PORT_ST_WRITING)
		port_conn_done(c);
}

static void port_conn_on_timeout(struct conn *cn)
{
	struct port_conn *c = container_of(cn, struct port_conn, c);
	struct agent *a = c->port->agent;
	double age = conn_age(cn);

	switch (c->state) {
	case PORT_ST_FIRST_LINE:
		if (buf_len(&cn->rx) == 0) {
			/* HAProxy without agent-send says nothing: the default check */
			port_conn_answer_check(c, "", 0);
			break;
		}
		if (!c->waited && port_is_bare_name(buf_head(&cn->rx), buf_len(&cn->rx)) &&
		    buf_append(&cn->rx, "\n", 1) == 0) {
			/* agent-send "writer" without its "\n": a check name all the same */
			c->waited = true;
			port_conn_process(c);
			break;
		}
		c->waited = true;
		if (age < a->conf->agent.idle_timeout) {
			/* part of a line came: give it the rest of the idle time */
			conn_set_deadline(cn, a->conf->agent.idle_timeout - age, false);
			break;
		}
		a->stats.timeouts++;
		conn_close(cn, "idle timeout in the first line");
		break;
	case PORT_ST_HTTP_HEAD:
		a->stats.timeouts++;
		port_conn_answer_http(c, NULL, 408);
		break;
	case PORT_ST_WRITING:
		a->stats.timeouts++;
		conn_close(cn, "idle timeout while writing");
		break;
	case PORT_ST_LINGER:
		conn_close(cn, "error reply sent, linger over");
		break;
	case PORT_ST_COUNT:
		break;
	}
}

static void port_conn_on_free(struct conn *cn)
{
	free(container_of(cn, struct port_conn, c));
}

static const struct conn_ops port_conn_ops = {
	.on_read = port_conn_on_read,
	.on_timeout = port_conn_on_timeout,
	.on_drain = port_conn_on_drain,
	.on_free = port_conn_on_free,
};

/* Full: closes the oldest connection still waiting for its first line or HTTP head, so that
 * peers that connect and stay silent (or trickle bytes) never lock out HAProxy's checks, which
 * speak at once. Returns false when every connection is busy answering. */
static bool port_evict_oldest_waiting(struct port *pt)
{
	struct conn *old = NULL;

	/* newest first in the list: the last waiting one is the oldest */
	for (struct conn *cn = pt->conns.head; cn != NULL; cn = cn->next) {
		const struct port_conn *c = container_of(cn, struct port_conn, c);

		if (conn_is_closed(cn) ||
		    (cn->state == CONN_ST_OPEN &&
		     (c->state == PORT_ST_FIRST_LINE || c->state == PORT_ST_HTTP_HEAD) &&
		     !sock_has_input(cn->fd)))
			old = cn; /* waiting, and nothing of its request arrived unread */
	}
	if (old == NULL)
		return false;
	pt->agent->stats.evicted++;
	conn_destroy(old, "evicted: a newer client needed the slot");
	return true;
}

static void port_accept_one(struct port *pt, int fd, const struct sockaddr_storage *peer)
{
	struct agent *a = pt->agent;
	size_t max_line = (size_t)a->conf->agent.max_line;
	struct port_conn *c;

	if (pt->conns.n >= (size_t)a->conf->agent.max_clients && !port_evict_oldest_waiting(pt)) {
		a->stats.refused++;
		close(fd);
		return;
	}
	c = malloc(sizeof(*c) + max_line);
	if (c == NULL) {
		a->stats.refused++;
		close(fd);
		return;
	}
	memset(c, 0, sizeof(*c));
	conn_init(&c->c, a->loop, fd, &port_conn_ops, "port", ++pt->next_id, peer);
	buf_init_static(&c->c.rx, (uint8_t *)(c + 1), max_line);
	c->port = pt;
	c->accepted = ev_time();
	c->c.tx_high = 1; /* a reply waiting to go out: read nothing more */
	conn_list_add(&pt->conns, &c->c);
	port_conn_set_state(c, PORT_ST_FIRST_LINE);
	/* HAProxy's agent-send usually arrives with the connection: try at once */
	conn_start(&c->c, true);
}

static void port_on_pause_end(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct port *pt = container_of(w, struct port, pause);

	(void)revents;
	if (pt->fd != -1 && pt->listening)
		ev_io_start(loop, &pt->io);
}

static void port_on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct port *pt = container_of(w, struct port, io);

	(void)revents;
	for (int i = 0; i < PORT_ACCEPTS_PER_EVENT; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int fd = sock_accept(pt->fd, &peer, &plen);

		if (fd == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
			    errno == ECONNABORTED)
				return;
			pt->accept_errors++;
			log_warning("port: accept: %s; not accepting for %.0f ms", strerror(errno),
			            PORT_ACCEPT_PAUSE * 1000);
			/* the listener stays readable while the error lasts (EMFILE: out of
			 * descriptors): stop watching it for a moment instead of spinning */
			ev_io_stop(loop, &pt->io);
			ev_timer_set(&pt->pause, PORT_ACCEPT_PAUSE, 0);
			ev_timer_start(loop, &pt->pause);
			return;
		}
		if (!netacl_allows(&pt->agent->conf->agent.allow_from,
		                   (const struct sockaddr *)&peer, plen)) {
			pt->agent->stats.denied++;
			close(fd); /* not on allow_from: no byte of ours */
			continue;
		}
		port_accept_one(pt, fd, &peer);
	}
}

/* Binds <a->conf->agent.listen> without listening yet (a bound socket that does not listen
 * refuses connections, which HAProxy does not count against a server: see port.h), so a port
 * already taken fails the start. Returns 0, or -1 with <err> filled. */
int port_start(struct port *pt, struct agent *a, char *err, size_t errlen)
{
	const struct cfg_addr *addr = &a->conf->agent.listen;
	int one = 1;

	memset(pt, 0, sizeof(*pt));
	pt->agent = a;
	pt->fd = -1;
	if (buf_init(&pt->scratch, PORT_SCRATCH_MAX) == -1) {
		snprintf(err, errlen, "out of memory for the reply buffer");
		return -1;
	}
	pt->fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (pt->fd == -1) {
		snprintf(err, errlen, "socket for %s: %s", addr->text, strerror(errno));
		goto out_free;
	}
	if (setsockopt(pt->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1) {
		snprintf(err, errlen, "SO_REUSEADDR on %s: %s", addr->text, strerror(errno));
		goto out_close;
	}
	if (bind(pt->fd, (const struct sockaddr *)&addr->ss, addr->len) == -1) {
		snprintf(err, errlen, "bind %s: %s", addr->text, strerror(errno));
		goto out_close;
	}
	ev_io_init(&pt->io, port_on_accept, pt->fd, EV_READ);
	ev_init(&pt->pause, port_on_pause_end);
	return 0;

out_close:
	close(pt->fd);
	pt->fd = -1;
out_free:
	buf_free(&pt->scratch);
	return -1;
}

/* Starts listening on the socket port_start() bound and accepting. Returns 0 (also when it
 * already listens), or -1 with <err> filled. */
int port_listen(struct port *pt, char *err, size_t errlen)
{
	struct agent *a = pt->agent;

	if (pt->listening)
		return 0;
	if (listen(pt->fd, (int)a->conf->agent.backlog) == -1) {
		snprintf(err, errlen, "listen %s: %s", a->conf->agent.listen.text, strerror(errno));
		return -1;
	}
	pt->listening = true;
	ev_io_start(a->loop, &pt->io);
	return 0;
}

/* Closes the listener and every request connection. */
void port_stop(struct port *pt)
{
	if (pt->agent == NULL)
		return;
	ev_timer_stop(pt->agent->loop, &pt->pause);
	if (pt->fd != -1) {
		ev_io_stop(pt->agent->loop, &pt->io);
		close(pt->fd);
		pt->fd = -1;
	}
	pt->listening = false;
	while (pt->conns.head != NULL)
		conn_destroy(pt->conns.head, "agent stopping");
	buf_free(&pt->scratch);
}
