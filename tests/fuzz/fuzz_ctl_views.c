/* tests/fuzz/fuzz_ctl_views.c - the parsers haprolectl runs on what HAProxy's stats socket, the
 * SPOA's status port and the admin socket send (ctl/views.h), fed the same bytes. The
 * first byte picks the SPOA cluster looked up ("" or "demo"). Checks their promises: a parsed
 * stat answer holds at most CTLV_SERVERS_MAX NUL-terminated servers; a found SPOA decision has
 * NUL-terminated fields; an HTTP body offset lies inside the input; ASan catches any read past
 * the given length (the input is not NUL-terminated). */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/views.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ctlv_haproxy h;
	struct ctlv_spoa s;
	struct node_state st;
	const char *why = NULL;
	const char *text = (const char *)data;
	size_t off = 0;

	if (size == 0)
		return 0;
	if (ctlv_stat_parse(text + 1, size - 1, &h) == 0) {
		size_t servers;
		uint64_t sessions;

		assert(h.n <= CTLV_SERVERS_MAX);
		for (size_t i = 0; i < h.n; i++) {
			assert(memchr(h.servers[i].server, '\0', sizeof(h.servers[i].server)) !=
			       NULL);
			assert(memchr(h.servers[i].status, '\0', sizeof(h.servers[i].status)) !=
			       NULL);
		}
		if (h.n > 0)
			(void)ctlv_drained(&h, h.servers[0].server, &servers, &sessions);
	}
	memset(&s, 0, sizeof(s));
	if (data[0] & 1)
		memcpy(s.cluster, "demo", 5);
	if (ctlv_spoa_parse(text + 1, size - 1, &s) == 0) {
		assert(s.found);
		assert(memchr(s.writer, '\0', sizeof(s.writer)) != NULL);
		assert(memchr(s.reader, '\0', sizeof(s.reader)) != NULL);
	}
	if (ctlv_http_body(text + 1, size - 1, &off) == 0)
		assert(off <= size - 1);
	if (ctlv_hex_frame(text + 1, size - 1, &st, &why) != 0)
		assert(why != NULL);
	return 0;
}
