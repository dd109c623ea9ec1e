/* tests/unit/test_cluster_view.c - cv_policy(), the pure routing decision (design.md sections 7
 * and 8): one vector per rule, each a small cluster written as a table; and the routing
 * snapshot it feeds (spoe/route.c): the ACK actions decoded back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "spoe/cluster_view.h"
#include "spoe/route.h"
#include "spoe/spop_codec.h"

/* Vectors leave trailing node fields at zero on purpose. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* One node in a vector: 'P' primary, 'S' standby, 'U' role unknown, '-' feed lost (unknown),
 * 'D' primary whose probe is down, 'F' fenced primary, 'M' primary in maint, 'd' drained
 * standby, 'n' standby not streaming. */
struct node_vec {
	char kind;         /* see above */
	uint32_t tl;       /* timeline */
	const char *sysid; /* "" = default "1" */
	uint64_t lag;      /* lag_bytes */
};

struct policy_vec {
	struct node_vec nodes[4]; /* up to 4 nodes, kind 0 ends */
	const char *sysid;        /* configured sysid ("" learn) */
	uint64_t max_lag;         /* reader lag limit */
	enum cv_status status;    /* expected */
	int writer;               /* expected index or -1 */
	int reader;               /* expected index or -1 */
	int line;                 /* __LINE__ */
};

#define NOLIM UINT64_MAX

static const struct policy_vec vecs[] = {
	/* one primary, one standby */
	{ { { 'P', 1 }, { 'S', 1 } }, "", NOLIM, CV_STATUS_OK, 0, 1, __LINE__ },
	/* promotion: the standby became primary on a higher timeline, old one still primary */
	{ { { 'P', 1 }, { 'P', 2 } }, "", NOLIM, CV_STATUS_OK, 1, 1, __LINE__ },
	/* two primaries on one timeline: split brain, no writer, no reader */
	{ { { 'P', 2 }, { 'P', 2 } }, "", NOLIM, CV_STATUS_SPLIT_BRAIN, -1, -1, __LINE__ },
	/* two on the top timeline even with an older third */
	{ { { 'P', 1 }, { 'P', 3 }, { 'P', 3 } },
	  "",
	  NOLIM,
	  CV_STATUS_SPLIT_BRAIN,
	  -1,
	  -1,
	  __LINE__ },
	/* primaries of different sysids with none configured: split brain (fail closed) */
	{ { { 'P', 1, "1" }, { 'P', 2, "2" } },
	  "",
	  NOLIM,
	  CV_STATUS_SPLIT_BRAIN,
	  -1,
	  -1,
	  __LINE__ },
	/* configured sysid: the foreign primary is ignored */
	{ { { 'P', 1, "1" }, { 'P', 5, "2" } }, "1", NOLIM, CV_STATUS_OK, 0, 0, __LINE__ },
	/* no primary, all known */
	{ { { 'S', 1 }, { 'S', 1 } }, "", NOLIM, CV_STATUS_NO_PRIMARY, -1, 0, __LINE__ },
	/* no primary, one feed lost: stale */
	{ { { '-', 1 }, { 'S', 1 } }, "", NOLIM, CV_STATUS_STALE, -1, 1, __LINE__ },
	/* the primary's feed is lost: its last state does not count */
	{ { { '-', 1 }, { '-', 1 } }, "", NOLIM, CV_STATUS_STALE, -1, -1, __LINE__ },
	/* a lost node beside a live primary does not stop writes */
	{ { { 'P', 2 }, { '-', 1 } }, "", NOLIM, CV_STATUS_OK, 0, 0, __LINE__ },
	/* probe down, fenced, maint: not a writer */
	{ { { 'D', 1 }, { 'S', 1 } }, "", NOLIM, CV_STATUS_NO_PRIMARY, -1, 1, __LINE__ },
	{ { { 'F', 1 }, { 'P', 2 } }, "", NOLIM, CV_STATUS_OK, 1, 1, __LINE__ },
	{ { { 'M', 1 }, { 'S', 1 } }, "", NOLIM, CV_STATUS_NO_PRIMARY, -1, 1, __LINE__ },
	/* a fenced primary on the same timeline is no split brain: its agent fenced it */
	{ { { 'F', 2 }, { 'P', 2 } }, "", NOLIM, CV_STATUS_OK, 1, 1, __LINE__ },
	/* role unknown is no writer */
	{ { { 'U', 1 }, { 'S', 1 } }, "", NOLIM, CV_STATUS_NO_PRIMARY, -1, 1, __LINE__ },
	/* readers ordered by lag; over max_lag, drained or not streaming: not a reader */
	{ { { 'P', 1 }, { 'S', 1, "", 500 }, { 'S', 1, "", 100 } },
	  "",
	  NOLIM,
	  CV_STATUS_OK,
	  0,
	  2,
	  __LINE__ },
	{ { { 'P', 1 }, { 'S', 1, "", 500 }, { 'S', 1, "", 100 } },
	  "",
	  50,
	  CV_STATUS_OK,
	  0,
	  0,
	  __LINE__ },
	{ { { 'P', 1 }, { 'd', 1 }, { 'S', 1, "", 9 } }, "", NOLIM, CV_STATUS_OK, 0, 2, __LINE__ },
	{ { { 'P', 1 }, { 'n', 1 } }, "", NOLIM, CV_STATUS_OK, 0, 0, __LINE__ },
	/* a standby of another cluster (sysid) is no reader for this writer */
	{ { { 'P', 1, "1" }, { 'S', 1, "2" } }, "", NOLIM, CV_STATUS_OK, 0, 0, __LINE__ },
	/* empty cluster */
	{ { { 0 } }, "", NOLIM, CV_STATUS_NO_PRIMARY, -1, -1, __LINE__ },
};

static void build(const struct node_vec *nv, struct node_state *st, struct cv_input *in)
{
	ns_init(st);
	st->pg.present = true;
	st->pg.up = true;
	st->pg.tl = nv->tl;
	st->pg.lag_bytes = nv->lag;
	st->pg.streaming = true;
	snprintf(st->pg.sysid, sizeof(st->pg.sysid), "%s",
	         nv->sysid != NULL && nv->sysid[0] != '\0' ? nv->sysid : "1");
	in->known = nv->kind != '-';
	in->st = st;
	in->server = "s";
	switch (nv->kind) {
	case 'P':
	case '-':
		st->pg.role = NS_ROLE_PRIMARY;
		break;
	case 'D':
		st->pg.role = NS_ROLE_PRIMARY;
		st->pg.up = false;
		break;
	case 'F':
		st->pg.role = NS_ROLE_PRIMARY;
		st->fenced = true;
		break;
	case 'M':
		st->pg.role = NS_ROLE_PRIMARY;
		st->admin = NS_ADMIN_MAINT;
		break;
	case 'S':
		st->pg.role = NS_ROLE_STANDBY;
		break;
	case 'd':
		st->pg.role = NS_ROLE_STANDBY;
		st->admin = NS_ADMIN_DRAIN;
		break;
	case 'n':
		st->pg.role = NS_ROLE_STANDBY;
		st->pg.streaming = false;
		break;
	default:
		st->pg.role = NS_ROLE_UNKNOWN;
		break;
	}
}

static void test_cv_policy_vectors(void **state)
{
	size_t i, j;

	(void)state;
	for (i = 0; i < HR_ARRAY_SIZE(vecs); i++) {
		const struct policy_vec *v = &vecs[i];
		struct node_state st[4];
		struct cv_input in[4];
		struct cv_decision d;
		size_t n = 0;

		print_message("vector line %d\n", v->line);
		for (j = 0; j < 4 && v->nodes[j].kind != 0; j++, n++)
			build(&v->nodes[j], &st[j], &in[j]);
		cv_policy(in, n, v->sysid, v->max_lag, &d);
		assert_string_equal(cv_status_name(d.status), cv_status_name(v->status));
		assert_int_equal(d.writer, v->writer);
		assert_int_equal(d.reader, v->reader);
	}
}

/* A lost feed makes the node's last "primary" state worthless: writer gone, status stale. */
static void test_cv_policy_lost_primary(void **state)
{
	struct node_state st[2];
	struct cv_input in[2];
	struct cv_decision d;
	const struct node_vec p = { 'P', 1, "", 0 }, s = { 'S', 1, "", 0 };

	(void)state;
	build(&p, &st[0], &in[0]);
	build(&s, &st[1], &in[1]);
	cv_policy(in, 2, "", NOLIM, &d);
	assert_int_equal(d.writer, 0);
	in[0].known = false;
	cv_policy(in, 2, "", NOLIM, &d);
	assert_int_equal(d.writer, -1);
	assert_int_equal(d.status, CV_STATUS_STALE);
	assert_int_equal(d.reader, 1);
}

static void test_cv_status_name_all(void **state)
{
	(void)state;
	assert_string_equal(cv_status_name(CV_STATUS_OK), "ok");
	assert_string_equal(cv_status_name(CV_STATUS_NO_PRIMARY), "no-primary");
	assert_string_equal(cv_status_name(CV_STATUS_SPLIT_BRAIN), "split-brain");
	assert_string_equal(cv_status_name(CV_STATUS_STALE), "stale");
}

/* One decoded action of an ACK payload. */
struct act {
	uint8_t type;         /* SPOP_ACT_* */
	uint8_t scope;        /* SPOP_SCOPE_* */
	char name[64];        /* variable name */
	struct spop_data val; /* value (set-var) */
};

static size_t decode_actions(const uint8_t *p, size_t len, struct act *out, size_t max)
{
	const uint8_t *end = p + len;
	size_t n = 0;

	while (p < end) {
		const uint8_t *name;
		size_t nl;

		assert_true(n < max);
		assert_true(end - p >= 3);
		out[n].type = *p++;
		assert_int_equal(*p++, out[n].type == SPOP_ACT_SET_VAR ? 3 : 2);
		out[n].scope = *p++;
		assert_true(spop_string_get(&p, end, &name, &nl) > 0);
		assert_true(nl < sizeof(out[n].name));
		memcpy(out[n].name, name, nl);
		out[n].name[nl] = '\0';
		if (out[n].type == SPOP_ACT_SET_VAR)
			assert_true(spop_data_get(&p, end, &out[n].val) > 0);
		n++;
	}
	return n;
}

static void assert_str_val(const struct act *a, const char *name, const char *val)
{
	assert_int_equal(a->type, SPOP_ACT_SET_VAR);
	assert_int_equal(a->scope, SPOP_SCOPE_TXN);
	assert_string_equal(a->name, name);
	assert_int_equal(a->val.type, SPOP_DATA_STRING);
	assert_int_equal(a->val.flags, 0); /* 2.6 would read flag bits as BINARY */
	assert_int_equal(a->val.len, strlen(val));
	assert_memory_equal(a->val.ptr, val, a->val.len);
}

/* docs/design.md section 8: writer, reader, status, epoch; unset-var when there is no writer. */
static void test_route_build_actions(void **state)
{
	const struct route_input in[] = {
		{ .cluster = "main",
		  .status = CV_STATUS_OK,
		  .writer = "db1",
		  .reader = "db2",
		  .epoch = 7 },
		{ .cluster = "other",
		  .status = CV_STATUS_SPLIT_BRAIN,
		  .writer = "",
		  .reader = "",
		  .epoch = 300 },
	};
	struct route_table *t = route_build(in, 2, 1);
	struct act a[8];
	size_t n;

	(void)state;
	assert_non_null(t);
	assert_ptr_equal(route_find(t, (const uint8_t *)"main", 4), &t->e[0]);
	assert_ptr_equal(route_find(t, (const uint8_t *)"other", 5), &t->e[1]);
	assert_null(route_find(t, (const uint8_t *)"mai", 3));
	assert_null(route_find(t, (const uint8_t *)"mainx", 5));

	n = decode_actions(t->e[0].actions, t->e[0].actions_len, a, 8);
	assert_int_equal(n, 4);
	assert_str_val(&a[0], "writer", "db1");
	assert_str_val(&a[1], "reader", "db2");
	assert_str_val(&a[2], "status", "ok");
	assert_string_equal(a[3].name, "epoch");
	assert_int_equal(a[3].val.type, SPOP_DATA_INT64);
	assert_int_equal(a[3].val.u, 7);

	n = decode_actions(t->e[1].actions, t->e[1].actions_len, a, 8);
	assert_int_equal(n, 4);
	assert_int_equal(a[0].type, SPOP_ACT_UNSET_VAR);
	assert_string_equal(a[0].name, "writer");
	assert_int_equal(a[1].type, SPOP_ACT_UNSET_VAR);
	assert_str_val(&a[2], "status", "split-brain");
	assert_int_equal(a[3].val.u, 300);

	/* a route that cannot be answered still carries one action, never none */
	n = decode_actions(t->err_actions[ROUTE_ERR_BAD_ARGS], t->err_len[ROUTE_ERR_BAD_ARGS], a,
	                   8);
	assert_int_equal(n, 1);
	assert_str_val(&a[0], "error", "bad-args");
	n = decode_actions(t->err_actions[ROUTE_ERR_UNKNOWN_MSG], t->err_len[ROUTE_ERR_UNKNOWN_MSG],
	                   a, 8);
	assert_str_val(&a[0], "error", "unknown-message");
	route_free(t);
}

/* The longest server names the config accepts still fit an ACK in 256 bytes (HAProxy's floor). */
static void test_route_build_fits_min_frame(void **state)
{
	char longname[SPOA_SERVER_MAX];
	struct route_input in = { .cluster = "c",
		                  .status = CV_STATUS_SPLIT_BRAIN,
		                  .epoch = UINT64_MAX };
	struct route_table *t;

	(void)state;
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	in.writer = longname;
	in.reader = longname;
	t = route_build(&in, 1, 1);
	assert_non_null(t);
	assert_true(t->e[0].actions_len + SPOP_FRAME_META_MAX <= SPOP_FRAME_MIN_SIZE);
	route_free(t);
}

/* cv_free() leaves no cluster pointing at the nodes it freed: the status page and a later
 * reload walk cv->clusters after a failed cv_init() (which ends with cv_free()). */
static void test_cv_free_clears_node_indices(void **state)
{
	static struct spoa_conf conf;
	struct cluster_view cv;
	struct ev_loop *loop = ev_default_loop(0);
	char err[HR_ERR_LEN] = "";

	(void)state;
	assert_int_equal(spoa_conf_load_string("t.conf",
	                                       "[cluster main]\n[node db1]\ncluster = main\n"
	                                       "agent = 127.0.0.1:5555\n[node db2]\n"
	                                       "cluster = main\nagent = 127.0.0.1:5556\n",
	                                       &conf, err, sizeof(err)),
	                 0);
	assert_int_equal(cv_init(&cv, loop, &conf, NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(cv.clusters[0].n_nodes, 2);
	cv_free(&cv);
	assert_null(cv.nodes);
	assert_int_equal(cv.n_clusters, 1);
	assert_int_equal(cv.clusters[0].n_nodes, 0);
}

/* ---- hold window (issue 17) ---------------------------------------------------------------- */

struct hold_vec {
	struct node_vec nodes[4]; /* kind 0 ends */
	uint32_t tl;              /* the lost writer's timeline (its sysid is "1") */
	uint64_t max_lag;         /* cluster max_lag */
	uint64_t among;           /* nodes still considered */
	bool at_loss;             /* the moment the writer is lost */
	uint64_t want;            /* expected mask */
	int line;                 /* __LINE__ */
};

static const struct hold_vec hold_vecs[] = {
	/* at loss: the old primary down, a streaming standby on its timeline */
	{ { { 'D', 1 }, { 'S', 1 } }, 1, 100, ~0ull, true, 2, __LINE__ },
	/* stream already ended, but within max_lag */
	{ { { 'D', 1 }, { 'n', 1, "", 50 } }, 1, 100, ~0ull, true, 2, __LINE__ },
	/* stream ended and too far behind: nothing plausible */
	{ { { 'D', 1 }, { 'n', 1, "", 500 } }, 1, 100, ~0ull, true, 0, __LINE__ },
	/* a standby of another timeline or another system: no */
	{ { { 'D', 2 }, { 'S', 1 } }, 2, 100, ~0ull, true, 0, __LINE__ },
	{ { { 'D', 1 }, { 'S', 1, "2" } }, 1, 100, ~0ull, true, 0, __LINE__ },
	/* feed lost, PostgreSQL down, replay paused ('d' drained still counts: drain is reads) */
	{ { { 'D', 1 }, { '-', 1 } }, 1, 100, ~0ull, true, 0, __LINE__ },
	{ { { 'D', 1 }, { 'D', 1 } }, 1, 100, ~0ull, true, 0, __LINE__ },
	{ { { 'D', 1 }, { 'd', 1 }, { 'S', 1 } }, 1, 100, ~0ull, true, 6, __LINE__ },
	/* afterwards: promotion under way (primary, new timeline) keeps it; the stream may end */
	{ { { 'D', 1 }, { 'P', 2 } }, 1, 100, 2, false, 2, __LINE__ },
	{ { { 'D', 1 }, { 'n', 1, "", 500 } }, 1, 100, 2, false, 2, __LINE__ },
	/* afterwards: only nodes already in the set; one going down leaves it */
	{ { { 'D', 1 }, { 'S', 1 }, { 'S', 1 } }, 1, 100, 2, false, 2, __LINE__ },
	{ { { 'D', 1 }, { 'D', 1 }, { 'S', 1 } }, 1, 100, 6, false, 4, __LINE__ },
	/* afterwards: a rewound standby whose receiver stopped reads its checkpoint's older
	 * timeline (seen: 1 under a timeline 2 primary): still the same standby */
	{ { { 'D', 2 }, { 'n', 1 } }, 2, 100, 2, false, 2, __LINE__ },
	/* but at the loss it must be of the writer's timeline */
	{ { { 'D', 2 }, { 'n', 1 } }, 2, 100, ~0ull, true, 0, __LINE__ },
};

static void test_cv_hold_candidates_vectors(void **state)
{
	size_t i, j;

	(void)state;
	for (i = 0; i < HR_ARRAY_SIZE(hold_vecs); i++) {
		const struct hold_vec *v = &hold_vecs[i];
		struct node_state st[4];
		struct cv_input in[4];
		size_t n = 0;

		print_message("vector line %d\n", v->line);
		for (j = 0; j < 4 && v->nodes[j].kind != 0; j++, n++)
			build(&v->nodes[j], &st[j], &in[j]);
		for (j = 0; j < n; j++)
			if (v->nodes[j].kind == 'n' || v->nodes[j].kind == 'S')
				st[j].pg.paused = false;
		assert_int_equal(
		    cv_hold_candidates(in, n, "1", v->tl, v->max_lag, v->among, v->at_loss),
		    v->want);
	}
}

/* A node's state for cv_node_update(): role, timeline, streaming, lag. */
static void hold_state(struct node_state *st, const char *node, enum ns_role role, bool up,
                       uint32_t tl, bool streaming, uint64_t lag)
{
	ns_init(st);
	snprintf(st->cluster, sizeof(st->cluster), "main");
	snprintf(st->node, sizeof(st->node), "%s", node);
	st->pg.present = true;
	st->pg.up = up;
	st->pg.role = role;
	st->pg.tl = tl;
	st->pg.streaming = streaming;
	st->pg.lag_bytes = lag;
	snprintf(st->pg.sysid, sizeof(st->pg.sysid), "42");
}

/* The window through cv_recompute: opens when the writer is lost with a standby ready, closes
 * on the new writer, on split brain, when the standby is lost; never opens without a ready
 * standby; the routing snapshot carries it only with hold_max > 0. */
static void test_cv_hold_window(void **state)
{
	struct ev_loop *loop = ev_default_loop(0);
	struct spoa_conf conf;
	struct cluster_view cv;
	struct node_state st;
	struct cv_cluster *c;
	struct route_table *t;
	char err[HR_ERR_LEN];

	(void)state;
	assert_int_equal(spoa_conf_load_string("t.conf",
	                                       "[cluster main]\nhold_max = 3s\nmax_lag = 100\n"
	                                       "[node db1]\ncluster = main\n"
	                                       "agent = 127.0.0.1:5555\n[node db2]\n"
	                                       "cluster = main\nagent = 127.0.0.1:5556\n",
	                                       &conf, err, sizeof(err)),
	                 0);
	assert_int_equal(cv_init(&cv, loop, &conf, NULL, NULL, err, sizeof(err)), 0);
	c = &cv.clusters[0];
	assert_true(c->hold_max == 3.0);
	/* no writer ever seen: no window (a SPOA starting up does not hold) */
	hold_state(&st, "db2", NS_ROLE_STANDBY, true, 1, true, 0);
	cv_node_update(&cv.nodes[1], &st);
	assert_false(c->hold);
	hold_state(&st, "db1", NS_ROLE_PRIMARY, true, 1, false, 0);
	cv_node_update(&cv.nodes[0], &st);
	assert_string_equal(c->writer, "db1");
	assert_false(c->hold);
	/* planned switchover: the primary drained: still the writer, but the window opens */
	hold_state(&st, "db1", NS_ROLE_PRIMARY, true, 1, false, 0);
	st.admin = NS_ADMIN_DRAIN;
	cv_node_update(&cv.nodes[0], &st);
	assert_string_equal(c->writer, "db1");
	assert_true(c->hold);
	t = route_build_view(&cv, 1);
	assert_true(t->e[0].hold);
	assert_int_equal(t->e[0].status, CV_STATUS_OK);
	route_free(t);
	/* the primary stops: window open, status no-primary */
	hold_state(&st, "db1", NS_ROLE_UNKNOWN, false, 0, false, 0);
	cv_node_update(&cv.nodes[0], &st);
	assert_true(c->hold);
	assert_int_equal(c->d.status, CV_STATUS_NO_PRIMARY);
	t = route_build_view(&cv, 1);
	assert_true(t->e[0].hold);
	assert_true(t->e[0].hold_max == 3.0);
	route_free(t);
	/* the standby's stream ends: still open (it was ready when the writer was lost) */
	hold_state(&st, "db2", NS_ROLE_STANDBY, true, 1, false, 0);
	cv_node_update(&cv.nodes[1], &st);
	assert_true(c->hold);
	/* promoted: writer db2, window closed */
	hold_state(&st, "db2", NS_ROLE_PRIMARY, true, 2, false, 0);
	cv_node_update(&cv.nodes[1], &st);
	assert_string_equal(c->writer, "db2");
	assert_false(c->hold);
	t = route_build_view(&cv, 2);
	assert_false(t->e[0].hold);
	route_free(t);
	/* db2 stops while db1 is far behind and not streaming: nothing to wait for */
	hold_state(&st, "db1", NS_ROLE_STANDBY, true, 2, false, 500);
	cv_node_update(&cv.nodes[0], &st);
	hold_state(&st, "db2", NS_ROLE_UNKNOWN, false, 0, false, 0);
	cv_node_update(&cv.nodes[1], &st);
	assert_string_equal(c->writer, "");
	assert_false(c->hold);
	/* back: db2 primary, db1 streaming; db2 stops: open; db1's feed lost: closed */
	hold_state(&st, "db2", NS_ROLE_PRIMARY, true, 2, false, 0);
	cv_node_update(&cv.nodes[1], &st);
	hold_state(&st, "db1", NS_ROLE_STANDBY, true, 2, true, 0);
	cv_node_update(&cv.nodes[0], &st);
	hold_state(&st, "db2", NS_ROLE_UNKNOWN, false, 0, false, 0);
	cv_node_update(&cv.nodes[1], &st); /* stopped */
	assert_true(c->hold);
	cv_node_lost(&cv.nodes[0], "test");
	assert_false(c->hold);
	/* split brain closes it too */
	hold_state(&st, "db1", NS_ROLE_STANDBY, true, 2, true, 0);
	cv_node_update(&cv.nodes[0], &st);
	hold_state(&st, "db2", NS_ROLE_PRIMARY, true, 2, false, 0);
	cv_node_update(&cv.nodes[1], &st);
	hold_state(&st, "db2", NS_ROLE_PRIMARY, false, 2, false, 0);
	cv_node_update(&cv.nodes[1], &st);
	assert_true(c->hold);
	hold_state(&st, "db1", NS_ROLE_PRIMARY, true, 3, false, 0);
	cv_node_update(&cv.nodes[0], &st);
	assert_string_equal(c->writer, "db1"); /* promoted */
	assert_false(c->hold);
	hold_state(&st, "db1", NS_ROLE_PRIMARY, false, 3, false, 0);
	cv_node_update(&cv.nodes[0], &st);
	hold_state(&st, "db2", NS_ROLE_STANDBY, true, 3, true, 0);
	cv_node_update(&cv.nodes[1], &st);
	hold_state(&st, "db1", NS_ROLE_PRIMARY, true, 3, false, 0);
	cv_node_update(&cv.nodes[0], &st);
	hold_state(&st, "db1", NS_ROLE_PRIMARY, false, 3, false, 0);
	cv_node_update(&cv.nodes[0], &st);
	assert_true(c->hold); /* db1 stopped, db2 ready */
	hold_state(&st, "db1", NS_ROLE_PRIMARY, true, 4, false, 0);
	cv_node_update(&cv.nodes[0], &st);
	hold_state(&st, "db2", NS_ROLE_PRIMARY, true, 4, false, 0);
	cv_node_update(&cv.nodes[1], &st);
	assert_int_equal(c->d.status, CV_STATUS_SPLIT_BRAIN);
	assert_false(c->hold);
	cv_free(&cv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cv_policy_vectors),
		cmocka_unit_test(test_cv_policy_lost_primary),
		cmocka_unit_test(test_cv_status_name_all),
		cmocka_unit_test(test_route_build_actions),
		cmocka_unit_test(test_route_build_fits_min_frame),
		cmocka_unit_test(test_cv_free_clears_node_indices),
		cmocka_unit_test(test_cv_hold_candidates_vectors),
		cmocka_unit_test(test_cv_hold_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
