/* common/ns_json.c - the node state as JSON. See ns_json.h. */
#include "common/ns_json.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/node_state.h"

/* Length of the valid UTF-8 sequence at <p> (at most <len> bytes), or 0 when invalid. The
 * second byte's range follows RFC 3629 section 4: overlong forms, UTF-16 surrogates and code
 * points above U+10FFFF are invalid too (strict JSON parsers refuse them). */
static size_t ns_utf8_len(const unsigned char *p, size_t len)
{
	unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
	size_t n;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (n > len)
		return 0;
	if (p[0] == 0xe0)
		lo = 0xa0; /* overlong below U+0800 */
	else if (p[0] == 0xed)
		hi = 0x9f; /* surrogates U+D800..U+DFFF */
	else if (p[0] == 0xf0)
		lo = 0x90; /* overlong below U+10000 */
	else if (p[0] == 0xf4)
		hi = 0x8f; /* above U+10FFFF */
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	}
	return n;
}

/* Appends <s> as a JSON string, whole or not at all: quotes, escapes, control characters as
 * \u00XX, and '?' for bytes that are not valid UTF-8 (a PostgreSQL error in another encoding
 * must not break it). Returns 0, or -1 (ENOBUFS) leaving <out> unchanged. */
int ns_json_str(struct buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s);
	size_t start = buf_len(out);

	if (buf_append(out, "\"", 1) == -1)
		return -1;
	while (len > 0) {
		size_t n = ns_utf8_len(p, len);
		int r;

		if (n == 0) {
			r = buf_append(out, "?", 1);
			n = 1;
		} else if (*p == '"' || *p == '\\') {
			char esc[2] = { '\\', (char)*p };

			r = buf_append(out, esc, 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			r = buf_printf(out, "\\u%04x", *p);
		} else {
			r = buf_append(out, p, n);
		}
		if (r == -1)
			goto out_rollback;
		p += n;
		len -= n;
	}
	if (buf_append(out, "\"", 1) == 0)
		return 0;

out_rollback:
	out->tail = out->head + start; /* offsets from head survive buf_printf's compaction */
	errno = ENOBUFS;
	return -1;
}

static const char *ns_bool(bool b)
{
	return b ? "true" : "false";
}

static int ns_json_probe(struct buf *out, const char *key, const struct ns_probe *pr)
{
	if (buf_printf(out, ",\"%s\":{\"present\":%s,\"up\":%s,\"ms\":%u,\"err\":", key,
	               ns_bool(pr->present), ns_bool(pr->up), pr->ms) == -1 ||
	    ns_json_str(out, pr->err) == -1 || buf_append(out, "}", 1) == -1)
		return -1;
	return 0;
}

/* Appends <s> as one JSON object (what `curl node:5555` shows, and haprolectl --json), whole
 * or not at all. Returns 0, or -1 (ENOBUFS) leaving <out> unchanged. */
int ns_to_json(const struct node_state *s, struct buf *out)
{
	size_t start = buf_len(out);
	const struct ns_pg *pg = &s->pg;

	if (buf_append(out, "{\"v\":", 5) == -1 || buf_printf(out, "%u", s->v) == -1 ||
	    buf_append(out, ",\"cluster\":", 11) == -1 || ns_json_str(out, s->cluster) == -1 ||
	    buf_append(out, ",\"node\":", 8) == -1 || ns_json_str(out, s->node) == -1 ||
	    buf_printf(out, ",\"boot\":\"%016llx\",\"seq\":%llu,\"ts_ms\":%llu,\"admin\":\"%s\"",
	               (unsigned long long)s->boot, (unsigned long long)s->seq,
	               (unsigned long long)s->ts_ms, ns_admin_name(s->admin)) == -1 ||
	    buf_append(out, ",\"admin_reason\":", 16) == -1 ||
	    ns_json_str(out, s->admin_reason) == -1 ||
	    buf_printf(out, ",\"fenced\":%s,\"fence_reason\":", ns_bool(s->fenced)) == -1 ||
	    ns_json_str(out, s->fence_reason) == -1)
		goto out_rollback;
	if (buf_printf(
	        out, ",\"pg\":{\"present\":%s,\"up\":%s,\"role\":\"%s\",\"tl\":%u,\"sysid\":",
	        ns_bool(pg->present), ns_bool(pg->up), ns_role_name(pg->role), pg->tl) == -1 ||
	    ns_json_str(out, pg->sysid) == -1 ||
	    buf_printf(out,
	               ",\"lsn\":\"%X/%X\",\"lag_bytes\":%llu,\"lag_ms\":%llu,\"streaming\":%s,"
	               "\"paused\":%s,\"err\":",
	               (unsigned)(pg->lsn >> 32), (unsigned)pg->lsn,
	               (unsigned long long)pg->lag_bytes, (unsigned long long)pg->lag_ms,
	               ns_bool(pg->streaming), ns_bool(pg->paused)) == -1 ||
	    ns_json_str(out, pg->err) == -1 || buf_append(out, ",\"repl\":", 8) == -1 ||
	    ns_json_str(out, pg->repl) == -1 || buf_append(out, "}", 1) == -1)
		goto out_rollback;
	if (ns_json_probe(out, "app", &s->app) == -1 ||
	    ns_json_probe(out, "nginx", &s->nginx) == -1 ||
	    buf_append(out, ",\"checks\":{", 11) == -1)
		goto out_rollback;
	for (size_t i = 0; i < s->n_checks && i < NS_CHECKS_MAX; i++) {
		if ((i > 0 && buf_append(out, ",", 1) == -1) ||
		    ns_json_str(out, s->checks[i].name) == -1 || buf_append(out, ":", 1) == -1 ||
		    ns_json_str(out, s->checks[i].line) == -1)
			goto out_rollback;
	}
	if (buf_append(out, "}}", 2) == -1)
		goto out_rollback;
	return 0;

out_rollback:
	out->tail = out->head + start;
	errno = ENOBUFS;
	return -1;
}
