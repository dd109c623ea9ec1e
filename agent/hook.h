/* agent/hook.h - the role-change hook: `on_role_change = /path/script` runs once per change of
 * the local PostgreSQL's role, never blocking the loop. Prefix: hook_.
 *
 * A role change is a change between the last two roles PostgreSQL answered with (primary,
 * standby): a probe that goes down and comes back in the same role is no change, a standby
 * promoted is one (standby -> primary), an old primary rewound and started as a standby is one
 * (primary -> standby). The first role seen after the start is no change.
 *
 * The script runs as `SCRIPT OLD NEW NODE TIMELINE` (e.g. `standby primary db2 2`) with the
 * environment of the agent plus HAPROLE_OLD_ROLE, HAPROLE_NEW_ROLE, HAPROLE_NODE,
 * HAPROLE_CLUSTER, HAPROLE_TIMELINE and HAPROLE_CONFIG (the agent's config file): fork + exec,
 * stdin /dev/null, stdout and stderr the agent's stderr, in its own process group, every other
 * descriptor closed. One hook runs at a time: changes that happen meanwhile wait in a bounded
 * queue (HOOK_QUEUE_MAX; beyond it the change is dropped with an error) and run in order, each
 * once. A hook still running after <timeout> is killed (SIGKILL to its process group). Its end
 * is logged with the exit status or signal. A failing, hanging or missing script never affects
 * the checks: routing follows PostgreSQL, not the hook.
 *
 * States: IDLE (nothing runs) -> RUNNING (child watcher + deadline) -> IDLE on its exit; a
 * deadline kills it and it stays RUNNING until reaped. Needs libev's default loop (ev_child). */
#ifndef HAPROLE_AGENT_HOOK_H
#define HAPROLE_AGENT_HOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <ev.h>

#include "common/node_state.h"

#define HOOK_QUEUE_MAX 8   /* role changes waiting while a hook runs */
#define HOOK_PATH_MAX  256 /* script path, with NUL */

enum hook_state {
	HOOK_ST_IDLE = 0, /* no hook runs */
	HOOK_ST_RUNNING,  /* a child runs: <child> and <timer> armed */
	HOOK_ST_COUNT     /* keep last */
};

/* One role change to report. */
struct hook_job {
	enum ns_role old_role;    /* role before */
	enum ns_role new_role;    /* role after */
	uint32_t tl;              /* timeline after */
	char path[HOOK_PATH_MAX]; /* script, as configured when the change happened */
	double timeout;           /* its deadline (s), as configured then */
};

struct hook {
	struct ev_loop *loop;                  /* libev's default loop */
	enum hook_state state;                 /* written by hook_set_state() only */
	char node[NS_NAME_MAX];                /* HAPROLE_NODE */
	char cluster[NS_NAME_MAX];             /* HAPROLE_CLUSTER */
	char config[HOOK_PATH_MAX];            /* HAPROLE_CONFIG */
	enum ns_role last_role;                /* last primary/standby seen; UNKNOWN before any */
	struct hook_job queue[HOOK_QUEUE_MAX]; /* waiting changes, oldest at <head> */
	size_t head;                           /* index of the oldest waiting job */
	size_t n_queued;                       /* waiting jobs */
	struct hook_job cur;                   /* the job running */
	pid_t pid;                             /* its child, 0 when none */
	bool killed;                           /* the deadline killed it */
	ev_child child;                        /* its exit */
	ev_timer timer;                        /* its deadline */
	ev_tstamp started;                     /* ev_now() at its start */
	uint64_t runs;                         /* hooks started */
	uint64_t failures;                     /* hooks that exited non-zero, were killed or
	                                         could not start */
	uint64_t dropped;                      /* changes dropped: queue full */
};

void hook_init(struct hook *h, struct ev_loop *loop, const char *node, const char *cluster,
               const char *config);
void hook_role_seen(struct hook *h, const struct ns_pg *pg, const char *path, double timeout);
void hook_stop(struct hook *h);
const char *hook_state_name(enum hook_state s);

#endif /* HAPROLE_AGENT_HOOK_H */
