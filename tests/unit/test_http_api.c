/* tests/unit/test_http_api.c - the HTTP dialect: request-line parser vectors (good and one
 * broken variant per rule), the first-line dispatcher of the agent port, and the status codes
 * and bodies of every path over primary / standby / down node states. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/agent.h"
#include "agent/agent_conf.h"
#include "agent/http_api.h"
#include "agent/port.h"

struct req_vec {
	const char *in;    /* bytes */
	int ret;           /* expected return: bytes, 0, -1; -2 = strlen(in) */
	enum h1_method m;  /* expected method when ret > 0 */
	const char *path;  /* expected path when ret > 0 */
	const char *query; /* expected query when ret > 0 */
	bool too_long;     /* expected flag */
	int line;          /* __LINE__ */
};

static void test_http_parse_request_line_vectors(void **state)
{
	static char long_path[400];
	static char long_req[450];
	static const struct req_vec v[] = {
		{ "GET / HTTP/1.1\r\n", -2, H1_M_GET, "/", "", false, __LINE__ },
		{ "GET /metrics HTTP/1.0\n", -2, H1_M_GET, "/metrics", "", false, __LINE__ },
		{ "HEAD /primary HTTP/1.1\r\nHost: x\r\n\r\n", 24, H1_M_HEAD, "/primary", "", false,
		  __LINE__ },
		{ "GET /replica?lag=16MB HTTP/1.1\r\n", -2, H1_M_GET, "/replica", "lag=16MB", false,
		  __LINE__ },
		{ "GET /replica? HTTP/1.1\r\n", -2, H1_M_GET, "/replica", "", false, __LINE__ },
		{ "POST /x HTTP/1.1\r\n", -2, H1_M_OTHER, "/x", "", false, __LINE__ },
		{ "GETX / HTTP/1.1\r\n", -2, H1_M_OTHER, "/", "", false, __LINE__ },
		{ "OPTIONS / HTTP/1.0\r\n\r\n", 20, H1_M_OPTIONS, "/", "", false, __LINE__ },
		{ "OPTIONS /master HTTP/1.0\r\n", -2, H1_M_OPTIONS, "/master", "", false,
		  __LINE__ },
		{ "OPTIONSX / HTTP/1.0\r\n", -2, H1_M_OTHER, "/", "", false, __LINE__ },
		{ "options / HTTP/1.0\r\n", -2, H1_M_OTHER, "/", "", false, __LINE__ },
		/* need more */
		{ "GET / HTTP/1.1", 0, H1_M_GET, NULL, NULL, false, __LINE__ },
		{ "", 0, H1_M_GET, NULL, NULL, false, __LINE__ },
		/* broken: one rule each */
		{ "\r\n", -1, H1_M_GET, NULL, NULL, false, __LINE__ },    /* no method */
		{ "GET\r\n", -1, H1_M_GET, NULL, NULL, false, __LINE__ }, /* no target */
		{ "GET  / HTTP/1.1\r\n", -1, H1_M_GET, NULL, NULL, false, __LINE__ }, /* 2 SP */
		{ "GET x HTTP/1.1\r\n", -1, H1_M_GET, NULL, NULL, false, __LINE__ },  /* no '/' */
		{ "GET / HTTP/2.0\r\n", -1, H1_M_GET, NULL, NULL, false, __LINE__ },  /* version */
		{ "GET / HTTP/1.x\r\n", -1, H1_M_GET, NULL, NULL, false, __LINE__ },
		{ "GET / HTTP/1.1 \r\n", -1, H1_M_GET, NULL, NULL, false, __LINE__ },
		{ "GET /\r\n", -1, H1_M_GET, NULL, NULL, false, __LINE__ }, /* HTTP/0.9 */
		{ "GET /a\x01 HTTP/1.1\r\n", -1, H1_M_GET, NULL, NULL, false, __LINE__ },
		{ "G(T / HTTP/1.1\r\n", -1, H1_M_GET, NULL, NULL, false, __LINE__ }, /* token */
		{ long_req, -2, H1_M_GET, NULL, NULL, true, __LINE__ },
	};

	(void)state;
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[0] = '/';
	snprintf(long_req, sizeof(long_req), "GET %s HTTP/1.1\r\n", long_path);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct h1_req r;
		int want = v[i].ret == -2 ? (int)strlen(v[i].in) : v[i].ret;
		int n = h1_parse_request_line((const uint8_t *)v[i].in, strlen(v[i].in), &r);

		if (n != want)
			fail_msg("vector at line %d: expected %d, got %d", v[i].line, want, n);
		if (n <= 0)
			continue;
		if (r.method != v[i].m || r.too_long != v[i].too_long ||
		    (v[i].path != NULL && strcmp(r.path, v[i].path) != 0) ||
		    (v[i].query != NULL && strcmp(r.query, v[i].query) != 0))
			fail_msg(
			    "vector at line %d: got method %d path \"%s\" query \"%s\" long %d",
			    v[i].line, r.method, r.path, r.query, r.too_long);
	}
}

static void test_http_head_end_vectors(void **state)
{
	(void)state;
	assert_int_equal(h1_head_end((const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18), 18);
	assert_int_equal(h1_head_end((const uint8_t *)"GET / HTTP/1.1\n\n", 16), 16);
	assert_int_equal(h1_head_end((const uint8_t *)"GET / HTTP/1.1\r\nA: b\r\n", 22), 0);
	assert_int_equal(h1_head_end((const uint8_t *)"GET / HTTP/1.1\r\n\r", 17), 0);
	assert_int_equal(h1_head_end((const uint8_t *)"", 0), 0);
}

static void test_http_query_get_vectors(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(h1_query_get("lag=16MB", "lag", out, sizeof(out)), 0);
	assert_string_equal(out, "16MB");
	assert_int_equal(h1_query_get("a=1&lag=100", "lag", out, sizeof(out)), 0);
	assert_string_equal(out, "100");
	assert_int_equal(h1_query_get("lagx=1", "lag", out, sizeof(out)), -1);
	assert_int_equal(h1_query_get("xlag=1", "lag", out, sizeof(out)), -1);
	assert_int_equal(h1_query_get("lag", "lag", out, sizeof(out)), -1);
	assert_int_equal(h1_query_get("", "lag", out, sizeof(out)), -1);
	assert_int_equal(h1_query_get("lag=12345678901234567890", "lag", out, sizeof(out)), -1);
}

struct first_vec {
	const char *in;      /* bytes */
	size_t max_line;     /* limit */
	int ret;             /* expected return, -2 = strlen(in) */
	enum port_dialect d; /* expected dialect */
	const char *name;    /* expected check name (CHECK) */
	int line;            /* __LINE__ */
};

static void test_port_first_line_vectors(void **state)
{
	static const struct first_vec v[] = {
		{ "writer\n", 64, -2, PORT_DIALECT_CHECK, "writer", __LINE__ },
		{ "writer\r\n", 64, -2, PORT_DIALECT_CHECK, "writer", __LINE__ },
		{ "  reader \t\r\n", 64, -2, PORT_DIALECT_CHECK, "reader", __LINE__ },
		/* fuzz_first_line: every trailing CR goes, not only the one before '\n' */
		{ "writer\r\r\n", 64, -2, PORT_DIALECT_CHECK, "writer", __LINE__ },
		{ "\n", 64, -2, PORT_DIALECT_CHECK, "", __LINE__ },
		{ "\r\n", 64, -2, PORT_DIALECT_CHECK, "", __LINE__ },
		{ "SUBSCRIBE\n", 64, -2, PORT_DIALECT_SUBSCRIBE, NULL, __LINE__ },
		{ "SUBSCRIBE\r\n", 64, -2, PORT_DIALECT_SUBSCRIBE, NULL, __LINE__ },
		{ "SUBSCRIBEX\n", 64, -2, PORT_DIALECT_CHECK, "SUBSCRIBEX", __LINE__ },
		{ "subscribe\n", 64, -2, PORT_DIALECT_CHECK, "subscribe", __LINE__ },
		{ "GET / HTTP/1.1\r\n", 64, -2, PORT_DIALECT_HTTP, NULL, __LINE__ },
		{ "HEAD /primary HTTP/1.0\r\n", 64, -2, PORT_DIALECT_HTTP, NULL, __LINE__ },
		{ "OPTIONS / HTTP/1.1\r\n", 64, -2, PORT_DIALECT_HTTP, NULL, __LINE__ },
		{ "OPTIONS / HTTP/1.0\r\n", 64, -2, PORT_DIALECT_HTTP, NULL, __LINE__ },
		{ "OPTIONS /replica HTTP/1.0\r\n", 64, -2, PORT_DIALECT_HTTP, NULL, __LINE__ },
		{ "writer\nGET / HTTP/1.1\r\n", 64, 7, PORT_DIALECT_CHECK, "writer", __LINE__ },
		{ "writ", 64, 0, PORT_DIALECT_CHECK, NULL, __LINE__ },
		{ "", 64, 0, PORT_DIALECT_CHECK, NULL, __LINE__ },
		{ "0123456789", 10, -1, PORT_DIALECT_CHECK, NULL, __LINE__ },
		{ "012345678\n", 10, -2, PORT_DIALECT_CHECK, "012345678", __LINE__ },
		{ "0123456789\n", 10, -1, PORT_DIALECT_CHECK, NULL, __LINE__ },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct port_line pl;
		int want = v[i].ret == -2 ? (int)strlen(v[i].in) : v[i].ret;
		int n =
		    port_first_line((const uint8_t *)v[i].in, strlen(v[i].in), v[i].max_line, &pl);

		if (n != want)
			fail_msg("vector at line %d: expected %d, got %d", v[i].line, want, n);
		if (n <= 0)
			continue;
		if (pl.dialect != v[i].d ||
		    (v[i].name != NULL && (pl.name_len != strlen(v[i].name) ||
		                           memcmp(pl.name, v[i].name, pl.name_len) != 0)))
			fail_msg("vector at line %d: got dialect %s name \"%.*s\"", v[i].line,
			         port_dialect_name(pl.dialect), (int)pl.name_len, pl.name);
	}
}

/* ---- responses ---------------------------------------------------------------------- */

enum node_kind {
	N_PRIMARY = 0,   /* writer up */
	N_STANDBY,       /* streaming, 1 MiB behind */
	N_DOWN,          /* pg down */
	N_DRAINED,       /* standby, operator drain */
	N_MAINT,         /* standby, operator maint */
	N_PRIMARY_DRAIN, /* primary, operator drain */
	N_PRIMARY_MAINT, /* primary, operator maint */
	N_FENCED,        /* primary fenced by a peer */
	N_ARCHIVE,       /* standby, WAL receiver not streaming */
	N_SYNC,          /* standby, the peer primary lists it sync */
	N_ASYNC,         /* standby, the peer primary lists it async */
	N_BEHIND,        /* standby caught up locally, the peer primary 64 MiB ahead */
	N_NOPG,          /* no postgres probe, app and nginx up */
	N_SHUTDOWN,      /* primary in the SIGTERM grace */
};

struct fixture {
	struct agent_conf conf;            /* writer, reader, app */
	struct node_state ns;              /* the node */
	struct node_state peer;            /* db0, a primary, for the sync kinds */
	const struct node_state *peers[1]; /* &peer */
	struct agent_stats stats;          /* counters */
	struct http_ctx ctx;               /* what responses read */
};

static void fixture_build(struct fixture *f, enum node_kind k)
{
	char err[HR_ERR_LEN];
	bool standby = k == N_STANDBY || k == N_DRAINED || k == N_MAINT || k == N_ARCHIVE ||
	               k == N_SYNC || k == N_ASYNC || k == N_BEHIND;

	memset(f, 0, sizeof(*f));
	if (agent_conf_load_string(&f->conf, "t.conf", "[agent]\nnode = db1\n", err, sizeof(err)) ==
	    -1)
		fail_msg("%s", err);
	ns_init(&f->ns);
	strcpy(f->ns.cluster, "main");
	strcpy(f->ns.node, "db1");
	f->ns.pg.present = k != N_NOPG;
	f->ns.pg.up = k != N_DOWN && k != N_NOPG;
	f->ns.pg.role = standby ? NS_ROLE_STANDBY : k == N_DOWN ? NS_ROLE_UNKNOWN : NS_ROLE_PRIMARY;
	f->ns.pg.tl = 3;
	strcpy(f->ns.pg.sysid, "7311");
	f->ns.pg.lsn = 0x3000000;
	f->ns.pg.streaming = standby && k != N_ARCHIVE;
	f->ns.pg.lag_bytes = k == N_STANDBY || k == N_DRAINED ? 1u << 20 : 0;
	f->ns.app.present = k == N_NOPG;
	f->ns.app.up = k == N_NOPG;
	if (k == N_DOWN)
		strcpy(f->ns.pg.err, "connection refused \"quoted\"");
	if (k == N_DRAINED || k == N_PRIMARY_DRAIN)
		f->ns.admin = NS_ADMIN_DRAIN;
	if (k == N_MAINT || k == N_PRIMARY_MAINT)
		f->ns.admin = NS_ADMIN_MAINT;
	if (k == N_FENCED) {
		f->ns.fenced = true;
		strcpy(f->ns.fence_reason, "peer db0 is primary on timeline 4 (ours 3)");
	}
	f->ns.n_checks = f->conf.n_checks;
	for (size_t i = 0; i < f->conf.n_checks; i++) {
		strcpy(f->ns.checks[i].name, f->conf.checks[i].name);
		assert_true(check_eval(&f->conf.checks[i], &f->ns, k == N_SHUTDOWN,
		                       f->ns.checks[i].line, sizeof(f->ns.checks[i].line)) > 0);
	}
	ns_init(&f->peer);
	strcpy(f->peer.node, "db0");
	f->peer.pg.present = true;
	f->peer.pg.up = true;
	f->peer.pg.role = NS_ROLE_PRIMARY;
	f->peer.pg.tl = 3;
	strcpy(f->peer.pg.sysid, "7311");
	f->peer.pg.lsn = k == N_BEHIND ? 0x3000000 + (64u << 20) : 0x3000000;
	strcpy(f->peer.pg.repl, k == N_SYNC    ? "db1=sync,db2=async"
	                        : k == N_ASYNC ? "db1x=sync,db1=async"
	                                       : "db2=async");
	f->peers[0] = &f->peer;
	f->ctx.ns = &f->ns;
	f->ctx.conf = &f->conf;
	f->ctx.stats = &f->stats;
	f->ctx.shutting_down = k == N_SHUTDOWN;
	if (k == N_SYNC || k == N_ASYNC || k == N_BEHIND) {
		f->ctx.peers = f->peers;
		f->ctx.n_peers = 1;
	}
}

struct resp_vec {
	enum node_kind node; /* node situation */
	const char *target;  /* request target */
	int status;          /* expected status, for GET, HEAD and OPTIONS alike */
	const char *body;    /* expected substring of the body (GET, OPTIONS), or NULL */
	int line;            /* __LINE__ */
};

/* Every vector is sent as GET and HEAD over HTTP/1.1 with a Host header, and as OPTIONS over
 * HTTP/1.0 without one (what HAProxy's option httpchk sends): the same status each time, the
 * body with GET and OPTIONS, none with HEAD. */
static void test_http_respond_vectors(void **state)
{
	static const struct resp_vec v[] = {
		/* "/": Patroni's primary status code, the node state as the body */
		{ N_PRIMARY, "/", 200,
		  "{\"ok\":true,\"why\":\"primary on timeline 3, writable\","
		  "\"v\":1,",
		  __LINE__ },
		{ N_STANDBY, "/", 503, "\"role\":\"standby\"", __LINE__ },
		{ N_DOWN, "/", 503, "connection refused \\\"quoted\\\"", __LINE__ },
		{ N_FENCED, "/", 503, "fenced: peer db0", __LINE__ },
		{ N_PRIMARY_DRAIN, "/", 200, "admin drain", __LINE__ },
		{ N_PRIMARY_MAINT, "/", 503, "admin maint", __LINE__ },
		{ N_SHUTDOWN, "/", 200, "shutting down", __LINE__ },
		{ N_PRIMARY, "/status", 200, "\"checks\":{\"writer\":\"up ready 100%\"", __LINE__ },
		{ N_DOWN, "/status", 200, "\"up\":false", __LINE__ },
		{ N_STANDBY, "/status", 200, NULL, __LINE__ },
		{ N_PRIMARY, "/metrics", 200, "haprole_pg_role{role=\"primary\"} 1", __LINE__ },
		{ N_PRIMARY, "/metrics", 200, "haprole_check_up{check=\"writer\"} 1", __LINE__ },
		{ N_STANDBY, "/metrics", 200, "haprole_pg_lag_bytes 1048576", __LINE__ },
		/* /check/NAME: any up verdict but maint passes (drain drains) */
		{ N_PRIMARY, "/check/writer", 200, "up ready 100%\n", __LINE__ },
		{ N_STANDBY, "/check/writer", 503, "down ready #pg: standby\n", __LINE__ },
		{ N_STANDBY, "/check/reader", 200, "up ready", __LINE__ },
		{ N_DRAINED, "/check/reader", 200, "up drain", __LINE__ },
		{ N_PRIMARY_DRAIN, "/check/writer", 200, "up drain 100% #admin: drain", __LINE__ },
		{ N_SHUTDOWN, "/check/writer", 200, "up drain 100% #shutdown", __LINE__ },
		{ N_MAINT, "/check/reader", 503, "up maint", __LINE__ },
		{ N_PRIMARY_MAINT, "/check/writer", 503, "up maint", __LINE__ },
		{ N_DOWN, "/check/writer", 503, "fail ready", __LINE__ },
		{ N_PRIMARY, "/check/nope", 404, NULL, __LINE__ },
		/* primary endpoints */
		{ N_PRIMARY, "/primary", 200, "\"ok\":true", __LINE__ },
		{ N_PRIMARY, "/primary", 200, "\"role\":\"primary\",\"timeline\":3", __LINE__ },
		{ N_PRIMARY, "/leader", 200, NULL, __LINE__ },
		{ N_PRIMARY, "/master", 200, NULL, __LINE__ },
		{ N_PRIMARY, "/read-write", 200, NULL, __LINE__ },
		{ N_PRIMARY, "/primary?tag_x=1", 200, NULL, __LINE__ },
		{ N_STANDBY, "/primary", 503, "standby on timeline 3, lag 1048576 bytes",
		  __LINE__ },
		{ N_STANDBY, "/master", 503, NULL, __LINE__ },
		{ N_STANDBY, "/leader", 503, NULL, __LINE__ },
		{ N_STANDBY, "/read-write", 503, NULL, __LINE__ },
		{ N_DOWN, "/primary", 503, "postgres not running", __LINE__ },
		{ N_FENCED, "/master", 503, "fenced", __LINE__ },
		{ N_PRIMARY_DRAIN, "/master", 200, "admin drain", __LINE__ },
		{ N_PRIMARY_MAINT, "/master", 503, "admin maint", __LINE__ },
		{ N_NOPG, "/master", 503, "no postgres probe", __LINE__ },
		{ N_PRIMARY, "/standby-leader", 503, "no standby cluster", __LINE__ },
		{ N_STANDBY, "/standby-leader", 503, NULL, __LINE__ },
		{ N_STANDBY, "/standby_leader", 503, NULL, __LINE__ },
		/* replica */
		{ N_PRIMARY, "/replica", 503, "not a standby: primary", __LINE__ },
		{ N_STANDBY, "/replica", 200, "\"ok\":true", __LINE__ },
		{ N_STANDBY, "/replica", 200, "\"lag_bytes\":1048576", __LINE__ },
		{ N_STANDBY, "/standby", 200, NULL, __LINE__ },
		{ N_STANDBY, "/replica?lag=2MB", 200, NULL, __LINE__ },
		{ N_STANDBY, "/replica?lag=1048576", 200, NULL, __LINE__ },
		{ N_STANDBY, "/replica?lag=1048575", 503, "lag 1048576 bytes > 1048575", __LINE__ },
		{ N_STANDBY, "/replica?lag=512k", 503, NULL, __LINE__ },
		{ N_STANDBY, "/replica?lag=16kB", 503, NULL, __LINE__ },
		{ N_STANDBY, "/replica?lag=64MB", 200, NULL, __LINE__ },
		{ N_STANDBY, "/replica?lag=1GB", 200, NULL, __LINE__ },
		{ N_STANDBY, "/replica?lag=zz", 400, NULL, __LINE__ },
		{ N_STANDBY, "/replica?replication_state=streaming", 200, "streaming", __LINE__ },
		{ N_STANDBY, "/replica?replication_state=in%20archive%20recovery", 503,
		  "not in archive recovery", __LINE__ },
		{ N_STANDBY, "/replica?replication_state=%zz", 400, NULL, __LINE__ },
		{ N_ARCHIVE, "/replica", 200, "in archive recovery", __LINE__ },
		{ N_ARCHIVE, "/replica?replication_state=streaming", 503,
		  "replication state in archive recovery, not streaming", __LINE__ },
		{ N_ARCHIVE, "/replica?replication_state=in+archive+recovery", 200, NULL,
		  __LINE__ },
		{ N_STANDBY, "/replica?tag_nofailover=true", 503, "no such tag", __LINE__ },
		{ N_DRAINED, "/replica", 200, "admin drain", __LINE__ },
		{ N_MAINT, "/replica", 503, "admin maint", __LINE__ },
		{ N_DOWN, "/replica", 503, "postgres not running", __LINE__ },
		{ N_BEHIND, "/replica", 200, "\"lag_bytes\":67108864", __LINE__ },
		{ N_BEHIND, "/replica?lag=64MB", 200, NULL, __LINE__ },
		{ N_BEHIND, "/replica?lag=16MB", 503, "lag 67108864 bytes > 16777216", __LINE__ },
		/* read-only */
		{ N_PRIMARY, "/read-only", 200, "primary", __LINE__ },
		{ N_STANDBY, "/read-only", 200, NULL, __LINE__ },
		{ N_STANDBY, "/read-only?lag=1k", 503, NULL, __LINE__ },
		{ N_MAINT, "/read-only", 503, NULL, __LINE__ },
		{ N_DOWN, "/read-only", 503, NULL, __LINE__ },
		/* sync / async from the primary's pg_stat_replication */
		{ N_SYNC, "/sync", 200, "sync standby of db0", __LINE__ },
		{ N_SYNC, "/synchronous", 200, NULL, __LINE__ },
		{ N_SYNC, "/async", 503, "sync standby of db0", __LINE__ },
		{ N_ASYNC, "/async", 200, "async standby of db0", __LINE__ },
		{ N_ASYNC, "/asynchronous", 200, NULL, __LINE__ },
		{ N_ASYNC, "/sync", 503, NULL, __LINE__ },
		{ N_BEHIND, "/sync", 503, "not in db0's pg_stat_replication", __LINE__ },
		{ N_BEHIND, "/async", 503, NULL, __LINE__ },
		{ N_STANDBY, "/sync", 503, "no primary in the peers' feeds", __LINE__ },
		{ N_STANDBY, "/async", 503, "no primary in the peers' feeds", __LINE__ },
		{ N_PRIMARY, "/sync", 503, "not a standby", __LINE__ },
		{ N_PRIMARY, "/async", 503, NULL, __LINE__ },
		{ N_PRIMARY, "/read-only-sync", 200, NULL, __LINE__ },
		{ N_SYNC, "/read-only-sync", 200, NULL, __LINE__ },
		{ N_ASYNC, "/read-only-sync", 503, NULL, __LINE__ },
		/* health, liveness, readiness */
		{ N_PRIMARY, "/health", 200, "postgres running as primary", __LINE__ },
		{ N_STANDBY, "/health", 200, NULL, __LINE__ },
		{ N_MAINT, "/health", 200, NULL, __LINE__ },
		{ N_DOWN, "/health", 503, NULL, __LINE__ },
		{ N_NOPG, "/health", 200, "app and nginx probes pass", __LINE__ },
		{ N_DOWN, "/liveness", 200, "agent loop running", __LINE__ },
		{ N_PRIMARY, "/liveness", 200, NULL, __LINE__ },
		{ N_PRIMARY, "/readiness", 200, NULL, __LINE__ },
		{ N_STANDBY, "/readiness", 200, "apply lag 1048576 bytes (max 16777216)",
		  __LINE__ },
		{ N_STANDBY, "/readiness?lag=1kB", 503, NULL, __LINE__ },
		{ N_STANDBY, "/readiness?lag=1kB&mode=write", 200, "write lag 0", __LINE__ },
		{ N_STANDBY, "/readiness?mode=other", 400, NULL, __LINE__ },
		{ N_BEHIND, "/readiness", 503, "apply lag 67108864", __LINE__ },
		{ N_ARCHIVE, "/readiness", 503, "not streaming", __LINE__ },
		{ N_MAINT, "/readiness", 503, NULL, __LINE__ },
		{ N_DOWN, "/readiness", 503, NULL, __LINE__ },
		{ N_PRIMARY, "/nope", 404, NULL, __LINE__ },
	};
	/* request line and headers around the target: method, then the rest */
	static const char *const forms[][2] = { { "GET", "HTTP/1.1\r\nHost: db1\r\n\r\n" },
		                                { "HEAD", "HTTP/1.1\r\nHost: db1\r\n\r\n" },
		                                { "OPTIONS", "HTTP/1.0\r\n\r\n" } };
	static uint8_t mem[65536];
	struct buf out;

	(void)state;
	buf_init_static(&out, mem, sizeof(mem));
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		for (size_t m = 0; m < sizeof(forms) / sizeof(forms[0]); m++) {
			static struct fixture f;
			struct h1_req r;
			char request[256];
			char want[32];
			const char *resp;
			int status;

			fixture_build(&f, v[i].node);
			buf_reset(&out);
			snprintf(request, sizeof(request), "%s %s %s", forms[m][0], v[i].target,
			         forms[m][1]);
			assert_true(h1_head_end((const uint8_t *)request, strlen(request)) ==
			            strlen(request));
			assert_true(h1_parse_request_line((const uint8_t *)request, strlen(request),
			                                  &r) > 0);
			status = http_respond(&f.ctx, &r, &out);
			assert_true(buf_append(&out, "", 1) == 0);
			resp = (const char *)buf_head(&out);
			snprintf(want, sizeof(want), "HTTP/1.1 %d ", v[i].status);
			if (status != v[i].status || strncmp(resp, want, strlen(want)) != 0)
				fail_msg("vector at line %d (%s): expected %d, got %d: %s",
				         v[i].line, forms[m][0], v[i].status, status, resp);
			if (strstr(resp, "Connection: close\r\n") == NULL)
				fail_msg("vector at line %d: no Connection: close", v[i].line);
			if (r.method == H1_M_HEAD) {
				if (strcmp(strstr(resp, "\r\n\r\n"), "\r\n\r\n") != 0)
					fail_msg("vector at line %d: HEAD with a body", v[i].line);
			} else if (v[i].body != NULL && strstr(resp, v[i].body) == NULL) {
				fail_msg("vector at line %d (%s): body lacks \"%s\": %s", v[i].line,
				         forms[m][0], v[i].body, resp);
			}
		}
	}
}

/* Other methods: 405, whatever the path. */
static void test_http_respond_methods(void **state)
{
	static const char *const reqs[] = { "POST / HTTP/1.1\r\n", "PUT /primary HTTP/1.0\r\n",
		                            "DELETE /replica HTTP/1.1\r\n",
		                            "PATCH /check/writer HTTP/1.1\r\n" };
	static uint8_t mem[4096];
	static struct fixture f;
	struct buf out;

	(void)state;
	fixture_build(&f, N_PRIMARY);
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		struct h1_req r;

		buf_init_static(&out, mem, sizeof(mem));
		assert_true(h1_parse_request_line((const uint8_t *)reqs[i], strlen(reqs[i]), &r) >
		            0);
		assert_int_equal(r.method, H1_M_OTHER);
		assert_int_equal(http_respond(&f.ctx, &r, &out), 405);
	}
}

/* Content-Length matches the body actually sent. */
static void test_http_respond_content_length(void **state)
{
	uint8_t mem[65536];
	struct buf out;
	struct fixture f;
	struct h1_req r;
	const char *req = "GET /metrics HTTP/1.1\r\n";
	const char *body;
	const char *cl;

	(void)state;
	buf_init_static(&out, mem, sizeof(mem));
	fixture_build(&f, N_STANDBY);
	assert_true(h1_parse_request_line((const uint8_t *)req, strlen(req), &r) > 0);
	assert_int_equal(http_respond(&f.ctx, &r, &out), 200);
	assert_true(buf_append(&out, "", 1) == 0);
	body = strstr((char *)buf_head(&out), "\r\n\r\n") + 4;
	cl = strstr((char *)buf_head(&out), "Content-Length: ");
	assert_non_null(cl);
	assert_int_equal(strtoul(cl + 16, NULL, 10), strlen(body));
}

/* /metrics is valid Prometheus text: every sample's family has exactly one TYPE line, given
 * before its samples, and every value parses as a number. */
static void test_http_respond_metrics_format(void **state)
{
	static const enum node_kind kinds[] = { N_PRIMARY, N_STANDBY, N_DOWN };
	static uint8_t mem[65536];

	(void)state;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		char typed[64][64];
		size_t n_typed = 0;
		struct buf out;
		struct fixture f;
		struct h1_req r;
		const char *req = "GET /metrics HTTP/1.1\r\n";
		char *line;
		char *save = NULL;

		buf_init_static(&out, mem, sizeof(mem) - 1);
		fixture_build(&f, kinds[k]);
		f.ns.app.present = true;
		f.ns.app.up = true;
		assert_true(h1_parse_request_line((const uint8_t *)req, strlen(req), &r) > 0);
		assert_int_equal(http_respond(&f.ctx, &r, &out), 200);
		mem[buf_len(&out)] = '\0';
		line = strstr((char *)buf_head(&out), "\r\n\r\n") + 4;
		for (line = strtok_r(line, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save)) {
			char name[64];
			size_t len;
			char *end;
			bool found = false;

			if (strncmp(line, "# HELP ", 7) == 0)
				continue;
			if (strncmp(line, "# TYPE ", 7) == 0) {
				len = strcspn(line + 7, " ");
				assert_true(len < sizeof(name));
				for (size_t i = 0; i < n_typed; i++) {
					if (strlen(typed[i]) == len &&
					    strncmp(typed[i], line + 7, len) == 0)
						fail_msg("kind %zu: TYPE twice: %s", k, line);
				}
				assert_true(n_typed < 64);
				memcpy(typed[n_typed], line + 7, len);
				typed[n_typed++][len] = '\0';
				continue;
			}
			len = strcspn(line, "{ ");
			assert_true(len > 0 && len < sizeof(name));
			memcpy(name, line, len);
			name[len] = '\0';
			/* a histogram's samples are its family name + _bucket, _sum, _count */
			for (size_t i = 0; i < n_typed; i++) {
				size_t tl = strlen(typed[i]);

				found |= strcmp(typed[i], name) == 0;
				found |= strncmp(typed[i], name, tl) == 0 &&
				         (strcmp(name + tl, "_bucket") == 0 ||
				          strcmp(name + tl, "_sum") == 0 ||
				          strcmp(name + tl, "_count") == 0);
			}
			if (!found)
				fail_msg("kind %zu: sample without a TYPE before it: %s", k, line);
			end = strrchr(line, ' ');
			assert_non_null(end);
			(void)strtod(end + 1, &end);
			if (*end != '\0')
				fail_msg("kind %zu: value is not a number: %s", k, line);
		}
	}
}

/* An output buffer too small for the response leaves nothing in it. */
static void test_http_respond_no_room(void **state)
{
	uint8_t mem[40];
	struct buf out;
	struct fixture f;
	struct h1_req r;
	const char *req = "GET / HTTP/1.1\r\n";

	(void)state;
	buf_init_static(&out, mem, sizeof(mem));
	fixture_build(&f, N_PRIMARY);
	assert_true(h1_parse_request_line((const uint8_t *)req, strlen(req), &r) > 0);
	assert_int_equal(http_respond(&f.ctx, &r, &out), -1);
	assert_int_equal(buf_len(&out), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_parse_request_line_vectors),
		cmocka_unit_test(test_http_head_end_vectors),
		cmocka_unit_test(test_http_query_get_vectors),
		cmocka_unit_test(test_port_first_line_vectors),
		cmocka_unit_test(test_http_respond_vectors),
		cmocka_unit_test(test_http_respond_methods),
		cmocka_unit_test(test_http_respond_content_length),
		cmocka_unit_test(test_http_respond_metrics_format),
		cmocka_unit_test(test_http_respond_no_room),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
