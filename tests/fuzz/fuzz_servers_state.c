/* tests/fuzz/fuzz_servers_state.c - rapi_parse_servers_state(), the decoder of HAProxy's
 * `show servers state` answer that push mode reads back (spoe/runtime_api.h), as push.c calls
 * it: on the whole answer, into a bounded table. Checks its promises: 0 or -1, never more
 * entries than the table holds, names NUL-terminated within their arrays, states in range. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "spoe/runtime_api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rapi_server_state st[8];
	const char *why = NULL;
	size_t n = 99;
	int r = rapi_parse_servers_state((const char *)data, size, st, 8, &n, &why);

	assert(r == 0 || r == -1);
	assert(n <= 8);
	if (r < 0)
		assert(why != NULL && why[0] != '\0');
	for (size_t i = 0; r == 0 && i < n; i++) {
		assert(memchr(st[i].backend, '\0', sizeof(st[i].backend)) != NULL);
		assert(memchr(st[i].server, '\0', sizeof(st[i].server)) != NULL);
		assert(st[i].backend[0] != '\0' && st[i].server[0] != '\0');
		assert(st[i].op_state >= 0 && st[i].op_state <= 3);
		assert(st[i].admin_state <= 0xff);
	}
	return 0;
}
