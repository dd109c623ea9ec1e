/* tests/fuzz/fuzz_h1_request.c - the common HTTP/1.x request reader (common/http1.h) as both
 * servers call it: h1_read_head() on the bytes received so far, under a limit taken from the
 * first input byte. Checks: MORE only while no blank line arrived below the limit, TOO_LARGE
 * only at or past it; on OK the request line parses to the same struct, path and query are
 * NUL-terminated, the path starts with '/' unless too long; the query lookup and the response
 * writer stay inside their buffers (ASan: the input is copied to a buffer of exactly its size). */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t mem[4096];
	struct h1_req req;
	struct h1_req again;
	struct buf out;
	uint8_t *copy;
	size_t max;
	char val[16];
	enum h1_head r;

	if (size < 1 || size > 8192)
		return 0;
	max = (size_t)data[0] * 8 + 1;
	copy = malloc(size - 1 > 0 ? size - 1 : 1);
	memcpy(copy, data + 1, size - 1);
	r = h1_read_head(copy, size - 1, max, &req);
	switch (r) {
	case H1_HEAD_MORE:
		assert(h1_head_end(copy, size - 1) == 0 && size - 1 < max);
		break;
	case H1_HEAD_TOO_LARGE:
		assert(h1_head_end(copy, size - 1) == 0 && size - 1 >= max);
		break;
	case H1_HEAD_BAD:
		assert(h1_head_end(copy, size - 1) > 0);
		break;
	case H1_HEAD_OK:
		assert(h1_parse_request_line(copy, size - 1, &again) > 0);
		assert(memcmp(&req, &again, sizeof(req)) == 0);
		assert(memchr(req.path, '\0', sizeof(req.path)) != NULL);
		assert(memchr(req.query, '\0', sizeof(req.query)) != NULL);
		assert(req.too_long || req.path[0] == '/');
		(void)h1_query_get(req.query, "lag", val, sizeof(val));
		buf_init_static(&out, mem, sizeof(mem));
		assert(h1_put(&out, 200, req.method == H1_M_HEAD, "text/plain", req.path,
		              strlen(req.path)) == 200);
		break;
	}
	free(copy);
	return 0;
}
