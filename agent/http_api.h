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
 * Requests are read by common/http1.h (pure, fuzzed: tests/fuzz/fuzz_h1_request.c, and with
 * this responder tests/fuzz/fuzz_http_request.c). The responder reads a struct http_ctx
 * snapshot and writes into a bounded struct buf: no I/O. */
#ifndef HAPROLE_AGENT_HTTP_API_H
#define HAPROLE_AGENT_HTTP_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/compiler.h"
#include "common/http1.h"
#include "common/node_state.h"

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

int http_respond(const struct http_ctx *ctx, const struct h1_req *req,
                 struct buf *out) HR_MUSTCHECK;
bool http_line_passes(const char *line);

#endif /* HAPROLE_AGENT_HTTP_API_H */
