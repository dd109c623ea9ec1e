/* spoe/status_http.h - the SPOA's small status port: "GET /" (or /status) answers the cluster
 * view as JSON, "GET /metrics" Prometheus text. One request per connection, then close; the
 * request head must arrive within 2 s and fit 1 KiB. Requests are read and responses written
 * by common/http1.h; a response is built into one scratch buffer of the page (taken at start),
 * then copied to a buffer of its own size. Prefix: status_http_. */
#ifndef HAPROLE_SPOE_STATUS_HTTP_H
#define HAPROLE_SPOE_STATUS_HTTP_H

#include <ev.h>

#include "common/buf.h"
#include "common/cfg.h"
#include "common/compiler.h"
#include "common/conn.h"

struct spoa;

#define STATUS_HTTP_MAX_CLIENTS 64   /* requests at once; a newer one evicts the oldest waiting */
#define STATUS_HTTP_HEAD_MAX    1024 /* largest request head; room for the response's head */

struct status_client {
	struct conn c;                        /* socket, deadline, rx over <rx_mem>, the response */
	bool used;                            /* slot taken (until common/conn.c frees it) */
	uint8_t rx_mem[STATUS_HTTP_HEAD_MAX]; /* storage of <c.rx> */
	struct status_http *h;                /* owner */
};

struct status_http {
	struct spoa *spoa;                                     /* what to report */
	int fd;                                                /* listener, -1 when closed */
	ev_io io;                                              /* its readability */
	uint64_t next_id;                                      /* "status#<id>" in debug lines */
	struct status_client clients[STATUS_HTTP_MAX_CLIENTS]; /* request slots */
	struct buf scratch; /* the response body being built (one at a time: single thread) */
};

/* What a request asks for, from its head. */
enum status_route {
	STATUS_ROUTE_INCOMPLETE = 0, /* no whole head yet */
	STATUS_ROUTE_BAD_REQUEST,    /* not an HTTP/1.x request: 400 */
	STATUS_ROUTE_TOO_LARGE,      /* no whole head in STATUS_HTTP_HEAD_MAX bytes: 431 */
	STATUS_ROUTE_BAD_METHOD,     /* not GET or HEAD: 405 */
	STATUS_ROUTE_JSON,           /* / or /status */
	STATUS_ROUTE_METRICS,        /* /metrics */
	STATUS_ROUTE_NOT_FOUND,      /* any other path: 404 (keep last) */
};

/* Reads the request head at <req>[<len>] (bytes from the network) with common/http1.h's
 * h1_read_head(); reads nothing past <len> nor past the blank line ending the head. Pure;
 * fuzzed by tests/fuzz/fuzz_status_request.c. */
enum status_route status_http_route(const uint8_t *req, size_t len);

int status_http_start(struct status_http *h, struct spoa *spoa, const struct cfg_addr *addr,
                      char *err, size_t errlen) HR_MUSTCHECK;
void status_http_stop(struct status_http *h);
int status_http_json(struct spoa *spoa, struct buf *out) HR_MUSTCHECK;
int status_http_metrics(struct spoa *spoa, struct buf *out) HR_MUSTCHECK;

#endif /* HAPROLE_SPOE_STATUS_HTTP_H */
