/* ctl/main.c - the operator's command line (docs/operations.md):
 *   status                  every agent's state (their feeds; the local one through its admin
 *                           socket), a table (ctl/status.h) or JSON, plus HAProxy's view of each
 *                           server and the SPOA's decision when asked (ctl/views.h);
 *                           exit 1 if unhealthy
 *   drain|maint [REASON]    ask the local agent over its admin unix socket; drain --wait then
 *   ready                   waits until HAProxy shows no session on the node's servers
 * Options go before or after the command. Exit codes: 0 ok, 1 cluster unhealthy, 2 usage,
 * connection error or refused command, 3 drain --wait timed out with sessions left.
 * A one-shot tool: it blocks, but every wait is bounded (-t, --timeout). Only main() exits. */
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "agent/admin.h"
#include "agent/agent_conf.h"
#include "ctl/fetch.h"
#include "ctl/status.h"
#include "ctl/views.h"
#include "common/feed_sub.h"
#include "common/log.h"
#include "common/units.h"
#include "common/version.h"

#define CTL_EXIT_OK        0
#define CTL_EXIT_UNHEALTHY 1
#define CTL_EXIT_USAGE     2
#define CTL_EXIT_TIMEOUT   3
#define CTL_DEF_TIMEOUT    3.0   /* seconds to wait for every agent / each socket's answer */
#define CTL_DEF_WAIT       300.0 /* seconds drain --wait waits for sessions to end */
#define CTL_WAIT_POLL      0.2   /* seconds between two looks at HAProxy while waiting */
#define CTL_DEF_SOCKET     "/run/haprole/agent.sock"

/* What the command line asked. */
struct ctl_opts {
	const char *file;        /* -f: agent config */
	const char *socket_path; /* -s: admin socket */
	const char *haproxy;     /* --haproxy: HAProxy stats socket */
	const char *spoa;        /* --spoa: haprole-spoa status port, HOST:PORT */
	const char *server;      /* --server: HAProxy server name of this node (default: node) */
	bool json;               /* --json */
	bool wait;               /* drain --wait */
	double timeout;          /* -t: per agent / socket, seconds */
	double wait_timeout;     /* --timeout: drain --wait, seconds */
};

/* One agent being asked for its state over its feed. */
struct ctl_target {
	struct feed_sub sub;   /* its feed */
	struct ctl_node *node; /* where the answer goes */
	struct ctl_run *run;   /* owner */
	bool done;             /* a state arrived */
};

/* One feed collection. */
struct ctl_run {
	struct ev_loop *loop;       /* default loop */
	struct ctl_target *targets; /* <n> entries */
	size_t n;                   /* agents asked */
	size_t answered;            /* targets done */
	ev_timer deadline;          /* the whole run's time limit */
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: haprolectl [OPTIONS] status\n"
	    "       haprolectl [OPTIONS] drain [--wait [--timeout D]] [REASON...]\n"
	    "       haprolectl [OPTIONS] maint [REASON...]\n"
	    "       haprolectl [OPTIONS] ready\n"
	    "Options may come before or after the command; `--` ends them (a reason that starts\n"
	    "with '-').\n"
	    "\n"
	    "The operator's tool for a haprole cluster.\n"
	    "\n"
	    "status   one row per node: role, timeline, lag, app, nginx, admin state and the\n"
	    "         agent-check line each check answers now (what HAProxy acts on).\n"
	    "         Agents asked: this node's through its admin socket (-s, or admin_socket of\n"
	    "         the config; its agent port when the socket cannot be used), each [peer] of\n"
	    "         the config, and every -a HOST:PORT (with -a, the config's agents are not\n"
	    "         asked). --haproxy adds HAProxy's view of each server, --spoa the SPOA's\n"
	    "         decision (writer, reader, status, epoch).\n"
	    "         Exit 1 when the cluster is unhealthy: an agent did not answer within -t, no\n"
	    "         writable primary or two of them, a fenced node, nodes of different "
	    "clusters,\n"
	    "         a ready node with PostgreSQL/app/nginx down or a standby not streaming,\n"
	    "         HAProxy or the SPOA asked and not answering, the SPOA not ok or naming\n"
	    "         another writer.\n"
	    "drain    this node takes no new sessions (HAProxy shows DRAIN on every check).\n"
	    "         --wait: then wait until HAProxy (--haproxy) shows every server named like\n"
	    "         the node (--server) out of load balancing with no session; exit 3 when\n"
	    "         sessions remain after --timeout.\n"
	    "maint    this node is out of service (HAProxy shows MAINT).\n"
	    "ready    back in service.\n"
	    "         drain/maint/ready talk to the local agent's admin unix socket (never the\n"
	    "         network port); the agent writes the state to its state_file before it\n"
	    "         answers, so a drained node stays drained across agent restarts/reboots.\n"
	    "\n"
	    "options:\n"
	    "  -f FILE           agent config to read this node, its peers and admin socket from\n"
	    "                    (default %s, when it exists)\n"
	    "  -s SOCKET         this node's admin socket (default: admin_socket of the config,\n"
	    "                    else %s)\n"
	    "  -a HOST:PORT      an agent to ask for status (repeat for each node); numeric "
	    "address\n"
	    "  --haproxy SOCKET  HAProxy's stats socket (stats socket ... level operator or "
	    "admin)\n"
	    "  --spoa HOST:PORT  haprole-spoa's status port (status_listen)\n"
	    "  --server NAME     this node's server name in HAProxy (default: the node's name)\n"
	    "  -w, --wait        drain: wait until HAProxy shows the node drained\n"
	    "  --timeout D       how long --wait waits (default 5m; 30s, 2m, 1h ...)\n"
	    "  -t SECONDS        how long to wait for each agent or socket (default 3)\n"
	    "  -j, --json        the result as one JSON document, for every command\n"
	    "  -v, --version     print the version\n"
	    "  -h, --help        this text\n"
	    "\n"
	    "exit codes: 0 ok, 1 cluster unhealthy, 2 usage, connection error or refused command,\n"
	    "            3 drain --wait timed out with sessions left\n"
	    "\n"
	    "examples:\n"
	    "  haprolectl status                              # the cluster of this node's config\n"
	    "  haprolectl status --json | jq .healthy\n"
	    "  haprolectl -a 10.0.0.11:5555 -a 10.0.0.12:5555 status --haproxy "
	    "/run/haproxy/admin.sock\n"
	    "  haprolectl drain --wait --haproxy /run/haproxy/admin.sock upgrade to 5.2\n"
	    "  haprolectl ready                               # after the upgrade, once it works\n",
	    AGENT_CONF_DEFAULT_FILE, CTL_DEF_SOCKET);
}

/* ---- status -------------------------------------------------------------------------------- */

static void ctl_on_feed(struct feed_sub *fs, enum feed_sub_event ev, const struct node_state *state,
                        const char *why)
{
	struct ctl_target *t = fs->arg;

	switch (ev) {
	case FEED_SUB_EV_STATE:
		if (t->done)
			return;
		t->done = true;
		t->node->reachable = true;
		t->node->st = *state;
		snprintf(t->node->name, sizeof(t->node->name), "%s", state->node);
		if (++t->run->answered == t->run->n)
			ev_break(t->run->loop, EVBREAK_ALL);
		break;
	case FEED_SUB_EV_LOST:
		if (!t->done)
			snprintf(t->node->err, sizeof(t->node->err), "%s",
			         why != NULL ? why : "lost");
		break;
	}
}

static void ctl_on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* A wildcard listen address is reached on loopback. */
static void ctl_local_addr(struct cfg_addr *a)
{
	if (a->ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;

		if (sin->sin_addr.s_addr == htonl(INADDR_ANY))
			sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else if (a->ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;

		if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr))
			sin6->sin6_addr = in6addr_loopback;
	}
}

/* Asks each of <n> agents over its feed; fills <nodes>. Returns 0, or -1 on a setup failure
 * (<err>). */
static int ctl_collect(struct ctl_node *nodes, const struct cfg_addr *addrs, size_t n,
                       double heartbeat, double timeout, char *err, size_t errlen)
{
	struct ctl_run run = { .loop = ev_default_loop(0), .n = n };
	size_t i;

	if (n == 0)
		return 0;
	if (run.loop == NULL) {
		snprintf(err, errlen, "cannot create the event loop");
		return -1;
	}
	run.targets = calloc(n, sizeof(*run.targets));
	if (run.targets == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct ctl_target *t = &run.targets[i];

		t->node = &nodes[i];
		t->run = &run;
		snprintf(nodes[i].err, sizeof(nodes[i].err), "no answer within %.1f s", timeout);
		if (feed_sub_init(&t->sub, run.loop, &addrs[i], heartbeat, ctl_on_feed, t) == -1) {
			snprintf(err, errlen, "out of memory");
			while (i-- > 0)
				feed_sub_free(&run.targets[i].sub);
			free(run.targets);
			return -1;
		}
	}
	for (i = 0; i < n; i++)
		feed_sub_start(&run.targets[i].sub);
	ev_timer_init(&run.deadline, ctl_on_deadline, timeout, 0);
	ev_timer_start(run.loop, &run.deadline);
	ev_run(run.loop, 0);
	ev_timer_stop(run.loop, &run.deadline);
	for (i = 0; i < n; i++) {
		feed_sub_stop(&run.targets[i].sub);
		feed_sub_free(&run.targets[i].sub);
	}
	free(run.targets);
	return 0;
}

/* Asks the local agent through its admin socket <path> for nodes[0]. Returns 0 when it
 * answered; -1 otherwise, nodes[0] then unreachable with the reason. */
static int ctl_collect_local(struct ctl_node *node, const char *path, double timeout)
{
	char err[CTLV_ERR_MAX];

	if (ctlf_admin_ask(path, NULL, NULL, 0, &node->st, timeout, err, sizeof(err)) == -1) {
		node->reachable = false;
		snprintf(node->err, sizeof(node->err), "%s", err);
		return -1;
	}
	node->reachable = true;
	snprintf(node->name, sizeof(node->name), "%s", node->st.node);
	return 0;
}

/* Prints the document of <nodes> and the views asked; returns the exit code. */
static int ctl_print_status(struct ctl_node *nodes, size_t n, const struct ctl_opts *o,
                            struct ctlv_haproxy *hap, struct ctlv_spoa *spoa)
{
	struct ctl_health h;
	struct buf out;
	int ret;

	ctl_health_eval(nodes, n, &h);
	ctlv_health(hap, spoa, nodes, &h);
	if (buf_init(&out, 256 * 1024 + n * 16 * 1024) == -1) {
		fprintf(stderr, "haprolectl: out of memory\n");
		return CTL_EXIT_USAGE;
	}
	if (o->json) {
		ret = ctl_format_json(nodes, n, &h, &out);
		/* The views go inside the document: take its closing "}\n" off, put it back. */
		if (ret == 0 && (hap != NULL || spoa != NULL)) {
			if (buf_len(&out) < 2 ||
			    memcmp(buf_head(&out) + buf_len(&out) - 2, "}\n", 2) != 0)
				ret = -1;
			else
				out.tail -= 2;
			if (ret == 0 && (ctlv_format_json(hap, spoa, &out) == -1 ||
			                 buf_append(&out, "}\n", 2) == -1))
				ret = -1;
		}
	} else {
		ret = ctl_format_table(nodes, n, &h, &out);
		if (ret == 0)
			ret = ctlv_format_text(hap, spoa, &out);
	}
	if (ret == -1) {
		fprintf(stderr, "haprolectl: output too large\n");
		buf_free(&out);
		return CTL_EXIT_USAGE;
	}
	fwrite(buf_head(&out), 1, buf_len(&out), stdout);
	fflush(stdout);
	buf_free(&out);
	return h.n == 0 ? CTL_EXIT_OK : CTL_EXIT_UNHEALTHY;
}

/* status: the agents (local through <local_socket> when not NULL, then <addrs>), the views. */
static int ctl_status(struct ctl_node *nodes, struct cfg_addr *addrs, size_t n,
                      const char *local_socket, double heartbeat, const struct ctl_opts *o)
{
	static struct ctlv_haproxy hap;
	struct ctlv_spoa spoa = { .reachable = false };
	char err[HR_ERR_LEN];
	size_t first = 0;

	if (local_socket != NULL) {
		/* Answered, or -s (that socket only; nodes[0] says why it failed): done with it.
		 * -f whose socket failed: its agent port, below, as the peers. */
		if (ctl_collect_local(&nodes[0], local_socket, o->timeout) == 0 ||
		    addrs[0].ss.ss_family == AF_UNSPEC)
			first = 1;
	}
	if (ctl_collect(nodes + first, addrs + first, n - first, heartbeat, o->timeout, err,
	                sizeof(err)) == -1) {
		fprintf(stderr, "haprolectl: %s\n", err);
		return CTL_EXIT_USAGE;
	}
	if (o->haproxy != NULL)
		ctlf_haproxy(o->haproxy, o->timeout, &hap);
	if (o->spoa != NULL) {
		for (size_t i = 0; i < n; i++) {
			if (nodes[i].reachable) {
				snprintf(spoa.cluster, sizeof(spoa.cluster), "%s",
				         nodes[i].st.cluster);
				break;
			}
		}
		ctlf_spoa(o->spoa, o->timeout, &spoa);
	}
	return ctl_print_status(nodes, n, o, o->haproxy != NULL ? &hap : NULL,
	                        o->spoa != NULL ? &spoa : NULL);
}

/* ---- drain, maint, ready ------------------------------------------------------------------- */

/* Prints the outcome of an admin command; JSON when asked. <extra> is more JSON members
 * (",\"wait\":{...}") or "". Returns <code>. */
static int ctl_admin_result(const struct ctl_opts *o, const char *cmd, const char *node,
                            const char *reply, const char *error, const char *extra, int code)
{
	if (!o->json) {
		if (error != NULL)
			fprintf(stderr, "haprolectl: %s\n", error);
		else
			printf("%s\n", reply);
		return code;
	}
	{
		struct buf out;

		if (buf_init(&out, 64 * 1024) == -1) {
			fprintf(stderr, "haprolectl: out of memory\n");
			return CTL_EXIT_USAGE;
		}
		if (buf_printf(&out, "{\"command\":") == -1 || ns_json_str(&out, cmd) == -1 ||
		    buf_printf(&out, ",\"ok\":%s", error == NULL ? "true" : "false") == -1 ||
		    (node != NULL && node[0] != '\0' &&
		     (buf_printf(&out, ",\"node\":") == -1 || ns_json_str(&out, node) == -1)) ||
		    (reply != NULL && reply[0] != '\0' &&
		     (buf_printf(&out, ",\"reply\":") == -1 || ns_json_str(&out, reply) == -1)) ||
		    (error != NULL &&
		     (buf_printf(&out, ",\"error\":") == -1 || ns_json_str(&out, error) == -1)) ||
		    buf_printf(&out, "%s}\n", extra) == -1) {
			fprintf(stderr, "haprolectl: output too large\n");
			buf_free(&out);
			return CTL_EXIT_USAGE;
		}
		fwrite(buf_head(&out), 1, buf_len(&out), stdout);
		buf_free(&out);
	}
	return code;
}

/* drain --wait: polls HAProxy until the servers named <server> are drained (ctl/views.h) or
 * <o->wait_timeout> passed. Returns the exit code; prints the outcome. */
static int ctl_wait_drained(const struct ctl_opts *o, const char *node, const char *server,
                            const char *reply)
{
	static struct ctlv_haproxy hap;
	double start = ctlf_now();
	double deadline = start + o->wait_timeout;
	char msg[512];
	struct buf extra;
	size_t servers = 0;
	uint64_t sessions = 0;
	bool drained = false;
	int code;

	if (!o->json)
		fprintf(stderr,
		        "haprolectl: waiting until HAProxy (%s) shows no session on server %s "
		        "(at most %.0f s)\n",
		        o->haproxy, server, o->wait_timeout);
	for (;;) {
		ctlf_haproxy(o->haproxy, o->timeout, &hap);
		if (!hap.reachable) {
			snprintf(msg, sizeof(msg), "HAProxy %s: %s", o->haproxy, hap.err);
			return ctl_admin_result(o, "drain", node, reply, msg, "", CTL_EXIT_USAGE);
		}
		drained = ctlv_drained(&hap, server, &servers, &sessions);
		if (servers == 0) {
			snprintf(msg, sizeof(msg),
			         "HAProxy %s has no server named %s (--server NAME names it)",
			         o->haproxy, server);
			return ctl_admin_result(o, "drain", node, reply, msg, "", CTL_EXIT_USAGE);
		}
		if (drained || ctlf_now() >= deadline)
			break;
		usleep((useconds_t)(CTL_WAIT_POLL * 1e6));
	}
	code = drained ? CTL_EXIT_OK : CTL_EXIT_TIMEOUT;
	if (buf_init(&extra, 64 * 1024) == -1 ||
	    buf_printf(&extra,
	               ",\"wait\":{\"drained\":%s,\"waited_s\":%.3f,\"sessions\":%" PRIu64
	               ",\"servers\":[",
	               drained ? "true" : "false", ctlf_now() - start, sessions) == -1 ||
	    ctlv_format_servers(&hap, server, true, &extra) == -1 ||
	    buf_append(&extra, "]}", 3) == -1) {
		fprintf(stderr, "haprolectl: out of memory\n");
		return CTL_EXIT_USAGE;
	}
	if (o->json) {
		code = ctl_admin_result(o, "drain", node, reply,
		                        drained ? NULL : "sessions left when --timeout passed",
		                        (const char *)buf_head(&extra), code);
	} else {
		struct buf text;

		printf("%s\n", reply);
		if (buf_init(&text, 64 * 1024) == 0 &&
		    ctlv_format_servers(&hap, server, false, &text) == 0) {
			if (drained)
				printf("drained: no session on %s after %.1f s\n", server,
				       ctlf_now() - start);
			else
				printf("timeout: %" PRIu64 " session%s left on %s after %.1f s\n",
				       sessions, sessions == 1 ? "" : "s", server,
				       ctlf_now() - start);
			fwrite(buf_head(&text), 1, buf_len(&text), stdout);
		}
		buf_free(&text);
	}
	buf_free(&extra);
	return code;
}

/* drain/maint/ready: the command line built from <words>, sent to <path>. */
static int ctl_admin(const struct ctl_opts *o, const char *path, const char *cmd, char **words,
                     int n_words)
{
	char line[ADMIN_LINE_MAX];
	char reply[ADMIN_REPLY_MAX];
	char err[HR_ERR_LEN];
	static struct node_state st;
	struct admin_cmd parsed;
	bool need_state = o->wait || o->json;
	size_t len = (size_t)snprintf(line, sizeof(line), "%s", cmd);
	const char *why;

	for (int i = 0; i < n_words; i++) {
		int w = snprintf(line + len, sizeof(line) - len, " %s", words[i]);

		if (w < 0 || (size_t)w >= sizeof(line) - len - 1) {
			fprintf(stderr, "haprolectl: reason too long\n");
			return CTL_EXIT_USAGE;
		}
		len += (size_t)w;
	}
	/* Refuse locally what the agent would refuse, with the same words. */
	if (admin_parse(line, len, &parsed, &why) == -1) {
		fprintf(stderr, "haprolectl: %s\n", why);
		return CTL_EXIT_USAGE;
	}
	line[len++] = '\n';
	line[len] = '\0';
	if (ctlf_admin_ask(path, line, reply, sizeof(reply), need_state ? &st : NULL, o->timeout,
	                   err, sizeof(err)) == -1)
		return ctl_admin_result(o, cmd, NULL, NULL, err, "", CTL_EXIT_USAGE);
	if (strncmp(reply, "ok ", 3) != 0)
		return ctl_admin_result(o, cmd, need_state ? st.node : NULL, NULL,
		                        strncmp(reply, "error: ", 7) == 0 ? reply + 7 : reply, "",
		                        CTL_EXIT_USAGE);
	if (o->wait)
		return ctl_wait_drained(o, st.node, o->server != NULL ? o->server : st.node, reply);
	return ctl_admin_result(o, cmd, need_state ? st.node : NULL, reply, NULL, "", CTL_EXIT_OK);
}

/* ---- main ---------------------------------------------------------------------------------- */

enum ctl_longopt {
	CTL_OPT_HAPROXY = 256, /* --haproxy SOCKET */
	CTL_OPT_SPOA,          /* --spoa HOST:PORT */
	CTL_OPT_SERVER,        /* --server NAME */
	CTL_OPT_TIMEOUT,       /* --timeout D */
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "version", no_argument, NULL, 'v' },
		{ "wait", no_argument, NULL, 'w' },
		{ "haproxy", required_argument, NULL, CTL_OPT_HAPROXY },
		{ "spoa", required_argument, NULL, CTL_OPT_SPOA },
		{ "server", required_argument, NULL, CTL_OPT_SERVER },
		{ "timeout", required_argument, NULL, CTL_OPT_TIMEOUT },
		{ NULL, 0, NULL, 0 },
	};
	static struct agent_conf conf;
	static struct cfg_addr addrs[CTL_NODES_MAX];
	static struct ctl_node nodes[CTL_NODES_MAX];
	struct ctl_opts o = { .timeout = CTL_DEF_TIMEOUT, .wait_timeout = CTL_DEF_WAIT };
	bool have_conf = false;
	bool timeout_given = false;
	double heartbeat = 0.5;
	const char *local_socket = NULL;
	char err[HR_ERR_LEN];
	const char *cmd;
	size_t n = 0;
	int opt;

	signal(SIGPIPE, SIG_IGN);
	log_init("haprolectl", LOG_TO_STDERR, LOG_LVL_ERROR);
	/* No '+': GNU getopt permutes, so options may follow the command (`status --json`). */
	while ((opt = getopt_long(argc, argv, "f:a:s:t:jwvh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			o.file = optarg;
			break;
		case 'a': {
			const char *why = NULL;

			if (n >= CTL_NODES_MAX - 1) {
				fprintf(stderr, "haprolectl: at most %d agents\n",
				        CTL_NODES_MAX - 1);
				return CTL_EXIT_USAGE;
			}
			/* addrs[0] / nodes[0] are kept for the local agent. */
			if (cfg_parse_addr(optarg, &addrs[n + 1], &why) == -1) {
				fprintf(stderr, "haprolectl: -a %s: %s (numeric HOST:PORT)\n",
				        optarg, why != NULL ? why : "bad address");
				return CTL_EXIT_USAGE;
			}
			ctl_local_addr(&addrs[n + 1]);
			snprintf(nodes[n + 1].name, sizeof(nodes[n + 1].name), "%.63s", optarg);
			snprintf(nodes[n + 1].address, sizeof(nodes[n + 1].address), "%.63s",
			         optarg);
			n++;
			break;
		}
		case 's':
			o.socket_path = optarg;
			break;
		case 't': {
			char *end = NULL;

			o.timeout = strtod(optarg, &end);
			if (end == optarg || *end != '\0' ||
			    !(o.timeout > 0 && o.timeout <= 3600)) {
				fprintf(stderr, "haprolectl: -t %s: seconds, 0 < t <= 3600\n",
				        optarg);
				return CTL_EXIT_USAGE;
			}
			break;
		}
		case 'j':
			o.json = true;
			break;
		case 'w':
			o.wait = true;
			break;
		case CTL_OPT_HAPROXY:
			o.haproxy = optarg;
			break;
		case CTL_OPT_SPOA:
			o.spoa = optarg;
			break;
		case CTL_OPT_SERVER:
			o.server = optarg;
			break;
		case CTL_OPT_TIMEOUT:
			if (units_parse_duration(optarg, &o.wait_timeout) == -1 ||
			    !(o.wait_timeout > 0 && o.wait_timeout <= 86400)) {
				fprintf(stderr,
				        "haprolectl: --timeout %s: a duration from 1ms to 24h "
				        "(30s, 5m)\n",
				        optarg);
				return CTL_EXIT_USAGE;
			}
			timeout_given = true;
			break;
		case 'v':
			printf("haprolectl %s\n", HAPROLE_VERSION);
			return CTL_EXIT_OK;
		case 'h':
			usage(stdout);
			return CTL_EXIT_OK;
		default:
			fprintf(stderr, "haprolectl: see --help\n");
			return CTL_EXIT_USAGE;
		}
	}
	cmd = optind < argc ? argv[optind++] : "status";
	if (strcmp(cmd, "status") != 0 && strcmp(cmd, "drain") != 0 && strcmp(cmd, "maint") != 0 &&
	    strcmp(cmd, "ready") != 0) {
		fprintf(stderr,
		        "haprolectl: unknown command '%s' (status, drain, maint, ready; --help)\n",
		        cmd);
		return CTL_EXIT_USAGE;
	}
	if ((o.wait || timeout_given || o.server != NULL) && strcmp(cmd, "drain") != 0) {
		fprintf(stderr, "haprolectl: --wait, --timeout and --server go with drain\n");
		return CTL_EXIT_USAGE;
	}
	if (timeout_given && !o.wait) {
		fprintf(stderr, "haprolectl: --timeout is how long drain --wait waits\n");
		return CTL_EXIT_USAGE;
	}
	if (o.wait && o.haproxy == NULL) {
		fprintf(stderr, "haprolectl: drain --wait needs --haproxy SOCKET (HAProxy's stats "
		                "socket)\n");
		return CTL_EXIT_USAGE;
	}

	/* The config: named with -f (must load), else the default file when it exists and is
	 * needed (status without -a and -s, admin without -s). */
	if (o.file == NULL && access(AGENT_CONF_DEFAULT_FILE, R_OK) == 0 && o.socket_path == NULL &&
	    (strcmp(cmd, "status") != 0 || n == 0))
		o.file = AGENT_CONF_DEFAULT_FILE;
	if (o.file != NULL) {
		if (agent_conf_load(&conf, o.file, err, sizeof(err)) == -1) {
			fprintf(stderr, "haprolectl: %s\n", err);
			return CTL_EXIT_USAGE;
		}
		have_conf = true;
		heartbeat = conf.agent.heartbeat;
	}

	if (strcmp(cmd, "status") == 0) {
		size_t first = 1; /* nodes[0]: the local agent, when there is one */

		if (optind < argc) {
			fprintf(stderr, "haprolectl: status takes no argument (got '%s')\n",
			        argv[optind]);
			return CTL_EXIT_USAGE;
		}
		if (o.socket_path != NULL) {
			/* -s: that agent, through its socket only. */
			local_socket = o.socket_path;
			snprintf(nodes[0].name, sizeof(nodes[0].name), "local");
			snprintf(nodes[0].address, sizeof(nodes[0].address), "%.63s", local_socket);
			first = 0;
		} else if (n == 0 && have_conf) {
			/* This node: its admin socket, else its agent port (a wildcard listen
			 * address is this host: loopback). Then its peers. */
			addrs[0] = conf.agent.listen;
			ctl_local_addr(&addrs[0]);
			snprintf(nodes[0].name, sizeof(nodes[0].name), "%s", conf.agent.node);
			/* The Address column shows its agent port as configured, however asked. */
			snprintf(nodes[0].address, sizeof(nodes[0].address), "%.63s",
			         conf.agent.listen.text);
			if (conf.agent.admin_socket[0] != '\0' &&
			    access(conf.agent.admin_socket, W_OK) == 0)
				local_socket = conf.agent.admin_socket;
			first = 0;
			for (size_t i = 0; i < conf.n_peers && n + 1 < CTL_NODES_MAX; i++, n++) {
				addrs[n + 1] = conf.peers[i].address;
				snprintf(nodes[n + 1].name, sizeof(nodes[n + 1].name), "%s",
				         conf.peers[i].name);
				snprintf(nodes[n + 1].address, sizeof(nodes[n + 1].address),
				         "%.63s", addrs[n + 1].text);
			}
		}
		if (first == 1 && n == 0) {
			fprintf(stderr,
			        "haprolectl: no agent to ask: give -a HOST:PORT, -s SOCKET or "
			        "-f FILE (see --help)\n");
			return CTL_EXIT_USAGE;
		}
		return ctl_status(nodes + first, addrs + first, n + 1 - first, local_socket,
		                  heartbeat, &o);
	}

	if (o.socket_path == NULL)
		o.socket_path = have_conf && conf.agent.admin_socket[0] != '\0'
		                    ? conf.agent.admin_socket
		                    : CTL_DEF_SOCKET;
	return ctl_admin(&o, o.socket_path, cmd, argv + optind, argc - optind);
}
