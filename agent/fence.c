/* agent/fence.c - fencing from the peers' feeds; see fence.h for the rule and why evidence is
 * sticky. fence_evaluate() is pure and unit-tested with tables; the rest wires feed_sub. */
#include "agent/fence.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/route_rule.h"

/* Is <s> a primary whose sysid we know? */
static bool fence_is_known_primary(const struct node_state *s)
{
	return s->pg.present && s->pg.role == NS_ROLE_PRIMARY && s->pg.sysid[0] != '\0';
}

/* Fills <out> from the local state and the peers' last states (NULL entries: never heard
 * from). Pure. Fenced: the local primary is outranked in the one writer rule's sense
 * (rr_outranked_by(): a peer of our system identifier is, or was last seen, primary on a higher
 * timeline); the highest such peer is named in the reason. The first peer of another cluster
 * is named in the error. Two primaries on one timeline are not ours to pick: the SPOA and
 * haprolectl call that split-brain. */
void fence_evaluate(const struct node_state *local, const struct node_state *const *peers,
                    size_t n_peers, struct fence_verdict *out)
{
	struct rr_node in[FENCE_PEERS_MAX + 1];
	size_t n = 1;
	size_t i;
	int by;

	memset(out, 0, sizeof(*out));
	in[0].fresh = true;
	in[0].st = local;
	for (i = 0; i < n_peers && n < HR_ARRAY_SIZE(in); i++) {
		const struct node_state *p = peers[i];

		if (p == NULL || strcmp(p->node, local->node) == 0)
			continue;
		if (!p->pg.present || p->pg.sysid[0] == '\0')
			continue;
		if (local->pg.sysid[0] != '\0' && strcmp(p->pg.sysid, local->pg.sysid) != 0) {
			if (out->error[0] == '\0')
				snprintf(out->error, sizeof(out->error),
				         "peer %.32s has system identifier %.23s, ours %.23s: not "
				         "trusted",
				         p->node, p->pg.sysid, local->pg.sysid);
			continue;
		}
		in[n].fresh = true; /* sticky evidence: a lost peer's last state counts as well */
		in[n].st = p;
		n++;
	}
	if (!fence_is_known_primary(local))
		return;
	by = rr_outranked_by(in, n, 0);
	if (by > 0) {
		out->fenced = true;
		snprintf(out->reason, sizeof(out->reason),
		         "peer %.40s is primary on timeline %u (ours %u)", in[by].st->node,
		         (unsigned)in[by].st->pg.tl, (unsigned)local->pg.tl);
	}
}

/* What the agent is told as the reason: why it is fenced, else a peer error, else "". */
static const char *fence_told(const struct fence_verdict *v)
{
	return v->fenced ? v->reason : v->error;
}

/* Evaluates <local> against the peers' last states; logs what changed since the last verdict
 * and keeps <v> as the new one. Returns true when what the agent shows changed. */
static bool fence_commit(struct fence *f, const struct node_state *local, struct fence_verdict *v)
{
	const struct node_state *views[FENCE_PEERS_MAX];
	bool changed;
	size_t i;

	for (i = 0; i < f->n_peers; i++)
		views[i] = f->peers[i].has_state ? &f->peers[i].last : NULL;
	fence_evaluate(local, views, f->n_peers, v);
	if (v->error[0] != '\0' && strcmp(v->error, f->verdict.error) != 0)
		log_error("fence: %s", v->error);
	if (v->fenced != f->verdict.fenced)
		log_msg(v->fenced ? LOG_LVL_ERROR : LOG_LVL_INFO, "fence: local primary %s%s",
		        v->fenced ? "FENCED: " : "no longer fenced", v->reason);
	changed =
	    v->fenced != f->verdict.fenced || strcmp(fence_told(v), fence_told(&f->verdict)) != 0;
	f->verdict = *v;
	return changed;
}

/* Re-evaluates against the agent's published state; tells the agent when the verdict changed. */
static void fence_update(struct fence *f)
{
	const struct node_state *local;
	struct fence_verdict v;

	if (f->ops.local == NULL)
		return;
	local = f->ops.local(f->ops.arg);
	if (local == NULL)
		return;
	if (fence_commit(f, local, &v) && f->ops.set_fence != NULL)
		f->ops.set_fence(f->ops.arg, v.fenced, fence_told(&v));
}

/* The verdict for <local>, the state the agent is about to publish, without calling the agent
 * back: the agent calls this while it rebuilds its state, so that a returning old primary is
 * fenced in the very update that first shows it primary (no window where writer says up).
 * <reason> receives what the state's fence_reason should say (fence_ops.set_fence). A stopped
 * or never started fence says "not fenced". */
bool fence_apply(struct fence *f, const struct node_state *local, char *reason, size_t len)
{
	struct fence_verdict v;

	if (!f->started) {
		snprintf(reason, len, "%s", "");
		return false;
	}
	fence_commit(f, local, &v);
	snprintf(reason, len, "%s", fence_told(&v));
	return v.fenced;
}

static void fence_on_feed(struct feed_sub *fs, enum feed_sub_event ev,
                          const struct node_state *state, const char *why)
{
	struct fence_peer *p = fs->arg;

	switch (ev) {
	case FEED_SUB_EV_STATE:
		if (!p->connected)
			log_info("fence: peer %s: feed up (node %s)", p->name, state->node);
		p->connected = true;
		p->last = *state;
		p->has_state = true;
		break;
	case FEED_SUB_EV_LOST:
		if (p->connected)
			log_warning("fence: peer %s: feed lost (%s); keeping its last state",
			            p->name, why != NULL ? why : "?");
		p->connected = false;
		break;
	}
	fence_update(p->owner);
	if (p->owner->ops.peers_changed != NULL)
		p->owner->ops.peers_changed(p->owner->ops.arg);
}

/* Subscribes to each of <n_peers> peers. Returns 0, or -1 with <err> filled (nothing running).
 * Zero peers is valid: nothing to watch, never fenced. */
int fence_start(struct fence *f, struct ev_loop *loop, const struct fence_peer_conf *peers,
                size_t n_peers, double heartbeat, const struct fence_ops *ops, char *err,
                size_t errlen)
{
	size_t i;

	memset(f, 0, sizeof(*f));
	f->loop = loop;
	f->ops = *ops;
	if (n_peers > FENCE_PEERS_MAX) {
		snprintf(err, errlen, "fence: %zu peers, at most %d", n_peers, FENCE_PEERS_MAX);
		return -1;
	}
	if (n_peers > 0) {
		f->peers = calloc(n_peers, sizeof(*f->peers));
		if (f->peers == NULL) {
			snprintf(err, errlen, "fence: out of memory");
			return -1;
		}
	}
	for (i = 0; i < n_peers; i++) {
		struct fence_peer *p = &f->peers[i];

		p->owner = f;
		snprintf(p->name, sizeof(p->name), "%s", peers[i].name);
		if (feed_sub_init(&p->sub, loop, &peers[i].address, heartbeat, fence_on_feed, p) ==
		    -1) {
			snprintf(err, errlen, "fence: peer %s: cannot set up its feed", p->name);
			f->n_peers = i;
			fence_stop(f);
			return -1;
		}
		f->n_peers = i + 1;
	}
	for (i = 0; i < f->n_peers; i++)
		feed_sub_start(&f->peers[i].sub);
	f->started = true;
	return 0;
}

/* The agent's own state changed (role, timeline, sysid): re-evaluate now, so that a returning
 * old primary is fenced before its first writer answer. */
void fence_local_changed(struct fence *f)
{
	if (f->started)
		fence_update(f);
}

/* Stops every feed and frees the peers. Safe on a zeroed or stopped struct fence. */
void fence_stop(struct fence *f)
{
	size_t i;

	for (i = 0; i < f->n_peers; i++) {
		feed_sub_stop(&f->peers[i].sub);
		feed_sub_free(&f->peers[i].sub);
	}
	free(f->peers);
	f->peers = NULL;
	f->n_peers = 0;
	f->started = false;
}
