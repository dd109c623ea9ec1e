/* tests/unit/test_ctl_fetch.c - haprolectl's admin exchange (ctl/fetch.c) against a fake admin
 * socket in a child process: a connection the agent closes before reading the command (what its
 * eviction of the oldest idle client does under a flood) is asked again, within a bound. */
#include <setjmp.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/sock.h"
#include "ctl/fetch.h"

struct fake {
	char dir[64];
	char path[96];
	pid_t pid;
	int count_fd; /* one byte per connection the child accepted */
};

/* Starts a fake admin socket that closes its first <evict> connections unread, then reads one
 * command line and answers "ok: <line>", then waits to be killed. */
static void fake_start(struct fake *f, int evict)
{
	char err[128];
	int pfd[2];
	int lfd;

	snprintf(f->dir, sizeof(f->dir), "/tmp/hr-ctlf-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/agent.sock", f->dir);
	lfd = sock_listen_unix(f->path, 0600, 16, err, sizeof(err));
	assert_true(lfd >= 0);
	assert_int_equal(pipe(pfd), 0);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		int accepted = 0;

		alarm(10); /* bounded, whatever the parent does */
		for (;;) {
			int fd;
			char line[128];
			ssize_t n;

			fd = accept(lfd, NULL, NULL);
			if (fd == -1) {
				if (errno == EAGAIN) {
					usleep(1000);
					continue;
				}
				_exit(100);
			}
			accepted++;
			if (write(pfd[1], "a", 1) != 1)
				_exit(102);
			if (accepted <= evict) {
				close(fd);
				continue;
			}
			n = read(fd, line, sizeof(line) - 1);
			if (n <= 0)
				_exit(101);
			line[n] = '\0';
			line[strcspn(line, "\n")] = '\0';
			dprintf(fd, "ok: %s\n", line);
			close(fd);
			pause();
			_exit(0);
		}
	}
	close(pfd[1]);
	close(lfd);
	f->count_fd = pfd[0];
}

/* Stops the child; returns the number of connections it accepted. */
static int fake_stop(struct fake *f)
{
	char b[64];
	int n = 0;
	ssize_t r;

	kill(f->pid, SIGKILL);
	assert_int_equal(waitpid(f->pid, NULL, 0), f->pid);
	while ((r = read(f->count_fd, b, sizeof(b))) > 0)
		n += (int)r;
	close(f->count_fd);
	unlink(f->path);
	rmdir(f->dir);
	return n;
}

static void test_ctlf_admin_asks_again_after_eviction(void **state)
{
	struct fake f;
	char reply[64] = "";
	char err[256] = "";

	(void)state;
	fake_start(&f, 2);
	assert_int_equal(
	    ctlf_admin_ask(f.path, "ready\n", reply, sizeof(reply), NULL, 5.0, err, sizeof(err)),
	    0);
	assert_string_equal(reply, "ok: ready");
	assert_int_equal(fake_stop(&f), 3);
}

static void test_ctlf_admin_gives_up_after_three(void **state)
{
	struct fake f;
	char reply[64] = "";
	char err[256] = "";

	(void)state;
	fake_start(&f, 1000);
	assert_int_equal(
	    ctlf_admin_ask(f.path, "ready\n", reply, sizeof(reply), NULL, 5.0, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "admin socket "));
	assert_int_equal(fake_stop(&f), 3); /* asked three times, no more */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctlf_admin_asks_again_after_eviction),
		cmocka_unit_test(test_ctlf_admin_gives_up_after_three),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
