/* agent/agent.c - the agent object: wiring of probes, node state, checks, port and feed; see
 * agent.h. agent_update() is the one place the node state changes: it builds the next state
 * from the probes' results and the operator/fence inputs, evaluates every check, and when
 * anything differs bumps <seq>, stamps <ts_ms> and publishes at once. */
#include "agent/agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "agent/check.h"
#include "common/log.h"

const double agent_reply_bounds[AGENT_REPLY_BUCKETS - 1] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1,
};

/* Counts one agent-check reply that took <seconds> from accept to written. */
void agent_count_reply(struct agent *a, double seconds)
{
	size_t i = 0;

	while (i < AGENT_REPLY_BUCKETS - 1 && seconds > agent_reply_bounds[i])
		i++;
	a->stats.reply_hist[i]++;
	a->stats.reply_seconds += seconds;
}

static uint64_t agent_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t agent_boot_id(void)
{
	uint64_t id = 0;

	if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != (ssize_t)sizeof(id))
		id = agent_wall_ms() ^ ((uint64_t)getpid() << 40);
	return id;
}

/* Whether two agent lines say the same before their '#reason'. */
static bool agent_same_words(const char *a, const char *b)
{
	size_t la = strcspn(a, "#");
	size_t lb = strcspn(b, "#");

	return la == lb && memcmp(a, b, la) == 0;
}

static void agent_log_changes(const struct node_state *old, const struct node_state *new)
{
	if (old->pg.role != new->pg.role || old->pg.up != new->pg.up)
		log_info("pg: %s %s -> %s %s (tl %u)%s%s", old->pg.up ? "up" : "down",
		         ns_role_name(old->pg.role), new->pg.up ? "up" : "down",
		         ns_role_name(new->pg.role), new->pg.tl, new->pg.err[0] != '\0' ? ": " : "",
		         new->pg.err);
	if (old->app.up != new->app.up)
		log_info("app: %s%s%s", new->app.up ? "up" : "down", new->app.err[0] ? ": " : "",
		         new->app.err);
	if (old->nginx.up != new->nginx.up)
		log_info("nginx: %s%s%s", new->nginx.up ? "up" : "down",
		         new->nginx.err[0] ? ": " : "", new->nginx.err);
	for (size_t i = 0; i < new->n_checks; i++) {
		const struct ns_check *o = ns_find_check(old, new->checks[i].name);

		if (o != NULL && strcmp(o->line, new->checks[i].line) == 0)
			continue;
		/* what HAProxy acts on (state, admin word, weight) is for the operator; a new
		 * reason or error text alone (each failed reconnect words it anew) is debug */
		if (o == NULL || !agent_same_words(o->line, new->checks[i].line))
			log_info("check %s: %s -> %s", new->checks[i].name,
			         o != NULL ? o->line : "(new)", new->checks[i].line);
		else
			log_debug("check %s: %s -> %s", new->checks[i].name, o->line,
			          new->checks[i].line);
	}
}

/* Rebuilds the node state from its inputs; publishes when it changed. */
void agent_update(struct agent *a)
{
	struct node_state next = a->ns;
	const struct agent_conf *c = a->conf;

	if (a->pg_on)
		next.pg = a->pg.pg;
	next.pg.present = a->pg_on;
	if (a->app_on)
		next.app = a->app.res;
	next.app.present = a->app_on;
	if (a->nginx_on)
		next.nginx = a->nginx.res;
	next.nginx.present = a->nginx_on;
	next.admin = a->admin;
	memcpy(next.admin_reason, a->admin_reason, sizeof(next.admin_reason));
	/* ops: the fence verdict for the state being built, so that a returning old primary is
	 * fenced in the same update that first shows it primary. */
	if (a->fence.started)
		a->fenced = fence_apply(&a->fence, &next, a->fence_reason, sizeof(a->fence_reason));
	next.fenced = a->fenced;
	memcpy(next.fence_reason, a->fence_reason, sizeof(next.fence_reason));
	memset(next.checks, 0, sizeof(next.checks));
	next.n_checks = c->n_checks;
	for (size_t i = 0; i < c->n_checks; i++) {
		struct ns_check *k = &next.checks[i];

		memcpy(k->name, c->checks[i].name, sizeof(k->name));
		if (check_eval(&c->checks[i], &next, a->shutting_down, k->line, sizeof(k->line)) ==
		    -1)
			snprintf(k->line, sizeof(k->line),
			         "fail %s #agent: check evaluation failed",
			         ns_admin_name(next.admin == NS_ADMIN_READY ? NS_ADMIN_READY
			                                                    : next.admin));
	}
	next.seq = a->ns.seq;
	next.ts_ms = a->ns.ts_ms;
	if (memcmp(&next, &a->ns, sizeof(next)) == 0)
		return;
	agent_log_changes(&a->ns, &next);
	next.seq++;
	next.ts_ms = agent_wall_ms();
	a->ns = next;
	feed_pub_publish(&a->feed);
}

static void agent_on_pg(struct pg_probe *p, unsigned changed, void *arg)
{
	(void)p;
	(void)changed;
	agent_update(arg);
}

static void agent_on_hp(struct http_probe *p, void *arg)
{
	(void)p;
	agent_update(arg);
}

static void agent_on_shutdown_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	log_info("shutdown grace over: exiting");
	ev_break(loop, EVBREAK_ALL);
}

/* SIGTERM: every check answers drain for shutdown_grace, then the loop ends. A second signal
 * ends it at once. */
void agent_shutdown(struct agent *a)
{
	if (a->shutting_down) {
		log_info("second stop signal: exiting now");
		ev_break(a->loop, EVBREAK_ALL);
		return;
	}
	a->shutting_down = true;
	log_info("stopping: every check answers drain for %.3fs", a->conf->agent.shutdown_grace);
	agent_update(a);
	ev_timer_set(&a->shutdown_timer, a->conf->agent.shutdown_grace, 0);
	ev_timer_start(a->loop, &a->shutdown_timer);
}

static void agent_on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct agent *a = w->data;

	(void)loop;
	(void)revents;
	if (w->signum == SIGHUP) {
		if (agent_reload(a, a->conf->file) == -1)
			log_error("reload: refused, running config kept");
		return;
	}
	agent_shutdown(a);
}

/* Initialises a probe of <h> into <p> when <on>. */
static int agent_hp_init(struct agent *a, struct http_probe *p, const struct hp_conf *h, char *err,
                         size_t errlen)
{
	return hp_init(p, a->loop, h, agent_on_hp, a, err, errlen);
}

/* Prepares <a> to run <conf> (taken over: freed by agent_free()) on <loop>; no socket yet.
 * Returns 0, or -1 with <err> filled. */
int agent_init(struct agent *a, struct ev_loop *loop, struct agent_conf *conf, char *err,
               size_t errlen)
{
	memset(a, 0, sizeof(*a));
	a->loop = loop;
	a->conf = conf;
	a->port.fd = -1;
	ns_init(&a->ns);
	snprintf(a->ns.cluster, sizeof(a->ns.cluster), "%s", conf->agent.cluster);
	snprintf(a->ns.node, sizeof(a->ns.node), "%s", conf->agent.node);
	a->ns.boot = agent_boot_id();
	if (conf->has_pg) {
		if (pgp_init(&a->pg, loop, &conf->pg, agent_on_pg, a, err, errlen) == -1)
			return -1;
		a->pg_on = true;
	}
	if (conf->has_app) {
		if (agent_hp_init(a, &a->app, &conf->app, err, errlen) == -1)
			goto out_free;
		a->app_on = true;
	}
	if (conf->has_nginx) {
		if (agent_hp_init(a, &a->nginx, &conf->nginx, err, errlen) == -1)
			goto out_free;
		a->nginx_on = true;
	}
	if (feed_pub_init(&a->feed, loop, &a->ns, conf->agent.heartbeat,
	                  (size_t)conf->agent.subscriber_buffer,
	                  (size_t)conf->agent.max_subscribers) == -1) {
		snprintf(err, errlen, "out of memory for the feed");
		goto out_free;
	}
	ev_timer_init(&a->shutdown_timer, agent_on_shutdown_timer, 0, 0);
	ev_signal_init(&a->sig_hup, agent_on_signal, SIGHUP);
	ev_signal_init(&a->sig_term, agent_on_signal, SIGTERM);
	ev_signal_init(&a->sig_int, agent_on_signal, SIGINT);
	a->sig_hup.data = a;
	a->sig_term.data = a;
	a->sig_int.data = a;
	agent_update(a);
	return 0;

out_free:
	if (a->app_on)
		hp_free(&a->app);
	if (a->pg_on)
		pgp_free(&a->pg);
	a->app_on = false;
	a->pg_on = false;
	return -1;
}

/* ---- ops: admin socket and fencing (agent/admin.c, agent/fence.c) ----------------------- */

static int agent_ops_set_admin(void *arg, enum ns_admin admin, const char *reason)
{
	agent_set_admin(arg, admin, reason);
	return 0;
}

static int agent_ops_status(void *arg, struct buf *out)
{
	return ns_to_json(agent_state(arg), out);
}

static const struct node_state *agent_ops_local(void *arg)
{
	return agent_state(arg);
}

static void agent_ops_set_fence(void *arg, bool fenced, const char *reason)
{
	agent_set_fence(arg, fenced, reason);
}

/* Subscribes to the [peer NAME] feeds of <c>. Returns 0 or -1 with <err>. */
static int agent_ops_fence_start(struct agent *a, const struct agent_conf *c, char *err,
                                 size_t errlen)
{
	static const struct fence_ops ops = { agent_ops_local, agent_ops_set_fence, NULL };
	struct fence_peer_conf peers[AGENT_CONF_PEERS_MAX];
	struct fence_ops o = ops;

	o.arg = a;
	for (size_t i = 0; i < c->n_peers; i++) {
		memcpy(peers[i].name, c->peers[i].name, sizeof(peers[i].name));
		peers[i].address = c->peers[i].address;
	}
	return fence_start(&a->fence, a->loop, peers, c->n_peers, c->agent.heartbeat, &o, err,
	                   errlen);
}

/* Restores the persisted admin state and opens the admin socket, then starts fencing. */
static int agent_ops_start(struct agent *a, char *err, size_t errlen)
{
	struct admin_ops ops = { agent_ops_set_admin, agent_ops_status, a };
	struct admin_conf ac;

	admin_conf_defaults(&ac);
	if (strlen(a->conf->agent.admin_socket) >= sizeof(ac.socket_path)) {
		snprintf(err, errlen, "admin_socket: path longer than %zu bytes: %.64s...",
		         sizeof(ac.socket_path) - 1, a->conf->agent.admin_socket);
		return -1;
	}
	memcpy(ac.socket_path, a->conf->agent.admin_socket,
	       strlen(a->conf->agent.admin_socket) + 1);
	snprintf(ac.state_file, sizeof(ac.state_file), "%s", a->conf->agent.state_file);
	if (ac.socket_path[0] == '\0') {
		log_warning("admin: no admin_socket: haprolectl cannot reach this agent");
	} else {
		if (admin_start(&a->admin_srv, a->loop, &ac, &ops, err, errlen) == -1)
			return -1;
		a->admin_on = true;
	}
	if (agent_ops_fence_start(a, a->conf, err, errlen) == -1) {
		if (a->admin_on)
			admin_stop(&a->admin_srv);
		a->admin_on = false;
		return -1;
	}
	return 0;
}

/* Reload: restarts fencing when the [peer] sections changed (same peers keep their evidence). */
static int agent_ops_reload(struct agent *a, const struct agent_conf *n, char *err, size_t errlen)
{
	const struct agent_conf *o = a->conf;
	bool same = o->n_peers == n->n_peers && o->agent.heartbeat == n->agent.heartbeat;

	for (size_t i = 0; same && i < n->n_peers; i++)
		same = strcmp(o->peers[i].name, n->peers[i].name) == 0 &&
		       strcmp(o->peers[i].address.text, n->peers[i].address.text) == 0;
	if (same)
		return 0;
	fence_stop(&a->fence);
	return agent_ops_fence_start(a, n, err, errlen);
}

/* Opens the agent port, starts the probes and the signal watchers. Returns 0, or -1 with
 * <err> filled. */
int agent_start(struct agent *a, char *err, size_t errlen)
{
	a->started = ev_now(a->loop);
	if (port_start(&a->port, a, err, errlen) == -1)
		return -1;
	/* ops: admin state restored, admin socket and fencing started before the probes. */
	if (agent_ops_start(a, err, errlen) == -1) {
		port_stop(&a->port);
		return -1;
	}
	if (a->pg_on)
		pgp_start(&a->pg);
	if (a->app_on)
		hp_start(&a->app);
	if (a->nginx_on)
		hp_start(&a->nginx);
	ev_signal_start(a->loop, &a->sig_hup);
	ev_signal_start(a->loop, &a->sig_term);
	ev_signal_start(a->loop, &a->sig_int);
	log_info("agent %s/%s listening on %s, %zu checks (default %s)", a->conf->agent.cluster,
	         a->conf->agent.node, a->conf->agent.listen.text, a->conf->n_checks,
	         a->conf->checks[a->conf->default_check].name);
	return 0;
}

/* Stops everything and frees what agent_init() took, the config included. */
void agent_free(struct agent *a)
{
	/* ops: admin socket and fencing subscribers. */
	if (a->admin_on)
		admin_stop(&a->admin_srv);
	a->admin_on = false;
	fence_stop(&a->fence);
	ev_signal_stop(a->loop, &a->sig_hup);
	ev_signal_stop(a->loop, &a->sig_term);
	ev_signal_stop(a->loop, &a->sig_int);
	ev_timer_stop(a->loop, &a->shutdown_timer);
	port_stop(&a->port);
	feed_pub_free(&a->feed);
	if (a->pg_on)
		pgp_free(&a->pg);
	if (a->app_on)
		hp_free(&a->app);
	if (a->nginx_on)
		hp_free(&a->nginx);
	a->pg_on = a->app_on = a->nginx_on = false;
	free(a->conf);
	a->conf = NULL;
}

/* Brings probe <p> (running when <*on>) to config <h> (wanted when <want>). */
static int agent_reload_hp(struct agent *a, struct http_probe *p, bool *on, bool want,
                           const struct hp_conf *h, char *err, size_t errlen)
{
	if (*on && want)
		return hp_reconfigure(p, h, err, errlen);
	if (*on && !want) {
		hp_free(p);
		*on = false;
		return 0;
	}
	if (!*on && want) {
		if (agent_hp_init(a, p, h, err, errlen) == -1)
			return -1;
		*on = true;
		hp_start(p);
	}
	return 0;
}

/* Keeps in <n> the values of keys a reload cannot change, warning when the file changed them. */
static void agent_keep_fixed(const struct agent_conf *o, struct agent_conf *n)
{
	for (const struct cfg_key *k = agent_main_keys; k->name != NULL; k++) {
		char ov[300];
		char nv[300];

		if (k->reloadable)
			continue;
		if (cfg_format_value(k, &o->agent, ov, sizeof(ov)) == 0 &&
		    cfg_format_value(k, &n->agent, nv, sizeof(nv)) == 0 && strcmp(ov, nv) != 0)
			log_warning(
			    "reload: key '%s' changed from \"%s\" to \"%s\": needs a restart, "
			    "keeping \"%s\"",
			    k->name, ov, nv, ov);
		memcpy((char *)&n->agent + k->offset, (const char *)&o->agent + k->offset,
		       k->type == CFG_T_STRING ? k->len
		       : k->type == CFG_T_ADDR ? sizeof(struct cfg_addr)
		       : k->type == CFG_T_INT  ? sizeof(int64_t)
		       : k->type == CFG_T_SIZE ? sizeof(uint64_t)
		       : k->type == CFG_T_ENUM ? sizeof(int)
		       : k->type == CFG_T_BOOL ? sizeof(bool)
		                               : sizeof(double));
	}
}

/* SIGHUP: reads <path> into a fresh config, validates it whole, then swaps it in, keeping the
 * node state; probes are reconfigured (or started/stopped when their section appeared or
 * went). Returns 0, or -1 with the running config kept and the reason logged. */
int agent_reload(struct agent *a, const char *path)
{
	struct agent_conf *n = malloc(sizeof(*n));
	char err[HR_ERR_LEN];
	enum log_level lvl;

	if (n == NULL) {
		log_error("reload: out of memory");
		a->stats.reload_failures++;
		return -1;
	}
	if (agent_conf_load(n, path, err, sizeof(err)) == -1) {
		log_error("reload: %s", err);
		goto out_fail;
	}
	agent_keep_fixed(a->conf, n);
	if (a->pg_on && n->has_pg) {
		if (pgp_reconfigure(&a->pg, &n->pg, err, sizeof(err)) == -1) {
			log_error("reload: [postgres]: %s", err);
			goto out_fail;
		}
	} else if (a->pg_on && !n->has_pg) {
		pgp_free(&a->pg);
		a->pg_on = false;
	} else if (!a->pg_on && n->has_pg) {
		if (pgp_init(&a->pg, a->loop, &n->pg, agent_on_pg, a, err, sizeof(err)) == -1) {
			log_error("reload: [postgres]: %s", err);
			goto out_fail;
		}
		a->pg_on = true;
		pgp_start(&a->pg);
	}
	if (agent_reload_hp(a, &a->app, &a->app_on, n->has_app, &n->app, err, sizeof(err)) == -1 ||
	    agent_reload_hp(a, &a->nginx, &a->nginx_on, n->has_nginx, &n->nginx, err,
	                    sizeof(err)) == -1) {
		log_error("reload: probe: %s", err);
		goto out_fail;
	}
	if (agent_ops_reload(a, n, err, sizeof(err)) == -1) {
		log_error("reload: [peer]: %s", err);
		goto out_fail;
	}
	feed_pub_configure(&a->feed, n->agent.heartbeat, (size_t)n->agent.subscriber_buffer,
	                   (size_t)n->agent.max_subscribers);
	if (n->agent.log_level >= 0 && n->agent.log_level < LOG_LVL_COUNT) {
		lvl = (enum log_level)n->agent.log_level;
		if (log_get_level() != lvl && log_get_level() != LOG_LVL_DEBUG)
			log_set_level(lvl);
	}
	free(a->conf);
	a->conf = n;
	memset(a->stats.check_served, 0, sizeof(a->stats.check_served));
	a->stats.reloads++;
	log_info("reload: %s applied, %zu checks (default %s)", n->file, n->n_checks,
	         n->checks[n->default_check].name);
	agent_update(a);
	return 0;

out_fail:
	a->stats.reload_failures++;
	free(n);
	return -1;
}

void agent_set_admin(struct agent *a, enum ns_admin admin, const char *reason)
{
	if ((unsigned)admin >= NS_ADMIN_COUNT)
		return;
	a->admin = admin;
	snprintf(a->admin_reason, sizeof(a->admin_reason), "%s", reason != NULL ? reason : "");
	log_info("admin: %s%s%s", ns_admin_name(admin), a->admin_reason[0] != '\0' ? ": " : "",
	         a->admin_reason);
	agent_update(a);
}

void agent_set_fence(struct agent *a, bool fenced, const char *reason)
{
	if (fenced != a->fenced)
		log_info("fence: %s%s%s", fenced ? "fenced" : "unfenced",
		         reason != NULL && reason[0] != '\0' ? ": " : "",
		         reason != NULL ? reason : "");
	a->fenced = fenced;
	snprintf(a->fence_reason, sizeof(a->fence_reason), "%s",
	         fenced && reason != NULL ? reason : "");
	agent_update(a);
}

const struct node_state *agent_state(const struct agent *a)
{
	return &a->ns;
}

struct ev_loop *agent_loop(struct agent *a)
{
	return a->loop;
}

const char *agent_check_line(struct agent *a, const char *name, size_t len)
{
	size_t i;

	a->stats.agent_replies++;
	if (len == 0) {
		i = a->conf->default_check;
		a->stats.agent_replies_default++;
	} else {
		const struct check_conf *k = agent_conf_find_check(a->conf, name, len);

		if (k == NULL) {
			a->stats.unknown_checks++;
			return NULL;
		}
		i = (size_t)(k - a->conf->checks);
	}
	if (i >= a->ns.n_checks)
		return NULL;
	a->stats.check_served[i]++;
	return a->ns.checks[i].line;
}
