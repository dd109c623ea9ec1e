/* tests/unit/test_spop_codec.c - the SPOP 2.0 codec (spoe/spop_codec.c): varint edges, every
 * typed-data type, frames captured from real HAProxy 2.6.12, 3.0.11 and 3.2.26 (haprole-spoa's
 * debug log), and one broken variant per rule. Vectors are tables with their __LINE__. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spoe/spop_codec.h"

/* Frames captured from real HAProxy (hex, with the 4-byte length). */
#define HELLO_26                                                                                   \
	"000000810100000001000012737570706f727465642d76657273696f6e730803322e300e6d61782d6672616d" \
	"652d73697a6503fcf0060c6361706162696c69746965730810706970656c696e696e672c6173796e630965"   \
	"6e67696e652d6964082438663964643162352d306333332d343139642d623834612d373163386536323934"   \
	"353033"
#define HELLO_32                                                                                   \
	"0000007b0100000001000012737570706f727465642d76657273696f6e730803322e300e6d61782d6672616d" \
	"652d73697a6503fcf0060c6361706162696c6974696573080a706970656c696e696e6709656e67696e652d"   \
	"6964082439393966396464392d326334352d346264362d393631652d623630336634383237626330"
#define HELLO_HC_30                                                                                \
	"0000004e0100000001000012737570706f727465642d76657273696f6e730803322e300e6d61782d6672616d" \
	"652d73697a6503fcf0060c6361706162696c697469657308000b6865616c7468636865636b11"
#define NOTIFY_26                                                                                  \
	"00000032030000000100010d686170726f6c652d726f7574650207636c757374657208046d61696e06696e"   \
	"74656e7408057772697465"
#define NOTIFY_32                                                                                  \
	"00000032030000000101010d686170726f6c652d726f7574650207636c757374657208046d61696e06696e"   \
	"74656e7408057772697465"

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex) / 2, i;

	assert_true(n <= cap);
	for (i = 0; i < n; i++) {
		unsigned v;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

struct varint_vec {
	uint64_t v;      /* value */
	const char *hex; /* its encoding (SPOE.txt 3.1) */
	int line;        /* __LINE__ */
};

static const struct varint_vec varints[] = {
	{ 0, "00", __LINE__ },
	{ 1, "01", __LINE__ },
	{ 239, "ef", __LINE__ },
	{ 240, "f000", __LINE__ },
	{ 241, "f100", __LINE__ },
	{ 2287, "ff7f", __LINE__ },
	{ 2288, "f08000", __LINE__ },
	{ 16380, "fcf006", __LINE__ }, /* HAProxy's max-frame-size, as captured */
	{ 264431, "ffff7f", __LINE__ },
	{ 264432, "f0808000", __LINE__ },
	{ 4294967296ull, "f0f1fefe7e", __LINE__ },        /* 2^32 */
	{ UINT64_MAX, "fff0fefefefefefefe0e", __LINE__ }, /* 2^64-1: 10 bytes */
};

static void test_spop_varint_get_vectors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < HR_ARRAY_SIZE(varints); i++) {
		uint8_t b[16], out[16], *w = out;
		size_t n = unhex(varints[i].hex, b, sizeof(b));
		const uint8_t *p = b;
		uint64_t v = 0;

		print_message("vector line %d\n", varints[i].line);
		assert_int_equal(spop_varint_get(&p, b + n, &v), (int)n);
		assert_true(v == varints[i].v);
		assert_ptr_equal(p, b + n);
		assert_int_equal(spop_varint_len(varints[i].v), n);
		assert_int_equal(spop_varint_put(&w, out + sizeof(out), varints[i].v), (int)n);
		assert_memory_equal(out, b, n);
		/* every strict prefix is "need more", and the cursor does not move */
		while (--n > 0) {
			p = b;
			assert_int_equal(spop_varint_get(&p, b + n, &v), 0);
			assert_ptr_equal(p, b);
		}
	}
}

static void test_spop_varint_get_invalid(void **state)
{
	/* 11 bytes of continuation: no uint64 needs them */
	static const uint8_t eleven[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		                          0xff, 0xff, 0xff, 0xff, 0x00 };
	/* 10 bytes whose last one overflows 64 bits */
	static const uint8_t over[] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f
	};
	const uint8_t *p;
	uint64_t v;

	(void)state;
	p = eleven;
	assert_int_equal(spop_varint_get(&p, eleven + sizeof(eleven), &v), -1);
	assert_ptr_equal(p, eleven);
	p = over;
	assert_int_equal(spop_varint_get(&p, over + sizeof(over), &v), -1);
	p = over;
	assert_int_equal(spop_varint_get(&p, over, &v), 0); /* empty input */
}

static void test_spop_varint_put_no_room(void **state)
{
	uint8_t out[2], *w = out;

	(void)state;
	assert_int_equal(spop_varint_put(&w, out + 2, 2288), -1);
	assert_ptr_equal(w, out);
	assert_int_equal(spop_varint_put(&w, out + 2, 2287), 2);
}

struct data_vec {
	const char *hex;          /* TYPED-DATA bytes */
	int ret;                  /* expected return of spop_data_get */
	enum spop_data_type type; /* expected type */
	uint64_t u;               /* integer value / bool */
	const char *bytes;        /* expected bytes for IP/STRING/BINARY (hex) */
	int line;                 /* __LINE__ */
};

static const struct data_vec datas[] = {
	{ "00", 1, SPOP_DATA_NULL, 0, NULL, __LINE__ },
	{ "11", 1, SPOP_DATA_BOOL, 1, NULL, __LINE__ },
	{ "01", 1, SPOP_DATA_BOOL, 0, NULL, __LINE__ },
	{ "022a", 2, SPOP_DATA_INT32, 42, NULL, __LINE__ },
	/* HAProxy sends a negative integer as the 10-byte varint of its 64-bit value */
	{ "02fff0fefefefefefefe0e", 11, SPOP_DATA_INT32, UINT64_MAX, NULL, __LINE__ },
	{ "03f0f1fefe7e", -1, SPOP_DATA_UINT32, 0, NULL, __LINE__ }, /* 2^32 > UINT32_MAX */
	{ "03fcf006", 4, SPOP_DATA_UINT32, 16380, NULL, __LINE__ },
	{ "04fff0fefefefefefefe0e", 11, SPOP_DATA_INT64, UINT64_MAX, NULL, __LINE__ },
	{ "05f0f1fefe7e", 6, SPOP_DATA_UINT64, 4294967296ull, NULL, __LINE__ },
	{ "067f000001", 5, SPOP_DATA_IPV4, 0, "7f000001", __LINE__ },
	{ "067f0000", 0, SPOP_DATA_IPV4, 0, NULL, __LINE__ }, /* truncated */
	{ "0700000000000000000000000000000001", 17, SPOP_DATA_IPV6, 0,
	  "00000000000000000000000000000001", __LINE__ },
	{ "0803616263", 5, SPOP_DATA_STRING, 0, "616263", __LINE__ },
	{ "0800", 2, SPOP_DATA_STRING, 0, "", __LINE__ },
	{ "080461626", 0, SPOP_DATA_STRING, 0, NULL, __LINE__ }, /* length past the end */
	{ "0902ff00", 4, SPOP_DATA_BINARY, 0, "ff00", __LINE__ },
	/* a STRING with flag bits set: still a string (2.6 reads it as BINARY) */
	{ "1803616263", 5, SPOP_DATA_STRING, 0, "616263", __LINE__ },
	{ "0a00", -1, SPOP_DATA_NULL, 0, NULL, __LINE__ }, /* type 10: reserved */
	{ "0f", -1, SPOP_DATA_NULL, 0, NULL, __LINE__ },   /* type 15: reserved */
	{ "", 0, SPOP_DATA_NULL, 0, NULL, __LINE__ },      /* nothing */
};

static void test_spop_data_get_vectors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < HR_ARRAY_SIZE(datas); i++) {
		const struct data_vec *v = &datas[i];
		uint8_t b[64], exp[64];
		size_t n = unhex(v->hex, b, sizeof(b));
		const uint8_t *p = b;
		struct spop_data d;
		int ret;

		print_message("vector line %d\n", v->line);
		ret = spop_data_get(&p, b + n, &d);
		assert_int_equal(ret, v->ret);
		if (ret <= 0) {
			assert_ptr_equal(p, b);
			continue;
		}
		assert_int_equal(d.type, v->type);
		if (v->type == SPOP_DATA_BOOL)
			assert_int_equal(d.b, v->u != 0);
		else if (v->type >= SPOP_DATA_INT32 && v->type <= SPOP_DATA_UINT64)
			assert_true(d.u == v->u);
		if (v->bytes != NULL) {
			size_t en = unhex(v->bytes, exp, sizeof(exp));

			assert_int_equal(d.len, en);
			assert_memory_equal(d.ptr, exp, en);
		}
		/* re-encoding gives the same bytes, without the flag bits of a string */
		if (v->hex[0] != '1') {
			uint8_t out[64], *w = out;

			assert_int_equal(spop_data_put(&w, out + sizeof(out), &d), ret);
			assert_memory_equal(out, b, (size_t)ret);
		}
	}
}

/* Every type survives put -> get. */
static void test_spop_data_put_roundtrip(void **state)
{
	static const uint8_t ip6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	const struct spop_data in[] = {
		{ .type = SPOP_DATA_NULL },
		{ .type = SPOP_DATA_BOOL, .b = true },
		{ .type = SPOP_DATA_INT32, .u = (uint64_t)(int64_t)-5 },
		{ .type = SPOP_DATA_UINT32, .u = UINT32_MAX },
		{ .type = SPOP_DATA_INT64, .u = (uint64_t)INT64_MIN },
		{ .type = SPOP_DATA_UINT64, .u = UINT64_MAX },
		{ .type = SPOP_DATA_IPV4, .ptr = ip6, .len = 4 },
		{ .type = SPOP_DATA_IPV6, .ptr = ip6, .len = 16 },
		{ .type = SPOP_DATA_STRING, .ptr = (const uint8_t *)"db1", .len = 3 },
		{ .type = SPOP_DATA_BINARY, .ptr = ip6, .len = 16 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < HR_ARRAY_SIZE(in); i++) {
		uint8_t out[64], *w = out;
		const uint8_t *p = out;
		struct spop_data d;
		int n = spop_data_put(&w, out + sizeof(out), &in[i]);

		print_message("type %d\n", in[i].type);
		assert_true(n > 0);
		assert_int_equal(spop_data_get(&p, w, &d), n);
		assert_int_equal(d.type, in[i].type);
		assert_true(d.u == in[i].u);
		assert_int_equal(d.b, in[i].b);
		assert_int_equal(d.len, in[i].len);
		if (in[i].len > 0)
			assert_memory_equal(d.ptr, in[i].ptr, in[i].len);
		/* one byte short: refused, cursor unmoved */
		w = out;
		assert_int_equal(spop_data_put(&w, out + n - 1, &in[i]), -1);
		assert_ptr_equal(w, out);
	}
}

struct frame_vec {
	const char *hex;     /* bytes received */
	uint32_t max_frame;  /* negotiated maximum */
	int ret;             /* spop_frame_peek() */
	enum spop_status st; /* status when ret is -1 */
	uint8_t type;        /* frame type when ret > 0 */
	uint64_t stream_id;  /* when ret > 0 */
	uint64_t frame_id;   /* when ret > 0 */
	int line;            /* __LINE__ */
};

static const struct frame_vec frames[] = {
	{ HELLO_26, 16380, 133, SPOP_STATUS_NONE, SPOP_FRM_HAPROXY_HELLO, 0, 0, __LINE__ },
	{ HELLO_32, 16380, 127, SPOP_STATUS_NONE, SPOP_FRM_HAPROXY_HELLO, 0, 0, __LINE__ },
	{ NOTIFY_26, 16380, 54, SPOP_STATUS_NONE, SPOP_FRM_NOTIFY, 0, 1, __LINE__ },
	{ NOTIFY_32, 16380, 54, SPOP_STATUS_NONE, SPOP_FRM_NOTIFY, 1, 1, __LINE__ },
	/* two frames back to back: the first one is reported */
	{ NOTIFY_32 NOTIFY_26, 16380, 54, SPOP_STATUS_NONE, SPOP_FRM_NOTIFY, 1, 1, __LINE__ },
	/* truncated: need more */
	{ "000000", 16380, 0, SPOP_STATUS_NONE, 0, 0, 0, __LINE__ },
	{ "00000032030000000101010d", 16380, 0, SPOP_STATUS_NONE, 0, 0, 0, __LINE__ },
	/* oversized (the length excludes its own 4 bytes): refused before buffering */
	{ "00004000", 16380, -1, SPOP_STATUS_TOO_BIG, 0, 0, 0, __LINE__ },
	{ "ffffffff", 16380, -1, SPOP_STATUS_TOO_BIG, 0, 0, 0, __LINE__ },
	{ NOTIFY_32, 49, -1, SPOP_STATUS_TOO_BIG, 0, 0, 0, __LINE__ },
	/* too short for its metadata */
	{ "0000000303000000", 16380, -1, SPOP_STATUS_INVALID, 0, 0, 0, __LINE__ },
	/* frame-id varint cut by the frame end */
	{ "0000000703000000010af0", 16380, -1, SPOP_STATUS_INVALID, 0, 0, 0, __LINE__ },
	/* unknown frame type 42: decoded, the connection skips it */
	{ "000000072a000000010506", 16380, 11, SPOP_STATUS_NONE, 42, 5, 6, __LINE__ },
	/* a large stream-id (2^32) echoed exactly */
	{ "0000000b0300000001f0f1fefe7e01", 16380, 15, SPOP_STATUS_NONE, SPOP_FRM_NOTIFY,
	  4294967296ull, 1, __LINE__ },
};

static void test_spop_frame_peek_vectors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < HR_ARRAY_SIZE(frames); i++) {
		const struct frame_vec *v = &frames[i];
		uint8_t b[512];
		size_t n = unhex(v->hex, b, sizeof(b));
		enum spop_status st = SPOP_STATUS_NONE;
		struct spop_frame f;
		int ret;

		print_message("vector line %d\n", v->line);
		ret = spop_frame_peek(b, n, v->max_frame, &f, &st);
		assert_int_equal(ret, v->ret);
		if (ret < 0)
			assert_int_equal(st, v->st);
		if (ret > 0) {
			assert_int_equal(f.type, v->type);
			assert_true(f.stream_id == v->stream_id);
			assert_true(f.frame_id == v->frame_id);
			assert_true((f.flags & SPOP_FLAG_FIN) != 0);
			assert_ptr_equal(f.payload + f.payload_len, b + ret);
		}
	}
}

static int peek_hex(const char *hex, uint8_t *b, size_t cap, struct spop_frame *f)
{
	size_t n = unhex(hex, b, cap);
	enum spop_status st;

	return spop_frame_peek(b, n, 16380, f, &st);
}

static void test_spop_hello_decode_real(void **state)
{
	uint8_t b[512];
	struct spop_frame f;
	struct spop_hello h;
	enum spop_status st = SPOP_STATUS_NONE;

	(void)state;
	assert_true(peek_hex(HELLO_26, b, sizeof(b), &f) > 0);
	assert_int_equal(spop_hello_decode(&f, &h, &st), 0);
	assert_true(h.version_ok);
	assert_int_equal(h.max_frame, 16380);
	assert_true(h.cap_pipelining);
	assert_true(h.cap_async);
	assert_false(h.healthcheck);
	assert_int_equal(h.engine_len, 36);

	assert_true(peek_hex(HELLO_32, b, sizeof(b), &f) > 0);
	assert_int_equal(spop_hello_decode(&f, &h, &st), 0);
	assert_true(h.cap_pipelining);
	assert_false(h.cap_async);

	/* 3.x healthcheck: capabilities empty, healthcheck true */
	assert_true(peek_hex(HELLO_HC_30, b, sizeof(b), &f) > 0);
	assert_int_equal(spop_hello_decode(&f, &h, &st), 0);
	assert_true(h.healthcheck);
	assert_true(h.has_caps);
	assert_false(h.cap_pipelining);
}

struct hello_vec {
	const char *payload_hex; /* KV-LIST */
	int ret;                 /* spop_hello_decode() */
	enum spop_status st;     /* when -1 */
	int line;                /* __LINE__ */
};

/* "supported-versions" = 12 73757070..., "max-frame-size" = 0e 6d61..., "capabilities" = 0c .. */
#define KV_VERS(v) "12737570706f727465642d76657273696f6e7308" v
#define KV_MFS(v)  "0e6d61782d6672616d652d73697a65" v
#define KV_CAPS(v) "0c6361706162696c697469657308" v

static const struct hello_vec hellos[] = {
	{ KV_VERS("03322e30") KV_MFS("03fcf006") KV_CAPS("0a706970656c696e696e67"), 0,
	  SPOP_STATUS_NONE, __LINE__ },
	/* spaces around versions and capabilities are ignored */
	{ KV_VERS("0820322e302c312e30") KV_MFS("03fcf006") KV_CAPS("0c20706970656c696e696e6720"), 0,
	  SPOP_STATUS_NONE, __LINE__ },
	/* no capabilities key: accepted (healthchecks may omit it) */
	{ KV_VERS("03322e30") KV_MFS("03fcf006"), 0, SPOP_STATUS_NONE, __LINE__ },
	/* max-frame-size as INT64 or UINT64: accepted */
	{ KV_VERS("03322e30") KV_MFS("04fcf006"), 0, SPOP_STATUS_NONE, __LINE__ },
	{ KV_MFS("03fcf006"), -1, SPOP_STATUS_NO_VSN, __LINE__ },
	{ KV_VERS("03312e30") KV_MFS("03fcf006"), -1, SPOP_STATUS_BAD_VSN, __LINE__ },
	{ KV_VERS("03332e30") KV_MFS("03fcf006"), -1, SPOP_STATUS_BAD_VSN, __LINE__ },
	{ KV_VERS("03322e30"), -1, SPOP_STATUS_NO_FRAME_SIZE, __LINE__ },
	/* max-frame-size as a string is not a max-frame-size */
	{ KV_VERS("03322e30") KV_MFS("0803313030"), -1, SPOP_STATUS_NO_FRAME_SIZE, __LINE__ },
	{ KV_VERS("03322e30") KV_MFS("03f000"), -1, SPOP_STATUS_BAD_FRAME_SIZE, __LINE__ },
	{ KV_VERS("03322e30") KV_MFS("05f0f1fefe7e"), -1, SPOP_STATUS_BAD_FRAME_SIZE, __LINE__ },
	/* a key that only starts like a known one is another key (no prefix matching) */
	{ KV_VERS("03322e30") "036d61780310", -1, SPOP_STATUS_NO_FRAME_SIZE, __LINE__ },
	/* unknown keys are skipped by type */
	{ "03666f6f0700000000000000000000000000000001" KV_VERS("03322e30") KV_MFS("03fcf006"), 0,
	  SPOP_STATUS_NONE, __LINE__ },
	/* a truncated KV */
	{ KV_VERS("03322e"), -1, SPOP_STATUS_INVALID, __LINE__ },
	{ KV_VERS("03322e30") "0e6d61", -1, SPOP_STATUS_INVALID, __LINE__ },
};

static void test_spop_hello_decode_vectors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < HR_ARRAY_SIZE(hellos); i++) {
		uint8_t b[256];
		struct spop_frame f = { .type = SPOP_FRM_HAPROXY_HELLO, .flags = SPOP_FLAG_FIN };
		struct spop_hello h;
		enum spop_status st = SPOP_STATUS_NONE;

		print_message("vector line %d\n", hellos[i].line);
		f.payload_len = unhex(hellos[i].payload_hex, b, sizeof(b));
		f.payload = b;
		assert_int_equal(spop_hello_decode(&f, &h, &st), hellos[i].ret);
		if (hellos[i].ret < 0)
			assert_int_equal(st, hellos[i].st);
	}
}

static void test_spop_msg_next_real(void **state)
{
	uint8_t b[128];
	struct spop_frame f;
	struct spop_msg m;
	const uint8_t *p;

	(void)state;
	assert_true(peek_hex(NOTIFY_26, b, sizeof(b), &f) > 0);
	p = f.payload;
	assert_true(spop_msg_next(&p, f.payload + f.payload_len, &m) > 0);
	assert_int_equal(m.name_len, 13);
	assert_memory_equal(m.name, "haprole-route", 13);
	assert_int_equal(m.nb_args, 2);
	assert_int_equal(m.arg_name_len[0], 7);
	assert_memory_equal(m.arg_name[0], "cluster", 7);
	assert_int_equal(m.arg[0].type, SPOP_DATA_STRING);
	assert_int_equal(m.arg[0].len, 4);
	assert_memory_equal(m.arg[1].ptr, "write", 5);
	assert_int_equal(spop_msg_next(&p, f.payload + f.payload_len, &m), 0);
}

static void test_spop_msg_next_broken(void **state)
{
	/* name, nb-args 2, but only one arg present */
	static const char *const bad[] = {
		"0d686170726f6c652d726f7574650207636c757374657208046d61696e",
		"0d686170726f6c652d726f757465",       /* nb-args missing */
		"0d686170726f6c652d726f7574",         /* name cut */
		"0d686170726f6c652d726f75746501000a", /* arg of reserved type 10 */
	};
	size_t i;

	(void)state;
	for (i = 0; i < HR_ARRAY_SIZE(bad); i++) {
		uint8_t b[128];
		size_t n = unhex(bad[i], b, sizeof(b));
		const uint8_t *p = b;
		struct spop_msg m;

		print_message("broken message %zu\n", i);
		assert_int_equal(spop_msg_next(&p, b + n, &m), -1);
		assert_ptr_equal(p, b);
	}
}

static void test_spop_msg_next_many_args(void **state)
{
	uint8_t b[256], *w = b;
	const uint8_t *p = b;
	struct spop_msg m;
	unsigned i;

	(void)state;
	assert_true(spop_string_put(&w, b + sizeof(b), "m", 1) > 0);
	*w++ = 12;
	for (i = 0; i < 12; i++) {
		struct spop_data d = { .type = SPOP_DATA_UINT32, .u = i };

		assert_true(spop_string_put(&w, b + sizeof(b), "a", 1) > 0);
		assert_true(spop_data_put(&w, b + sizeof(b), &d) > 0);
	}
	assert_int_equal(spop_msg_next(&p, w, &m), (int)(w - b));
	assert_int_equal(m.nb_args, 12);
	assert_int_equal(m.n_args, SPOP_MSG_ARGS_MAX);
}

static void test_spop_agent_hello_put_layout(void **state)
{
	uint8_t b[256], *w = b;
	struct spop_frame f;
	enum spop_status st;
	const uint8_t *p;
	int n;

	(void)state;
	n = spop_agent_hello_put(&w, b + sizeof(b), 16380, "pipelining");
	assert_true(n > 0);
	assert_int_equal(spop_frame_peek(b, (size_t)n, 16380, &f, &st), n);
	assert_int_equal(f.type, SPOP_FRM_AGENT_HELLO);
	assert_int_equal(f.flags, SPOP_FLAG_FIN);
	assert_true(f.stream_id == 0 && f.frame_id == 0);
	/* version "2.0", max-frame-size UINT32, capabilities STRING (even empty) */
	p = f.payload;
	{
		const uint8_t *k;
		size_t kl;
		struct spop_data d;

		assert_true(spop_string_get(&p, b + n, &k, &kl) > 0);
		assert_memory_equal(k, "version", 7);
		assert_true(spop_data_get(&p, b + n, &d) > 0);
		assert_int_equal(d.type, SPOP_DATA_STRING);
		assert_memory_equal(d.ptr, "2.0", 3);
		assert_true(spop_string_get(&p, b + n, &k, &kl) > 0);
		assert_memory_equal(k, "max-frame-size", 14);
		assert_true(spop_data_get(&p, b + n, &d) > 0);
		assert_int_equal(d.type, SPOP_DATA_UINT32);
		assert_int_equal(d.u, 16380);
		assert_true(spop_string_get(&p, b + n, &k, &kl) > 0);
		assert_memory_equal(k, "capabilities", 12);
		assert_true(spop_data_get(&p, b + n, &d) > 0);
		assert_memory_equal(d.ptr, "pipelining", 10);
	}
	assert_ptr_equal(p, b + n);
	/* empty capabilities still sent */
	w = b;
	n = spop_agent_hello_put(&w, b + sizeof(b), 256, "");
	assert_true(n > 0 && memmem(b, (size_t)n, "capabilities", 12) != NULL);
	/* no room: nothing written */
	w = b;
	assert_int_equal(spop_agent_hello_put(&w, b + 20, 256, "pipelining"), -1);
	assert_ptr_equal(w, b);
}

static void test_spop_agent_disconnect_put_roundtrip(void **state)
{
	uint8_t b[256], *w = b;
	struct spop_frame f;
	struct spop_disconnect d;
	enum spop_status st;
	int n;

	(void)state;
	n = spop_agent_disconnect_put(&w, b + sizeof(b), SPOP_STATUS_FRAG_NOT_SUP, "no frag");
	assert_true(n > 0);
	assert_int_equal(spop_frame_peek(b, (size_t)n, 256, &f, &st), n);
	assert_int_equal(f.type, SPOP_FRM_AGENT_DISCONNECT);
	/* same layout as HAPROXY-DISCONNECT: decode it with that decoder */
	assert_int_equal(spop_disconnect_decode(&f, &d), 0);
	assert_int_equal(d.status, 10);
	assert_int_equal(d.msg_len, 7);
	assert_memory_equal(d.msg, "no frag", 7);
}

static void test_spop_action_set_var_layout(void **state)
{
	uint8_t b[64], *w = b;
	struct spop_data v = { .type = SPOP_DATA_STRING, .ptr = (const uint8_t *)"db1", .len = 3 };
	static const uint8_t exp[] = {
		1, 3, 2, 6, 'w', 'r', 'i', 't', 'e', 'r', 8, 3, 'd', 'b', '1'
	};
	static const uint8_t exp_unset[] = { 2, 2, 2, 6, 'w', 'r', 'i', 't', 'e', 'r' };

	(void)state;
	assert_int_equal(spop_action_set_var(&w, b + sizeof(b), SPOP_SCOPE_TXN, "writer", &v),
	                 (int)sizeof(exp));
	assert_memory_equal(b, exp, sizeof(exp));
	w = b;
	assert_int_equal(spop_action_unset_var(&w, b + sizeof(b), SPOP_SCOPE_TXN, "writer"),
	                 (int)sizeof(exp_unset));
	assert_memory_equal(b, exp_unset, sizeof(exp_unset));
	/* names HAProxy would drop are refused */
	w = b;
	assert_int_equal(spop_action_set_var(&w, b + sizeof(b), SPOP_SCOPE_TXN, "bad-name", &v),
	                 -1);
	assert_int_equal(spop_action_unset_var(&w, b + sizeof(b), SPOP_SCOPE_TXN, ""), -1);
	assert_ptr_equal(w, b);
}

static void test_spop_status_str_all(void **state)
{
	int i;

	(void)state;
	for (i = 0; i <= 13; i++)
		assert_string_not_equal(spop_status_str((enum spop_status)i), "unknown status");
	assert_string_equal(spop_status_str(SPOP_STATUS_FRAG_NOT_SUP),
	                    "payload fragmentation is not supported");
	assert_string_equal(spop_frame_type_str(103), "ACK");
	assert_string_equal(spop_frame_type_str(42), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spop_varint_get_vectors),
		cmocka_unit_test(test_spop_varint_get_invalid),
		cmocka_unit_test(test_spop_varint_put_no_room),
		cmocka_unit_test(test_spop_data_get_vectors),
		cmocka_unit_test(test_spop_data_put_roundtrip),
		cmocka_unit_test(test_spop_frame_peek_vectors),
		cmocka_unit_test(test_spop_hello_decode_real),
		cmocka_unit_test(test_spop_hello_decode_vectors),
		cmocka_unit_test(test_spop_msg_next_real),
		cmocka_unit_test(test_spop_msg_next_broken),
		cmocka_unit_test(test_spop_msg_next_many_args),
		cmocka_unit_test(test_spop_agent_hello_put_layout),
		cmocka_unit_test(test_spop_agent_disconnect_put_roundtrip),
		cmocka_unit_test(test_spop_action_set_var_layout),
		cmocka_unit_test(test_spop_status_str_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
