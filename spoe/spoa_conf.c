/* spoe/spoa_conf.c - key tables and the loader of haprole-spoa's config. The loader fills a
 * fresh struct; the caller swaps it in only when spoa_conf_load() returned 0. */
#include "spoe/spoa_conf.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/priv.h"

static const char *const log_levels[] = { "error", "warning", "info", "debug", NULL };

/* clang-format off */
const struct cfg_key spoa_conf_main_keys[] = {
	CFG_ADDR("listen", struct spoa_conf, listen, "127.0.0.1:12345", CFG_RESTART, "SPOP listener HAProxy's SPOE backend connects to"),
	CFG_ADDR("status_listen", struct spoa_conf, status, "127.0.0.1:12346", CFG_RESTART, "status HTTP: / (JSON view), /metrics (Prometheus)"),
	CFG_NETS("allow_from", struct spoa_conf, allow_from, "", CFG_RELOAD, "source networks allowed on the SPOP port (HAProxy's hosts); empty: all"),
	CFG_NETS("status_allow_from", struct spoa_conf, status_allow_from, "", CFG_RELOAD, "source networks allowed on the status port (monitoring); empty: all"),
	CFG_INT("backlog", struct spoa_conf, backlog, 16, 65535, "1024", CFG_RESTART, "listen backlog (every HAProxy reload reconnects at once)"),
	CFG_INT("max_connections", struct spoa_conf, max_conns, 1, 100000, "4096", CFG_RELOAD, "SPOP connections at once; more are refused"),
	CFG_INT("max_handshakes", struct spoa_conf, max_handshakes, 1, 100000, "1024", CFG_RELOAD, "connections that have not finished HELLO; a newer one evicts the oldest"),
	CFG_SIZE("max_frame_size", struct spoa_conf, max_frame, 256, 1048576, "16k", CFG_RELOAD, "our max-frame-size; AGENT-HELLO sends min(this, HAProxy's)"),
	CFG_DUR("hello_timeout", struct spoa_conf, hello_timeout, 0.01, 60, "5s", CFG_RELOAD, "time to get HAPROXY-HELLO"),
	CFG_DUR("idle_timeout", struct spoa_conf, idle_timeout, 0.1, 86400, "10m", CFG_RELOAD, "close a connection silent this long (keep above HAProxy's timeout idle)"),
	CFG_DUR("heartbeat", struct spoa_conf, heartbeat, 0.01, 60, "500ms", CFG_RELOAD, "agents' feed heartbeat; 3 silent heartbeats make a node unknown"),
	CFG_DUR("connect_timeout", struct spoa_conf, connect_timeout, 0.01, 60, "1s", CFG_RELOAD, "deadline of one feed connect"),
	CFG_ENUM("log_level", struct spoa_conf, log_level, log_levels, "info", CFG_RELOAD, "error, warning, info or debug"),
	CFG_STR("user", struct spoa_conf, user, 0, "", CFG_RESTART, "started as root: run as this user once the ports are bound (empty: refuse root unless --allow-root)"),
	CFG_STR("group", struct spoa_conf, group, 0, "", CFG_RESTART, "with user: the group to run as (empty: the user's primary group); the user's other groups from /etc/group are kept"),
	CFG_INT("hold_budget", struct spoa_conf, hold_budget, 0, 1000000, "4096", CFG_RESTART, "write NOTIFYs held at once waiting for a promotion (all clusters); past it, answered at once"),
	CFG_END,
};
/* clang-format on */

/* clang-format off */
const struct cfg_key spoa_conf_cluster_keys[] = {
	CFG_STR("sysid", struct spoa_cluster_conf, sysid, 0, "", CFG_RELOAD, "PostgreSQL system identifier of the cluster; empty: all nodes must agree"),
	CFG_SIZE("max_lag", struct spoa_cluster_conf, max_lag, 0, 1099511627776.0, "16MB", CFG_RELOAD, "a standby further behind (bytes) is not offered as reader"),
	CFG_DUR("hold_max", struct spoa_cluster_conf, hold_max, 0, 60, "0", CFG_RELOAD, "a write arriving while the writer is lost and a standby can take over waits this long for the promotion; 0: answered at once"),
	CFG_END,
};
/* clang-format on */

/* clang-format off */
const struct cfg_key spoa_conf_node_keys[] = {
	CFG_STR("cluster", struct spoa_node_conf, cluster, 1, NULL, CFG_RESTART, "the [cluster NAME] this node belongs to"),
	CFG_ADDR("agent", struct spoa_node_conf, agent, NULL, CFG_RESTART, "the node's haprole-agent port (ip:port): its state feed"),
	CFG_STR("server", struct spoa_node_conf, server, 0, "", CFG_RESTART, "HAProxy server name of this node; default: the node name"),
	CFG_END,
};
/* clang-format on */

/* clang-format off */
const struct cfg_key spoa_conf_haproxy_keys[] = {
	CFG_STR("runtime_api", struct spoa_haproxy_conf, runtime_api, 1, NULL, CFG_RELOAD, "HAProxy's stats socket: /path/to/admin.sock or ip:port (level admin)"),
	CFG_STR("cluster", struct spoa_haproxy_conf, cluster, 1, NULL, CFG_RELOAD, "the [cluster NAME] whose writer and reader this HAProxy is told"),
	CFG_STR("writer_backend", struct spoa_haproxy_conf, writer_backend, 1, NULL, CFG_RELOAD, "backend of the writes: the writer ready, every other server maint"),
	CFG_STR("reader_backend", struct spoa_haproxy_conf, reader_backend, 0, "", CFG_RELOAD, "backend of the reads: the reader ready, the others drain; empty: none"),
	CFG_STR("command_prefix", struct spoa_haproxy_conf, prefix, 0, "", CFG_RELOAD, "put before each command, e.g. @1 through the master CLI"),
	CFG_DUR("timeout", struct spoa_haproxy_conf, timeout, 0.01, 60, "1s", CFG_RELOAD, "deadline of one runtime API exchange"),
	CFG_DUR("verify_interval", struct spoa_haproxy_conf, verify_interval, 0.05, 3600, "1s", CFG_RELOAD, "read the servers' state back this often and re-apply what differs"),
	CFG_END,
};
/* clang-format on */

/* Parser state: which section the next keys belong to. */
struct load_ctx {
	struct spoa_conf *c;                 /* being filled */
	struct spoa_cluster_conf *cluster;   /* current [cluster], or NULL */
	struct spoa_node_conf *node;         /* current [node], or NULL */
	struct spoa_haproxy_conf *haproxy;   /* current [haproxy], or NULL */
	bool in_main;                        /* current section is [spoa] */
	unsigned agent_line[SPOA_NODES_MAX]; /* line of each node's `agent` key, 0 = unset */
};

static int load_item(void *arg, const struct cfg_item *it, char *err, size_t errlen)
{
	struct load_ctx *x = arg;
	struct spoa_conf *c = x->c;
	size_t i;

	if (it->key != NULL) {
		if (x->in_main) {
			if (cfg_set_key(spoa_conf_main_keys, c, &c->seen, it, err, errlen) < 0)
				return -1;
			return priv_check_conf_item(it, err, errlen);
		}
		if (x->cluster != NULL)
			return cfg_set_key(spoa_conf_cluster_keys, x->cluster, &x->cluster->seen,
			                   it, err, errlen);
		if (x->node != NULL) {
			if (strcmp(it->key, "agent") == 0)
				x->agent_line[x->node - c->nodes] = it->line;
			return cfg_set_key(spoa_conf_node_keys, x->node, &x->node->seen, it, err,
			                   errlen);
		}
		if (x->haproxy != NULL)
			return cfg_set_key(spoa_conf_haproxy_keys, x->haproxy, &x->haproxy->seen,
			                   it, err, errlen);
		cfg_item_err(err, errlen, it, "key outside of a section; start with [spoa]");
		return -1;
	}
	x->in_main = false;
	x->cluster = NULL;
	x->node = NULL;
	x->haproxy = NULL;
	if (strcmp(it->section, "spoa") == 0 && it->name[0] == '\0') {
		x->in_main = true;
		return 0;
	}
	if (strcmp(it->section, "cluster") == 0 && it->name[0] != '\0') {
		for (i = 0; i < c->n_clusters; i++)
			if (strcmp(c->clusters[i].name, it->name) == 0) {
				cfg_item_err(err, errlen, it,
				             "[cluster %s] already defined at line %u", it->name,
				             c->clusters[i].line);
				return -1;
			}
		if (c->n_clusters == SPOA_CLUSTERS_MAX) {
			cfg_item_err(err, errlen, it, "more than %d [cluster] sections",
			             SPOA_CLUSTERS_MAX);
			return -1;
		}
		x->cluster = &c->clusters[c->n_clusters++];
		memset(x->cluster, 0, sizeof(*x->cluster));
		snprintf(x->cluster->name, sizeof(x->cluster->name), "%s", it->name);
		x->cluster->line = it->line;
		return cfg_set_defaults(spoa_conf_cluster_keys, x->cluster, err, errlen);
	}
	if (strcmp(it->section, "node") == 0 && it->name[0] != '\0') {
		for (i = 0; i < c->n_nodes; i++)
			if (strcmp(c->nodes[i].name, it->name) == 0) {
				cfg_item_err(err, errlen, it,
				             "[node %s] already defined at line %u", it->name,
				             c->nodes[i].line);
				return -1;
			}
		if (c->n_nodes == SPOA_NODES_MAX) {
			cfg_item_err(err, errlen, it, "more than %d [node] sections",
			             SPOA_NODES_MAX);
			return -1;
		}
		x->node = &c->nodes[c->n_nodes++];
		memset(x->node, 0, sizeof(*x->node));
		snprintf(x->node->name, sizeof(x->node->name), "%s", it->name);
		x->node->line = it->line;
		return cfg_set_defaults(spoa_conf_node_keys, x->node, err, errlen);
	}
	if (strcmp(it->section, "haproxy") == 0 && it->name[0] != '\0') {
		for (i = 0; i < c->n_haproxies; i++)
			if (strcmp(c->haproxies[i].name, it->name) == 0) {
				cfg_item_err(err, errlen, it,
				             "[haproxy %s] already defined at line %u", it->name,
				             c->haproxies[i].line);
				return -1;
			}
		if (c->n_haproxies == SPOA_HAPROXY_MAX) {
			cfg_item_err(err, errlen, it, "more than %d [haproxy] sections",
			             SPOA_HAPROXY_MAX);
			return -1;
		}
		x->haproxy = &c->haproxies[c->n_haproxies++];
		memset(x->haproxy, 0, sizeof(*x->haproxy));
		snprintf(x->haproxy->name, sizeof(x->haproxy->name), "%s", it->name);
		x->haproxy->line = it->line;
		return cfg_set_defaults(spoa_conf_haproxy_keys, x->haproxy, err, errlen);
	}
	cfg_item_err(err, errlen, it,
	             "unknown section [%s%s%s] (expected [spoa], [cluster NAME], [node NAME], "
	             "[haproxy NAME])",
	             it->section, it->name[0] != '\0' ? " " : "", it->name);
	return -1;
}

/* HAProxy server names: letters, digits, '_', '-', '.', ':' (we also need them in a variable
 * value, where any byte would do, but a name HAProxy cannot have would never match). */
static bool server_name_ok(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.' || *s == ':'))
			return false;
	return true;
}

static int validate(const char *name, struct load_ctx *x, char *err, size_t errlen)
{
	struct spoa_conf *c = x->c;
	size_t i, j;

	if (c->n_clusters == 0) {
		snprintf(err, errlen, "%s: no [cluster NAME] section: nothing to route", name);
		return -1;
	}
	for (i = 0; i < c->n_nodes; i++) {
		struct spoa_node_conf *n = &c->nodes[i];

		if (spoa_conf_cluster(c, n->cluster) == NULL) {
			snprintf(err, errlen,
			         "%s:%u: key 'cluster': no [cluster %s] section (got \"%s\")", name,
			         n->line, n->cluster, n->cluster);
			return -1;
		}
		if (x->agent_line[i] == 0) {
			snprintf(err, errlen, "%s:%u: key 'agent': missing in [node %s]", name,
			         n->line, n->name);
			return -1;
		}
		if (!server_name_ok(spoa_conf_server(n)) ||
		    strlen(spoa_conf_server(n)) >= SPOA_SERVER_MAX) {
			snprintf(
			    err, errlen,
			    "%s:%u: key 'server': letters, digits, '_', '-', '.', ':', up to %d "
			    "bytes (got \"%s\")",
			    name, n->line, SPOA_SERVER_MAX - 1, spoa_conf_server(n));
			return -1;
		}
		for (j = 0; j < i; j++)
			if (strcmp(c->nodes[j].cluster, n->cluster) == 0 &&
			    strcmp(spoa_conf_server(&c->nodes[j]), spoa_conf_server(n)) == 0) {
				snprintf(
				    err, errlen,
				    "%s:%u: key 'server': server name already used by [node %s] "
				    "in cluster %s (got \"%s\")",
				    name, n->line, c->nodes[j].name, n->cluster,
				    spoa_conf_server(n));
				return -1;
			}
	}
	for (i = 0; i < c->n_haproxies; i++) {
		struct spoa_haproxy_conf *h = &c->haproxies[i];
		const char *why = NULL;
		const char *missing = h->runtime_api[0] == '\0'      ? "runtime_api"
		                      : h->cluster[0] == '\0'        ? "cluster"
		                      : h->writer_backend[0] == '\0' ? "writer_backend"
		                                                     : NULL;

		if (missing != NULL) {
			snprintf(err, errlen, "%s:%u: key '%s': missing in [haproxy %s]", name,
			         h->line, missing, h->name);
			return -1;
		}
		if (spoa_conf_cluster(c, h->cluster) == NULL) {
			snprintf(err, errlen,
			         "%s:%u: key 'cluster': no [cluster %s] section (got \"%s\")", name,
			         h->line, h->cluster, h->cluster);
			return -1;
		}
		if (rapi_target_parse(h->runtime_api, &h->target, &why) < 0) {
			snprintf(err, errlen,
			         "%s:%u: key 'runtime_api': %s: a socket path (/...) or a numeric "
			         "ip:port (got \"%s\")",
			         name, h->line, why, h->runtime_api);
			return -1;
		}
	}
	return 0;
}

static int load(const char *name, const char *text, struct spoa_conf *out, char *err, size_t errlen)
{
	struct load_ctx x;
	int ret;

	memset(out, 0, sizeof(*out));
	memset(&x, 0, sizeof(x));
	x.c = out;
	snprintf(out->path, sizeof(out->path), "%s", name);
	if (cfg_set_defaults(spoa_conf_main_keys, out, err, errlen) < 0)
		return -1;
	if (text != NULL)
		ret = cfg_read_string(name, text, load_item, &x, err, errlen);
	else
		ret = cfg_read_file(name, load_item, &x, err, errlen);
	if (ret < 0)
		return -1;
	return validate(name, &x, err, errlen);
}

/* Reads <path> into <out> (zeroed first). Returns 0, or -1 with <err> as
 * "FILE:LINE: key 'KEY': what is wrong (got "VALUE")". */
int spoa_conf_load(const char *path, struct spoa_conf *out, char *err, size_t errlen)
{
	return load(path, NULL, out, err, errlen);
}

/* Same from a string (tests); <name> stands for the file name in errors. */
int spoa_conf_load_string(const char *name, const char *text, struct spoa_conf *out, char *err,
                          size_t errlen)
{
	return load(name, text, out, err, errlen);
}

const struct spoa_cluster_conf *spoa_conf_cluster(const struct spoa_conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->n_clusters; i++)
		if (strcmp(c->clusters[i].name, name) == 0)
			return &c->clusters[i];
	return NULL;
}

/* The HAProxy server name a node routes to. */
const char *spoa_conf_server(const struct spoa_node_conf *n)
{
	return n->server[0] != '\0' ? n->server : n->name;
}
