/* spoe/hold.h - write NOTIFYs kept unanswered while a promotion is plausible (issue 17).
 * Prefix: hold_.
 *
 * When a cluster has lost its writer and a standby that can take over is there, a write-intent
 * NOTIFY is not answered "no-primary" at once: its ids go into this store and the ACK is sent
 * the moment a writer appears, when the promotion stops being plausible, or when the cluster's
 * `hold_max` runs out, whichever comes first. Reads are never held.
 *
 * Invariants:
 * - Every entry lives in exactly one list: the free list, or the FIFO of its cluster. Entries
 *   are preallocated at init (<cap> = the `hold_budget` config key) and never allocated again:
 *   holding and releasing allocate nothing. A full store refuses (the caller answers at once).
 * - A cluster's FIFO is ordered by start time and by deadline (see hold_set_max()), so one timer
 *   per cluster, armed on the head's deadline, is enough.
 * - An entry names its connection; a connection that closes drops its entries first
 *   (hold_drop_conn()), so no entry ever points to a freed connection.
 * - A retry entry (hold_add() then <retry> and <epoch> set by the caller: the write's connect to
 *   the writer of that epoch failed) is also kept while the cluster's writer epoch is the one
 *   it was held under: the writer that refused it is not trusted again until the view changes
 *   (hold_release_settled()), its agent is heard from after the retry came
 *   (hold_release_retries(): it is alive, the refusal was something else, or the retry came
 *   after the writer had changed already) or hold_max runs out.
 * Releasing is the owner's job: hold_release() unlinks the entry, counts it, and calls the
 * owner's <on_release> with the entry, which sends the ACK. */
#ifndef HAPROLE_SPOE_HOLD_H
#define HAPROLE_SPOE_HOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "common/compiler.h"
#include "spoe/spoa_conf.h"

struct spop_conn;
struct hold_store;

/* Why a held NOTIFY got its answer. */
enum hold_end {
	HOLD_END_WRITER = 0, /* a writer appeared: ACKed with it */
	HOLD_END_SETTLED,    /* no writer, no promotion plausible any more: current status */
	HOLD_END_TIMEOUT,    /* hold_max ran out: current status */
	HOLD_END_SHUTDOWN,   /* SPOA stopping or cluster list reloaded: current status */
	HOLD_END_DROPPED,    /* its connection closed: no answer possible */
	HOLD_END_COUNT       /* keep last */
};

/* Upper bounds (seconds) of the hold-time histogram; the last bucket is +Inf. */
#define HOLD_HIST_BUCKETS 12
extern const double hold_hist_le[HOLD_HIST_BUCKETS - 1];

struct hold_entry {
	struct spop_conn *conn;  /* where the ACK goes */
	uint64_t stream_id;      /* echoed in the ACK */
	uint64_t frame_id;       /* echoed in the ACK */
	double started;          /* ev_now() when held */
	double deadline;         /* started + hold_max (clamped by a reload) */
	bool retry;              /* a retry: also waits for the writer epoch to leave <epoch> */
	uint64_t epoch;          /* the cluster's writer epoch when held (retry only) */
	size_t cluster;          /* index of its FIFO (= routing table entry) */
	struct hold_entry *prev; /* in its cluster's FIFO */
	struct hold_entry *next; /* in its cluster's FIFO, or in the free list */
};

/* The held NOTIFYs of one cluster, oldest first. */
struct hold_queue {
	struct hold_entry *head;  /* oldest, earliest deadline */
	struct hold_entry *tail;  /* newest */
	size_t n;                 /* entries */
	ev_timer timer;           /* fires at head->deadline */
	struct hold_store *store; /* owner */
};

/* Counters for /metrics; only the loop writes them. */
struct hold_stats {
	uint64_t started;                 /* NOTIFYs held */
	uint64_t refused;                 /* would have been held, store full: answered at once */
	uint64_t ended[HOLD_END_COUNT];   /* by outcome */
	uint64_t hist[HOLD_HIST_BUCKETS]; /* hold time of answered ones (not DROPPED) */
	double hist_sum;                  /* seconds, sum of the same */
};

/* Sends the ACK of <e> (never called for HOLD_END_DROPPED); must not touch the store. */
typedef void (*hold_release_fn)(struct hold_store *h, struct hold_entry *e, enum hold_end why,
                                void *arg);
/* Called once after a batch of releases (timer, cluster, all): writes what they queued. */
typedef void (*hold_flush_fn)(struct hold_store *h, void *arg);

struct hold_store {
	struct ev_loop *loop;                   /* the one loop */
	struct hold_entry *slots;               /* <cap> entries, allocated at init */
	size_t cap;                             /* the budget */
	size_t used;                            /* entries in FIFOs */
	struct hold_entry *free;                /* free list (next only) */
	struct hold_queue q[SPOA_CLUSTERS_MAX]; /* per routing-table entry */
	hold_release_fn on_release;             /* sends the ACK (not for DROPPED) */
	hold_flush_fn on_flush;                 /* after a batch of releases */
	void *arg;                              /* for <on_release> */
	struct hold_stats stats;                /* counters */
};

int hold_init(struct hold_store *h, struct ev_loop *loop, size_t cap, hold_release_fn on_release,
              hold_flush_fn on_flush, void *arg) HR_MUSTCHECK;
void hold_free(struct hold_store *h);
struct hold_entry *hold_add(struct hold_store *h, struct spop_conn *c, size_t cluster,
                            uint64_t stream_id, uint64_t frame_id, double hold_max);
void hold_release(struct hold_store *h, struct hold_entry *e, enum hold_end why);
void hold_release_cluster(struct hold_store *h, size_t cluster, enum hold_end why);
void hold_release_settled(struct hold_store *h, size_t cluster, uint64_t epoch, enum hold_end why);
void hold_release_retries(struct hold_store *h, size_t cluster, double before, enum hold_end why);
void hold_release_all(struct hold_store *h, enum hold_end why);
void hold_drop_conn(struct hold_store *h, const struct spop_conn *c);
void hold_set_max(struct hold_store *h, size_t cluster, double hold_max);
const char *hold_end_name(enum hold_end why);

#endif /* HAPROLE_SPOE_HOLD_H */
