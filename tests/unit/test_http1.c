/* tests/unit/test_http1.c - the common HTTP/1.x reader and writer (common/http1.h): the head
 * reader's four outcomes on vectors, and whole-or-nothing responses. The request-line vectors
 * (one broken variant per rule) are in test_http_api.c, beside the dialect that uses them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/http1.h"

struct head_vec {
	const char *in;    /* bytes received so far */
	size_t max;        /* limit of the head */
	enum h1_head want; /* expected outcome */
	enum h1_method m;  /* expected method on H1_HEAD_OK */
	const char *path;  /* expected path on H1_HEAD_OK */
	bool too_long;     /* expected flag on H1_HEAD_OK */
	int line;          /* __LINE__ */
};

static void test_h1_read_head_vectors(void **state)
{
	static char long_head[300];
	static char long_path[300];
	static const struct head_vec v[] = {
		{ "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1024, H1_HEAD_OK, H1_M_GET, "/", false,
		  __LINE__ },
		{ "HEAD /metrics HTTP/1.0\n\n", 1024, H1_HEAD_OK, H1_M_HEAD, "/metrics", false,
		  __LINE__ },
		{ "OPTIONS / HTTP/1.0\r\n\r\nBODY", 1024, H1_HEAD_OK, H1_M_OPTIONS, "/", false,
		  __LINE__ },
		{ "POST /x HTTP/1.1\r\n\r\n", 1024, H1_HEAD_OK, H1_M_OTHER, "/x", false, __LINE__ },
		/* the request line is there, the blank line not yet */
		{ "GET / HTTP/1.1\r\n", 1024, H1_HEAD_MORE, 0, NULL, false, __LINE__ },
		{ "GET / HTTP/1.1\r\nHost: x\r\n", 1024, H1_HEAD_MORE, 0, NULL, false, __LINE__ },
		{ "", 1024, H1_HEAD_MORE, 0, NULL, false, __LINE__ },
		/* a whole head whose line is not HTTP/1.x */
		{ "GET /\r\n\r\n", 1024, H1_HEAD_BAD, 0, NULL, false, __LINE__ },
		{ "\r\n\r\n", 1024, H1_HEAD_BAD, 0, NULL, false, __LINE__ },
		{ "GET / HTTP/2.0\r\n\r\n", 1024, H1_HEAD_BAD, 0, NULL, false, __LINE__ },
		/* the limit: reached without a blank line */
		{ "GET / HTTP/1.1\r\nHost: x\r\n", 10, H1_HEAD_TOO_LARGE, 0, NULL, false,
		  __LINE__ },
		{ "GET / HTT", 9, H1_HEAD_TOO_LARGE, 0, NULL, false, __LINE__ },
		{ "GET / HTT", 10, H1_HEAD_MORE, 0, NULL, false, __LINE__ },
		{ long_head, 256, H1_HEAD_TOO_LARGE, 0, NULL, false, __LINE__ },
		/* a path longer than struct h1_req holds: read, flagged for a 414 */
		{ long_path, 1024, H1_HEAD_OK, H1_M_GET, "", true, __LINE__ },
	};
	struct h1_req req;

	(void)state;
	snprintf(long_head, sizeof(long_head), "GET / HTTP/1.1\r\nX: %0280d", 0);
	memset(long_path, 'a', sizeof(long_path));
	memcpy(long_path, "GET /", 5);
	snprintf(long_path + 200, sizeof(long_path) - 200, " HTTP/1.1\r\n\r\n");
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		enum h1_head got =
		    h1_read_head((const uint8_t *)v[i].in, strlen(v[i].in), v[i].max, &req);

		if (got != v[i].want)
			fail_msg("vector at line %d: outcome %d, want %d", v[i].line, got,
			         v[i].want);
		if (got != H1_HEAD_OK)
			continue;
		if (req.method != v[i].m || req.too_long != v[i].too_long ||
		    strcmp(req.path, v[i].path) != 0)
			fail_msg("vector at line %d: method %d path \"%s\" too_long %d", v[i].line,
			         req.method, req.path, req.too_long);
	}
}

static void test_h1_put_whole_response(void **state)
{
	uint8_t mem[256];
	struct buf b;
	static const char want[] = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
	                           "Content-Length: 3\r\nCache-Control: no-store\r\n"
	                           "Connection: close\r\n\r\nno\n";

	(void)state;
	buf_init_static(&b, mem, sizeof(mem));
	assert_int_equal(h1_put(&b, 404, false, "text/plain", "no\n", 3), 404);
	assert_int_equal(buf_len(&b), strlen(want));
	assert_memory_equal(buf_head(&b), want, strlen(want));
	/* HEAD: the same head, with the body's length, and no body */
	buf_reset(&b);
	assert_int_equal(h1_put(&b, 404, true, "text/plain", "no\n", 3), 404);
	assert_int_equal(buf_len(&b), strlen(want) - 3);
}

static void test_h1_put_nothing_when_full(void **state)
{
	uint8_t mem[172]; /* the 200 below needs 177 bytes with "kept", the 503 169 */
	struct buf b;
	char body[64];

	(void)state;
	memset(body, 'x', sizeof(body));
	buf_init_static(&b, mem, sizeof(mem));
	assert_int_equal(buf_append(&b, "kept", 4), 0);
	errno = 0;
	assert_int_equal(h1_put(&b, 200, false, "text/plain", body, sizeof(body)), -1);
	assert_int_equal(errno, ENOBUFS);
	assert_int_equal(buf_len(&b), 4); /* what was there before stays, nothing of the reply */
	assert_int_equal(h1_respond_error(503, false, &b), 503);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_h1_read_head_vectors),
		cmocka_unit_test(test_h1_put_whole_response),
		cmocka_unit_test(test_h1_put_nothing_when_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
