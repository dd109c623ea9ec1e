/* agent/agent_conf.h - haprole-agent's config: key tables per section, loading, validation.
 * Prefix: agent_conf_.
 *
 * Sections (every key is documented, with its default, in conf/haprole-agent.conf):
 *   [agent]        identity, the agent port and its limits, feed heartbeat, shutdown grace,
 *                  log level, admin socket and state file paths (used by agent/admin.c and
 *                  agent/statefile.c)
 *   [postgres]     the PostgreSQL probe (agent/pg_probe.h owns its key table); optional
 *   [http app] / [tcp app], [http nginx] / [tcp nginx]
 *                  the app and nginx probes (agent/http_probe.h owns the key tables); the
 *                  probe NAME says which node-state member it feeds; optional
 *   [check NAME]   a named check (agent/check.h); none at all means writer, reader and app
 *   [peer NAME]    another agent whose feed this one reads (fencing, agent/fence.c)
 * agent_conf_load() parses into a fresh struct and validates it whole; the caller swaps it in
 * on success (a failed SIGHUP reload keeps the running config). */
#ifndef HAPROLE_AGENT_AGENT_CONF_H
#define HAPROLE_AGENT_AGENT_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/check.h"
#include "agent/http_probe.h"
#include "agent/pg_probe.h"
#include "common/cfg.h"
#include "common/compiler.h"
#include "common/netacl.h"
#include "common/node_state.h"
#include "common/priv.h"

#define AGENT_CONF_PEERS_MAX    16  /* [peer NAME] sections */
#define AGENT_CONF_PATH_MAX     256 /* admin_socket, state_file, with NUL */
#define AGENT_CONF_DEFAULT_FILE "/etc/haprole/haprole-agent.conf"

/* [agent] expose: what the agent port's JSON, verdicts and feed show (docs/security.md). */
enum agent_expose {
	AGENT_EXPOSE_FULL = 0, /* the whole node state */
	AGENT_EXPOSE_MINIMAL,  /* ns_minimal(): what routing reads */
};

/* One [peer NAME] section. */
struct agent_peer_conf {
	char name[NS_NAME_MAX];  /* from the section header */
	struct cfg_addr address; /* the peer's agent port, numeric ip:port */
	struct cfg_seen seen;    /* keys set in this section */
};

/* The [agent] section. Integers are int64_t, enums int (cfg key table types). */
struct agent_main_conf {
	char cluster[NS_NAME_MAX];                /* cluster name carried in the feed */
	char node[NS_NAME_MAX];                   /* this node's name; required */
	struct cfg_addr listen;                   /* the agent port */
	struct netacl allow_from;                 /* who may connect to it; empty: everyone */
	int expose;                               /* enum agent_expose: what the port shows */
	char default_check[NS_NAME_MAX];          /* check answered to an empty or absent line */
	double first_line_wait;                   /* how long to wait for a first line (s) */
	double idle_timeout;                      /* a request connection's whole life (s) */
	int64_t max_clients;                      /* request connections at once */
	uint64_t max_line;                        /* longest first line / HTTP request head */
	int64_t backlog;                          /* listen() backlog */
	double heartbeat;                         /* feed: full state at least this often (s) */
	int64_t max_subscribers;                  /* feed subscribers at once */
	uint64_t subscriber_buffer;               /* feed: tx bytes queued per subscriber */
	double shutdown_grace;                    /* SIGTERM: answer drain this long, then exit */
	int log_level;                            /* enum log_level */
	char admin_socket[AGENT_CONF_PATH_MAX];   /* unix socket of haprolectl (agent/admin.c) */
	char state_file[AGENT_CONF_PATH_MAX];     /* persisted admin state (agent/statefile.c) */
	char user[PRIV_NAME_MAX];                 /* run as this user after binding; "": stay */
	char group[PRIV_NAME_MAX];                /* and this group; "": the user's primary */
	char on_role_change[AGENT_CONF_PATH_MAX]; /* role-change hook script (agent/hook.h) */
	double hook_timeout;                      /* a hook still running then is killed (s) */
	struct cfg_seen seen;                     /* keys set in [agent] */
};

struct agent_conf {
	char file[AGENT_CONF_PATH_MAX];                     /* path it was read from */
	struct agent_main_conf agent;                       /* [agent] */
	bool has_pg;                                        /* a [postgres] section exists */
	struct pgp_conf pg;                                 /* [postgres] */
	struct cfg_seen pg_seen;                            /* keys set in [postgres] */
	bool has_app;                                       /* an [http app] or [tcp app] exists */
	struct hp_conf app;                                 /* [http app] or [tcp app] */
	struct cfg_seen app_seen;                           /* keys set in [app] */
	bool has_nginx;                                     /* [http nginx] or [tcp nginx] exists */
	struct hp_conf nginx;                               /* [http nginx] or [tcp nginx] */
	struct cfg_seen nginx_seen;                         /* keys set in [nginx] */
	struct check_conf checks[NS_CHECKS_MAX];            /* [check NAME], in file order */
	size_t n_checks;                                    /* used entries of <checks> */
	size_t default_check;                               /* index in <checks> */
	struct agent_peer_conf peers[AGENT_CONF_PEERS_MAX]; /* [peer NAME], in file order */
	size_t n_peers;                                     /* used entries of <peers> */
};

extern const struct cfg_key agent_main_keys[];
extern const struct cfg_key agent_check_keys[];
extern const struct cfg_key agent_peer_keys[];

int agent_conf_load(struct agent_conf *c, const char *path, char *err, size_t errlen) HR_MUSTCHECK;
int agent_conf_load_string(struct agent_conf *c, const char *name, const char *text, char *err,
                           size_t errlen) HR_MUSTCHECK;
const struct check_conf *agent_conf_find_check(const struct agent_conf *c, const char *name,
                                               size_t len);
void agent_conf_print_help(void);

#endif /* HAPROLE_AGENT_AGENT_CONF_H */
