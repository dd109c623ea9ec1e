/* bench/hp-watch.c - runs one of the agent's HTTP/TCP probes (agent/http_probe.c) alone on a
 * libev loop and prints one line per change. Not shipped: a driver for
 * tests/integration/test_probe_http.sh and for people checking a health URL.
 *
 *   hp-watch [-k http|tcp] [-i INTERVAL] [-t TIMEOUT] [-r RISE] [-f FALL] [-e EXPECT]
 *            [-H HOST] [-s] [-V none|peer] [-C CA_FILE] [-N SNI] [-d SECONDS] [-v] URL|IP:PORT
 *
 * Line format: <ms since start> up=0|1 status=N active=N ms=N probes=N failures=N err="..."
 * plus "tick <ms> state=S" every second from the same loop. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "agent/http_probe.h"
#include "common/cfg.h"
#include "common/log.h"
#include "common/units.h"

#include "bench/watch_common.h"

/* What the watcher needs in its callbacks. */
struct watch {
	struct http_probe probe; /* the probe under test */
	struct watch_loop wl;    /* t0, tick, end, signals */
};

static void watch_print(struct http_probe *p, void *arg)
{
	struct watch *w = arg;

	printf("%.0f up=%d status=%d active=%lld ms=%u probes=%llu failures=%llu err=\"%s\"\n",
	       (ev_now(p->loop) - w->wl.t0) * 1e3, p->res.up, p->last_status, (long long)p->active,
	       p->res.ms, (unsigned long long)p->probes, (unsigned long long)p->failures,
	       p->res.err);
	fflush(stdout);
}

static void watch_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct watch *w = container_of(t, struct watch, wl.tick);

	(void)revents;
	printf("tick %.0f state=%s\n", (ev_now(loop) - w->wl.t0) * 1e3,
	       hp_state_name(w->probe.state));
	fflush(stdout);
}

static void watch_usage(void)
{
	fprintf(stderr,
	        "usage: hp-watch [-k http|tcp] [-i INTERVAL] [-t TIMEOUT] [-r RISE] [-f FALL]\n"
	        "                [-e EXPECT] [-H HOST] [-s] [-V none|peer] [-C CA_FILE] [-N SNI]\n"
	        "                [-d SECONDS] [-v] URL|IP:PORT\n"
	        "Runs the agent's http (default) or tcp probe alone; prints one line per change.\n"
	        "-s: the URL is nginx stub_status. -V, -C, -N: the https keys verify, ca_file,\n"
	        "sni. Durations: 100ms, 1s (bare number: ms).\n");
}

static int watch_copy(char *dst, size_t len, const char *src, const char *what)
{
	if (strlen(src) >= len) {
		fprintf(stderr, "hp-watch: %s longer than %zu bytes\n", what, len - 1);
		return -1;
	}
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

int main(int argc, char **argv)
{
	struct ev_loop *loop = EV_DEFAULT;
	static struct watch w;
	struct hp_conf conf;
	enum hp_kind kind = HP_KIND_HTTP;
	char err[HR_ERR_LEN];
	double duration = 0;
	const char *why = NULL;
	int opt;

	log_init("hp-watch", LOG_TO_STDERR, LOG_LVL_INFO);
	/* -k must come first to pick the defaults: scan for it */
	for (int i = 1; i + 1 < argc; i++) {
		if (strcmp(argv[i], "-k") == 0 && strcmp(argv[i + 1], "tcp") == 0)
			kind = HP_KIND_TCP;
	}
	memset(&conf, 0, sizeof(conf));
	if (cfg_set_defaults(kind == HP_KIND_TCP ? hp_tcp_keys : hp_http_keys, &conf, err,
	                     sizeof(err)) < 0) {
		fprintf(stderr, "hp-watch: %s\n", err);
		return 1;
	}
	conf.kind = kind;
	snprintf(conf.name, sizeof(conf.name), "watch");
	while ((opt = getopt(argc, argv, "k:i:t:r:f:e:H:sV:C:N:d:vh")) != -1) {
		switch (opt) {
		case 'k':
			if (strcmp(optarg, "http") != 0 && strcmp(optarg, "tcp") != 0) {
				watch_usage();
				return 2;
			}
			break;
		case 'i':
			if (watch_duration("hp-watch", "i", optarg, &conf.interval) < 0)
				return 2;
			break;
		case 't':
			if (watch_duration("hp-watch", "t", optarg, &conf.timeout) < 0)
				return 2;
			break;
		case 'd':
			if (watch_duration("hp-watch", "d", optarg, &duration) < 0)
				return 2;
			break;
		case 'r':
			conf.rise = atoll(optarg);
			break;
		case 'f':
			conf.fall = atoll(optarg);
			break;
		case 'e':
			if (watch_copy(conf.expect, sizeof(conf.expect), optarg, "-e") < 0)
				return 2;
			break;
		case 'H':
			if (watch_copy(conf.host, sizeof(conf.host), optarg, "-H") < 0)
				return 2;
			break;
		case 's':
			conf.stub_status = true;
			break;
		case 'V':
			if (cfg_parse_value(cfg_find_key(hp_http_keys, "verify"), optarg, &conf,
			                    &why) < 0) {
				fprintf(stderr, "hp-watch: -V %s: %s\n", optarg, why);
				return 2;
			}
			break;
		case 'C':
			if (watch_copy(conf.ca_file, sizeof(conf.ca_file), optarg, "-C") < 0)
				return 2;
			break;
		case 'N':
			if (watch_copy(conf.sni, sizeof(conf.sni), optarg, "-N") < 0)
				return 2;
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
	if (kind == HP_KIND_TCP) {
		if (cfg_parse_addr(argv[optind], &conf.addr, &why) < 0) {
			fprintf(stderr, "hp-watch: %s: %s\n", argv[optind], why);
			return 2;
		}
	} else if (watch_copy(conf.url, sizeof(conf.url), argv[optind], "url") < 0) {
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (hp_init(&w.probe, loop, &conf, watch_print, &w, err, sizeof(err)) < 0) {
		fprintf(stderr, "hp-watch: %s\n", err);
		return 1;
	}
	watch_loop_start(&w.wl, loop, duration, watch_tick);
	hp_start(&w.probe);
	ev_run(loop, 0);
	hp_free(&w.probe);
	printf("end probes=%llu failures=%llu\n", (unsigned long long)w.probe.probes,
	       (unsigned long long)w.probe.failures);
	return 0;
}
