/* common/feed_sub.h - a subscriber to one agent's state feed (docs/design.md section 4). Prefix:
 * feed_sub_.
 *
 * Connects to an agent port (numeric address), sends "SUBSCRIBE\n", decodes length-prefixed
 * msgpack frames with ns_decode() and hands each node_state to a callback. Hears nothing for
 * 3 heartbeats: reports the node unknown, closes, reconnects with backoff (100 ms doubling to
 * 2 s). Every operation has a deadline; nothing blocks. Used by haprole-spoa, by agents watching
 * peers (fencing) and by haprolectl. */
#ifndef HAPROLE_COMMON_FEED_SUB_H
#define HAPROLE_COMMON_FEED_SUB_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "common/cfg.h"
#include "common/compiler.h"
#include "common/conn.h"
#include "common/node_state.h"
#include "common/sock.h"

enum feed_sub_state {
	FEED_SUB_ST_IDLE = 0,   /* stopped, or waiting for the backoff timer */
	FEED_SUB_ST_CONNECTING, /* TCP connect under way */
	FEED_SUB_ST_STREAMING,  /* SUBSCRIBE sent, reading frames */
	FEED_SUB_ST_COUNT       /* keep last */
};

enum feed_sub_event {
	FEED_SUB_EV_STATE = 0, /* a frame arrived: <state> is the node's latest state */
	FEED_SUB_EV_LOST,      /* connection failed, closed, bad frame, or 3 heartbeats silent:
	                          the node's state is unknown until the next EV_STATE */
};

struct feed_sub;

/* <state> is valid during the call only (NULL for EV_LOST); <why> says why for EV_LOST. */
typedef void (*feed_sub_cb)(struct feed_sub *fs, enum feed_sub_event ev,
                            const struct node_state *state, const char *why);

struct feed_sub {
	struct ev_loop *loop;            /* loop the watchers run on */
	struct cfg_addr addr;            /* agent port */
	double heartbeat;                /* expected heartbeat interval (s); silence limit is 3x */
	double connect_timeout;          /* deadline of one connect (s) */
	double backoff;                  /* current reconnect delay (s) */
	enum feed_sub_state state;       /* written by feed_sub_set_state() only */
	struct sock_connector connector; /* the connect in progress */
	struct conn c;          /* the stream (common/conn.h); its deadline is the silence */
	bool c_live;            /* <c> holds a connection not yet freed (on_free clears it) */
	ev_timer timer;         /* the backoff before the next connect */
	uint8_t *rx_storage;    /* NS_FRAME_HDR + NS_FRAME_MAX bytes, lent to <c.rx> */
	struct node_state last; /* last decoded state (valid when <has_state>) */
	bool has_state;         /* a state arrived since the last connect */
	uint64_t connects;      /* connections made since init (the log's feed-sub#N) */
	uint64_t frames;        /* frames decoded since start */
	uint64_t losses;        /* EV_LOST events since start */
	feed_sub_cb cb;         /* told of every event */
	void *arg;              /* caller's data */
};

int feed_sub_init(struct feed_sub *fs, struct ev_loop *loop, const struct cfg_addr *addr,
                  double heartbeat, feed_sub_cb cb, void *arg) HR_MUSTCHECK;
void feed_sub_start(struct feed_sub *fs);
void feed_sub_stop(struct feed_sub *fs);
void feed_sub_free(struct feed_sub *fs);
const char *feed_sub_state_name(enum feed_sub_state st);

#endif /* HAPROLE_COMMON_FEED_SUB_H */
