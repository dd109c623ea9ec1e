/* agent/fence.h - fencing a stale primary from the peers' feeds (docs/design.md section 7).
 * Prefix: fence_.
 *
 * Rule (fence_evaluate, pure): the local node is fenced when it is a primary and a peer with the
 * same PostgreSQL system identifier reports itself primary on a higher timeline: that peer was
 * promoted after us, so we are the old primary and writes must not reach us. A peer whose
 * system identifier differs from ours is another cluster (a config mistake): it is reported as
 * an error and never trusted, neither to fence nor to unfence. A peer with no sysid yet, or the
 * local node itself listed as a peer, is ignored.
 *
 * Evidence is sticky: a peer whose feed is lost keeps its last state in the evaluation, so a
 * new primary that becomes unreachable does not unfence the old one (fail closed for writes).
 * The fence lifts when the evidence changes (the peer reports itself standby or on a lower
 * timeline) or the local node stops being that primary (rewound to a standby, or promoted to
 * a newer timeline). An agent restart forgets evidence from peers that are down.
 *
 * struct fence subscribes to every [peer NAME] with common/feed_sub.h, re-evaluates on every
 * peer event and on fence_local_changed(), and tells the agent through fence_ops.set_fence only
 * when the verdict changes. */
#ifndef HAPROLE_AGENT_FENCE_H
#define HAPROLE_AGENT_FENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "common/cfg.h"
#include "common/compiler.h"
#include "common/feed_sub.h"
#include "common/node_state.h"

#define FENCE_PEERS_MAX 16 /* peers one agent watches */

/* The verdict over the local state and the peers' last states. */
struct fence_verdict {
	bool fenced;                /* the local primary must take no writes */
	char reason[NS_REASON_MAX]; /* fenced: "peer NAME is primary on timeline N (ours M)" */
	char error[NS_REASON_MAX];  /* a peer of another cluster, "" none */
};

/* How struct fence reaches the agent. */
struct fence_ops {
	/* The agent's current state (its pg role, timeline, sysid). */
	const struct node_state *(*local)(void *arg);
	/* Called when the verdict changes. Fenced: <reason> says by whom. Unfenced: <reason> is a
	 * peer error ("peer x has system identifier ...: not trusted") or "", so that a
	 * misconfigured peer shows in the node state's fence_reason. */
	void (*set_fence)(void *arg, bool fenced, const char *reason);
	/* Optional: called after every peer event (a state, a heartbeat, a lost feed), once the
	 * fence verdict is told, so the agent may re-evaluate what depends on the peers' view
	 * (an app check's `follow`). NULL: not called. */
	void (*peers_changed)(void *arg);
	void *arg; /* the agent */
};

/* One [peer NAME] to watch. */
struct fence_peer_conf {
	char name[NS_NAME_MAX];  /* section name, for logs */
	struct cfg_addr address; /* peer's agent port */
};

struct fence;

/* One watched peer. */
struct fence_peer {
	struct feed_sub sub;    /* its feed */
	struct fence *owner;    /* back pointer */
	char name[NS_NAME_MAX]; /* from the config */
	bool has_state;         /* <last> holds a state (kept across a lost feed) */
	bool connected;         /* the feed is live now */
	bool mismatch_logged;   /* the "other cluster" error was logged for this sysid */
	struct node_state last; /* last state the peer sent */
};

/* The watcher of every peer. */
struct fence {
	struct ev_loop *loop;         /* loop the feeds run on */
	struct fence_ops ops;         /* the agent */
	struct fence_peer *peers;     /* <n_peers> entries, calloc'ed */
	size_t n_peers;               /* watched peers */
	struct fence_verdict verdict; /* last verdict told to the agent */
	bool started;                 /* fence_start succeeded and fence_stop not yet called */
};

void fence_evaluate(const struct node_state *local, const struct node_state *const *peers,
                    size_t n_peers, struct fence_verdict *out);
int fence_start(struct fence *f, struct ev_loop *loop, const struct fence_peer_conf *peers,
                size_t n_peers, double heartbeat, const struct fence_ops *ops, char *err,
                size_t errlen) HR_MUSTCHECK;
void fence_local_changed(struct fence *f);
bool fence_apply(struct fence *f, const struct node_state *local, char *reason, size_t len);
void fence_stop(struct fence *f);

#endif /* HAPROLE_AGENT_FENCE_H */
