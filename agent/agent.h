/* agent/agent.h - haprole-agent as one object: the loop, the config, the node state, the
 * probes, the agent port and the feed. Prefix: agent_.
 *
 * Data flow (docs/design.md section 3): probe callbacks copy their results into <ns>, then
 * agent_update() evaluates every check (agent/check.h) into <ns.checks>; when anything changed,
 * <ns.seq> bumps, <ns.ts_ms> is stamped and the feed (agent/feed_pub.h) pushes one frame at
 * once. The agent port (agent/port.h) answers from <ns> only: no I/O on the request path.
 *
 * Hooks for the admin socket, the state file and fencing (agent/admin.c, statefile.c,
 * fence.c): agent_set_admin(), agent_set_fence(), agent_state(); the places
 * where they start and stop are marked "ops:" in agent.c. Single-threaded.
 *
 * Start gate: agent_start() binds the agent port but listens only once every probe has a first
 * verdict and every [peer]'s feed a first state or a first failure (agent_settled()), or once
 * agent_start_wait() has passed. Before that, every check would answer "fail #pg: not probed
 * yet", and HAProxy applies an agent reply at once: restarting the agent on a healthy primary
 * would mark it DOWN and, with on-marked-down shutdown-sessions, cut every session. A refused
 * connection is harmless instead (HAProxy keeps the agent's last answer). The first probe
 * result sets the verdict directly (agent/rise_fall.h), so a healthy node answers up at once.
 *
 * Reload (SIGHUP) is all or nothing: everything that can fail is prepared first (config
 * loaded and validated, probe configs validated, new probes initialised but not started, new
 * [peer] feeds set up); only then is the config swapped and the prepared parts started. A
 * failure frees what was prepared, keeps the old config fully in force and logs one line.
 * A probe that the reload added counts as absent in the node state until its first result
 * (<pending> of its slot, agent/probe_slot.h), so the checks keep answering as before the
 * reload instead of "fail ... not probed yet" for the moment it takes. */
#ifndef HAPROLE_AGENT_AGENT_H
#define HAPROLE_AGENT_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "agent/admin.h"
#include "agent/agent_conf.h"
#include "agent/fence.h"
#include "agent/hook.h"
#include "agent/feed_pub.h"
#include "agent/port.h"
#include "agent/probe_slot.h"
#include "common/compiler.h"
#include "common/node_state.h"

/* Buckets of the agent-check reply time histogram (accept to reply written): upper bounds in
 * seconds of all but the last bucket, which is +Inf. */
#define AGENT_REPLY_BUCKETS 10
extern const double agent_reply_bounds[AGENT_REPLY_BUCKETS - 1];

/* Start gate: seconds added to the longest time a first probe result can take. */
#define AGENT_START_MARGIN 0.1

/* Counters shown by /metrics. */
struct agent_stats {
	uint64_t agent_replies;                   /* agent-check lines answered */
	uint64_t agent_replies_default;           /* of which for an absent or empty line */
	uint64_t http_replies;                    /* HTTP responses sent */
	uint64_t unknown_checks;                  /* agent-check lines naming no check */
	uint64_t refused;                         /* connections closed at accept (max_clients) */
	uint64_t evicted;                         /* waiting connections closed for a newer one */
	uint64_t denied;                          /* connections from outside allow_from */
	uint64_t too_long;                        /* first lines or heads over max_line */
	uint64_t timeouts;                        /* connections closed by idle_timeout */
	uint64_t reloads;                         /* successful SIGHUP reloads */
	uint64_t reload_failures;                 /* refused SIGHUP reloads */
	uint64_t check_served[NS_CHECKS_MAX];     /* agent-check lines per check, by index */
	uint64_t reply_hist[AGENT_REPLY_BUCKETS]; /* agent-check reply times, per bucket */
	double reply_seconds;                     /* sum of the agent-check reply times */
};

struct agent {
	struct ev_loop *loop;             /* the one event loop */
	struct agent_conf *conf;          /* running config (heap; swapped whole on reload) */
	struct node_state ns;             /* what every dialect answers from */
	struct agent_stats stats;         /* counters for /metrics */
	bool shutting_down;               /* SIGTERM received: every check answers drain */
	enum ns_admin admin;              /* operator's admin state (agent_set_admin) */
	char admin_reason[NS_REASON_MAX]; /* its reason */
	bool fenced;                      /* local primary fenced (agent_set_fence) */
	char fence_reason[NS_REASON_MAX]; /* its reason */
	struct port port;                 /* the agent port: listener + request connections */
	struct feed_pub feed;             /* SUBSCRIBE subscribers */
	ev_signal sig_hup;                /* reload */
	ev_signal sig_term;               /* drain, then exit */
	ev_signal sig_int;                /* same as SIGTERM (foreground use) */
	ev_timer shutdown_timer;          /* end of the shutdown grace */
	ev_tstamp started;                /* ev_now() at start, for uptime */
	bool serving;                     /* the agent port listens (start gate passed) */
	ev_prepare gate_check;            /* before <serving>: once the callbacks of a loop
	                                     iteration ran, are the probes settled?
	                                     (agent_settled()) */
	ev_timer gate_timer;              /* before <serving>: agent_start_wait() deadline */
	int exit_code;                    /* what main() returns once the loop ends */
	struct admin_server admin_srv;    /* ops: admin unix socket (agent/admin.c) */
	bool admin_on;                    /* ops: <admin_srv> started */
	struct hook hook;                 /* on_role_change (agent/hook.h) */
	struct fence *fence;              /* ops: peers' feeds for fencing (agent/fence.c); heap,
	                                     replaced whole by a reload that changes [peer]s;
	                                     NULL before agent_start() */
	/* [postgres], app, nginx, indexed by enum ps_kind (agent/probe_slot.h) */
	struct probe_slot probes[PS_COUNT];
};

int agent_init(struct agent *a, struct ev_loop *loop, struct agent_conf *conf, char *err,
               size_t errlen) HR_MUSTCHECK;
int agent_start(struct agent *a, char *err, size_t errlen) HR_MUSTCHECK;
void agent_free(struct agent *a);
int agent_reload(struct agent *a, const char *path) HR_MUSTCHECK;
void agent_shutdown(struct agent *a);
void agent_update(struct agent *a);
bool agent_settled(const struct agent *a);
double agent_start_wait(const struct agent *a);

/* ---- hooks for admin (agent/admin.c), statefile and fencing (agent/fence.c) ------------ */

/* Sets the operator's admin state (ready / drain / maint) and its reason (NULL: none),
 * re-evaluates every check and publishes the change to subscribers at once. The caller has
 * persisted it already (the state file is the admin module's). */
void agent_set_admin(struct agent *a, enum ns_admin admin, const char *reason);

/* Fences (or unfences) the local primary: while fenced the writer check answers
 * "down ready #fenced: <reason>" (and app/reader refuse it too). Publishes at once. */
void agent_set_fence(struct agent *a, bool fenced, const char *reason);

const struct node_state *agent_state(const struct agent *a);

/* Whether a check of <c> follows another node's role (`follow`): then every peer frame
 * re-evaluates the checks. */
bool agent_has_follow(const struct agent_conf *c);

/* The agent-check line (no '\n') check <name>[<len>] answers now; <len> 0 is the default
 * check. Returns the line, or NULL when no check has that name. Counts the reply. */
const char *agent_check_line(struct agent *a, const char *name, size_t len);
void agent_count_reply(struct agent *a, double seconds);

#endif /* HAPROLE_AGENT_AGENT_H */
