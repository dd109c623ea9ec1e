/* tests/unit/test_buf.c - the bounded buffer: all-or-nothing writes, compaction, fd I/O. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"

static void test_buf_append_fits_exactly(void **state)
{
	struct buf b;

	(void)state;
	assert_int_equal(buf_init(&b, 8), 0);
	assert_int_equal(buf_append(&b, "12345678", 8), 0);
	assert_int_equal(buf_len(&b), 8);
	assert_int_equal(buf_room(&b), 0);
	assert_true(buf_is_sane(&b));
	buf_free(&b);
	assert_null(b.data);
}

static void test_buf_append_refuses_overflow_whole(void **state)
{
	struct buf b;

	(void)state;
	assert_int_equal(buf_init(&b, 8), 0);
	assert_int_equal(buf_append(&b, "12345", 5), 0);
	errno = 0;
	assert_int_equal(buf_append(&b, "6789", 4), -1);
	assert_int_equal(errno, ENOBUFS);
	assert_int_equal(buf_len(&b), 5); /* nothing was cut in */
	assert_memory_equal(buf_head(&b), "12345", 5);
	buf_free(&b);
}

static void test_buf_append_compacts_after_consume(void **state)
{
	struct buf b;

	(void)state;
	assert_int_equal(buf_init(&b, 8), 0);
	assert_int_equal(buf_append(&b, "abcdef", 6), 0);
	buf_consume(&b, 4);
	assert_int_equal(buf_tail_room(&b), 2);
	assert_int_equal(buf_append(&b, "ghijkl", 6), 0); /* needs compaction */
	assert_int_equal(buf_len(&b), 8);
	assert_memory_equal(buf_head(&b), "efghijkl", 8);
	assert_true(buf_is_sane(&b));
	buf_free(&b);
}

static void test_buf_consume_all_resets_offsets(void **state)
{
	struct buf b;

	(void)state;
	assert_int_equal(buf_init(&b, 4), 0);
	assert_int_equal(buf_append(&b, "ab", 2), 0);
	buf_consume(&b, 2);
	assert_int_equal(b.head, 0);
	assert_int_equal(b.tail, 0);
	buf_free(&b);
}

static void test_buf_printf_refuses_truncation(void **state)
{
	struct buf b;

	(void)state;
	assert_int_equal(buf_init(&b, 10), 0);
	assert_int_equal(buf_printf(&b, "up %d%%", 100), 0);
	assert_int_equal(buf_len(&b), 7);
	assert_int_equal(buf_printf(&b, "%s", "xyz"), -1); /* 10 bytes needs room for NUL too */
	assert_int_equal(errno, ENOBUFS);
	assert_int_equal(buf_len(&b), 7);
	assert_int_equal(buf_printf(&b, "%s", "xy"), 0);
	assert_memory_equal(buf_head(&b), "up 100%xy", 9);
	buf_free(&b);
}

static void test_buf_read_fd_full_is_enobufs(void **state)
{
	struct buf b;
	int fds[2];

	(void)state;
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(buf_init(&b, 4), 0);
	assert_int_equal(write(fds[1], "hello", 5), 5);
	assert_int_equal(buf_read_fd(&b, fds[0]), 4);
	errno = 0;
	assert_int_equal(buf_read_fd(&b, fds[0]), -1);
	assert_int_equal(errno, ENOBUFS);
	buf_consume(&b, 1);
	assert_int_equal(buf_read_fd(&b, fds[0]), 1);
	assert_memory_equal(buf_head(&b), "ello", 4);
	close(fds[0]);
	close(fds[1]);
	buf_free(&b);
}

static void test_buf_write_fd_consumes_written(void **state)
{
	struct buf b;
	char out[8];
	int fds[2];

	(void)state;
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(buf_init(&b, 8), 0);
	assert_int_equal(buf_write_fd(&b, fds[1]), 0); /* nothing to write */
	assert_int_equal(buf_append(&b, "ping", 4), 0);
	assert_int_equal(buf_write_fd(&b, fds[1]), 4);
	assert_int_equal(buf_len(&b), 0);
	assert_int_equal(read(fds[0], out, sizeof(out)), 4);
	assert_memory_equal(out, "ping", 4);
	close(fds[0]);
	close(fds[1]);
	buf_free(&b);
}

static void test_buf_init_static_not_freed(void **state)
{
	uint8_t storage[16];
	struct buf b;

	(void)state;
	buf_init_static(&b, storage, sizeof(storage));
	assert_int_equal(buf_append(&b, "x", 1), 0);
	assert_ptr_equal(buf_head(&b), storage);
	buf_free(&b); /* must not free() the stack */
	assert_null(b.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_append_fits_exactly),
		cmocka_unit_test(test_buf_append_refuses_overflow_whole),
		cmocka_unit_test(test_buf_append_compacts_after_consume),
		cmocka_unit_test(test_buf_consume_all_resets_offsets),
		cmocka_unit_test(test_buf_printf_refuses_truncation),
		cmocka_unit_test(test_buf_read_fd_full_is_enobufs),
		cmocka_unit_test(test_buf_write_fd_consumes_written),
		cmocka_unit_test(test_buf_init_static_not_freed),
	};

	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
