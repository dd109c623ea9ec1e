/* ctl/views.h - what haprolectl shows beside the agents' own states: HAProxy's view of
 * each server (the `show stat` CSV of its stats socket) and haprole-spoa's routing decision (the
 * JSON of its status port), parsed, judged and formatted by pure functions. Prefix: ctlv_.
 *
 * No I/O: ctl/main.c fetches the bytes (bounded in size and time), this parses them. Both
 * parsers take untrusted bytes of a given length (no NUL needed), never read past it, and
 * refuse (-1) rather than cut a field that does not fit; tests/unit/test_ctl_views.c drives
 * them with captured outputs, tests/fuzz/fuzz_ctl_views.c with anything.
 *
 * "Drained" (haprolectl drain --wait): every HAProxy server named like the node is out of load
 * balancing (its status does not start with "UP": DRAIN, MAINT, DOWN, NOLB...) and holds no
 * session (scur 0). The status part matters: right after `drain` HAProxy may not have asked
 * the agent yet, and an UP server with 0 sessions can still get new ones. */
#ifndef HAPROLE_CTL_VIEWS_H
#define HAPROLE_CTL_VIEWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl/status.h"
#include "common/buf.h"
#include "common/compiler.h"
#include "common/node_state.h"

#define CTLV_SERVERS_MAX 256 /* servers of one HAProxy shown / judged */
#define CTLV_NAME_MAX    64  /* backend and server names, with NUL */
#define CTLV_STATUS_MAX  32  /* "DRAIN 1/2", "no check", with NUL */
#define CTLV_ERR_MAX     160 /* why a source could not be read, with NUL */

/* One server line of `show stat`. */
struct ctlv_server {
	char backend[CTLV_NAME_MAX];  /* pxname */
	char server[CTLV_NAME_MAX];   /* svname */
	char status[CTLV_STATUS_MAX]; /* status column, as HAProxy writes it */
	uint64_t scur;                /* current sessions */
};

/* HAProxy's view, from one stats socket. */
struct ctlv_haproxy {
	char socket[108];                             /* the stats socket asked */
	bool reachable;                               /* <servers> hold its answer */
	char err[CTLV_ERR_MAX];                       /* not reachable: why */
	struct ctlv_server servers[CTLV_SERVERS_MAX]; /* server lines, in HAProxy's order */
	size_t n;                                     /* used entries of <servers> */
};

/* haprole-spoa's decision for one cluster, from its status port. */
struct ctlv_spoa {
	char address[64];          /* status port asked, HOST:PORT */
	bool reachable;            /* it answered with its view */
	bool found;                /* <cluster> is in that view */
	char err[CTLV_ERR_MAX];    /* not reachable / not found: why */
	char cluster[NS_NAME_MAX]; /* cluster looked up ("" = the first one) */
	char status[32];           /* ok, no-primary, split-brain, stale */
	char writer[NS_NAME_MAX];  /* "" none */
	char reader[NS_NAME_MAX];  /* "" none */
	uint64_t epoch;            /* +1 on every writer change */
};

int ctlv_stat_parse(const char *csv, size_t len, struct ctlv_haproxy *out) HR_MUSTCHECK;
int ctlv_spoa_parse(const char *body, size_t len, struct ctlv_spoa *out) HR_MUSTCHECK;
int ctlv_http_body(const char *resp, size_t len, size_t *off) HR_MUSTCHECK;
int ctlv_hex_frame(const char *line, size_t len, struct node_state *out,
                   const char **why) HR_MUSTCHECK;

bool ctlv_drained(const struct ctlv_haproxy *h, const char *server, size_t *servers,
                  uint64_t *sessions);
void ctlv_health(const struct ctlv_haproxy *h, const struct ctlv_spoa *s,
                 const struct ctl_node *nodes, struct ctl_health *health);
int ctlv_format_text(const struct ctlv_haproxy *h, const struct ctlv_spoa *s,
                     struct buf *out) HR_MUSTCHECK;
int ctlv_format_json(const struct ctlv_haproxy *h, const struct ctlv_spoa *s,
                     struct buf *out) HR_MUSTCHECK;
int ctlv_format_servers(const struct ctlv_haproxy *h, const char *server, bool json,
                        struct buf *out) HR_MUSTCHECK;

#endif /* HAPROLE_CTL_VIEWS_H */
