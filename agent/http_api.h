/* agent/http_api.h - the HTTP dialect of the agent port (docs/design.md section 5). Prefix: http_.
 *
 * For curl, monitoring and HAProxy's `option httpchk` (which sends "OPTIONS / HTTP/1.0" with no
 * Host header when given no argument). Methods GET, HEAD and OPTIONS: OPTIONS answers as GET
 * (status and body), HEAD the same status and headers without the body; others 405. One
 * request per connection: the response always says "Connection: close". Paths:
 *   /status                 200, the node state as JSON (ns_to_json)
 *   /metrics                200, Prometheus text format 0.0.4
 *   /check/NAME             200 when the check's line is "up" and not maint (so "up drain"
 *                           passes: an HTTP check beside an agent-check must not take a
 *                           draining server DOWN), else 503; the body is the line; 404: no NAME
 * Patroni's health endpoints, with Patroni's status codes (docs/agent.md, "Patroni"):
 *   / /primary /master /leader /read-write
 *                           200 on the writable primary (PostgreSQL up, primary, not fenced,
 *                           not maint); "/" carries the node state JSON as its body
 *   /replica /standby       200 on a running standby not in maint; ?lag=SIZE (bytes, 16kB,
 *                           64MB, 1GB), ?replication_state=streaming, ?tag_K=V (503: no tags)
 *   /read-only              the primary as /primary, else as /replica
 *   /sync /synchronous, /async /asynchronous, /read-only-sync
 *                           as /replica, and listed as sync (async) in the primary's
 *                           pg_stat_replication, read from its feed (pg.repl); 503 with the
 *                           reason when no primary is in view
 *   /standby-leader         503: haprole nodes are never a standby cluster's leader
 *   /health                 200 when PostgreSQL runs (no postgres probe: app and nginx pass)
 *   /liveness               200: the agent's loop answers
 *   /readiness              200 on the writable primary, or a streaming standby within ?lag=
 *                           (default: the reader check's max_lag) counted per ?mode=apply|write
 * Admin: maint answers 503 on every role endpoint; drain and the SIGTERM grace answer as ready
 * (drain is the agent-check's word: HAProxy's DRAIN keeps open sessions, a 503 would cut them).
 * Every body says why (role, timeline, lag, admin). Other paths: 404.
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
	HTTP_M_OPTIONS, /* OPTIONS: as GET (what HAProxy's option httpchk sends by default) */
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
	const struct node_state *ns;           /* current state and check lines */
	const struct agent_conf *conf;         /* checks (kinds, names) */
	const struct agent_stats *stats;       /* counters */
	bool shutting_down;                    /* SIGTERM grace */
	double uptime;                         /* seconds since start */
	uint32_t pg_ms;                        /* last postgres query duration */
	uint64_t pg_queries;                   /* successful postgres queries */
	uint64_t pg_failures;                  /* failed postgres queries or connects */
	size_t feed_subscribers;               /* feed subscribers now */
	uint64_t feed_frames;                  /* frames queued to subscribers */
	uint64_t feed_dropped;                 /* subscribers dropped for falling behind */
	size_t clients;                        /* request connections now */
	const struct node_state *const *peers; /* the peers' last states, live feeds only */
	size_t n_peers;                        /* entries of <peers> */
};

int http_parse_request_line(const uint8_t *p, size_t len, struct http_req *out) HR_MUSTCHECK;
size_t http_head_end(const uint8_t *p, size_t len);
int http_query_get(const char *query, const char *name, char *out, size_t outlen) HR_MUSTCHECK;
int http_respond(const struct http_ctx *ctx, const struct http_req *req,
                 struct buf *out) HR_MUSTCHECK;
int http_respond_error(int status, bool head, struct buf *out) HR_MUSTCHECK;
const char *http_status_text(int status);
bool http_line_passes(const char *line);

#endif /* HAPROLE_AGENT_HTTP_API_H */
