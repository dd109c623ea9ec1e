/* spoe/spoa_conf.h - haprole-spoa's configuration: one key table per section, parsed into a
 * fresh struct, validated whole, then swapped by the caller. Prefix: spoa_conf_.
 *
 * Sections: [spoa] (the daemon), [cluster NAME] (routing policy of one cluster), [node NAME]
 * (one agent feed: which cluster, its agent port, the HAProxy server name it routes to),
 * [haproxy NAME] (push mode: one HAProxy runtime API driven on every routing change,
 * spoe/push.h).
 * conf/haprole-spoa.conf documents every key with its default. */
#ifndef HAPROLE_SPOE_SPOA_CONF_H
#define HAPROLE_SPOE_SPOA_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cfg.h"
#include "common/compiler.h"
#include "common/netacl.h"
#include "common/node_state.h"
#include "common/priv.h"
#include "spoe/runtime_api.h"

#define SPOA_CLUSTERS_MAX 16 /* [cluster] sections one SPOA serves */
#define SPOA_NODES_MAX    64 /* [node] sections (feeds) one SPOA follows */
#define SPOA_SERVER_MAX   48 /* HAProxy server name, with NUL: fits "txn.haprole.writer" vars */
#define SPOA_HAPROXY_MAX  8  /* [haproxy] sections (push targets) */

struct spoa_cluster_conf {
	char name[CFG_NAME_MAX];  /* from "[cluster NAME]": the SPOE arg `cluster` */
	char sysid[NS_SYSID_MAX]; /* expected system identifier; "" = learn from the nodes */
	uint64_t max_lag;         /* bytes: a standby further behind is no reader */
	double hold_max;          /* seconds a write NOTIFY may wait for a promotion; 0 never */
	struct cfg_seen seen;     /* duplicate keys */
	unsigned line;            /* line of the header, for errors */
};

struct spoa_node_conf {
	char name[CFG_NAME_MAX];      /* from "[node NAME]" */
	char cluster[CFG_NAME_MAX];   /* the [cluster] it belongs to */
	struct cfg_addr agent;        /* its agent port (feed) */
	char server[SPOA_SERVER_MAX]; /* HAProxy server name; "" = node name */
	struct cfg_seen seen;         /* duplicate keys */
	unsigned line;                /* line of the header, for errors */
};

/* [haproxy NAME]: an HAProxy whose servers push mode sets (spoe/push.h). */
struct spoa_haproxy_conf {
	char name[CFG_NAME_MAX];            /* from "[haproxy NAME]" */
	char runtime_api[RAPI_PATH_MAX];    /* "/path/to/stats.sock" or "ip:port" */
	struct rapi_target target;          /* <runtime_api>, parsed at load */
	char cluster[CFG_NAME_MAX];         /* the [cluster] whose decision it follows */
	char writer_backend[RAPI_NAME_MAX]; /* backend whose servers take writes */
	char reader_backend[RAPI_NAME_MAX]; /* backend whose servers take reads; "" none */
	char prefix[RAPI_PREFIX_MAX];       /* prepended to each command ("@1" master CLI) */
	double timeout;                     /* deadline of one exchange */
	double verify_interval;             /* read back and re-apply this often */
	struct cfg_seen seen;               /* duplicate keys */
	unsigned line;                      /* line of the header, for errors */
};

struct spoa_conf {
	char path[512];                  /* file it was read from */
	struct cfg_addr listen;          /* SPOP listener */
	struct cfg_addr status;          /* status HTTP listener (JSON, /metrics) */
	struct netacl allow_from;        /* who may connect to <listen>; empty: everyone */
	struct netacl status_allow_from; /* who may connect to <status>; empty: everyone */
	int64_t backlog;                 /* listen backlog: HAProxy reloads reconnect in bursts */
	int64_t max_conns;               /* SPOP connections at once; more are refused */
	int64_t max_handshakes;          /* connections in HELLO at once; the oldest is evicted */
	uint64_t max_frame;              /* our max-frame-size; negotiated down to HAProxy's */
	double hello_timeout;            /* seconds to get HAPROXY-HELLO after accept */
	double idle_timeout;             /* seconds without a frame before we close */
	double heartbeat;                /* agents' feed heartbeat; 3 silent = node unknown */
	double connect_timeout;          /* deadline of one feed connect */
	int log_level;                   /* enum log_level */
	int64_t hold_budget;       /* write NOTIFYs held at once, all clusters (preallocated) */
	char user[PRIV_NAME_MAX];  /* run as this user after binding; "": stay */
	char group[PRIV_NAME_MAX]; /* and this group; "": the user's primary */
	struct spoa_cluster_conf clusters[SPOA_CLUSTERS_MAX]; /* [cluster] sections */
	size_t n_clusters;                                    /* used entries of <clusters> */
	struct spoa_node_conf nodes[SPOA_NODES_MAX];          /* [node] sections */
	size_t n_nodes;                                       /* used entries of <nodes> */
	struct spoa_haproxy_conf haproxies[SPOA_HAPROXY_MAX]; /* [haproxy] sections */
	size_t n_haproxies;                                   /* used entries of <haproxies> */
	struct cfg_seen seen;                                 /* duplicate keys in [spoa] */
};

extern const struct cfg_key spoa_conf_main_keys[];
extern const struct cfg_key spoa_conf_cluster_keys[];
extern const struct cfg_key spoa_conf_node_keys[];
extern const struct cfg_key spoa_conf_haproxy_keys[];

int spoa_conf_load(const char *path, struct spoa_conf *out, char *err, size_t errlen) HR_MUSTCHECK;
int spoa_conf_load_string(const char *name, const char *text, struct spoa_conf *out, char *err,
                          size_t errlen) HR_MUSTCHECK;
const struct spoa_cluster_conf *spoa_conf_cluster(const struct spoa_conf *c, const char *name);
const char *spoa_conf_server(const struct spoa_node_conf *n);

#endif /* HAPROLE_SPOE_SPOA_CONF_H */
