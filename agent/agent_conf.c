/* agent/agent_conf.c - loading and validating haprole-agent's config; see agent_conf.h.
 * Every key table lists name, type, offset, bounds, default, reloadable and a help line; the
 * defaults here are the ones written in conf/haprole-agent.conf (tests/unit/test_agent_conf.c
 * compares them). */
#include "agent/agent_conf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/priv.h"

static const char *const agent_log_levels[] = { "error", "warning", "info", "debug", NULL };
static const char *const agent_expose_names[] = { "full", "minimal", NULL };

/* clang-format off */
const struct cfg_key agent_main_keys[] = {
	CFG_STR("cluster", struct agent_main_conf, cluster, 1, "main", CFG_RESTART, "cluster name, carried in the feed and shown by haprolectl"),
	CFG_STR("node", struct agent_main_conf, node, 0, "", CFG_RESTART, "this node's name, unique in the cluster (required)"),
	CFG_ADDR("listen", struct agent_main_conf, listen, "*:5555", CFG_RESTART, "the agent port: agent-check, HTTP, SUBSCRIBE"),
	CFG_NETS("allow_from", struct agent_main_conf, allow_from, "", CFG_RELOAD, "source networks allowed on the agent port (10.0.0.0/8, ::1); empty: all"),
	CFG_ENUM("expose", struct agent_main_conf, expose, agent_expose_names, "full", CFG_RELOAD, "full, or minimal: the port's JSON and feed keep what routing reads and hide LSN, standby names, admin reason, error texts (docs/security.md)"),
	CFG_STR("default_check", struct agent_main_conf, default_check, 0, "", CFG_RELOAD, "check answered when no line arrives (empty: the first check)"),
	CFG_DUR("first_line_wait", struct agent_main_conf, first_line_wait, 0, 10, "50ms", CFG_RELOAD, "how long to wait for a first line before answering the default check"),
	CFG_DUR("idle_timeout", struct agent_main_conf, idle_timeout, 0.01, 600, "2s", CFG_RELOAD, "longest life of a request connection (agent-check, HTTP)"),
	CFG_INT("max_clients", struct agent_main_conf, max_clients, 1, 100000, "256", CFG_RELOAD, "request connections served at once; more are closed at accept"),
	CFG_SIZE("max_line", struct agent_main_conf, max_line, 64, 65536, "2k", CFG_RELOAD, "longest first line or HTTP request head; longer gets an error and a close"),
	CFG_INT("backlog", struct agent_main_conf, backlog, 1, 65535, "512", CFG_RESTART, "listen() backlog of the agent port"),
	CFG_DUR("heartbeat", struct agent_main_conf, heartbeat, 0.01, 60, "500ms", CFG_RELOAD, "feed: the full state is sent at least this often"),
	CFG_INT("max_subscribers", struct agent_main_conf, max_subscribers, 1, 10000, "64", CFG_RELOAD, "feed subscribers at once; more are refused"),
	CFG_SIZE("subscriber_buffer", struct agent_main_conf, subscriber_buffer, 16384, 16 * 1024 * 1024, "64k", CFG_RELOAD, "feed bytes queued per subscriber; a subscriber that falls behind is dropped"),
	CFG_DUR("shutdown_grace", struct agent_main_conf, shutdown_grace, 0, 600, "2s", CFG_RELOAD, "SIGTERM: every check answers drain this long, then the agent exits"),
	CFG_ENUM("log_level", struct agent_main_conf, log_level, agent_log_levels, "info", CFG_RELOAD, "error, warning, info or debug"),
	CFG_STR("admin_socket", struct agent_main_conf, admin_socket, 0, "/run/haprole/agent.sock", CFG_RESTART, "unix socket haprolectl uses (mode 0660); empty: none"),
	CFG_STR("state_file", struct agent_main_conf, state_file, 0, "/var/lib/haprole/agent.state", CFG_RESTART, "where the admin state survives restarts; empty: none"),
	CFG_STR("user", struct agent_main_conf, user, 0, "", CFG_RESTART, "started as root: run as this user once the port and admin socket are bound (empty: refuse root unless --allow-root)"),
	CFG_STR("group", struct agent_main_conf, group, 0, "", CFG_RESTART, "with user: the group to run as (empty: the user's primary group); the user's other groups from /etc/group are kept"),
	CFG_STR("on_role_change", struct agent_main_conf, on_role_change, 0, "", CFG_RELOAD, "script run as SCRIPT OLD NEW NODE TIMELINE once per PostgreSQL role change; empty: none"),
	CFG_DUR("hook_timeout", struct agent_main_conf, hook_timeout, 0.01, 3600, "30s", CFG_RELOAD, "an on_role_change script still running after this is killed"),
	CFG_END,
};
/* clang-format on */

/* clang-format off */
const struct cfg_key agent_check_keys[] = {
	CFG_ENUM("kind", struct check_conf, kind, check_kind_names, "writer", CFG_RELOAD, "writer, reader or app"),
	CFG_ENUM("standby_answer", struct check_conf, standby_answer, check_standby_names, "down", CFG_RELOAD, "how a healthy standby answers writer/app: down, or maint (not a failure)"),
	CFG_ENUM("lag_answer", struct check_conf, lag_answer, check_lag_names, "drain", CFG_RELOAD, "reader past max_lag: drain (open sessions stay), or down (cut by HAProxy)"),
	CFG_INT("weight", struct check_conf, weight, 0, 256, "100", CFG_RELOAD, "percent announced when up (reader: at no lag)"),
	CFG_INT("primary_weight", struct check_conf, primary_weight, 0, 256, "100", CFG_RELOAD, "reader: percent a primary announces (0: reads only on standbys)"),
	CFG_INT("min_weight", struct check_conf, min_weight, 0, 256, "10", CFG_RELOAD, "reader: percent just below max_lag"),
	CFG_SIZE("max_lag", struct check_conf, max_lag, 0, 1e15, "16MB", CFG_RELOAD, "reader: WAL bytes behind beyond which lag_answer applies (0: not used)"),
	CFG_DUR("max_lag_time", struct check_conf, max_lag_time, 0, 86400, "10s", CFG_RELOAD, "reader: replay time behind beyond which lag_answer applies (0: not used)"),
	CFG_INT("maxconn", struct check_conf, maxconn, 0, 1000000, "0", CFG_RELOAD, "announce maxconn:N when up (0: never)"),
	CFG_STR("follow", struct check_conf, follow, 0, "", CFG_RELOAD, "app: up only while this node is the cluster's writer (peers' feeds); empty: off"),
	CFG_END,
};
/* clang-format on */

/* clang-format off */
const struct cfg_key agent_peer_keys[] = {
	CFG_ADDR("address", struct agent_peer_conf, address, NULL, CFG_RELOAD, "the peer agent's port, numeric ip:port"),
	CFG_END,
};
/* clang-format on */

/* Where keys of the current section go while reading. */
enum agent_conf_sect {
	AC_SECT_NONE = 0, /* before any header */
	AC_SECT_AGENT,    /* [agent] */
	AC_SECT_PG,       /* [postgres] */
	AC_SECT_APP,      /* [http app] or [tcp app] */
	AC_SECT_NGINX,    /* [http nginx] or [tcp nginx] */
	AC_SECT_CHECK,    /* [check NAME] */
	AC_SECT_PEER,     /* [peer NAME] */
};

/* State of one load. */
struct agent_conf_reader {
	struct agent_conf *c;                     /* being filled */
	enum agent_conf_sect sect;                /* current section */
	bool seen_agent;                          /* an [agent] header was read */
	unsigned peer_line[AGENT_CONF_PEERS_MAX]; /* header line of each peer, for errors */
	bool peer_addr_set[AGENT_CONF_PEERS_MAX]; /* address given */
};

static bool agent_conf_name_taken_check(const struct agent_conf *c, const char *name)
{
	for (size_t i = 0; i < c->n_checks; i++) {
		if (strcmp(c->checks[i].name, name) == 0)
			return true;
	}
	return false;
}

/* True, with <err>, when a named section <it> would be the (<max> + 1)th of its kind. */
static bool agent_conf_no_room(const struct cfg_item *it, size_t n, size_t max, char *err,
                               size_t errlen)
{
	if (n < max)
		return false;
	cfg_item_err(err, errlen, it, "too many [%s] sections, at most %zu (got \"%s\")",
	             it->section, max, it->name);
	return true;
}

static int agent_conf_header(struct agent_conf_reader *r, const struct cfg_item *it, char *err,
                             size_t errlen)
{
	struct agent_conf *c = r->c;
	bool named = it->name[0] != '\0';

	if (strcmp(it->section, "agent") == 0 && !named) {
		if (r->seen_agent)
			goto out_dup;
		r->seen_agent = true;
		r->sect = AC_SECT_AGENT;
		return 0;
	}
	if (strcmp(it->section, "postgres") == 0 && !named) {
		if (c->has_pg)
			goto out_dup;
		c->has_pg = true;
		r->sect = AC_SECT_PG;
		return cfg_set_defaults(pgp_conf_keys, &c->pg, err, errlen);
	}
	if ((strcmp(it->section, "http") == 0 || strcmp(it->section, "tcp") == 0) && named) {
		bool tcp = strcmp(it->section, "tcp") == 0;
		struct hp_conf *h;

		if (strcmp(it->name, "app") == 0) {
			if (c->has_app)
				goto out_dup;
			c->has_app = true;
			r->sect = AC_SECT_APP;
			h = &c->app;
		} else if (strcmp(it->name, "nginx") == 0) {
			if (c->has_nginx)
				goto out_dup;
			c->has_nginx = true;
			r->sect = AC_SECT_NGINX;
			h = &c->nginx;
		} else {
			cfg_item_err(err, errlen, it,
			             "probe name must be app or nginx (the node-state member it "
			             "feeds) (got \"[%s %s]\")",
			             it->section, it->name);
			return -1;
		}
		memset(h, 0, sizeof(*h));
		snprintf(h->name, sizeof(h->name), "%s", it->name);
		h->kind = tcp ? HP_KIND_TCP : HP_KIND_HTTP;
		return cfg_set_defaults(tcp ? hp_tcp_keys : hp_http_keys, h, err, errlen);
	}
	if (strcmp(it->section, "check") == 0 && named) {
		struct check_conf *k;

		if (agent_conf_no_room(it, c->n_checks, NS_CHECKS_MAX, err, errlen))
			return -1;
		if (agent_conf_name_taken_check(c, it->name))
			goto out_dup;
		if (strcmp(it->name, "SUBSCRIBE") == 0) {
			/* the agent port reads that line as the feed dialect */
			cfg_item_err(err, errlen, it,
			             "check name reserved for the feed (got \"%s\")", it->name);
			return -1;
		}
		if (strlen(it->name) >= sizeof(k->name)) {
			cfg_item_err(err, errlen, it, "check name too long (got \"%s\")", it->name);
			return -1;
		}
		k = &c->checks[c->n_checks++];
		memset(k, 0, sizeof(*k));
		strcpy(k->name, it->name);
		r->sect = AC_SECT_CHECK;
		return cfg_set_defaults(agent_check_keys, k, err, errlen);
	}
	if (strcmp(it->section, "peer") == 0 && named) {
		struct agent_peer_conf *p;

		if (agent_conf_no_room(it, c->n_peers, AGENT_CONF_PEERS_MAX, err, errlen))
			return -1;
		for (size_t i = 0; i < c->n_peers; i++) {
			if (strcmp(c->peers[i].name, it->name) == 0)
				goto out_dup;
		}
		p = &c->peers[c->n_peers];
		memset(p, 0, sizeof(*p));
		snprintf(p->name, sizeof(p->name), "%s", it->name);
		r->peer_line[c->n_peers] = it->line;
		r->peer_addr_set[c->n_peers] = false;
		c->n_peers++;
		r->sect = AC_SECT_PEER;
		return 0;
	}
	cfg_item_err(err, errlen, it,
	             "unknown section [%s%s%s] (expected [agent], [postgres], [http app], "
	             "[http nginx], [tcp app], [tcp nginx], [check NAME] or [peer NAME])",
	             it->section, named ? " " : "", it->name);
	return -1;

out_dup:
	cfg_item_err(err, errlen, it, "section [%s%s%s] given twice", it->section, named ? " " : "",
	             it->name);
	return -1;
}

static int agent_conf_item(void *arg, const struct cfg_item *it, char *err, size_t errlen)
{
	struct agent_conf_reader *r = arg;
	struct agent_conf *c = r->c;

	if (it->key == NULL)
		return agent_conf_header(r, it, err, errlen);
	switch (r->sect) {
	case AC_SECT_NONE:
		break;
	case AC_SECT_AGENT:
		if (cfg_set_key(agent_main_keys, &c->agent, &c->agent.seen, it, err, errlen) == -1)
			return -1;
		if (priv_check_conf_item(it, err, errlen) == -1)
			return -1;
		if (strcmp(it->key, "on_role_change") == 0 && it->value[0] != '\0') {
			if (it->value[0] != '/') {
				cfg_item_err(
				    err, errlen, it,
				    "key 'on_role_change': not an absolute path (got \"%s\")",
				    it->value);
				return -1;
			}
			if (access(it->value, X_OK) == -1) {
				cfg_item_err(err, errlen, it,
				             "key 'on_role_change': not an executable file: %s "
				             "(got \"%s\")",
				             strerror(errno), it->value);
				return -1;
			}
		}
		return 0;
	case AC_SECT_PG:
		return cfg_set_key(pgp_conf_keys, &c->pg, &c->pg_seen, it, err, errlen);
	case AC_SECT_APP:
		return cfg_set_key(c->app.kind == HP_KIND_TCP ? hp_tcp_keys : hp_http_keys, &c->app,
		                   &c->app_seen, it, err, errlen);
	case AC_SECT_NGINX:
		return cfg_set_key(c->nginx.kind == HP_KIND_TCP ? hp_tcp_keys : hp_http_keys,
		                   &c->nginx, &c->nginx_seen, it, err, errlen);
	case AC_SECT_CHECK: {
		struct check_conf *k = &c->checks[c->n_checks - 1];

		return cfg_set_key(agent_check_keys, k, &k->seen, it, err, errlen);
	}
	case AC_SECT_PEER: {
		struct agent_peer_conf *p = &c->peers[c->n_peers - 1];

		if (cfg_set_key(agent_peer_keys, p, &p->seen, it, err, errlen) == -1)
			return -1;
		r->peer_addr_set[c->n_peers - 1] = true;
		return 0;
	}
	}
	cfg_item_err(err, errlen, it, "key '%s': outside any section (got \"%s\")", it->key,
	             it->value);
	return -1;
}

/* Fills <c> with the built-in checks used when the file defines none: writer, reader, app. */
static int agent_conf_default_checks(struct agent_conf *c, char *err, size_t errlen)
{
	for (int kind = 0; kind < CHECK_KIND_COUNT; kind++) {
		struct check_conf *k = &c->checks[c->n_checks++];

		memset(k, 0, sizeof(*k));
		if (cfg_set_defaults(agent_check_keys, k, err, errlen) == -1)
			return -1;
		k->kind = kind;
		snprintf(k->name, sizeof(k->name), "%s", check_kind_names[kind]);
	}
	return 0;
}

/* Checks the config as a whole once every key is read. */
static int agent_conf_validate(struct agent_conf_reader *r, const char *file, char *err,
                               size_t errlen)
{
	struct agent_conf *c = r->c;
	char why[HR_ERR_LEN];

	if (c->agent.node[0] == '\0') {
		snprintf(err, errlen, "%s: key 'node': required in [agent] (got \"\")", file);
		return -1;
	}
	if (c->agent.first_line_wait >= c->agent.idle_timeout) {
		snprintf(
		    err, errlen,
		    "%s: key 'first_line_wait': must be below idle_timeout (%gs) (got \"%gs\")",
		    file, c->agent.idle_timeout, c->agent.first_line_wait);
		return -1;
	}
	if (c->has_pg && pgp_conf_validate(&c->pg, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: [postgres] %s", file, why);
		return -1;
	}
	if (c->has_app && hp_conf_validate(&c->app, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: [%s app] %s", file,
		         c->app.kind == HP_KIND_TCP ? "tcp" : "http", why);
		return -1;
	}
	if (c->has_nginx && hp_conf_validate(&c->nginx, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: [%s nginx] %s", file,
		         c->nginx.kind == HP_KIND_TCP ? "tcp" : "http", why);
		return -1;
	}
	for (size_t i = 0; i < c->n_peers; i++) {
		if (!r->peer_addr_set[i]) {
			snprintf(err, errlen,
			         "%s:%u: key 'address': required in [peer %s] (got \"\")", file,
			         r->peer_line[i], c->peers[i].name);
			return -1;
		}
	}
	for (size_t i = 0; i < c->n_checks; i++) {
		const struct check_conf *k = &c->checks[i];

		if (k->follow[0] != '\0' && k->kind != CHECK_KIND_APP) {
			snprintf(err, errlen,
			         "%s: [check %s] key 'follow': only for kind = app (got \"%s\")",
			         file, k->name, k->follow);
			return -1;
		}
		if (k->follow[0] != '\0' && c->n_peers == 0) {
			snprintf(
			    err, errlen,
			    "%s: [check %s] key 'follow': needs [peer NAME] sections to see the "
			    "writer (got \"%s\")",
			    file, k->name, k->follow);
			return -1;
		}
		if (k->min_weight > k->weight) {
			snprintf(
			    err, errlen,
			    "%s: [check %s] key 'min_weight': above weight %lld (got \"%lld\")",
			    file, k->name, (long long)k->weight, (long long)k->min_weight);
			return -1;
		}
	}
	if (c->n_checks == 0 && agent_conf_default_checks(c, err, errlen) == -1)
		return -1;
	c->default_check = 0;
	if (c->agent.default_check[0] != '\0') {
		const struct check_conf *d = agent_conf_find_check(c, c->agent.default_check,
		                                                   strlen(c->agent.default_check));

		if (d == NULL) {
			snprintf(err, errlen,
			         "%s: key 'default_check': no [check %s] section (got \"%s\")",
			         file, c->agent.default_check, c->agent.default_check);
			return -1;
		}
		c->default_check = (size_t)(d - c->checks);
	}
	return 0;
}

static int agent_conf_begin(struct agent_conf *c, const char *file, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	if (strlen(file) >= sizeof(c->file)) {
		snprintf(err, errlen, "%s: path too long", file);
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(c->file, file);
	return cfg_set_defaults(agent_main_keys, &c->agent, err, errlen);
}

/* Reads and validates <path> into <c> (overwritten whole). Returns 0, or -1 with <err> as
 * "FILE:LINE: key 'KEY': what is wrong (got "VALUE")" (or "FILE: ..." for whole-file rules). */
int agent_conf_load(struct agent_conf *c, const char *path, char *err, size_t errlen)
{
	struct agent_conf_reader r = { .c = c };

	if (agent_conf_begin(c, path, err, errlen) == -1)
		return -1;
	if (cfg_read_file(path, agent_conf_item, &r, err, errlen) == -1)
		return -1;
	return agent_conf_validate(&r, path, err, errlen);
}

/* Same as agent_conf_load() over <text>; <name> stands for the file name in errors. */
int agent_conf_load_string(struct agent_conf *c, const char *name, const char *text, char *err,
                           size_t errlen)
{
	struct agent_conf_reader r = { .c = c };

	if (agent_conf_begin(c, name, err, errlen) == -1)
		return -1;
	if (cfg_read_string(name, text, agent_conf_item, &r, err, errlen) == -1)
		return -1;
	return agent_conf_validate(&r, name, err, errlen);
}

/* The check named by the <len> bytes at <name> (matched whole), or NULL. */
const struct check_conf *agent_conf_find_check(const struct agent_conf *c, const char *name,
                                               size_t len)
{
	for (size_t i = 0; i < c->n_checks; i++) {
		if (strlen(c->checks[i].name) == len && memcmp(c->checks[i].name, name, len) == 0)
			return &c->checks[i];
	}
	return NULL;
}

static void agent_conf_print_table(const char *section, const struct cfg_key *t)
{
	printf("  [%s]\n", section);
	for (const struct cfg_key *k = t; k->name != NULL; k++)
		printf("    %-18s %-24s %s\n", k->name, k->def != NULL ? k->def : "(required)",
		       k->help != NULL ? k->help : "");
}

/* Prints every section and key with its default and help line (for --help). */
void agent_conf_print_help(void)
{
	agent_conf_print_table("agent", agent_main_keys);
	agent_conf_print_table("postgres", pgp_conf_keys);
	agent_conf_print_table("http app] / [http nginx", hp_http_keys);
	agent_conf_print_table("tcp app] / [tcp nginx", hp_tcp_keys);
	agent_conf_print_table("check NAME", agent_check_keys);
	agent_conf_print_table("peer NAME", agent_peer_keys);
}
