/* spoe/hold.c - the held-NOTIFY store (see hold.h). Holding and releasing allocate nothing:
 * entries come from the free list filled at init. */
#include "spoe/hold.h"

#include <stdlib.h>
#include <string.h>

#include "common/compiler.h"

static const char *const hold_end_names[HOLD_END_COUNT] = {
	[HOLD_END_WRITER] = "writer",   [HOLD_END_SETTLED] = "settled",
	[HOLD_END_TIMEOUT] = "timeout", [HOLD_END_SHUTDOWN] = "shutdown",
	[HOLD_END_DROPPED] = "dropped",
};

const double hold_hist_le[HOLD_HIST_BUCKETS - 1] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
	                                             0.5,   1,    2.5,   5,    10 };

const char *hold_end_name(enum hold_end why)
{
	return (unsigned)why < HOLD_END_COUNT ? hold_end_names[why] : "?";
}

/* Arms <q>'s timer on its head's deadline, or stops it when <q> is empty. */
static void queue_arm(struct hold_store *h, struct hold_queue *q)
{
	double left;

	ev_timer_stop(h->loop, &q->timer);
	if (q->head == NULL)
		return;
	left = q->head->deadline - ev_now(h->loop);
	ev_timer_set(&q->timer, left > 0 ? left : 0, 0);
	ev_timer_start(h->loop, &q->timer);
}

static void queue_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct hold_queue *q = container_of(w, struct hold_queue, timer);
	struct hold_store *h = q->store;
	double now = ev_now(loop);

	(void)revents;
	/* 1 ms of slack: libev may fire a timer a hair early against ev_now() */
	while (q->head != NULL && q->head->deadline <= now + 0.001)
		hold_release(h, q->head, HOLD_END_TIMEOUT);
	queue_arm(h, q);
	if (h->on_flush != NULL)
		h->on_flush(h, h->arg);
}

/* Prepares <h> with <cap> entries (0: holding disabled, every hold_add() refuses). Returns 0, or
 * -1 when memory is short. */
int hold_init(struct hold_store *h, struct ev_loop *loop, size_t cap, hold_release_fn on_release,
              hold_flush_fn on_flush, void *arg)
{
	size_t i;

	memset(h, 0, sizeof(*h));
	h->loop = loop;
	h->on_release = on_release;
	h->on_flush = on_flush;
	h->arg = arg;
	for (i = 0; i < SPOA_CLUSTERS_MAX; i++) {
		ev_init(&h->q[i].timer, queue_timer_cb);
		h->q[i].store = h;
	}
	if (cap == 0)
		return 0;
	h->slots = calloc(cap, sizeof(*h->slots));
	if (h->slots == NULL)
		return -1;
	h->cap = cap;
	for (i = cap; i-- > 0;) {
		h->slots[i].next = h->free;
		h->free = &h->slots[i];
	}
	return 0;
}

/* Stops the timers and frees the entries; release or drop what is held first. */
void hold_free(struct hold_store *h)
{
	size_t i;

	for (i = 0; i < SPOA_CLUSTERS_MAX; i++)
		ev_timer_stop(h->loop, &h->q[i].timer);
	free(h->slots);
	h->slots = NULL;
	h->free = NULL;
	h->cap = 0;
	h->used = 0;
}

/* Holds the NOTIFY <stream_id>/<frame_id> of <c> for cluster <cluster> at most <hold_max>
 * seconds. Returns the entry, or NULL when the budget is spent (counted in stats.refused; the
 * caller answers at once). Allocates nothing. */
struct hold_entry *hold_add(struct hold_store *h, struct spop_conn *c, size_t cluster,
                            uint64_t stream_id, uint64_t frame_id, double hold_max)
{
	struct hold_queue *q = &h->q[cluster];
	struct hold_entry *e = h->free;

	if (e == NULL || cluster >= SPOA_CLUSTERS_MAX) {
		h->stats.refused++;
		return NULL;
	}
	h->free = e->next;
	e->conn = c;
	e->stream_id = stream_id;
	e->frame_id = frame_id;
	e->started = ev_now(h->loop);
	e->deadline = e->started + hold_max;
	e->cluster = cluster;
	e->retry = false;
	e->epoch = 0;
	e->next = NULL;
	e->prev = q->tail;
	if (q->tail != NULL)
		q->tail->next = e;
	else
		q->head = e;
	q->tail = e;
	q->n++;
	h->used++;
	h->stats.started++;
	if (q->head == e)
		queue_arm(h, q);
	return e;
}

/* Unlinks <e>, counts it, has the owner answer it (unless DROPPED), returns it to the free
 * list. The owner's flush is the caller's business. */
void hold_release(struct hold_store *h, struct hold_entry *e, enum hold_end why)
{
	struct hold_queue *q = &h->q[e->cluster];
	bool was_head = q->head == e;
	double t;
	size_t b;

	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		q->head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		q->tail = e->prev;
	q->n--;
	h->used--;
	h->stats.ended[why]++;
	if (why != HOLD_END_DROPPED) {
		t = ev_now(h->loop) - e->started;
		for (b = 0; b < HOLD_HIST_BUCKETS - 1 && t > hold_hist_le[b]; b++)
			;
		h->stats.hist[b]++;
		h->stats.hist_sum += t;
		if (h->on_release != NULL)
			h->on_release(h, e, why, h->arg);
	}
	e->conn = NULL;
	e->prev = NULL;
	e->next = h->free;
	h->free = e;
	if (was_head)
		queue_arm(h, q);
}

/* Answers every NOTIFY held for <cluster>, oldest first, then flushes. */
void hold_release_cluster(struct hold_store *h, size_t cluster, enum hold_end why)
{
	struct hold_queue *q = &h->q[cluster];

	if (q->head == NULL)
		return;
	while (q->head != NULL)
		hold_release(h, q->head, why);
	if (h->on_flush != NULL)
		h->on_flush(h, h->arg);
}

/* The hold window of <cluster> is closed and its writer epoch is <epoch>: answers every entry
 * but the retries still held under that same epoch (their writer refused them: they wait for
 * the view to change, or for their deadline), oldest first, then flushes. */
void hold_release_settled(struct hold_store *h, size_t cluster, uint64_t epoch, enum hold_end why)
{
	struct hold_entry *e = h->q[cluster].head, *next;
	bool any = false;

	for (; e != NULL; e = next) {
		next = e->next;
		if (e->retry && e->epoch == epoch)
			continue;
		hold_release(h, e, why);
		any = true;
	}
	if (any && h->on_flush != NULL)
		h->on_flush(h, h->arg);
}

/* The writer of <cluster> was heard from at <before>: answers the retries held since before
 * then (their writer is alive after all), then flushes. */
void hold_release_retries(struct hold_store *h, size_t cluster, double before, enum hold_end why)
{
	struct hold_entry *e = h->q[cluster].head, *next;
	bool any = false;

	for (; e != NULL; e = next) {
		next = e->next;
		if (!e->retry || e->started >= before)
			continue;
		hold_release(h, e, why);
		any = true;
	}
	if (any && h->on_flush != NULL)
		h->on_flush(h, h->arg);
}

void hold_release_all(struct hold_store *h, enum hold_end why)
{
	size_t i;

	for (i = 0; i < SPOA_CLUSTERS_MAX; i++)
		hold_release_cluster(h, i, why);
}

/* Forgets every entry of <c> (closing: nothing can be sent to it any more). O(held). */
void hold_drop_conn(struct hold_store *h, const struct spop_conn *c)
{
	size_t i;

	for (i = 0; i < SPOA_CLUSTERS_MAX; i++) {
		struct hold_entry *e = h->q[i].head, *next;

		for (; e != NULL; e = next) {
			next = e->next;
			if (e->conn == c)
				hold_release(h, e, HOLD_END_DROPPED);
		}
	}
}

/* A reload changed <cluster>'s hold_max: no entry waits longer than the new one allows
 * (min(old deadline, started + new)), which keeps the FIFO ordered by deadline. */
void hold_set_max(struct hold_store *h, size_t cluster, double hold_max)
{
	struct hold_queue *q = &h->q[cluster];
	struct hold_entry *e;

	for (e = q->head; e != NULL; e = e->next)
		if (e->started + hold_max < e->deadline)
			e->deadline = e->started + hold_max;
	queue_arm(h, q);
}
