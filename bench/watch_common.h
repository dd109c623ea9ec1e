/* bench/watch_common.h - what the probe watchers (bench/hp-watch.c, bench/pgp-watch.c) share:
 * the loop's clock origin, the once-a-second tick timer, the -d SECONDS end timer, SIGINT and
 * SIGTERM to stop, and the duration option parser. Header-only (static inline) because the
 * Makefile builds each bench/NAME from bench/NAME.c alone.
 *
 * Embed a struct watch_loop in the watcher's own struct, write its tick callback (it finds the
 * watcher with container_of(t, struct watch, wl.tick)), then call watch_loop_start. */
#ifndef HAPROLE_BENCH_WATCH_COMMON_H
#define HAPROLE_BENCH_WATCH_COMMON_H

#include <signal.h>
#include <stdio.h>

#include <ev.h>

#include "common/units.h"

/* The loop-side timers and signals of a watcher. */
struct watch_loop {
	ev_tstamp t0;      /* loop time at start */
	ev_timer tick;     /* once a second: proof the loop runs */
	ev_timer end;      /* -d SECONDS */
	ev_signal sigint;  /* stop */
	ev_signal sigterm; /* stop */
};

static inline void watch_end(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)t;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static inline void watch_signal(struct ev_loop *loop, ev_signal *s, int revents)
{
	(void)s;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* watch_duration - parses option -OPT's value S (100ms, 1s, bare ms) into *OUT; on error says
 * so on stderr, as PROG, and returns -1. */
static inline int watch_duration(const char *prog, const char *opt, const char *s, double *out)
{
	if (units_parse_duration(s, out) < 0) {
		fprintf(stderr, "%s: -%s: not a duration (got \"%s\"): 100ms, 1s, ...\n", prog, opt,
		        s);
		return -1;
	}
	return 0;
}

/* watch_loop_start - sets t0 to now, starts TICK every second, the end timer when DURATION > 0
 * and the SIGINT/SIGTERM watchers (both break the loop). */
static inline void watch_loop_start(struct watch_loop *wl, struct ev_loop *loop, double duration,
                                    void (*tick)(struct ev_loop *, ev_timer *, int))
{
	wl->t0 = ev_now(loop);
	ev_timer_init(&wl->tick, tick, 1.0, 1.0);
	ev_timer_start(loop, &wl->tick);
	if (duration > 0) {
		ev_timer_init(&wl->end, watch_end, duration, 0);
		ev_timer_start(loop, &wl->end);
	}
	ev_signal_init(&wl->sigint, watch_signal, SIGINT);
	ev_signal_start(loop, &wl->sigint);
	ev_signal_init(&wl->sigterm, watch_signal, SIGTERM);
	ev_signal_start(loop, &wl->sigterm);
}

#endif
