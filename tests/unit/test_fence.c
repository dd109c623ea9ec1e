/* tests/unit/test_fence.c - fencing: the pure rule over a table of cluster situations, then the
 * wiring: a fake peer on loopback (127.0.13.1, the ops test range) serves one feed frame saying
 * it is primary on a higher timeline; the local primary is fenced, stays fenced when the peer's
 * feed is lost (sticky evidence), and is unfenced once it is no longer that primary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/fence.h"
#include "common/compiler.h"
#include "common/log.h"

/* A node state with the PostgreSQL fields the rule reads. */
static struct node_state mk(const char *node, enum ns_role role, uint32_t tl, const char *sysid)
{
	struct node_state s;

	ns_init(&s);
	snprintf(s.cluster, sizeof(s.cluster), "c1");
	snprintf(s.node, sizeof(s.node), "%s", node);
	s.pg.present = true;
	s.pg.up = true;
	s.pg.role = role;
	s.pg.tl = tl;
	snprintf(s.pg.sysid, sizeof(s.pg.sysid), "%s", sysid);
	return s;
}

#define P NS_ROLE_PRIMARY
#define S NS_ROLE_STANDBY
#define U NS_ROLE_UNKNOWN

static void test_fence_evaluate_vectors(void **state)
{
	static const char *const SYS = "7311111111111111111";
	static const char *const OTHER = "7322222222222222222";
	struct peer_v {
		const char *node; /* NULL: no more peers; "-" : never heard from */
		enum ns_role role;
		uint32_t tl;
		const char *sysid;
	};
	static const struct {
		enum ns_role role; /* local */
		uint32_t tl;       /* local */
		const char *sysid; /* local */
		struct peer_v peers[3];
		bool fenced;
		const char *reason; /* substring, "" when not fenced */
		const char *error;  /* substring, "" when none */
		int line;
	} vec[] = {
		/* The old primary came back: a peer was promoted after it. */
		{ P,
		  2,
		  SYS,
		  { { "db2", P, 3, SYS } },
		  true,
		  "peer db2 is primary on timeline 3 (ours 2)",
		  "",
		  __LINE__ },
		/* Two peers promoted in turn: the highest timeline is named. */
		{ P,
		  2,
		  SYS,
		  { { "db2", P, 3, SYS }, { "db3", P, 4, SYS } },
		  true,
		  "db3 is primary on "
		  "timeline 4",
		  "",
		  __LINE__ },
		/* Normal cluster: we are the primary, the peer a standby. */
		{ P, 3, SYS, { { "db2", S, 3, SYS } }, false, "", "", __LINE__ },
		/* A standby on a higher timeline is not a primary: no fence by this rule. */
		{ P, 2, SYS, { { "db2", S, 3, SYS } }, false, "", "", __LINE__ },
		/* Same timeline, two primaries: not ours to pick (the SPOA says split-brain). */
		{ P, 3, SYS, { { "db2", P, 3, SYS } }, false, "", "", __LINE__ },
		/* The peer is the old primary on a lower timeline: we stay the writer. */
		{ P, 4, SYS, { { "db2", P, 3, SYS } }, false, "", "", __LINE__ },
		/* We are a standby: nothing to fence. */
		{ S, 2, SYS, { { "db2", P, 3, SYS } }, false, "", "", __LINE__ },
		{ U, 0, "", { { "db2", P, 3, SYS } }, false, "", "", __LINE__ },
		/* A peer of another cluster: reported, never trusted. */
		{ P,
		  2,
		  SYS,
		  { { "x1", P, 9, OTHER } },
		  false,
		  "",
		  "peer x1 has system identifier "
		  "7322222222222222222, ours 7311111111111111111: not trusted",
		  __LINE__ },
		/* ... and not trusted even beside a good peer. */
		{ P,
		  2,
		  SYS,
		  { { "x1", P, 9, OTHER }, { "db2", P, 3, SYS } },
		  true,
		  "db2 is primary on "
		  "timeline 3",
		  "peer x1",
		  __LINE__ },
		/* Peer without a sysid yet (probe not done), or never heard from: ignored. */
		{ P, 2, SYS, { { "db2", P, 3, "" }, { "-", U, 0, "" } }, false, "", "", __LINE__ },
		/* The local node listed as its own peer: ignored. */
		{ P, 2, SYS, { { "me", P, 3, SYS } }, false, "", "", __LINE__ },
		/* Local sysid unknown: cannot compare, cannot fence. */
		{ P, 2, "", { { "db2", P, 3, SYS } }, false, "", "", __LINE__ },
		/* No peers at all. */
		{ P, 2, SYS, { { NULL, U, 0, NULL } }, false, "", "", __LINE__ },
	};
	size_t i;

	(void)state;
	for (i = 0; i < HR_ARRAY_SIZE(vec); i++) {
		struct node_state local = mk("me", vec[i].role, vec[i].tl, vec[i].sysid);
		struct node_state peers[3];
		const struct node_state *views[3];
		struct fence_verdict v;
		size_t n = 0;

		for (; n < 3 && vec[i].peers[n].node != NULL; n++) {
			const struct peer_v *p = &vec[i].peers[n];

			peers[n] = mk(p->node, p->role, p->tl, p->sysid);
			views[n] = strcmp(p->node, "-") == 0 ? NULL : &peers[n];
		}
		fence_evaluate(&local, views, n, &v);
		if (v.fenced != vec[i].fenced || strstr(v.reason, vec[i].reason) == NULL ||
		    (!v.fenced && v.reason[0] != '\0'))
			fail_msg("vector at line %d: fenced=%d reason \"%s\"", vec[i].line,
			         v.fenced, v.reason);
		if (strstr(v.error, vec[i].error) == NULL ||
		    (vec[i].error[0] == '\0') != (v.error[0] == '\0'))
			fail_msg("vector at line %d: error \"%s\"", vec[i].line, v.error);
	}
}

static void test_fence_evaluate_no_pg_probe(void **state)
{
	struct node_state local = mk("app1", P, 2, "1");
	struct node_state peer = mk("db2", P, 3, "1");
	const struct node_state *views[1] = { &peer };
	struct fence_verdict v;

	(void)state;
	local.pg.present = false; /* an app-only node has no local primary to fence */
	fence_evaluate(&local, views, 1, &v);
	assert_false(v.fenced);
}

/* ---- wiring ------------------------------------------------------------------------------ */

struct fake_agent {
	struct node_state st;       /* what ops.local returns */
	int calls;                  /* set_fence calls */
	bool fenced;                /* last told */
	char reason[NS_REASON_MAX]; /* last told */
};

static const struct node_state *fake_local(void *arg)
{
	return &((struct fake_agent *)arg)->st;
}

static void fake_set_fence(void *arg, bool fenced, const char *reason)
{
	struct fake_agent *a = arg;

	a->calls++;
	a->fenced = fenced;
	snprintf(a->reason, sizeof(a->reason), "%s", reason);
}

static void test_fence_start_peer_feed(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sin);
	struct fake_agent agent = { .st = mk("db1", P, 2, "42") };
	struct fence_ops ops = { .local = fake_local, .set_fence = fake_set_fence, .arg = &agent };
	struct fence_peer_conf pc = { .name = "db2" };
	struct node_state peer = mk("db2", P, 3, "42");
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct fence f;
	char err[HR_ERR_LEN] = "";
	char text[64];
	const char *why;
	struct buf frame;
	int lfd;
	int cfd = -1;
	int round;

	(void)state;
	log_init("test_fence", LOG_TO_STDERR, LOG_LVL_ERROR);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(lfd != -1);
	inet_pton(AF_INET, "127.0.13.1", &sin.sin_addr);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &slen), 0);
	snprintf(text, sizeof(text), "127.0.13.1:%u", ntohs(sin.sin_port));
	assert_int_equal(cfg_parse_addr(text, &pc.address, &why), 0);
	assert_int_equal(buf_init(&frame, NS_FRAME_HDR + NS_FRAME_MAX), 0);
	peer.boot = 1;
	peer.seq = 1;
	assert_int_equal(ns_encode_frame(&peer, &frame), 0);

	assert_int_equal(fence_start(&f, loop, &pc, 1, 0.2, &ops, err, sizeof(err)), 0);
	/* Serve: accept, read SUBSCRIBE, send one frame; run until the agent is told. */
	for (round = 0; round < 500 && agent.calls == 0; round++) {
		struct pollfd pfd = { .fd = cfd == -1 ? lfd : cfd, .events = POLLIN };

		ev_run(loop, EVRUN_NOWAIT);
		if (poll(&pfd, 1, 10) <= 0)
			continue;
		if (cfd == -1) {
			cfd = accept(lfd, NULL, NULL);
			continue;
		}
		{
			char line[32];
			ssize_t n = read(cfd, line, sizeof(line));

			if (n > 0 && memchr(line, '\n', (size_t)n) != NULL)
				assert_int_equal(write(cfd, buf_head(&frame), buf_len(&frame)),
				                 (ssize_t)buf_len(&frame));
		}
	}
	assert_int_equal(agent.calls, 1);
	assert_true(agent.fenced);
	assert_string_equal(agent.reason, "peer db2 is primary on timeline 3 (ours 2)");

	/* What the agent asks while rebuilding its state: no callback, same rule. */
	{
		struct node_state next = agent.st;
		char reason[NS_REASON_MAX];

		assert_true(fence_apply(&f, &next, reason, sizeof(reason)));
		assert_string_equal(reason, "peer db2 is primary on timeline 3 (ours 2)");
		next.pg.tl = 4; /* promoted again since: we are the newest primary */
		assert_false(fence_apply(&f, &next, reason, sizeof(reason)));
		assert_string_equal(reason, "");
		next.pg.tl = 2;
		assert_true(fence_apply(&f, &next, reason, sizeof(reason)));
		assert_int_equal(agent.calls, 1);
	}

	/* The peer goes away: the evidence stays, no call, still fenced. */
	close(cfd);
	for (round = 0; round < 50 && f.peers[0].connected; round++) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(10000);
	}
	assert_false(f.peers[0].connected);
	assert_int_equal(agent.calls, 1);
	assert_true(f.verdict.fenced);

	/* Rewound to a standby: no longer fenced. */
	agent.st.pg.role = S;
	fence_local_changed(&f);
	assert_int_equal(agent.calls, 2);
	assert_false(agent.fenced);
	assert_string_equal(agent.reason, "");

	fence_stop(&f);
	fence_stop(&f);
	buf_free(&frame);
	close(lfd);
	ev_loop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fence_evaluate_vectors),
		cmocka_unit_test(test_fence_evaluate_no_pg_probe),
		cmocka_unit_test(test_fence_start_peer_feed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
