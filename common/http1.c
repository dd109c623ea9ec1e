/* common/http1.c - the HTTP/1.x request reader and response writer; see http1.h. Every
 * response is built whole into the caller's bounded buffer: on -1 nothing of it remains there. */
#include "common/http1.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const char *h1_status_text(int status)
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

static bool h1_is_tchar(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Decodes "METHOD SP TARGET SP HTTP/1.x" ended by "\r\n" or "\n" at the start of <p>[<len>].
 * Returns the bytes of the line with its end, 0 while no line end is there (the caller bounds
 * the wait with max_line), -1 when the line is not an HTTP/1.x request line. A path or query
 * too long for <out> is not an error: <out->too_long> asks for a 414. */
int h1_parse_request_line(const uint8_t *p, size_t len, struct h1_req *out)
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
	for (q = p; q < end && h1_is_tchar(*q); q++)
		;
	if (q == p || q >= end || *q != ' ')
		return -1;
	m_end = q;
	if ((size_t)(m_end - p) == 3 && memcmp(p, "GET", 3) == 0)
		out->method = H1_M_GET;
	else if ((size_t)(m_end - p) == 4 && memcmp(p, "HEAD", 4) == 0)
		out->method = H1_M_HEAD;
	else if ((size_t)(m_end - p) == 7 && memcmp(p, "OPTIONS", 7) == 0)
		out->method = H1_M_OPTIONS;
	else
		out->method = H1_M_OTHER;
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
size_t h1_head_end(const uint8_t *p, size_t len)
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
int h1_query_get(const char *query, const char *name, char *out, size_t outlen)
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

int h1_put(struct buf *out, int status, bool head, const char *ctype, const void *body, size_t blen)
{
	size_t start = buf_len(out);

	if (buf_printf(out,
	               "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	               "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
	               status, h1_status_text(status), ctype, blen) == -1)
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
int h1_respond_error(int status, bool head, struct buf *out)
{
	char body[64];
	int n = snprintf(body, sizeof(body), "%d %s\n", status, h1_status_text(status));

	return h1_put(out, status, head, "text/plain; charset=utf-8", body, (size_t)n);
}

enum h1_head h1_read_head(const uint8_t *p, size_t len, size_t max, struct h1_req *out)
{
	size_t end = h1_head_end(p, len);

	memset(out, 0, sizeof(*out));
	if (end == 0)
		return len >= max ? H1_HEAD_TOO_LARGE : H1_HEAD_MORE;
	return h1_parse_request_line(p, end, out) > 0 ? H1_HEAD_OK : H1_HEAD_BAD;
}
