/* agent/haprolectl.c - the operator's command line (docs/design.md sections 2 and 5):
 *   status                  subscribe to every listed agent's feed, wait (bounded) for one state
 *                           from each, print a table (agent/ctl.h) or JSON; exit 1 if unhealthy
 *   drain|maint [REASON]    ask the local agent over its admin unix socket
 *   ready
 * Exit codes: 0 ok, 1 cluster unhealthy, 2 usage, connection error or refused command.
 * Only main() exits. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <ev.h>

#include "agent/admin.h"
#include "agent/agent_conf.h"
#include "agent/ctl.h"
#include "common/feed_sub.h"
#include "common/log.h"
#include "common/sock.h"

#ifndef HAPROLE_VERSION
#define HAPROLE_VERSION "0.1.0"
#endif

#define CTL_EXIT_OK        0
#define CTL_EXIT_UNHEALTHY 1
#define CTL_EXIT_USAGE     2
#define CTL_DEF_TIMEOUT    3.0 /* seconds to wait for every agent / the admin reply */
#define CTL_DEF_SOCKET     "/run/haprole/agent.sock"

/* One agent being asked for its state. */
struct ctl_target {
	struct feed_sub sub;   /* its feed */
	struct ctl_node *node; /* where the answer goes */
	struct ctl_run *run;   /* owner */
	bool done;             /* a state arrived */
};

/* One `status` run. */
struct ctl_run {
	struct ev_loop *loop;       /* default loop */
	struct ctl_target *targets; /* <n> entries */
	struct ctl_node *nodes;     /* <n> entries, in the order given */
	size_t n;                   /* agents asked */
	size_t answered;            /* targets done */
	ev_timer deadline;          /* the whole run's time limit */
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: haprolectl [-f FILE | -a HOST:PORT ...] [-t SECONDS] [--json] status\n"
	    "       haprolectl [-f FILE | -s SOCKET] drain|maint [REASON...]\n"
	    "       haprolectl [-f FILE | -s SOCKET] ready\n"
	    "\n"
	    "The operator's tool for a haprole cluster.\n"
	    "\n"
	    "status   asks every agent for its state over its feed (the agent port, SUBSCRIBE)\n"
	    "         and prints one row per node: role, timeline, lag, app, nginx, admin state\n"
	    "         and the agent-check line each check answers now (what HAProxy acts on).\n"
	    "         Agents: every -a HOST:PORT given, else the agent of the config file\n"
	    "         (its listen address, * read as 127.0.0.1) and each of its [peer NAME].\n"
	    "         Exit 1 when the cluster is unhealthy: an agent did not answer within\n"
	    "         -t, no writable primary, two of them (split-brain), a fenced node, or\n"
	    "         nodes of different clusters (judged over the agents asked).\n"
	    "drain    the local node takes no new sessions (HAProxy shows DRAIN on every check).\n"
	    "maint    the local node is out of service (HAProxy shows MAINT).\n"
	    "ready    back in service.\n"
	    "         drain/maint/ready talk to the local agent's admin unix socket (never the\n"
	    "         network port); the agent writes the state to its state_file before it\n"
	    "         answers, so a drained node stays drained across agent restarts/reboots.\n"
	    "\n"
	    "options:\n"
	    "  -f FILE      agent config to read agents and admin socket from (default %s,\n"
	    "               when it exists)\n"
	    "  -a HOST:PORT an agent to ask (repeat for each node); numeric address\n"
	    "  -s SOCKET    admin socket (default: admin_socket of the config, else %s)\n"
	    "  -t SECONDS   how long to wait for agents or the admin reply (default 3)\n"
	    "  -j, --json   status as one JSON document (healthy, writers, problems, nodes)\n"
	    "  -v           print the version\n"
	    "  -h, --help   this text\n"
	    "\n"
	    "exit codes: 0 ok, 1 cluster unhealthy, 2 usage, connection error or refused command\n"
	    "\n"
	    "examples:\n"
	    "  haprolectl status                              # the cluster of this node's config\n"
	    "  haprolectl -a 10.0.0.11:5555 -a 10.0.0.12:5555 --json status | jq .healthy\n"
	    "  haprolectl drain upgrade to 5.2                # before upgrading this node\n"
	    "  haprolectl ready                               # after, once it works again\n",
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

/* Asks each of <n> agents; fills <nodes>. Returns 0, or -1 on a setup failure (<err>). */
static int ctl_collect(struct ctl_node *nodes, const struct cfg_addr *addrs, size_t n,
                       double heartbeat, double timeout, char *err, size_t errlen)
{
	struct ctl_run run = { .loop = ev_default_loop(0), .nodes = nodes, .n = n };
	size_t i;

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
	if (n > 0)
		ev_run(run.loop, 0);
	ev_timer_stop(run.loop, &run.deadline);
	for (i = 0; i < n; i++) {
		feed_sub_stop(&run.targets[i].sub);
		feed_sub_free(&run.targets[i].sub);
	}
	free(run.targets);
	return 0;
}

static int ctl_status(struct ctl_node *nodes, const struct cfg_addr *addrs, size_t n,
                      double heartbeat, double timeout, bool json)
{
	struct ctl_health h;
	struct buf out;
	char err[HR_ERR_LEN];
	int ret;

	if (ctl_collect(nodes, addrs, n, heartbeat, timeout, err, sizeof(err)) == -1) {
		fprintf(stderr, "haprolectl: %s\n", err);
		return CTL_EXIT_USAGE;
	}
	ctl_health_eval(nodes, n, &h);
	if (buf_init(&out, 64 * 1024 + n * 16 * 1024) == -1) {
		fprintf(stderr, "haprolectl: out of memory\n");
		return CTL_EXIT_USAGE;
	}
	ret = json ? ctl_format_json(nodes, n, &h, &out) : ctl_format_table(nodes, n, &h, &out);
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

/* ---- admin --------------------------------------------------------------------------------- */

/* Sends <line> (ending in '\n') to the admin socket <path>, prints the reply line. A blocking
 * exchange is fine here: this is a one-shot tool, bounded by <timeout> on every call. */
static int ctl_admin(const char *path, const char *line, double timeout)
{
	struct timeval tv = { .tv_sec = (time_t)timeout,
		              .tv_usec = (suseconds_t)((timeout - (double)(time_t)timeout) * 1e6) };
	char reply[ADMIN_REPLY_MAX];
	size_t got = 0;
	int fd;

	fd = sock_connect_unix(path);
	if (fd == -1) {
		fprintf(stderr, "haprolectl: cannot connect to the admin socket %s: %s\n", path,
		        strerror(errno));
		return CTL_EXIT_USAGE;
	}
	/* sock_connect_unix gives a non-blocking socket; this tool waits, bounded by <tv>. */
	if (fcntl(fd, F_SETFL, 0) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1) {
		fprintf(stderr, "haprolectl: %s: %s\n", path, strerror(errno));
		close(fd);
		return CTL_EXIT_USAGE;
	}
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line)) {
		fprintf(stderr, "haprolectl: write to %s: %s\n", path, strerror(errno));
		close(fd);
		return CTL_EXIT_USAGE;
	}
	while (got < sizeof(reply) - 1 && memchr(reply, '\n', got) == NULL) {
		ssize_t n = read(fd, reply + got, sizeof(reply) - 1 - got);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "haprolectl: no reply from %s: %s\n", path,
			        n == 0 ? "connection closed" : strerror(errno));
			close(fd);
			return CTL_EXIT_USAGE;
		}
		got += (size_t)n;
	}
	close(fd);
	reply[got] = '\0';
	fputs(reply, strncmp(reply, "error", 5) == 0 ? stderr : stdout);
	return strncmp(reply, "ok ", 3) == 0 || reply[0] == '{' ? CTL_EXIT_OK : CTL_EXIT_USAGE;
}

/* ---- main ---------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	static struct agent_conf conf;
	static struct cfg_addr addrs[CTL_NODES_MAX];
	static struct ctl_node nodes[CTL_NODES_MAX];
	const char *file = NULL;
	const char *socket_path = NULL;
	bool json = false;
	bool have_conf = false;
	double timeout = CTL_DEF_TIMEOUT;
	double heartbeat = 0.5;
	char err[HR_ERR_LEN];
	const char *cmd;
	size_t n = 0;
	int opt;

	signal(SIGPIPE, SIG_IGN);
	log_init("haprolectl", LOG_TO_STDERR, LOG_LVL_ERROR);
	while ((opt = getopt_long(argc, argv, "+f:a:s:t:jvh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			file = optarg;
			break;
		case 'a': {
			const char *why = NULL;

			if (n >= CTL_NODES_MAX) {
				fprintf(stderr, "haprolectl: at most %d agents\n", CTL_NODES_MAX);
				return CTL_EXIT_USAGE;
			}
			if (cfg_parse_addr(optarg, &addrs[n], &why) == -1) {
				fprintf(stderr, "haprolectl: -a %s: %s (numeric HOST:PORT)\n",
				        optarg, why != NULL ? why : "bad address");
				return CTL_EXIT_USAGE;
			}
			ctl_local_addr(&addrs[n]);
			snprintf(nodes[n].name, sizeof(nodes[n].name), "%.63s", optarg);
			snprintf(nodes[n].address, sizeof(nodes[n].address), "%.63s", optarg);
			n++;
			break;
		}
		case 's':
			socket_path = optarg;
			break;
		case 't': {
			char *end = NULL;

			timeout = strtod(optarg, &end);
			if (end == optarg || *end != '\0' || !(timeout > 0 && timeout <= 3600)) {
				fprintf(stderr, "haprolectl: -t %s: seconds, 0 < t <= 3600\n",
				        optarg);
				return CTL_EXIT_USAGE;
			}
			break;
		}
		case 'j':
			json = true;
			break;
		case 'v':
			printf("haprolectl %s\n", HAPROLE_VERSION);
			return CTL_EXIT_OK;
		case 'h':
			usage(stdout);
			return CTL_EXIT_OK;
		default:
			usage(stderr);
			return CTL_EXIT_USAGE;
		}
	}
	cmd = optind < argc ? argv[optind++] : "status";

	/* The config: named with -f (must load), else the default file when it exists. */
	/* The default file is read only when it is needed: status without -a, admin without -s. */
	if (file == NULL && access(AGENT_CONF_DEFAULT_FILE, R_OK) == 0 &&
	    (strcmp(cmd, "status") == 0 ? n == 0 : socket_path == NULL))
		file = AGENT_CONF_DEFAULT_FILE;
	if (file != NULL) {
		if (agent_conf_load(&conf, file, err, sizeof(err)) == -1) {
			fprintf(stderr, "haprolectl: %s\n", err);
			return CTL_EXIT_USAGE;
		}
		have_conf = true;
		heartbeat = conf.agent.heartbeat;
	}

	if (strcmp(cmd, "status") == 0) {
		if (optind < argc) {
			fprintf(stderr, "haprolectl: status takes no argument\n");
			return CTL_EXIT_USAGE;
		}
		if (n == 0 && have_conf) {
			addrs[n] = conf.agent.listen;
			ctl_local_addr(&addrs[n]);
			snprintf(nodes[n].name, sizeof(nodes[n].name), "%s", conf.agent.node);
			snprintf(nodes[n].address, sizeof(nodes[n].address), "%.63s",
			         addrs[n].text);
			n++;
			for (size_t i = 0; i < conf.n_peers && n < CTL_NODES_MAX; i++, n++) {
				addrs[n] = conf.peers[i].address;
				snprintf(nodes[n].name, sizeof(nodes[n].name), "%s",
				         conf.peers[i].name);
				snprintf(nodes[n].address, sizeof(nodes[n].address), "%.63s",
				         addrs[n].text);
			}
		}
		if (n == 0) {
			fprintf(stderr, "haprolectl: no agent to ask: give -a HOST:PORT or -f FILE "
			                "(see --help)\n");
			return CTL_EXIT_USAGE;
		}
		return ctl_status(nodes, addrs, n, heartbeat, timeout, json);
	}

	if (strcmp(cmd, "drain") == 0 || strcmp(cmd, "maint") == 0 || strcmp(cmd, "ready") == 0) {
		char line[ADMIN_LINE_MAX];
		size_t len = (size_t)snprintf(line, sizeof(line), "%s", cmd);
		struct admin_cmd parsed;
		const char *why;

		for (; optind < argc; optind++) {
			int w = snprintf(line + len, sizeof(line) - len, " %s", argv[optind]);

			if (w < 0 || (size_t)w >= sizeof(line) - len) {
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
		if (socket_path == NULL)
			socket_path = have_conf && conf.agent.admin_socket[0] != '\0'
			                  ? conf.agent.admin_socket
			                  : CTL_DEF_SOCKET;
		return ctl_admin(socket_path, line, timeout);
	}
	fprintf(stderr, "haprolectl: unknown command '%s' (status, drain, maint, ready; --help)\n",
	        cmd);
	return CTL_EXIT_USAGE;
}
