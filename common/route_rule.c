/* common/route_rule.c - the one writer rule; see route_rule.h. Three passes over the nodes: each
 * node alone, the candidates (not outranked by any node's evidence) and the writer, then the
 * reader. Nothing here allocates or logs: the SPOA runs it on every feed event. */
#include "common/route_rule.h"

#include <string.h>

static const char *const rr_status_names[RR_STATUS_COUNT] = {
	[RR_STATUS_OK] = "ok",
	[RR_STATUS_NO_PRIMARY] = "no-primary",
	[RR_STATUS_SPLIT_BRAIN] = "split-brain",
	[RR_STATUS_STALE] = "stale",
};

static const char *const rr_verdict_names[RR_V_COUNT] = {
	[RR_V_WRITER] = "writer",
	[RR_V_READER] = "reader",
	[RR_V_STANDBY] = "standby",
	[RR_V_STALE] = "stale",
	[RR_V_NO_PG] = "no-pg",
	[RR_V_DOWN] = "down",
	[RR_V_FOREIGN] = "foreign",
	[RR_V_FENCED] = "fenced",
	[RR_V_MAINT] = "maint",
	[RR_V_OUTRANKED] = "outranked",
	[RR_V_SPLIT] = "split",
	[RR_V_DRAIN] = "drain",
	[RR_V_NOT_STREAMING] = "not-streaming",
	[RR_V_LAGGING] = "lagging",
};

const char *rr_status_name(enum rr_status st)
{
	return (unsigned)st < RR_STATUS_COUNT ? rr_status_names[st] : "?";
}

const char *rr_verdict_name(enum rr_verdict v)
{
	return (unsigned)v < RR_V_COUNT ? rr_verdict_names[v] : "?";
}

/* Exact names only (the vector files and the Lua port use them). */
bool rr_status_parse(const char *s, enum rr_status *out)
{
	unsigned i;

	for (i = 0; i < RR_STATUS_COUNT; i++)
		if (strcmp(s, rr_status_names[i]) == 0) {
			*out = (enum rr_status)i;
			return true;
		}
	return false;
}

bool rr_verdict_parse(const char *s, enum rr_verdict *out)
{
	unsigned i;

	for (i = 0; i < RR_V_COUNT; i++)
		if (strcmp(s, rr_verdict_names[i]) == 0) {
			*out = (enum rr_verdict)i;
			return true;
		}
	return false;
}

/* One fresh node on its own, before the cluster is looked at: WRITER for a primary that may
 * take writes (probe up, not fenced, not in maint), STANDBY for any standby that is up, else
 * why not (NO_PG, DOWN, FENCED, MAINT). The agent's writer check answers from this for its own
 * node; rr_decide() starts from it for every node. A drained primary is still WRITER. */
enum rr_verdict rr_node_verdict(const struct node_state *s)
{
	if (!s->pg.present)
		return RR_V_NO_PG;
	if (!s->pg.up)
		return RR_V_DOWN;
	switch (s->pg.role) {
	case NS_ROLE_PRIMARY:
		if (s->fenced)
			return RR_V_FENCED;
		if (s->admin == NS_ADMIN_MAINT)
			return RR_V_MAINT;
		return RR_V_WRITER;
	case NS_ROLE_STANDBY:
		return RR_V_STANDBY;
	case NS_ROLE_UNKNOWN:
	case NS_ROLE_COUNT:
		break;
	}
	return RR_V_DOWN;
}

/* Does <s> prove a promotion to its timeline? Any last state saying primary, with a timeline
 * and a system identifier, whatever its freshness, probe or admin state. */
static bool rr_is_evidence(const struct node_state *s)
{
	return s != NULL && s->pg.present && s->pg.role == NS_ROLE_PRIMARY && s->pg.tl > 0 &&
	       s->pg.sysid[0] != '\0';
}

/* The node that outranks node <self>: of <self>'s system identifier, (last seen) primary on
 * the highest timeline above <self>'s; -1 when none. Any node's last state counts, fresh or not
 * (route_rule.h: evidence). The agent fences its own primary when this finds a peer. */
int rr_outranked_by(const struct rr_node *in, size_t n, size_t self)
{
	const struct node_state *s = in[self].st;
	uint32_t best;
	int by = -1;
	size_t i;

	if (s == NULL)
		return -1;
	best = s->pg.tl;
	for (i = 0; i < n; i++) {
		const struct node_state *e = in[i].st;

		if (i == self || !rr_is_evidence(e) || strcmp(e->pg.sysid, s->pg.sysid) != 0)
			continue;
		if (e->pg.tl > best) {
			best = e->pg.tl;
			by = (int)i;
		}
	}
	return by;
}

/* A fresh standby <s> that is up against the reader rules; returns its verdict. */
static enum rr_verdict rr_standby_verdict(const struct node_state *s, const char *want,
                                          uint64_t max_lag)
{
	if (want[0] != '\0' && strcmp(s->pg.sysid, want) != 0)
		return RR_V_FOREIGN;
	if (s->admin == NS_ADMIN_MAINT)
		return RR_V_MAINT;
	if (s->admin == NS_ADMIN_DRAIN)
		return RR_V_DRAIN;
	if (!s->pg.streaming || s->pg.paused)
		return RR_V_NOT_STREAMING;
	if (s->pg.lag_bytes > max_lag)
		return RR_V_LAGGING;
	return RR_V_STANDBY;
}

/* Decides for <n> nodes <in> (docs/design.md section 13; the rule in route_rule.h). <sysid>:
 * the configured system identifier, "" or NULL to learn it from the nodes. <max_lag>: bytes,
 * RR_NO_LAG_LIMIT for none. Fills <out> and <verdict> (<n> entries, one per node). */
void rr_decide(const struct rr_node *in, size_t n, const char *sysid, uint64_t max_lag,
               struct rr_decision *out, enum rr_verdict *verdict)
{
	enum rr_verdict *v = verdict;
	const char *want = sysid != NULL ? sysid : "";
	const char *cand_sysid = NULL;
	bool conflict = false;
	bool any_stale = false;
	uint32_t best_tl = 0;
	size_t at_best = 0;
	size_t i;

	out->status = RR_STATUS_NO_PRIMARY;
	out->writer = -1;
	out->reader = -1;
	/* pass 1: each node alone */
	for (i = 0; i < n; i++) {
		const struct node_state *s = in[i].st;

		if (!in[i].fresh || s == NULL) {
			any_stale = true;
			v[i] = RR_V_STALE;
			continue;
		}
		v[i] = rr_node_verdict(s);
		if (v[i] != RR_V_WRITER && v[i] != RR_V_STANDBY)
			continue;
		if (want[0] != '\0' && strcmp(s->pg.sysid, want) != 0)
			v[i] = RR_V_FOREIGN;
	}
	/* pass 2: candidates not outranked; the writer is alone on the highest timeline */
	for (i = 0; i < n; i++) {
		const struct node_state *s = in[i].st;

		if (v[i] != RR_V_WRITER)
			continue;
		if (rr_outranked_by(in, n, i) >= 0) {
			v[i] = RR_V_OUTRANKED;
			continue;
		}
		if (cand_sysid == NULL)
			cand_sysid = s->pg.sysid;
		else if (strcmp(cand_sysid, s->pg.sysid) != 0)
			conflict = true;
		if (at_best == 0 || s->pg.tl > best_tl) {
			best_tl = s->pg.tl;
			out->writer = (int)i;
			at_best = 1;
		} else if (s->pg.tl == best_tl) {
			at_best++;
		}
	}
	/* a lost node last seen primary (not fenced) on the writer's own timeline and sysid: two
	 * primaries on one timeline as far as we know; the lost one may still take writes */
	for (i = 0; out->writer >= 0 && !conflict && i < n; i++) {
		const struct node_state *s = in[i].st;

		if (v[i] == RR_V_STALE && rr_is_evidence(s) && !s->fenced && s->pg.tl == best_tl &&
		    strcmp(s->pg.sysid, in[out->writer].st->pg.sysid) == 0)
			at_best++;
	}
	if (conflict || at_best > 1) {
		/* every candidate left is part of the split: none may write */
		for (i = 0; i < n; i++)
			if (v[i] == RR_V_WRITER)
				v[i] = RR_V_SPLIT;
		out->status = RR_STATUS_SPLIT_BRAIN;
		out->writer = -1;
	} else if (out->writer >= 0) {
		out->status = RR_STATUS_OK;
		want = in[out->writer].st->pg.sysid;
		/* candidates below the writer's timeline were outranked by it in pass 2 */
	} else if (any_stale) {
		out->status = RR_STATUS_STALE;
	}
	/* pass 3: the reader */
	for (i = 0; i < n; i++) {
		const struct node_state *s = in[i].st, *b;

		if (v[i] != RR_V_STANDBY)
			continue;
		v[i] = rr_standby_verdict(s, want, max_lag);
		if (v[i] != RR_V_STANDBY)
			continue;
		if (out->reader < 0) {
			out->reader = (int)i;
			continue;
		}
		b = in[out->reader].st;
		if (s->pg.lag_bytes < b->pg.lag_bytes ||
		    (s->pg.lag_bytes == b->pg.lag_bytes && s->pg.lag_ms < b->pg.lag_ms))
			out->reader = (int)i;
	}
	if (out->reader >= 0)
		v[out->reader] = RR_V_READER;
	else
		out->reader = out->writer;
}
