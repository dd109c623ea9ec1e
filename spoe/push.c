/* spoe/push.c - push mode: the routing decision set on HAProxy's servers through its runtime
 * API, old writer out before the new one in, each step read back (spoe/push.h). */
#include "spoe/push.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"

#define PUSH_TX_MAX      8192  /* one line of commands: a few per server */
#define PUSH_RX_MAX      65536 /* `show servers state` of two backends */
#define PUSH_BACKOFF_MIN 0.1   /* first retry after a failed exchange (s) */
#define PUSH_STREAK_MAX  4     /* steps in a row that HAProxy did not keep: back off */

static const char *const push_state_names[PUSH_ST_COUNT] = {
	[PUSH_ST_IDLE] = "IDLE", [PUSH_ST_VERIFY] = "VERIFY",   [PUSH_ST_OUT] = "OUT",
	[PUSH_ST_IN] = "IN",     [PUSH_ST_BACKOFF] = "BACKOFF",
};

static const char *const push_want_names[PUSH_WANT_COUNT] = {
	[PUSH_WANT_READY] = "ready",
	[PUSH_WANT_DRAIN] = "drain",
	[PUSH_WANT_MAINT] = "maint",
};

const char *push_state_name(enum push_state st)
{
	return st < PUSH_ST_COUNT ? push_state_names[st] : "?";
}

const char *push_want_name(enum push_want w)
{
	return w < PUSH_WANT_COUNT ? push_want_names[w] : "?";
}

/* ---- the plan (pure) --------------------------------------------------------------------- */

int push_plan(const struct spoa_haproxy_conf *h, const struct cluster_view *cv, size_t cluster,
              struct push_plan *out, char *err, size_t errlen)
{
	const struct cv_cluster *c = &cv->clusters[cluster];
	const char *backends[2] = { h->writer_backend, h->reader_backend };

	out->n = 0;
	if (c->n_nodes > PUSH_SERVERS_MAX) {
		snprintf(err, errlen, "[haproxy %s]: cluster %s has %zu nodes, at most %d", h->name,
		         c->name, c->n_nodes, PUSH_SERVERS_MAX);
		return -1;
	}
	for (size_t b = 0; b < 2; b++) {
		if (backends[b][0] == '\0')
			continue;
		for (size_t i = 0; i < c->n_nodes; i++) {
			const char *srv = cv->nodes[c->node_idx[i]].server;
			struct push_server *s = &out->s[out->n++];
			const char *chosen = b == 0 ? c->writer : c->reader;

			s->backend = backends[b];
			snprintf(s->server, sizeof(s->server), "%s", srv);
			if (chosen[0] != '\0' && strcmp(chosen, srv) == 0)
				s->want = PUSH_WANT_READY;
			else
				s->want = b == 0 ? PUSH_WANT_MAINT : PUSH_WANT_DRAIN;
		}
	}
	return 0;
}

/* Is <st> what <want> asks for? */
static bool push_is_met(enum push_want want, const struct rapi_server_state *st)
{
	switch (want) {
	case PUSH_WANT_READY:
		return !(st->admin_state & (RAPI_ADMF_FMAINT | RAPI_ADMF_FDRAIN)) &&
		       (st->op_state == RAPI_OP_RUNNING || st->op_state == RAPI_OP_STARTING);
	case PUSH_WANT_DRAIN:
		return (st->admin_state & RAPI_ADMF_FDRAIN) &&
		       !(st->admin_state & RAPI_ADMF_FMAINT);
	case PUSH_WANT_MAINT:
		return (st->admin_state & RAPI_ADMF_FMAINT) != 0;
	case PUSH_WANT_COUNT:
		break;
	}
	return false;
}

static const struct rapi_server_state *push_find(const struct rapi_server_state *st, size_t n,
                                                 const struct push_server *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(st[i].backend, s->backend) == 0 && strcmp(st[i].server, s->server) == 0)
			return &st[i];
	return NULL;
}

/* ---- the steps --------------------------------------------------------------------------- */

static void push_set_state(struct push_target *t, enum push_state to, double delay)
{
	struct ev_loop *loop = t->set->loop;

	log_debug("push %s: %s -> %s", t->conf->name, push_state_name(t->state),
	          push_state_name(to));
	t->state = to;
	ev_timer_stop(loop, &t->timer);
	switch (to) {
	case PUSH_ST_IDLE:
	case PUSH_ST_BACKOFF:
		ev_timer_set(&t->timer, delay, 0);
		ev_timer_start(loop, &t->timer);
		return;
	case PUSH_ST_VERIFY:
	case PUSH_ST_OUT:
	case PUSH_ST_IN:
	case PUSH_ST_COUNT:
		return; /* the exchange's own deadline governs */
	}
}

static void push_fail(struct push_target *t, const char *fmt, ...) HR_PRINTF(2, 3);
static void push_fail(struct push_target *t, const char *fmt, ...)
{
	char why[sizeof(t->last_err)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	t->failures++;
	if (strcmp(why, t->last_err) != 0)
		log_warning("push %s (%s): %s; retrying", t->conf->name, t->conf->runtime_api, why);
	snprintf(t->last_err, sizeof(t->last_err), "%s", why);
	push_set_state(t, PUSH_ST_BACKOFF, t->backoff);
	t->backoff =
	    t->backoff * 2 > t->conf->verify_interval ? t->conf->verify_interval : t->backoff * 2;
}

/* Starts one exchange of <line> in <state>; a failure to start is a failed exchange. */
static void push_send(struct push_target *t, enum push_state state, const char *line)
{
	if (rapi_exchange(&t->rc, &t->conf->target, line, t->conf->timeout) < 0) {
		push_fail(t, "%s: %s", t->conf->target.is_unix ? "connect" : "start",
		          strerror(errno));
		return;
	}
	push_set_state(t, state, 0);
}

/* Appends "[prefix ]CMD" (';'-separated) to <line>. Returns 0, or -1 when it does not fit. */
static int push_cmd(const struct push_target *t, char *line, size_t size, size_t *len,
                    const char *cmd)
{
	int n = snprintf(line + *len, size - *len, "%s%s%s%s", *len > 0 ? "; " : "",
	                 t->conf->prefix, t->conf->prefix[0] != '\0' ? " " : "", cmd);

	if (n < 0 || (size_t)n >= size - *len)
		return -1;
	*len += (size_t)n;
	return 0;
}

/* Reads the servers' state back; <periodic>: the timer asked, not a change or a step. */
static void push_verify(struct push_target *t, bool periodic)
{
	char line[512];
	char cmd[160];
	size_t len = 0;

	snprintf(cmd, sizeof(cmd), "show servers state %s", t->conf->writer_backend);
	if (push_cmd(t, line, sizeof(line), &len, cmd) < 0)
		goto out_long;
	if (t->conf->reader_backend[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "show servers state %s", t->conf->reader_backend);
		if (push_cmd(t, line, sizeof(line), &len, cmd) < 0)
			goto out_long;
	}
	t->dirty = false;
	t->periodic = periodic;
	push_send(t, PUSH_ST_VERIFY, line);
	return;

out_long:
	push_fail(t, "command line too long");
}

/* True while our view of <t>'s cluster is still "stale" for want of a first feed state, during
 * the first 3 heartbeats after start: a decision then is no decision yet. */
static bool push_in_grace(const struct push_target *t)
{
	const struct cv_cluster *c = &t->set->cv->clusters[t->cluster];

	return c->d.status == CV_STATUS_STALE && ev_now(t->set->loop) < t->set->grace_until;
}

/* After a read-back: sends the next step (OUT before IN), or goes IDLE when in sync. */
static void push_next_step(struct push_target *t, const struct rapi_server_state *st, size_t n)
{
	static char line[PUSH_TX_MAX - 1];
	char cmd[192];
	size_t len = 0;
	bool need_out = false;
	bool need_in = false;

	if (push_in_grace(t)) {
		/* just started, feeds not heard yet: HAProxy keeps what it has (a restart of ours
		 * must not take a working writer out); the grace ends after 3 heartbeats */
		push_set_state(t, PUSH_ST_IDLE, t->conf->verify_interval);
		return;
	}
	for (size_t i = 0; i < t->plan.n; i++) {
		const struct push_server *s = &t->plan.s[i];
		const struct rapi_server_state *cur = push_find(st, n, s);

		if (cur == NULL || push_is_met(s->want, cur))
			continue; /* a node that is no server of this backend, or in sync */
		if (s->want == PUSH_WANT_READY)
			need_in = true;
		else
			need_out = true;
	}
	if (!need_out && !need_in) {
		if (t->last_err[0] != '\0')
			log_info("push %s: in sync again", t->conf->name);
		t->last_err[0] = '\0';
		t->backoff = PUSH_BACKOFF_MIN;
		t->applied_streak = 0;
		push_set_state(t, PUSH_ST_IDLE, t->conf->verify_interval);
		return;
	}
	if (++t->applied_streak > PUSH_STREAK_MAX) {
		t->applied_streak = 0;
		push_fail(t, "HAProxy does not keep the servers' state we set (agent checks on the "
		             "writer backend?)");
		return;
	}
	if (t->periodic) {
		/* nothing of ours was under way: HAProxy changed (reloaded, restarted, an operator) */
		t->resyncs++;
		log_info("push %s: HAProxy's servers differ from the routing decision: resyncing",
		         t->conf->name);
	}
	/* OUT first: every server that must leave, before anyone enters */
	for (size_t i = 0; i < t->plan.n; i++) {
		const struct push_server *s = &t->plan.s[i];
		const struct rapi_server_state *cur = push_find(st, n, s);
		int r = 0;

		if (cur == NULL || push_is_met(s->want, cur))
			continue;
		if (need_out && s->want != PUSH_WANT_READY) {
			snprintf(cmd, sizeof(cmd), "set server %s/%s state %s", s->backend,
			         s->server, push_want_name(s->want));
			r = push_cmd(t, line, sizeof(line), &len, cmd);
			if (r == 0 && s->want == PUSH_WANT_MAINT) {
				snprintf(cmd, sizeof(cmd), "shutdown sessions server %s/%s",
				         s->backend, s->server);
				r = push_cmd(t, line, sizeof(line), &len, cmd);
			}
			log_info("push %s: %s/%s -> %s", t->conf->name, s->backend, s->server,
			         push_want_name(s->want));
		} else if (!need_out && s->want == PUSH_WANT_READY) {
			snprintf(cmd, sizeof(cmd), "set server %s/%s state ready", s->backend,
			         s->server);
			r = push_cmd(t, line, sizeof(line), &len, cmd);
			snprintf(cmd, sizeof(cmd), "set server %s/%s health up", s->backend,
			         s->server);
			r |= push_cmd(t, line, sizeof(line), &len, cmd);
			log_info("push %s: %s/%s -> ready", t->conf->name, s->backend, s->server);
		}
		if (r != 0) {
			push_fail(t, "command line too long");
			return;
		}
	}
	t->applied++;
	push_send(t, need_out ? PUSH_ST_OUT : PUSH_ST_IN, line);
}

/* The first non-blank line of <answer>, for an error message. */
static void push_first_line(const char *answer, size_t len, char *out, size_t outlen)
{
	size_t i = 0;
	size_t j;

	while (i < len && (answer[i] == '\n' || answer[i] == '\r' || answer[i] == ' '))
		i++;
	for (j = i; j < len && answer[j] != '\n' && answer[j] != '\r'; j++)
		;
	snprintf(out, outlen, "%.*s", (int)(j - i), answer + i);
}

static void push_rapi_done(struct rapi_conn *rc, int err, const char *answer, size_t len, void *arg)
{
	static struct rapi_server_state st[2 * PUSH_SERVERS_MAX + 64];
	struct push_target *t = arg;
	const char *why = NULL;
	char first[96];
	size_t n = 0;

	(void)rc;
	if (err != 0) {
		push_fail(t, "%s %s", push_state_name(t->state), strerror(err));
		return;
	}
	t->exchanges++;
	switch (t->state) {
	case PUSH_ST_VERIFY:
		if (rapi_parse_servers_state(answer, len, st, sizeof(st) / sizeof(st[0]), &n,
		                             &why) < 0) {
			push_first_line(answer, len, first, sizeof(first));
			push_fail(t, "show servers state: %s: \"%s\"", why, first);
			return;
		}
		if (t->dirty) {
			push_verify(
			    t, false); /* the view moved meanwhile: read again, act on the latest */
			return;
		}
		push_next_step(t, st, n);
		return;
	case PUSH_ST_OUT:
	case PUSH_ST_IN:
		push_first_line(answer, len, first, sizeof(first));
		if (first[0] != '\0') {
			push_fail(t, "%s: HAProxy answered \"%s\"", push_state_name(t->state),
			          first);
			return;
		}
		push_verify(t, false); /* read back before the next step */
		return;
	case PUSH_ST_IDLE:
	case PUSH_ST_BACKOFF:
	case PUSH_ST_COUNT:
		return;
	}
}

static void push_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct push_target *t = container_of(w, struct push_target, timer);

	(void)loop;
	(void)revents;
	push_verify(t, t->state == PUSH_ST_IDLE);
}

/* ---- the set ----------------------------------------------------------------------------- */

/* Re-plans <t> from the view; a plan that cannot be made keeps the previous one. */
static void push_replan(struct push_target *t)
{
	char err[160];
	struct push_plan next;

	if (push_plan(t->conf, t->set->cv, t->cluster, &next, err, sizeof(err)) < 0) {
		log_error("push %s: %s", t->conf->name, err);
		return;
	}
	t->plan = next;
	t->applied_streak = 0;
}

int push_init(struct push_set *p, struct ev_loop *loop, const struct spoa_conf *conf,
              const struct cluster_view *cv, char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	p->loop = loop;
	p->cv = cv;
	p->grace_until = ev_now(loop) + 3 * conf->heartbeat;
	for (size_t i = 0; i < conf->n_haproxies; i++) {
		struct push_target *t = &p->t[i];
		const struct spoa_haproxy_conf *h = &conf->haproxies[i];
		size_t c;

		for (c = 0; c < cv->n_clusters; c++)
			if (strcmp(cv->clusters[c].name, h->cluster) == 0)
				break;
		if (c == cv->n_clusters) {
			snprintf(err, errlen, "[haproxy %s]: no cluster %s in the view", h->name,
			         h->cluster);
			goto out_free;
		}
		t->set = p;
		t->conf = h;
		t->cluster = c;
		t->backoff = PUSH_BACKOFF_MIN;
		ev_timer_init(&t->timer, push_timer_cb, 0, 0);
		if (rapi_init(&t->rc, loop, PUSH_TX_MAX, PUSH_RX_MAX, push_rapi_done, t) < 0) {
			snprintf(err, errlen, "[haproxy %s]: %s", h->name, strerror(errno));
			goto out_free;
		}
		p->n = i + 1;
		if (push_plan(h, cv, c, &t->plan, err, errlen) < 0)
			goto out_free;
	}
	return 0;

out_free:
	push_free(p);
	return -1;
}

void push_set_view(struct push_set *p, const struct cluster_view *cv)
{
	p->cv = cv;
}

void push_start(struct push_set *p)
{
	for (size_t i = 0; i < p->n; i++) {
		push_replan(&p->t[i]); /* the view may have moved since push_init() */
		log_info("push %s: following cluster %s on %s (writer backend %s%s%s)",
		         p->t[i].conf->name, p->t[i].conf->cluster, p->t[i].conf->runtime_api,
		         p->t[i].conf->writer_backend,
		         p->t[i].conf->reader_backend[0] != '\0' ? ", reader backend " : "",
		         p->t[i].conf->reader_backend);
		push_verify(&p->t[i], false);
	}
}

void push_view_changed(struct push_set *p)
{
	for (size_t i = 0; i < p->n; i++) {
		struct push_target *t = &p->t[i];

		push_replan(t);
		switch (t->state) {
		case PUSH_ST_IDLE:
		case PUSH_ST_BACKOFF:
			push_verify(t, false);
			break;
		case PUSH_ST_VERIFY:
		case PUSH_ST_OUT:
		case PUSH_ST_IN:
			t->dirty = true; /* acted on when the exchange under way ends */
			break;
		case PUSH_ST_COUNT:
			break;
		}
	}
}

void push_free(struct push_set *p)
{
	for (size_t i = 0; i < p->n; i++) {
		if (p->loop != NULL)
			ev_timer_stop(p->loop, &p->t[i].timer);
		rapi_free(&p->t[i].rc);
	}
	p->n = 0;
}
