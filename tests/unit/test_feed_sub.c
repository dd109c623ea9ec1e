/* tests/unit/test_feed_sub.c - the feed subscriber against an in-process fake agent on the
 * same libev loop: first state, silence -> lost -> reconnect, bad frames, refused connects. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/feed_sub.h"
#include "evtest.h"

enum fake_mode {
	FAKE_ONE_FRAME = 0, /* one good frame per connection, then silence */
	FAKE_BAD_LENGTH,    /* a frame header announcing 4 GiB */
	FAKE_BAD_PAYLOAD,   /* a valid length and garbage msgpack */
	FAKE_FRAME_CLOSE,   /* one good frame, then the agent closes */
};

struct fake_agent {
	struct fake_peer peer; /* listens; peer.conn_fd: the subscriber's connection */
	enum fake_mode mode;   /* what to send */
	char got[32];          /* what the subscriber sent */
};

struct observed {
	int states;             /* EV_STATE count */
	int losts;              /* EV_LOST count */
	char last_why[128];     /* why of the last EV_LOST */
	char node[NS_NAME_MAX]; /* node of the last EV_STATE */
	int stop_after_states;  /* break the loop when states reaches it */
	int stop_after_losts;   /* break the loop when losts reaches it */
	bool stop_in_state;     /* feed_sub_stop() from the first EV_STATE callback */
};

static void fake_send(struct fake_agent *fa)
{
	uint8_t storage[NS_FRAME_HDR + NS_FRAME_MAX];
	struct node_state s;
	struct buf b;

	buf_init_static(&b, storage, sizeof(storage));
	switch (fa->mode) {
	case FAKE_ONE_FRAME:
	case FAKE_FRAME_CLOSE:
		ns_init(&s);
		strcpy(s.cluster, "c");
		snprintf(s.node, sizeof(s.node), "db%d", fa->peer.accepts);
		s.boot = 1;
		s.seq = 1;
		assert_int_equal(ns_encode_frame(&s, &b), 0);
		break;
	case FAKE_BAD_LENGTH:
		assert_int_equal(buf_append(&b, "\xff\xff\xff\xff", 4), 0);
		break;
	case FAKE_BAD_PAYLOAD:
		assert_int_equal(buf_append(&b, "\x00\x00\x00\x02\xc1\xc1", 6), 0);
		break;
	}
	assert_int_equal(write(fa->peer.conn_fd, buf_head(&b), buf_len(&b)), (ssize_t)buf_len(&b));
	if (fa->mode == FAKE_FRAME_CLOSE)
		assert_int_equal(shutdown(fa->peer.conn_fd, SHUT_WR), 0);
}

static void fake_on_conn(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fake_agent *fa = container_of(w, struct fake_agent, peer.conn_io);
	ssize_t n;

	(void)revents;
	n = read(fa->peer.conn_fd, fa->got, sizeof(fa->got) - 1);
	if (n > 0) {
		fa->got[n] = '\0';
		fake_send(fa);
		return;
	}
	if (n == -1 && errno == EAGAIN)
		return;
	fake_peer_drop(&fa->peer, loop);
}

static void fake_start(struct fake_agent *fa, struct ev_loop *loop, struct cfg_addr *addr)
{
	memset(fa, 0, sizeof(*fa));
	fake_peer_listen_tcp(&fa->peer, loop, fake_on_conn, addr, true);
}

static void fake_stop(struct fake_agent *fa, struct ev_loop *loop)
{
	fake_peer_stop(&fa->peer, loop);
}

static void on_event(struct feed_sub *fs, enum feed_sub_event ev, const struct node_state *st,
                     const char *why)
{
	struct observed *o = fs->arg;

	if (ev == FEED_SUB_EV_STATE) {
		o->states++;
		strcpy(o->node, st->node);
		if (o->stop_in_state) {
			feed_sub_stop(fs); /* from inside the stream's callback */
			assert_int_equal(fs->state, FEED_SUB_ST_IDLE);
			ev_break(fs->loop, EVBREAK_ALL);
		}
		if (o->states == o->stop_after_states)
			ev_break(fs->loop, EVBREAK_ALL);
	} else {
		o->losts++;
		snprintf(o->last_why, sizeof(o->last_why), "%s", why);
		if (o->losts == o->stop_after_losts)
			ev_break(fs->loop, EVBREAK_ALL);
	}
}

/* Bounds every ev_run() of these tests: a broken subscriber fails instead of hanging. */
static void on_watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static void run_bounded(struct ev_loop *loop)
{
	ev_timer dog;

	ev_timer_init(&dog, on_watchdog, 10.0, 0.0);
	ev_timer_start(loop, &dog);
	ev_run(loop, 0);
	ev_timer_stop(loop, &dog);
}

static void test_feed_sub_start_silence_then_reconnect(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct observed o = { .stop_after_states = 2 };
	struct fake_agent fa;
	struct cfg_addr addr;
	struct feed_sub fs;

	(void)state;
	fake_start(&fa, loop, &addr);
	fa.mode = FAKE_ONE_FRAME;
	assert_int_equal(feed_sub_init(&fs, loop, &addr, 0.02, on_event, &o), 0);
	feed_sub_start(&fs);
	run_bounded(loop);
	assert_string_equal(fa.got, "SUBSCRIBE\n");
	assert_int_equal(o.states, 2);
	assert_int_equal(o.losts, 1); /* silence after the first frame */
	assert_string_equal(o.last_why, "no frame for 3 heartbeats");
	assert_string_equal(o.node, "db2"); /* second connection's frame */
	assert_int_equal(fa.peer.accepts, 2);
	feed_sub_free(&fs);
	fake_stop(&fa, loop);
	ev_loop_destroy(loop);
}

static void test_feed_sub_bad_length_is_lost(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct observed o = { .stop_after_losts = 1 };
	struct fake_agent fa;
	struct cfg_addr addr;
	struct feed_sub fs;

	(void)state;
	fake_start(&fa, loop, &addr);
	fa.mode = FAKE_BAD_LENGTH;
	assert_int_equal(feed_sub_init(&fs, loop, &addr, 1.0, on_event, &o), 0);
	feed_sub_start(&fs);
	run_bounded(loop);
	assert_int_equal(o.states, 0);
	assert_string_equal(o.last_why, "bad frame length");
	assert_int_equal(fs.state, FEED_SUB_ST_IDLE);
	feed_sub_free(&fs);
	fake_stop(&fa, loop);
	ev_loop_destroy(loop);
}

static void test_feed_sub_bad_payload_is_lost(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct observed o = { .stop_after_losts = 1 };
	struct fake_agent fa;
	struct cfg_addr addr;
	struct feed_sub fs;

	(void)state;
	fake_start(&fa, loop, &addr);
	fa.mode = FAKE_BAD_PAYLOAD;
	assert_int_equal(feed_sub_init(&fs, loop, &addr, 1.0, on_event, &o), 0);
	feed_sub_start(&fs);
	run_bounded(loop);
	assert_string_equal(o.last_why, "bad frame: invalid msgpack");
	feed_sub_free(&fs);
	fake_stop(&fa, loop);
	ev_loop_destroy(loop);
}

static void test_feed_sub_refused_retries(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct observed o = { .stop_after_losts = 3 };
	struct fake_agent fa;
	struct cfg_addr addr;
	struct feed_sub fs;

	(void)state;
	fake_start(&fa, loop, &addr);
	fake_stop(&fa, loop); /* nobody listens there now */
	assert_int_equal(feed_sub_init(&fs, loop, &addr, 1.0, on_event, &o), 0);
	feed_sub_start(&fs);
	run_bounded(loop);
	assert_int_equal(o.losts, 3);
	assert_string_equal(o.last_why, "connect: Connection refused");
	assert_true(fs.backoff > 0.1); /* backing off */
	feed_sub_stop(&fs);
	assert_int_equal(fs.state, FEED_SUB_ST_IDLE);
	feed_sub_free(&fs);
	ev_loop_destroy(loop);
}

/* The agent closes after a frame: the node is lost as "closed by the agent", then the
 * subscriber reconnects and hears the next connection's frame. */
static void test_feed_sub_agent_close_then_reconnect(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct observed o = { .stop_after_states = 2 };
	struct fake_agent fa;
	struct cfg_addr addr;
	struct feed_sub fs;

	(void)state;
	fake_start(&fa, loop, &addr);
	fa.mode = FAKE_FRAME_CLOSE;
	assert_int_equal(feed_sub_init(&fs, loop, &addr, 1.0, on_event, &o), 0);
	feed_sub_start(&fs);
	run_bounded(loop);
	assert_int_equal(o.states, 2);
	assert_int_equal(o.losts, 1);
	assert_string_equal(o.last_why, "closed by the agent");
	assert_string_equal(o.node, "db2");
	assert_int_equal(fs.connects, 2);
	feed_sub_free(&fs);
	fake_stop(&fa, loop);
	ev_loop_destroy(loop);
}

/* feed_sub_stop() from the state callback: the stream closes (freed once its callback ends),
 * nothing is told after, and the subscriber starts again cleanly. */
static void test_feed_sub_stop_in_callback(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct observed o = { .stop_in_state = true };
	struct fake_agent fa;
	struct cfg_addr addr;
	struct feed_sub fs;

	(void)state;
	fake_start(&fa, loop, &addr);
	fa.mode = FAKE_ONE_FRAME;
	assert_int_equal(feed_sub_init(&fs, loop, &addr, 1.0, on_event, &o), 0);
	feed_sub_start(&fs);
	run_bounded(loop);
	assert_int_equal(o.states, 1);
	assert_int_equal(o.losts, 0);
	assert_false(fs.c_live); /* freed at the end of the stream's callback */
	o.stop_in_state = false;
	o.stop_after_states = 2;
	feed_sub_start(&fs);
	run_bounded(loop);
	assert_int_equal(o.states, 2);
	assert_int_equal(o.losts, 0);
	assert_int_equal(fa.peer.accepts, 2);
	feed_sub_free(&fs);
	fake_stop(&fa, loop);
	ev_loop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_feed_sub_start_silence_then_reconnect),
		cmocka_unit_test(test_feed_sub_bad_length_is_lost),
		cmocka_unit_test(test_feed_sub_bad_payload_is_lost),
		cmocka_unit_test(test_feed_sub_refused_retries),
		cmocka_unit_test(test_feed_sub_agent_close_then_reconnect),
		cmocka_unit_test(test_feed_sub_stop_in_callback),
	};

	return cmocka_run_group_tests_name("feed_sub", tests, NULL, NULL);
}
