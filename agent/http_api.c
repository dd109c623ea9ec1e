/* agent/http_api.c - HTTP request line parser and responses; see http_api.h. Every response
 * is built whole into the caller's bounded buffer: on -1 nothing of it remains there. */
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

const char *http_status_text(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 414:
		return "URI Too Long";
	case 431:
		return "Request Header Fields Too Large";
	case 503:
		return "Service Unavailable";
	default:
		return "Error";
	}
}

static bool http_is_tchar(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Decodes "METHOD SP TARGET SP HTTP/1.x" ended by "\r\n" or "\n" at the start of <p>[<len>].
 * Returns the bytes of the line with its end, 0 while no line end is there (the caller bounds
 * the wait with max_line), -1 when the line is not an HTTP/1.x request line. A path or query
 * too long for <out> is not an error: <out->too_long> asks for a 414. */
int http_parse_request_line(const uint8_t *p, size_t len, struct http_req *out)
{
	const uint8_t *nl = memchr(p, '\n', len);
	const uint8_t *end;
	const uint8_t *q;
	const uint8_t *m_end;
	const uint8_t *t_start;
	const uint8_t *t_end;
	const uint8_t *qmark;
	size_t plen;
	size_t qlen;

	memset(out, 0, sizeof(*out));
	if (nl == NULL)
		return 0;
	if ((size_t)(nl - p) + 1 > (size_t)INT32_MAX)
		return -1;
	end = nl;
	if (end > p && end[-1] == '\r')
		end--;
	/* method: a token */
	for (q = p; q < end && http_is_tchar(*q); q++)
		;
	if (q == p || q >= end || *q != ' ')
		return -1;
	m_end = q;
	if ((size_t)(m_end - p) == 3 && memcmp(p, "GET", 3) == 0)
		out->method = HTTP_M_GET;
	else if ((size_t)(m_end - p) == 4 && memcmp(p, "HEAD", 4) == 0)
		out->method = HTTP_M_HEAD;
	else if ((size_t)(m_end - p) == 7 && memcmp(p, "OPTIONS", 7) == 0)
		out->method = HTTP_M_OPTIONS;
	else
		out->method = HTTP_M_OTHER;
	/* target: origin-form, visible ASCII up to the next space */
	t_start = m_end + 1;
	for (q = t_start; q<end && * q> 0x20 && *q < 0x7f; q++)
		;
	t_end = q;
	if (t_end == t_start || *t_start != '/' || q >= end || *q != ' ')
		return -1;
	/* version */
	q++;
	if ((size_t)(end - q) != 8 || memcmp(q, "HTTP/1.", 7) != 0 || q[7] < '0' || q[7] > '9')
		return -1;
	qmark = memchr(t_start, '?', (size_t)(t_end - t_start));
	plen = (size_t)((qmark != NULL ? qmark : t_end) - t_start);
	qlen = qmark != NULL ? (size_t)(t_end - qmark - 1) : 0;
	if (plen >= sizeof(out->path) || qlen >= sizeof(out->query)) {
		out->too_long = true;
	} else {
		memcpy(out->path, t_start, plen);
		out->path[plen] = '\0';
		if (qmark != NULL)
			memcpy(out->query, qmark + 1, qlen);
		out->query[qlen] = '\0';
	}
	return (int)(nl - p + 1);
}

/* Offset just past the blank line ending an HTTP head in <p>[<len>] ("\r\n\r\n" or "\n\n"),
 * or 0 when the head is not complete. */
size_t http_head_end(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] != '\n')
			continue;
		if (i + 1 < len && p[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && p[i + 1] == '\r' && p[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* Copies the value of parameter <name> of <query> ("a=1&lag=16MB") into <out>. Returns 0, or
 * -1 when absent or longer than <outlen> - 1. No percent-decoding: values are plain tokens. */
int http_query_get(const char *query, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name);
	const char *p = query;

	while (*p != '\0') {
		size_t seg = strcspn(p, "&");

		if (seg > nlen && memcmp(p, name, nlen) == 0 && p[nlen] == '=') {
			size_t vlen = seg - nlen - 1;

			if (vlen >= outlen)
				return -1;
			memcpy(out, p + nlen + 1, vlen);
			out[vlen] = '\0';
			return 0;
		}
		p += seg;
		if (*p == '&')
			p++;
	}
	return -1;
}

/* Appends a whole response with <ctype> and <body>[<blen>] (omitted for HEAD). */
static int http_put(struct buf *out, int status, bool head, const char *ctype, const void *body,
                    size_t blen)
{
	size_t start = buf_len(out);

	if (buf_printf(out,
	               "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	               "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
	               status, http_status_text(status), ctype, blen) == -1)
		goto out_rollback;
	if (!head && blen > 0 && buf_append(out, body, blen) == -1)
		goto out_rollback;
	return status;

out_rollback:
	out->tail = out->head + start;
	errno = ENOBUFS;
	return -1;
}

/* A plain-text error response for <status>. Returns <status> or -1 (ENOBUFS). */
int http_respond_error(int status, bool head, struct buf *out)
{
	char body[64];
	int n = snprintf(body, sizeof(body), "%d %s\n", status, http_status_text(status));

	return http_put(out, status, head, "text/plain; charset=utf-8", body, (size_t)n);
}

/* Writes a JSON body built into <scratch> (at most <max> bytes) with its headers into <out>. */
static int http_put_json(const struct http_ctx *ctx, const struct http_req *req, int status,
                         struct buf *out)
{
	uint8_t mem[NS_FRAME_MAX * 2];
	struct buf body;

	buf_init_static(&body, mem, sizeof(mem));
	if (ns_to_json(ctx->ns, &body) == -1 || buf_append(&body, "\n", 1) == -1)
		return http_respond_error(503, req->method == HTTP_M_HEAD, out);
	return http_put(out, status, req->method == HTTP_M_HEAD, "application/json",
	                buf_head(&body), buf_len(&body));
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
	char raw[HTTP_QUERY_MAX];
	char want[HTTP_QUERY_MAX];
	uint64_t max_lag = UINT64_MAX;

	if (http_query_get(query, "lag", raw, sizeof(raw)) == 0 &&
	    units_parse_size(raw, &max_lag) == -1)
		return -1;
	want[0] = '\0';
	if (http_query_get(query, "replication_state", raw, sizeof(raw)) == 0 &&
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
	char raw[HTTP_QUERY_MAX];
	bool write_mode = false;

	for (size_t i = 0; i < ctx->conf->n_checks; i++) {
		if (ctx->conf->checks[i].kind == CHECK_KIND_READER &&
		    ctx->conf->checks[i].max_lag > 0) {
			max_lag = ctx->conf->checks[i].max_lag;
			break;
		}
	}
	if (http_query_get(query, "lag", raw, sizeof(raw)) == 0 &&
	    units_parse_size(raw, &max_lag) == -1)
		return -1;
	if (http_query_get(query, "mode", raw, sizeof(raw)) == 0) {
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
static int http_put_verdict(const struct http_ctx *ctx, const struct http_req *req,
                            const struct http_verdict *v, struct buf *out)
{
	uint8_t mem[2048]; /* escaped node and why: up to 6x for control bytes */
	struct buf body;
	bool head = req->method == HTTP_M_HEAD;

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
		return http_respond_error(503, head, out);
	return http_put(out, v->ok ? 200 : 503, head, "application/json", buf_head(&body),
	                buf_len(&body));
}

/* "/": Patroni's status code for the primary, with the whole node state as the body (so that
 * `curl node:5555` shows the node), "ok" and "why" first. */
static int http_put_root(const struct http_ctx *ctx, const struct http_req *req,
                         const struct http_verdict *v, struct buf *out)
{
	uint8_t jmem[NS_FRAME_MAX * 2];
	uint8_t mem[NS_FRAME_MAX * 2 + 1024];
	struct buf json;
	struct buf body;
	bool head = req->method == HTTP_M_HEAD;

	buf_init_static(&json, jmem, sizeof(jmem));
	buf_init_static(&body, mem, sizeof(mem));
	/* ns_to_json writes "{...}": ours goes in after its '{' */
	if (ns_to_json(ctx->ns, &json) == -1 || buf_len(&json) < 2 ||
	    buf_printf(&body, "{\"ok\":%s,\"why\":", v->ok ? "true" : "false") == -1 ||
	    ns_json_str(&body, v->why) == -1 || buf_append(&body, ",", 1) == -1 ||
	    buf_append(&body, (const uint8_t *)buf_head(&json) + 1, buf_len(&json) - 1) == -1 ||
	    buf_append(&body, "\n", 1) == -1)
		return http_respond_error(503, head, out);
	return http_put(out, v->ok ? 200 : 503, head, "application/json", buf_head(&body),
	                buf_len(&body));
}

static int http_put_metrics(const struct http_ctx *ctx, const struct http_req *req, struct buf *out)
{
	uint8_t mem[16384];
	struct buf body;

	buf_init_static(&body, mem, sizeof(mem));
	if (agent_metrics_write(ctx, &body) == -1)
		return http_respond_error(503, req->method == HTTP_M_HEAD, out);
	return http_put(out, 200, req->method == HTTP_M_HEAD, "text/plain; version=0.0.4",
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
int http_respond(const struct http_ctx *ctx, const struct http_req *req, struct buf *out)
{
	static const char *const primary_paths[] = { "/primary", "/leader", "/master",
		                                     "/read-write", NULL };
	static const char *const replica_paths[] = { "/replica", "/standby", NULL };
	static const char *const sync_paths[] = { "/sync", "/synchronous", NULL };
	static const char *const async_paths[] = { "/async", "/asynchronous", NULL };
	static const char *const roro_sync_paths[] = { "/read-only-sync", "/read-only-synchronous",
		                                       NULL };
	static const char *const sleader_paths[] = { "/standby-leader", "/standby_leader", NULL };
	bool head = req->method == HTTP_M_HEAD;
	struct http_verdict v;
	char line[NS_CHECK_LINE_MAX + 1];
	int r;

	memset(&v, 0, sizeof(v));
	if (req->too_long)
		return http_respond_error(414, head, out);
	if (req->method == HTTP_M_OTHER)
		return http_respond_error(405, head, out);
	if (strcmp(req->path, "/status") == 0)
		return http_put_json(ctx, req, 200, out);
	if (strcmp(req->path, "/metrics") == 0)
		return http_put_metrics(ctx, req, out);
	if (strncmp(req->path, "/check/", 7) == 0) {
		const char *name = req->path + 7;
		const struct ns_check *c = ns_find_check(ctx->ns, name);
		int n;

		if (c == NULL)
			return http_respond_error(404, head, out);
		n = snprintf(line, sizeof(line), "%s\n", c->line);
		return http_put(out, http_line_passes(c->line) ? 200 : 503, head, "text/plain",
		                line, (size_t)n);
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
		return http_respond_error(404, head, out);
	}
	if (r == -1)
		return http_respond_error(400, head, out);
	v.ok = r == 1;
	return http_put_verdict(ctx, req, &v, out);
}
