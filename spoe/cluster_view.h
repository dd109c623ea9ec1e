/* spoe/cluster_view.h - the SPOA's picture of every cluster, built from the agents' state feeds
 * (docs/design.md sections 4 and 7), and the pure policy that turns it into a routing decision.
 * Prefix: cv_.
 *
 * One feed subscriber per [node]; each feed event updates that node and recomputes its cluster
 * with cv_policy(), a pure function (nodes in, decision out) that the unit tests drive with
 * tables. Fail closed: no data, stale data or two primaries on one timeline mean no writer.
 * The owner is told through <on_change> after each recompute that changed a decision, and
 * rebuilds the read-only routing snapshot (spoe/route.h) from cv_cluster decisions. */
#ifndef HAPROLE_SPOE_CLUSTER_VIEW_H
#define HAPROLE_SPOE_CLUSTER_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "common/compiler.h"
#include "common/feed_sub.h"
#include "common/node_state.h"
#include "common/route_rule.h"
#include "spoe/spoa_conf.h"

/* docs/design.md section 8: the `status` variable; the values of the one writer rule
 * (common/route_rule.h), which decides them. */
enum cv_status {
	CV_STATUS_OK = RR_STATUS_OK,                   /* one writer */
	CV_STATUS_NO_PRIMARY = RR_STATUS_NO_PRIMARY,   /* every node known, none usable */
	CV_STATUS_SPLIT_BRAIN = RR_STATUS_SPLIT_BRAIN, /* two primaries on the top timeline */
	CV_STATUS_STALE = RR_STATUS_STALE,             /* no writer, some feed lost */
	CV_STATUS_COUNT = RR_STATUS_COUNT              /* keep last */
};

/* One node as the policy sees it. */
struct cv_input {
	const char *server;          /* HAProxy server name */
	bool known;                  /* a fresh state arrived (feed alive) */
	const struct node_state *st; /* its last state, fresh or not (evidence of a timeline) */
};

/* What the policy decided for one cluster. */
struct cv_decision {
	enum cv_status status; /* ok / no-primary / split-brain / stale */
	int writer;            /* index into the inputs, -1 when none */
	int reader;            /* least-lagged healthy standby, else the writer, else -1 */
	enum rr_verdict verdict[SPOA_NODES_MAX]; /* per input: why it is (not) writer or reader */
};

struct cluster_view;

/* One followed node. */
struct cv_node {
	struct cluster_view *cv;      /* owner */
	size_t cluster;               /* index into cv->clusters */
	char name[CFG_NAME_MAX];      /* [node NAME] */
	char server[SPOA_SERVER_MAX]; /* HAProxy server name */
	struct cfg_addr agent;        /* where its feed is */
	struct feed_sub sub;          /* its feed */
	bool known;                   /* <st> is fresh */
	bool mismatch;                /* the feed names another cluster: ignored (logged once) */
	struct node_state st;         /* last state received */
	double updated;               /* ev_now() of the last feed event */
	uint64_t updates;             /* states received */
	uint64_t losses;              /* feed losses */
};

/* One cluster and its current decision. */
struct cv_cluster {
	char name[CFG_NAME_MAX];         /* [cluster NAME] */
	char sysid[NS_SYSID_MAX];        /* configured sysid, "" = learn */
	uint64_t max_lag;                /* reader lag limit, bytes */
	double hold_max;                 /* seconds a write may wait for a promotion; 0 never */
	struct cv_decision d;            /* current decision (indices into <node_idx>) */
	size_t node_idx[SPOA_NODES_MAX]; /* its nodes, as indices into cv->nodes */
	size_t n_nodes;                  /* used entries of <node_idx> */
	char writer[SPOA_SERVER_MAX];    /* server of the writer, "" none */
	char reader[SPOA_SERVER_MAX];    /* server of the reader, "" none */
	uint64_t epoch;                  /* bumps whenever <writer> changes */
	uint64_t writer_changes;         /* times <writer> changed since start */
	double updated;                  /* ev_now() of the last feed event of any of its nodes */
	uint32_t w_tl;                   /* timeline of the last writer */
	char w_sysid[NS_SYSID_MAX];      /* system identifier of the last writer */
	uint64_t hold_cand;              /* bit i: node_idx[i] may be promoted (hold window) */
	bool hold;                       /* no writer, a promotion plausible: writes may wait */
	double hold_since;               /* ev_now() when the hold window opened */
};

typedef void (*cv_change_fn)(struct cluster_view *cv, void *arg);
/* A state arrived from the agent of cluster <cluster>'s current writer (changed or not). */
typedef void (*cv_heard_fn)(struct cluster_view *cv, size_t cluster, void *arg);

struct cluster_view {
	struct ev_loop *loop;                          /* loop of the feeds */
	struct cv_cluster clusters[SPOA_CLUSTERS_MAX]; /* per [cluster] */
	size_t n_clusters;                             /* used entries */
	struct cv_node *nodes;                         /* per [node], allocated at init */
	size_t n_nodes;                                /* entries of <nodes> */
	cv_change_fn on_change;                        /* told after a decision changed */
	void *arg;                                     /* for <on_change>, <on_writer_heard> */
	cv_heard_fn on_writer_heard;                   /* optional; set by the owner */
	double started;                                /* ev_now() at init */
};

void cv_policy(const struct cv_input *in, size_t n, const char *sysid, uint64_t max_lag,
               struct cv_decision *out);
const char *cv_status_name(enum cv_status st);
uint64_t cv_hold_candidates(const struct cv_input *in, size_t n, const char *sysid, uint32_t tl,
                            uint64_t max_lag, uint64_t among, bool at_loss);

int cv_init(struct cluster_view *cv, struct ev_loop *loop, const struct spoa_conf *conf,
            cv_change_fn on_change, void *arg, char *err, size_t errlen) HR_MUSTCHECK;
void cv_carry_epochs(struct cluster_view *cv, const struct cluster_view *old);
void cv_move(struct cluster_view *dst, struct cluster_view *src);
void cv_start(struct cluster_view *cv);
void cv_free(struct cluster_view *cv);
void cv_recompute(struct cluster_view *cv, size_t cluster);
void cv_node_update(struct cv_node *n, const struct node_state *st);
void cv_node_lost(struct cv_node *n, const char *why);

#endif /* HAPROLE_SPOE_CLUSTER_VIEW_H */
