/* spoe/spop_conn.h - one connection from HAProxy speaking SPOP 2.0. Prefix: spop_conn_.
 * Fields are public so tests can inspect one; only spop_conn.c writes them.
 *
 * HELLO -> RUNNING (NOTIFY in, ACK out, pipelined) -> CLOSING. <rx> and <tx> are allocated when
 * the first bytes arrive and never grow; the NOTIFY -> ACK path allocates nothing and makes no
 * syscall but read() and write(). ACKs go out in arrival order, except a write NOTIFY held while a promotion
 * is plausible (spoe/hold.h): its ACK goes out when released, after later ones (SPOE.txt 3.2.3,
 * pipelining: "ACK frames can be send in any order"). <tx> always keeps SPOP_ACK_MAX bytes per
 * held NOTIFY, so a release never lacks room. The socket plumbing (reads, writes, backpressure,
 * deadlines, the free at the end of the callback that closed it) is common/conn.h's. */
#ifndef HAPROLE_SPOE_SPOP_CONN_H
#define HAPROLE_SPOE_SPOP_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <ev.h>

#include "common/buf.h"
#include "common/compiler.h"
#include "common/conn.h"
#include "spoe/spop_codec.h" /* enum spop_status: SPOP wire codes */

struct spoa;
struct route_table;

enum spop_conn_state {
	SPOP_ST_HELLO = 0, /* waiting for HAPROXY-HELLO */
	SPOP_ST_RUNNING,   /* NOTIFY in, ACK out, pipelined */
	SPOP_ST_CLOSING,   /* closed: watchers stopped, freed at the end of the callback */
	SPOP_ST_COUNT      /* keep last: number of states */
};

/* Room kept free in <tx> before decoding one more frame: the largest frame we send (ACK with
 * route actions, AGENT-HELLO, AGENT-DISCONNECT). */
#define SPOP_ACK_MAX 512

struct spop_conn {
	struct conn c;              /* socket, deadline, rx/tx (common/conn.h), taken at the first
	                               bytes: rx max frame + header, tx at least SPOP_TX_MIN */
	struct spoa *spoa;          /* owner: config, routing snapshot, counters */
	enum spop_conn_state state; /* written by spop_conn_set_state() only */
	uint32_t max_frame;         /* negotiated in HELLO, <= config */
	bool healthcheck;           /* HELLO was a healthcheck: close once answered */
	bool peer_gone;             /* HAProxy closed or reset: nothing more to send */
	uint64_t notify;            /* NOTIFYs answered */
	uint32_t held;              /* NOTIFYs of ours in the hold store, room kept in <tx> */
	bool dirty;                 /* in spoa->dirty: released ACKs wait in <tx> */
	struct spop_conn *dnext;    /* in spoa->dirty */
	bool in_hs;                 /* in spoa's handshake list (HELLO not done yet) */
	struct spop_conn *hs_prev;  /* in spoa->hs_head..hs_tail, oldest first */
	struct spop_conn *hs_next;  /* in spoa->hs_head..hs_tail */
};

/* The SPOP connection a struct conn of spoa->conns belongs to (NULL for NULL). */
static inline struct spop_conn *spop_conn_of(struct conn *c)
{
	return c != NULL ? container_of(c, struct spop_conn, c) : NULL;
}

int spop_conn_accept(struct spoa *spoa, int fd, const struct sockaddr_storage *peer) HR_MUSTCHECK;
void spop_conn_close(struct spop_conn *c, enum spop_status st, const char *fmt, ...)
    HR_PRINTF(3, 4);
void spop_conn_answer_held(struct spop_conn *c, uint64_t stream_id, uint64_t frame_id,
                           const struct route_table *t, size_t cluster);
void spop_conn_kick(struct spop_conn *c);
uint32_t spop_conn_hold_cap(const struct spop_conn *c);
const char *spop_conn_state_name(enum spop_conn_state st);

#endif /* HAPROLE_SPOE_SPOP_CONN_H */
