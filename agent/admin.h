/* agent/admin.h - the agent's admin unix socket: the only way to drain, maint or ready a node
 * (docs/design.md section 5: the network port never accepts these). Prefix: admin_.
 *
 * Protocol: one command per line, one reply line per command, several commands per connection:
 *     drain [REASON]   ->  ok drain        no new sessions (HAProxy DRAIN)
 *     maint [REASON]   ->  ok maint        out of service (HAProxy MAINT)
 *     ready            ->  ok ready        back in service
 *     status           ->  {JSON node state on one line}
 *     state            ->  state HEX       the node state as one feed frame (common/node_state.h),
 *                                          hex: what haprolectl decodes, never a JSON parser
 *     anything else    ->  error: WHY
 * REASON is the rest of the line, printable ASCII, at most NS_REASON_MAX - 1 bytes. A drain,
 * maint or ready is first written to the state file (agent/statefile.h), then applied: "ok"
 * means the state is durable. When it cannot be written the command is refused and nothing
 * changes.
 *
 * Limits a client cannot raise: line length (ADMIN_LINE_MAX), idle time (idle_timeout), number
 * of clients (max_clients; one more gets "error: too many clients" and is closed). The socket is
 * created mode 0660: who may drain a node is decided by the socket's owner and group.
 *
 * The agent is reached through struct admin_ops only, so this module is tested without one. */
#ifndef HAPROLE_AGENT_ADMIN_H
#define HAPROLE_AGENT_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "agent/statefile.h"
#include "common/buf.h"
#include "common/compiler.h"
#include "common/conn.h"
#include "common/node_state.h"

#define ADMIN_LINE_MAX 256 /* longest command line, '\n' included */
#define ADMIN_REPLY_MAX                                                                            \
	40960 /* reply room per connection: a hex feed frame (2 x (4 + 8192)) + slack, twice */
#define ADMIN_PATH_MAX          108  /* sun_path of a unix socket, with NUL */
#define ADMIN_SOCKET_MODE       0660 /* owner and group may drain the node */
#define ADMIN_DEF_IDLE          10.0 /* seconds a client may stay silent */
#define ADMIN_DEF_CLIENTS       8    /* clients at once; a newer one evicts the oldest waiting */
#define ADMIN_BACKLOG           128  /* listen backlog: a full one refuses connects (EAGAIN) */
#define ADMIN_ACCEPTS_PER_EVENT 16   /* accepts per readiness event */

enum admin_verb {
	ADMIN_VERB_DRAIN = 0, /* drain [reason] */
	ADMIN_VERB_MAINT,     /* maint [reason] */
	ADMIN_VERB_READY,     /* ready */
	ADMIN_VERB_STATUS,    /* status */
	ADMIN_VERB_STATE,     /* state */
	ADMIN_VERB_COUNT      /* keep last */
};

/* One parsed command line. */
struct admin_cmd {
	enum admin_verb verb;       /* what to do */
	char reason[NS_REASON_MAX]; /* drain/maint: rest of the line, trimmed ("" none) */
};

/* How the admin socket reaches the agent. */
struct admin_ops {
	/* Applies an admin state (already persisted). Returns 0, or -1 when refused. */
	int (*set_admin)(void *arg, enum ns_admin admin, const char *reason);
	/* Appends the node state as one JSON object, no newline, to <out>. Returns 0 or -1. */
	int (*status)(void *arg, struct buf *out);
	/* The node state now (for `state`); NULL when the agent has none to give. */
	const struct node_state *(*state)(void *arg);
	void *arg; /* the agent */
};

/* Settings, from [agent] admin_socket / state_file and the admin limits. */
struct admin_conf {
	char socket_path[ADMIN_PATH_MAX]; /* where to listen */
	char state_file[4096];            /* persisted admin state; "" = not persisted */
	double idle_timeout;              /* seconds; a silent client is closed */
	unsigned max_clients;             /* clients at once */
};

struct admin_server;

/* One client of the admin socket. */
struct admin_conn {
	struct conn c;            /* socket, idle deadline, rx ADMIN_LINE_MAX, tx ADMIN_REPLY_MAX */
	struct admin_server *srv; /* owner */
	long peer_uid;            /* SO_PEERCRED uid, -1 unknown */
	long peer_pid;            /* SO_PEERCRED pid, -1 unknown */
};

/* The listening socket and its clients. */
struct admin_server {
	struct ev_loop *loop;          /* loop the watchers run on */
	ev_io io;                      /* the listening socket */
	int fd;                        /* listening socket, -1 when stopped */
	struct admin_conf conf;        /* copy of the settings */
	struct admin_ops ops;          /* the agent */
	struct statefile_data current; /* admin state as last persisted and applied */
	struct conn_list conns;        /* clients (struct admin_conn) */
	uint64_t next_id;              /* id of the next client */
	uint64_t commands;             /* commands answered since start */
};

int admin_parse(const char *line, size_t len, struct admin_cmd *out, const char **why) HR_MUSTCHECK;
const char *admin_verb_name(enum admin_verb v);
void admin_conf_defaults(struct admin_conf *c);

int admin_start(struct admin_server *s, struct ev_loop *loop, const struct admin_conf *conf,
                const struct admin_ops *ops, char *err, size_t errlen) HR_MUSTCHECK;
void admin_stop(struct admin_server *s);
int admin_execute(struct admin_server *s, const struct admin_cmd *cmd,
                  struct buf *reply) HR_MUSTCHECK;

#endif /* HAPROLE_AGENT_ADMIN_H */
