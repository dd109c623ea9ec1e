/* spoe/runtime_api.h - talking to HAProxy's runtime API (the stats socket, or the master CLI),
 * over a unix socket or TCP. Prefix: rapi_.
 *
 * One exchange = one connection: connect, send one line of commands separated by ';', shut the
 * write side, read the whole answer until HAProxy closes (non-interactive mode), all under one
 * deadline that starts before the connect. The connect runs on sock_connector, the connected
 * socket on common/conn (the line and the answer in the layer's buffers). The answer is bounded (<rx_max>): a longer one fails the exchange. An
 * HAProxy that does not answer costs its own deadline and nothing else: every exchange has its
 * own socket and watchers on the caller's loop.
 *
 * rapi_parse_servers_state() decodes the answer of `show servers state BACKEND` (format 1:
 * "1", a "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ..." header,
 * then one line per server). It reads bytes from the network, so it is bounded and fuzzed
 * (tests/fuzz/fuzz_servers_state.c). */
#ifndef HAPROLE_SPOE_RUNTIME_API_H
#define HAPROLE_SPOE_RUNTIME_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "common/cfg.h"
#include "common/compiler.h"
#include "common/conn.h"
#include "common/sock.h"

#define RAPI_PATH_MAX   108 /* sun_path */
#define RAPI_NAME_MAX   64  /* backend or server name we track, with NUL */
#define RAPI_PREFIX_MAX 32  /* command prefix, e.g. "@1" for the master CLI, with NUL */

/* srv_admin_state bits (HAProxy's SRV_ADMF_*). */
#define RAPI_ADMF_FMAINT 0x01 /* forced maintenance: `set server ... state maint` */
#define RAPI_ADMF_IMAINT 0x02 /* inherited from a tracked server */
#define RAPI_ADMF_CMAINT 0x04 /* `disabled` in the config (cleared with FMAINT) */
#define RAPI_ADMF_FDRAIN 0x08 /* forced drain: `set server ... state drain` */
#define RAPI_ADMF_IDRAIN 0x10 /* inherited drain */
#define RAPI_ADMF_RMAINT 0x20 /* DNS resolution failed */
#define RAPI_ADMF_HMAINT 0x40 /* no address yet */

/* srv_op_state values. */
enum rapi_op_state {
	RAPI_OP_STOPPED = 0,  /* DOWN */
	RAPI_OP_STARTING = 1, /* slowstart */
	RAPI_OP_RUNNING = 2,  /* UP */
	RAPI_OP_STOPPING = 3, /* NOLB */
};

/* Where an HAProxy runtime API listens: "/path/to/sock" or a numeric "ip:port". */
struct rapi_target {
	bool is_unix;             /* <path>, else <addr> */
	char path[RAPI_PATH_MAX]; /* unix socket */
	struct cfg_addr addr;     /* where to connect: TCP, or <path> (sock_addr_unix()) */
	char text[RAPI_PATH_MAX]; /* as written, for logs */
};

/* Parses <text> into <out>: a path starting with '/' is a unix socket, else ip:port. Returns 0,
 * or -1 with <*why> a static text. */
int rapi_target_parse(const char *text, struct rapi_target *out, const char **why) HR_MUSTCHECK;

/* One server of a `show servers state` answer. */
struct rapi_server_state {
	char backend[RAPI_NAME_MAX]; /* be_name */
	char server[RAPI_NAME_MAX];  /* srv_name */
	int op_state;                /* srv_op_state (enum rapi_op_state) */
	unsigned admin_state;        /* srv_admin_state (RAPI_ADMF_* bits) */
	unsigned weight;             /* srv_uweight */
};

/* Decodes <len> bytes of a `show servers state` answer (several backends' answers may follow
 * each other). Fills at most <max> entries of <out>, sets <*n>. Returns 0, or -1 with <*why>
 * (a static text) on anything else: an error message from HAProxy ("Can't find backend."), an
 * unknown format version, a short or non-numeric line, a name too long, more than <max>
 * servers. Blank lines are skipped. */
int rapi_parse_servers_state(const char *text, size_t len, struct rapi_server_state *out,
                             size_t max, size_t *n, const char **why) HR_MUSTCHECK;

enum rapi_state {
	RAPI_ST_IDLE = 0,   /* no exchange under way */
	RAPI_ST_CONNECTING, /* connect in progress (sock_connector, the exchange's deadline) */
	RAPI_ST_EXCHANGING, /* the line sent (then the write side shut), the answer read to EOF */
	RAPI_ST_COUNT       /* keep last */
};

struct rapi_conn;

/* The end of one exchange: <err> 0 and the whole answer in <answer>[<len>] (not NUL-terminated
 * past <len>, but <answer>[<len>] is a NUL), or an errno value (ETIMEDOUT at the deadline,
 * EMSGSIZE when the answer outgrew <rx_max>) and no answer. The callee may start the next
 * exchange on <c>. */
typedef void (*rapi_done_cb)(struct rapi_conn *c, int err, const char *answer, size_t len,
                             void *arg);

struct rapi_conn {
	struct ev_loop *loop;            /* loop the watchers run on */
	enum rapi_state state;           /* written by rapi_set_state() only */
	struct sock_connector connector; /* the connect, within the exchange's deadline */
	struct conn c;                   /* the exchange once connected (common/conn.h) */
	bool c_live;         /* <c> holds a connection not yet freed (on_free clears it) */
	uint64_t exchanges;  /* exchanges connected since init (the log's rapi#N) */
	uint8_t *tx_storage; /* <tx_max> bytes: the command line, lent to <c.tx> */
	size_t tx_max;       /* size of <tx_storage> */
	size_t tx_len;       /* bytes of the line (with its newline) in <tx_storage> */
	uint8_t *rx_storage; /* <rx_max> bytes: the answer, lent to <c.rx> (one kept for a NUL) */
	size_t rx_max;       /* size of <rx_storage> */
	double timeout;      /* the exchange's deadline (s), from its start */
	ev_tstamp started;   /* ev_now() at the start of the exchange */
	rapi_done_cb cb;     /* told the end of each exchange */
	void *arg;           /* caller's data */
};

/* Prepares <c> with buffers of <tx_max> and <rx_max> bytes. Returns 0, or -1 (ENOMEM). */
int rapi_init(struct rapi_conn *c, struct ev_loop *loop, size_t tx_max, size_t rx_max,
              rapi_done_cb cb, void *arg) HR_MUSTCHECK;

/* Starts one exchange: <line> (without the newline) to <t>, all of it within <timeout>.
 * Returns 0 (the callback will be called once), or -1 with errno (EBUSY: an exchange is under
 * way; EMSGSIZE: <line> does not fit; else the socket's error, the callback is not called). */
int rapi_exchange(struct rapi_conn *c, const struct rapi_target *t, const char *line,
                  double timeout) HR_MUSTCHECK;

/* Abandons the exchange under way, if any (no callback). */
void rapi_cancel(struct rapi_conn *c);

/* rapi_cancel(), then frees the buffers. */
void rapi_free(struct rapi_conn *c);

const char *rapi_state_name(enum rapi_state st);

#endif /* HAPROLE_SPOE_RUNTIME_API_H */
