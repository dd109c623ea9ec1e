/* spoe/push.h - push mode: haprole-spoa drives HAProxy's runtime API on every routing change,
 * so that HAProxy routes by the cluster's state with no per-request work (no SPOE filter).
 * Prefix: push_.
 *
 * One struct push_target per [haproxy NAME] section. Its desired state comes from the cluster
 * view's decision (the same decision the SPOE answers carry):
 *   writer_backend: the writer's server `ready` and `health up`; every other server of the
 *                   cluster `maint`, its open sessions shut (`shutdown sessions server`);
 *                   no writer (no-primary, split-brain, stale): every server `maint`.
 *   reader_backend: the reader's server `ready` and `health up`; the others `drain`.
 * Never two writers: a change is applied in two steps, each read back with `show servers
 * state` before the next: first every server that must leave (OUT: maint / drain), then the
 * one that must enter (IN: ready). A read-back that disagrees with the desired state starts the
 * steps again; so does the periodic read-back every <verify_interval>, which is how a reloaded
 * HAProxy (a new process starts from its config) and our own restart are resynced in full.
 * Writer servers should be `disabled` in HAProxy's config: a new process then takes no write
 * until it is told who the writer is.
 *
 * Right after a start (3 heartbeats), a cluster still "stale" for want of feeds is not pushed:
 * HAProxy keeps the state it has, so a restart of haprole-spoa never takes a working writer
 * out. After that, stale means no writer, as everywhere.
 *
 * Every exchange has its own connection and deadline (spoe/runtime_api.h): an HAProxy that
 * does not answer only delays its own target, never the others nor the SPOP connections.
 *
 * Agent checks must not run on the writer backend's servers in this mode: an agent reply's
 * `ready` clears a `maint` set through the runtime API (docs/design.md section 11). Health
 * checks (`option httpchk GET /check/writer`) are fine: they never touch the admin state. */
#ifndef HAPROLE_SPOE_PUSH_H
#define HAPROLE_SPOE_PUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "common/compiler.h"
#include "spoe/cluster_view.h"
#include "spoe/runtime_api.h"
#include "spoe/spoa_conf.h"

#define PUSH_SERVERS_MAX 32 /* servers of one cluster we set, per backend */

/* What push mode wants of one server. */
enum push_want {
	PUSH_WANT_READY = 0, /* ready, and UP (health up) */
	PUSH_WANT_DRAIN,     /* drain: no new connections */
	PUSH_WANT_MAINT,     /* maint: nothing; open sessions shut */
	PUSH_WANT_COUNT      /* keep last */
};

/* One server's wanted state in one backend. */
struct push_server {
	const char *backend;          /* backend name (points into the target's conf) */
	char server[SPOA_SERVER_MAX]; /* server name */
	enum push_want want;          /* what it must be */
};

/* The plan for one target: computed from the view, pure (push_plan()). */
struct push_plan {
	struct push_server s[2 * PUSH_SERVERS_MAX]; /* writer backend's, then reader backend's */
	size_t n;                                   /* used entries */
};

/* Steps of one target. */
enum push_state {
	PUSH_ST_IDLE = 0, /* in sync as far as we know; <timer> = next read-back */
	PUSH_ST_VERIFY,   /* `show servers state` under way */
	PUSH_ST_OUT,      /* maint/drain commands under way */
	PUSH_ST_IN,       /* ready commands under way */
	PUSH_ST_BACKOFF,  /* an exchange failed; <timer> = retry */
	PUSH_ST_COUNT     /* keep last */
};

struct push_set;

struct push_target {
	struct push_set *set;                 /* owner */
	const struct spoa_haproxy_conf *conf; /* its [haproxy] section */
	size_t cluster;                       /* index into the view's clusters */
	enum push_state state;                /* written by push_set_state() only */
	struct rapi_conn rc;                  /* the exchange under way */
	ev_timer timer;                       /* next read-back, or retry */
	struct push_plan plan;                /* what we want now */
	bool dirty;                           /* the view changed during an exchange */
	bool periodic;                        /* the read-back under way is the periodic one */
	unsigned applied_streak;              /* steps sent since the last time in sync */
	double backoff;                       /* next retry delay (s) */
	uint64_t exchanges;                   /* exchanges completed */
	uint64_t failures;                    /* exchanges failed */
	uint64_t applied;                     /* OUT or IN steps sent */
	uint64_t resyncs;                     /* read-backs that found HAProxy differing */
	char last_err[128];                   /* why the last exchange failed, "" none */
};

struct push_set {
	struct ev_loop *loop;                   /* the loop */
	const struct cluster_view *cv;          /* decisions */
	double grace_until;                     /* ev_now() before which a stale view
	                                                  is not pushed (feeds not heard yet) */
	struct push_target t[SPOA_HAPROXY_MAX]; /* one per [haproxy] */
	size_t n;                               /* used entries */
};

/* The plan of <h> from the view's decision for its cluster; pure. Returns 0, or -1 with <err>
 * when the cluster has more servers than PUSH_SERVERS_MAX. */
int push_plan(const struct spoa_haproxy_conf *h, const struct cluster_view *cv, size_t cluster,
              struct push_plan *out, char *err, size_t errlen) HR_MUSTCHECK;

/* Prepares one target per [haproxy] of <conf> against <cv>; no I/O. Returns 0, or -1 with
 * <err> filled. */
int push_init(struct push_set *p, struct ev_loop *loop, const struct spoa_conf *conf,
              const struct cluster_view *cv, char *err, size_t errlen) HR_MUSTCHECK;

/* <p> now follows <cv>, the view it was prepared against once moved there (cv_move()), with
 * the same clusters in the same order. */
void push_set_view(struct push_set *p, const struct cluster_view *cv);

/* Starts every target: plans it from the view as it is now, then a full read-back and sync at
 * once. */
void push_start(struct push_set *p);

/* The view changed: every target re-plans and syncs (after the exchange under way, if any). */
void push_view_changed(struct push_set *p);

/* Stops every exchange and timer and frees the buffers. */
void push_free(struct push_set *p);

const char *push_state_name(enum push_state st);
const char *push_want_name(enum push_want w);

#endif /* HAPROLE_SPOE_PUSH_H */
