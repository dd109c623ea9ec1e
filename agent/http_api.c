/* agent/http_api.c - the agent port's HTTP dialect: what each path answers; see http_api.h.
 * Requests are read and responses written by common/http1.h; every response is built whole
 * into the caller's bounded buffer: on -1 nothing of it remains there. */
#include "agent/http_api.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/agent_metrics.h"
#include "agent/agent_conf.h"
#include "agent/agent_line.h"
#include "agent/check.h"
#include "common/units.h"

/* Writes a JSON body built into <scratch> (at most <max> bytes) with its headers into <out>. */
static int http_put_json(const struct http_ctx *ctx, const struct h1_req *req, int status,
                         struct buf *out)
{
	uint8_t mem[NS_FRAME_MAX * 2];
	struct buf body;

	buf_init_static(&body, mem, sizeof(mem));
	if (ns_to_json(ctx->ns, &body) == -1 || buf_append(&body, "\n", 1) == -1)
		return h1_respond_error(503, req->method == H1_M_HEAD, out);
	return h1_put(out, status, req->method == H1_M_HEAD, "application/json", buf_head(&body),
	              buf_len(&body));
}

/* ---- Patroni-compatible health endpoints (http_api.h) ------------------------------------ */

/* What one health endpoint decided: the status, and why, for the body. */
struct http_verdict {
	bool ok;                     /* 200, else 503 */
	uint64_t lag;                /* lag the answer used (bytes), for the body */
	char why[NS_REASON_MAX * 2]; /* role, timeline, lag, admin: why this answer */
};

static void http_why(struct http_verdict *v, const char *fmt, ...) HR_PRINTF(2, 3);
static void http_why(struct http_verdict *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->why, sizeof(v->why), fmt, ap);
	va_end(ap);
}

/* The cluster's primary as the peers' live feeds show it: up, primary, not fenced, of our
 * system identifier (when ours is known), on the highest timeline. NULL when none. */
static const struct node_state *http_peer_primary(const struct http_ctx *ctx)
{
	const struct node_state *best = NULL;

	for (size_t i = 0; i < ctx->n_peers; i++) {
		const struct node_state *p = ctx->peers[i];

		if (p == NULL || strcmp(p->node, ctx->ns->node) == 0 || !p->pg.present ||
		    !p->pg.up || p->pg.role != NS_ROLE_PRIMARY || p->fenced)
			continue;
		if (ctx->ns->pg.sysid[0] != '\0' && strcmp(p->pg.sysid, ctx->ns->pg.sysid) != 0)
			continue;
		if (best == NULL || p->pg.tl > best->pg.tl)
			best = p;
	}
	return best;
}

/* Lag of this standby in bytes. Like Patroni (which compares with the leader's WAL position
 * in the DCS), against the primary's position in its feed when a peer shows one: mode
 * "apply" counts to the replay position, "write" to the receive position. Without a primary
 * in view, the local receive - replay ("apply"), or 0 ("write"). */
static uint64_t http_standby_lag(const struct http_ctx *ctx, bool write_mode)
{
	const struct ns_pg *pg = &ctx->ns->pg;
	const struct node_state *p = http_peer_primary(ctx);
	uint64_t pos = write_mode ? pg->lsn + pg->lag_bytes : pg->lsn;
	uint64_t local = write_mode ? 0 : pg->lag_bytes;

	if (p != NULL && pg->lsn != 0 && p->pg.lsn > pos && p->pg.lsn - pos > local)
		return p->pg.lsn - pos;
	return local;
}

/* Patroni's "running as the primary with the leader lock", here: a local PostgreSQL that
 * answers as a primary and is not fenced (it takes writes), and not in maint. An operator's
 * drain and the SIGTERM grace keep 200: drain is the agent-check's word (DRAIN keeps open
 * sessions); a 503 here would mark the server DOWN and, with on-marked-down
 * shutdown-sessions, cut them. */
static bool http_writable(const struct http_ctx *ctx, struct http_verdict *v)
{
	const struct node_state *ns = ctx->ns;
	const struct ns_pg *pg = &ns->pg;

	if (!pg->present) {
		http_why(v, "no postgres probe on this node");
		return false;
	}
	if (!pg->up) {
		http_why(v, "postgres not running: %s", pg->err[0] != '\0' ? pg->err : "down");
		return false;
	}
	if (pg->role != NS_ROLE_PRIMARY) {
		v->lag = pg->lag_bytes;
		http_why(v, "%s on timeline %u, lag %llu bytes: not the primary",
		         ns_role_name(pg->role), pg->tl, (unsigned long long)pg->lag_bytes);
		return false;
	}
	if (ns->fenced) {
		http_why(v, "primary on timeline %u, fenced: %s", pg->tl,
		         ns->fence_reason[0] != '\0' ? ns->fence_reason : "by a peer");
		return false;
	}
	if (ns->admin == NS_ADMIN_MAINT) {
		http_why(v, "primary on timeline %u, admin maint%s%s", pg->tl,
		         ns->admin_reason[0] != '\0' ? ": " : "", ns->admin_reason);
		return false;
	}
	http_why(v, "primary on timeline %u, writable%s%s", pg->tl,
	         ns->admin == NS_ADMIN_DRAIN ? ", admin drain"
	         : ctx->shutting_down        ? ", shutting down"
	                                     : "",
	         ns->admin == NS_ADMIN_DRAIN && ns->admin_reason[0] != '\0' ? ": " : "");
	if (ns->admin == NS_ADMIN_DRAIN && ns->admin_reason[0] != '\0')
		snprintf(v->why + strlen(v->why), sizeof(v->why) - strlen(v->why), "%s",
		         ns->admin_reason);
	return true;
}

/* Percent-decodes <in> into <out> ('+' is a space). Returns 0, or -1 when it does not fit or a
 * '%' is not followed by two hex digits. */
static int http_pct_decode(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; in[i] != '\0'; i++) {
		char ch = in[i];

		if (ch == '+') {
			ch = ' ';
		} else if (ch == '%') {
			unsigned int x;
			char hex[3] = { in[i + 1], in[i + 1] != '\0' ? in[i + 2] : '\0', '\0' };

			if (strspn(hex, "0123456789abcdefABCDEF") != 2 ||
			    sscanf(hex, "%2x", &x) != 1)
				return -1;
			ch = (char)x;
			i += 2;
		}
		if (o + 1 >= outlen)
			return -1;
		out[o++] = ch;
	}
	out[o] = '\0';
	return 0;
}

/* Whether the query names a Patroni tag (tag_KEY=VALUE): haprole nodes have none, and Patroni
 * answers 503 for a tag the node does not have. */
static bool http_query_has_tag(const char *query)
{
	for (const char *p = query; *p != '\0';) {
		if (strncmp(p, "tag_", 4) == 0)
			return true;
		p += strcspn(p, "&");
		if (*p == '&')
			p++;
	}
	return false;
}

/* Patroni's /replica: PostgreSQL running as a standby, not in maint (haprole's
 * "noloadbalance"), and with ?replication_state= and ?lag= (bytes, 16kB, 64MB, 1GB) what they
 * ask. Returns 1 (200), 0 (503), or -1 for an unparsable parameter (400). */
static int http_replica(const struct http_ctx *ctx, const char *query, struct http_verdict *v)
{
	const struct node_state *ns = ctx->ns;
	const struct ns_pg *pg = &ns->pg;
	const char *state = pg->streaming ? "streaming" : "in archive recovery";
	char raw[H1_QUERY_MAX];
	char want[H1_QUERY_MAX];
	uint64_t max_lag = UINT64_MAX;

	if (h1_query_get(query, "lag", raw, sizeof(raw)) == 0 &&
	    units_parse_size(raw, &max_lag) == -1)
		return -1;
	want[0] = '\0';
	if (h1_query_get(query, "replication_state", raw, sizeof(raw)) == 0 &&
	    http_pct_decode(raw, want, sizeof(want)) == -1)
		return -1;
	if (!pg->present || !pg->up || pg->role != NS_ROLE_STANDBY) {
		if (!pg->present || !pg->up)
			http_why(v, "not a standby: postgres not running%s%s",
			         pg->err[0] != '\0' ? ": " : "", pg->err);
		else
			http_why(v, "not a standby: %s on timeline %u", ns_role_name(pg->role),
			         pg->tl);
		return 0;
	}
	v->lag = http_standby_lag(ctx, false);
	if (ns->admin == NS_ADMIN_MAINT) {
		http_why(v, "standby on timeline %u, admin maint%s%s", pg->tl,
		         ns->admin_reason[0] != '\0' ? ": " : "", ns->admin_reason);
		return 0;
	}
	if (want[0] != '\0' && strcmp(want, state) != 0) {
		http_why(v, "standby on timeline %u, replication state %s, not %.64s", pg->tl,
		         state, want);
		return 0;
	}
	if (v->lag > max_lag) {
		http_why(v, "standby on timeline %u, lag %llu bytes > %llu", pg->tl,
		         (unsigned long long)v->lag, (unsigned long long)max_lag);
		return 0;
	}
	if (http_query_has_tag(query)) {
		http_why(v, "standby on timeline %u: no such tag (haprole nodes have no tags)",
		         pg->tl);
		return 0;
	}
	http_why(v, "standby on timeline %u, %s, lag %llu bytes%s", pg->tl, state,
	         (unsigned long long)v->lag,
	         ns->admin == NS_ADMIN_DRAIN ? ", admin drain"
	         : ctx->shutting_down        ? ", shutting down"
	                                     : "");
	return 1;
}

/* Where the primary's pg_stat_replication (its feed's pg.repl) lists this node: the sync_state
 * into <state>, and the primary in <*primary>. Returns 1 listed, 0 not listed (or no primary
 * in view: <*primary> NULL). */
static int http_sync_state(const struct http_ctx *ctx, const struct node_state **primary,
                           char *state, size_t statelen)
{
	const char *p;
	size_t nlen = strlen(ctx->ns->node);

	*primary = http_peer_primary(ctx);
	if (*primary == NULL)
		return 0;
	for (p = (*primary)->pg.repl; *p != '\0';) {
		size_t seg = strcspn(p, ",");

		if (seg > nlen && memcmp(p, ctx->ns->node, nlen) == 0 && p[nlen] == '=') {
			snprintf(state, statelen, "%.*s", (int)(seg - nlen - 1), p + nlen + 1);
			return 1;
		}
		p += seg;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* /sync (want_sync) and /async: a standby as /replica that the primary's pg_stat_replication
 * lists as sync or quorum (/sync), async or potential (/async). Returns as http_replica. */
static int http_sync(const struct http_ctx *ctx, const char *query, bool want_sync,
                     struct http_verdict *v)
{
	const struct node_state *primary;
	char state[32];
	int r = http_replica(ctx, query, v);
	bool is_sync;

	if (r != 1)
		return r;
	if (http_sync_state(ctx, &primary, state, sizeof(state)) == 0) {
		if (primary == NULL)
			http_why(v, "sync state unknown: no primary in the peers' feeds ([peer] "
			            "sections)");
		else
			http_why(v,
			         "not in %.40s's pg_stat_replication as a streaming standby "
			         "(application_name must be the node name)",
			         primary->node);
		return 0;
	}
	is_sync = strcmp(state, "sync") == 0 || strcmp(state, "quorum") == 0;
	snprintf(v->why + strlen(v->why), sizeof(v->why) - strlen(v->why), "; %s standby of %.40s",
	         state, primary->node);
	return is_sync == want_sync ? 1 : 0;
}

/* Kubernetes-style readiness, as Patroni's: the writable primary, or a running standby that
 * streams and is within ?lag= (default: the first reader check's max_lag, else 16MB), the
 * lag counted to replay (?mode=apply, default) or to receive (?mode=write). */
static int http_readiness(const struct http_ctx *ctx, const char *query, struct http_verdict *v)
{
	const struct ns_pg *pg = &ctx->ns->pg;
	uint64_t max_lag = 16u << 20;
	char raw[H1_QUERY_MAX];
	bool write_mode = false;

	for (size_t i = 0; i < ctx->conf->n_checks; i++) {
		if (ctx->conf->checks[i].kind == CHECK_KIND_READER &&
		    ctx->conf->checks[i].max_lag > 0) {
			max_lag = ctx->conf->checks[i].max_lag;
			break;
		}
	}
	if (h1_query_get(query, "lag", raw, sizeof(raw)) == 0 &&
	    units_parse_size(raw, &max_lag) == -1)
		return -1;
	if (h1_query_get(query, "mode", raw, sizeof(raw)) == 0) {
		if (strcmp(raw, "write") == 0)
			write_mode = true;
		else if (strcmp(raw, "apply") != 0)
			return -1;
	}
	if (http_writable(ctx, v))
		return 1;
	if (!pg->present || !pg->up || pg->role != NS_ROLE_STANDBY)
		return 0;
	if (ctx->ns->admin == NS_ADMIN_MAINT)
		return 0;
	v->lag = http_standby_lag(ctx, write_mode);
	if (!pg->streaming) {
		http_why(v, "standby on timeline %u not streaming", pg->tl);
		return 0;
	}
	http_why(v, "standby on timeline %u, streaming, %s lag %llu bytes (max %llu)", pg->tl,
	         write_mode ? "write" : "apply", (unsigned long long)v->lag,
	         (unsigned long long)max_lag);
	return v->lag <= max_lag ? 1 : 0;
}

/* /health: PostgreSQL up and running (any role); a node without a postgres probe: its app and
 * nginx probes pass. */
static bool http_health(const struct http_ctx *ctx, struct http_verdict *v)
{
	const struct node_state *ns = ctx->ns;

	if (ns->pg.present) {
		if (ns->pg.up)
			http_why(v, "postgres running as %s on timeline %u",
			         ns_role_name(ns->pg.role), ns->pg.tl);
		else
			http_why(v, "postgres not running: %s",
			         ns->pg.err[0] != '\0' ? ns->pg.err : "down");
		return ns->pg.up;
	}
	if (ns->app.present && !ns->app.up) {
		http_why(v, "app: %s", ns->app.err[0] != '\0' ? ns->app.err : "down");
		return false;
	}
	if (ns->nginx.present && !ns->nginx.up) {
		http_why(v, "nginx: %s", ns->nginx.err[0] != '\0' ? ns->nginx.err : "down");
		return false;
	}
	http_why(v, "no postgres probe; app and nginx probes pass");
	return true;
}

/* The verdict body: {"ok":..,"node":..,"role":..,"timeline":..,"lag_bytes":..,"admin":..,
 * "why":..}. */
static int http_put_verdict(const struct http_ctx *ctx, const struct h1_req *req,
                            const struct http_verdict *v, struct buf *out)
{
	uint8_t mem[2048]; /* escaped node and why: up to 6x for control bytes */
	struct buf body;
	bool head = req->method == H1_M_HEAD;

	buf_init_static(&body, mem, sizeof(mem));
	if (buf_printf(&body, "{\"ok\":%s,\"node\":", v->ok ? "true" : "false") == -1 ||
	    ns_json_str(&body, ctx->ns->node) == -1 ||
	    buf_printf(
	        &body,
	        ",\"role\":\"%s\",\"timeline\":%u,\"lag_bytes\":%llu,\"admin\":\"%s\","
	        "\"why\":",
	        ctx->ns->pg.present && ctx->ns->pg.up ? ns_role_name(ctx->ns->pg.role) : "unknown",
	        ctx->ns->pg.tl, (unsigned long long)v->lag, ns_admin_name(ctx->ns->admin)) == -1 ||
	    ns_json_str(&body, v->why) == -1 || buf_append(&body, "}\n", 2) == -1)
		return h1_respond_error(503, head, out);
	return h1_put(out, v->ok ? 200 : 503, head, "application/json", buf_head(&body),
	              buf_len(&body));
}

/* "/": Patroni's status code for the primary, with the whole node state as the body (so that
 * `curl node:5555` shows the node), "ok" and "why" first. */
static int http_put_root(const struct http_ctx *ctx, const struct h1_req *req,
                         const struct http_verdict *v, struct buf *out)
{
	uint8_t jmem[NS_FRAME_MAX * 2];
	uint8_t mem[NS_FRAME_MAX * 2 + 1024];
	struct buf json;
	struct buf body;
	bool head = req->method == H1_M_HEAD;

	buf_init_static(&json, jmem, sizeof(jmem));
	buf_init_static(&body, mem, sizeof(mem));
	/* ns_to_json writes "{...}": ours goes in after its '{' */
	if (ns_to_json(ctx->ns, &json) == -1 || buf_len(&json) < 2 ||
	    buf_printf(&body, "{\"ok\":%s,\"why\":", v->ok ? "true" : "false") == -1 ||
	    ns_json_str(&body, v->why) == -1 || buf_append(&body, ",", 1) == -1 ||
	    buf_append(&body, (const uint8_t *)buf_head(&json) + 1, buf_len(&json) - 1) == -1 ||
	    buf_append(&body, "\n", 1) == -1)
		return h1_respond_error(503, head, out);
	return h1_put(out, v->ok ? 200 : 503, head, "application/json", buf_head(&body),
	              buf_len(&body));
}

static int http_put_metrics(const struct http_ctx *ctx, const struct h1_req *req, struct buf *out)
{
	uint8_t mem[16384];
	struct buf body;

	buf_init_static(&body, mem, sizeof(mem));
	if (agent_metrics_write(ctx, &body) == -1)
		return h1_respond_error(503, req->method == H1_M_HEAD, out);
	return h1_put(out, 200, req->method == H1_M_HEAD, "text/plain; version=0.0.4",
	              buf_head(&body), buf_len(&body));
}

static bool http_path_is(const char *path, const char *const *names)
{
	for (; *names != NULL; names++) {
		if (strcmp(path, *names) == 0)
			return true;
	}
	return false;
}

/* Whether agent-check line <line> lets an HTTP check beside the agent-check pass: any "up"
 * verdict that is not in maint. "up drain" must pass: HAProxy shows the DRAIN the agent-check
 * announces and keeps the open sessions, where a 503 would mark the server DOWN and, with
 * on-marked-down shutdown-sessions, cut them. */
bool http_line_passes(const char *line)
{
	return strncmp(line, "up ", 3) == 0 && strncmp(line + 3, "maint", 5) != 0;
}

/* Appends the response to <req> into <out>, whole or nothing. Returns the HTTP status, or -1
 * (ENOBUFS) when <out> cannot take even an error response. */
int http_respond(const struct http_ctx *ctx, const struct h1_req *req, struct buf *out)
{
	static const char *const primary_paths[] = { "/primary", "/leader", "/master",
		                                     "/read-write", NULL };
	static const char *const replica_paths[] = { "/replica", "/standby", NULL };
	static const char *const sync_paths[] = { "/sync", "/synchronous", NULL };
	static const char *const async_paths[] = { "/async", "/asynchronous", NULL };
	static const char *const roro_sync_paths[] = { "/read-only-sync", "/read-only-synchronous",
		                                       NULL };
	static const char *const sleader_paths[] = { "/standby-leader", "/standby_leader", NULL };
	bool head = req->method == H1_M_HEAD;
	struct http_verdict v;
	char line[NS_CHECK_LINE_MAX + 1];
	int r;

	memset(&v, 0, sizeof(v));
	if (req->too_long)
		return h1_respond_error(414, head, out);
	if (req->method == H1_M_OTHER)
		return h1_respond_error(405, head, out);
	if (strcmp(req->path, "/status") == 0)
		return http_put_json(ctx, req, 200, out);
	if (strcmp(req->path, "/metrics") == 0)
		return http_put_metrics(ctx, req, out);
	if (strncmp(req->path, "/check/", 7) == 0) {
		const char *name = req->path + 7;
		const struct ns_check *c = ns_find_check(ctx->ns, name);
		int n;

		if (c == NULL)
			return h1_respond_error(404, head, out);
		n = snprintf(line, sizeof(line), "%s\n", c->line);
		return h1_put(out, http_line_passes(c->line) ? 200 : 503, head, "text/plain", line,
		              (size_t)n);
	}
	if (strcmp(req->path, "/") == 0) {
		v.ok = http_writable(ctx, &v);
		return http_put_root(ctx, req, &v, out);
	}
	if (http_path_is(req->path, primary_paths)) {
		v.ok = http_writable(ctx, &v);
		return http_put_verdict(ctx, req, &v, out);
	}
	if (http_path_is(req->path, sleader_paths)) {
		http_why(&v, "no standby cluster: a haprole node is never a standby leader");
		return http_put_verdict(ctx, req, &v, out);
	}
	if (http_path_is(req->path, replica_paths)) {
		r = http_replica(ctx, req->query, &v);
	} else if (strcmp(req->path, "/read-only") == 0) {
		r = http_writable(ctx, &v) ? 1 : http_replica(ctx, req->query, &v);
	} else if (http_path_is(req->path, sync_paths)) {
		r = http_sync(ctx, req->query, true, &v);
	} else if (http_path_is(req->path, async_paths)) {
		r = http_sync(ctx, req->query, false, &v);
	} else if (http_path_is(req->path, roro_sync_paths)) {
		r = http_writable(ctx, &v) ? 1 : http_sync(ctx, req->query, true, &v);
	} else if (strcmp(req->path, "/health") == 0) {
		r = http_health(ctx, &v) ? 1 : 0;
	} else if (strcmp(req->path, "/liveness") == 0) {
		/* Patroni: its heartbeat loop runs. Here the loop that answers is the loop that
		 * probes: answering at all is the proof */
		http_why(&v, "agent loop running for %.0f s", ctx->uptime);
		r = 1;
	} else if (strcmp(req->path, "/readiness") == 0) {
		r = http_readiness(ctx, req->query, &v);
	} else {
		return h1_respond_error(404, head, out);
	}
	if (r == -1)
		return h1_respond_error(400, head, out);
	v.ok = r == 1;
	return http_put_verdict(ctx, req, &v, out);
}
