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

#include "agent/agent_ops.h"
#include "agent/check.h"
#include "common/route_rule.h"
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

/* Logs what changed from <old> to <new>; before the port opens (<quiet>) check lines go to
 * debug: nobody is answered from them, and agent_open_port() logs the lines it opens with. */
static void agent_log_changes(const struct node_state *old, const struct node_state *new,
                              bool quiet)
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
		if (!quiet && (o == NULL || !agent_same_words(o->line, new->checks[i].line)))
			log_info("check %s: %s -> %s", new->checks[i].name,
			         o != NULL ? o->line : "(new)", new->checks[i].line);
		else
			log_debug("check %s: %s -> %s", new->checks[i].name,
			          o != NULL ? o->line : "(new)", new->checks[i].line);
	}
}

bool agent_has_follow(const struct agent_conf *c)
{
	for (size_t i = 0; i < c->n_checks; i++) {
		if (c->checks[i].follow[0] != '\0')
			return true;
	}
	return false;
}

/* The cluster's writer as the peers' feeds and the node's own state <self> show it, by the one
 * writer rule (common/route_rule.h): into <writer> ("" none) and <status>. */
static void agent_cluster_view(const struct agent *a, const struct node_state *self, char *writer,
                               size_t wlen, const char **status)
{
	struct rr_node in[FENCE_PEERS_MAX + 1];
	enum rr_verdict verdict[FENCE_PEERS_MAX + 1];
	struct rr_decision d;
	size_t n = 0;

	in[n].fresh = true;
	in[n++].st = self;
	for (size_t i = 0; a->fence != NULL && i < a->fence->n_peers && n < FENCE_PEERS_MAX + 1;
	     i++) {
		const struct fence_peer *p = &a->fence->peers[i];

		in[n].fresh = p->connected && p->has_state;
		in[n++].st = p->has_state ? &p->last : NULL;
	}
	rr_decide(in, n, NULL, RR_NO_LAG_LIMIT, &d, verdict);
	snprintf(writer, wlen, "%s", d.writer >= 0 ? in[d.writer].st->node : "");
	*status = rr_status_name(d.status);
}

/* Rebuilds the node state from its inputs; publishes when it changed. */
void agent_update(struct agent *a)
{
	struct node_state next = a->ns;
	const struct agent_conf *c = a->conf;
	struct check_view view = { "", "" };
	char writer[NS_NAME_MAX];
	bool have_view;

	/* a probe added by a reload counts once it has a first result (agent.h) */
	for (size_t i = 0; i < PS_COUNT; i++)
		ps_publish(&a->probes[i], &next);
	/* a change of PostgreSQL's role runs the on_role_change hook once (agent/hook.h) */
	hook_role_seen(&a->hook, &next.pg, c->agent.on_role_change, c->agent.hook_timeout);
	next.admin = a->admin;
	memcpy(next.admin_reason, a->admin_reason, sizeof(next.admin_reason));
	/* ops: the fence verdict for the state being built, so that a returning old primary is
	 * fenced in the same update that first shows it primary. */
	if (a->fence != NULL && a->fence->started)
		a->fenced = fence_apply(a->fence, &next, a->fence_reason, sizeof(a->fence_reason));
	next.fenced = a->fenced;
	memcpy(next.fence_reason, a->fence_reason, sizeof(next.fence_reason));
	/* `follow`: the cluster's writer from the peers' feeds, when a check asks for it */
	have_view = a->fence != NULL && a->fence->started && agent_has_follow(c);
	if (have_view) {
		agent_cluster_view(a, &next, writer, sizeof(writer), &view.status);
		view.writer = writer;
	}
	memset(next.checks, 0, sizeof(next.checks));
	next.n_checks = c->n_checks;
	for (size_t i = 0; i < c->n_checks; i++) {
		struct ns_check *k = &next.checks[i];

		memcpy(k->name, c->checks[i].name, sizeof(k->name));
		if (check_eval_view(&c->checks[i], &next, have_view ? &view : NULL,
		                    a->shutting_down, k->line, sizeof(k->line)) == -1)
			snprintf(k->line, sizeof(k->line),
			         "fail %s #agent: check evaluation failed",
			         ns_admin_name(next.admin));
	}
	next.seq = a->ns.seq;
	next.ts_ms = a->ns.ts_ms;
	if (memcmp(&next, &a->ns, sizeof(next)) == 0)
		return;
	agent_log_changes(&a->ns, &next, !a->serving);
	next.seq++;
	next.ts_ms = agent_wall_ms();
	a->ns = next;
	feed_pub_publish(&a->feed);
}

static void agent_on_probe(void *arg)
{
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
		/* a refused reload logs its one line itself */
		(void)!agent_reload(a, a->conf->file);
		return;
	}
	agent_shutdown(a);
}

/* ---- start gate (agent.h) ----------------------------------------------------------------- */

/* Whether every probe has a first result and every [peer]'s feed a first state or a first
 * failure, so that the checks answer from what was seen, never from "not probed yet". */
bool agent_settled(const struct agent *a)
{
	for (size_t i = 0; i < PS_COUNT; i++) {
		if (ps_waiting(&a->probes[i]))
			return false;
	}
	for (size_t i = 0; a->fence != NULL && i < a->fence->n_peers; i++) {
		const struct feed_sub *fs = &a->fence->peers[i].sub;

		if (fs->frames == 0 && fs->losses == 0)
			return false;
	}
	return true;
}

/* The longest a first result can take (s): a PostgreSQL connect then a query, an http/tcp
 * probe, a peer's connect then its silence limit (3 heartbeats); plus AGENT_START_MARGIN. */
double agent_start_wait(const struct agent *a)
{
	const struct agent_conf *c = a->conf;
	double w = 0;

	for (size_t i = 0; i < PS_COUNT; i++) {
		if (a->probes[i].on && ps_first_wait(a->probes[i].kind, c) > w)
			w = ps_first_wait(a->probes[i].kind, c);
	}
	for (size_t i = 0; a->fence != NULL && i < a->fence->n_peers; i++) {
		const struct feed_sub *fs = &a->fence->peers[i].sub;

		if (fs->connect_timeout + 3 * fs->heartbeat > w)
			w = fs->connect_timeout + 3 * fs->heartbeat;
	}
	return w + AGENT_START_MARGIN;
}

/* Names what has no first result yet into <out> ("pg app peer:db2"), for the log. */
static void agent_unsettled_names(const struct agent *a, char *out, size_t outlen)
{
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; i < PS_COUNT && n < outlen; i++) {
		if (ps_waiting(&a->probes[i]))
			n += (size_t)snprintf(out + n, outlen - n, " %s",
			                      ps_name(a->probes[i].kind));
	}
	for (size_t i = 0; a->fence != NULL && i < a->fence->n_peers && n < outlen; i++) {
		const struct fence_peer *p = &a->fence->peers[i];

		if (p->sub.frames == 0 && p->sub.losses == 0)
			n += (size_t)snprintf(out + n, outlen - n, " peer:%s", p->name);
	}
}

/* Passes the gate: the agent port listens from now on. A listen() failure (another process
 * took the port since our bind) ends the agent with exit code 1. */
static void agent_open_port(struct agent *a, const char *why)
{
	char err[HR_ERR_LEN];

	ev_prepare_stop(a->loop, &a->gate_check);
	ev_timer_stop(a->loop, &a->gate_timer);
	if (a->serving)
		return;
	agent_update(a);
	if (port_listen(&a->port, err, sizeof(err)) == -1) {
		log_error("agent port: %s: exiting", err);
		a->exit_code = 1;
		ev_break(a->loop, EVBREAK_ALL);
		return;
	}
	a->serving = true;
	log_info("agent port %s open after %.0f ms: %s", a->conf->agent.listen.text,
	         (ev_now(a->loop) - a->started) * 1e3, why);
	for (size_t i = 0; i < a->ns.n_checks; i++)
		log_info("check %s: %s", a->ns.checks[i].name, a->ns.checks[i].line);
}

static void agent_on_gate_check(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct agent *a = container_of(w, struct agent, gate_check);

	(void)loop;
	(void)revents;
	if (agent_settled(a))
		agent_open_port(a, "every probe has a first result");
}

static void agent_on_gate_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct agent *a = container_of(w, struct agent, gate_timer);
	char why[160];
	char names[128];

	(void)loop;
	(void)revents;
	agent_unsettled_names(a, names, sizeof(names));
	snprintf(why, sizeof(why), "start wait of %.0f ms over, no first result from:%s",
	         agent_start_wait(a) * 1e3, names);
	log_warning("%s", why);
	agent_open_port(a, why);
}

/* Stops and frees every probe that is on. */
static void agent_probes_free(struct agent *a)
{
	for (size_t i = 0; i < PS_COUNT; i++) {
		if (a->probes[i].on)
			ps_free(&a->probes[i]);
	}
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
	for (size_t i = 0; i < PS_COUNT; i++) {
		struct probe_slot *s = &a->probes[i];

		ps_setup(s, (enum ps_kind)i, loop, agent_on_probe, a);
		if (!ps_wanted(s->kind, conf))
			continue;
		if (ps_init(s, conf, err, errlen) == -1)
			goto out_free;
		s->on = true;
	}
	if (feed_pub_init(&a->feed, loop, &a->ns, conf->agent.heartbeat,
	                  (size_t)conf->agent.subscriber_buffer,
	                  (size_t)conf->agent.max_subscribers) == -1) {
		snprintf(err, errlen, "out of memory for the feed");
		goto out_free;
	}
	a->feed.minimal = conf->agent.expose == AGENT_EXPOSE_MINIMAL;
	hook_init(&a->hook, loop, conf->agent.node, conf->agent.cluster, conf->file);
	ev_timer_init(&a->shutdown_timer, agent_on_shutdown_timer, 0, 0);
	ev_prepare_init(&a->gate_check, agent_on_gate_check);
	ev_timer_init(&a->gate_timer, agent_on_gate_timer, 0, 0);
	ev_signal_init(&a->sig_hup, agent_on_signal, SIGHUP);
	ev_signal_init(&a->sig_term, agent_on_signal, SIGTERM);
	ev_signal_init(&a->sig_int, agent_on_signal, SIGINT);
	a->sig_hup.data = a;
	a->sig_term.data = a;
	a->sig_int.data = a;
	agent_update(a);
	return 0;

out_free:
	agent_probes_free(a);
	return -1;
}

/* Binds the agent port, starts the admin socket, fencing, the probes and the signal watchers;
 * the port listens once the start gate passes (agent.h). Returns 0, or -1 with <err>. */
int agent_start(struct agent *a, char *err, size_t errlen)
{
	double wait;

	a->started = ev_now(a->loop);
	if (port_start(&a->port, a, err, errlen) == -1)
		return -1;
	/* ops: admin state restored, admin socket and fencing started before the probes. */
	if (agent_ops_start(a, err, errlen) == -1) {
		port_stop(&a->port);
		return -1;
	}
	for (size_t i = 0; i < PS_COUNT; i++) {
		if (a->probes[i].on)
			ps_start(&a->probes[i]);
	}
	ev_signal_start(a->loop, &a->sig_hup);
	ev_signal_start(a->loop, &a->sig_term);
	ev_signal_start(a->loop, &a->sig_int);
	wait = agent_start_wait(a);
	log_info("agent %s/%s bound to %s, %zu checks (default %s); listening once every probe "
	         "has a first result (at most %.0f ms)",
	         a->conf->agent.cluster, a->conf->agent.node, a->conf->agent.listen.text,
	         a->conf->n_checks, a->conf->checks[a->conf->default_check].name, wait * 1e3);
	if (agent_settled(a)) {
		/* nothing to wait for (no probe, no peer), or all answered synchronously */
		agent_open_port(a, "every probe has a first result");
		if (!a->serving) {
			snprintf(err, errlen, "cannot listen on %s", a->conf->agent.listen.text);
			return -1;
		}
		return 0;
	}
	ev_prepare_start(a->loop, &a->gate_check);
	ev_timer_set(&a->gate_timer, wait, 0);
	ev_timer_start(a->loop, &a->gate_timer);
	return 0;
}

/* Stops everything and frees what agent_init() took, the config included. */
void agent_free(struct agent *a)
{
	/* ops: admin socket and fencing subscribers. */
	if (a->admin_on)
		admin_stop(&a->admin_srv);
	a->admin_on = false;
	agent_ops_fence_free(&a->fence);
	hook_stop(&a->hook);
	ev_prepare_stop(a->loop, &a->gate_check);
	ev_timer_stop(a->loop, &a->gate_timer);
	ev_signal_stop(a->loop, &a->sig_hup);
	ev_signal_stop(a->loop, &a->sig_term);
	ev_signal_stop(a->loop, &a->sig_int);
	ev_timer_stop(a->loop, &a->shutdown_timer);
	port_stop(&a->port);
	a->serving = false;
	feed_pub_free(&a->feed);
	agent_probes_free(a);
	free(a->conf);
	a->conf = NULL;
}

/* Is <key> one that only root could apply (another account, a port below 1024), when the agent
 * no longer runs as root? */
static bool agent_needs_root(const char *key)
{
	return geteuid() != 0 && (strcmp(key, "user") == 0 || strcmp(key, "group") == 0 ||
	                          strcmp(key, "listen") == 0 || strcmp(key, "admin_socket") == 0);
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
			    "keeping \"%s\"%s",
			    k->name, ov, nv, ov,
			    agent_needs_root(k->name) ? " (root was given up at start)" : "");
		memcpy((char *)&n->agent + k->offset, (const char *)&o->agent + k->offset,
		       cfg_value_size(k));
	}
}

/* What a reload prepared before touching anything that runs (agent_reload_prepare()). */
struct agent_reload_prep {
	struct agent_conf *n; /* the new config, loaded and validated */
	bool made[PS_COUNT];  /* <a->probes[i]> initialised (not started) for its section,
	                           which appeared */
	struct fence *fence;  /* fencing of the new [peer]s, NULL when the peers are unchanged */
};

/* Prepares the slot <s> for its section in <n>: validates a config its running probe will
 * take, or initialises (without starting) a probe whose section appeared (<*made>). Returns 0,
 * or -1 with <err> naming the section. */
static int agent_prepare_probe(struct probe_slot *s, const struct agent_conf *n, bool *made,
                               char *err, size_t errlen)
{
	char why[HR_ERR_LEN];
	char sect[32];

	if (!ps_wanted(s->kind, n))
		return 0;
	if (s->on ? ps_validate(s, n, why, sizeof(why)) == -1
	          : ps_init(s, n, why, sizeof(why)) == -1) {
		ps_section(s->kind, n, sect, sizeof(sect));
		snprintf(err, errlen, "%s: %.200s", sect, why);
		return -1;
	}
	*made = !s->on;
	return 0;
}

/* Undoes agent_reload_prepare(): frees whatever it made; the running parts are untouched. */
static void agent_reload_unprepare(struct agent *a, struct agent_reload_prep *r)
{
	for (size_t i = 0; i < PS_COUNT; i++) {
		if (r->made[i])
			ps_free(&a->probes[i]);
		r->made[i] = false;
	}
	agent_ops_fence_free(&r->fence);
	free(r->n);
	r->n = NULL;
}

/* Stage 1 of a reload: everything that can fail, nothing that changes what runs. Fills <r>.
 * Returns 0, or -1 with <err> and whatever was prepared freed. */
static int agent_reload_prepare(struct agent *a, const char *path, struct agent_reload_prep *r,
                                char *err, size_t errlen)
{
	struct agent_conf *n = malloc(sizeof(*n));
	char why[HR_ERR_LEN];

	memset(r, 0, sizeof(*r));
	if (n == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	r->n = n;
	if (agent_conf_load(n, path, err, errlen) == -1)
		goto out_fail;
	agent_keep_fixed(a->conf, n);
	for (size_t i = 0; i < PS_COUNT; i++) {
		if (agent_prepare_probe(&a->probes[i], n, &r->made[i], err, errlen) == -1)
			goto out_fail;
	}
	if (!agent_ops_same_peers(a->conf, n) &&
	    agent_ops_fence_start(a, n, &r->fence, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "[peer]: %.200s", why);
		goto out_fail;
	}
	return 0;

out_fail:
	agent_reload_unprepare(a, r);
	return -1;
}

/* Brings the slot <s> to its section in <n>; <made>: prepared by stage 1, start it. Cannot
 * fail: stage 1 validated the section. */
static void agent_commit_probe(struct probe_slot *s, const struct agent_conf *n, bool made)
{
	char err[HR_ERR_LEN];
	char sect[32];

	if (s->on && ps_wanted(s->kind, n)) {
		if (ps_reconfigure(s, n, err, sizeof(err)) == -1) {
			ps_section(s->kind, n, sect, sizeof(sect));
			log_error("reload: %s kept its old config: %s (bug: validated before)",
			          sect, err);
		}
	} else if (s->on) {
		ps_free(s);
	} else if (made) {
		s->on = true;
		s->pending = true;
		ps_start(s);
	}
}

/* SIGHUP: all or nothing (agent.h). Stage 1 prepares everything that can fail; stage 2 swaps
 * the config and starts what stage 1 prepared, keeping the node state. Returns 0, or -1 with
 * the running config fully kept and one error line logged. */
int agent_reload(struct agent *a, const char *path)
{
	struct agent_reload_prep r;
	struct agent_conf *old = a->conf;
	struct agent_conf *n;
	char err[HR_ERR_LEN];
	enum log_level lvl;

	if (agent_reload_prepare(a, path, &r, err, sizeof(err)) == -1) {
		a->stats.reload_failures++;
		log_error("reload: %s; running config kept", err);
		return -1;
	}
	/* stage 2: nothing below fails */
	n = r.n;
	a->conf = n;
	for (size_t i = 0; i < PS_COUNT; i++)
		agent_commit_probe(&a->probes[i], n, r.made[i]);
	if (r.fence != NULL) {
		agent_ops_fence_free(&a->fence);
		a->fence = r.fence;
		r.fence = NULL;
	}
	feed_pub_configure(&a->feed, n->agent.heartbeat, (size_t)n->agent.subscriber_buffer,
	                   (size_t)n->agent.max_subscribers);
	a->feed.minimal = n->agent.expose == AGENT_EXPOSE_MINIMAL;
	if (n->agent.log_level >= 0 && n->agent.log_level < LOG_LVL_COUNT) {
		lvl = (enum log_level)n->agent.log_level;
		if (log_get_level() != lvl && log_get_level() != LOG_LVL_DEBUG)
			log_set_level(lvl);
	}
	free(old);
	memset(a->stats.check_served, 0, sizeof(a->stats.check_served));
	a->stats.reloads++;
	log_info("reload: %s applied, %zu checks (default %s)", n->file, n->n_checks,
	         n->checks[n->default_check].name);
	agent_update(a);
	return 0;
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
	if (a->conf->agent.expose == AGENT_EXPOSE_MINIMAL) {
		/* the reply of a minimal agent: no reason text beyond its source */
		static char line[NS_CHECK_LINE_MAX];

		memcpy(line, a->ns.checks[i].line, sizeof(line));
		ns_minimal_line(line);
		return line;
	}
	return a->ns.checks[i].line;
}
