/* agent/http_probe.c - HTTP and TCP probes of haprole-agent; see http_probe.h.
 *
 * States (only hp_set_state() writes p->state; it re-arms <timer>):
 *   STOPPED -> WAIT (next probe) -> CONNECTING -> [tcp: pass] SENDING -> READING -> WAIT ...
 * The probe deadline is armed on entering CONNECTING and covers connect, send and read: the
 * timer is not re-armed by SENDING and READING. A verdict closes the socket at once (we never
 * read more than we need: the status line, or the stub_status body). */
#include "agent/http_probe.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

#define HP_STATUS_LINE_MAX 512 /* longest status line accepted; protects the decoder's walk */

/* ---- config ------------------------------------------------------------------------------ */

#define HK(m) offsetof(struct hp_conf, m)

const struct cfg_key hp_http_keys[] = {
	{ .name = "url",
	  .type = CFG_T_STRING,
	  .offset = HK(url),
	  .len = sizeof(((struct hp_conf *)0)->url),
	  .reloadable = true,
	  .help = "what to GET: http://IP:PORT/path (numeric address, no DNS)" },
	{ .name = "host",
	  .type = CFG_T_STRING,
	  .offset = HK(host),
	  .len = sizeof(((struct hp_conf *)0)->host),
	  .def = "",
	  .reloadable = true,
	  .help = "Host header; empty: the url's IP:PORT" },
	{ .name = "expect",
	  .type = CFG_T_STRING,
	  .offset = HK(expect),
	  .len = sizeof(((struct hp_conf *)0)->expect),
	  .def = "200-399",
	  .reloadable = true,
	  .help = "accepted status: a range 200-399 or one code 200" },
	{ .name = "stub_status",
	  .type = CFG_T_BOOL,
	  .offset = HK(stub_status),
	  .def = "no",
	  .reloadable = true,
	  .help = "the url is nginx stub_status: read 'Active connections'" },
	{ .name = "interval",
	  .type = CFG_T_DURATION,
	  .offset = HK(interval),
	  .min = 0.01,
	  .max = 300,
	  .def = "1s",
	  .reloadable = true,
	  .help = "time between two probes" },
	{ .name = "timeout",
	  .type = CFG_T_DURATION,
	  .offset = HK(timeout),
	  .min = 0.01,
	  .max = 60,
	  .def = "1s",
	  .reloadable = true,
	  .help = "deadline of one probe: connect, request and response" },
	{ .name = "rise",
	  .type = CFG_T_INT,
	  .offset = HK(rise),
	  .min = 1,
	  .max = 1000,
	  .def = "2",
	  .reloadable = true,
	  .help = "consecutive passes to turn the probe up (the first result sets it)" },
	{ .name = "fall",
	  .type = CFG_T_INT,
	  .offset = HK(fall),
	  .min = 1,
	  .max = 1000,
	  .def = "2",
	  .reloadable = true,
	  .help = "consecutive failures to turn it down" },
	{ .name = NULL },
};

const struct cfg_key hp_tcp_keys[] = {
	{ .name = "addr",
	  .type = CFG_T_ADDR,
	  .offset = HK(addr),
	  .reloadable = true,
	  .help = "where to connect: IP:PORT (numeric, no DNS)" },
	{ .name = "interval",
	  .type = CFG_T_DURATION,
	  .offset = HK(interval),
	  .min = 0.01,
	  .max = 300,
	  .def = "1s",
	  .reloadable = true,
	  .help = "time between two probes" },
	{ .name = "timeout",
	  .type = CFG_T_DURATION,
	  .offset = HK(timeout),
	  .min = 0.01,
	  .max = 60,
	  .def = "1s",
	  .reloadable = true,
	  .help = "deadline of one connect" },
	{ .name = "rise",
	  .type = CFG_T_INT,
	  .offset = HK(rise),
	  .min = 1,
	  .max = 1000,
	  .def = "2",
	  .reloadable = true,
	  .help = "consecutive passes to turn the probe up (the first result sets it)" },
	{ .name = "fall",
	  .type = CFG_T_INT,
	  .offset = HK(fall),
	  .min = 1,
	  .max = 1000,
	  .def = "2",
	  .reloadable = true,
	  .help = "consecutive failures to turn it down" },
	{ .name = NULL },
};

/* A byte that may appear in a request target or Host value we send: visible ASCII only. */
static bool hp_is_vchar(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

static bool hp_all_vchar(const char *s)
{
	for (; *s != '\0'; s++) {
		if (!hp_is_vchar((unsigned char)*s))
			return false;
	}
	return true;
}

int hp_parse_url(const char *url, struct cfg_addr *addr, char *path, size_t pathlen,
                 const char **why)
{
	static const char scheme[] = "http://";
	const char *auth;
	const char *rest;
	size_t alen;
	char hostport[80];
	int n;

	if (strncasecmp(url, scheme, sizeof(scheme) - 1) != 0) {
		*why = "only http:// urls are probed";
		return -1;
	}
	auth = url + sizeof(scheme) - 1;
	alen = strcspn(auth, "/?#");
	rest = auth + alen;
	if (alen == 0) {
		*why = "no address in the url";
		return -1;
	}
	if (memchr(auth, '@', alen) != NULL) {
		*why = "user info in the url is not supported";
		return -1;
	}
	if (strchr(url, '#') != NULL) {
		*why = "a fragment has no meaning in a probe url";
		return -1;
	}
	if (!hp_all_vchar(url)) {
		*why = "spaces or control characters in the url";
		return -1;
	}
	/* port given: "...]:P" or "a.b.c.d:P"; absent: "[v6]" or "a.b.c.d" */
	if ((auth[0] == '[' && auth[alen - 1] == ']') ||
	    (auth[0] != '[' && memchr(auth, ':', alen) == NULL))
		n = snprintf(hostport, sizeof(hostport), "%.*s:80", (int)alen, auth);
	else
		n = snprintf(hostport, sizeof(hostport), "%.*s", (int)alen, auth);
	if (n < 0 || (size_t)n >= sizeof(hostport)) {
		*why = "address too long";
		return -1;
	}
	if (cfg_parse_addr(hostport, addr, why) < 0)
		return -1;
	if (rest[0] == '\0')
		n = snprintf(path, pathlen, "/");
	else if (rest[0] == '?')
		n = snprintf(path, pathlen, "/%s", rest);
	else
		n = snprintf(path, pathlen, "%s", rest);
	if (n < 0 || (size_t)n >= pathlen) {
		*why = "path too long";
		return -1;
	}
	return 0;
}

int hp_parse_expect(const char *s, int *min, int *max)
{
	char *end;
	long a;
	long b;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	a = strtol(s, &end, 10);
	if (*end == '\0') {
		b = a;
	} else if (*end == '-' && end[1] >= '0' && end[1] <= '9') {
		b = strtol(end + 1, &end, 10);
		if (*end != '\0')
			return -1;
	} else {
		return -1;
	}
	if (a < 100 || b > 599 || a > b)
		return -1;
	*min = (int)a;
	*max = (int)b;
	return 0;
}

int hp_conf_validate(struct hp_conf *c, char *err, size_t errlen)
{
	const char *why = NULL;

	switch (c->kind) {
	case HP_KIND_TCP:
		if (c->addr.len == 0) {
			snprintf(err, errlen, "key 'addr': required in a [tcp %s] section",
			         c->name);
			return -1;
		}
		return 0;
	case HP_KIND_HTTP:
		break;
	case HP_KIND_COUNT:
		snprintf(err, errlen, "key 'kind': not http or tcp");
		return -1;
	}
	if (c->url[0] == '\0') {
		snprintf(err, errlen, "key 'url': required in an [http %s] section", c->name);
		return -1;
	}
	if (hp_parse_url(c->url, &c->addr, c->path, sizeof(c->path), &why) < 0) {
		snprintf(err, errlen, "key 'url': %s (got \"%s\")", why, c->url);
		return -1;
	}
	if (!hp_all_vchar(c->host)) {
		snprintf(err, errlen, "key 'host': spaces or control characters (got \"%s\")",
		         c->host);
		return -1;
	}
	if (hp_parse_expect(c->expect, &c->expect_min, &c->expect_max) < 0) {
		snprintf(err, errlen,
		         "key 'expect': a status 100-599 or a range like 200-399 (got \"%s\")",
		         c->expect);
		return -1;
	}
	return 0;
}

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
	[HP_ST_STOPPED] = "STOPPED", [HP_ST_WAIT] = "WAIT",       [HP_ST_CONNECTING] = "CONNECTING",
	[HP_ST_SENDING] = "SENDING", [HP_ST_READING] = "READING",
};

const char *hp_state_name(enum hp_state st)
{
	return (unsigned)st < HP_ST_COUNT ? hp_state_names[st] : "?";
}

static const char *hp_kind_word(const struct http_probe *p)
{
	return p->conf.kind == HP_KIND_TCP ? "tcp" : "http";
}

/* The only writer of <p->state>. WAIT arms <delay>; CONNECTING arms the probe deadline, which
 * SENDING and READING inherit; STOPPED stops the timer. */
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
		const char *auth = p->conf.url + strlen("http://");
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

/* SENDING: writes what is left of the request at once; EV_WRITE only while some is left. */
static void hp_send(struct http_probe *p)
{
	ssize_t n = buf_write_fd(&p->tx, p->fd);

	if (n == -1 && errno != EAGAIN) {
		hp_finish(p, false, "send: %s", strerror(errno));
		return;
	}
	ev_io_stop(p->loop, &p->io);
	if (buf_len(&p->tx) != 0) {
		ev_io_set(&p->io, p->fd, EV_WRITE);
		ev_io_start(p->loop, &p->io);
		return;
	}
	hp_set_state(p, HP_ST_READING, 0);
	ev_io_set(&p->io, p->fd, EV_READ);
	ev_io_start(p->loop, &p->io);
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
	hp_set_state(p, HP_ST_SENDING, 0);
	hp_send(p);
}

static void hp_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct http_probe *p = container_of(w, struct http_probe, io);
	ssize_t n;

	(void)loop;
	(void)revents;
	switch (p->state) {
	case HP_ST_SENDING:
		hp_send(p);
		return;
	case HP_ST_READING:
		n = buf_read_fd(&p->rx, p->fd);
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == -1 && errno != ENOBUFS) {
			hp_finish(p, false, "read: %s", strerror(errno));
			return;
		}
		hp_decide(p, n == 0);
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
	case HP_ST_SENDING:
	case HP_ST_READING:
		hp_finish(p, false, "timeout after %.0f ms (%s)", p->conf.timeout * 1e3,
		          p->state == HP_ST_CONNECTING ? "connecting"
		          : p->state == HP_ST_SENDING  ? "sending"
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
}

int hp_reconfigure(struct http_probe *p, const struct hp_conf *conf, char *err, size_t errlen)
{
	struct hp_conf c = *conf;
	bool running = p->state != HP_ST_STOPPED;

	if (hp_conf_validate(&c, err, errlen) < 0)
		return -1;
	if (running) {
		hp_abort(p);
		hp_set_state(p, HP_ST_STOPPED, 0);
	}
	p->conf = c;
	rf_set_limits(&p->rf, c.rise, c.fall);
	if (running)
		hp_set_state(p, HP_ST_WAIT, 0);
	return 0;
}
