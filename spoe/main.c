/* spoe/main.c - haprole-spoa: command line, signals, the loop. Everything else is in spoa.c. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "common/log.h"
#include "common/proc.h"
#include "spoe/spoa.h"
#include "spoe/spoa_conf.h"
#include "spoe/spop_codec.h"

#define DEFAULT_CONF "/etc/haprole/haprole-spoa.conf"

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: haprole-spoa [-f FILE] [-d] [-p PIDFILE] [-c] [--allow-root] [-v] [-h]\n"
	    "\n"
	    "The SPOE agent HAProxy asks, per request, who the writer and the best reader of a\n"
	    "cluster are (SPOP %s). It follows every haprole-agent's state feed and answers\n"
	    "the SPOE message `haprole-route` (args cluster, intent) by setting\n"
	    "txn.haprole.writer, txn.haprole.reader, txn.haprole.status and txn.haprole.epoch.\n"
	    "\n",
	    SPOP_VERSION);
	proc_usage_options(out, "haprole-spoa", DEFAULT_CONF);
	fprintf(
	    out,
	    "\n"
	    "examples:\n"
	    "  haprole-spoa -c                           # check /etc/haprole/haprole-spoa.conf\n"
	    "  haprole-spoa -d -f ./spoa.conf            # try a config in a terminal, ^C stops\n"
	    "  haprole-spoa -p /run/haprole/spoa.pid     # a classic daemon, pid in a file\n"
	    "  curl -s http://127.0.0.1:5556/ | jq .clusters   # its view (status_listen)\n"
	    "\n"
	    "privileges: started as root, the SPOA binds its ports, then runs as [spoa]\n"
	    "user/group ([haprole] runtime sockets must be reachable by them); without user\n"
	    "it refuses root unless --allow-root. A reload cannot change user or ports.\n"
	    "\n"
	    "signals: SIGHUP reloads the config keeping the view (a bad file keeps the old one);\n"
	    "SIGTERM/SIGINT close connections with AGENT-DISCONNECT and exit 0.\n"
	    "status: curl http://<status_listen>/ (JSON view), /metrics (Prometheus).\n"
	    "HAProxy side: haproxy/spoe-haprole.conf and haproxy/haproxy.cfg.\n"
	    "docs: man haprole-spoa, docs/spoa.md; sample config (every key, with its default):\n"
	    "conf/haprole-spoa.conf\n");
}

/* Loop context for the signal watchers. */
struct main_ctx {
	struct spoa spoa; /* the server */
	const char *path; /* config file, for reloads */
};

static void on_hup(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct main_ctx *m = w->data;

	(void)loop;
	(void)revents;
	log_info("SIGHUP: reloading %s", m->path);
	(void)spoa_reload(&m->spoa, m->path);
}

static void on_stop(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)revents;
	log_info("signal %d: stopping", w->signum);
	ev_break(loop, EVBREAK_ALL);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = { { "help", no_argument, NULL, 'h' },
		                                  { "version", no_argument, NULL, 'v' },
		                                  { "allow-root", no_argument, NULL,
		                                    PROC_OPT_ALLOW_ROOT },
		                                  { NULL, 0, NULL, 0 } };
	const char *path = DEFAULT_CONF;
	const char *pidfile = NULL;
	bool foreground = false, check = false, allow_root = false;
	struct priv_id priv;
	struct spoa_conf *conf;
	struct main_ctx *m;
	struct ev_loop *loop;
	char err[HR_ERR_LEN];
	int opt;

	while ((opt = getopt_long(argc, argv, PROC_OPTSTRING, longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			path = optarg;
			break;
		case 'd':
			foreground = true;
			break;
		case 'c':
			check = true;
			break;
		case 'p':
			pidfile = optarg;
			break;
		case PROC_OPT_ALLOW_ROOT:
			allow_root = true;
			break;
		case 'v':
			proc_print_version("haprole-spoa");
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "haprole-spoa: see haprole-spoa --help\n");
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "haprole-spoa: unexpected argument '%s' (see --help)\n",
		        argv[optind]);
		return 2;
	}
	conf = malloc(sizeof(*conf));
	if (conf == NULL) {
		fprintf(stderr, "haprole-spoa: out of memory\n");
		return 1;
	}
	if (spoa_conf_load(path, conf, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		free(conf);
		return 1;
	}
	if (check) {
		char what[96];

		snprintf(what, sizeof(what), "%zu clusters, %zu nodes", conf->n_clusters,
		         conf->n_nodes);
		proc_print_valid(path, what);
		free(conf);
		return 0;
	}
	if (priv_plan(conf->user, conf->group, allow_root, "spoa", path, &priv, err, sizeof(err)) <
	    0) {
		fprintf(stderr, "haprole-spoa: %s\n", err);
		free(conf);
		return 1;
	}
	log_init("haprole-spoa", foreground ? LOG_TO_STDERR : LOG_TO_SYSLOG,
	         (enum log_level)conf->log_level);
	signal(SIGPIPE, SIG_IGN);
	loop = ev_default_loop(EVFLAG_AUTO);
	m = calloc(1, sizeof(*m));
	if (loop == NULL || m == NULL) {
		log_error("cannot start the event loop");
		free(conf);
		return 1;
	}
	m->path = path;
	if (spoa_init(&m->spoa, loop, conf, err, sizeof(err)) < 0) {
		log_error("%s", err);
		free(conf);
		free(m);
		return 1;
	}
	/* Without -d: to the background once the ports are bound, as haprole-agent does; root is
	 * given up there, before the loop runs. */
	if (proc_detach(loop, foreground, pidfile, &priv, err, sizeof(err)) == -1) {
		log_error("%s", err);
		spoa_free(&m->spoa);
		free(m);
		return 1;
	}
	ev_signal_init(&m->spoa.sig_hup, on_hup, SIGHUP);
	m->spoa.sig_hup.data = m;
	ev_signal_init(&m->spoa.sig_term, on_stop, SIGTERM);
	ev_signal_init(&m->spoa.sig_int, on_stop, SIGINT);
	ev_signal_start(loop, &m->spoa.sig_hup);
	ev_signal_start(loop, &m->spoa.sig_term);
	ev_signal_start(loop, &m->spoa.sig_int);
	log_info("listening on %s (SPOP), status on %s; %zu clusters, %zu nodes", conf->listen.text,
	         conf->status.text, conf->n_clusters, conf->n_nodes);
	if (geteuid() == 0)
		log_warning("running as root (--allow-root): set [spoa] user to drop privileges");
	else
		log_info("running as uid %ld gid %ld%s%s", (long)geteuid(), (long)getegid(),
		         priv.drop ? ", dropped from root to user " : "",
		         priv.drop ? priv.user : "");
	ev_run(loop, 0);
	ev_signal_stop(loop, &m->spoa.sig_hup);
	ev_signal_stop(loop, &m->spoa.sig_term);
	ev_signal_stop(loop, &m->spoa.sig_int);
	spoa_free(&m->spoa);
	free(m);
	proc_pidfile_remove(pidfile);
	log_info("stopped");
	return 0;
}
