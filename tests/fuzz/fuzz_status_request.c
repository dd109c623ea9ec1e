/* tests/fuzz/fuzz_status_request.c - status_http_route(), the decoder of the request line that
 * haprole-spoa's status page reads from the network (spoe/status_http.h), as the page calls
 * it: on what arrived so far. Checks its promises: a known route, INCOMPLETE exactly when no
 * '\n' arrived, and the answer depends only on the bytes up to the first '\n' (ASan catches a
 * read past <len>: the input is copied to a buffer of exactly that size). */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spoe/status_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size > 0 ? size : 1);
	const uint8_t *eol;
	enum status_route r;

	memcpy(copy, data, size);
	r = status_http_route(copy, size);
	eol = memchr(copy, '\n', size);
	assert((r == STATUS_ROUTE_INCOMPLETE) == (eol == NULL));
	assert(r <= STATUS_ROUTE_NOT_FOUND);
	if (eol != NULL) /* what follows the line changes nothing */
		assert(status_http_route(copy, (size_t)(eol - copy) + 1) == r);
	free(copy);
	return 0;
}
