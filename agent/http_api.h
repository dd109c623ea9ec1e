/* agent/http_api.h - the HTTP dialect of the agent port (docs/design.md section 5). Prefix: http_.
 *
 * For curl, monitoring and HAProxy's `option httpchk`. One request per connection: the
 * response always says "Connection: close". Paths:
 *   /  /status              200, the node state as JSON (ns_to_json)
 *   /metrics                200, Prometheus text format 0.0.4
 *   /check/NAME             200 when the check's line is "up ready ...", else 503; the body is
 *                           the line; 404 for an unknown NAME
 *   /primary /leader /master /read-write
 *                           200 when the writer verdict is up and ready, else 503
 *   /replica /standby       200 for a streaming standby, admin ready, and with ?lag=SIZE
 *                           (bytes, or 16MB, 1G...) no further behind; else 503
 *   /read-only              200 for a primary that may write, or a standby as /replica; 503
 *   /health                 200 when PostgreSQL answers (or, without a postgres probe, when
 *                           the app and nginx probes pass); else 503
 * Other paths: 404; methods other than GET and HEAD: 405; HEAD gets the headers only.
 *
 * The request-line parser is pure and fuzzed (tests/fuzz/fuzz_http_request.c). The responder
 * reads a struct http_ctx snapshot and writes into a bounded struct buf: no I/O. */
#ifndef HAPROLE_AGENT_HTTP_API_H
#define HAPROLE_AGENT_HTTP_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/compiler.h"
#include "common/node_state.h"

#define HTTP_PATH_MAX  128 /* path without the query, with NUL; longer is refused (414) */
#define HTTP_QUERY_MAX 128 /* query string without '?', with NUL */

enum http_method {
	HTTP_M_GET = 0, /* GET */
	HTTP_M_HEAD,    /* HEAD: the same status and headers, no body */
	HTTP_M_OTHER,   /* any other token: 405 */
	HTTP_M_COUNT    /* keep last */
};

/* One decoded request line. */
struct http_req {
	enum http_method method;    /* request method */
	char path[HTTP_PATH_MAX];   /* "/check/writer", without the query */
	char query[HTTP_QUERY_MAX]; /* "lag=16MB", without '?', "" when none */
	bool too_long;              /* path or query did not fit: answer 414 */
};

struct agent_conf;
struct agent_stats;

/* What a response is built from: read only, owned by the agent. */
struct http_ctx {
	const struct node_state *ns;     /* current state and check lines */
	const struct agent_conf *conf;   /* checks (kinds, names) */
	const struct agent_stats *stats; /* counters */
	bool shutting_down;              /* SIGTERM grace */
	double uptime;                   /* seconds since start */
	uint32_t pg_ms;                  /* last postgres query duration */
	uint64_t pg_queries;             /* successful postgres queries */
	uint64_t pg_failures;            /* failed postgres queries or connects */
	size_t feed_subscribers;         /* feed subscribers now */
	uint64_t feed_frames;            /* frames queued to subscribers */
	uint64_t feed_dropped;           /* subscribers dropped for falling behind */
	size_t clients;                  /* request connections now */
};

int http_parse_request_line(const uint8_t *p, size_t len, struct http_req *out) HR_MUSTCHECK;
size_t http_head_end(const uint8_t *p, size_t len);
int http_query_get(const char *query, const char *name, char *out, size_t outlen) HR_MUSTCHECK;
int http_respond(const struct http_ctx *ctx, const struct http_req *req,
                 struct buf *out) HR_MUSTCHECK;
int http_respond_error(int status, bool head, struct buf *out) HR_MUSTCHECK;
const char *http_status_text(int status);

#endif /* HAPROLE_AGENT_HTTP_API_H */
