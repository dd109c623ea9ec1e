/* tests/fuzz/fuzz_status_request.c - status_http_route(), what haprole-spoa's status page makes
 * of the request head it reads from the network (spoe/status_http.h, over common/http1.h), as
 * the page calls it: on what arrived so far. Checks its promises: a known route, INCOMPLETE
 * exactly while no blank line arrived within STATUS_HTTP_HEAD_MAX bytes, and the answer depends
 * only on the bytes up to the end of the head (ASan catches a read past <len>: the input is
 * copied to a buffer of exactly that size). */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/http1.h"
#include "spoe/status_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size > 0 ? size : 1);
	enum status_route r;
	size_t end;

	memcpy(copy, data, size);
	r = status_http_route(copy, size);
	end = h1_head_end(copy, size);
	assert((r == STATUS_ROUTE_INCOMPLETE) == (end == 0 && size < STATUS_HTTP_HEAD_MAX));
	assert(r <= STATUS_ROUTE_NOT_FOUND);
	if (end != 0) /* what follows the head changes nothing */
		assert(status_http_route(copy, end) == r);
	free(copy);
	return 0;
}
