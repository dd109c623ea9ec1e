/* tests/unit/test_http_probe.c - the HTTP/TCP probe: pure decoders (status line, url, expect,
 * stub_status, config validation) as vector tables, then the probe itself on a libev loop
 * against tiny in-process servers on 127.0.11.x (pass, wrong status, silence -> timeout,
 * refused, stub_status count, tcp). Every loop run is bounded by a guard timer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "agent/http_probe.h"
#include "common/cfg.h"
#include "common/compiler.h"
#include "common/sock.h"

/* ---- hp_parse_status ---------------------------------------------------------------------- */

struct status_vector {
	const char *in; /* bytes received so far */
	int ret;        /* expected return: bytes, 0 need more, -1 invalid */
	int status;     /* expected status when ret > 0 */
	int line;       /* where the vector is */
};

static const struct status_vector status_vectors[] = {
	{ "HTTP/1.1 200 OK\r\n", 17, 200, __LINE__ },
	{ "HTTP/1.1 200 OK\r\nServer: x\r\n\r\n", 17, 200, __LINE__ },
	{ "HTTP/1.0 503 Service Unavailable\r\n", 34, 503, __LINE__ },
	{ "HTTP/1.1 204\r\n", 14, 204, __LINE__ },
	{ "HTTP/1.1 204 \r\n", 15, 204, __LINE__ },
	{ "HTTP/1.1 301 Moved\n", 19, 301, __LINE__ },
	{ "HTTP/1.1 200 tab\there\r\n", 23, 200, __LINE__ },
	{ "HTTP/1.1 599 x\r\n", 16, 599, __LINE__ },
	{ "HTTP/1.1 100 Continue\r\n", 23, 100, __LINE__ },
	{ "", 0, 0, __LINE__ },
	{ "H", 0, 0, __LINE__ },
	{ "HTTP/1.", 0, 0, __LINE__ },
	{ "HTTP/1.1 20", 0, 0, __LINE__ },
	{ "HTTP/1.1 200", 0, 0, __LINE__ },
	{ "HTTP/1.1 200 OK", 0, 0, __LINE__ },
	{ "HTTP/1.1 200 OK\r", 0, 0, __LINE__ },
	{ "http/1.1 200 OK\r\n", -1, 0, __LINE__ },
	{ "HTTP/1.1  200 OK\r\n", -1, 0, __LINE__ },
	{ "HTTP/11 200 OK\r\n", -1, 0, __LINE__ },
	{ "HTTP/1.1 2000 OK\r\n", -1, 0, __LINE__ },
	{ "HTTP/1.1 20x OK\r\n", -1, 0, __LINE__ },
	{ "HTTP/1.1 099 OK\r\n", -1, 0, __LINE__ },
	{ "HTTP/1.1 600 OK\r\n", -1, 0, __LINE__ },
	{ "HTTP/1.1 200 OK\rX\n", -1, 0, __LINE__ },
	{ "HTTP/1.1 200 O\x01K\r\n", -1, 0, __LINE__ },
	{ "HTTP/1.1 200 O\x7fK\r\n", -1, 0, __LINE__ },
	{ "SSH-2.0-OpenSSH\r\n", -1, 0, __LINE__ },
	{ "-ERR\r\n", -1, 0, __LINE__ },
};

static void test_hp_parse_status_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < HR_ARRAY_SIZE(status_vectors); i++) {
		const struct status_vector *v = &status_vectors[i];
		int st = 0;
		int ret = hp_parse_status((const uint8_t *)v->in, strlen(v->in), &st);

		if (ret != v->ret || (ret > 0 && st != v->status))
			fail_msg("vector at line %d: ret %d status %d", v->line, ret, st);
	}
}

static void test_hp_parse_status_long_line(void **state)
{
	uint8_t line[1024];
	int st = 0;

	(void)state;
	memcpy(line, "HTTP/1.1 200 ", 13);
	memset(line + 13, 'a', sizeof(line) - 13);
	assert_int_equal(hp_parse_status(line, 400, &st), 0); /* may still end */
	assert_int_equal(hp_parse_status(line, sizeof(line), &st), -1);
}

/* ---- hp_parse_url, hp_parse_expect -------------------------------------------------------- */

struct url_vector {
	const char *url;  /* config value */
	int ret;          /* expected return */
	const char *addr; /* expected addr text (sock_addr_str form) when ret == 0 */
	const char *path; /* expected path when ret == 0 */
	bool tls;         /* expected https flag when ret == 0 */
	int line;         /* where the vector is */
};

static const struct url_vector url_vectors[] = {
	{ "http://127.0.11.1:21080/health", 0, "127.0.11.1:21080", "/health", false, __LINE__ },
	{ "http://127.0.11.1:21080", 0, "127.0.11.1:21080", "/", false, __LINE__ },
	{ "http://127.0.11.1", 0, "127.0.11.1:80", "/", false, __LINE__ },
	{ "HTTP://127.0.0.1:8080/a?b=c", 0, "127.0.0.1:8080", "/a?b=c", false, __LINE__ },
	{ "http://127.0.0.1:8080?x=1", 0, "127.0.0.1:8080", "/?x=1", false, __LINE__ },
	{ "http://[::1]:8080/s", 0, "[::1]:8080", "/s", false, __LINE__ },
	{ "http://[::1]/s", 0, "[::1]:80", "/s", false, __LINE__ },
	{ "https://127.0.0.1/", 0, "127.0.0.1:443", "/", true, __LINE__ },
	{ "HTTPS://127.0.0.1:8443/h?x", 0, "127.0.0.1:8443", "/h?x", true, __LINE__ },
	{ "https://[::1]/", 0, "[::1]:443", "/", true, __LINE__ },
	{ "httpx://127.0.0.1/", -1, NULL, NULL, false, __LINE__ },
	{ "https:/127.0.0.1/", -1, NULL, NULL, false, __LINE__ },
	{ "127.0.0.1:80/", -1, NULL, NULL, false, __LINE__ },
	{ "http://app.local:80/", -1, NULL, NULL, false, __LINE__ },
	{ "http://user:pw@127.0.0.1/", -1, NULL, NULL, false, __LINE__ },
	{ "http://127.0.0.1/a#frag", -1, NULL, NULL, false, __LINE__ },
	{ "http://127.0.0.1/a b", -1, NULL, NULL, false, __LINE__ },
	{ "http:///x", -1, NULL, NULL, false, __LINE__ },
	{ "http://127.0.0.1:99999/", -1, NULL, NULL, false, __LINE__ },
};

static void test_hp_parse_url_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < HR_ARRAY_SIZE(url_vectors); i++) {
		const struct url_vector *v = &url_vectors[i];
		struct cfg_addr a;
		char path[HP_PATH_MAX] = "";
		char txt[80] = "";
		const char *why = NULL;
		bool tls = !v->tls;
		int ret = hp_parse_url(v->url, &a, path, sizeof(path), &tls, &why);

		if (ret != v->ret)
			fail_msg("vector at line %d (%s): ret %d why %s", v->line, v->url, ret,
			         why ? why : "-");
		if (ret < 0) {
			if (why == NULL)
				fail_msg("vector at line %d: no why", v->line);
			continue;
		}
		sock_addr_str(&a.ss, txt, sizeof(txt));
		if (strcmp(txt, v->addr) != 0 || strcmp(path, v->path) != 0 || tls != v->tls)
			fail_msg("vector at line %d: addr %s path %s tls %d", v->line, txt, path,
			         tls);
	}
}

struct expect_vector {
	const char *in; /* config value */
	int ret;        /* expected return */
	int min;        /* expected range */
	int max;        /* expected range */
	int line;       /* where the vector is */
};

static const struct expect_vector expect_vectors[] = {
	{ "200-399", 0, 200, 399, __LINE__ }, { "200", 0, 200, 200, __LINE__ },
	{ "100-599", 0, 100, 599, __LINE__ }, { "399-200", -1, 0, 0, __LINE__ },
	{ "99", -1, 0, 0, __LINE__ },         { "600", -1, 0, 0, __LINE__ },
	{ "200-", -1, 0, 0, __LINE__ },       { "-200", -1, 0, 0, __LINE__ },
	{ "2xx", -1, 0, 0, __LINE__ },        { "", -1, 0, 0, __LINE__ },
	{ "200 - 399", -1, 0, 0, __LINE__ },
};

static void test_hp_parse_expect_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < HR_ARRAY_SIZE(expect_vectors); i++) {
		const struct expect_vector *v = &expect_vectors[i];
		int mn = 0;
		int mx = 0;
		int ret = hp_parse_expect(v->in, &mn, &mx);

		if (ret != v->ret || (ret == 0 && (mn != v->min || mx != v->max)))
			fail_msg("vector at line %d (%s): ret %d %d-%d", v->line, v->in, ret, mn,
			         mx);
	}
}

/* ---- hp_parse_stub_status ----------------------------------------------------------------- */

struct stub_vector {
	const char *in; /* whole response so far */
	int ret;        /* expected return */
	int64_t active; /* expected count when ret == 1 */
	int line;       /* where the vector is */
};

#define STUB_HDR "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 97\r\n\r\n"

static const struct stub_vector stub_vectors[] = {
	{ STUB_HDR "Active connections: 1 \nserver accepts handled requests\n 3 3 3 \n", 1, 1,
	  __LINE__ },
	{ STUB_HDR "Active connections: 291 \n", 1, 291, __LINE__ },
	{ "HTTP/1.1 200 OK\n\nActive connections: 7\n", 1, 7, __LINE__ },
	{ STUB_HDR "Active connections: 12", 0, 0, __LINE__ },
	{ STUB_HDR "Active conn", 0, 0, __LINE__ },
	{ STUB_HDR, 0, 0, __LINE__ },
	{ "HTTP/1.1 200 OK\r\nServer: nginx\r\n", 0, 0, __LINE__ },
	{ STUB_HDR "<html>", -1, 0, __LINE__ },
	{ STUB_HDR "Active connections: x\n", -1, 0, __LINE__ },
	{ STUB_HDR "Active connections: \n", -1, 0, __LINE__ },
	{ STUB_HDR "Active connections: 99999999999999999999999\n", -1, 0, __LINE__ },
	{ STUB_HDR "Active connections: 5x\n", -1, 0, __LINE__ },
};

static void test_hp_parse_stub_status_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < HR_ARRAY_SIZE(stub_vectors); i++) {
		const struct stub_vector *v = &stub_vectors[i];
		int64_t a = -1;
		int ret = hp_parse_stub_status((const uint8_t *)v->in, strlen(v->in), &a);

		if (ret != v->ret || (ret == 1 && a != v->active))
			fail_msg("vector at line %d: ret %d active %lld", v->line, ret,
			         (long long)a);
	}
}

/* ---- hp_conf_validate --------------------------------------------------------------------- */

struct conf_vector {
	enum hp_kind kind;  /* section word */
	const char *url;    /* http: url */
	const char *expect; /* http: expect */
	const char *host;   /* http: host */
	const char *err;    /* expected error substring, NULL: valid */
	const char *extra;  /* "key=value" set after the defaults, NULL none */
	int line;           /* where the vector is */
};

static const struct conf_vector conf_vectors[] = {
	{ HP_KIND_HTTP, "http://127.0.0.1:8080/health", "200-399", "", NULL, NULL, __LINE__ },
	{ HP_KIND_HTTP, "", "200-399", "", "key 'url': required in an [http app] section", NULL,
	  __LINE__ },
	{ HP_KIND_HTTP, "http://app:8080/", "200-399", "", "key 'url': not a numeric", NULL,
	  __LINE__ },
	{ HP_KIND_HTTP, "ftp://127.0.0.1/", "200-399", "",
	  "key 'url': only http:// and https:// urls are probed (got \"ftp://127.0.0.1/\")", NULL,
	  __LINE__ },
	{ HP_KIND_HTTP, "http://127.0.0.1/", "2xx", "",
	  "key 'expect': a status 100-599 or a range like 200-399 (got \"2xx\")", NULL, __LINE__ },
	{ HP_KIND_HTTP, "http://127.0.0.1/", "200", "a b", "key 'host': spaces", NULL, __LINE__ },
	{ HP_KIND_TCP, "", "", "", "key 'addr': required in a [tcp app] section", NULL, __LINE__ },
	{ HP_KIND_HTTP, "https://127.0.0.1:8443/", "200", "", NULL, NULL, __LINE__ },
	{ HP_KIND_HTTP, "https://127.0.0.1:8443/", "200", "", NULL, "verify=none", __LINE__ },
	{ HP_KIND_HTTP, "https://127.0.0.1:8443/", "200", "", NULL, "sni=app.example", __LINE__ },
	{ HP_KIND_HTTP, "https://127.0.0.1:8443/", "200", "", "key 'sni': a host name without port",
	  "sni=app.example:443", __LINE__ },
	{ HP_KIND_HTTP, "https://127.0.0.1:8443/", "200", "",
	  "key 'ca_file': cannot read it: No such file or directory", "ca_file=/nonexistent/ca.pem",
	  __LINE__ },
	/* readable, but no certificate in it */
	{ HP_KIND_HTTP, "https://127.0.0.1:8443/", "200", "",
	  "key 'ca_file': cannot load it: ", "ca_file=/dev/null", __LINE__ },
	/* the CA file is read only where it is used: https with verify peer */
	{ HP_KIND_HTTP, "http://127.0.0.1:8080/", "200", "", NULL, "ca_file=/nonexistent/ca.pem",
	  __LINE__ },
};

static void test_hp_conf_validate_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < HR_ARRAY_SIZE(conf_vectors); i++) {
		const struct conf_vector *v = &conf_vectors[i];
		struct hp_conf c;
		char err[HR_ERR_LEN] = "";
		int ret;

		memset(&c, 0, sizeof(c));
		assert_int_equal(
		    cfg_set_defaults(v->kind == HP_KIND_TCP ? hp_tcp_keys : hp_http_keys, &c, err,
		                     sizeof(err)),
		    0);
		c.kind = v->kind;
		snprintf(c.name, sizeof(c.name), "app");
		snprintf(c.url, sizeof(c.url), "%s", v->url);
		snprintf(c.expect, sizeof(c.expect), "%s", v->expect);
		snprintf(c.host, sizeof(c.host), "%s", v->host);
		if (v->extra != NULL) {
			char key[32];
			const char *eq = strchr(v->extra, '=');
			const char *why = NULL;

			assert_non_null(eq);
			snprintf(key, sizeof(key), "%.*s", (int)(eq - v->extra), v->extra);
			assert_non_null(cfg_find_key(hp_http_keys, key));
			assert_int_equal(
			    cfg_parse_value(cfg_find_key(hp_http_keys, key), eq + 1, &c, &why), 0);
		}
		ret = hp_conf_validate(&c, err, sizeof(err));
		if ((v->err == NULL) != (ret == 0) || (ret < 0 && strstr(err, v->err) == NULL))
			fail_msg("vector at line %d: ret %d err \"%s\"", v->line, ret, err);
	}
}

/* ---- the probe on a loop, against in-process servers -------------------------------------- */

/* One tiny server: accepts, optionally answers <reply> after reading the request, closes. */
struct fake_server {
	struct ev_loop *loop; /* shared loop */
	int lfd;              /* listening socket */
	ev_io accept_io;      /* accept watcher */
	ev_io conn_io;        /* the one client connection */
	int cfd;              /* client socket, -1 none */
	const char *reply;    /* what to send; NULL: stay silent */
	struct cfg_addr addr; /* where it listens */
	int requests;         /* requests seen */
	char last_req[512];   /* last request head */
};

static void fake_close_conn(struct fake_server *s)
{
	if (s->cfd != -1) {
		ev_io_stop(s->loop, &s->conn_io);
		close(s->cfd);
		s->cfd = -1;
	}
}

static void fake_on_conn(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fake_server *s = container_of(w, struct fake_server, conn_io);
	ssize_t n;

	(void)loop;
	(void)revents;
	n = read(s->cfd, s->last_req, sizeof(s->last_req) - 1);
	if (n <= 0) {
		fake_close_conn(s);
		return;
	}
	s->last_req[n] = '\0';
	s->requests++;
	if (s->reply == NULL)
		return; /* silent: the probe's deadline must fire */
	assert_true(write(s->cfd, s->reply, strlen(s->reply)) == (ssize_t)strlen(s->reply));
	fake_close_conn(s);
}

static void fake_on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fake_server *s = container_of(w, struct fake_server, accept_io);
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	int fd = sock_accept(s->lfd, &peer, &plen);

	(void)revents;
	if (fd == -1)
		return;
	fake_close_conn(s); /* one client at a time */
	s->cfd = fd;
	ev_io_init(&s->conn_io, fake_on_conn, fd, EV_READ);
	ev_io_start(loop, &s->conn_io);
}

static void fake_start(struct fake_server *s, struct ev_loop *loop, const char *addr,
                       const char *reply)
{
	char err[HR_ERR_LEN];
	const char *why = NULL;

	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->cfd = -1;
	s->reply = reply;
	assert_int_equal(cfg_parse_addr(addr, &s->addr, &why), 0);
	s->lfd = sock_listen_tcp(&s->addr, 16, err, sizeof(err));
	if (s->lfd == -1)
		fail_msg("listen %s: %s", addr, err);
	ev_io_init(&s->accept_io, fake_on_accept, s->lfd, EV_READ);
	ev_io_start(loop, &s->accept_io);
}

static void fake_stop(struct fake_server *s)
{
	fake_close_conn(s);
	ev_io_stop(s->loop, &s->accept_io);
	close(s->lfd);
}

/* What the test watches: callbacks counted, loop broken once <want_up> or <want_err> seen. */
struct watch {
	int calls;            /* callbacks */
	int want_up;          /* -1 any, 0 down, 1 up */
	const char *want_err; /* substring the err must hold, NULL any */
	int64_t want_active;  /* -2 any, else the count */
	bool met;             /* condition reached */
	ev_timer guard;       /* bounds the loop */
};

static void watch_cb(struct http_probe *p, void *arg)
{
	struct watch *w = arg;

	w->calls++;
	if (w->want_up >= 0 && p->res.up != (w->want_up == 1))
		return;
	if (w->want_err != NULL && strstr(p->res.err, w->want_err) == NULL)
		return;
	if (w->want_active != -2 && p->active != w->want_active)
		return;
	w->met = true;
	ev_break(p->loop, EVBREAK_ONE);
}

static void guard_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)t;
	(void)revents;
	ev_break(loop, EVBREAK_ONE);
}

/* Runs <loop> until the watch condition is met or 5 s pass; returns whether it was met. */
static bool run_until(struct ev_loop *loop, struct watch *w, int want_up, const char *want_err,
                      int64_t want_active)
{
	w->want_up = want_up;
	w->want_err = want_err;
	w->want_active = want_active;
	w->met = false;
	ev_timer_init(&w->guard, guard_cb, 5.0, 0);
	ev_timer_start(loop, &w->guard);
	ev_run(loop, 0);
	ev_timer_stop(loop, &w->guard);
	return w->met;
}

static void probe_conf(struct hp_conf *c, enum hp_kind kind, const char *target)
{
	char err[HR_ERR_LEN] = "";
	const char *why = NULL;

	memset(c, 0, sizeof(*c));
	assert_int_equal(
	    cfg_set_defaults(kind == HP_KIND_TCP ? hp_tcp_keys : hp_http_keys, c, err, sizeof(err)),
	    0);
	c->kind = kind;
	snprintf(c->name, sizeof(c->name), "test");
	c->interval = 0.02;
	c->timeout = 0.2;
	c->rise = 2;
	c->fall = 2;
	if (kind == HP_KIND_TCP)
		assert_int_equal(cfg_parse_addr(target, &c->addr, &why), 0);
	else
		snprintf(c->url, sizeof(c->url), "%s", target);
}

static void test_hp_probe_http_up_then_down(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct fake_server s;
	struct http_probe p;
	struct hp_conf c;
	struct watch w = { 0 };
	char err[HR_ERR_LEN] = "";

	(void)state;
	fake_start(&s, loop, "127.0.11.21:21401", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	probe_conf(&c, HP_KIND_HTTP, "http://127.0.11.21:21401/health?x=1");
	snprintf(c.host, sizeof(c.host), "app.example");
	assert_int_equal(hp_init(&p, loop, &c, watch_cb, &w, err, sizeof(err)), 0);
	assert_false(p.res.up);
	hp_start(&p);
	assert_true(run_until(loop, &w, 1, NULL, -2));
	assert_true(s.requests >= 1); /* the first result sets the verdict (rise_fall.h) */
	assert_non_null(strstr(s.last_req, "GET /health?x=1 HTTP/1.1\r\n"));
	assert_non_null(strstr(s.last_req, "\r\nHost: app.example\r\n"));
	assert_non_null(strstr(s.last_req, "\r\nConnection: close\r\n\r\n"));
	assert_string_equal(p.res.err, "");
	assert_int_equal(p.last_status, 200);

	s.reply = "HTTP/1.1 503 Service Unavailable\r\n\r\n";
	assert_true(run_until(loop, &w, 0, "HTTP status 503, expected 200-399", -2));
	hp_stop(&p);
	assert_int_equal(p.state, HP_ST_STOPPED);
	fake_stop(&s);
	hp_free(&p);
	ev_loop_destroy(loop);
}

/* https: a server that accepts and never answers the ClientHello -> down at the probe deadline,
 * named as the handshake's. */
static void test_hp_probe_https_silent_server_times_out_in_handshake(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct fake_server s;
	struct http_probe p;
	struct hp_conf c;
	struct watch w = { 0 };
	char err[HR_ERR_LEN] = "";

	(void)state;
	fake_start(&s, loop, "127.0.42.21:31901", NULL);
	probe_conf(&c, HP_KIND_HTTP, "https://127.0.42.21:31901/");
	c.fall = 1;
	c.verify = HP_VERIFY_NONE;
	assert_int_equal(hp_init(&p, loop, &c, watch_cb, &w, err, sizeof(err)), 0);
	hp_start(&p);
	assert_true(run_until(loop, &w, 0, "timeout after 200 ms (TLS handshake)", -2));
	assert_true(s.requests >= 1);          /* it got our ClientHello */
	assert_int_equal(s.last_req[0], 0x16); /* TLS record type: handshake */
	hp_free(&p);
	assert_null(p.ssl_ctx);
	fake_stop(&s);
	ev_loop_destroy(loop);
}

/* https to a plain HTTP server: the handshake fails and the reason says so, with OpenSSL's
 * words. */
static void test_hp_probe_https_to_plain_http_names_the_failure(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct fake_server s;
	struct http_probe p;
	struct hp_conf c;
	struct watch w = { 0 };
	char err[HR_ERR_LEN] = "";

	(void)state;
	fake_start(&s, loop, "127.0.42.21:31902",
	           "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
	probe_conf(&c, HP_KIND_HTTP, "https://127.0.42.21:31902/");
	c.fall = 1;
	c.verify = HP_VERIFY_NONE;
	assert_int_equal(hp_init(&p, loop, &c, watch_cb, &w, err, sizeof(err)), 0);
	hp_start(&p);
	assert_true(run_until(loop, &w, 0, "(handshake)", -2));
	assert_true(strncmp(p.res.err, "tls: ", 5) == 0);
	assert_int_equal(p.last_status, 0);
	hp_free(&p);
	fake_stop(&s);
	ev_loop_destroy(loop);
}

static void test_hp_probe_http_silent_server_times_out(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct fake_server s;
	struct http_probe p;
	struct hp_conf c;
	struct watch w = { 0 };
	char err[HR_ERR_LEN] = "";

	(void)state;
	fake_start(&s, loop, "127.0.11.21:21402", NULL);
	probe_conf(&c, HP_KIND_HTTP, "http://127.0.11.21:21402/");
	c.fall = 1;
	assert_int_equal(hp_init(&p, loop, &c, watch_cb, &w, err, sizeof(err)), 0);
	hp_start(&p);
	assert_true(run_until(loop, &w, 0, "timeout after 200 ms (waiting for the response)", -2));
	assert_true(s.requests >= 1);
	hp_free(&p);
	fake_stop(&s);
	ev_loop_destroy(loop);
}

static void test_hp_probe_garbage_and_refused(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct fake_server s;
	struct http_probe p;
	struct hp_conf c;
	struct watch w = { 0 };
	char err[HR_ERR_LEN] = "";

	(void)state;
	fake_start(&s, loop, "127.0.11.21:21403", "SSH-2.0-OpenSSH_9.2\r\n");
	probe_conf(&c, HP_KIND_HTTP, "http://127.0.11.21:21403/");
	c.fall = 1;
	assert_int_equal(hp_init(&p, loop, &c, watch_cb, &w, err, sizeof(err)), 0);
	hp_start(&p);
	assert_true(run_until(loop, &w, 0, "bad HTTP status line", -2));
	s.reply = "HTTP/1.1 20";
	assert_true(run_until(loop, &w, 0, "connection closed before a status line", -2));
	fake_stop(&s);
	assert_true(run_until(loop, &w, 0, "connect: Connection refused", -2));
	hp_free(&p);
	ev_loop_destroy(loop);
}

static void test_hp_probe_stub_status(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct fake_server s;
	struct http_probe p;
	struct hp_conf c;
	struct watch w = { 0 };
	char err[HR_ERR_LEN] = "";

	(void)state;
	fake_start(&s, loop, "127.0.11.21:21404",
	           "HTTP/1.1 200 OK\r\nServer: nginx\r\n\r\nActive connections: 42 \n"
	           "server accepts handled requests\n 1 1 1 \nReading: 0 Writing: 1 Waiting: 0 \n");
	probe_conf(&c, HP_KIND_HTTP, "http://127.0.11.21:21404/stub");
	c.stub_status = true;
	assert_int_equal(hp_init(&p, loop, &c, watch_cb, &w, err, sizeof(err)), 0);
	assert_int_equal(p.active, -1);
	hp_start(&p);
	assert_true(run_until(loop, &w, 1, NULL, 42));
	s.reply = "HTTP/1.1 200 OK\r\n\r\n<html>not stub_status</html>";
	assert_true(run_until(loop, &w, -1, "stub_status: no 'Active connections: N'", -1));
	hp_free(&p);
	fake_stop(&s);
	ev_loop_destroy(loop);
}

static void test_hp_probe_tcp(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct fake_server s;
	struct http_probe p;
	struct hp_conf c;
	struct watch w = { 0 };
	char err[HR_ERR_LEN] = "";

	(void)state;
	fake_start(&s, loop, "127.0.11.21:21405", NULL);
	probe_conf(&c, HP_KIND_TCP, "127.0.11.21:21405");
	assert_int_equal(hp_init(&p, loop, &c, watch_cb, &w, err, sizeof(err)), 0);
	hp_start(&p);
	assert_true(run_until(loop, &w, 1, NULL, -2));
	assert_int_equal(s.requests, 0); /* nothing sent */
	fake_stop(&s);
	assert_true(run_until(loop, &w, 0, "Connection refused", -2));

	/* reconfigure keeps the verdict, probes the new target at once */
	fake_start(&s, loop, "127.0.11.21:21406", NULL);
	probe_conf(&c, HP_KIND_TCP, "127.0.11.21:21406");
	assert_int_equal(hp_reconfigure(&p, &c, err, sizeof(err)), 0);
	assert_false(p.res.up);
	assert_true(run_until(loop, &w, 1, NULL, -2));
	hp_free(&p);
	fake_stop(&s);
	ev_loop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hp_parse_status_vectors),
		cmocka_unit_test(test_hp_parse_status_long_line),
		cmocka_unit_test(test_hp_parse_url_vectors),
		cmocka_unit_test(test_hp_parse_expect_vectors),
		cmocka_unit_test(test_hp_parse_stub_status_vectors),
		cmocka_unit_test(test_hp_conf_validate_vectors),
		cmocka_unit_test(test_hp_probe_http_up_then_down),
		cmocka_unit_test(test_hp_probe_http_silent_server_times_out),
		cmocka_unit_test(test_hp_probe_https_silent_server_times_out_in_handshake),
		cmocka_unit_test(test_hp_probe_https_to_plain_http_names_the_failure),
		cmocka_unit_test(test_hp_probe_garbage_and_refused),
		cmocka_unit_test(test_hp_probe_stub_status),
		cmocka_unit_test(test_hp_probe_tcp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
