/* common/route_rule.h - the one writer rule: from the nodes' states (as the feed carries them) to
 * the cluster's writer, its reader and its status, with a verdict per node saying why. Prefix: rr_.
 *
 * Pure (states in, decision out; no I/O, no clock, no allocation). haprole-spoa routes by it
 * (spoe/cluster_view.c), haprolectl judges cluster health by it (ctl/status.c), the agent fences
 * itself by it (agent/fence.c) and answers its writer check from the same per-node test
 * (agent/check.c); haproxy/haprole.lua mirrors it. All of them are checked against one table of
 * vectors, tests/vectors/route_rule.txt (format in its header).
 *
 * The rule (docs/design.md sections 7, 8 and 13):
 *   - evidence: every node whose last state says "primary on timeline T" (T > 0), fresh or not,
 *     up or not, fenced or not, proves that timeline T was promoted. A primary is OUTRANKED when
 *     another node of the same system identifier is (or was last seen) primary on a higher
 *     timeline: the new primary's feed seen before the old one's loss, or a one-way partition
 *     that hides the new primary's feed but not the old one's, both leave the old one out.
 *   - a candidate is a fresh node, PostgreSQL probe up, role primary, not fenced by its agent,
 *     not in admin maint, of the configured system identifier (when one is set), not outranked.
 *   - writer: the only candidate on the highest candidate timeline. Two or more candidates on
 *     that timeline, or candidates of different system identifiers while none is configured,
 *     or a lost node last seen primary (not fenced) on the writer's timeline and sysid: no
 *     writer, status split-brain. A fresh primary that is down, fenced or in maint on that
 *     timeline takes no writes now and does not count.
 *   - no candidate: status stale when some node is not fresh (its feed is lost: the truth may be
 *     there), else no-primary.
 *   - reader: the fresh, up, streaming, unpaused, admin-ready standby of the writer's system
 *     identifier (else the configured one, else any) within <max_lag> bytes with the least
 *     lag_bytes, then lag_ms, then input order; else the writer; else none.
 *   - a node in admin drain that is the writer stays the writer (drain stops new sessions in
 *     HAProxy's load balancing, not the SPOE's choice); a drained standby is no reader. */
#ifndef HAPROLE_COMMON_ROUTE_RULE_H
#define HAPROLE_COMMON_ROUTE_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/node_state.h"

#define RR_NO_LAG_LIMIT UINT64_MAX /* <max_lag> that admits any lag */

/* The cluster's status: the SPOE variable txn.haprole.status (docs/design.md section 8). */
enum rr_status {
	RR_STATUS_OK = 0,      /* one writer */
	RR_STATUS_NO_PRIMARY,  /* every node fresh, none may take writes */
	RR_STATUS_SPLIT_BRAIN, /* two candidates on the highest timeline, or their sysids differ */
	RR_STATUS_STALE,       /* no writer, and some node's feed is lost */
	RR_STATUS_COUNT        /* keep last */
};

/* Why one node is (not) the writer or the reader; rr_verdict_name() gives the vector files' words. */
enum rr_verdict {
	RR_V_WRITER = 0,    /* the writer */
	RR_V_READER,        /* the reader (a standby; the writer when it reads too is WRITER) */
	RR_V_STANDBY,       /* eligible standby, more lagged than the reader */
	RR_V_STALE,         /* not fresh: feed lost or never heard from */
	RR_V_NO_PG,         /* no PostgreSQL probe on this node */
	RR_V_DOWN,          /* probe down, or role unknown */
	RR_V_FOREIGN,       /* system identifier not the cluster's */
	RR_V_FENCED,        /* primary fenced by its agent */
	RR_V_MAINT,         /* admin maint */
	RR_V_OUTRANKED,     /* primary below another primary's timeline, not fenced yet */
	RR_V_SPLIT,         /* one of the primaries that make the split brain */
	RR_V_DRAIN,         /* standby in admin drain */
	RR_V_NOT_STREAMING, /* standby whose WAL receiver is not streaming, or replay paused */
	RR_V_LAGGING,       /* standby beyond <max_lag> */
	RR_V_COUNT          /* keep last */
};

/* One node as the rule sees it. */
struct rr_node {
	bool fresh;                  /* its feed is alive: <st> is current */
	const struct node_state *st; /* its last state; NULL = never heard from */
};

/* The rule's result. Indices point into the caller's input array. */
struct rr_decision {
	enum rr_status status; /* ok / no-primary / split-brain / stale */
	int writer;            /* the writer, -1 none */
	int reader;            /* the reader, else the writer, else -1 */
};

void rr_decide(const struct rr_node *in, size_t n, const char *sysid, uint64_t max_lag,
               struct rr_decision *out, enum rr_verdict *verdict);
enum rr_verdict rr_node_verdict(const struct node_state *s);
int rr_outranked_by(const struct rr_node *in, size_t n, size_t self);
const char *rr_status_name(enum rr_status st);
const char *rr_verdict_name(enum rr_verdict v);
bool rr_status_parse(const char *s, enum rr_status *out);
bool rr_verdict_parse(const char *s, enum rr_verdict *out);

#endif /* HAPROLE_COMMON_ROUTE_RULE_H */
