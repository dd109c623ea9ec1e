/* spoe/cluster_view.c - nodes from feeds -> per-cluster decisions. The policy (cv_policy, over
 * common/route_rule.c) is pure;
 * the rest keeps the node states fresh and reports changes. Logs at info what an operator acts
 * on: writer changes, status changes, nodes lost and back. */
#include "spoe/cluster_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/route_rule.h"

const char *cv_status_name(enum cv_status st)
{
	return rr_status_name((enum rr_status)st);
}

/* The routing decision for one cluster: the one writer rule (common/route_rule.h), fed with
 * every node's last state, fresh or not (a lost node's last "primary on timeline N" still
 * outranks an older primary: the one-way partition case). <in> has at most SPOA_NODES_MAX. */
void cv_policy(const struct cv_input *in, size_t n, const char *sysid, uint64_t max_lag,
               struct cv_decision *out)
{
	struct rr_node rn[SPOA_NODES_MAX] = { { 0 } };
	enum rr_verdict v[SPOA_NODES_MAX];
	struct rr_decision d;
	size_t i;

	if (n > SPOA_NODES_MAX)
		n = SPOA_NODES_MAX; /* the config refuses more nodes than this */
	for (i = 0; i < n; i++) {
		rn[i].fresh = in[i].known;
		rn[i].st = in[i].st;
	}
	rr_decide(rn, n, sysid, max_lag, &d, v);
	out->status = (enum cv_status)d.status;
	out->writer = d.writer;
	out->reader = d.reader;
	memcpy(out->verdict, v, n * sizeof(v[0]));
}

/* The hold window of issue 17, pure: which nodes of <in> (bit i for in[i], only among the bits
 * of <among>) could become the writer that was lost, a primary of system identifier <sysid> on
 * timeline <tl>. <at_loss> (the moment the writer is lost): known, PostgreSQL up, a standby of
 * that sysid and timeline, streaming or within <max_lag> bytes (a stopped primary ends the
 * stream, so either will do). Afterwards, while no writer is decided: the same node still known
 * and up, and still a standby (of that timeline or, stale reading, an older one) or already a
 * primary (promotion under way).
 * A node whose feed is lost or whose PostgreSQL is down leaves the set; an empty set closes
 * the window. */
uint64_t cv_hold_candidates(const struct cv_input *in, size_t n, const char *sysid, uint32_t tl,
                            uint64_t max_lag, uint64_t among, bool at_loss)
{
	uint64_t out = 0;
	size_t i;

	for (i = 0; i < n && i < 64; i++) {
		const struct node_state *s = in[i].st;
		bool standby_same_tl;

		if ((among & ((uint64_t)1 << i)) == 0 || !in[i].known || s == NULL ||
		    !s->pg.present || !s->pg.up || s->pg.sysid[0] == '\0' ||
		    strcmp(s->pg.sysid, sysid) != 0)
			continue;
		standby_same_tl = s->pg.role == NS_ROLE_STANDBY && s->pg.tl == tl && !s->pg.paused;
		if (at_loss) {
			if (standby_same_tl && (s->pg.streaming || s->pg.lag_bytes <= max_lag))
				out |= (uint64_t)1 << i;
		} else if ((s->pg.role == NS_ROLE_STANDBY && s->pg.tl <= tl && !s->pg.paused) ||
		           s->pg.role == NS_ROLE_PRIMARY) {
			/* Once its WAL receiver stops (the primary is gone), a standby's timeline is
			 * read from its last checkpoint, which is older after a pg_rewind: seen as
			 * timeline 1 under a timeline 2 primary. It was of the writer's timeline when
			 * the window opened; an older one now is that stale reading, not another
			 * history. */
			out |= (uint64_t)1 << i;
		}
	}
	return out;
}

static void cv_feed_cb(struct feed_sub *fs, enum feed_sub_event ev, const struct node_state *st,
                       const char *why)
{
	struct cv_node *n = fs->arg;

	switch (ev) {
	case FEED_SUB_EV_STATE:
		cv_node_update(n, st);
		break;
	case FEED_SUB_EV_LOST:
		cv_node_lost(n, why != NULL ? why : "feed lost");
		break;
	}
}

/* Builds the view of <conf>: clusters, nodes, one feed subscriber per node (not started).
 * Returns 0, or -1 with <err>. */
int cv_init(struct cluster_view *cv, struct ev_loop *loop, const struct spoa_conf *conf,
            cv_change_fn on_change, void *arg, char *err, size_t errlen)
{
	size_t i;

	memset(cv, 0, sizeof(*cv));
	cv->loop = loop;
	cv->on_change = on_change;
	cv->arg = arg;
	cv->started = ev_now(loop);
	for (i = 0; i < conf->n_clusters; i++) {
		struct cv_cluster *c = &cv->clusters[i];

		snprintf(c->name, sizeof(c->name), "%s", conf->clusters[i].name);
		snprintf(c->sysid, sizeof(c->sysid), "%s", conf->clusters[i].sysid);
		c->max_lag = conf->clusters[i].max_lag;
		c->hold_max = conf->clusters[i].hold_max;
		c->d.status = CV_STATUS_STALE;
		for (size_t k = 0; k < SPOA_NODES_MAX; k++)
			c->d.verdict[k] = RR_V_STALE; /* nothing heard yet */
		c->d.writer = -1;
		c->d.reader = -1;
	}
	cv->n_clusters = conf->n_clusters;
	if (conf->n_nodes > 0) {
		cv->nodes = calloc(conf->n_nodes, sizeof(*cv->nodes));
		if (cv->nodes == NULL) {
			snprintf(err, errlen, "cluster view: out of memory for %zu nodes",
			         conf->n_nodes);
			return -1;
		}
	}
	for (i = 0; i < conf->n_nodes; i++) {
		const struct spoa_node_conf *nc = &conf->nodes[i];
		struct cv_node *n = &cv->nodes[i];
		size_t ci;

		for (ci = 0; ci < cv->n_clusters; ci++)
			if (strcmp(cv->clusters[ci].name, nc->cluster) == 0)
				break;
		n->cv = cv;
		n->cluster = ci;
		snprintf(n->name, sizeof(n->name), "%s", nc->name);
		snprintf(n->server, sizeof(n->server), "%s", spoa_conf_server(nc));
		n->agent = nc->agent;
		ns_init(&n->st);
		if (feed_sub_init(&n->sub, loop, &nc->agent, conf->heartbeat, cv_feed_cb, n) < 0) {
			snprintf(err, errlen, "node %s: cannot set up the feed of %s", n->name,
			         nc->agent.text);
			cv->n_nodes = i;
			cv_free(cv);
			return -1;
		}
		n->sub.connect_timeout = conf->connect_timeout;
		cv->n_nodes = i + 1;
		if (ci < cv->n_clusters)
			cv->clusters[ci].node_idx[cv->clusters[ci].n_nodes++] = i;
	}
	return 0;
}

/* Is <n> of <cv> the node <o> of <old>: same name, agent and cluster name? */
static bool cv_same_node(const struct cluster_view *cv, const struct cv_node *n,
                         const struct cluster_view *old, const struct cv_node *o)
{
	if (strcmp(n->name, o->name) != 0 || strcmp(n->agent.text, o->agent.text) != 0)
		return false;
	if (n->cluster >= cv->n_clusters || o->cluster >= old->n_clusters)
		return false;
	return strcmp(cv->clusters[n->cluster].name, old->clusters[o->cluster].name) == 0;
}

/* After a reload: keeps each cluster's epoch, writer and status so the epoch never goes back,
 * and the last state of every node whose name, cluster and agent did not change, so the new
 * view decides as the old one did from its first recompute (a reload does not blink the
 * routing while the new feeds connect; a feed that does not come back is lost as usual). */
void cv_carry_epochs(struct cluster_view *cv, const struct cluster_view *old)
{
	size_t i, j;

	for (i = 0; i < cv->n_nodes; i++) {
		struct cv_node *n = &cv->nodes[i];

		for (j = 0; j < old->n_nodes; j++) {
			const struct cv_node *o = &old->nodes[j];

			if (!cv_same_node(cv, n, old, o))
				continue;
			n->known = o->known;
			n->mismatch = o->mismatch;
			n->st = o->st;
			n->updated = o->updated;
			n->updates = o->updates;
			n->losses = o->losses;
		}
	}

	for (i = 0; i < cv->n_clusters; i++)
		for (j = 0; j < old->n_clusters; j++)
			if (strcmp(cv->clusters[i].name, old->clusters[j].name) == 0) {
				cv->clusters[i].epoch = old->clusters[j].epoch;
				cv->clusters[i].writer_changes = old->clusters[j].writer_changes;
				cv->clusters[i].d.status = old->clusters[j].d.status;
				memcpy(cv->clusters[i].writer, old->clusters[j].writer,
				       sizeof(cv->clusters[i].writer));
				cv->clusters[i].w_tl = old->clusters[j].w_tl;
				memcpy(cv->clusters[i].w_sysid, old->clusters[j].w_sysid,
				       sizeof(cv->clusters[i].w_sysid));
			}
}

/* Moves the view <src> (initialised, not started or started) into <dst>, which takes over its
 * nodes and feeds; <src> is left empty. The nodes point back at their view, so a plain struct
 * copy would leave them pointing at <src>. */
void cv_move(struct cluster_view *dst, struct cluster_view *src)
{
	size_t i;

	*dst = *src;
	for (i = 0; i < dst->n_nodes; i++)
		dst->nodes[i].cv = dst;
	src->nodes = NULL;
	src->n_nodes = 0;
	for (i = 0; i < src->n_clusters; i++)
		src->clusters[i].n_nodes = 0;
}

void cv_start(struct cluster_view *cv)
{
	size_t i;

	for (i = 0; i < cv->n_nodes; i++)
		feed_sub_start(&cv->nodes[i].sub);
	for (i = 0; i < cv->n_clusters; i++)
		cv_recompute(cv, i);
}

void cv_free(struct cluster_view *cv)
{
	size_t i;

	for (i = 0; i < cv->n_nodes; i++) {
		feed_sub_stop(&cv->nodes[i].sub);
		feed_sub_free(&cv->nodes[i].sub);
	}
	free(cv->nodes);
	cv->nodes = NULL;
	cv->n_nodes = 0;
	for (i = 0; i < cv->n_clusters; i++)
		cv->clusters[i].n_nodes = 0; /* their indices named the nodes just freed */
}

/* Opens, keeps or closes <c>'s hold window for decision <d> (before <c> takes it): open while
 * the writer is drained, or lost, and a standby of its timeline can take over. Returns true
 * when the window opened or closed. */
static bool cv_update_hold(struct cluster_view *cv, struct cv_cluster *c, const struct cv_input *in,
                           const struct cv_decision *d, const char *writer)
{
	enum log_level lvl = c->hold_max > 0 ? LOG_LVL_INFO : LOG_LVL_DEBUG;
	bool was = c->hold;

	if (d->writer >= 0) {
		const struct node_state *w = in[d->writer].st;

		c->w_tl = w->pg.tl;
		snprintf(c->w_sysid, sizeof(c->w_sysid), "%s", w->pg.sysid);
		/* A drained writer is on its way out (planned switchover): the rule keeps it the
		 * writer, but a write that can wait for the standby is not sent to it. */
		c->hold_cand = w->admin == NS_ADMIN_DRAIN
		                   ? cv_hold_candidates(in, c->n_nodes, c->w_sysid, c->w_tl,
		                                        c->max_lag, UINT64_MAX, true)
		                   : 0;
	} else if (d->status == CV_STATUS_SPLIT_BRAIN) {
		c->hold_cand = 0; /* two primaries: nothing to wait for */
	} else if (c->writer[0] != '\0' && writer[0] == '\0') {
		c->hold_cand = cv_hold_candidates(in, c->n_nodes, c->w_sysid, c->w_tl, c->max_lag,
		                                  UINT64_MAX, true);
	} else if (c->hold_cand != 0) {
		c->hold_cand = cv_hold_candidates(in, c->n_nodes, c->w_sysid, c->w_tl, c->max_lag,
		                                  c->hold_cand, false);
	}
	c->hold = c->hold_cand != 0;
	if (c->hold == was)
		return false;
	if (c->hold) {
		c->hold_since = ev_now(cv->loop);
		log_msg(lvl,
		        "cluster %s: writer %s, a standby of timeline %u can take over: writes "
		        "wait up to %.3fs for it (hold window open)",
		        c->name, d->writer >= 0 ? "drained" : "lost", c->w_tl, c->hold_max);
	} else {
		log_msg(lvl, "cluster %s: hold window closed after %.3fs (%s)", c->name,
		        ev_now(cv->loop) - c->hold_since,
		        d->writer >= 0 ? "writer back" : cv_status_name(d->status));
	}
	return true;
}

/* Re-decides cluster <ci>; logs and reports a change of writer, reader or status. */
void cv_recompute(struct cluster_view *cv, size_t ci)
{
	struct cv_cluster *c = &cv->clusters[ci];
	struct cv_input in[SPOA_NODES_MAX];
	struct cv_decision d;
	const char *writer, *reader;
	bool changed;
	size_t i;

	for (i = 0; i < c->n_nodes; i++) {
		struct cv_node *n = &cv->nodes[c->node_idx[i]];

		in[i].server = n->server;
		in[i].known = n->known;
		in[i].st = &n->st;
	}
	cv_policy(in, c->n_nodes, c->sysid, c->max_lag, &d);
	writer = d.writer >= 0 ? in[d.writer].server : "";
	reader = d.reader >= 0 ? in[d.reader].server : "";
	changed = cv_update_hold(cv, c, in, &d, writer);
	if (strcmp(writer, c->writer) != 0) {
		c->epoch++;
		c->writer_changes++;
		log_info("cluster %s: writer %s -> %s (epoch %llu, status %s)", c->name,
		         c->writer[0] != '\0' ? c->writer : "none",
		         writer[0] != '\0' ? writer : "none", (unsigned long long)c->epoch,
		         cv_status_name(d.status));
		snprintf(c->writer, sizeof(c->writer), "%s", writer);
		changed = true;
	} else if (d.status != c->d.status) {
		log_info("cluster %s: status %s -> %s", c->name, cv_status_name(c->d.status),
		         cv_status_name(d.status));
		changed = true;
	}
	if (strcmp(reader, c->reader) != 0) {
		log_debug("cluster %s: reader %s -> %s", c->name,
		          c->reader[0] != '\0' ? c->reader : "none",
		          reader[0] != '\0' ? reader : "none");
		snprintf(c->reader, sizeof(c->reader), "%s", reader);
		changed = true;
	}
	c->d = d;
	if (changed && cv->on_change != NULL)
		cv->on_change(cv, cv->arg);
}

/* A state arrived from <n>'s feed. A state naming another cluster is ignored (fail closed). */
void cv_node_update(struct cv_node *n, const struct node_state *st)
{
	struct cluster_view *cv = n->cv;
	bool was_known = n->known;

	n->updated = ev_now(cv->loop);
	n->updates++;
	if (n->cluster < cv->n_clusters)
		cv->clusters[n->cluster].updated = n->updated;
	if (strcmp(st->cluster, cv->clusters[n->cluster].name) != 0) {
		if (!n->mismatch)
			log_warning("node %s (%s): its agent says cluster '%s', configured '%s': "
			            "ignored",
			            n->name, n->agent.text, st->cluster,
			            cv->clusters[n->cluster].name);
		n->mismatch = true;
		n->known = false;
	} else {
		if (n->mismatch || !was_known)
			log_info("node %s (%s): feed up, pg %s tl %u", n->name, n->agent.text,
			         ns_role_name(st->pg.role), st->pg.tl);
		n->mismatch = false;
		n->known = true;
		n->st = *st;
	}
	cv_recompute(cv, n->cluster);
	if (n->known && cv->on_writer_heard != NULL && n->cluster < cv->n_clusters &&
	    strcmp(cv->clusters[n->cluster].writer, n->server) == 0)
		cv->on_writer_heard(cv, n->cluster, cv->arg);
}

/* <n>'s feed is gone or silent for 3 heartbeats: its state is unknown from now on. */
void cv_node_lost(struct cv_node *n, const char *why)
{
	struct cluster_view *cv = n->cv;

	n->updated = ev_now(cv->loop);
	n->losses++;
	if (n->known)
		log_warning("node %s (%s): feed lost: %s", n->name, n->agent.text, why);
	else
		log_debug("node %s (%s): feed still down: %s", n->name, n->agent.text, why);
	n->known = false;
	cv_recompute(cv, n->cluster);
}
