/* tests/unit/test_spop_conn.c - the SPOP connection state machine over a socketpair: HELLO,
 * thousands of pipelined NOTIFYs answered with zero allocations (malloc, calloc and realloc are
 * wrapped with -Wl,--wrap and counted), backpressure, healthcheck, and one closing rule per
 * protocol violation with its SPOP status code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "common/log.h"
#include "spoe/route.h"
#include "spoe/spoa.h"
#include "spoe/spoa_conf.h"
#include "spoe/spop_codec.h"
#include "spoe/spop_conn.h"

#include "spoe/hold.h"

/* ---- allocation counters (the Makefile links this test with --wrap=malloc,calloc,realloc) -- */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

/* volatile: GCC assumes malloc() touches no user memory and would fold reads across calls */
static volatile unsigned long n_allocs; /* allocations seen since the last reset */

void *__wrap_malloc(size_t n)
{
	n_allocs++;
	return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
	n_allocs++;
	return __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
	n_allocs++;
	return __real_realloc(p, n);
}

/* ---- fixture ------------------------------------------------------------------------------ */

#define HELLO_32                                                                                   \
	"0000007b0100000001000012737570706f727465642d76657273696f6e730803322e300e6d61782d6672616d" \
	"652d73697a6503fcf0060c6361706162696c6974696573080a706970656c696e696e6709656e67696e652d"   \
	"6964082439393966396464392d326334352d346264362d393631652d623630336634383237626330"
#define HELLO_HC_30                                                                                \
	"0000004e0100000001000012737570706f727465642d76657273696f6e730803322e300e6d61782d6672616d" \
	"652d73697a6503fcf0060c6361706162696c697469657308000b6865616c7468636865636b11"

struct fx {
	struct ev_loop *loop; /* private loop */
	struct spoa s;        /* hand-built server: conf + route, no listener, no feeds */
	int peer;             /* HAProxy's end of the socketpair */
	uint8_t in[1 << 20];  /* bytes received from the connection */
	size_t in_len;        /* bytes in <in> */
	size_t in_off;        /* bytes of <in> already parsed */
	bool eof;             /* the connection closed its end */
};

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

static int setup(void **state)
{
	static const char conf_text[] = "[spoa]\n"
	                                "max_frame_size = 16380\n"
	                                "[cluster main]\n"
	                                "[node db1]\ncluster = main\nagent = 127.0.0.1:1\n";
	struct route_input in = { .cluster = "main",
		                  .status = CV_STATUS_OK,
		                  .writer = "db1",
		                  .reader = "db2",
		                  .epoch = 7 };
	struct fx *fx = calloc(1, sizeof(*fx));
	char err[HR_ERR_LEN];
	int sv[2];

	assert_non_null(fx);
	log_init("test", LOG_TO_STDERR, LOG_LVL_ERROR);
	fx->loop = ev_loop_new(EVFLAG_AUTO);
	fx->s.loop = fx->loop;
	fx->s.conf = malloc(sizeof(*fx->s.conf));
	assert_int_equal(
	    spoa_conf_load_string("test.conf", conf_text, fx->s.conf, err, sizeof(err)), 0);
	fx->s.conf->hello_timeout = 5;
	fx->s.conf->idle_timeout = 60;
	fx->s.route = route_build(&in, 1, 1);
	assert_non_null(fx->s.route);
	fx->s.listen_fd = -1;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	fx->peer = sv[1];
	assert_int_equal(spop_conn_accept(&fx->s, sv[0], NULL), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	while (fx->s.conns.head != NULL) {
		struct spop_conn *c = spop_conn_of(fx->s.conns.head);

		spop_conn_close(c, SPOP_STATUS_NORMAL, "test over");
		conn_destroy(&c->c, "test over");
	}
	close(fx->peer);
	if (fx->s.hold_ready)
		hold_free(&fx->s.hold);
	route_free(fx->s.route);
	free(fx->s.conf);
	ev_loop_destroy(fx->loop);
	free(fx);
	return 0;
}

static void send_bytes(struct fx *fx, const uint8_t *b, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fx->peer, b, n);

		if (w == -1 && errno == EAGAIN) {
			ev_run(fx->loop, EVRUN_NOWAIT); /* let the connection drain */
			continue;
		}
		assert_true(w > 0);
		b += w;
		n -= (size_t)w;
	}
}

static void send_hex(struct fx *fx, const char *hex)
{
	uint8_t b[1024];

	send_bytes(fx, b, unhex(hex, b, sizeof(b)));
}

/* Runs the loop and reads until <want> whole frames are waiting in fx->in (or EOF), bounded. */
static void pump(struct fx *fx, size_t want)
{
	int rounds;

	for (rounds = 0; rounds < 100000; rounds++) {
		size_t off = fx->in_off, frames = 0;
		struct spop_frame f;
		enum spop_status st;
		ssize_t r;
		int n;

		while ((n = spop_frame_peek(fx->in + off, fx->in_len - off, 1u << 20, &f, &st)) >
		       0) {
			off += (size_t)n;
			frames++;
		}
		if (frames >= want || fx->eof)
			return;
		ev_run(fx->loop, EVRUN_NOWAIT);
		r = read(fx->peer, fx->in + fx->in_len, sizeof(fx->in) - fx->in_len);
		if (r == 0)
			fx->eof = true;
		else if (r > 0)
			fx->in_len += (size_t)r;
	}
	fail_msg("no %zu frames after 100000 loop rounds", want);
}

/* Next received frame, asserted present. */
static void next_frame(struct fx *fx, struct spop_frame *f)
{
	enum spop_status st;
	int n = spop_frame_peek(fx->in + fx->in_off, fx->in_len - fx->in_off, 1u << 20, f, &st);

	assert_true(n > 0);
	fx->in_off += (size_t)n;
	if (fx->in_off == fx->in_len) {
		fx->in_off = 0;
		fx->in_len = 0;
	}
}

static void do_hello(struct fx *fx)
{
	struct spop_frame f;

	send_hex(fx, HELLO_32);
	pump(fx, 1);
	next_frame(fx, &f);
	assert_int_equal(f.type, SPOP_FRM_AGENT_HELLO);
	assert_int_equal(spop_conn_of(fx->s.conns.head)->state, SPOP_ST_RUNNING);
}

/* A NOTIFY haprole-route(cluster, intent) with the given ids, FIN set unless <frag>. */
static size_t make_notify(uint8_t *b, size_t cap, uint64_t sid, uint64_t fid, const char *msg,
                          const char *cluster, const char *intent, bool frag)
{
	uint8_t *p = b, *end = b + cap, *start;
	struct spop_data c = { .type = SPOP_DATA_STRING,
		               .ptr = (const uint8_t *)cluster,
		               .len = strlen(cluster) };
	struct spop_data i = { .type = SPOP_DATA_STRING,
		               .ptr = (const uint8_t *)intent,
		               .len = strlen(intent) };

	assert_true(spop_frame_begin(&p, end, SPOP_FRM_NOTIFY, frag ? 0 : SPOP_FLAG_FIN, sid, fid,
	                             &start) > 0);
	assert_true(spop_string_put(&p, end, msg, strlen(msg)) > 0);
	*p++ = 2;
	assert_true(spop_string_put(&p, end, "cluster", 7) > 0);
	assert_true(spop_data_put(&p, end, &c) > 0);
	assert_true(spop_string_put(&p, end, "intent", 6) > 0);
	assert_true(spop_data_put(&p, end, &i) > 0);
	assert_int_equal(spop_frame_end(start, p), 0);
	return (size_t)(p - b);
}

/* The status code of an AGENT-DISCONNECT expected next, then EOF. */
static void expect_disconnect(struct fx *fx, uint32_t status)
{
	struct spop_frame f;
	struct spop_disconnect d;

	pump(fx, 1);
	next_frame(fx, &f);
	assert_int_equal(f.type, SPOP_FRM_AGENT_DISCONNECT);
	assert_int_equal(spop_disconnect_decode(&f, &d), 0);
	assert_int_equal(d.status, status);
	pump(fx, 1000);
	assert_true(fx->eof);
	assert_null(fx->s.conns.head);
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_spop_conn_process_hello(void **state)
{
	struct fx *fx = *state;
	struct spop_frame f;
	struct spop_hello h;
	enum spop_status st;

	send_hex(fx, HELLO_32);
	pump(fx, 1);
	next_frame(fx, &f);
	assert_int_equal(f.type, SPOP_FRM_AGENT_HELLO);
	assert_true(f.stream_id == 0 && f.frame_id == 0);
	/* AGENT-HELLO has the HELLO layout: reuse the HELLO decoder (its keys differ) */
	assert_int_equal(spop_hello_decode(&f, &h, &st), -1); /* no supported-versions: expected */
	assert_int_equal(spop_conn_of(fx->s.conns.head)->max_frame, 16380);
	assert_int_equal(spop_conn_of(fx->s.conns.head)->state, SPOP_ST_RUNNING);
}

static void test_spop_conn_process_pipelined_no_malloc(void **state)
{
	struct fx *fx = *state;
	const struct route_entry *e = &fx->s.route->e[0];
	static uint8_t batch[64 * 20];
	unsigned round, i;
	unsigned long allocs;
	void *volatile probe; /* volatile: the compiler may not elide the malloc/free pair */
	uint64_t fid = 0;

	do_hello(fx);
	n_allocs = 0;
	probe = malloc(1); /* the counter sees allocations: the wrap is in effect */
	free(probe);
	assert_int_equal(n_allocs, 1);
	n_allocs = 0;
	for (round = 0; round < 500; round++) {
		size_t len = 0;

		for (i = 0; i < 20; i++) /* 20 in flight, as HAProxy 3.x does */
			len +=
			    make_notify(batch + len, sizeof(batch) - len, round, ++fid,
			                "haprole-route", "main", i % 2 ? "read" : "write", false);
		send_bytes(fx, batch, len);
		pump(fx, 20);
		for (i = 0; i < 20; i++) {
			struct spop_frame f;

			next_frame(fx, &f);
			if (f.type != SPOP_FRM_ACK || f.stream_id != round ||
			    f.frame_id != fid - 19 + i || f.payload_len != e->actions_len ||
			    memcmp(f.payload, e->actions, e->actions_len) != 0)
				fail_msg("round %u ack %u: wrong ACK", round, i);
		}
	}
	allocs = n_allocs;
	assert_int_equal(allocs, 0);
	assert_int_equal(fx->s.stats.msg_route, 10000);
	assert_int_equal(fx->s.stats.msg_route_write, 5000);
	assert_int_equal(spop_conn_of(fx->s.conns.head)->notify, 10000);
}

/* 3000 NOTIFYs at once while the connection's socket takes little: reading pauses, every ACK
 * arrives in order, buffers never grow. */
static void test_spop_conn_process_backpressure(void **state)
{
	struct fx *fx = *state;
	static uint8_t all[3000 * 64];
	struct spop_conn *c;
	size_t len = 0;
	int small = 4096;
	unsigned i;

	do_hello(fx);
	assert_int_equal(setsockopt(spop_conn_of(fx->s.conns.head)->c.fd, SOL_SOCKET, SO_SNDBUF,
	                            &small, sizeof(small)),
	                 0);
	for (i = 0; i < 3000; i++)
		len += make_notify(all + len, sizeof(all) - len, 1, i, "haprole-route", "main",
		                   "write", false);
	n_allocs = 0;
	send_bytes(fx, all, len);
	/* the peer reads nothing yet: the agent fills its socket and <tx>, then stops reading
	 * (common/conn.c's tx_high) rather than taking more frames than it can answer */
	c = spop_conn_of(fx->s.conns.head);
	for (i = 0; i < 100000 && (c->c.events & EV_READ) != 0; i++)
		ev_run(fx->loop, EVRUN_NOWAIT);
	assert_int_equal(c->c.events & EV_READ, 0);
	assert_true(buf_room(&c->c.tx) < SPOP_ACK_MAX);
	pump(fx, 3000);
	for (i = 0; i < 3000; i++) {
		struct spop_frame f;

		next_frame(fx, &f);
		if (f.type != SPOP_FRM_ACK || f.frame_id != i)
			fail_msg("ack %u out of order (frame-id %llu)", i,
			         (unsigned long long)f.frame_id);
	}
	assert_int_equal(n_allocs, 0);
	assert_true(spop_conn_of(fx->s.conns.head)->c.tx.size <= 16384 &&
	            spop_conn_of(fx->s.conns.head)->c.rx.size == 16384);
}

static void test_spop_conn_process_unknown_message(void **state)
{
	struct fx *fx = *state;
	uint8_t b[256];
	struct spop_frame f;
	const uint8_t *err = fx->s.route->err_actions[ROUTE_ERR_UNKNOWN_MSG];
	size_t err_len = fx->s.route->err_len[ROUTE_ERR_UNKNOWN_MSG];

	do_hello(fx);
	send_bytes(fx, b, make_notify(b, sizeof(b), 3, 4, "other-msg", "main", "write", false));
	pump(fx, 1);
	next_frame(fx, &f);
	assert_int_equal(f.type, SPOP_FRM_ACK);
	/* never an empty ACK: one harmless set-var txn.<prefix>.error */
	assert_int_equal(f.payload_len, err_len);
	assert_memory_equal(f.payload, err, err_len);
	assert_int_equal(fx->s.stats.msg_unknown, 1);
}

static void test_spop_conn_process_bad_args(void **state)
{
	struct fx *fx = *state;
	uint8_t b[256];
	struct spop_frame f;
	const uint8_t *err = fx->s.route->err_actions[ROUTE_ERR_BAD_ARGS];
	size_t err_len = fx->s.route->err_len[ROUTE_ERR_BAD_ARGS];

	do_hello(fx);
	send_bytes(fx, b, make_notify(b, sizeof(b), 0, 1, "haprole-route", "nope", "write", false));
	send_bytes(fx, b,
	           make_notify(b, sizeof(b), 0, 2, "haprole-route", "main", "delete", false));
	send_bytes(fx, b, make_notify(b, sizeof(b), 0, 3, "haprole-route", "mai", "write", false));
	pump(fx, 3);
	for (int i = 0; i < 3; i++) {
		next_frame(fx, &f);
		assert_int_equal(f.type, SPOP_FRM_ACK);
		assert_int_equal(f.frame_id, (uint64_t)i + 1);
		assert_int_equal(f.payload_len, err_len);
		assert_memory_equal(f.payload, err, err_len);
	}
	assert_int_equal(fx->s.stats.msg_bad_args, 3);
}

static void test_spop_conn_process_unknown_frame_skipped(void **state)
{
	struct fx *fx = *state;
	uint8_t b[256];
	struct spop_frame f;

	do_hello(fx);
	send_hex(fx, "000000072a000000010506"); /* type 42 */
	send_bytes(fx, b, make_notify(b, sizeof(b), 9, 9, "haprole-route", "main", "read", false));
	pump(fx, 1);
	next_frame(fx, &f);
	assert_int_equal(f.type, SPOP_FRM_ACK);
	assert_int_equal(f.frame_id, 9);
	assert_int_equal(fx->s.stats.frames_skipped, 1);
}

static void test_spop_conn_process_healthcheck(void **state)
{
	struct fx *fx = *state;
	struct spop_frame f;

	send_hex(fx, HELLO_HC_30);
	pump(fx, 1);
	next_frame(fx, &f);
	assert_int_equal(f.type, SPOP_FRM_AGENT_HELLO);
	pump(fx, 1000);
	assert_true(fx->eof); /* answered, then closed, without DISCONNECT */
	assert_int_equal(fx->in_len, 0);
	assert_int_equal(fx->s.stats.hello_healthcheck, 1);
}

static void test_spop_conn_process_fragment_refused(void **state)
{
	struct fx *fx = *state;
	uint8_t b[256];

	do_hello(fx);
	send_bytes(fx, b, make_notify(b, sizeof(b), 1, 1, "haprole-route", "main", "write", true));
	expect_disconnect(fx, SPOP_STATUS_FRAG_NOT_SUP);
}

static void test_spop_conn_process_too_big(void **state)
{
	struct fx *fx = *state;

	do_hello(fx);
	send_hex(fx, "00004000030000000101"); /* announces 16384 > 16380 */
	expect_disconnect(fx, SPOP_STATUS_TOO_BIG);
}

static void test_spop_conn_process_notify_before_hello(void **state)
{
	struct fx *fx = *state;
	uint8_t b[256];

	send_bytes(fx, b, make_notify(b, sizeof(b), 1, 1, "haprole-route", "main", "write", false));
	expect_disconnect(fx, SPOP_STATUS_INVALID);
}

static void test_spop_conn_process_bad_version(void **state)
{
	struct fx *fx = *state;

	/* HELLO_32 with supported-versions "1.0" */
	send_hex(fx, "000000320100000001000012737570706f727465642d76657273696f6e730803312e300e6d61"
	             "782d6672616d652d73697a6503fcf006");
	expect_disconnect(fx, SPOP_STATUS_BAD_VSN);
}

static void test_spop_conn_process_haproxy_disconnect(void **state)
{
	struct fx *fx = *state;
	uint8_t b[128], *p = b, *start;
	struct spop_data code = { .type = SPOP_DATA_UINT32, .u = 0 };
	struct spop_data msg = { .type = SPOP_DATA_STRING,
		                 .ptr = (const uint8_t *)"bye",
		                 .len = 3 };

	do_hello(fx);
	assert_true(spop_frame_begin(&p, b + sizeof(b), SPOP_FRM_HAPROXY_DISCONNECT, SPOP_FLAG_FIN,
	                             0, 0, &start) > 0);
	assert_true(spop_string_put(&p, b + sizeof(b), "status-code", 11) > 0);
	assert_true(spop_data_put(&p, b + sizeof(b), &code) > 0);
	assert_true(spop_string_put(&p, b + sizeof(b), "message", 7) > 0);
	assert_true(spop_data_put(&p, b + sizeof(b), &msg) > 0);
	assert_int_equal(spop_frame_end(start, p), 0);
	send_bytes(fx, b, (size_t)(p - b));
	expect_disconnect(fx, SPOP_STATUS_NORMAL);
	assert_int_equal(fx->s.stats.disconnect_rx, 1);
}

static void test_spop_conn_process_peer_close(void **state)
{
	struct fx *fx = *state;

	do_hello(fx);
	shutdown(fx->peer, SHUT_WR);
	pump(fx, 1000);
	assert_true(fx->eof);
	assert_null(fx->s.conns.head);
	assert_int_equal(fx->s.stats.closed_by_peer, 1);
	assert_int_equal(fx->s.stats.errors[0], 0);
}

/* A frame split byte by byte across reads is answered once whole. */
static void test_spop_conn_process_split_frames(void **state)
{
	struct fx *fx = *state;
	uint8_t b[256];
	size_t n, i;
	struct spop_frame f;

	do_hello(fx);
	n = make_notify(b, sizeof(b), 5, 6, "haprole-route", "main", "write", false);
	for (i = 0; i < n; i++) {
		send_bytes(fx, b + i, 1);
		ev_run(fx->loop, EVRUN_NOWAIT);
	}
	pump(fx, 1);
	next_frame(fx, &f);
	assert_int_equal(f.type, SPOP_FRM_ACK);
	assert_int_equal(f.stream_id, 5);
	assert_int_equal(f.frame_id, 6);
}

/* ---- hold (issue 17): write NOTIFYs kept while a promotion is plausible ------------------- */

/* Routing table of two clusters: "main" without writer (<status>, hold window <hold>, hold_max
 * <hold_max>) or with writer <writer>, at writer epoch <epoch>, and "other" with writer db3. */
static struct route_table *hold_table_e(enum cv_status status, const char *writer, bool hold,
                                        double hold_max, uint64_t epoch)
{
	struct route_input in[2] = {
		{ .cluster = "main",
		  .status = status,
		  .writer = writer,
		  .reader = "",
		  .epoch = epoch,
		  .hold = hold,
		  .hold_max = hold_max },
		{ .cluster = "other",
		  .status = CV_STATUS_OK,
		  .writer = "db3",
		  .reader = "db3",
		  .epoch = 1 },
	};
	struct route_table *t = route_build(in, 2, 2);

	assert_non_null(t);
	return t;
}

static struct route_table *hold_table(enum cv_status status, const char *writer, bool hold,
                                      double hold_max)
{
	return hold_table_e(status, writer, hold, hold_max, 3);
}

/* setup, then a hold store of <budget> entries and "main" in its hold window (hold_max 60 s) */
static int setup_hold_n(void **state, int64_t budget)
{
	struct fx *fx;

	setup(state);
	fx = *state;
	fx->s.conf->hold_budget = budget;
	assert_int_equal(spoa_hold_init(&fx->s), 0);
	route_free(fx->s.route);
	fx->s.route = hold_table(CV_STATUS_NO_PRIMARY, "", true, 60);
	return 0;
}

static int setup_hold(void **state)
{
	return setup_hold_n(state, 64);
}

static int setup_hold_budget2(void **state)
{
	return setup_hold_n(state, 2);
}

/* Runs the loop until the connection has nothing left to do now, and asserts no frame came. */
static void pump_none(struct fx *fx)
{
	int i;

	for (i = 0; i < 50; i++)
		ev_run(fx->loop, EVRUN_NOWAIT);
	pump(fx, 0);
	for (i = 0; i < 20; i++) {
		ssize_t r = read(fx->peer, fx->in + fx->in_len, sizeof(fx->in) - fx->in_len);

		if (r > 0)
			fx->in_len += (size_t)r;
		ev_run(fx->loop, EVRUN_NOWAIT);
	}
	assert_int_equal(fx->in_len - fx->in_off, 0);
}

static void guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	*(bool *)w->data = true;
}

/* Blocks in the loop (timers fire) until <want> frames arrived; bounded: 2000 rounds, and a
 * guard timer of 10 s so that a timer that never fires fails the test instead of hanging it. */
static void pump_wait(struct fx *fx, size_t want)
{
	bool expired = false;
	ev_timer guard;
	int rounds;

	ev_timer_init(&guard, guard_cb, 10, 0);
	guard.data = &expired;
	ev_timer_start(fx->loop, &guard);
	for (rounds = 0; rounds < 2000 && !expired; rounds++) {
		size_t off = fx->in_off, frames = 0;
		struct spop_frame f;
		enum spop_status st;
		ssize_t r;
		int n;

		while ((n = spop_frame_peek(fx->in + off, fx->in_len - off, 1u << 20, &f, &st)) >
		       0) {
			off += (size_t)n;
			frames++;
		}
		if (frames >= want || fx->eof) {
			ev_timer_stop(fx->loop, &guard);
			return;
		}
		ev_run(fx->loop, EVRUN_ONCE);
		r = read(fx->peer, fx->in + fx->in_len, sizeof(fx->in) - fx->in_len);
		if (r == 0)
			fx->eof = true;
		else if (r > 0)
			fx->in_len += (size_t)r;
	}
	ev_timer_stop(fx->loop, &guard);
	fail_msg("no %zu frames after %d blocking loop rounds (guard expired: %d)", want, rounds,
	         (int)expired);
}

static void send_notify(struct fx *fx, uint64_t fid, const char *cluster, const char *intent)
{
	uint8_t b[256];

	send_bytes(fx, b,
	           make_notify(b, sizeof(b), 1, fid, "haprole-route", cluster, intent, false));
}

/* The next frame is the ACK of <fid> carrying cluster <ci>'s actions of table <t>. */
static void expect_ack(struct fx *fx, uint64_t fid, const struct route_table *t, size_t ci)
{
	struct spop_frame f;

	next_frame(fx, &f);
	if (f.type != SPOP_FRM_ACK || f.frame_id != fid || f.payload_len != t->e[ci].actions_len ||
	    memcmp(f.payload, t->e[ci].actions, t->e[ci].actions_len) != 0)
		fail_msg("wanted the ACK of frame %llu with %s's actions, got type %d frame %llu",
		         (unsigned long long)fid, t->e[ci].cluster, f.type,
		         (unsigned long long)f.frame_id);
}

/* Held, then released the moment a writer appears, with the new writer; allocation-free. */
static void test_spop_conn_hold_released_on_writer(void **state)
{
	struct fx *fx = *state;
	struct route_table *t;

	do_hello(fx);
	n_allocs = 0;
	send_notify(fx, 1, "main", "write");
	pump_none(fx);
	assert_int_equal(fx->s.hold.used, 1);
	assert_int_equal(spop_conn_of(fx->s.conns.head)->held, 1);
	assert_int_equal(fx->s.hold.stats.started, 1);
	/* the feed update's work, not the NOTIFY's */
	t = hold_table(CV_STATUS_OK, "db2", false, 60);
	n_allocs = 0;
	spoa_set_route(&fx->s, t);
	pump(fx, 1);
	expect_ack(fx, 1, t, 0);
	assert_int_equal(n_allocs, 0); /* holding and releasing allocate nothing */
	assert_int_equal(fx->s.hold.used, 0);
	assert_int_equal(spop_conn_of(fx->s.conns.head)->held, 0);
	assert_int_equal(fx->s.hold.stats.ended[HOLD_END_WRITER], 1);
	assert_int_equal(fx->s.hold.stats.hist[HOLD_HIST_BUCKETS - 1], 0);
	assert_int_equal(spop_conn_of(fx->s.conns.head)->notify, 1);
}

/* A reload lowers hold_max: waiting writes never wait longer than the new value. */
static void test_spop_conn_hold_max_lowered(void **state)
{
	struct fx *fx = *state;
	const struct route_table *t = fx->s.route;

	do_hello(fx);
	send_notify(fx, 1, "main", "write");
	pump_none(fx);
	assert_int_equal(fx->s.hold.used, 1);
	hold_set_max(&fx->s.hold, 0, 0.01); /* was 60 s */
	pump_wait(fx, 1);
	expect_ack(fx, 1, t, 0);
	assert_int_equal(fx->s.hold.stats.ended[HOLD_END_TIMEOUT], 1);
}

/* A drained writer (planned switchover): writes are held although there is a writer, and go
 * to the promoted one; reads still go to the drained writer's cluster at once. */
static void test_spop_conn_hold_drained_writer(void **state)
{
	struct fx *fx = *state;
	struct route_table *t0 = hold_table(CV_STATUS_OK, "db1", true, 60), *t;

	spoa_set_route(&fx->s, t0);
	do_hello(fx);
	send_notify(fx, 1, "main", "write");
	send_notify(fx, 2, "main", "read");
	pump(fx, 1);
	expect_ack(fx, 2, t0, 0);
	assert_int_equal(fx->s.hold.used, 1);
	t = hold_table(CV_STATUS_OK, "db2", false, 60);
	spoa_set_route(&fx->s, t);
	pump(fx, 1);
	expect_ack(fx, 1, t, 0);
	assert_int_equal(fx->s.hold.stats.ended[HOLD_END_WRITER], 1);
}

/* No writer within hold_max: the answer is the current status, after hold_max. */
static void test_spop_conn_hold_timed_out(void **state)
{
	struct fx *fx = *state;
	const struct route_table *t;

	route_free(fx->s.route);
	fx->s.route = hold_table(CV_STATUS_NO_PRIMARY, "", true, 0.02);
	t = fx->s.route;
	do_hello(fx);
	send_notify(fx, 5, "main", "write");
	pump_none(fx);
	assert_int_equal(fx->s.hold.used, 1);
	pump_wait(fx, 1);
	expect_ack(fx, 5, t, 0); /* no-primary: writer unset, status no-primary */
	assert_int_equal(fx->s.hold.stats.ended[HOLD_END_TIMEOUT], 1);
	assert_int_equal(fx->s.hold.used, 0);
}

/* The window closes without a writer (split brain, no standby left): answered at once. */
static void test_spop_conn_hold_settled(void **state)
{
	struct fx *fx = *state;
	struct route_table *t;

	do_hello(fx);
	send_notify(fx, 1, "main", "write");
	pump_none(fx);
	t = hold_table(CV_STATUS_SPLIT_BRAIN, "", false, 60);
	spoa_set_route(&fx->s, t);
	pump(fx, 1);
	expect_ack(fx, 1, t, 0);
	assert_int_equal(fx->s.hold.stats.ended[HOLD_END_SETTLED], 1);
}

/* A write whose connect to the writer failed comes back as intent=write-retry: held while that
 * writer (epoch) is still the answer, through a rebuild that changes nothing and through the
 * hold window that opens when its agent says it is gone, and released to the promoted one. */
static void test_spop_conn_retry_waits_for_new_writer(void **state)
{
	struct fx *fx = *state;
	struct route_table *t;

	spoa_set_route(&fx->s, hold_table_e(CV_STATUS_OK, "db1", false, 60, 3));
	do_hello(fx);
	n_allocs = 0;
	send_notify(fx, 1, "main", "write-retry");
	send_notify(fx, 2, "main", "write"); /* a first try: answered at once, db1 */
	pump(fx, 1);
	expect_ack(fx, 2, fx->s.route, 0);
	assert_int_equal(n_allocs, 0);
	assert_int_equal(fx->s.hold.used, 1);
	assert_int_equal(fx->s.stats.msg_route_retry, 1);
	assert_int_equal(fx->s.stats.msg_route_write, 1);
	/* a rebuild with the same writer and epoch (a reader moved): still held */
	spoa_set_route(&fx->s, hold_table_e(CV_STATUS_OK, "db1", false, 60, 3));
	pump_none(fx);
	assert_int_equal(fx->s.hold.used, 1);
	/* db1's agent says it is down: writer lost, hold window open */
	spoa_set_route(&fx->s, hold_table_e(CV_STATUS_NO_PRIMARY, "", true, 60, 4));
	pump_none(fx);
	assert_int_equal(fx->s.hold.used, 1);
	t = hold_table_e(CV_STATUS_OK, "db2", false, 60, 5);
	spoa_set_route(&fx->s, t);
	pump(fx, 1);
	expect_ack(fx, 1, t, 0);
	assert_int_equal(fx->s.hold.used, 0);
	assert_int_equal(fx->s.hold.stats.ended[HOLD_END_WRITER], 1);
}

/* The writer that refused the retry stays the writer for all of hold_max: the retry gets it
 * then (a refusal that was not a death), never sooner. */
static void test_spop_conn_retry_same_writer_after_hold_max(void **state)
{
	struct fx *fx = *state;
	struct route_table *t = hold_table_e(CV_STATUS_OK, "db1", false, 0.02, 3);

	spoa_set_route(&fx->s, t);
	do_hello(fx);
	send_notify(fx, 1, "main", "write-retry");
	pump_none(fx);
	assert_int_equal(fx->s.hold.used, 1);
	pump_wait(fx, 1);
	expect_ack(fx, 1, t, 0);
	assert_int_equal(fx->s.hold.stats.ended[HOLD_END_TIMEOUT], 1);
}

/* The writer's agent is heard from after the retry came (it is alive, or the retry came after
 * the writer had changed already): the retry gets that writer then, not at hold_max; a write
 * held in a window is not touched by it. */
static void test_spop_conn_retry_released_when_writer_heard(void **state)
{
	struct fx *fx = *state;
	struct route_table *t = hold_table_e(CV_STATUS_OK, "db2", false, 60, 5);
	double t0;

	spoa_set_route(&fx->s, t);
	do_hello(fx);
	send_notify(fx, 1, "main", "write-retry");
	pump_none(fx);
	assert_int_equal(fx->s.hold.used, 1);
	t0 = fx->s.hold.q[0].head->started;
	hold_release_retries(&fx->s.hold, 0, t0, HOLD_END_WRITER); /* heard before it came */
	assert_int_equal(fx->s.hold.used, 1);
	n_allocs = 0;
	hold_release_retries(&fx->s.hold, 0, t0 + 0.001, HOLD_END_WRITER);
	pump(fx, 1);
	expect_ack(fx, 1, t, 0);
	assert_int_equal(n_allocs, 0);
	assert_int_equal(fx->s.hold.used, 0);
	assert_int_equal(fx->s.hold.stats.ended[HOLD_END_WRITER], 1);
}

/* hold_max 0 (hold off), or no writer and no window: a retry is answered at once. */
static void test_spop_conn_retry_not_held(void **state)
{
	struct fx *fx = *state;
	struct route_table *t = hold_table_e(CV_STATUS_OK, "db1", false, 0, 3);

	spoa_set_route(&fx->s, t);
	do_hello(fx);
	send_notify(fx, 1, "main", "write-retry");
	pump(fx, 1);
	expect_ack(fx, 1, t, 0);
	t = hold_table_e(CV_STATUS_NO_PRIMARY, "", false, 60, 4);
	spoa_set_route(&fx->s, t);
	send_notify(fx, 2, "main", "write-retry");
	pump(fx, 1);
	expect_ack(fx, 2, t, 0);
	assert_int_equal(fx->s.hold.stats.started, 0);
}

/* Past the budget, a write is answered at once with the current status. */
static void test_spop_conn_hold_budget_exceeded(void **state)
{
	struct fx *fx = *state;
	const struct route_table *t0 = fx->s.route;
	struct route_table *t;

	do_hello(fx);
	send_notify(fx, 1, "main", "write");
	send_notify(fx, 2, "main", "write");
	send_notify(fx, 3, "main", "write");
	pump(fx, 1);
	expect_ack(fx, 3, t0, 0);
	assert_int_equal(fx->s.hold.used, 2);
	assert_int_equal(fx->s.hold.stats.refused, 1);
	t = hold_table(CV_STATUS_OK, "db2", false, 60);
	spoa_set_route(&fx->s, t);
	pump(fx, 2);
	expect_ack(fx, 1, t, 0); /* oldest first */
	expect_ack(fx, 2, t, 0);
}

/* Reads are never held; another cluster's NOTIFYs on the same connection are answered at once,
 * before the held one (out of order: SPOE.txt 3.2.3 allows it with pipelining). */
static void test_spop_conn_hold_reads_and_others_not_blocked(void **state)
{
	struct fx *fx = *state;
	const struct route_table *t0 = fx->s.route;
	struct route_table *t;

	do_hello(fx);
	send_notify(fx, 1, "main", "write");
	send_notify(fx, 2, "main", "read");
	send_notify(fx, 3, "other", "write");
	send_notify(fx, 4, "other", "read");
	pump(fx, 3);
	expect_ack(fx, 2, t0, 0);
	expect_ack(fx, 3, t0, 1);
	expect_ack(fx, 4, t0, 1);
	assert_int_equal(fx->s.hold.used, 1);
	t = hold_table(CV_STATUS_OK, "db2", false, 60);
	spoa_set_route(&fx->s, t);
	pump(fx, 1);
	expect_ack(fx, 1, t, 0);
}

/* One connection holds at most spop_conn_hold_cap() NOTIFYs: <tx> keeps room for each ACK, and
 * reading never stops because of held ones. */
static void test_spop_conn_hold_per_connection_cap(void **state)
{
	struct fx *fx = *state;
	const struct route_table *t0 = fx->s.route;
	uint32_t cap, i;

	do_hello(fx);
	cap = spop_conn_hold_cap(spop_conn_of(fx->s.conns.head));
	assert_true(cap >= 20); /* HAProxy's default max-waiting-frames */
	for (i = 0; i < cap + 1; i++)
		send_notify(fx, i, "main", "write");
	send_notify(fx, 1000, "main", "read");
	pump(fx, 2);
	expect_ack(fx, cap, t0, 0);
	expect_ack(fx, 1000, t0, 0);
	assert_int_equal(spop_conn_of(fx->s.conns.head)->held, cap);
	assert_int_equal(fx->s.hold.stats.refused, 1);
	hold_release_all(&fx->s.hold, HOLD_END_SHUTDOWN);
	pump(fx, cap);
	for (i = 0; i < cap; i++)
		expect_ack(fx, i, t0, 0);
	assert_int_equal(fx->s.hold.stats.ended[HOLD_END_SHUTDOWN], cap);
}

/* HAProxy closes (reload, stop) while NOTIFYs are held: they are dropped, nothing is sent. */
static void test_spop_conn_hold_conn_closed(void **state)
{
	struct fx *fx = *state;

	do_hello(fx);
	send_notify(fx, 1, "main", "write");
	send_notify(fx, 2, "main", "write");
	pump_none(fx);
	assert_int_equal(fx->s.hold.used, 2);
	shutdown(fx->peer, SHUT_WR);
	pump(fx, 1000);
	assert_true(fx->eof);
	assert_null(fx->s.conns.head);
	assert_int_equal(fx->s.hold.used, 0);
	assert_int_equal(fx->s.hold.stats.ended[HOLD_END_DROPPED], 2);
	/* a writer appearing afterwards finds nothing to answer */
	spoa_set_route(&fx->s, hold_table(CV_STATUS_OK, "db2", false, 60));
	assert_int_equal(fx->s.hold.stats.ended[HOLD_END_WRITER], 0);
}

/* hold_max 0 (the default) or the window shut: answered at once, as before issue 17. */
static void test_spop_conn_hold_off(void **state)
{
	struct fx *fx = *state;
	const struct route_table *t;

	route_free(fx->s.route);
	fx->s.route = hold_table(CV_STATUS_NO_PRIMARY, "", true, 0);
	t = fx->s.route;
	do_hello(fx);
	send_notify(fx, 1, "main", "write");
	pump(fx, 1);
	expect_ack(fx, 1, t, 0);
	assert_int_equal(fx->s.hold.stats.started, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_spop_conn_process_hello, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spop_conn_process_pipelined_no_malloc, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_spop_conn_process_backpressure, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_spop_conn_process_unknown_message, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_spop_conn_process_bad_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spop_conn_process_unknown_frame_skipped, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_spop_conn_process_healthcheck, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_spop_conn_process_fragment_refused, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_spop_conn_process_too_big, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spop_conn_process_notify_before_hello, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_spop_conn_process_bad_version, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_spop_conn_process_haproxy_disconnect, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_spop_conn_process_peer_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spop_conn_process_split_frames, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_spop_conn_hold_released_on_writer, setup_hold,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_spop_conn_hold_timed_out, setup_hold,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_spop_conn_hold_drained_writer, setup_hold,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_spop_conn_hold_max_lowered, setup_hold,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_spop_conn_hold_settled, setup_hold, teardown),
		cmocka_unit_test_setup_teardown(test_spop_conn_retry_waits_for_new_writer,
		                                setup_hold, teardown),
		cmocka_unit_test_setup_teardown(test_spop_conn_retry_same_writer_after_hold_max,
		                                setup_hold, teardown),
		cmocka_unit_test_setup_teardown(test_spop_conn_retry_not_held, setup_hold,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_spop_conn_retry_released_when_writer_heard,
		                                setup_hold, teardown),
		cmocka_unit_test_setup_teardown(test_spop_conn_hold_budget_exceeded,
		                                setup_hold_budget2, teardown),
		cmocka_unit_test_setup_teardown(test_spop_conn_hold_reads_and_others_not_blocked,
		                                setup_hold, teardown),
		cmocka_unit_test_setup_teardown(test_spop_conn_hold_per_connection_cap, setup_hold,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_spop_conn_hold_conn_closed, setup_hold,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_spop_conn_hold_off, setup_hold, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
