/* agent/agent_metrics.h - the agent's Prometheus metrics (text format 0.0.4), served at
 * GET /metrics of the agent port (agent/http_api.h). Prefix: agent_metrics_. */
#ifndef HAPROLE_AGENT_AGENT_METRICS_H
#define HAPROLE_AGENT_AGENT_METRICS_H

#include "agent/http_api.h"
#include "common/buf.h"
#include "common/compiler.h"

/* Appends every metric of the agent, read from <ctx>, to <b>. Returns 0, or -1 when <b> is
 * full (what was appended stays: the caller rolls back). */
int agent_metrics_write(const struct http_ctx *ctx, struct buf *b) HR_MUSTCHECK;

#endif /* HAPROLE_AGENT_AGENT_METRICS_H */
