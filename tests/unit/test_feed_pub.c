/* tests/unit/test_feed_pub.c - the SUBSCRIBE publisher over socketpairs: the full state comes
 * first, each publish is one frame that ns_decode() reads back, a subscriber that stops
 * reading is dropped once its buffer is full (the publisher never blocks), a closed
 * subscriber is reaped, max_subscribers refuses the next one. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/feed_pub.h"
#include "common/log.h"

static struct node_state ns;

static void make_state(void)
{
	ns_init(&ns);
	strcpy(ns.cluster, "t");
	strcpy(ns.node, "db1");
	ns.boot = 42;
	ns.seq = 1;
	ns.n_checks = 1;
	strcpy(ns.checks[0].name, "writer");
	strcpy(ns.checks[0].line, "up ready 100%");
}

/* A socketpair: [0] goes to the publisher (non-blocking), [1] is the test's end. */
static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_not_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), -1);
	assert_int_not_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), -1);
}

/* Reads one frame from <fd> and decodes it into <out>. Returns 0, or -1 when none is there. */
static int read_frame(int fd, struct node_state *out)
{
	uint8_t buf[NS_FRAME_HDR + NS_FRAME_MAX];
	size_t got = 0;
	size_t plen = 0;
	const char *why = NULL;

	while (got < NS_FRAME_HDR) {
		ssize_t r = read(fd, buf + got, NS_FRAME_HDR - got);

		if (r <= 0 && got == 0)
			return -1;
		assert_true(r > 0); /* frames are written whole: a started header completes */
		got += (size_t)r;
	}
	plen = (size_t)buf[0] << 24 | (size_t)buf[1] << 16 | (size_t)buf[2] << 8 | buf[3];
	assert_true(plen > 0 && plen <= NS_FRAME_MAX);
	while (got < NS_FRAME_HDR + plen) {
		ssize_t r = read(fd, buf + got, NS_FRAME_HDR + plen - got);

		assert_true(r > 0);
		got += (size_t)r;
	}
	assert_int_equal(ns_frame_peek(buf, got, NS_FRAME_MAX, &plen), (int)got);
	if (ns_decode(buf + NS_FRAME_HDR, plen, out, &why) != 0)
		fail_msg("frame does not decode: %s", why);
	return 0;
}

static void test_feed_pub_add_full_state_first(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct feed_pub fp;
	struct node_state got;
	int sv[2];

	(void)state;
	make_state();
	pair(sv);
	assert_int_equal(feed_pub_init(&fp, loop, &ns, 0.5, 65536, 4), 0);
	assert_int_equal(feed_pub_add(&fp, sv[0], "test"), 0);
	assert_int_equal(read_frame(sv[1], &got), 0);
	assert_string_equal(got.node, "db1");
	assert_int_equal(got.seq, 1);
	assert_string_equal(got.checks[0].line, "up ready 100%");
	/* a change: one more frame with the new state */
	ns.seq = 2;
	strcpy(ns.checks[0].line, "down ready #pg: standby");
	feed_pub_publish(&fp);
	assert_int_equal(read_frame(sv[1], &got), 0);
	assert_int_equal(got.seq, 2);
	assert_string_equal(got.checks[0].line, "down ready #pg: standby");
	assert_int_equal(read_frame(sv[1], &got), -1);
	assert_int_equal(fp.subs.n, 1);
	feed_pub_free(&fp);
	close(sv[1]);
	ev_loop_destroy(loop);
}

/* A subscriber that never reads: frames pile up in the kernel, then in its bounded buffer,
 * then it is dropped; publish() never blocks and the others keep getting frames. */
static void test_feed_pub_publish_drops_slow_subscriber(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct feed_pub fp;
	struct node_state got;
	int slow[2];
	int fast[2];
	int rounds = 0;

	(void)state;
	make_state();
	pair(slow);
	pair(fast);
	assert_int_equal(feed_pub_init(&fp, loop, &ns, 0.5, 16384, 4), 0);
	assert_int_equal(feed_pub_add(&fp, slow[0], "slow"), 0);
	assert_int_equal(feed_pub_add(&fp, fast[0], "fast"), 0);
	while (fp.dropped == 0 && rounds < 100000) {
		ns.seq++;
		feed_pub_publish(&fp);
		/* the fast one reads everything */
		while (read_frame(fast[1], &got) == 0)
			;
		rounds++;
	}
	assert_int_equal(fp.dropped, 1);
	assert_int_equal(fp.subs.n, 1);
	ns.seq++;
	feed_pub_publish(&fp);
	assert_int_equal(read_frame(fast[1], &got), 0);
	assert_int_equal(got.seq, ns.seq);
	feed_pub_free(&fp);
	close(slow[1]);
	close(fast[1]);
	ev_loop_destroy(loop);
}

static void test_feed_pub_add_limit_and_reap(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct feed_pub fp;
	struct node_state got;
	int a[2];
	int b[2];

	(void)state;
	make_state();
	pair(a);
	pair(b);
	assert_int_equal(feed_pub_init(&fp, loop, &ns, 0.5, 65536, 1), 0);
	assert_int_equal(feed_pub_add(&fp, a[0], "a"), 0);
	/* over max_subscribers: refused, its socket closed */
	assert_int_equal(feed_pub_add(&fp, b[0], "b"), -1);
	assert_int_equal(read(b[1], &got, 1), 0);
	assert_int_equal(fp.subs.n, 1);
	/* the subscriber hangs up: the read watcher notices, the next loop turn reaps it */
	assert_int_equal(read_frame(a[1], &got), 0);
	close(a[1]);
	ev_run(loop, EVRUN_NOWAIT);
	assert_int_equal(fp.subs.n, 0);
	feed_pub_free(&fp);
	close(b[1]);
	ev_loop_destroy(loop);
}

/* The heartbeat sends the full state again with the same seq. */
static void test_feed_pub_heartbeat_repeats_state(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct feed_pub fp;
	struct node_state got;
	int sv[2];

	(void)state;
	make_state();
	pair(sv);
	assert_int_equal(feed_pub_init(&fp, loop, &ns, 0.01, 65536, 4), 0);
	assert_int_equal(feed_pub_add(&fp, sv[0], "hb"), 0);
	assert_int_equal(read_frame(sv[1], &got), 0);
	ev_run(loop, EVRUN_ONCE); /* sleeps until the 10 ms heartbeat fires */
	assert_int_equal(read_frame(sv[1], &got), 0);
	assert_int_equal(got.seq, 1);
	feed_pub_free(&fp);
	close(sv[1]);
	ev_loop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_feed_pub_add_full_state_first),
		cmocka_unit_test(test_feed_pub_publish_drops_slow_subscriber),
		cmocka_unit_test(test_feed_pub_add_limit_and_reap),
		cmocka_unit_test(test_feed_pub_heartbeat_repeats_state),
	};
	log_init("test_feed_pub", LOG_TO_STDERR, LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
