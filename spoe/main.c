/* spoe/main.c - haprole-spoa: command line, signals, the loop. Everything else is in spoa.c. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "common/log.h"
#include "spoe/spoa.h"
#include "spoe/spoa_conf.h"
#include "spoe/spop_codec.h"

#define DEFAULT_CONF "/etc/haprole/haprole-spoa.conf"
#ifndef HAPROLE_VERSION
#define HAPROLE_VERSION "0.1"
#endif

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: haprole-spoa [-f FILE] [-d] [-c] [-v] [--help]\n"
	    "\n"
	    "The SPOE agent HAProxy asks, per request, who the writer and the best reader of a\n"
	    "cluster are. It follows every haprole-agent's state feed and answers the SPOE\n"
	    "message `haprole-route` (args cluster, intent) by setting txn.haprole.writer,\n"
	    "txn.haprole.reader, txn.haprole.status and txn.haprole.epoch.\n"
	    "\n"
	    "  -f FILE   config file (default " DEFAULT_CONF ")\n"
	    "  -d        stay in the foreground and log to stderr (default: syslog)\n"
	    "  -c        check the config and exit: 0 valid, 1 with FILE:LINE: key 'KEY': ...\n"
	    "  -v        print the version and exit\n"
	    "  --help    this text\n"
	    "\n"
	    "Signals: SIGHUP reloads the config keeping the view (a bad file keeps the old one),\n"
	    "SIGTERM/SIGINT close connections with AGENT-DISCONNECT and exit.\n"
	    "Status: curl http://<status_listen>/ (JSON view), /metrics (Prometheus).\n"
	    "HAProxy side: haproxy/spoe-haprole.conf and haproxy/haproxy.cfg; sample config:\n"
	    "conf/haprole-spoa.conf; docs/spoa.md.\n");
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
		                                  { NULL, 0, NULL, 0 } };
	const char *path = DEFAULT_CONF;
	bool foreground = false, check = false;
	struct spoa_conf *conf;
	struct main_ctx *m;
	struct ev_loop *loop;
	char err[HR_ERR_LEN];
	int opt;

	while ((opt = getopt_long(argc, argv, "f:dcvh", longopts, NULL)) != -1) {
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
		case 'v':
			printf("haprole-spoa %s (SPOP %s)\n", HAPROLE_VERSION, SPOP_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
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
		printf("%s: valid (%zu clusters, %zu nodes)\n", path, conf->n_clusters,
		       conf->n_nodes);
		free(conf);
		return 0;
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
	ev_signal_init(&m->spoa.sig_hup, on_hup, SIGHUP);
	m->spoa.sig_hup.data = m;
	ev_signal_init(&m->spoa.sig_term, on_stop, SIGTERM);
	ev_signal_init(&m->spoa.sig_int, on_stop, SIGINT);
	ev_signal_start(loop, &m->spoa.sig_hup);
	ev_signal_start(loop, &m->spoa.sig_term);
	ev_signal_start(loop, &m->spoa.sig_int);
	log_info("listening on %s (SPOP), status on %s; %zu clusters, %zu nodes", conf->listen.text,
	         conf->status.text, conf->n_clusters, conf->n_nodes);
	ev_run(loop, 0);
	ev_signal_stop(loop, &m->spoa.sig_hup);
	ev_signal_stop(loop, &m->spoa.sig_term);
	ev_signal_stop(loop, &m->spoa.sig_int);
	spoa_free(&m->spoa);
	free(m);
	log_info("stopped");
	return 0;
}
