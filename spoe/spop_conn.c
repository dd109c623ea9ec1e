/* spoe/spop_conn.c - the SPOP connection state machine (see spop_conn.h). I/O callbacks move
 * bytes, then call spop_conn_process(), which decodes whole frames only and switches on the
 * state. Every exit goes through spop_conn_close(). */
#include "spoe/spop_conn.h"

#include <assert.h>
#include <errno.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sock.h"
#include "spoe/hold.h"
#include "spoe/route.h"
#include "spoe/spoa.h"

#define SPOP_TX_MIN     16384        /* tx room: many pipelined ACKs between two writes */
#define SPOP_AGENT_CAPS "pipelining" /* what we do; never async or fragmentation (design.md 11) */

static const char *const spop_st_name[SPOP_ST_COUNT] = {
	[SPOP_ST_HELLO] = "HELLO",
	[SPOP_ST_RUNNING] = "RUN",
	[SPOP_ST_CLOSING] = "CLOSING",
};

const char *spop_conn_state_name(enum spop_conn_state st)
{
	return (unsigned)st < SPOP_ST_COUNT ? spop_st_name[st] : "?";
}

/* "spop#<id> <peer> ... <STATE>: ..." at debug (log_conn's prefix, then ours); the line is
 * built only when debug is on. */
#define spop_debug(c, fmt, ...)                                                                    \
	do {                                                                                       \
		if (log_enabled(LOG_LVL_DEBUG))                                                    \
			log_conn(LOG_LVL_DEBUG, &(c)->c, "%s: " fmt, spop_st_name[(c)->state],     \
			         __VA_ARGS__);                                                     \
	} while (0)

/* The handshake list: connections that have not finished HELLO, oldest first. A peer that
 * connects and says nothing holds a slot only until a newer connection needs it. */
static void hs_link(struct spop_conn *c)
{
	struct spoa *s = c->spoa;

	c->in_hs = true;
	c->hs_next = NULL;
	c->hs_prev = s->hs_tail;
	if (s->hs_tail != NULL)
		s->hs_tail->hs_next = c;
	else
		s->hs_head = c;
	s->hs_tail = c;
	s->hs_cur++;
}

static void hs_unlink(struct spop_conn *c)
{
	struct spoa *s = c->spoa;

	if (!c->in_hs)
		return;
	if (c->hs_prev != NULL)
		c->hs_prev->hs_next = c->hs_next;
	else
		s->hs_head = c->hs_next;
	if (c->hs_next != NULL)
		c->hs_next->hs_prev = c->hs_prev;
	else
		s->hs_tail = c->hs_prev;
	c->hs_prev = NULL;
	c->hs_next = NULL;
	c->in_hs = false;
	s->hs_cur--;
}

/* The only writer of <c->state>. HELLO gets the short fixed deadline, RUNNING the idle one;
 * CLOSING is entered from spop_conn_on_close() (the layer stopped the timer). */
static void spop_conn_set_state(struct spop_conn *c, enum spop_conn_state to)
{
	const struct spoa_conf *conf = c->spoa->conf;

	spop_debug(c, "%s -> %s", spop_st_name[c->state], spop_st_name[to]);
	if (c->state == SPOP_ST_HELLO && to != SPOP_ST_HELLO)
		hs_unlink(c);
	c->state = to;
	switch (to) {
	case SPOP_ST_HELLO:
		conn_set_deadline(&c->c, conf->hello_timeout, false);
		break;
	case SPOP_ST_RUNNING:
		conn_set_deadline(&c->c, conf->idle_timeout, true);
		break;
	case SPOP_ST_CLOSING:
		break;
	case SPOP_ST_COUNT:
		assert(!"SPOP_ST_COUNT is not a state");
		break;
	}
}

/* <tx> can take one more ACK besides the room kept for every held NOTIFY's ACK. */
static bool tx_has_room(const struct spop_conn *c)
{
	return buf_room(&c->c.tx) >= SPOP_ACK_MAX * ((size_t)c->held + 1);
}

/* How many NOTIFYs this connection may hold: <tx> keeps SPOP_ACK_MAX for each, plus room for
 * two ordinary ACKs, so that held NOTIFYs never stop it from reading (reads and other clusters'
 * NOTIFYs on the same connection are answered meanwhile). 30 with the 16 KiB <tx>; HAProxy keeps
 * at most 20 frames in flight per connection (max-waiting-frames). */
uint32_t spop_conn_hold_cap(const struct spop_conn *c)
{
	size_t slots = c->c.tx.size / SPOP_ACK_MAX;

	return slots > 2 ? (uint32_t)(slots - 2) : 0;
}

/* Backpressure, for common/conn.c: reading stops while <tx> cannot take one more ACK besides
 * the room kept for the held ones (tx_has_room() false), so a peer that does not read cannot
 * make us buffer more. Set again whenever <held> or <tx> changes. */
static void spop_conn_bound_tx(struct spop_conn *c)
{
	size_t keep = SPOP_ACK_MAX * ((size_t)c->held + 1);

	c->c.tx_high = c->c.tx.size > keep ? c->c.tx.size - keep + 1 : 1;
}

/* Makes <need> contiguous bytes available at the tail of <tx> (compacting, never growing). */
static uint8_t *tx_room(struct spop_conn *c, size_t need, uint8_t **end)
{
	struct buf *tx = &c->c.tx;

	if (buf_tail_room(tx) < need)
		buf_compact(tx);
	if (buf_tail_room(tx) < need)
		return NULL;
	*end = buf_tail(tx) + buf_tail_room(tx);
	return buf_tail(tx);
}

static enum spop_status spop_conn_on_disconnect(struct spop_conn *c, const struct spop_frame *f)
{
	struct spop_disconnect d;

	c->spoa->stats.disconnect_rx++;
	if (spop_disconnect_decode(f, &d) < 0)
		return SPOP_STATUS_INVALID;
	spop_debug(c, "HAPROXY-DISCONNECT status %u: %.*s", d.status, (int)d.msg_len,
	           d.msg != NULL ? (const char *)d.msg : "");
	return SPOP_STATUS_NORMAL; /* a normal end: answered with AGENT-DISCONNECT */
}

/* HAPROXY-HELLO -> AGENT-HELLO (SPOE.txt 3.2.4, 3.2.5): version 2.0, max-frame-size the lower
 * of ours and HAProxy's, capabilities always sent. A healthcheck HELLO is answered, then the
 * connection closes without DISCONNECT. */
static enum spop_status spop_conn_on_hello(struct spop_conn *c, const struct spop_frame *f)
{
	struct spop_hello h;
	enum spop_status st = SPOP_STATUS_INVALID;
	uint8_t *p, *end;

	if (f->type == SPOP_FRM_HAPROXY_DISCONNECT)
		return spop_conn_on_disconnect(c, f);
	if (f->type != SPOP_FRM_HAPROXY_HELLO || (f->flags & SPOP_FLAG_FIN) == 0)
		return SPOP_STATUS_INVALID; /* HELLO first, never fragmented */
	if (spop_hello_decode(f, &h, &st) < 0)
		return st;
	if (h.max_frame < c->max_frame)
		c->max_frame = h.max_frame;
	p = tx_room(c, SPOP_ACK_MAX, &end);
	if (p == NULL || spop_agent_hello_put(&p, end, c->max_frame, SPOP_AGENT_CAPS) < 0)
		return SPOP_STATUS_RES;
	buf_commit(&c->c.tx, (size_t)(p - buf_tail(&c->c.tx)));
	c->spoa->stats.frames_out++;
	c->spoa->stats.hello++;
	spop_debug(c, "HELLO ok: max-frame-size %u, pipelining %s, healthcheck %s", c->max_frame,
	           h.cap_pipelining ? "yes" : "no", h.healthcheck ? "yes" : "no");
	if (h.healthcheck) {
		c->healthcheck = true;
		c->spoa->stats.hello_healthcheck++;
		return SPOP_STATUS_NORMAL; /* answered; close */
	}
	spop_conn_set_state(c, SPOP_ST_RUNNING);
	return SPOP_STATUS_NONE;
}

static bool bytes_are(const uint8_t *p, size_t len, const char *s, size_t slen)
{
	return len == slen && memcmp(p, s, slen) == 0;
}

/* The entry a haprole-route message asks for: args `cluster` and `intent` (write|read|
 * write-retry) by name, or by position when HAProxy sends them unnamed. NULL when an arg is
 * bad. write-retry is a write whose connect to the writer we named failed (HAProxy routes it a
 * second time, docker/haproxy-demo.cfg.in's pg_write_reroute): <*write> and <*retry> set. */
static const struct route_entry *route_for(struct spop_conn *c, const struct route_table *t,
                                           const struct spop_msg *m, bool *write, bool *retry)
{
	const struct spop_data *cluster = NULL, *intent = NULL;
	unsigned i;

	for (i = 0; i < m->n_args; i++) {
		const uint8_t *k = m->arg_name[i];
		size_t kl = m->arg_name_len[i];

		if (bytes_are(k, kl, "cluster", 7) || (kl == 0 && i == 0))
			cluster = &m->arg[i];
		else if (bytes_are(k, kl, "intent", 6) || (kl == 0 && i == 1))
			intent = &m->arg[i];
	}
	if (cluster == NULL || intent == NULL || !spop_data_is_text(cluster) ||
	    !spop_data_is_text(intent))
		return NULL;
	*write = bytes_are(intent->ptr, intent->len, "write", 5);
	*retry = bytes_are(intent->ptr, intent->len, "write-retry", 11);
	if (*write)
		c->spoa->stats.msg_route_write++;
	else if (*retry) {
		*write = true;
		c->spoa->stats.msg_route_retry++;
	} else if (bytes_are(intent->ptr, intent->len, "read", 4))
		c->spoa->stats.msg_route_read++;
	else
		return NULL;
	return route_find(t, cluster->ptr, cluster->len);
}

/* Appends ACK <stream_id>/<frame_id> carrying <act> (<act_len> bytes) to <tx>; the caller made
 * sure of SPOP_ACK_MAX bytes of room. */
static enum spop_status spop_conn_put_ack(struct spop_conn *c, uint64_t stream_id,
                                          uint64_t frame_id, const uint8_t *act, size_t act_len)
{
	uint8_t *p, *end, *start;

	p = tx_room(c, SPOP_ACK_MAX, &end);
	if (p == NULL ||
	    spop_frame_begin(&p, end, SPOP_FRM_ACK, SPOP_FLAG_FIN, stream_id, frame_id, &start) <
	        0 ||
	    act_len > (size_t)(end - p))
		return SPOP_STATUS_RES;
	if (act_len > 0)
		memcpy(p, act, act_len);
	p += act_len;
	if (spop_frame_end(start, p) < 0 || (size_t)(p - start) - SPOP_FRAME_HDR > c->max_frame)
		return SPOP_STATUS_RES; /* cannot happen: config bounds names (see route.h) */
	buf_commit(&c->c.tx, (size_t)(p - start));
	c->spoa->stats.frames_out++;
	c->notify++;
	return SPOP_STATUS_NONE;
}

/* A write NOTIFY for a cluster whose hold window is open, or a retry (<retry>) while the
 * writer that refused it is still the writer: kept in the hold store instead of answered, when
 * this connection and the store have room. Returns true when held. */
static bool spop_conn_try_hold(struct spop_conn *c, const struct spop_frame *f,
                               const struct route_table *t, const struct route_entry *e, bool retry)
{
	struct spoa *s = c->spoa;
	struct hold_entry *he;

	if (c->held >= spop_conn_hold_cap(c)) {
		s->hold.stats.refused++;
		return false;
	}
	he = hold_add(&s->hold, c, (size_t)(e - t->e), f->stream_id, f->frame_id, e->hold_max);
	if (he == NULL)
		return false; /* budget spent: counted by hold_add */
	if (retry && !e->hold) {
		/* the writer of this epoch refused the connection: not named again before the
		 * view changes (its agent tells, or its feed goes silent) or hold_max runs out */
		he->retry = true;
		he->epoch = e->epoch;
	}
	c->held++;
	spop_conn_bound_tx(c);
	spop_debug(c, "held write NOTIFY stream %llu frame %llu (cluster %s, %u held here)",
	           (unsigned long long)f->stream_id, (unsigned long long)f->frame_id, e->cluster,
	           c->held);
	return true;
}

/* NOTIFY -> ACK: the hot path. No allocation, no log above debug, no syscall. The ACK echoes
 * stream-id and frame-id (HAProxy 2.6 may send stream-id 0) and carries the snapshot's encoded
 * actions; a NOTIFY we cannot route gets one harmless set-var (never an empty ACK). A write for
 * a cluster in its hold window is held instead (spop_conn_try_hold), reads never. */
static enum spop_status spop_conn_on_notify(struct spop_conn *c, const struct spop_frame *f)
{
	struct spoa *s = c->spoa;
	const struct route_table *t = s->route;
	const uint8_t *q = f->payload, *qend = f->payload + f->payload_len;
	const struct route_entry *chosen = NULL;
	const uint8_t *act = NULL;
	size_t act_len = 0;
	enum route_err err = ROUTE_ERR_UNKNOWN_MSG;
	bool write = false, retry = false;
	struct spop_msg m;
	int n;

	if ((f->flags & SPOP_FLAG_FIN) == 0)
		return SPOP_STATUS_FRAG_NOT_SUP; /* we never announce fragmentation */
	s->stats.notify++;
	while ((n = spop_msg_next(&q, qend, &m)) > 0) {
		const struct route_entry *e;
		bool w = false, r = false;

		if (!bytes_are(m.name, m.name_len, "haprole-route", 13)) {
			s->stats.msg_unknown++;
			continue;
		}
		if (act != NULL)
			continue; /* one route per NOTIFY: the first wins */
		e = t != NULL ? route_for(c, t, &m, &w, &r) : NULL;
		if (e == NULL) {
			s->stats.msg_bad_args++;
			err = ROUTE_ERR_BAD_ARGS;
			continue;
		}
		s->stats.msg_route++;
		chosen = e;
		write = w;
		retry = r;
		act = e->actions;
		act_len = e->actions_len;
	}
	if (n < 0)
		return SPOP_STATUS_INVALID;
	if (chosen != NULL && write &&
	    (chosen->hold || (retry && chosen->has_writer && chosen->hold_max > 0)) &&
	    spop_conn_try_hold(c, f, t, chosen, retry))
		return SPOP_STATUS_NONE;
	if (act == NULL && t != NULL) {
		act = t->err_actions[err];
		act_len = t->err_len[err];
	}
	return spop_conn_put_ack(c, f->stream_id, f->frame_id, act, act_len);
}

static enum spop_status spop_conn_on_frame(struct spop_conn *c, const struct spop_frame *f)
{
	switch (f->type) {
	case SPOP_FRM_NOTIFY:
		return spop_conn_on_notify(c, f);
	case SPOP_FRM_HAPROXY_DISCONNECT:
		return spop_conn_on_disconnect(c, f);
	case SPOP_FRM_UNSET:
		return SPOP_STATUS_FRAG_NOT_SUP; /* a continuation fragment */
	case SPOP_FRM_HAPROXY_HELLO:
	case SPOP_FRM_AGENT_HELLO:
	case SPOP_FRM_AGENT_DISCONNECT:
	case SPOP_FRM_ACK:
		return SPOP_STATUS_INVALID;
	default:
		c->spoa->stats.frames_skipped++; /* "Unknown frames may be silently skipped" */
		return SPOP_STATUS_NONE;
	}
}

/* Debug only: the frame's type, ids and its bytes in hex (at most 256), for captures. */
static void spop_conn_log_frame(struct spop_conn *c, const struct spop_frame *f, size_t n)
{
	static const char hexd[] = "0123456789abcdef";
	const uint8_t *p = buf_head(&c->c.rx);
	char hex[2 * 256 + 4];
	size_t i, k = n < 256 ? n : 256;

	for (i = 0; i < k; i++) {
		hex[2 * i] = hexd[p[i] >> 4];
		hex[2 * i + 1] = hexd[p[i] & 15];
	}
	hex[2 * k] = '\0';
	spop_debug(c, "rx %s stream %llu frame %llu flags %#x len %zu: %s%s",
	           spop_frame_type_str(f->type), (unsigned long long)f->stream_id,
	           (unsigned long long)f->frame_id, f->flags, n, hex, n > k ? "..." : "");
}

/* Answers every complete frame in <rx>; a partial one waits for the next read. Stops while
 * <tx> lacks room for one more ACK (backpressure); common/conn.c writes <tx> when the callback
 * returns and calls again (on_drain) once the socket made room. */
static void spop_conn_process(struct spop_conn *c)
{
	struct buf *rx = &c->c.rx;
	enum spop_status st = SPOP_STATUS_NONE;
	struct spop_frame f;
	int n;

	while (c->state != SPOP_ST_CLOSING && tx_has_room(c)) {
		n = spop_frame_peek(buf_head(rx), buf_len(rx), c->max_frame, &f, &st);
		if (n == 0)
			break; /* frame incomplete */
		if (n < 0)
			goto out_close; /* <st> names the broken rule */
		c->spoa->stats.frames_in++;
		if (log_enabled(LOG_LVL_DEBUG))
			spop_conn_log_frame(c, &f, (size_t)n);
		switch (c->state) {
		case SPOP_ST_HELLO:
			st = spop_conn_on_hello(c, &f); /* -> RUNNING on success */
			break;
		case SPOP_ST_RUNNING:
			st = spop_conn_on_frame(c, &f); /* NOTIFY -> ACK, no malloc */
			break;
		case SPOP_ST_CLOSING:
		case SPOP_ST_COUNT:
			assert(!"unreachable: excluded by the loop condition");
			st = SPOP_STATUS_UNKNOWN;
			break;
		}
		buf_consume(rx, (size_t)n);
		if (st != SPOP_STATUS_NONE)
			goto out_close;
	}
	return;

out_close:
	if (st == SPOP_STATUS_NORMAL)
		spop_conn_close(c, st, "%s",
		                c->healthcheck ? "healthcheck answered" : "HAPROXY-DISCONNECT");
	else
		spop_conn_close(c, st, "%s", spop_status_str(st));
}

/* rx and tx, taken when the first bytes arrive rather than at accept: a peer that connects and
 * sends nothing costs its struct, not two frames of buffer. */
static int spop_conn_take_buffers(struct conn *cn)
{
	struct spop_conn *c = spop_conn_of(cn);
	size_t max = (size_t)c->max_frame;

	if (buf_init(&cn->rx, max + SPOP_FRAME_HDR) < 0 ||
	    buf_init(&cn->tx,
	             max + SPOP_FRAME_HDR > SPOP_TX_MIN ? max + SPOP_FRAME_HDR : SPOP_TX_MIN) < 0) {
		spop_conn_close(c, SPOP_STATUS_RES, "out of memory for the buffers");
		return -1;
	}
	spop_conn_bound_tx(c);
	return 0;
}

/* Bytes from HAProxy, or its end (FIN or reset: nothing more is sent to it). */
static void spop_conn_on_read(struct conn *cn, bool eof)
{
	struct spop_conn *c = spop_conn_of(cn);

	if (!eof) {
		spop_conn_process(c);
		return;
	}
	c->peer_gone = true;
	c->spoa->stats.closed_by_peer++;
	if (cn->rx.size == 0)
		spop_conn_close(c, SPOP_STATUS_NORMAL, "closed before HELLO");
	else if (cn->err == 0)
		spop_conn_close(c, SPOP_STATUS_NORMAL, "closed by HAProxy");
	else
		spop_conn_close(c, cn->err == ECONNRESET ? SPOP_STATUS_NORMAL : SPOP_STATUS_IO,
		                "read: %s", strerror(cn->err));
}

/* The socket took ACKs: the frames left in <rx> by backpressure go on. */
static void spop_conn_on_drain(struct conn *cn)
{
	spop_conn_process(spop_conn_of(cn));
}

static void spop_conn_on_timeout(struct conn *cn)
{
	struct spop_conn *c = spop_conn_of(cn);

	switch (c->state) {
	case SPOP_ST_HELLO:
		spop_conn_close(c, SPOP_STATUS_TIMEOUT, "no HAPROXY-HELLO within %.3fs",
		                c->spoa->conf->hello_timeout);
		break;
	case SPOP_ST_RUNNING:
		spop_conn_close(c, SPOP_STATUS_TIMEOUT, "idle for %.3fs",
		                c->spoa->conf->idle_timeout);
		break;
	case SPOP_ST_CLOSING:
	case SPOP_ST_COUNT:
		break;
	}
}

/* The reason of a close, once, with the age: normal ends at debug, the rest counted by status
 * and logged at info (I/O, timeouts) or warning (protocol violations). */
static void spop_conn_log_close(struct spop_conn *c, enum spop_status st, const char *why)
{
	struct spoa *s = c->spoa;

	if (st == SPOP_STATUS_NORMAL || st == SPOP_STATUS_NONE) {
		spop_debug(c, "closing: %s (%llu notify)", why, (unsigned long long)c->notify);
		return;
	}
	s->stats.errors[spoa_err_slot(st)]++;
	log_conn(st == SPOP_STATUS_IO || st == SPOP_STATUS_TIMEOUT ? LOG_LVL_INFO : LOG_LVL_WARNING,
	         &c->c, "%s: closing: %s (status %d, %llu notify)", spop_st_name[c->state], why,
	         (int)st, (unsigned long long)c->notify);
}

/* Every close, by us or by the layer (a failed write): the held NOTIFYs can reach HAProxy no
 * more, the slot and the handshake list are given back. */
static void spop_conn_on_close(struct conn *cn)
{
	struct spop_conn *c = spop_conn_of(cn);
	struct spoa *s = c->spoa;

	if (c->state != SPOP_ST_CLOSING) /* not spop_conn_close(): the layer's reason */
		spop_conn_log_close(c, cn->err != 0 ? SPOP_STATUS_IO : SPOP_STATUS_RES, cn->why);
	if (c->held > 0) {
		hold_drop_conn(&s->hold, c);
		c->held = 0;
	}
	hs_unlink(c);
	s->stats.conns_cur--;
	if (c->state != SPOP_ST_CLOSING)
		spop_conn_set_state(c, SPOP_ST_CLOSING);
}

static void spop_conn_on_free(struct conn *cn)
{
	free(spop_conn_of(cn));
}

static const struct conn_ops spop_conn_ops = {
	.on_read = spop_conn_on_read,
	.on_timeout = spop_conn_on_timeout,
	.on_drain = spop_conn_on_drain,
	.on_free = spop_conn_on_free,
	.on_close = spop_conn_on_close,
	.take_buffers = spop_conn_take_buffers,
};

/* Takes <fd> (accepted, non-blocking) into a new connection in HELLO. Returns 0, or -1 with
 * errno when memory is short (<fd> is closed then). */
int spop_conn_accept(struct spoa *s, int fd, const struct sockaddr_storage *peer)
{
	struct spop_conn *c;

	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	conn_init(&c->c, s->loop, fd, &spop_conn_ops, "spop", ++s->next_id, peer);
	c->spoa = s;
	c->max_frame = (uint32_t)s->conf->max_frame;
	(void)sock_set_nodelay(fd); /* ACKs are small: no Nagle delay */
	conn_list_add(&s->conns, &c->c);
	s->stats.conns_accepted++;
	s->stats.conns_cur++;
	hs_link(c);
	spop_conn_set_state(c, SPOP_ST_HELLO);
	/* HAProxy's HELLO usually comes with the connection: read it now, before a later accept
	 * of the same burst could evict this connection (<c> may be freed by this call) */
	conn_start(&c->c, true);
	return 0;
}

/* Ends <c>: sends AGENT-DISCONNECT with <st> when HAProxy can still hear it (not after its
 * FIN/reset, not after a healthcheck), logs the reason once with the age, and closes
 * (common/conn.c: spop_conn_on_close(), then the free at the end of the callback). */
void spop_conn_close(struct spop_conn *c, enum spop_status st, const char *fmt, ...)
{
	struct buf *tx = &c->c.tx;
	char why[160];
	va_list ap;
	uint8_t *p, *end;

	if (c->state == SPOP_ST_CLOSING || conn_is_closed(&c->c))
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (!c->peer_gone && !c->healthcheck && st != SPOP_STATUS_IO && tx->size > 0) {
		p = tx_room(c, SPOP_ACK_MAX, &end);
		if (p != NULL && spop_agent_disconnect_put(&p, end, st, why) > 0) {
			buf_commit(tx, (size_t)(p - buf_tail(tx)));
			c->spoa->stats.frames_out++;
		}
	}
	/* best effort, what the socket takes now: we do not linger */
	while (!c->peer_gone && buf_len(tx) > 0 && buf_write_fd(tx, c->c.fd) > 0)
		;
	spop_conn_log_close(c, st, why);
	spop_conn_set_state(c, SPOP_ST_CLOSING);
	conn_close(&c->c, st == SPOP_STATUS_NORMAL ? "closed" : "closed on an error");
}

/* The hold store released NOTIFY <stream_id>/<frame_id> of <c>: appends its ACK from routing
 * table <t>'s entry <cluster> as it is now (the writer that appeared, or the current status),
 * into the room kept for it. Allocates nothing; the write is spop_conn_kick()'s. */
void spop_conn_answer_held(struct spop_conn *c, uint64_t stream_id, uint64_t frame_id,
                           const struct route_table *t, size_t cluster)
{
	const struct route_entry *e = t != NULL && cluster < t->n ? &t->e[cluster] : NULL;
	enum spop_status st;

	assert(c->held > 0);
	c->held--;
	if (c->state == SPOP_ST_CLOSING)
		return;
	spop_conn_bound_tx(c);
	if (e != NULL)
		st = spop_conn_put_ack(c, stream_id, frame_id, e->actions, e->actions_len);
	else if (t != NULL)
		st = spop_conn_put_ack(c, stream_id, frame_id, t->err_actions[ROUTE_ERR_BAD_ARGS],
		                       t->err_len[ROUTE_ERR_BAD_ARGS]);
	else
		st = SPOP_STATUS_RES;
	if (st != SPOP_STATUS_NONE)
		spop_conn_close(c, st, "cannot answer a held NOTIFY: %s", spop_status_str(st));
}

/* After releases: answers the frames <rx> still holds (reading may have paused while <tx> was
 * short) and writes. Outside <c>'s own callbacks: a close here is reaped by the loop. */
void spop_conn_kick(struct spop_conn *c)
{
	if (c->state == SPOP_ST_CLOSING)
		return;
	spop_conn_process(c);
	(void)conn_flush(&c->c);
}
