/* bench/pgp-watch.c - runs the agent's postgres probe (agent/pg_probe.c) alone on a libev loop
 * and prints one line per change of its struct ns_pg. Not shipped: a driver for
 * tests/integration/test_probe_pg.sh and for people watching a server.
 *
 *   pgp-watch [-i INTERVAL] [-t TIMEOUT] [-c CONNECT_TIMEOUT] [-r RISE] [-f FALL] [-d SECONDS]
 *             [-T RECEIVER_TIMEOUT] [-a ACCEPT_CHECK] [-D PGDATA] [-b BURST_INTERVAL] [-v]
 *             CONNINFO
 *
 * Line format (key=value, err last, quoted):
 *   <ms since start> ch=<changes> up=0|1 role=R tl=N sysid=S lsn=N lag_bytes=N lag_ms=N
 *   streaming=0|1 paused=0|1 q=<queries> f=<failures> k=<bursts> err="..."
 * plus "tick <ms> loop alive" every second on stdout, to show the loop never blocks. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "agent/pg_probe.h"
#include "common/cfg.h"
#include "common/log.h"
#include "common/units.h"

#include "bench/watch_common.h"

/* What the watcher needs in its callbacks. */
struct watch {
	struct pg_probe probe; /* the probe under test */
	struct watch_loop wl;  /* t0, tick, end, signals */
};

static void watch_print(struct pg_probe *p, unsigned changed, void *arg)
{
	struct watch *w = arg;
	const struct ns_pg *pg = &p->pg;
	char ch[64] = "";

	if (changed & PGP_CH_UP)
		strcat(ch, "up,");
	if (changed & PGP_CH_ROLE)
		strcat(ch, "role,");
	if (changed & PGP_CH_IDENT)
		strcat(ch, "ident,");
	if (changed & PGP_CH_LAG)
		strcat(ch, "lag,");
	if (changed & PGP_CH_STREAMING)
		strcat(ch, "streaming,");
	if (changed & PGP_CH_ERR)
		strcat(ch, "err,");
	if (ch[0] != '\0')
		ch[strlen(ch) - 1] = '\0';
	printf("%.0f ch=%s up=%d role=%s tl=%u sysid=%s lsn=%llu lag_bytes=%llu lag_ms=%llu "
	       "streaming=%d paused=%d q=%llu f=%llu k=%llu err=\"%s\"\n",
	       (ev_now(p->loop) - w->wl.t0) * 1e3, ch, pg->up, ns_role_name(pg->role), pg->tl,
	       pg->sysid[0] ? pg->sysid : "-", (unsigned long long)pg->lsn,
	       (unsigned long long)pg->lag_bytes, (unsigned long long)pg->lag_ms, pg->streaming,
	       pg->paused, (unsigned long long)p->queries, (unsigned long long)p->failures,
	       (unsigned long long)p->kicks, pg->err);
	fflush(stdout);
}

static void watch_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct watch *w = container_of(t, struct watch, wl.tick);

	(void)revents;
	printf("tick %.0f loop alive state=%s\n", (ev_now(loop) - w->wl.t0) * 1e3,
	       pgp_state_name(w->probe.state));
	fflush(stdout);
}

static void watch_usage(void)
{
	fprintf(
	    stderr,
	    "usage: pgp-watch [-i INTERVAL] [-t TIMEOUT] [-c CONNECT_TIMEOUT] [-r RISE] [-f FALL]\n"
	    "                 [-T RECEIVER_TIMEOUT] [-a ACCEPT_CHECK] [-D PGDATA] [-b "
	    "BURST_INTERVAL]\n"
	    "                 [-d SECONDS] [-v]\n"
	    "                 CONNINFO\n"
	    "Runs the agent's postgres probe alone; prints one line per change.\n"
	    "Durations as in configs: 100ms, 1s (bare number: ms). Defaults: the [postgres] "
	    "defaults.\n");
}

int main(int argc, char **argv)
{
	struct ev_loop *loop = EV_DEFAULT;
	static struct watch w;
	struct pgp_conf conf;
	char err[HR_ERR_LEN];
	double duration = 0;
	int opt;

	log_init("pgp-watch", LOG_TO_STDERR, LOG_LVL_INFO);
	if (cfg_set_defaults(pgp_conf_keys, &conf, err, sizeof(err)) < 0) {
		fprintf(stderr, "pgp-watch: %s\n", err);
		return 1;
	}
	while ((opt = getopt(argc, argv, "i:t:c:r:f:T:a:D:b:d:vh")) != -1) {
		switch (opt) {
		case 'i':
			if (watch_duration("pgp-watch", "i", optarg, &conf.interval) < 0)
				return 2;
			break;
		case 't':
			if (watch_duration("pgp-watch", "t", optarg, &conf.timeout) < 0)
				return 2;
			break;
		case 'c':
			if (watch_duration("pgp-watch", "c", optarg, &conf.connect_timeout) < 0)
				return 2;
			break;
		case 'T':
			if (watch_duration("pgp-watch", "T", optarg, &conf.receiver_timeout) < 0)
				return 2;
			break;
		case 'a':
			if (watch_duration("pgp-watch", "a", optarg, &conf.accept_check) < 0)
				return 2;
			break;
		case 'b':
			if (watch_duration("pgp-watch", "b", optarg, &conf.burst_interval) < 0)
				return 2;
			break;
		case 'D':
			if (strlen(optarg) >= sizeof(conf.pgdata)) {
				fprintf(stderr, "pgp-watch: -D: path longer than %zu bytes\n",
				        sizeof(conf.pgdata) - 1);
				return 2;
			}
			snprintf(conf.pgdata, sizeof(conf.pgdata), "%s", optarg);
			break;
		case 'd':
			if (watch_duration("pgp-watch", "d", optarg, &duration) < 0)
				return 2;
			break;
		case 'r':
			conf.rise = atoll(optarg);
			break;
		case 'f':
			conf.fall = atoll(optarg);
			break;
		case 'v':
			log_set_level(LOG_LVL_DEBUG);
			break;
		case 'h':
		default:
			watch_usage();
			return opt == 'h' ? 0 : 2;
		}
	}
	if (optind != argc - 1) {
		watch_usage();
		return 2;
	}
	if (strlen(argv[optind]) >= sizeof(conf.conninfo)) {
		fprintf(stderr, "pgp-watch: conninfo longer than %zu bytes\n",
		        sizeof(conf.conninfo) - 1);
		return 2;
	}
	snprintf(conf.conninfo, sizeof(conf.conninfo), "%s", argv[optind]);
	signal(SIGPIPE, SIG_IGN);
	if (pgp_init(&w.probe, loop, &conf, watch_print, &w, err, sizeof(err)) < 0) {
		fprintf(stderr, "pgp-watch: %s\n", err);
		return 1;
	}
	watch_loop_start(&w.wl, loop, duration, watch_tick);
	pgp_start(&w.probe);
	ev_run(loop, 0);
	pgp_free(&w.probe);
	printf("end queries=%llu failures=%llu\n", (unsigned long long)w.probe.queries,
	       (unsigned long long)w.probe.failures);
	return 0;
}
