/* common/conn.h - one connection on libev, accepted or connected: the plumbing every socket
 * of haprole's daemons shares. Prefix: conn_ (and log_conn).
 *
 * A struct conn owns the socket, its ev_io, one deadline timer and the two bounded buffers
 * (common/buf.h). It is embedded in the owner's object (container_of() back); the owner gives
 * the buffers their storage, then reacts to bytes through struct conn_ops and appends replies
 * to <tx>. The layer does the rest the same way for every kind of connection:
 *
 *   - reads into <rx> when EV_READ fires, then calls ops->on_read();
 *   - writes <tx> at once after each callback, arms EV_WRITE only for what the socket refused;
 *   - backpressure: reading stops while <tx> holds <tx_high> bytes or more, and resumes (with
 *     ops->on_drain()) once the socket took them;
 *   - one deadline: idle (re-armed by every read or write that moved bytes) or fixed (from
 *     conn_set_deadline(), whatever happens);
 *   - conn_close() stops the watchers, closes the socket and logs the reason once with the age;
 *     the memory goes (ops->on_free()) at the end of the outermost callback of the connection,
 *     so no caller ever touches a freed connection. A close from outside the connection's own
 *     callbacks is reaped on the next loop iteration; conn_destroy() frees at once.
 *
 * Server side: a listener accepts, then conn_init() on the accepted socket. Client side: the
 * connect runs on struct sock_connector (common/sock.h, its own deadline), then conn_init() on
 * the connected socket (peer and local port come from the socket); the owner keeps the
 * struct conn in its own object and reuses it for the next attempt once on_free said it is
 * free (conn_release() frees it at once outside its callbacks). conn_shut_write() half-closes
 * after a request whose answer ends with the peer's close; on_close() sees every close, the
 * layer's own too (a failed write), with the reason in <why> and the errno in <err>.
 *
 * The idle deadline is re-armed lazily (libev's "be smart about timeouts"): moving bytes only
 * notes the time; the timer, when it fires early, waits for the rest.
 *
 * Transport: by default the layer read()s and write()s the socket. An owner may put a struct
 * conn_transport between the socket and the buffers (conn_set_transport(), before
 * conn_start(); common/tls_conn.h is TLS over OpenSSL). Its recv/send move the owner's bytes
 * or say which event they wait for: a TLS read may have to write first and a TLS write may
 * have to read, so each direction keeps the event it waits for (<rx_wait>, <tx_wait>) and the
 * watcher is armed for those. Bytes the transport decoded but <rx> had no room for
 * (SSL_pending) are read on the next loop iteration without waiting for the socket. A
 * transport with an opening (the TLS handshake) starts the connection in OPENING: no byte of
 * the owner moves, <tx> waits, until the opening is done (ops->on_open()) or fails (closed
 * with the transport's reason).
 *
 * Not on the layer, on purpose: the PostgreSQL probe's socket, whose bytes and buffers libpq
 * owns (agent/pg_probe.c only waits for its readiness), and haprolectl's one-shot exchanges
 * (ctl/fetch.c), which block under a deadline and have no event loop.
 *
 * States (conn_set_state() in conn.c is the only writer):
 *
 *     [OPENING --transport opened-->] OPEN --conn_close_after_flush()--> FLUSHING --tx sent-->
 *     CLOSED --end of callback--> freed; conn_close() from any state goes to CLOSED; a
 *     conn_close_after_flush() during OPENING goes to FLUSHING once opened.
 */
#ifndef HAPROLE_COMMON_CONN_H
#define HAPROLE_COMMON_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <ev.h>

#include "common/buf.h"
#include "common/compiler.h"
#include "common/log.h"

enum conn_state {
	CONN_ST_OPEN = 0, /* reading (unless paused), <tx> written as it fills */
	CONN_ST_FLUSHING, /* closing once <tx> is sent: reading stopped */
	CONN_ST_CLOSED,   /* watchers stopped, socket closed; freed at the end of the callback */
	CONN_ST_OPENING,  /* the transport's opening (a TLS handshake) under way; <tx> waits */
	CONN_ST_COUNT     /* keep last */
};

struct conn;

/* What a transport's call returns when it moved no byte (else the bytes moved, >= 0). */
#define CONN_IO_ERROR      (-1) /* failed: <c->err> an errno value, <c->tp_why> the reason */
#define CONN_IO_WANT_READ  (-2) /* would block: call again once the socket is readable */
#define CONN_IO_WANT_WRITE (-3) /* would block: call again once the socket is writable */

/* Bytes between the socket and the buffers (TLS). Every call is non-blocking; on CONN_IO_ERROR
 * the transport sets <c->err> (an errno value; EPROTO for a protocol failure) and may set
 * <c->tp_why> to a text that lives as long as the connection (the close reason then). */
struct conn_transport {
	/* Optional: one step of the transport's opening (a TLS handshake): 0 when done, or a
	 * CONN_IO_* value. NULL: the connection is OPEN at once. */
	int (*open)(struct conn *c);
	/* Up to <len> bytes into <p>: the bytes read (> 0), 0 at the end of the stream, or a
	 * CONN_IO_* value. */
	ssize_t (*recv)(struct conn *c, void *p, size_t len);
	/* Up to <len> bytes from <p>: the bytes sent (> 0), or a CONN_IO_* value. After a WANT,
	 * the next call gives the same bytes again (maybe moved, maybe with more after them). */
	ssize_t (*send)(struct conn *c, const void *p, size_t len);
	/* Optional: bytes received and decoded that recv would return without the socket. */
	bool (*pending)(const struct conn *c);
	/* Optional: drops the transport's state; the socket is closed right after. */
	void (*close)(struct conn *c);
};

/* The connections of one owner (a listener), newest first. common/conn.c unlinks a connection
 * when it frees it; the owner only adds (conn_list_add) and walks (->next). */
struct conn_list {
	struct conn *head; /* newest */
	size_t n;          /* connections linked */
};

/* What the owner is told. Only on_read and on_free are required. */
struct conn_ops {
	/* New bytes in <c->rx>, or <eof>: no more bytes will come (the peer's FIN, or a read
	 * error in <c->err>); what <rx> holds is all. An owner that does not close then is
	 * closed by the layer once <tx> is sent (at once after a read error). The owner consumes <rx>, appends to <tx>, may close. <rx> full with
	 * nothing consumed is the owner's limit: it must close or pause then (called once more
	 * without a read, the layer closes if it still consumes nothing). */
	void (*on_read)(struct conn *c, bool eof);
	/* The deadline passed. NULL: closed as "timeout". */
	void (*on_timeout)(struct conn *c);
	/* The socket took <tx> whole, or enough of it to go under <tx_high> (reading resumes):
	 * the owner may go on with what it left in <rx>. NULL: nothing to do. */
	void (*on_drain)(struct conn *c);
	/* The connection is closed and none of its callbacks runs: unlink it and free (or mark
	 * the slot free). Its buffers are already freed. */
	void (*on_free)(struct conn *c);
	/* Optional: told once, as <c> enters CLOSED by any path (the owner's close, a failed
	 * write, ...), with the socket still open: the owner's bookkeeping. */
	void (*on_close)(struct conn *c);
	/* Optional: the transport's opening is done (OPENING -> OPEN): the owner's bytes move from
	 * now on. */
	void (*on_open)(struct conn *c);
	/* Optional: bytes arrived and <rx> has no storage yet: give <rx> and <tx> theirs (a peer
	 * that connects and says nothing then costs no buffer). Returns 0, or -1 (closed then).
	 * NULL: <rx> must have storage before conn_start(). */
	int (*take_buffers)(struct conn *c);
};

struct conn {
	ev_io io;                   /* readiness of <fd> */
	ev_timer timer;             /* the deadline; also the reaper of a close from outside */
	struct ev_loop *loop;       /* loop the watchers run on */
	const struct conn_ops *ops; /* the owner */
	enum conn_state state;      /* written by conn_set_state() only */
	int fd;                     /* the socket, -1 once closed */
	const char *kind;           /* "admin", "port", ...: "<kind>#<id>" in log lines */
	uint64_t id;                /* per kind, given by the owner */
	char peer[64];              /* peer address ("unix" for a unix socket) */
	unsigned lport;             /* local port, 0 for a unix socket */
	double opened;              /* ev_now() at conn_init(), for the age */
	double deadline;            /* seconds; 0 = none */
	bool deadline_idle;         /* re-armed by progress (idle) or fixed */
	size_t tx_high;             /* reading stops while buf_len(&tx) >= tx_high (0 = never) */
	bool read_off;              /* the owner paused reading (conn_pause_read) */
	bool eof;                   /* no more bytes: the peer's FIN, or a read error (<err>) */
	int err;                    /* errno of the failed read or write, 0 none */
	double last_active;         /* ev_now() of the last bytes moved (idle deadline) */
	int events;                 /* EV_READ/EV_WRITE armed now */
	unsigned depth;             /* callbacks of this connection running (nesting) */
	const char *why;            /* reason of the close once FLUSHING or CLOSED (static text) */
	bool shut_wr;               /* shutdown(SHUT_WR) once <tx> is sent (conn_shut_write) */
	struct buf rx;              /* bytes received, storage given by the owner */
	struct buf tx;              /* bytes to send, storage given by the owner */
	struct conn_list *list;     /* the owner's list, NULL when in none */
	struct conn *prev;          /* in <list> */
	struct conn *next;          /* in <list> */

	/* the transport (conn_set_transport()) */
	const struct conn_transport *tp; /* NULL: the socket itself (read(), write()) */
	void *tp_ctx;                    /* its state (a TLS session) */
	const char *tp_why;              /* its reason of a failure, NULL none */
	int rx_wait;                     /* the event the next read (or opening step) waits for */
	int tx_wait;                     /* the event the next write of <tx> waits for */
};

void conn_init(struct conn *c, struct ev_loop *loop, int fd, const struct conn_ops *ops,
               const char *kind, uint64_t id, const struct sockaddr_storage *peer);
void conn_set_transport(struct conn *c, const struct conn_transport *tp, void *ctx);
void conn_list_add(struct conn_list *l, struct conn *c);
void conn_list_reap(struct conn_list *l);
void conn_set_deadline(struct conn *c, double seconds, bool idle);
void conn_start(struct conn *c, bool read_now);
int conn_flush(struct conn *c);
int conn_send(struct conn *c, const void *p, size_t len) HR_MUSTCHECK;
int conn_take_fd(struct conn *c, const char *why);
void conn_pause_read(struct conn *c, bool paused);
void conn_close(struct conn *c, const char *why);
void conn_close_after_flush(struct conn *c, const char *why);
void conn_destroy(struct conn *c, const char *why);
void conn_release(struct conn *c, const char *why);
void conn_shut_write(struct conn *c);
const char *conn_state_name(enum conn_state st);
void log_conn(enum log_level level, const struct conn *c, const char *fmt, ...) HR_PRINTF(3, 4);

static inline bool conn_is_closed(const struct conn *c)
{
	return c->state == CONN_ST_CLOSED;
}

/* Seconds since conn_init(). */
static inline double conn_age(const struct conn *c)
{
	return ev_now(c->loop) - c->opened;
}

#endif /* HAPROLE_COMMON_CONN_H */
