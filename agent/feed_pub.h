/* agent/feed_pub.h - the SUBSCRIBE dialect: publishes the node state to subscribers
 * (haprole-spoa, peer agents, haprolectl). Prefix: feed_pub_.
 *
 * Wire (docs/design.md section 4, common/node_state.h): frames of a 4-byte big-endian length then
 * one msgpack map. A new subscriber gets the full state at once; then one frame on every
 * change (feed_pub_publish()), and the full state again every <heartbeat> as a heartbeat.
 * A frame is encoded once into <frame> and appended to every subscriber's bounded <tx>; a
 * subscriber whose <tx> cannot take it is dropped (it fell behind by more than its buffer):
 * the publisher never blocks and never grows a buffer. Bytes a subscriber sends after
 * SUBSCRIBE are read and discarded (a closed socket is noticed by the read). */
#ifndef HAPROLE_AGENT_FEED_PUB_H
#define HAPROLE_AGENT_FEED_PUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "common/buf.h"
#include "common/compiler.h"
#include "common/conn.h"
#include "common/node_state.h"

struct feed_pub;

#define FEED_PUB_RX_DROP 512 /* bytes read (and dropped) per event from a subscriber */

/* One subscriber. */
struct feed_pub_sub {
	struct conn c;                    /* socket, tx of <buffer> bytes (queued frames) */
	struct feed_pub *pub;             /* owner */
	uint8_t rx_mem[FEED_PUB_RX_DROP]; /* storage of <c.rx>: what it sends is dropped */
};

struct feed_pub {
	struct ev_loop *loop;        /* loop the watchers run on */
	ev_timer heartbeat;          /* full state every <interval> */
	double interval;             /* heartbeat (s) */
	size_t buffer;               /* tx bytes per subscriber */
	size_t max_subs;             /* subscribers at once */
	struct conn_list subs;       /* subscribers (struct feed_pub_sub) */
	uint64_t next_id;            /* id of the next subscriber */
	struct buf frame;            /* the last frame, encoded once for all */
	const struct node_state *ns; /* state the heartbeat sends (owned by the agent) */
	bool minimal;                /* expose = minimal: frames carry ns_minimal() of <ns> */
	uint64_t frames;             /* frames queued since start, all subscribers */
	uint64_t dropped;            /* subscribers dropped for falling behind */
};

int feed_pub_init(struct feed_pub *fp, struct ev_loop *loop, const struct node_state *ns,
                  double heartbeat, size_t buffer, size_t max_subs) HR_MUSTCHECK;
void feed_pub_configure(struct feed_pub *fp, double heartbeat, size_t buffer, size_t max_subs);
int feed_pub_add(struct feed_pub *fp, int fd, const char *peer) HR_MUSTCHECK;
void feed_pub_publish(struct feed_pub *fp);
void feed_pub_free(struct feed_pub *fp);

#endif /* HAPROLE_AGENT_FEED_PUB_H */
