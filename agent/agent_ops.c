/* agent/agent_ops.c - the agent's operations side: the admin socket (agent/admin.c) and fencing
 * (agent/fence.c) wired to the agent object. See agent_ops.h. */
#include "agent/agent_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

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

/* A peer's feed moved: what `follow` checks answer may have changed. Only agents with such a
 * check re-evaluate on every peer frame (agent_update returns early when nothing changed). */
static void agent_ops_peers_changed(void *arg)
{
	struct agent *a = arg;

	if (agent_has_follow(a->conf))
		agent_update(a);
}

/* Subscribes to the [peer NAME] feeds of <c> with a fresh struct fence, returned in <*out>
 * (heap). Returns 0, or -1 with <err> and nothing running. */
int agent_ops_fence_start(struct agent *a, const struct agent_conf *c, struct fence **out,
                          char *err, size_t errlen)
{
	static const struct fence_ops ops = { agent_ops_local, agent_ops_set_fence,
		                              agent_ops_peers_changed, NULL };
	struct fence_peer_conf peers[AGENT_CONF_PEERS_MAX];
	struct fence_ops o = ops;
	struct fence *f = calloc(1, sizeof(*f));

	*out = NULL;
	if (f == NULL) {
		snprintf(err, errlen, "fence: out of memory");
		return -1;
	}
	o.arg = a;
	for (size_t i = 0; i < c->n_peers; i++) {
		memcpy(peers[i].name, c->peers[i].name, sizeof(peers[i].name));
		peers[i].address = c->peers[i].address;
	}
	if (fence_start(f, a->loop, peers, c->n_peers, c->agent.heartbeat, &o, err, errlen) == -1) {
		free(f);
		return -1;
	}
	*out = f;
	return 0;
}

/* Stops and frees <*f>; NULLs it. */
void agent_ops_fence_free(struct fence **f)
{
	if (*f == NULL)
		return;
	fence_stop(*f);
	free(*f);
	*f = NULL;
}

/* Restores the persisted admin state and opens the admin socket, then starts fencing. */
int agent_ops_start(struct agent *a, char *err, size_t errlen)
{
	struct admin_ops ops = { agent_ops_set_admin, agent_ops_status, agent_ops_local, a };
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
	if (agent_ops_fence_start(a, a->conf, &a->fence, err, errlen) == -1) {
		if (a->admin_on)
			admin_stop(&a->admin_srv);
		a->admin_on = false;
		return -1;
	}
	return 0;
}

/* Whether <n> watches the same peers as <o> (then fencing keeps running, with its evidence). */
bool agent_ops_same_peers(const struct agent_conf *o, const struct agent_conf *n)
{
	bool same = o->n_peers == n->n_peers && o->agent.heartbeat == n->agent.heartbeat;

	for (size_t i = 0; same && i < n->n_peers; i++)
		same = strcmp(o->peers[i].name, n->peers[i].name) == 0 &&
		       strcmp(o->peers[i].address.text, n->peers[i].address.text) == 0;
	return same;
}
