/* agent/agent_ops.h - the admin socket and fencing, wired to the agent object (agent/agent.h).
 * Prefix: agent_ops_. Called by agent_start() and agent_reload() only. */
#ifndef HAPROLE_AGENT_AGENT_OPS_H
#define HAPROLE_AGENT_AGENT_OPS_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/agent.h"
#include "common/compiler.h"

/* Restores the persisted admin state and opens the admin socket, then starts fencing.
 * Returns 0, or -1 with <err> and nothing of it running. */
int agent_ops_start(struct agent *a, char *err, size_t errlen) HR_MUSTCHECK;

/* Subscribes to the [peer NAME] feeds of <c> with a fresh struct fence, returned in <*out>
 * (heap). Returns 0, or -1 with <err> and nothing running. */
int agent_ops_fence_start(struct agent *a, const struct agent_conf *c, struct fence **out,
                          char *err, size_t errlen) HR_MUSTCHECK;

/* Stops and frees <*f>; NULLs it. */
void agent_ops_fence_free(struct fence **f);

/* Whether <n> watches the same peers as <o> (then fencing keeps running, with its evidence). */
bool agent_ops_same_peers(const struct agent_conf *o, const struct agent_conf *n);

#endif /* HAPROLE_AGENT_AGENT_OPS_H */
