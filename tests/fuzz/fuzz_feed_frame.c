/* tests/fuzz/fuzz_feed_frame.c - the feed decoder as a subscriber calls it (common/feed_sub.c):
 * the input is a received byte stream; whole frames are peeled off with ns_frame_peek() against
 * NS_FRAME_MAX and decoded with ns_decode() until need-more or an error ends the stream. Every
 * decoded state must have NUL-terminated strings and bounded counts, render as JSON (what
 * haprolectl --json prints) and encode again into a frame that decodes to the same identity.
 * Seed corpus: real frames from ns_encode_frame() (tests/fuzz/gen_feed_corpus.c). */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/buf.h"
#include "common/node_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_state(const struct node_state *s)
{
	static uint8_t json_mem[65536];
	static uint8_t frame_mem[NS_FRAME_HDR + NS_FRAME_MAX];
	struct node_state again;
	struct buf json;
	struct buf frame;
	const char *why = NULL;
	size_t plen = 0;
	size_t i;

	assert(strnlen(s->cluster, sizeof(s->cluster)) < sizeof(s->cluster));
	assert(strnlen(s->node, sizeof(s->node)) < sizeof(s->node));
	assert(strnlen(s->admin_reason, sizeof(s->admin_reason)) < sizeof(s->admin_reason));
	assert(strnlen(s->fence_reason, sizeof(s->fence_reason)) < sizeof(s->fence_reason));
	assert(strnlen(s->pg.sysid, sizeof(s->pg.sysid)) < sizeof(s->pg.sysid));
	assert(strnlen(s->pg.err, sizeof(s->pg.err)) < sizeof(s->pg.err));
	assert(s->admin < NS_ADMIN_COUNT);
	assert(s->pg.role < NS_ROLE_COUNT);
	assert(s->n_checks <= NS_CHECKS_MAX);
	for (i = 0; i < s->n_checks; i++) {
		assert(strnlen(s->checks[i].name, NS_NAME_MAX) < NS_NAME_MAX);
		assert(strnlen(s->checks[i].line, NS_CHECK_LINE_MAX) < NS_CHECK_LINE_MAX);
	}
	buf_init_static(&json, json_mem, sizeof(json_mem));
	assert(ns_to_json(s, &json) == 0);
	buf_init_static(&frame, frame_mem, sizeof(frame_mem));
	if (ns_encode_frame(s, &frame) == 0) {
		assert(ns_frame_peek(buf_head(&frame), buf_len(&frame), NS_FRAME_MAX, &plen) ==
		       (int)buf_len(&frame));
		assert(ns_decode(buf_head(&frame) + NS_FRAME_HDR, plen, &again, &why) == 0);
		assert(strcmp(again.node, s->node) == 0 && again.seq == s->seq &&
		       again.boot == s->boot && again.admin == s->admin &&
		       again.pg.role == s->pg.role && again.pg.tl == s->pg.tl &&
		       again.n_checks == s->n_checks);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data;
	size_t len = size;

	for (;;) {
		struct node_state st;
		const char *why = NULL;
		size_t plen = 0;
		int n = ns_frame_peek(p, len, NS_FRAME_MAX, &plen);

		if (n <= 0)
			break; /* need more, or a length the subscriber refuses */
		assert((size_t)n == plen + NS_FRAME_HDR && (size_t)n <= len);
		if (ns_decode(p + NS_FRAME_HDR, plen, &st, &why) == -1) {
			assert(why != NULL);
			break; /* the subscriber drops the stream */
		}
		check_state(&st);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
