/* common/buf.h - the one bounded byte buffer of haprole. Prefix: buf_.
 *
 * Storage is allocated once by buf_init() with a size taken from config limits and is never
 * reallocated: a peer cannot grow our memory. Invariant (checked by buf_is_sane()):
 *
 *     0 <= head <= tail <= size
 *     data[head .. tail)  bytes received or queued, not yet consumed
 *     data[tail .. size)  free room at the end; buf_compact() moves the data to offset 0
 *
 * A write that does not fit returns -1 and writes nothing: the caller closes (a limit was hit)
 * or stops reading (backpressure). Nothing is ever cut. */
#ifndef HAPROLE_COMMON_BUF_H
#define HAPROLE_COMMON_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/compiler.h"

struct buf {
	uint8_t *data; /* storage of <size> bytes, owned unless <borrowed> */
	size_t size;   /* capacity, fixed at init */
	size_t head;   /* offset of the first unconsumed byte */
	size_t tail;   /* offset one past the last byte */
	bool borrowed; /* storage given by the caller (buf_init_static), not freed */
};

int buf_init(struct buf *b, size_t size) HR_MUSTCHECK;
void buf_init_static(struct buf *b, void *storage, size_t size);
void buf_free(struct buf *b);

bool buf_is_sane(const struct buf *b);
void buf_compact(struct buf *b);

int buf_append(struct buf *b, const void *src, size_t len) HR_MUSTCHECK;
int buf_printf(struct buf *b, const char *fmt, ...) HR_PRINTF(2, 3) HR_MUSTCHECK;
void buf_consume(struct buf *b, size_t len);

ssize_t buf_read_fd(struct buf *b, int fd) HR_MUSTCHECK;
ssize_t buf_write_fd(struct buf *b, int fd) HR_MUSTCHECK;

/* Bytes waiting in <b>. */
static inline size_t buf_len(const struct buf *b)
{
	return b->tail - b->head;
}

/* Bytes that can still be appended (after a compaction, which appends do on their own). */
static inline size_t buf_room(const struct buf *b)
{
	return b->size - buf_len(b);
}

/* First unconsumed byte. */
static inline uint8_t *buf_head(const struct buf *b)
{
	return b->data + b->head;
}

/* Empties <b> without freeing it. */
static inline void buf_reset(struct buf *b)
{
	b->head = 0;
	b->tail = 0;
}

/* Room at the end without compaction: where a reader may write directly, then buf_commit(). */
static inline uint8_t *buf_tail(const struct buf *b)
{
	return b->data + b->tail;
}

static inline size_t buf_tail_room(const struct buf *b)
{
	return b->size - b->tail;
}

void buf_commit(struct buf *b, size_t len);

#endif /* HAPROLE_COMMON_BUF_H */
