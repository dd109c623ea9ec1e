/* agent/main.c - haprole-agent's command line: options, config check, logging, the loop.
 * Only main() exits; everything else reports. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "agent/agent.h"
#include "agent/agent_conf.h"
#include "common/log.h"
#include "common/priv.h"
#include "common/proc.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: haprole-agent [-f FILE] [-d] [-p PIDFILE] [-c] [--allow-root] [-v] [-h]\n"
	        "\n"
	        "The per-node agent of haprole: probes the local PostgreSQL, app and nginx, and\n"
	        "answers on one TCP port (default *:5555):\n"
	        "  - HAProxy agent-check: the line sent by agent-send names a check (writer,\n"
	        "    reader, app, ...); no line within first_line_wait means the default check.\n"
	        "      printf 'writer\\n' | nc 127.0.0.1 5555      ->  up ready 100%%\n"
	        "  - HTTP: curl http://127.0.0.1:5555/ (state as JSON), /metrics, /check/NAME,\n"
	        "    and Patroni-style /primary /replica?lag=16MB /read-only /health (200/503).\n"
	        "  - SUBSCRIBE: the msgpack state feed read by haprole-spoa and haprolectl.\n"
	        "  - its admin unix socket (admin_socket): haprolectl drain / maint / ready.\n"
	        "\n");
	proc_usage_options(out, "haprole-agent", AGENT_CONF_DEFAULT_FILE);
	fprintf(
	    out,
	    "\n"
	    "examples:\n"
	    "  haprole-agent -c                          # check /etc/haprole/haprole-agent.conf\n"
	    "  haprole-agent -d -f ./agent.conf          # try a config in a terminal, ^C stops\n"
	    "  haprole-agent -p /run/haprole/agent.pid   # a classic daemon, pid in a file\n"
	    "  haprolectl status                         # then look at the cluster\n"
	    "\n"
	    "privileges: started as root, the agent binds its port and admin socket, then\n"
	    "runs as [agent] user/group (the admin socket is given to them; state_file's\n"
	    "directory and on_role_change must work for that user). Without user it refuses\n"
	    "root unless --allow-root. A reload cannot change user or listen (restart).\n"
	    "\n"
	    "signals: SIGHUP reloads the config keeping the state (a bad file is refused and\n"
	    "logged, the running config stays); SIGTERM answers drain on every check for\n"
	    "shutdown_grace, then exits 0.\n"
	    "docs: man haprole-agent, docs/agent.md; sample config: conf/haprole-agent.conf\n"
	    "\n"
	    "config keys (section, key, default, meaning):\n");
}

/* After the drop: says who the agent runs as, and warns about what that account cannot do. */
static void agent_log_privileges(const struct priv_id *priv, const struct agent_conf *c)
{
	char dir[AGENT_CONF_PATH_MAX];
	char *slash;

	if (geteuid() == 0) {
		log_warning("running as root (--allow-root): set [agent] user to drop privileges");
		return;
	}
	log_info("running as uid %ld gid %ld%s%s", (long)geteuid(), (long)getegid(),
	         priv->drop ? ", dropped from root to user " : "", priv->drop ? priv->user : "");
	if (c->agent.state_file[0] == '\0')
		return;
	snprintf(dir, sizeof(dir), "%s", c->agent.state_file);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (access(dir, W_OK | X_OK) == -1)
		log_warning("state_file %s: directory %s not writable by uid %ld: drain and maint "
		            "will be refused (%s)",
		            c->agent.state_file, dir, (long)geteuid(), strerror(errno));
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'v' },
		{ "allow-root", no_argument, NULL, PROC_OPT_ALLOW_ROOT },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = AGENT_CONF_DEFAULT_FILE;
	const char *pidfile = NULL;
	bool foreground = false;
	bool check_only = false;
	bool allow_root = false;
	struct priv_id priv;
	struct agent_conf *conf;
	struct ev_loop *loop;
	struct agent a;
	char err[HR_ERR_LEN];
	int opt;
	int rc;

	while ((opt = getopt_long(argc, argv, PROC_OPTSTRING, longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			file = optarg;
			break;
		case 'd':
			foreground = true;
			break;
		case 'c':
			check_only = true;
			break;
		case 'p':
			pidfile = optarg;
			break;
		case PROC_OPT_ALLOW_ROOT:
			allow_root = true;
			break;
		case 'v':
			proc_print_version("haprole-agent");
			return 0;
		case 'h':
			usage(stdout);
			agent_conf_print_help();
			return 0;
		default:
			fprintf(stderr, "haprole-agent: see haprole-agent --help\n");
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "haprole-agent: unexpected argument '%s' (see --help)\n",
		        argv[optind]);
		return 2;
	}
	conf = malloc(sizeof(*conf));
	if (conf == NULL) {
		fprintf(stderr, "haprole-agent: out of memory\n");
		return 1;
	}
	if (agent_conf_load(conf, file, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		free(conf);
		return 1;
	}
	if (check_only) {
		char what[160];

		snprintf(what, sizeof(what), "%zu checks, default %s", conf->n_checks,
		         conf->checks[conf->default_check].name);
		proc_print_valid(file, what);
		free(conf);
		return 0;
	}
	if (priv_plan(conf->agent.user, conf->agent.group, allow_root, "agent", file, &priv, err,
	              sizeof(err)) == -1) {
		fprintf(stderr, "haprole-agent: %s\n", err);
		free(conf);
		return 1;
	}
	log_init("haprole-agent", foreground ? LOG_TO_STDERR : LOG_TO_SYSLOG,
	         (enum log_level)conf->agent.log_level);
	signal(SIGPIPE, SIG_IGN);
	loop = ev_default_loop(EVFLAG_AUTO);
	if (loop == NULL) {
		log_error("cannot create the event loop");
		free(conf);
		return 1;
	}
	if (agent_init(&a, loop, conf, err, sizeof(err)) == -1) {
		log_error("%s", err);
		free(conf);
		return 1;
	}
	if (agent_start(&a, err, sizeof(err)) == -1) {
		log_error("%s", err);
		agent_free(&a);
		return 1;
	}
	/* The admin socket was made by root: give it to the account we become, so that account
	 * can remove it at exit and its group can run haprolectl. */
	if (priv_chown(&priv, a.conf->agent.admin_socket, err, sizeof(err)) == -1) {
		log_error("%s", err);
		agent_free(&a);
		return 1;
	}
	/* Without -d: to the background once the port is bound (a bind error still reaches the
	 * caller's exit status); the child takes the loop over, and drops root before it runs. */
	if (proc_detach(loop, foreground, pidfile, &priv, err, sizeof(err)) == -1) {
		log_error("%s", err);
		agent_free(&a);
		return 1;
	}
	agent_log_privileges(&priv, a.conf);
	ev_run(loop, 0);
	rc = a.exit_code;
	agent_free(&a);
	proc_pidfile_remove(pidfile);
	log_info("stopped");
	return rc;
}
