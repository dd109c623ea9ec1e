/* agent/port.h - the agent port: one TCP listener, several dialects chosen by the first line
 * (docs/design.md section 5). Prefix: port_.
 *
 *   "GET ..." / "HEAD ..." / "X /path HTTP/1.x"  HTTP/1.1 response (agent/http_api.h), close
 *   "SUBSCRIBE"                                  the feed (agent/feed_pub.h) takes the socket
 *   any other line                               that check's agent-check line, close at once
 *   nothing within first_line_wait               the default check's line, close at once
 * Replies are written at once and the socket closed right after (design.md 11: HAProxy 2.2-2.6
 * add ~200 ms to an agent check left open). Limits a client cannot raise: max_clients
 * (further connections are closed at accept), max_line (a longer first line or HTTP head gets
 * a bounded answer and a close, never a stall), idle_timeout (whole life of a connection).
 *
 * Start in two steps: port_start() binds (a taken port fails the agent's start), port_listen()
 * listens once the agent has a first verdict from every probe (agent/agent.h, "start gate").
 * Until then a connection is refused: HAProxy does not count a refused agent connection
 * against the server and keeps the agent's last answer, whereas a "fail" would mark it DOWN.
 *
 * port_first_line() is the pure decoder of the first line (fuzzed: fuzz_first_line). */
#ifndef HAPROLE_AGENT_PORT_H
#define HAPROLE_AGENT_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "common/buf.h"
#include "common/compiler.h"
#include "common/conn.h"

#define PORT_SCRATCH_MAX  (256 * 1024)  /* one response is built here before it is written */
#define PORT_LINGER_MAX   (1024 * 1024) /* input bytes dropped after an error reply, at most */
#define PORT_ACCEPT_PAUSE 0.1           /* out of descriptors: stop accepting this long (s) */
#define PORT_LINGER_TIME  0.5           /* seconds a lingering close waits, at most */

struct agent;

enum port_dialect {
	PORT_DIALECT_CHECK = 0, /* agent-check: the line names a check ("" = default) */
	PORT_DIALECT_HTTP,      /* an HTTP request line */
	PORT_DIALECT_SUBSCRIBE, /* the feed */
	PORT_DIALECT_COUNT      /* keep last */
};

/* What port_first_line() found. <name> points into the caller's bytes. */
struct port_line {
	enum port_dialect dialect; /* how to answer */
	const char *name;          /* CHECK: the check name, trimmed; may be empty */
	size_t name_len;           /* bytes of <name> */
};

enum port_conn_state {
	PORT_ST_FIRST_LINE = 0, /* waiting for the first line (first_line_wait) */
	PORT_ST_HTTP_HEAD,      /* HTTP: reading the rest of the head up to the blank line */
	PORT_ST_WRITING,        /* reply partly written; close once flushed */
	PORT_ST_LINGER,         /* error reply sent with input unread: write side shut, input
	                           read and dropped until EOF, PORT_LINGER_MAX or the deadline,
	                           so the client reads our answer instead of a reset */
	PORT_ST_COUNT           /* keep last */
};

/* One request connection. Allocated at accept with its rx storage after it. */
struct port_conn {
	struct conn c;              /* socket, deadline, rx (max_line bytes), rest of a reply */
	struct port *port;          /* owner */
	enum port_conn_state state; /* written by port_conn_set_state() only */
	ev_tstamp accepted;         /* ev_time() at accept, for the reply time histogram */
	bool linger;                /* the reply answers an error: linger before closing */
	bool waited;                /* first_line_wait has passed once */
	size_t dropped;             /* input bytes dropped while lingering */
};

struct port {
	struct agent *agent;    /* owner: config, node state, counters */
	ev_io io;               /* the listening socket */
	ev_timer pause;         /* accept paused after EMFILE/ENFILE, resumes on expiry */
	uint64_t accept_errors; /* accept() failures other than EAGAIN */
	int fd;                 /* bound socket, -1 when stopped */
	bool listening;         /* port_listen() done: <fd> listens and <io> accepts */
	struct conn_list conns; /* request connections (struct port_conn) */
	uint64_t next_id;       /* id of the next connection */
	struct buf scratch;     /* replies are built here, PORT_SCRATCH_MAX */
};

int port_first_line(const uint8_t *p, size_t len, size_t max_line,
                    struct port_line *out) HR_MUSTCHECK;
int port_start(struct port *pt, struct agent *a, char *err, size_t errlen) HR_MUSTCHECK;
int port_listen(struct port *pt, char *err, size_t errlen) HR_MUSTCHECK;
void port_stop(struct port *pt);
const char *port_dialect_name(enum port_dialect d);

#endif /* HAPROLE_AGENT_PORT_H */
