/* agent/check.c - check policy; see check.h. Every reply is built as a struct al_reply and
 * encoded by al_format(), so the grammar lives in one place. */
#include "agent/check.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent_line.h"
#include "common/route_rule.h"

const char *const check_kind_names[] = { "writer", "reader", "app", NULL };
const char *const check_standby_names[] = { "down", "maint", NULL };
const char *const check_lag_names[] = { "drain", "down", NULL };

/* A verdict before overrides: the reply and the reason text it points to. */
struct check_verdict {
	struct al_reply r;            /* reply words; r.reason points into <why> */
	char why[NS_REASON_MAX + 32]; /* reason text */
	bool standby;                 /* healthy standby refused: standby_answer applies */
};

/* Sets state <st>, <weight> and the reason, a printf format and its arguments. */
static void check_set(struct check_verdict *v, enum al_state st, int weight, const char *fmt, ...)
    HR_PRINTF(4, 5);
static void check_set(struct check_verdict *v, enum al_state st, int weight, const char *fmt, ...)
{
	va_list ap;

	v->r.state = st;
	v->r.weight = weight;
	va_start(ap, fmt);
	vsnprintf(v->why, sizeof(v->why), fmt, ap);
	va_end(ap);
	v->r.reason = v->why;
}

/* Sets state up with <weight> and no reason. */
static void check_up(struct check_verdict *v, int weight)
{
	v->r.state = AL_UP;
	v->r.weight = weight;
	v->why[0] = '\0';
	v->r.reason = v->why;
}

/* Weight of a standby behind by <lag_bytes> / <lag_ms>: <c->weight> at no lag, falling
 * linearly to <c->min_weight> as the larger of the two lag fractions reaches 1. Sets <*over>
 * when either lag is beyond its maximum (the caller answers <c->lag_answer>). Returns the
 * percent. */
int check_reader_weight(const struct check_conf *c, uint64_t lag_bytes, uint64_t lag_ms, bool *over)
{
	double frac = 0;
	double w;

	if (c->max_lag > 0)
		frac = (double)lag_bytes / (double)c->max_lag;
	if (c->max_lag_time > 0) {
		double ft = ((double)lag_ms / 1000.0) / c->max_lag_time;

		if (ft > frac)
			frac = ft;
	}
	*over = frac > 1.0;
	if (frac > 1.0)
		frac = 1.0;
	w = (double)c->weight - ((double)(c->weight - c->min_weight)) * frac;
	if (w < (double)c->min_weight)
		w = (double)c->min_weight;
	return (int)lround(w);
}

/* PostgreSQL part common to writer and app: returns true when the local PG is a primary that
 * may take writes; else fills <v>. The test is the one writer rule's, node by node
 * (rr_node_verdict()); a primary in maint passes here and the admin override in check_eval()
 * answers maint, as for every check. */
static bool check_pg_primary(const struct node_state *ns, struct check_verdict *v)
{
	switch (rr_node_verdict(ns)) {
	case RR_V_WRITER:
	case RR_V_MAINT:
		return true;
	case RR_V_FENCED:
		check_set(v, AL_DOWN, -1, "fenced: %s",
		          ns->fence_reason[0] != '\0' ? ns->fence_reason : "by a peer");
		return false;
	case RR_V_STANDBY:
		check_set(v, AL_DOWN, -1, "pg: standby");
		v->standby = true;
		return false;
	case RR_V_DOWN:
		if (!ns->pg.up) {
			check_set(v, AL_FAIL, -1, "pg: %s",
			          ns->pg.err[0] != '\0' ? ns->pg.err : "down");
			return false;
		}
		break;
	case RR_V_NO_PG:
		check_set(v, AL_DOWN, -1, "pg: no postgres probe on this node");
		return false;
	case RR_V_READER:
	case RR_V_STALE:
	case RR_V_FOREIGN:
	case RR_V_OUTRANKED:
	case RR_V_SPLIT:
	case RR_V_DRAIN:
	case RR_V_NOT_STREAMING:
	case RR_V_LAGGING:
	case RR_V_COUNT:
		break; /* cluster-wide verdicts: rr_node_verdict() never gives them */
	}
	check_set(v, AL_FAIL, -1, "pg: role unknown");
	return false;
}

static void check_writer(const struct check_conf *c, const struct node_state *ns,
                         struct check_verdict *v)
{
	if (!ns->pg.present) {
		check_set(v, AL_DOWN, -1, "pg: no postgres probe on this node");
		return;
	}
	if (check_pg_primary(ns, v))
		check_up(v, (int)c->weight);
}

static void check_reader(const struct check_conf *c, const struct node_state *ns,
                         struct check_verdict *v)
{
	bool over = false;
	int w;

	if (!ns->pg.present) {
		check_set(v, AL_DOWN, -1, "pg: no postgres probe on this node");
		return;
	}
	if (!ns->pg.up) {
		check_set(v, AL_FAIL, -1, "pg: %s", ns->pg.err[0] != '\0' ? ns->pg.err : "down");
		return;
	}
	switch (ns->pg.role) {
	case NS_ROLE_PRIMARY:
		if (ns->fenced)
			check_set(v, AL_DOWN, -1, "fenced: %s",
			          ns->fence_reason[0] != '\0' ? ns->fence_reason : "by a peer");
		else
			check_up(v, (int)c->primary_weight);
		return;
	case NS_ROLE_STANDBY:
		if (!ns->pg.streaming) {
			check_set(v, AL_DOWN, -1, "pg: standby not streaming");
			return;
		}
		w = check_reader_weight(c, ns->pg.lag_bytes, ns->pg.lag_ms, &over);
		if (over) {
			snprintf(v->why, sizeof(v->why), "pg: lag %llu bytes %llu ms",
			         (unsigned long long)ns->pg.lag_bytes,
			         (unsigned long long)ns->pg.lag_ms);
			/* drain: new sessions go elsewhere, open ones stay; down: HAProxy marks
			 * the server DOWN at once (agent replies have no rise/fall), so
			 * on-marked-down shutdown-sessions cuts pooled reads on stale data */
			if (c->lag_answer == CHECK_LAG_DOWN) {
				v->r.state = AL_DOWN;
				v->r.admin = NS_ADMIN_READY;
			} else {
				v->r.state = AL_UP;
				v->r.admin = NS_ADMIN_DRAIN;
			}
			v->r.weight = -1;
			v->r.reason = v->why;
			return;
		}
		check_up(v, w);
		return;
	case NS_ROLE_UNKNOWN:
	case NS_ROLE_COUNT:
		break;
	}
	check_set(v, AL_FAIL, -1, "pg: role unknown");
}

static void check_app(const struct check_conf *c, const struct node_state *ns,
                      const struct check_view *view, struct check_verdict *v)
{
	if (ns->app.present && !ns->app.up) {
		check_set(v, AL_FAIL, -1, "app: %s", ns->app.err[0] != '\0' ? ns->app.err : "down");
		return;
	}
	if (ns->nginx.present && !ns->nginx.up) {
		check_set(v, AL_FAIL, -1, "nginx: %s",
		          ns->nginx.err[0] != '\0' ? ns->nginx.err : "down");
		return;
	}
	if (c->follow[0] != '\0') {
		/* the database is elsewhere: follow its writer as the peers' feeds show it */
		if (view == NULL) {
			check_set(v, AL_FAIL, -1, "follow %s: no view of the cluster", c->follow);
			return;
		}
		if (strcmp(view->writer, c->follow) != 0) {
			snprintf(v->why, sizeof(v->why),
			         "follow: %.60s is not the writer (%s%.60s)", c->follow,
			         view->writer[0] != '\0' ? "writer " : "",
			         view->writer[0] != '\0' ? view->writer : view->status);
			v->r.state = AL_DOWN;
			v->r.weight = -1;
			v->r.reason = v->why;
			v->standby = true; /* healthy, just not the active one: standby_answer */
			return;
		}
		check_up(v, (int)c->weight);
		return;
	}
	if (ns->pg.present && !check_pg_primary(ns, v))
		return;
	check_up(v, (int)c->weight);
}

/* Writes into <line> (<linelen> bytes, NUL-terminated, no '\n') the agent-check line check
 * <c> answers for node state <ns>; <shutting_down> drains everything (SIGTERM grace).
 * Returns the line length, or -1 (EINVAL: a config value out of range; ENOBUFS). */
int check_eval(const struct check_conf *c, const struct node_state *ns, bool shutting_down,
               char *line, size_t linelen)
{
	return check_eval_view(c, ns, NULL, shutting_down, line, linelen);
}

/* check_eval() with the cluster view <view> (NULL: none) that `follow` needs. */
int check_eval_view(const struct check_conf *c, const struct node_state *ns,
                    const struct check_view *view, bool shutting_down, char *line, size_t linelen)
{
	struct check_verdict v;
	char admin_why[NS_REASON_MAX + 16];

	memset(&v, 0, sizeof(v));
	v.r.admin = NS_ADMIN_READY;
	v.r.weight = -1;
	switch ((enum check_kind)c->kind) {
	case CHECK_KIND_WRITER:
		check_writer(c, ns, &v);
		break;
	case CHECK_KIND_READER:
		check_reader(c, ns, &v);
		break;
	case CHECK_KIND_APP:
		check_app(c, ns, view, &v);
		break;
	case CHECK_KIND_COUNT:
		errno = EINVAL;
		return -1;
	}
	if (v.r.state == AL_UP && c->maxconn > 0)
		v.r.maxconn = c->maxconn;
	if (v.standby && c->standby_answer == CHECK_STANDBY_MAINT)
		v.r.admin = NS_ADMIN_MAINT;
	/* overrides, by severity: the operator's state, then the shutdown grace */
	if (shutting_down && v.r.admin < NS_ADMIN_DRAIN) {
		v.r.admin = NS_ADMIN_DRAIN;
		v.r.reason = "shutdown";
	}
	if (ns->admin != NS_ADMIN_READY && ns->admin >= v.r.admin) {
		v.r.admin = ns->admin;
		snprintf(admin_why, sizeof(admin_why), "admin: %s",
		         ns->admin_reason[0] != '\0' ? ns->admin_reason : ns_admin_name(ns->admin));
		v.r.reason = admin_why;
	}
	return al_format(&v.r, line, linelen);
}
