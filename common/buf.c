/* common/buf.c - bounded byte buffer; see buf.h for the invariant. */
#include "common/buf.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Allocates <size> bytes of storage once. Returns 0, or -1 with errno ENOMEM/EINVAL. */
int buf_init(struct buf *b, size_t size)
{
	memset(b, 0, sizeof(*b));
	if (size == 0) {
		errno = EINVAL;
		return -1;
	}
	b->data = malloc(size);
	if (b->data == NULL)
		return -1;
	b->size = size;
	return 0;
}

/* Uses <storage> of <size> bytes owned by the caller (stack or a larger object). */
void buf_init_static(struct buf *b, void *storage, size_t size)
{
	memset(b, 0, sizeof(*b));
	b->data = storage;
	b->size = size;
	b->borrowed = true;
}

void buf_free(struct buf *b)
{
	if (!b->borrowed)
		free(b->data);
	b->data = NULL;
	b->size = 0;
	b->head = 0;
	b->tail = 0;
}

bool buf_is_sane(const struct buf *b)
{
	return b->head <= b->tail && b->tail <= b->size && (b->size == 0 || b->data != NULL);
}

/* Moves the unconsumed bytes to offset 0 so that all the room is at the end. */
void buf_compact(struct buf *b)
{
	size_t len = buf_len(b);

	assert(buf_is_sane(b));
	if (b->head == 0)
		return;
	if (len > 0)
		memmove(b->data, b->data + b->head, len);
	b->head = 0;
	b->tail = len;
}

/* Appends <len> bytes of <src>, all or nothing. Returns 0, or -1 (errno ENOBUFS) when they do
 * not fit; <b> is then unchanged. */
int buf_append(struct buf *b, const void *src, size_t len)
{
	if (len > buf_room(b)) {
		errno = ENOBUFS;
		return -1;
	}
	if (len > buf_tail_room(b))
		buf_compact(b);
	if (len > 0)
		memcpy(b->data + b->tail, src, len);
	b->tail += len;
	return 0;
}

/* Appends a formatted string (no NUL), all or nothing. Returns 0, or -1 (ENOBUFS) when the
 * result would not fit, (EINVAL) on a formatting error. */
int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n;

	buf_compact(b);
	room = buf_tail_room(b);
	va_start(ap, fmt);
	/* vsnprintf needs room for its NUL: writing into exactly <room> bytes is refused. */
	n = vsnprintf((char *)buf_tail(b), room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		errno = EINVAL;
		return -1;
	}
	if ((size_t)n >= room) {
		errno = ENOBUFS;
		return -1;
	}
	b->tail += (size_t)n;
	return 0;
}

/* Drops <len> bytes from the head; <len> must not exceed buf_len(). */
void buf_consume(struct buf *b, size_t len)
{
	assert(len <= buf_len(b));
	b->head += len;
	if (b->head == b->tail) {
		b->head = 0;
		b->tail = 0;
	}
}

/* Accounts <len> bytes written by the caller at buf_tail(). */
void buf_commit(struct buf *b, size_t len)
{
	assert(len <= buf_tail_room(b));
	b->tail += len;
}

/* One read() into the room at the end (compacting first). Returns what read() returns;
 * -1 with errno ENOBUFS when <b> is full (the caller stops reading or closes). */
ssize_t buf_read_fd(struct buf *b, int fd)
{
	ssize_t n;

	if (buf_tail_room(b) == 0)
		buf_compact(b);
	if (buf_tail_room(b) == 0) {
		errno = ENOBUFS;
		return -1;
	}
	do {
		n = read(fd, buf_tail(b), buf_tail_room(b));
	} while (n == -1 && errno == EINTR);
	if (n > 0)
		b->tail += (size_t)n;
	return n;
}

/* One write() of the waiting bytes; consumes what was written. Returns what write() returns
 * (0 when there was nothing to write). */
ssize_t buf_write_fd(struct buf *b, int fd)
{
	ssize_t n;

	if (buf_len(b) == 0)
		return 0;
	do {
		n = write(fd, buf_head(b), buf_len(b));
	} while (n == -1 && errno == EINTR);
	if (n > 0)
		buf_consume(b, (size_t)n);
	return n;
}
