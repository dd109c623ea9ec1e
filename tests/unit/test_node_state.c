/* tests/unit/test_node_state.c - feed frame codec and JSON: round trips, frame boundaries,
 * every refusal of the decoder, unknown keys skipped. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "common/node_state.h"

static void sample_state(struct node_state *s)
{
	ns_init(s);
	strcpy(s->cluster, "itsm");
	strcpy(s->node, "db1");
	s->boot = 0xfedcba9876543210ULL;
	s->seq = 42;
	s->ts_ms = 1795000000123ULL;
	s->admin = NS_ADMIN_DRAIN;
	strcpy(s->admin_reason, "upgrade to 2.4");
	s->pg.present = true;
	s->pg.up = true;
	s->pg.role = NS_ROLE_STANDBY;
	s->pg.tl = 3;
	strcpy(s->pg.sysid, "7311111111111111111");
	s->pg.lsn = 0x30000060ULL;
	s->pg.lag_bytes = 1024;
	s->pg.lag_ms = 12;
	s->pg.streaming = true;
	strcpy(s->pg.repl, "db2=sync,db3=async");
	s->app.present = true;
	s->app.up = true;
	s->app.ms = 3;
	s->nginx.present = true;
	strcpy(s->nginx.err, "connect: Connection refused");
	s->n_checks = 2;
	strcpy(s->checks[0].name, "writer");
	strcpy(s->checks[0].line, "down drain #pg: standby");
	strcpy(s->checks[1].name, "reader");
	strcpy(s->checks[1].line, "up drain 97%");
}

static void test_ns_encode_frame_round_trip(void **state)
{
	struct node_state in;
	struct node_state back;
	uint8_t storage[NS_FRAME_HDR + NS_FRAME_MAX];
	const char *why = NULL;
	size_t plen = 0;
	struct buf b;
	int n;

	(void)state;
	sample_state(&in);
	buf_init_static(&b, storage, sizeof(storage));
	assert_int_equal(ns_encode_frame(&in, &b), 0);
	n = ns_frame_peek(buf_head(&b), buf_len(&b), NS_FRAME_MAX, &plen);
	assert_int_equal((size_t)n, buf_len(&b));
	assert_int_equal(plen + NS_FRAME_HDR, buf_len(&b));
	assert_int_equal(ns_decode(buf_head(&b) + NS_FRAME_HDR, plen, &back, &why), 0);
	assert_memory_equal(&in, &back, sizeof(in));
}

static void test_ns_encode_frame_no_room_leaves_buffer(void **state)
{
	struct node_state in;
	uint8_t storage[64];
	struct buf b;

	(void)state;
	sample_state(&in);
	buf_init_static(&b, storage, sizeof(storage));
	assert_int_equal(buf_append(&b, "abc", 3), 0);
	errno = 0;
	assert_int_equal(ns_encode_frame(&in, &b), -1);
	assert_int_equal(errno, ENOBUFS);
	assert_int_equal(buf_len(&b), 3);
	assert_memory_equal(buf_head(&b), "abc", 3);
}

static void test_ns_encode_frame_after_consumed_bytes(void **state)
{
	uint8_t storage[NS_FRAME_HDR + NS_FRAME_MAX];
	struct node_state in;
	struct node_state back;
	const char *why;
	size_t plen;
	struct buf b;

	(void)state;
	sample_state(&in);
	buf_init_static(&b, storage, sizeof(storage));
	/* Leave a consumed gap at the head so the encoder's appends must compact mid-frame. */
	memset(storage, 'x', sizeof(storage));
	assert_int_equal(buf_append(&b, storage, sizeof(storage) - 100), 0);
	buf_consume(&b, sizeof(storage) - 110);
	assert_int_equal(buf_len(&b), 10);
	assert_int_equal(ns_encode_frame(&in, &b), 0);
	assert_true(ns_frame_peek(buf_head(&b) + 10, buf_len(&b) - 10, NS_FRAME_MAX, &plen) > 0);
	assert_int_equal(ns_decode(buf_head(&b) + 10 + NS_FRAME_HDR, plen, &back, &why), 0);
	assert_string_equal(back.node, "db1");
}

struct peek_vector {
	const char *hex; /* stream start, in hex */
	size_t max;      /* max payload */
	int ret;         /* expected */
	int line;        /* where the vector is */
};

static const struct peek_vector peek_vectors[] = {
	{ "", 100, 0, __LINE__ },           { "000000", 100, 0, __LINE__ },
	{ "00000000", 100, -1, __LINE__ },  /* empty payload */
	{ "00000065", 100, -1, __LINE__ },  /* 101 > max */
	{ "ffffffff", 100, -1, __LINE__ },  /* huge */
	{ "0000000180", 100, 5, __LINE__ }, /* 1-byte payload: an empty map */
	{ "00000002", 100, 0, __LINE__ },   /* payload missing */
	{ "0000000280", 100, 0, __LINE__ }, /* 1 of 2 bytes */
};

static size_t unhex(const char *hex, uint8_t *out)
{
	size_t n = 0;

	for (; hex[0] != '\0' && hex[1] != '\0'; hex += 2) {
		unsigned v;

		sscanf(hex, "%2x", &v);
		out[n++] = (uint8_t)v;
	}
	return n;
}

static void test_ns_frame_peek_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(peek_vectors) / sizeof(peek_vectors[0]); i++) {
		const struct peek_vector *v = &peek_vectors[i];
		uint8_t bytes[64];
		size_t plen = 0;
		size_t len = unhex(v->hex, bytes);
		int ret = ns_frame_peek(bytes, len, v->max, &plen);

		if (ret != v->ret)
			fail_msg("vector at line %d: got %d", v->line, ret);
	}
}

/* Packs a map built by <fill> and decodes it; returns ns_decode's result. */
typedef void (*fill_fn)(msgpack_packer *pk);

static int decode_packed(fill_fn fill, struct node_state *out, const char **why)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int ret;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	fill(&pk);
	ret = ns_decode((const uint8_t *)sb.data, sb.size, out, why);
	msgpack_sbuffer_destroy(&sb);
	return ret;
}

static void kstr(msgpack_packer *pk, const char *k, const char *v)
{
	msgpack_pack_str_with_body(pk, k, strlen(k));
	msgpack_pack_str_with_body(pk, v, strlen(v));
}

static void ku64(msgpack_packer *pk, const char *k, uint64_t v)
{
	msgpack_pack_str_with_body(pk, k, strlen(k));
	msgpack_pack_uint64(pk, v);
}

static void fill_minimal(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 6);
	ku64(pk, "v", 1);
	kstr(pk, "cluster", "c");
	kstr(pk, "node", "n");
	ku64(pk, "boot", 7);
	ku64(pk, "seq", 1);
	kstr(pk, "from_the_future", "ignored"); /* unknown key: skipped */
}

static void fill_missing_seq(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 4);
	ku64(pk, "v", 1);
	kstr(pk, "cluster", "c");
	kstr(pk, "node", "n");
	ku64(pk, "boot", 7);
}

static void fill_seq_is_string(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 5);
	ku64(pk, "v", 1);
	kstr(pk, "cluster", "c");
	kstr(pk, "node", "n");
	ku64(pk, "boot", 7);
	kstr(pk, "seq", "1");
}

static void fill_negative_seq(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 5);
	ku64(pk, "v", 1);
	kstr(pk, "cluster", "c");
	kstr(pk, "node", "n");
	ku64(pk, "boot", 7);
	msgpack_pack_str_with_body(pk, "seq", 3);
	msgpack_pack_int64(pk, -1);
}

static void fill_long_node(msgpack_packer *pk)
{
	char name[NS_NAME_MAX + 1];

	memset(name, 'a', NS_NAME_MAX);
	name[NS_NAME_MAX] = '\0';
	msgpack_pack_map(pk, 5);
	ku64(pk, "v", 1);
	kstr(pk, "cluster", "c");
	kstr(pk, "node", name);
	ku64(pk, "boot", 7);
	ku64(pk, "seq", 1);
}

static void fill_role_word(msgpack_packer *pk, const char *role)
{
	msgpack_pack_map(pk, 6);
	ku64(pk, "v", 1);
	kstr(pk, "cluster", "c");
	kstr(pk, "node", "n");
	ku64(pk, "boot", 7);
	ku64(pk, "seq", 1);
	msgpack_pack_str_with_body(pk, "pg", 2);
	msgpack_pack_map(pk, 1);
	kstr(pk, "role", role);
}

static void fill_role_prim(msgpack_packer *pk)
{
	fill_role_word(pk, "prim"); /* a prefix of "primary" is not "primary" */
}

static void fill_role_primary(msgpack_packer *pk)
{
	fill_role_word(pk, "primary");
}

static void fill_check_with_newline(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 6);
	ku64(pk, "v", 1);
	kstr(pk, "cluster", "c");
	kstr(pk, "node", "n");
	ku64(pk, "boot", 7);
	ku64(pk, "seq", 1);
	msgpack_pack_str_with_body(pk, "checks", 6);
	msgpack_pack_map(pk, 1);
	kstr(pk, "writer", "up ready\nmaint");
}

static void fill_too_many_checks(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 6);
	ku64(pk, "v", 1);
	kstr(pk, "cluster", "c");
	kstr(pk, "node", "n");
	ku64(pk, "boot", 7);
	ku64(pk, "seq", 1);
	msgpack_pack_str_with_body(pk, "checks", 6);
	msgpack_pack_map(pk, NS_CHECKS_MAX + 1);
	for (int i = 0; i <= NS_CHECKS_MAX; i++) {
		char name[16];

		snprintf(name, sizeof(name), "c%d", i);
		kstr(pk, name, "up ready");
	}
}

static void fill_not_a_map(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 0);
}

static void fill_v_zero(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 5);
	ku64(pk, "v", 0);
	kstr(pk, "cluster", "c");
	kstr(pk, "node", "n");
	ku64(pk, "boot", 7);
	ku64(pk, "seq", 1);
}

struct decode_vector {
	fill_fn fill; /* builds the payload */
	int ret;      /* expected */
	int line;     /* where the vector is */
};

static const struct decode_vector decode_vectors[] = {
	{ fill_minimal, 0, __LINE__ },          { fill_role_primary, 0, __LINE__ },
	{ fill_missing_seq, -1, __LINE__ },     { fill_seq_is_string, -1, __LINE__ },
	{ fill_negative_seq, -1, __LINE__ },    { fill_long_node, -1, __LINE__ },
	{ fill_role_prim, -1, __LINE__ },       { fill_check_with_newline, -1, __LINE__ },
	{ fill_too_many_checks, -1, __LINE__ }, { fill_not_a_map, -1, __LINE__ },
	{ fill_v_zero, -1, __LINE__ },
};

static void test_ns_decode_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(decode_vectors) / sizeof(decode_vectors[0]); i++) {
		const struct decode_vector *v = &decode_vectors[i];
		struct node_state s;
		const char *why = "(none)";
		int ret = decode_packed(v->fill, &s, &why);

		if (ret != v->ret)
			fail_msg("vector at line %d: got %d (%s)", v->line, ret, why);
	}
}

static void test_ns_decode_truncated_and_trailing(void **state)
{
	uint8_t storage[NS_FRAME_HDR + NS_FRAME_MAX];
	struct node_state in;
	struct node_state out;
	const char *why;
	uint8_t *payload;
	size_t plen;
	struct buf b;

	(void)state;
	sample_state(&in);
	buf_init_static(&b, storage, sizeof(storage));
	assert_int_equal(ns_encode_frame(&in, &b), 0);
	payload = buf_head(&b) + NS_FRAME_HDR;
	plen = buf_len(&b) - NS_FRAME_HDR;
	for (size_t cut = 0; cut < plen; cut++) {
		if (ns_decode(payload, cut, &out, &why) != -1)
			fail_msg("payload cut at %zu of %zu accepted", cut, plen);
	}
	assert_int_equal(buf_append(&b, "\xc0", 1), 0); /* a msgpack nil after the map */
	assert_int_equal(ns_decode(payload, plen + 1, &out, &why), -1);
	assert_string_equal(why, "bytes after the map");
}

static void test_ns_to_json_escapes(void **state)
{
	uint8_t storage[4096];
	struct node_state s;
	struct buf b;

	(void)state;
	ns_init(&s);
	strcpy(s.cluster, "c\"1\\");
	strcpy(s.node, "n\x01\xff");
	s.n_checks = 1;
	strcpy(s.checks[0].name, "writer");
	strcpy(s.checks[0].line, "down #pg: standby");
	buf_init_static(&b, storage, sizeof(storage));
	assert_int_equal(ns_to_json(&s, &b), 0);
	assert_int_equal(buf_append(&b, "", 1), 0);
	assert_non_null(strstr((char *)buf_head(&b), "\"cluster\":\"c\\\"1\\\\\""));
	assert_non_null(strstr((char *)buf_head(&b), "\"node\":\"n\\u0001?\""));
	assert_non_null(
	    strstr((char *)buf_head(&b), "\"checks\":{\"writer\":\"down #pg: standby\"}}"));
	assert_non_null(strstr((char *)buf_head(&b), "\"lsn\":\"0/0\""));
}

static void test_ns_to_json_no_room_leaves_buffer(void **state)
{
	uint8_t storage[100];
	struct node_state s;
	struct buf b;

	(void)state;
	sample_state(&s);
	buf_init_static(&b, storage, sizeof(storage));
	assert_int_equal(ns_to_json(&s, &b), -1);
	assert_int_equal(buf_len(&b), 0);
}

/* Valid UTF-8 passes through; overlongs, surrogates, above U+10FFFF, stray and truncated
 * sequences become '?' per byte, so the document stays valid for strict JSON parsers. */
static void test_ns_json_str_utf8(void **state)
{
	static const struct {
		const char *in;
		const char *out;
	} vec[] = {
		{ "caf\xc3\xa9", "\"caf\xc3\xa9\"" },           /* U+00E9 */
		{ "\xe2\x82\xac", "\"\xe2\x82\xac\"" },         /* U+20AC */
		{ "\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"" }, /* U+1F600 */
		{ "\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\"" }, /* U+10FFFF */
		{ "\xc0\xaf", "\"??\"" },                       /* overlong '/' */
		{ "\xe0\x80\xaf", "\"???\"" },                  /* overlong '/' */
		{ "\xed\xa0\x80", "\"???\"" },                  /* surrogate U+D800 */
		{ "\xf0\x80\x80\xaf", "\"????\"" },             /* overlong '/' */
		{ "\xf4\x90\x80\x80", "\"????\"" },             /* U+110000 */
		{ "\xe2\x82", "\"??\"" },                       /* truncated */
		{ "a\x7f\"", "\"a\\u007f\\\"\"" },
	};
	uint8_t storage[64];
	struct buf b;

	(void)state;
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		buf_init_static(&b, storage, sizeof(storage));
		assert_int_equal(ns_json_str(&b, vec[i].in), 0);
		assert_int_equal(buf_len(&b), strlen(vec[i].out));
		assert_memory_equal(buf_head(&b), vec[i].out, strlen(vec[i].out));
	}
	/* No room for the closing quote: nothing is written. */
	buf_init_static(&b, storage, 5);
	assert_int_equal(buf_append(&b, "x", 1), 0);
	assert_int_equal(ns_json_str(&b, "ab\x01"), -1);
	assert_int_equal(buf_len(&b), 1);
}

static void test_ns_admin_parse_whole_words(void **state)
{
	enum ns_admin a;
	enum ns_role r;

	(void)state;
	assert_true(ns_admin_parse("maint", 5, &a));
	assert_int_equal(a, NS_ADMIN_MAINT);
	assert_false(ns_admin_parse("drai", 4, &a));
	assert_false(ns_admin_parse("drained", 7, &a));
	assert_true(ns_role_parse("standby", 7, &r));
	assert_int_equal(r, NS_ROLE_STANDBY);
	assert_false(ns_role_parse("", 0, &r));
}

/* expose = minimal (issue 12 item 7): what routing reads is kept byte for byte, the rest cut. */
static void test_ns_minimal_keeps_routing_cuts_the_rest(void **state)
{
	static struct node_state in;
	static struct node_state out;

	(void)state;
	sample_state(&in);
	strcpy(in.pg.err, "could not connect to 10.0.0.5:5432");
	strcpy(in.fence_reason, "peer db2 primary on tl 4");
	in.fenced = true;
	ns_minimal(&in, &out);
	/* kept: identity, admin, fenced, and every rr_ input */
	assert_string_equal(out.node, "db1");
	assert_int_equal(out.boot, in.boot);
	assert_int_equal(out.seq, 42);
	assert_int_equal(out.admin, NS_ADMIN_DRAIN);
	assert_true(out.fenced);
	assert_true(out.pg.present && out.pg.up && out.pg.streaming);
	assert_int_equal(out.pg.role, NS_ROLE_STANDBY);
	assert_int_equal(out.pg.tl, 3);
	assert_string_equal(out.pg.sysid, "7311111111111111111");
	assert_int_equal(out.pg.lag_bytes, 1024);
	assert_int_equal(out.pg.lag_ms, 12);
	assert_true(out.app.up);
	assert_int_equal(out.app.ms, 3);
	assert_string_equal(out.app.err, "");
	assert_string_equal(out.checks[1].line, "up drain 97%");
	/* cut */
	assert_int_equal(out.pg.lsn, 0);
	assert_string_equal(out.pg.repl, "");
	assert_string_equal(out.admin_reason, "");
	assert_string_equal(out.fence_reason, "");
	assert_string_equal(out.pg.err, "error");
	assert_string_equal(out.nginx.err, "error");
	assert_string_equal(out.checks[0].line, "down drain #pg");
	/* the input is untouched */
	assert_string_equal(in.checks[0].line, "down drain #pg: standby");
	assert_int_equal(in.pg.lsn, 0x30000060ULL);
}

static void test_ns_minimal_line_vectors(void **state)
{
	static const struct {
		const char *in;
		const char *out;
	} v[] = {
		{ "up ready 100%", "up ready 100%" },
		{ "down ready #standby", "down ready #standby" },
		{ "down ready #pg: could not connect to 10.0.0.5", "down ready #pg" },
		{ "drain #admin: upgrade: step 2", "drain #admin" },
		{ "", "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char line[NS_CHECK_LINE_MAX];

		snprintf(line, sizeof(line), "%s", v[i].in);
		ns_minimal_line(line);
		if (strcmp(line, v[i].out) != 0)
			fail_msg("vector %zu: \"%s\" -> \"%s\", want \"%s\"", i, v[i].in, line,
			         v[i].out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ns_encode_frame_round_trip),
		cmocka_unit_test(test_ns_encode_frame_no_room_leaves_buffer),
		cmocka_unit_test(test_ns_encode_frame_after_consumed_bytes),
		cmocka_unit_test(test_ns_frame_peek_vectors),
		cmocka_unit_test(test_ns_decode_vectors),
		cmocka_unit_test(test_ns_decode_truncated_and_trailing),
		cmocka_unit_test(test_ns_to_json_escapes),
		cmocka_unit_test(test_ns_to_json_no_room_leaves_buffer),
		cmocka_unit_test(test_ns_json_str_utf8),
		cmocka_unit_test(test_ns_admin_parse_whole_words),
		cmocka_unit_test(test_ns_minimal_keeps_routing_cuts_the_rest),
		cmocka_unit_test(test_ns_minimal_line_vectors),
	};

	return cmocka_run_group_tests_name("node_state", tests, NULL, NULL);
}
