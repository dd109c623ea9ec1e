/* agent/pg_watch.h - learn of a promotion or a shutdown when it happens, not at the next probe
 * tick: inotify on the PostgreSQL data directory. Prefix: pgw_.
 *
 * `pg_ctl promote` writes PGDATA/promote and signals the postmaster; the startup process then
 * ends recovery and removes standby.signal (or recovery.signal) just before the server accepts
 * writes. A postmaster that stops removes postmaster.pid last. Each of those names, created,
 * deleted or renamed in PGDATA, calls the callback once per read event; the probe then queries
 * at once and keeps querying every few milliseconds until the role settles (agent/pg_probe.h,
 * "burst"). The periodic probe stays the safety net: a missed or absent event only costs the
 * probe interval, as before.
 *
 * The agent's user needs read (search) access to PGDATA: `initdb --allow-group-access` gives
 * the directory mode 0750, and the agent's user in the postgres group can then watch it.
 * inotify does not see changes made on another host (a shared or network file system).
 *
 * Lifecycle: pgw_init() (no I/O), pgw_start(DIR) (opens the inotify descriptor, adds the
 * watch; an error leaves the watch off and says why), pgw_stop(). Single-threaded. */
#ifndef HAPROLE_AGENT_PG_WATCH_H
#define HAPROLE_AGENT_PG_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "common/compiler.h"

struct pg_watch;

/* Told of a relevant change in the data directory; <name> is the file (e.g. "promote"). */
typedef void (*pgw_event_cb)(struct pg_watch *w, const char *name, void *arg);

struct pg_watch {
	struct ev_loop *loop; /* loop the watcher runs on */
	ev_io io;             /* readiness of the inotify descriptor */
	int fd;               /* inotify descriptor, -1 when off */
	int wd;               /* watch descriptor of the data directory, -1 when none */
	uint64_t events;      /* relevant events seen since start */
	pgw_event_cb cb;      /* told of each relevant event */
	void *arg;            /* caller's data */
};

/* Prepares <w>; no I/O. */
void pgw_init(struct pg_watch *w, struct ev_loop *loop, pgw_event_cb cb, void *arg);

/* Starts watching <dir> (stops a previous watch first). Returns 0, or -1 with <err> filled
 * ("inotify_add_watch /path: Permission denied") and the watch off. */
int pgw_start(struct pg_watch *w, const char *dir, char *err, size_t errlen) HR_MUSTCHECK;

/* Stops the watcher and closes the descriptor; <w> may be started again. */
void pgw_stop(struct pg_watch *w);

/* True for the file names in the data directory whose appearance or removal means that the
 * server's role or life is changing: promote, standby.signal, recovery.signal, postmaster.pid. */
bool pgw_is_relevant(const char *name);

#endif /* HAPROLE_AGENT_PG_WATCH_H */
