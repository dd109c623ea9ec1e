/* agent/check.h - check policy: node state + one check's config -> the agent-check line it
 * answers now (docs/design.md section 6). Prefix: check_.
 *
 * Pure: no I/O, no clock, no allocation; every line goes through al_format(). Kinds:
 *   writer  up when the local PostgreSQL is a reachable primary that is not fenced
 *   reader  up for a streaming standby, weight falling with lag; past max_lag answered as
 *           lag_answer says (drain, or down); the primary serves reads at primary_weight
 *   app     up when the app and nginx probes pass and, where the node has a local PostgreSQL,
 *           only where it is the primary; with `follow = NODE` instead: only while NODE is
 *           the cluster's writer as the peers' feeds show it (common/route_rule.h), so an
 *           app node on its own host flips with the database (check_eval_view)
 * Then overrides, most severe admin word wins (maint > drain > ready):
 *   operator admin state (reason "admin: ..."), shutdown grace (drain, reason "shutdown"),
 *   a healthy standby answered as configured by standby_answer (down, or down + maint).
 * A probe that fails gives "fail", a healthy node that is not what the check wants "down". */
#ifndef HAPROLE_AGENT_CHECK_H
#define HAPROLE_AGENT_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cfg.h"
#include "common/compiler.h"
#include "common/node_state.h"

enum check_kind {
	CHECK_KIND_WRITER = 0, /* the primary, for writes */
	CHECK_KIND_READER,     /* standbys by lag, the primary at primary_weight */
	CHECK_KIND_APP,        /* app + nginx, and PG primary where there is a local PG */
	CHECK_KIND_COUNT       /* keep last */
};

enum check_standby_answer {
	CHECK_STANDBY_DOWN = 0, /* "down ready #pg: standby": HAProxy shows DOWN */
	CHECK_STANDBY_MAINT,    /* "down maint #pg: standby": HAProxy shows MAINT, not a failure */
	CHECK_STANDBY_COUNT     /* keep last */
};

/* How a reader answers for a streaming standby past max_lag / max_lag_time. HAProxy's DRAIN
 * keeps the sessions already open (a pooled read connection stays on the stale standby);
 * DOWN lets a server with "on-marked-down shutdown-sessions" cut them. */
enum check_lag_answer {
	CHECK_LAG_DRAIN = 0, /* "up drain #pg: lag ...": only new sessions leave */
	CHECK_LAG_DOWN,      /* "down ready #pg: lag ...": HAProxy shows DOWN at once */
	CHECK_LAG_COUNT      /* keep last */
};

/* One [check NAME] section. Integer fields are int64_t and enums int: cfg key table types. */
struct check_conf {
	char name[NS_NAME_MAX];   /* from the section header; what agent-send names */
	int kind;                 /* enum check_kind */
	int standby_answer;       /* enum check_standby_answer (writer, app) */
	int lag_answer;           /* enum check_lag_answer (reader, past max_lag / max_lag_time) */
	int64_t weight;           /* percent announced when up (writer, app; reader at no lag) */
	int64_t primary_weight;   /* reader: percent announced by a primary */
	int64_t min_weight;       /* reader: percent at a lag just below max_lag */
	uint64_t max_lag;         /* reader: bytes behind beyond which lag_answer applies */
	double max_lag_time;      /* reader: seconds behind beyond which too; 0: not used */
	int64_t maxconn;          /* > 0: announce maxconn:N when up; 0: never */
	char follow[NS_NAME_MAX]; /* app: up only while this node is the cluster's writer; "" off */
	struct cfg_seen seen;     /* keys set in this section (duplicates are refused) */
};

extern const char *const check_kind_names[];
extern const char *const check_standby_names[];
extern const char *const check_lag_names[];

/* The cluster as the peers' feeds show it, for `follow`: the writer's node name ("" none) and
 * the route rule's status ("ok", "no-primary", ...). */
struct check_view {
	const char *writer; /* the cluster's writer, "" when there is none */
	const char *status; /* why there is none */
};

int check_eval(const struct check_conf *c, const struct node_state *ns, bool shutting_down,
               char *line, size_t linelen) HR_MUSTCHECK;
int check_eval_view(const struct check_conf *c, const struct node_state *ns,
                    const struct check_view *view, bool shutting_down, char *line,
                    size_t linelen) HR_MUSTCHECK;
int check_reader_weight(const struct check_conf *c, uint64_t lag_bytes, uint64_t lag_ms,
                        bool *over);

#endif /* HAPROLE_AGENT_CHECK_H */
