/* common/http1.h - the one HTTP/1.x request reader and response writer of haprole, for the
 * agent port's HTTP dialect (agent/http_api.h) and haprole-spoa's status page
 * (spoe/status_http.h). Prefix: h1_. Pure: bytes in, a struct out; a struct in, bytes out
 * into a bounded struct buf. No I/O, no allocation.
 *
 * A request is its head: the request line "METHOD SP TARGET SP HTTP/1.x" (RFC 9112 section 3)
 * and header lines up to the blank line, all within the caller's limit. Headers are not
 * decoded (neither server needs one); a body is never read: every response says
 * "Connection: close". The reader never reads past the bytes given, nor past the blank line.
 * Fuzzed: tests/fuzz/fuzz_h1_request.c. */
#ifndef HAPROLE_COMMON_HTTP1_H
#define HAPROLE_COMMON_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/compiler.h"

#define H1_PATH_MAX  128 /* path without the query, with NUL; longer is refused (414) */
#define H1_QUERY_MAX 128 /* query string without '?', with NUL */

enum h1_method {
	H1_M_GET = 0, /* GET */
	H1_M_HEAD,    /* HEAD: the same status and headers, no body */
	H1_M_OPTIONS, /* OPTIONS: as GET (what HAProxy's option httpchk sends by default) */
	H1_M_OTHER,   /* any other token: 405 */
	H1_M_COUNT    /* keep last */
};

/* One decoded request line. */
struct h1_req {
	enum h1_method method;    /* request method */
	char path[H1_PATH_MAX];   /* "/check/writer", without the query */
	char query[H1_QUERY_MAX]; /* "lag=16MB", without '?', "" when none */
	bool too_long;            /* path or query did not fit: answer 414 */
};

/* What h1_read_head() found in the bytes received so far. */
enum h1_head {
	H1_HEAD_MORE = 0,  /* no blank line yet, still under the limit: read more */
	H1_HEAD_OK,        /* a whole head with a valid request line: <out> is filled */
	H1_HEAD_BAD,       /* a whole head whose request line is not HTTP/1.x: answer 400 */
	H1_HEAD_TOO_LARGE, /* <max> bytes or more and no blank line: answer 431 */
};

/* Reads the request head at the start of <p>[<len>]: a head not complete within <max> bytes
 * is too large. Fills <out> on H1_HEAD_OK (a path or query too long for it sets
 * <out->too_long>: 414). */
enum h1_head h1_read_head(const uint8_t *p, size_t len, size_t max, struct h1_req *out);

/* Decodes "METHOD SP TARGET SP HTTP/1.x" ended by "\r\n" or "\n" at the start of <p>[<len>].
 * Returns the bytes of the line with its end, 0 while no line end is there, -1 when the line
 * is not an HTTP/1.x request line. A path or query too long for <out> is not an error:
 * <out->too_long> asks for a 414. */
int h1_parse_request_line(const uint8_t *p, size_t len, struct h1_req *out) HR_MUSTCHECK;

/* Offset just past the blank line ending an HTTP head in <p>[<len>] ("\r\n\r\n" or "\n\n"),
 * or 0 when the head is not complete. */
size_t h1_head_end(const uint8_t *p, size_t len);

/* Copies the value of parameter <name> of <query> ("a=1&lag=16MB") into <out>[<outlen>].
 * Returns 0, or -1 when absent or too long. No percent-decoding: values are plain tokens. */
int h1_query_get(const char *query, const char *name, char *out, size_t outlen) HR_MUSTCHECK;

/* Appends one whole response: status line, Content-Type <ctype>, Content-Length <blen>,
 * "Cache-Control: no-store", "Connection: close", then <body>[<blen>] unless <head> (a HEAD
 * request). Returns <status>, or -1 (ENOBUFS) with <out> as it was. */
int h1_put(struct buf *out, int status, bool head, const char *ctype, const void *body,
           size_t blen) HR_MUSTCHECK;

/* A plain-text error response for <status> ("404 Not Found\n"). Returns <status> or -1. */
int h1_respond_error(int status, bool head, struct buf *out) HR_MUSTCHECK;

/* The reason phrase of <status> ("Not Found"), "Error" for one we do not send. */
const char *h1_status_text(int status);

#endif /* HAPROLE_COMMON_HTTP1_H */
