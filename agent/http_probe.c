/* agent/http_probe.c - HTTP and TCP probes of haprole-agent; see http_probe.h.
 *
 * States (only hp_set_state() writes p->state; it re-arms <timer>):
 *   STOPPED -> WAIT (next probe) -> CONNECTING -> [tcp: pass] [https: HANDSHAKE] SENDING
 *   -> READING -> WAIT ...
 * The probe deadline is armed on entering CONNECTING and covers connect, handshake, send and
 * read: the timer is not re-armed by HANDSHAKE, SENDING and READING (the connection's own
 * deadline is not used). A verdict closes the socket at once (we never read more than we need:
 * the status line, or the stub_status body).
 *
 * The connect is a sock_connector (common/sock.h); the connected socket is a struct conn
 * (common/conn.h) over the probe's own buffers: the request is queued at once, the layer sends
 * it and reads the response, and tells us: on_open (https: handshake done -> SENDING), on_drain
 * (request sent -> READING), on_read (decide), on_close (the layer closed it: a failed handshake
 * or send). TLS (https urls): one SSL_CTX per probe, built from the config (CA file read then,
 * never in a probe); one session per probe attempt, the transport of common/tls_conn.h, whose
 * failure reasons ("tls: ...") are the probe's. */
#include "agent/http_probe.h"
#include "agent/http_probe_conf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "common/log.h"
#include "common/tls_conn.h"

#define HP_STATUS_LINE_MAX 512 /* longest status line accepted; protects the decoder's walk */

/* ---- pure decoders ------------------------------------------------------------------------- */

/* RFC 9112 section 4: status-line = HTTP-version SP status-code SP [ reason-phrase ], where
 * HTTP-version = "HTTP/" DIGIT "." DIGIT and reason-phrase = *( HTAB / SP / VCHAR / obs-text ).
 * We also accept a missing SP after the code, and a bare LF as the line end (section 2.2). */
int hp_parse_status(const uint8_t *p, size_t len, int *status)
{
	static const char version[] = "HTTP/";
	size_t i = 0;
	int code = 0;

	for (size_t k = 0; k < sizeof(version) - 1; k++, i++) {
		if (i >= len)
			return 0;
		if (p[i] != (uint8_t)version[k])
			return -1;
	}
	/* DIGIT "." DIGIT SP */
	for (size_t k = 0; k < 4; k++, i++) {
		if (i >= len)
			return 0;
		if (k == 1 ? p[i] != '.' : k == 3 ? p[i] != ' ' : (p[i] < '0' || p[i] > '9'))
			return -1;
	}
	for (size_t k = 0; k < 3; k++, i++) {
		if (i >= len)
			return 0;
		if (p[i] < '0' || p[i] > '9')
			return -1;
		code = code * 10 + (p[i] - '0');
	}
	if (code < 100 || code > 599)
		return -1;
	if (i >= len)
		return 0;
	if (p[i] != ' ' && p[i] != '\r' && p[i] != '\n')
		return -1;
	for (; i < len; i++) {
		uint8_t c = p[i];

		if (i >= HP_STATUS_LINE_MAX)
			return -1;
		if (c == '\n') {
			*status = code;
			return (int)(i + 1);
		}
		if (c == '\r') {
			if (i + 1 >= len)
				return 0;
			if (p[i + 1] != '\n')
				return -1;
			*status = code;
			return (int)(i + 2);
		}
		if (c != '\t' && c < 0x20)
			return -1;
		if (c == 0x7f)
			return -1;
	}
	return i >= HP_STATUS_LINE_MAX ? -1 : 0;
}

/* Start of the body: after the first empty line. NULL while the headers are incomplete. */
static const uint8_t *hp_find_body(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (p[i] != '\n')
			continue;
		if (p[i + 1] == '\n')
			return p + i + 2;
		if (p[i + 1] == '\r' && i + 2 < len && p[i + 2] == '\n')
			return p + i + 3;
	}
	return NULL;
}

int hp_parse_stub_status(const uint8_t *p, size_t len, int64_t *active)
{
	static const char label[] = "Active connections:";
	const uint8_t *b = hp_find_body(p, len);
	const uint8_t *end = p + len;
	int64_t v = 0;
	size_t digits = 0;

	if (b == NULL)
		return 0;
	for (size_t k = 0; k < sizeof(label) - 1; k++, b++) {
		if (b >= end)
			return 0;
		if (*b != (uint8_t)label[k])
			return -1;
	}
	while (b < end && *b == ' ')
		b++;
	for (; b < end && *b >= '0' && *b <= '9'; b++) {
		if (++digits > 18)
			return -1; /* far beyond any connection count: refuse before overflow */
		v = v * 10 + (*b - '0');
	}
	if (b >= end)
		return 0; /* the number may go on */
	if (digits == 0 || (*b != ' ' && *b != '\r' && *b != '\n'))
		return -1;
	*active = v;
	return 1;
}

/* ---- the probe ----------------------------------------------------------------------------- */

static const char *const hp_state_names[HP_ST_COUNT] = {
	[HP_ST_STOPPED] = "STOPPED",       [HP_ST_WAIT] = "WAIT",
	[HP_ST_CONNECTING] = "CONNECTING", [HP_ST_HANDSHAKE] = "HANDSHAKE",
	[HP_ST_SENDING] = "SENDING",       [HP_ST_READING] = "READING",
};

const char *hp_state_name(enum hp_state st)
{
	return (unsigned)st < HP_ST_COUNT ? hp_state_names[st] : "?";
}

static const char *hp_kind_word(const struct http_probe *p)
{
	return p->conf.kind == HP_KIND_TCP ? "tcp" : p->conf.tls ? "https" : "http";
}

/* The only writer of <p->state>. WAIT arms <delay>; CONNECTING arms the probe deadline, which
 * HANDSHAKE, SENDING and READING inherit; STOPPED stops the timer. */
static void hp_set_state(struct http_probe *p, enum hp_state to, double delay)
{
	log_debug("%s probe %s: %s -> %s", hp_kind_word(p), p->conf.name, hp_state_name(p->state),
	          hp_state_name(to));
	p->state = to;
	switch (to) {
	case HP_ST_STOPPED:
		ev_timer_stop(p->loop, &p->timer);
		return;
	case HP_ST_WAIT:
		ev_timer_stop(p->loop, &p->timer);
		ev_timer_set(&p->timer, delay > 0 ? delay : 0, 0);
		ev_timer_start(p->loop, &p->timer);
		return;
	case HP_ST_CONNECTING:
		p->started = ev_now(p->loop);
		ev_timer_stop(p->loop, &p->timer);
		ev_timer_set(&p->timer, p->conf.timeout, 0);
		ev_timer_start(p->loop, &p->timer);
		return;
	case HP_ST_HANDSHAKE:
	case HP_ST_SENDING:
	case HP_ST_READING:
	case HP_ST_COUNT:
		return;
	}
}

/* Closes whatever the probe under way holds: the connection is freed now, or at the end of its
 * callback under way (on_free says when). Called once <p->state> no longer says a probe is under
 * way, so that on_close knows the close is ours. */
static void hp_abort(struct http_probe *p)
{
	sock_connector_cancel(&p->connector);
	if (p->conn_live)
		conn_release(&p->conn, "probe over");
}

/* Ends the probe under way with a verdict: debounce, publish, schedule the next one. */
static void hp_finish(struct http_probe *p, bool pass, const char *fmt, ...) HR_PRINTF(3, 4);
static void hp_finish(struct http_probe *p, bool pass, const char *fmt, ...)
{
	double took = ev_now(p->loop) - p->started;
	char why[NS_REASON_MAX] = "";
	bool changed;
	va_list ap;

	/* next probe scheduled first (the state says no probe is under way), then the socket
	 * goes, then the callback, which may hp_stop() us */
	hp_set_state(p, HP_ST_WAIT, p->conf.interval - took);
	hp_abort(p);
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
	}
	p->probes++;
	if (!pass)
		p->failures++;
	if (!pass && strcmp(why, p->res.err) != 0)
		log_warning("%s probe %s: %s", hp_kind_word(p), p->conf.name, why);
	changed = rf_feed(&p->rf, pass);
	if (changed)
		log_info("%s probe %s: %s%s%s", hp_kind_word(p), p->conf.name,
		         p->rf.up ? "up" : "down", why[0] ? ": " : "", why);
	p->res.ms = (uint32_t)(took * 1e3);
	if (changed || strcmp(why, p->res.err) != 0 || p->active != p->active_told) {
		p->res.up = p->rf.up;
		snprintf(p->res.err, sizeof(p->res.err), "%s", why);
		p->active_told = p->active;
		if (p->cb != NULL)
			p->cb(p, p->arg);
	}
}

/* Appends the GET request to <tx>; 0, or -1 when it does not fit HP_TX_MAX. */
static int hp_build_request(const struct http_probe *p, struct buf *tx)
{
	const char *host = p->conf.host[0] != '\0' ? p->conf.host : NULL;
	char hostport[80];

	if (host == NULL) {
		/* the url's authority as written */
		bool tls;
		const char *auth = p->conf.url + hp_scheme_len(p->conf.url, &tls);
		size_t alen = strcspn(auth, "/?");

		if (alen >= sizeof(hostport))
			return -1;
		memcpy(hostport, auth, alen);
		hostport[alen] = '\0';
		host = hostport;
	}
	return buf_printf(tx,
	                  "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: haprole-agent\r\n"
	                  "Accept: */*\r\nConnection: close\r\n\r\n",
	                  p->conf.path, host);
}

/* Decides from what <rx> holds; <eof> when the peer closed. Returns true when decided. */
static bool hp_decide(struct http_probe *p, const struct buf *rx, bool eof)
{
	const uint8_t *d = buf_head(rx);
	size_t len = buf_len(rx);
	bool full = buf_room(rx) == 0;
	int status = 0;
	int n = hp_parse_status(d, len, &status);
	int r;

	if (n < 0) {
		hp_finish(p, false, "bad HTTP status line");
		return true;
	}
	if (n == 0) {
		if (eof || full) {
			hp_finish(p, false, "%s before a status line",
			          eof ? "connection closed" : "response too long");
			return true;
		}
		return false;
	}
	p->last_status = status;
	if (status < p->conf.expect_min || status > p->conf.expect_max) {
		hp_finish(p, false, "HTTP status %d, expected %s", status, p->conf.expect);
		return true;
	}
	if (!p->conf.stub_status) {
		hp_finish(p, true, NULL);
		return true;
	}
	r = hp_parse_stub_status(d, len, &p->active);
	if (r == 0 && !eof && !full)
		return false;
	if (r <= 0) {
		p->active = -1;
		hp_finish(p, false, "stub_status: no 'Active connections: N' in the body");
		return true;
	}
	hp_finish(p, true, NULL);
	return true;
}

/* A probe is under way on the connection (not yet decided). */
static bool hp_busy(const struct http_probe *p)
{
	return p->state == HP_ST_HANDSHAKE || p->state == HP_ST_SENDING ||
	       p->state == HP_ST_READING;
}

/* The layer saw the connection fail: the transport's reason ("tls: ..."), else "<what>: <the
 * errno's text>". */
static void hp_conn_fail(struct http_probe *p, const struct conn *c, const char *what)
{
	if (c->tp_why != NULL)
		hp_finish(p, false, "%s", c->tp_why);
	else
		hp_finish(p, false, "%s: %s", what, strerror(c->err != 0 ? c->err : EPIPE));
}

/* The response so far (<eof>: all of it, or a read error in <c->err>). */
static void hp_conn_on_read(struct conn *c, bool eof)
{
	struct http_probe *p = container_of(c, struct http_probe, conn);

	if (!hp_busy(p))
		return;
	if (eof && c->err != 0) {
		hp_conn_fail(p, c, "read");
		return;
	}
	(void)hp_decide(p, &c->rx, eof);
}

/* https: the handshake is done; the request goes now. */
static void hp_conn_on_open(struct conn *c)
{
	struct http_probe *p = container_of(c, struct http_probe, conn);

	log_debug("https probe %s: %s with %s", p->conf.name, tls_conn_version(&p->tls),
	          tls_conn_cipher(&p->tls));
	hp_set_state(p, HP_ST_SENDING, 0);
}

/* The request is sent: what comes now is the response. */
static void hp_conn_on_drain(struct conn *c)
{
	struct http_probe *p = container_of(c, struct http_probe, conn);

	if (p->state == HP_ST_SENDING && buf_len(&c->tx) == 0)
		hp_set_state(p, HP_ST_READING, 0);
}

/* Closed while the probe was under way: the layer closed it (a failed handshake or send). */
static void hp_conn_on_close(struct conn *c)
{
	struct http_probe *p = container_of(c, struct http_probe, conn);

	if (!hp_busy(p))
		return; /* ours: hp_abort() after a verdict */
	hp_conn_fail(p, c, p->state == HP_ST_SENDING ? "send" : "read");
}

static void hp_conn_on_free(struct conn *c)
{
	struct http_probe *p = container_of(c, struct http_probe, conn);

	p->conn_live = false;
}

static const struct conn_ops hp_conn_ops = {
	.on_read = hp_conn_on_read,
	.on_drain = hp_conn_on_drain,
	.on_free = hp_conn_on_free,
	.on_close = hp_conn_on_close,
	.on_open = hp_conn_on_open,
};

/* CONNECTING -> [HANDSHAKE] SENDING: the socket becomes the probe's connection, the request is
 * queued, https puts a TLS session under it; the ClientHello (or the request) goes at once. */
static void hp_on_connected(struct sock_connector *sc, int fd, int err)
{
	struct http_probe *p = container_of(sc, struct http_probe, connector);
	char name[HP_HOST_MAX];
	bool is_ip = false;

	if (fd == -1) {
		hp_finish(p, false, "connect: %s", strerror(err));
		return;
	}
	if (p->conf.kind == HP_KIND_TCP) {
		close(fd);
		hp_finish(p, true, NULL);
		return;
	}
	conn_init(&p->conn, p->loop, fd, &hp_conn_ops, hp_kind_word(p), p->probes + 1, NULL);
	buf_init_static(&p->conn.rx, p->rx_mem, sizeof(p->rx_mem));
	buf_init_static(&p->conn.tx, p->tx_mem, sizeof(p->tx_mem));
	p->conn_live = true;
	if (hp_build_request(p, &p->conn.tx) < 0) {
		hp_finish(p, false, "request longer than %d bytes", HP_TX_MAX);
		return;
	}
	if (p->conf.tls) {
		hp_tls_name(&p->conf, name, sizeof(name), &is_ip);
		if (tls_conn_client(&p->tls, &p->conn, p->ssl_ctx, name, is_ip,
		                    p->conf.verify == HP_VERIFY_PEER) < 0) {
			hp_finish(p, false, "%s", p->tls.why);
			return;
		}
		hp_set_state(p, HP_ST_HANDSHAKE, 0);
	} else {
		hp_set_state(p, HP_ST_SENDING, 0);
	}
	conn_start(&p->conn, true); /* may end the probe: <p->conn> is not touched after */
}

/* Starts one probe (WAIT -> CONNECTING): deadline first, then the connect. */
static void hp_begin(struct http_probe *p)
{
	hp_set_state(p, HP_ST_CONNECTING, 0);
	if (sock_connector_start(&p->connector, &p->conf.addr, p->conf.timeout) < 0)
		hp_finish(p, false, "connect: %s", strerror(errno));
}

static void hp_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct http_probe *p = container_of(w, struct http_probe, timer);

	(void)loop;
	(void)revents;
	switch (p->state) {
	case HP_ST_WAIT:
		hp_begin(p);
		return;
	case HP_ST_CONNECTING:
	case HP_ST_HANDSHAKE:
	case HP_ST_SENDING:
	case HP_ST_READING:
		hp_finish(p, false, "timeout after %.0f ms (%s)", p->conf.timeout * 1e3,
		          p->state == HP_ST_CONNECTING  ? "connecting"
		          : p->state == HP_ST_HANDSHAKE ? "TLS handshake"
		          : p->state == HP_ST_SENDING   ? "sending"
		                                        : "waiting for the response");
		return;
	case HP_ST_STOPPED:
	case HP_ST_COUNT:
		return;
	}
}

int hp_init(struct http_probe *p, struct ev_loop *loop, const struct hp_conf *conf, hp_change_cb cb,
            void *arg, char *err, size_t errlen)
{
	struct hp_conf c = *conf;

	memset(p, 0, sizeof(*p));
	if (hp_conf_validate(&c, err, errlen) < 0)
		return -1;
	if (c.tls) {
		p->ssl_ctx = hp_tls_ctx_new(&c, err, errlen);
		if (p->ssl_ctx == NULL)
			return -1;
	}
	p->loop = loop;
	p->conf = c;
	/* memset: state HP_ST_STOPPED, no connection */
	p->active = -1;
	p->active_told = -1;
	p->cb = cb;
	p->arg = arg;
	sock_connector_init(&p->connector, loop, hp_on_connected, p);
	ev_timer_init(&p->timer, hp_on_timer, 0, 0);
	rf_init(&p->rf, c.rise, c.fall);
	p->res.present = true;
	snprintf(p->res.err, sizeof(p->res.err), "not probed yet");
	return 0;
}

void hp_start(struct http_probe *p)
{
	if (p->state != HP_ST_STOPPED)
		return;
	hp_set_state(p, HP_ST_WAIT, 0);
}

void hp_stop(struct http_probe *p)
{
	if (p->loop == NULL)
		return;
	hp_set_state(p, HP_ST_STOPPED, 0);
	hp_abort(p);
}

void hp_free(struct http_probe *p)
{
	hp_stop(p);
	SSL_CTX_free(p->ssl_ctx);
	p->ssl_ctx = NULL;
}

int hp_reconfigure(struct http_probe *p, const struct hp_conf *conf, char *err, size_t errlen)
{
	struct hp_conf c = *conf;
	bool running = p->state != HP_ST_STOPPED;
	struct ssl_ctx_st *ctx = NULL;

	if (hp_conf_validate(&c, err, errlen) < 0)
		return -1;
	if (c.tls) {
		ctx = hp_tls_ctx_new(&c, err, errlen);
		if (ctx == NULL)
			return -1;
	}
	if (running) {
		hp_set_state(p, HP_ST_STOPPED, 0);
		hp_abort(p);
	}
	SSL_CTX_free(p->ssl_ctx);
	p->ssl_ctx = ctx;
	p->conf = c;
	rf_set_limits(&p->rf, c.rise, c.fall);
	if (running)
		hp_set_state(p, HP_ST_WAIT, 0);
	return 0;
}
