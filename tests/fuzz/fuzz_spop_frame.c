/* tests/fuzz/fuzz_spop_frame.c - libFuzzer target for the SPOP decoders, two ways chosen by
 * bit 1 of the first byte:
 *  - codec: frames peeked one after another from the input as from <rx> (max-frame-size from
 *    the first byte), each decoded by its type (HELLO, DISCONNECT, NOTIFY messages and their
 *    args), then an ACK encoded into a bounded buffer; every decoded typed value must re-encode
 *    to the same bytes;
 *  - connection: the rest of the input is written into a real spop_conn (socketpair, its own
 *    loop), exactly as HAProxy's bytes arrive, until it goes quiet or closes; everything it
 *    sends back must be whole AGENT-HELLO, ACK or AGENT-DISCONNECT frames, and nothing is left
 *    allocated (ASan's leak check).
 * Seeds: tests/fuzz/corpus/fuzz_spop_frame (frames captured from HAProxy 2.6/3.0/3.2 and the unit
 * vectors; first byte 0x01 codec, 0x03 connection). */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "common/log.h"
#include "spoe/route.h"
#include "spoe/spoa.h"
#include "spoe/spoa_conf.h"
#include "spoe/spop_codec.h"
#include "spoe/spop_conn.h"

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

/* A hand-built server (config + routing snapshot, no listener, no feeds), made once. */
static struct spoa *fuzz_spoa(void)
{
	static struct spoa s;
	static bool ready;
	struct route_input in = { .cluster = "main",
		                  .status = CV_STATUS_OK,
		                  .writer = "db1",
		                  .reader = "db2",
		                  .epoch = 1 };
	char err[HR_ERR_LEN];

	if (ready)
		return &s;
	log_init("fuzz", LOG_TO_STDERR, LOG_LVL_ERROR);
	s.loop = ev_loop_new(EVFLAG_AUTO);
	s.conf = malloc(sizeof(*s.conf));
	assert(s.loop != NULL && s.conf != NULL);
	assert(spoa_conf_load_string("fuzz", "[spoa]\nmax_frame_size = 1024\n[cluster main]\n",
	                             s.conf, err, sizeof(err)) == 0);
	s.route = route_build(&in, 1, 1);
	s.listen_fd = -1;
	assert(s.route != NULL);
	ready = true;
	return &s;
}

/* Feeds <data> to a real connection and checks what it answers. */
static void through_connection(const uint8_t *data, size_t size)
{
	static uint8_t out[1 << 16];
	struct spoa *s = fuzz_spoa();
	size_t out_len = 0, off = 0, sent = 0;
	int sv[2], round;

	assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	assert(spop_conn_accept(s, sv[0], NULL) == 0);
	for (round = 0; round < 64; round++) {
		ssize_t n;

		if (sent < size) {
			n = write(sv[1], data + sent, size - sent);
			if (n > 0)
				sent += (size_t)n;
		} else if (round > 2) {
			shutdown(sv[1], SHUT_WR); /* then HAProxy closes */
		}
		ev_run(s->loop, EVRUN_NOWAIT);
		n = read(sv[1], out + out_len, sizeof(out) - out_len);
		if (n > 0)
			out_len += (size_t)n;
		if (s->conns.head == NULL && n <= 0 && sent == size)
			break;
		if (out_len == sizeof(out))
			out_len = 0; /* keep reading; frame checks below see the tail only */
	}
	while (s->conns.head != NULL) {
		struct spop_conn *c = spop_conn_of(s->conns.head);

		spop_conn_close(c, SPOP_STATUS_NORMAL, "fuzz input done");
		conn_destroy(&c->c, "fuzz input done");
	}
	while (off < out_len) {
		struct spop_frame f;
		enum spop_status st;
		int n = spop_frame_peek(out + off, out_len - off, 1u << 20, &f, &st);

		if (n <= 0)
			break;
		assert(f.type == SPOP_FRM_AGENT_HELLO || f.type == SPOP_FRM_ACK ||
		       f.type == SPOP_FRM_AGENT_DISCONNECT);
		assert(f.flags == SPOP_FLAG_FIN);
		assert((size_t)n - SPOP_FRAME_HDR <= 1024);
		off += (size_t)n;
	}
	close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t max_frame;
	size_t off = 1;

	if (size < 1)
		return 0;
	if (data[0] & 2) {
		through_connection(data + 1, size - 1);
		return 0;
	}
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
