/* spoe/spoa.h - the haprole-spoa server: listener, connection list, cluster view, routing
 * snapshot, status HTTP, counters. Prefix: spoa_.
 *
 * One libev loop, no globals: everything a connection needs is reached through its
 * struct spoa. The routing snapshot <route> is read-only and replaced whole (by pointer) when
 * the cluster view changes. */
#ifndef HAPROLE_SPOE_SPOA_H
#define HAPROLE_SPOE_SPOA_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "common/compiler.h"
#include "common/conn.h"
#include "spoe/cluster_view.h"
#include "spoe/hold.h"
#include "spoe/push.h"
#include "spoe/route.h"
#include "spoe/spoa_conf.h"
#include "spoe/status_http.h"

struct spop_conn;

#define SPOA_ERR_SLOTS 16 /* errors by SPOP status: codes 0..13, 14 = 99 (unknown), 15 = other */

/* Counters for /metrics; only the loop writes them. */
struct spoa_stats {
	uint64_t conns_accepted;         /* SPOP connections accepted */
	uint64_t conns_refused;          /* refused: max_connections reached, none to evict */
	uint64_t conns_evicted;          /* closed in HELLO to make room for a new connection */
	uint64_t conns_denied;           /* closed at accept: not on allow_from */
	uint64_t conns_cur;              /* open now */
	uint64_t hello;                  /* HELLO handshakes completed */
	uint64_t hello_healthcheck;      /* healthcheck HELLOs answered */
	uint64_t frames_in;              /* frames received */
	uint64_t frames_out;             /* frames sent */
	uint64_t frames_skipped;         /* unknown frame types skipped */
	uint64_t notify;                 /* NOTIFY frames */
	uint64_t msg_route;              /* haprole-route messages answered from the table */
	uint64_t msg_route_write;        /* ... with intent=write */
	uint64_t msg_route_read;         /* ... with intent=read */
	uint64_t msg_route_retry;        /* ... with intent=write-retry (counted apart) */
	uint64_t msg_unknown;            /* messages of another name */
	uint64_t msg_bad_args;           /* haprole-route with missing/unknown cluster or intent */
	uint64_t disconnect_rx;          /* HAPROXY-DISCONNECT received */
	uint64_t closed_by_peer;         /* FIN or reset from HAProxy */
	uint64_t errors[SPOA_ERR_SLOTS]; /* connections closed by us, by SPOP status */
	uint64_t route_builds;           /* routing snapshots built */
	uint64_t reloads;                /* successful SIGHUP reloads */
	uint64_t reload_failures;        /* SIGHUP reloads refused */
};

struct spoa {
	struct ev_loop *loop;         /* the one loop */
	struct spoa_conf *conf;       /* current config (owned; swapped on reload) */
	int listen_fd;                /* SPOP listener, -1 when closed */
	ev_io listen_io;              /* its readability */
	struct route_table *route;    /* read-only snapshot NOTIFYs are answered from */
	struct cluster_view cv;       /* nodes and decisions */
	bool cv_ready;                /* <cv> initialised */
	struct push_set push_sets[2]; /* the running push set and the one a reload prepares */
	struct push_set *push;        /* push mode, one of <push_sets>: [haproxy] runtime APIs (none
	                              configured: n 0) */
	struct status_http http;      /* status listener */
	struct conn_list conns;       /* open SPOP connections (struct spop_conn) */
	struct spop_conn *hs_head;    /* connections still in HELLO, oldest first (evicted first) */
	struct spop_conn *hs_tail;    /* the newest of them */
	uint64_t hs_cur;              /* how many */
	struct hold_store hold;       /* write NOTIFYs waiting for a promotion */
	bool hold_ready;              /* <hold> initialised */
	struct spop_conn *dirty;      /* connections with released ACKs to write (dnext) */
	uint64_t next_id;             /* id of the next connection, for logs */
	struct spoa_stats stats;      /* counters */
	double started;               /* ev_now() at start */
	ev_signal sig_hup;            /* reload */
	ev_signal sig_term;           /* stop */
	ev_signal sig_int;            /* stop (foreground) */
};

int spoa_init(struct spoa *s, struct ev_loop *loop, struct spoa_conf *conf, char *err,
              size_t errlen) HR_MUSTCHECK;
void spoa_free(struct spoa *s);
int spoa_reload(struct spoa *s, const char *path);
void spoa_set_route(struct spoa *s, struct route_table *t);
int spoa_hold_init(struct spoa *s) HR_MUSTCHECK;
void spoa_hold_settle(struct spoa *s);
size_t spoa_err_slot(int status);

#endif /* HAPROLE_SPOE_SPOA_H */
