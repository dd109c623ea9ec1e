/* tests/unit/test_sock.c - listen/accept/connect helpers and the timed connector on libev. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/sock.h"

struct connect_outcome {
	int calls; /* times the callback ran */
	int fd;    /* what it got */
	int err;   /* errno it got */
};

static void on_connect(struct sock_connector *c, int fd, int err)
{
	struct connect_outcome *o = c->arg;

	o->calls++;
	o->fd = fd;
	o->err = err;
}

/* Listens on 127.0.0.1 with a kernel-chosen port; fills <addr> with it. */
static int listen_any(struct cfg_addr *addr)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char err[HR_ERR_LEN];
	const char *why;
	char text[64];
	int fd;

	assert_int_equal(cfg_parse_addr("127.0.0.1:0", addr, &why), 0);
	fd = sock_listen_tcp(addr, 16, err, sizeof(err));
	assert_true(fd != -1);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	sock_addr_str(&ss, text, sizeof(text));
	assert_int_equal(cfg_parse_addr(text, addr, &why), 0);
	return fd;
}

static void test_sock_connector_start_connects(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct connect_outcome o = { 0, -1, -1 };
	struct sock_connector c;
	struct cfg_addr addr;
	int lfd = listen_any(&addr);
	int afd;

	(void)state;
	sock_connector_init(&c, loop, on_connect, &o);
	assert_int_equal(sock_connector_start(&c, &addr, 1.0), 0);
	assert_int_equal(o.calls, 0); /* never from inside start */
	assert_true(sock_connector_busy(&c));
	ev_run(loop, 0);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.err, 0);
	assert_true(o.fd >= 0);
	assert_false(sock_connector_busy(&c));
	afd = sock_accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	close(afd);
	close(o.fd);
	close(lfd);
	ev_loop_destroy(loop);
}

static void test_sock_connector_start_refused(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct connect_outcome o = { 0, -1, -1 };
	struct sock_connector c;
	struct cfg_addr addr;
	int lfd = listen_any(&addr);

	(void)state;
	close(lfd); /* nobody listens there any more */
	sock_connector_init(&c, loop, on_connect, &o);
	if (sock_connector_start(&c, &addr, 1.0) == -1) {
		assert_int_equal(errno, ECONNREFUSED);
	} else {
		ev_run(loop, 0);
		assert_int_equal(o.calls, 1);
		assert_int_equal(o.fd, -1);
		assert_int_equal(o.err, ECONNREFUSED);
	}
	ev_loop_destroy(loop);
}

static void test_sock_connector_cancel_silences(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct connect_outcome o = { 0, -1, -1 };
	struct sock_connector c;
	struct cfg_addr addr;
	int lfd = listen_any(&addr);

	(void)state;
	sock_connector_init(&c, loop, on_connect, &o);
	assert_int_equal(sock_connector_start(&c, &addr, 1.0), 0);
	sock_connector_cancel(&c);
	ev_run(loop, 0);
	assert_int_equal(o.calls, 0);
	assert_false(sock_connector_busy(&c));
	close(lfd);
	ev_loop_destroy(loop);
}

static void test_sock_listen_unix_mode(void **state)
{
	char path[] = "/tmp/haprole-test-sock-XXXXXX";
	char err[HR_ERR_LEN];
	char sockpath[64];
	struct stat st;
	int fd;
	int cfd;

	(void)state;
	assert_non_null(mkdtemp(path));
	snprintf(sockpath, sizeof(sockpath), "%s/admin.sock", path);
	fd = sock_listen_unix(sockpath, 0660, 4, err, sizeof(err));
	assert_true(fd != -1);
	assert_int_equal(stat(sockpath, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	cfd = sock_connect_unix(sockpath, false);
	assert_true(cfd != -1);
	close(cfd);
	close(fd);
	/* A stale socket file from a crashed run is replaced, not an error. */
	fd = sock_listen_unix(sockpath, 0660, 4, err, sizeof(err));
	assert_true(fd != -1);
	close(fd);
	unlink(sockpath);
	rmdir(path);
}

static void test_sock_listen_tcp_reports_bind_error(void **state)
{
	struct cfg_addr addr;
	char err[HR_ERR_LEN];
	int lfd = listen_any(&addr);

	(void)state;
	assert_int_equal(sock_listen_tcp(&addr, 4, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bind 127.0.0.1:"));
	assert_non_null(strstr(err, "Address already in use"));
	close(lfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sock_connector_start_connects),
		cmocka_unit_test(test_sock_connector_start_refused),
		cmocka_unit_test(test_sock_connector_cancel_silences),
		cmocka_unit_test(test_sock_listen_unix_mode),
		cmocka_unit_test(test_sock_listen_tcp_reports_bind_error),
	};

	return cmocka_run_group_tests_name("sock", tests, NULL, NULL);
}
