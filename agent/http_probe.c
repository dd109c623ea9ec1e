/* agent/http_probe.c - HTTP and TCP probes of haprole-agent; see http_probe.h.
 *
 * States (only hp_set_state() writes p->state; it re-arms <timer>):
 *   STOPPED -> WAIT (next probe) -> CONNECTING -> [tcp: pass] [https: HANDSHAKE] SENDING
 *   -> READING -> WAIT ...
 * The probe deadline is armed on entering CONNECTING and covers connect, handshake, send and
 * read: the timer is not re-armed by HANDSHAKE, SENDING and READING. A verdict closes the socket
 * at once (we never read more than we need: the status line, or the stub_status body).
 *
 * TLS (https urls): one SSL_CTX per probe, built from the config (CA file read then, never in a
 * probe); one SSL per probe attempt over the non-blocking socket. SSL_ERROR_WANT_READ/WRITE
 * arm <io> for that event, whatever the state (a TLS read may need a write and the other way
 * round). OpenSSL's error queue is per thread and shared with libpq's own TLS: it is cleared
 * before each call and read right after it. */
#include "agent/http_probe.h"
#include "agent/http_probe_conf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/log.h"

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

/* Closes whatever the probe under way holds. */
static void hp_abort(struct http_probe *p)
{
	sock_connector_cancel(&p->conn);
	ev_io_stop(p->loop, &p->io);
	if (p->ssl != NULL) {
		/* no close_notify: the probe is over, the socket closes right after */
		SSL_free(p->ssl);
		p->ssl = NULL;
	}
	if (p->fd != -1) {
		close(p->fd);
		p->fd = -1;
	}
	buf_reset(&p->tx);
	buf_reset(&p->rx);
}

/* Ends the probe under way with a verdict: debounce, publish, schedule the next one. */
static void hp_finish(struct http_probe *p, bool pass, const char *fmt, ...) HR_PRINTF(3, 4);
static void hp_finish(struct http_probe *p, bool pass, const char *fmt, ...)
{
	double took = ev_now(p->loop) - p->started;
	char why[NS_REASON_MAX] = "";
	bool changed;
	va_list ap;

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
	/* next probe scheduled before the callback, which may hp_stop() us */
	hp_set_state(p, HP_ST_WAIT, p->conf.interval - took);
	if (changed || strcmp(why, p->res.err) != 0 || p->active != p->active_told) {
		p->res.up = p->rf.up;
		snprintf(p->res.err, sizeof(p->res.err), "%s", why);
		p->active_told = p->active;
		if (p->cb != NULL)
			p->cb(p, p->arg);
	}
}

/* Appends the GET request to <p->tx>; 0, or -1 when it does not fit HP_TX_MAX. */
static int hp_build_request(struct http_probe *p)
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
	return buf_printf(&p->tx,
	                  "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: haprole-agent\r\n"
	                  "Accept: */*\r\nConnection: close\r\n\r\n",
	                  p->conf.path, host);
}

/* Decides from what <p->rx> holds; <eof> when the peer closed. Returns true when decided. */
static bool hp_decide(struct http_probe *p, bool eof)
{
	const uint8_t *d = buf_head(&p->rx);
	size_t len = buf_len(&p->rx);
	bool full = buf_room(&p->rx) == 0;
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

/* (Re)arms <io> on the probe's socket for <events>. */
static void hp_arm(struct http_probe *p, int events)
{
	ev_io_stop(p->loop, &p->io);
	ev_io_set(&p->io, p->fd, events);
	ev_io_start(p->loop, &p->io);
}

/* After an SSL call on <p->ssl> returned <ret> <= 0 (error queue cleared before the call,
 * <errno> as the call left it): arms <io> for what OpenSSL waits for, or ends the probe with the
 * reason ("tls: certificate verify failed (self-signed certificate)"). */
static void hp_tls_wait(struct http_probe *p, int ret, const char *doing)
{
	int saved = errno;
	int e = SSL_get_error(p->ssl, ret);
	unsigned long q;
	long v;

	switch (e) {
	case SSL_ERROR_WANT_READ:
		hp_arm(p, EV_READ);
		return;
	case SSL_ERROR_WANT_WRITE:
		hp_arm(p, EV_WRITE);
		return;
	case SSL_ERROR_SSL:
		q = ERR_peek_error();
		v = SSL_get_verify_result(p->ssl);
		if (ERR_GET_REASON(q) == SSL_R_CERTIFICATE_VERIFY_FAILED && v != X509_V_OK) {
			ERR_clear_error();
			hp_finish(p, false, "tls: certificate verify failed (%s)",
			          X509_verify_cert_error_string(v));
			return;
		}
		hp_finish(p, false, "tls: %s (%s)", hp_ssl_err_text(), doing);
		return;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		hp_finish(p, false, "tls: %s (%s)",
		          saved != 0 ? strerror(saved) : "connection closed by the server", doing);
		return;
	case SSL_ERROR_ZERO_RETURN:
		hp_finish(p, false, "tls: connection closed by the server (%s)", doing);
		return;
	default:
		ERR_clear_error();
		hp_finish(p, false, "tls: OpenSSL error %d (%s)", e, doing);
		return;
	}
}

static void hp_send(struct http_probe *p);

/* HANDSHAKE: drives SSL_connect(); on completion goes on to SENDING. */
static void hp_handshake(struct http_probe *p)
{
	int r;

	ERR_clear_error();
	errno = 0;
	r = SSL_connect(p->ssl);
	if (r != 1) {
		hp_tls_wait(p, r, "handshake");
		return;
	}
	log_debug("https probe %s: %s with %s", p->conf.name, SSL_get_version(p->ssl),
	          SSL_get_cipher_name(p->ssl));
	hp_set_state(p, HP_ST_SENDING, 0);
	hp_send(p);
}

/* READING: takes what the socket (or the TLS session) holds into <rx>, decides when it can.
 * Bounded: every turn of the TLS loop adds bytes to <rx> or returns. */
static void hp_read(struct http_probe *p)
{
	ssize_t n;
	int r;

	if (p->ssl == NULL) {
		n = buf_read_fd(&p->rx, p->fd);
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == -1 && errno != ENOBUFS) {
			hp_finish(p, false, "read: %s", strerror(errno));
			return;
		}
		hp_decide(p, n == 0);
		return;
	}
	for (;;) {
		if (buf_tail_room(&p->rx) == 0) {
			hp_decide(p, false); /* full: decides */
			return;
		}
		ERR_clear_error();
		errno = 0;
		r = SSL_read(p->ssl, buf_tail(&p->rx), (int)buf_tail_room(&p->rx));
		if (r > 0) {
			buf_commit(&p->rx, (size_t)r);
			if (hp_decide(p, false))
				return;
			continue;
		}
		if (SSL_get_error(p->ssl, r) == SSL_ERROR_ZERO_RETURN) {
			hp_decide(p, true);
			return;
		}
		hp_tls_wait(p, r, "reading the response");
		return;
	}
}

/* SENDING: writes what is left of the request at once; EV_WRITE only while some is left. */
static void hp_send(struct http_probe *p)
{
	ssize_t n;
	int r;

	if (p->ssl != NULL) {
		while (buf_len(&p->tx) != 0) {
			ERR_clear_error();
			errno = 0;
			r = SSL_write(p->ssl, buf_head(&p->tx), (int)buf_len(&p->tx));
			if (r <= 0) {
				hp_tls_wait(p, r, "sending the request");
				return;
			}
			buf_consume(&p->tx, (size_t)r);
		}
		hp_set_state(p, HP_ST_READING, 0);
		/* the session may already hold bytes: read at once, which arms EV_READ */
		hp_read(p);
		return;
	}
	n = buf_write_fd(&p->tx, p->fd);
	if (n == -1 && errno != EAGAIN) {
		hp_finish(p, false, "send: %s", strerror(errno));
		return;
	}
	if (buf_len(&p->tx) != 0) {
		hp_arm(p, EV_WRITE);
		return;
	}
	hp_set_state(p, HP_ST_READING, 0);
	hp_arm(p, EV_READ);
}

/* CONNECTING -> HANDSHAKE: a TLS session over <p->fd>, SNI and the name to verify set. */
static void hp_tls_begin(struct http_probe *p)
{
	char name[HP_HOST_MAX];
	bool is_ip = false;
	int ok = 1;

	hp_set_state(p, HP_ST_HANDSHAKE, 0);
	ERR_clear_error();
	p->ssl = SSL_new(p->ssl_ctx);
	if (p->ssl == NULL || SSL_set_fd(p->ssl, p->fd) != 1) {
		hp_finish(p, false, "tls: cannot start a session: %s", hp_ssl_err_text());
		return;
	}
	hp_tls_name(&p->conf, name, sizeof(name), &is_ip);
	if (!is_ip && name[0] != '\0')
		ok = SSL_set_tlsext_host_name(p->ssl, name);
	if (ok == 1 && p->conf.verify == HP_VERIFY_PEER) {
		if (is_ip)
			ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(p->ssl), name);
		else
			ok = SSL_set1_host(p->ssl, name);
	}
	if (ok != 1) {
		hp_finish(p, false, "tls: cannot use the name \"%s\": %s", name, hp_ssl_err_text());
		return;
	}
	SSL_set_connect_state(p->ssl);
	hp_handshake(p);
}

static void hp_on_connected(struct sock_connector *c, int fd, int err)
{
	struct http_probe *p = container_of(c, struct http_probe, conn);

	if (fd == -1) {
		hp_finish(p, false, "connect: %s", strerror(err));
		return;
	}
	if (p->conf.kind == HP_KIND_TCP) {
		close(fd);
		hp_finish(p, true, NULL);
		return;
	}
	p->fd = fd;
	if (p->conf.tls) {
		hp_tls_begin(p);
		return;
	}
	hp_set_state(p, HP_ST_SENDING, 0);
	hp_send(p);
}

static void hp_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct http_probe *p = container_of(w, struct http_probe, io);

	(void)loop;
	(void)revents;
	switch (p->state) {
	case HP_ST_HANDSHAKE:
		hp_handshake(p);
		return;
	case HP_ST_SENDING:
		hp_send(p);
		return;
	case HP_ST_READING:
		hp_read(p);
		return;
	case HP_ST_STOPPED:
	case HP_ST_WAIT:
	case HP_ST_CONNECTING:
	case HP_ST_COUNT:
		ev_io_stop(p->loop, &p->io);
		return;
	}
}

/* Starts one probe (WAIT -> CONNECTING): deadline first, then the connect. */
static void hp_begin(struct http_probe *p)
{
	hp_set_state(p, HP_ST_CONNECTING, 0);
	if (p->conf.kind == HP_KIND_HTTP && hp_build_request(p) < 0) {
		hp_finish(p, false, "request longer than %d bytes", HP_TX_MAX);
		return;
	}
	if (sock_connector_start(&p->conn, &p->conf.addr, p->conf.timeout) < 0)
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
	/* memset: state HP_ST_STOPPED */
	p->fd = -1;
	p->active = -1;
	p->active_told = -1;
	p->cb = cb;
	p->arg = arg;
	buf_init_static(&p->tx, p->tx_mem, sizeof(p->tx_mem));
	buf_init_static(&p->rx, p->rx_mem, sizeof(p->rx_mem));
	sock_connector_init(&p->conn, loop, hp_on_connected, p);
	ev_io_init(&p->io, hp_on_io, -1, EV_READ);
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
	hp_abort(p);
	hp_set_state(p, HP_ST_STOPPED, 0);
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
		hp_abort(p);
		hp_set_state(p, HP_ST_STOPPED, 0);
	}
	SSL_CTX_free(p->ssl_ctx);
	p->ssl_ctx = ctx;
	p->conf = c;
	rf_set_limits(&p->rf, c.rise, c.fall);
	if (running)
		hp_set_state(p, HP_ST_WAIT, 0);
	return 0;
}
