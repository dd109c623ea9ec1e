/* agent/pg_accept.h - the PostgreSQL probe's accept check. Prefix: pgp_acc_ (a part of the
 * probe, agent/pg_probe.h, whose comment says why it exists).
 *
 * The probe's persistent connection talks to its own backend, which keeps answering when only
 * the postmaster hangs (SIGSTOP). So every <every> seconds a short second connection goes to
 * the address the probe connected to and sends a GSSENCRequest (PostgreSQL >= 12, protocol
 * section 55.2.1): a forked server process answers one byte. No answer within <timeout>: <ok>
 * turns false and <err> says why, until a check passes again. The probe reads <ok> and <err>
 * at each query result; the check never calls back.
 *
 * Lifecycle: pgp_acc_init() (no I/O), pgp_acc_learn() after each successful connect (and after
 * a reload), pgp_acc_stop(). Single-threaded; every callback runs from the loop. */
#ifndef HAPROLE_AGENT_PG_ACCEPT_H
#define HAPROLE_AGENT_PG_ACCEPT_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "common/cfg.h"
#include "common/conn.h"
#include "common/node_state.h"
#include "common/sock.h"

/* States of the accept check (a second, tiny state machine beside the probe's). */
enum pgp_acc_state {
	PGP_ACC_OFF = 0,    /* disabled, or no target known (no connection yet) */
	PGP_ACC_WAIT,       /* <acc.timer> = next check */
	PGP_ACC_CONNECTING, /* connect under way (sock_connector, deadline <timeout>) */
	PGP_ACC_SENT,       /* GSSENCRequest sent on <c>, waiting for one byte (its deadline: the
	                       rest of <timeout>) */
	PGP_ACC_COUNT       /* keep last */
};

/* The accept check's own watchers and result. */
struct pgp_accept {
	struct ev_loop *loop;            /* loop the watchers run on */
	double every;                    /* time between two checks (s): [postgres] accept_check */
	double timeout;                  /* deadline of one check (s): [postgres] timeout */
	enum pgp_acc_state state;        /* written by pgp_acc_set_state() only */
	struct sock_connector connector; /* the check's connect */
	struct conn c;                   /* the check's connection once connected (common/conn.h) */
	bool c_live;             /* <c> holds a connection not yet freed (on_free clears it) */
	uint8_t rx_storage[16];  /* lent to <c.rx>: the answer is one byte */
	ev_timer timer;          /* next check (WAIT) */
	struct cfg_addr addr;    /* target: the probe connection's server; <len> 0 = unknown */
	bool ok;                 /* the last check passed (true until one fails) */
	char err[NS_REASON_MAX]; /* why the last check failed */
	ev_tstamp started;       /* ev_now() when the check under way began */
	uint64_t checks;         /* checks run since start */
	uint64_t failures;       /* checks failed since start */
};

/* Prepares <a> (state OFF, verdict ok); no I/O, no watcher started. */
void pgp_acc_init(struct pgp_accept *a, struct ev_loop *loop);

/* After a successful connect: the server's <addr> (PQhostaddr(), "" for a unix socket), <host>
 * (PQhost(): a socket directory when it starts with '/') and <port> (PQport()) say where to
 * check; <every> 0 turns the check off. Starts checking when it was off. */
void pgp_acc_learn(struct pgp_accept *a, const char *addr, const char *host, const char *port,
                   double every, double timeout);

/* Stops the check and forgets its verdict (the next connection re-learns the target). */
void pgp_acc_stop(struct pgp_accept *a);

#endif /* HAPROLE_AGENT_PG_ACCEPT_H */
