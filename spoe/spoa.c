/* spoe/spoa.c - the server around the connections: listener (accept bursts, max connections),
 * cluster view -> routing snapshot swap, reload keeping state. */
#include "spoe/spoa.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sock.h"
#include "spoe/spop_conn.h"

#define SPOA_ACCEPT_BURST 64 /* accepts per listener event: a reload reconnects all at once */
#define SPOA_EVICT_LOOK   16 /* handshake connections looked at for one to evict */

/* Slot of <status> in spoa_stats.errors: wire codes 0..13 as is, 99 -> 14, others -> 15. */
size_t spoa_err_slot(int status)
{
	if (status >= 0 && status <= SPOP_STATUS_RES)
		return (size_t)status;
	return status == SPOP_STATUS_UNKNOWN ? 14 : 15;
}

/* Installs <t> as the snapshot NOTIFYs read; frees the previous one; answers the held NOTIFYs
 * the new snapshot settles. Single-threaded: no NOTIFY is being answered while a feed callback
 * runs. */
void spoa_set_route(struct spoa *s, struct route_table *t)
{
	struct route_table *old = s->route;

	s->route = t;
	s->stats.route_builds++;
	route_free(old);
	spoa_hold_settle(s);
}

/* Held NOTIFYs of a cluster whose hold window closed get its answer now: the new writer, or
 * the status when no promotion is plausible any more (split brain, no standby left, hold_max
 * set to 0); a retry held under the current writer epoch keeps waiting (hold.h). A cluster
 * gone from the table (reload) answers with what the table says. */
void spoa_hold_settle(struct spoa *s)
{
	const struct route_table *t = s->route;
	size_t i;

	if (!s->hold_ready || s->hold.used == 0)
		return;
	for (i = 0; i < SPOA_CLUSTERS_MAX; i++) {
		if (s->hold.q[i].n == 0)
			continue;
		if (t == NULL || i >= t->n)
			hold_release_cluster(&s->hold, i, HOLD_END_SHUTDOWN);
		else if (!t->e[i].hold)
			hold_release_settled(&s->hold, i, t->e[i].epoch,
			                     t->e[i].status == CV_STATUS_OK ? HOLD_END_WRITER
			                                                    : HOLD_END_SETTLED);
	}
}

/* hold_release_fn: the ACK of a released NOTIFY, from the snapshot as it is now. */
static void spoa_hold_answer(struct hold_store *h, struct hold_entry *e, enum hold_end why,
                             void *arg)
{
	struct spoa *s = arg;
	struct spop_conn *c = e->conn;

	(void)h;
	(void)why;
	if (!c->dirty) {
		c->dirty = true;
		c->dnext = s->dirty;
		s->dirty = c;
	}
	spop_conn_answer_held(c, e->stream_id, e->frame_id, s->route, e->cluster);
}

/* hold_flush_fn: writes what the releases queued, one write per connection (those that closed
 * meanwhile are reaped by the loop: we are outside their own callbacks). */
static void spoa_hold_flush(struct hold_store *h, void *arg)
{
	struct spoa *s = arg;

	(void)h;
	while (s->dirty != NULL) {
		struct spop_conn *c = s->dirty;

		s->dirty = c->dnext;
		c->dirty = false;
		c->dnext = NULL;
		spop_conn_kick(c);
	}
}

/* The hold store, sized by hold_budget (allocated here, never on the NOTIFY path). */
int spoa_hold_init(struct spoa *s)
{
	if (hold_init(&s->hold, s->loop, (size_t)s->conf->hold_budget, spoa_hold_answer,
	              spoa_hold_flush, s) < 0)
		return -1;
	s->hold_ready = true;
	return 0;
}

static void spoa_on_view_change(struct cluster_view *cv, void *arg)
{
	struct spoa *s = arg;
	struct route_table *t = route_build_view(cv, s->stats.route_builds + 1);

	if (t != NULL)
		spoa_set_route(s, t); /* else: keep the previous one (logged by route_build) */
	if (s->push != NULL)
		push_view_changed(
		    s->push); /* push mode: the same decision, set on HAProxy's servers */
}

/* cv_heard_fn: a state came from cluster <ci>'s writer (its agent is alive and still says
 * primary): the write-retries held since before now get that writer (hold.h). */
static void spoa_on_writer_heard(struct cluster_view *cv, size_t ci, void *arg)
{
	struct spoa *s = arg;
	const struct route_table *t = s->route;

	(void)cv;
	if (!s->hold_ready || ci >= SPOA_CLUSTERS_MAX || s->hold.q[ci].n == 0 || t == NULL ||
	    ci >= t->n || t->e[ci].hold || !t->e[ci].has_writer)
		return;
	hold_release_retries(&s->hold, ci, ev_now(s->loop), HOLD_END_WRITER);
}

static void spoa_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct spoa *s = container_of(w, struct spoa, listen_io);
	struct sockaddr_storage peer;
	struct spop_conn *old;
	socklen_t plen;
	int i, fd;

	(void)loop;
	(void)revents;
	for (i = 0; i < SPOA_ACCEPT_BURST; i++) {
		plen = sizeof(peer);
		fd = sock_accept(s->listen_fd, &peer, &plen);
		if (fd == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warning("spoa: accept on %s: %s", s->conf->listen.text,
				            strerror(errno));
			return;
		}
		if (!netacl_allows(&s->conf->allow_from, (const struct sockaddr *)&peer, plen)) {
			s->stats.conns_denied++;
			close(fd); /* not on allow_from: no byte of ours */
			continue;
		}
		old = NULL;
		if (s->stats.conns_cur >= (uint64_t)s->conf->max_conns ||
		    s->hs_cur >= (uint64_t)s->conf->max_handshakes) {
			/* full, or too many silent newcomers: the oldest connection that has not
			 * finished HELLO makes room (HAProxy says HELLO at once; a peer that
			 * connects and waits is the one to go), so idle peers never lock HAProxy
			 * out. One whose HELLO waits unread in the socket is spared (a few looked
			 * at, oldest first). */
			old = s->hs_head;
			for (int k = 0;
			     old != NULL && k < SPOA_EVICT_LOOK && sock_has_input(old->c.fd); k++)
				old = old->hs_next;
			if (old != NULL && sock_has_input(old->c.fd))
				old = NULL;
		}
		if (old != NULL) {
			s->stats.conns_evicted++;
			spop_conn_close(old, SPOP_STATUS_TIMEOUT, "evicted: no HELLO after %.3fs",
			                conn_age(&old->c));
			conn_destroy(&old->c, "evicted");
		}
		if (s->stats.conns_cur >= (uint64_t)s->conf->max_conns ||
		    s->hs_cur >= (uint64_t)s->conf->max_handshakes) {
			/* fail fast: HAProxy marks this agent connection failed and falls back */
			s->stats.conns_refused++;
			log_debug("spoa: refused a connection: max_connections %lld reached",
			          (long long)s->conf->max_conns);
			close(fd);
			continue;
		}
		if (spop_conn_accept(s, fd, &peer) < 0)
			log_warning("spoa: cannot take a connection: %s", strerror(errno));
	}
}

/* Listens, builds the view and the first snapshot (every cluster `stale` until its feeds
 * speak), starts the feeds. <conf> is owned by <s> from now on. Returns 0 or -1 with <err>. */
int spoa_init(struct spoa *s, struct ev_loop *loop, struct spoa_conf *conf, char *err,
              size_t errlen)
{
	struct route_table *t;

	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->conf = conf;
	s->listen_fd = -1;
	s->http.fd = -1;
	s->started = ev_now(loop);
	s->listen_fd = sock_listen_tcp(&conf->listen, (int)conf->backlog, err, errlen);
	if (s->listen_fd == -1)
		return -1;
	ev_io_init(&s->listen_io, spoa_accept_cb, s->listen_fd, EV_READ);
	ev_io_start(loop, &s->listen_io);
	if (spoa_hold_init(s) < 0) {
		snprintf(err, errlen, "out of memory for hold_budget %lld",
		         (long long)conf->hold_budget);
		goto out_close_listen;
	}
	if (status_http_start(&s->http, s, &conf->status, err, errlen) < 0)
		goto out_free_hold;
	if (cv_init(&s->cv, loop, conf, spoa_on_view_change, s, err, errlen) < 0)
		goto out_stop_http;
	s->cv.on_writer_heard = spoa_on_writer_heard;
	s->cv_ready = true;
	t = route_build_view(&s->cv, 1);
	if (t == NULL) {
		snprintf(err, errlen, "cannot build the first routing table");
		goto out_free_cv;
	}
	spoa_set_route(s, t);
	s->push = &s->push_sets[0];
	if (push_init(s->push, loop, conf, &s->cv, err, errlen) < 0)
		goto out_free_cv;
	cv_start(&s->cv);
	push_start(s->push);
	return 0;

out_free_cv:
	cv_free(&s->cv);
	s->cv_ready = false;
out_stop_http:
	status_http_stop(&s->http);
out_free_hold:
	hold_free(&s->hold);
	s->hold_ready = false;
out_close_listen:
	ev_io_stop(loop, &s->listen_io);
	close(s->listen_fd);
	s->listen_fd = -1;
	return -1;
}

/* Answers every held NOTIFY with the current view, then closes every connection
 * (AGENT-DISCONNECT normal), the listeners and the feeds. */
void spoa_free(struct spoa *s)
{
	if (s->hold_ready)
		hold_release_all(&s->hold, HOLD_END_SHUTDOWN);
	while (s->conns.head != NULL) {
		struct spop_conn *c = spop_conn_of(s->conns.head);

		spop_conn_close(c, SPOP_STATUS_NORMAL, "shutting down");
		conn_destroy(&c->c, "shutting down");
	}
	if (s->listen_fd != -1) {
		ev_io_stop(s->loop, &s->listen_io);
		close(s->listen_fd);
		s->listen_fd = -1;
	}
	status_http_stop(&s->http);
	if (s->hold_ready)
		hold_free(&s->hold);
	s->hold_ready = false;
	if (s->push != NULL)
		push_free(s->push);
	if (s->cv_ready)
		cv_free(&s->cv);
	s->cv_ready = false;
	route_free(s->route);
	s->route = NULL;
	free(s->conf);
	s->conf = NULL;
}

static bool same_nodes(const struct spoa_conf *a, const struct spoa_conf *b)
{
	size_t i;

	if (a->n_nodes != b->n_nodes || a->n_clusters != b->n_clusters ||
	    a->heartbeat != b->heartbeat || a->connect_timeout != b->connect_timeout)
		return false;
	for (i = 0; i < a->n_clusters; i++)
		if (strcmp(a->clusters[i].name, b->clusters[i].name) != 0)
			return false;
	for (i = 0; i < a->n_nodes; i++)
		if (strcmp(a->nodes[i].name, b->nodes[i].name) != 0 ||
		    strcmp(a->nodes[i].cluster, b->nodes[i].cluster) != 0 ||
		    strcmp(a->nodes[i].agent.text, b->nodes[i].agent.text) != 0 ||
		    strcmp(spoa_conf_server(&a->nodes[i]), spoa_conf_server(&b->nodes[i])) != 0)
			return false;
	return true;
}

/* SIGHUP: reads <path> into a fresh config, validates it whole, then swaps, all or nothing.
 * Listen addresses need a restart (kept, with a warning). Same nodes: policy keys change in
 * place, feeds stay up (a reload must not blink the routing). Other nodes: the new view is
 * built beside the running one and swapped in only once complete, epochs kept. Push mode is
 * prepared beside the running one too (the spare of <push_sets>): a push configuration that
 * cannot be set up refuses the reload, and the running one keeps driving HAProxy.
 * Returns 0, or -1 when the file, the new view or the new push set is refused: the old config,
 * view, push set and routing stay in force, and the reason (FILE:LINE: key ... for a config
 * error) is logged. */
int spoa_reload(struct spoa *s, const char *path)
{
	struct spoa_conf *nc = malloc(sizeof(*nc));
	static struct cluster_view nv; /* the new view while it is built (large for the stack) */
	struct push_set *np = s->push == &s->push_sets[0] ? &s->push_sets[1] : &s->push_sets[0];
	char err[HR_ERR_LEN];
	size_t i;

	if (nc == NULL || spoa_conf_load(path, nc, err, sizeof(err)) < 0) {
		if (nc == NULL)
			snprintf(err, sizeof(err), "out of memory");
		log_error("reload refused, keeping the running config: %s", err);
		free(nc);
		s->stats.reload_failures++;
		return -1;
	}
	if (strcmp(nc->listen.text, s->conf->listen.text) != 0 ||
	    strcmp(nc->status.text, s->conf->status.text) != 0 || nc->backlog != s->conf->backlog)
		log_warning(
		    "reload: listen, status_listen and backlog need a restart (a port below "
		    "1024 needs the root given up at start); kept %s, %s",
		    s->conf->listen.text, s->conf->status.text);
	nc->listen = s->conf->listen;
	nc->status = s->conf->status;
	nc->backlog = s->conf->backlog;
	if (nc->hold_budget != s->conf->hold_budget)
		log_warning("reload: hold_budget needs a restart; kept %lld",
		            (long long)s->conf->hold_budget);
	nc->hold_budget = s->conf->hold_budget;
	if (strcmp(nc->user, s->conf->user) != 0 || strcmp(nc->group, s->conf->group) != 0)
		log_warning("reload: user and group need a restart (root was given up at start); "
		            "kept \"%s\" \"%s\"",
		            s->conf->user, s->conf->group);
	memcpy(nc->user, s->conf->user, sizeof(nc->user));
	memcpy(nc->group, s->conf->group, sizeof(nc->group));
	if (s->cv_ready && same_nodes(nc, s->conf)) {
		/* the same clusters and nodes: the new push set is prepared against the running view */
		if (push_init(np, s->loop, nc, &s->cv, err, sizeof(err)) < 0) {
			log_error(
			    "reload refused, keeping the running config and push mode: %s: %s",
			    path, err);
			free(nc);
			s->stats.reload_failures++;
			return -1;
		}
		push_free(s->push); /* it points into the config about to be freed */
		for (i = 0; i < nc->n_clusters; i++) {
			snprintf(s->cv.clusters[i].sysid, sizeof(s->cv.clusters[i].sysid), "%s",
			         nc->clusters[i].sysid);
			s->cv.clusters[i].max_lag = nc->clusters[i].max_lag;
			s->cv.clusters[i].hold_max = nc->clusters[i].hold_max;
			if (s->hold_ready)
				hold_set_max(&s->hold, i, nc->clusters[i].hold_max);
		}
		free(s->conf);
		s->conf = nc;
		for (i = 0; i < s->cv.n_clusters; i++)
			cv_recompute(&s->cv, i);
		spoa_on_view_change(&s->cv, s); /* hold_max may have changed */
	} else {
		/* build first: a view or a push set that cannot be built leaves the running ones
		 * untouched */
		if (cv_init(&nv, s->loop, nc, spoa_on_view_change, s, err, sizeof(err)) < 0) {
			log_error("reload refused, keeping the running config and view: %s: %s",
			          path, err);
			free(nc);
			s->stats.reload_failures++;
			return -1;
		}
		if (push_init(np, s->loop, nc, &nv, err, sizeof(err)) < 0) {
			log_error("reload refused, keeping the running config, view and push mode: "
			          "%s: %s",
			          path, err);
			cv_free(&nv);
			free(nc);
			s->stats.reload_failures++;
			return -1;
		}
		push_free(s->push); /* it points into the config and the view about to change */
		/* the clusters' order may change: answer what is held from the current view */
		if (s->hold_ready)
			hold_release_all(&s->hold, HOLD_END_SHUTDOWN);
		if (s->cv_ready) {
			cv_carry_epochs(&nv, &s->cv);
			cv_free(&s->cv);
		}
		nv.on_writer_heard = spoa_on_writer_heard;
		cv_move(&s->cv, &nv);
		push_set_view(np, &s->cv);
		s->cv_ready = true;
		cv_start(&s->cv);
		free(s->conf);
		s->conf = nc;
		spoa_on_view_change(&s->cv, s);
	}
	/* the old set is stopped (n 0): the view changes above did not reach HAProxy yet */
	s->push = np;
	log_set_level((enum log_level)nc->log_level);
	push_start(s->push); /* planned from the view as it is now; a full read-back and sync */
	s->stats.reloads++;
	log_info("reloaded %s: %zu clusters, %zu nodes", path, nc->n_clusters, nc->n_nodes);
	return 0;
}
