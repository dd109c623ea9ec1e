/* common/sock.c - non-blocking listen/accept/connect and the timed connector; see sock.h. */
#include "common/sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Binds <fd> to <sa>, sets the mode of a unix socket's file <name> when <mode> is given (before
 * listen(): no client connects under the umask's mode), and listens. Returns <fd>, or -1 with
 * <err> and errno, <fd> closed then. */
static int sock_bind_listen(int fd, const struct sockaddr *sa, socklen_t salen, const char *name,
                            const mode_t *mode, int backlog, char *err, size_t errlen)
{
	const char *step = "bind";
	int e;

	if (bind(fd, sa, salen) == -1)
		goto out_close;
	step = "chmod";
	if (mode != NULL && chmod(name, *mode) == -1)
		goto out_close;
	step = "listen";
	if (listen(fd, backlog) == -1)
		goto out_close;
	return fd;

out_close:
	e = errno;
	snprintf(err, errlen, "%s %s: %s", step, name, strerror(e));
	close(fd);
	errno = e;
	return -1;
}

/* Opens a listening TCP socket on <addr> (SO_REUSEADDR). Returns the fd, or -1 with <err>. */
int sock_listen_tcp(const struct cfg_addr *addr, int backlog, char *err, size_t errlen)
{
	int one = 1;
	int fd;

	fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket for %s: %s", addr->text, strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1) {
		int e = errno;

		snprintf(err, errlen, "SO_REUSEADDR on %s: %s", addr->text, strerror(e));
		close(fd);
		errno = e;
		return -1;
	}
	return sock_bind_listen(fd, (const struct sockaddr *)&addr->ss, addr->len, addr->text, NULL,
	                        backlog, err, errlen);
}

/* Opens a listening unix socket at <path> with <mode> (e.g. 0660), replacing a stale socket
 * file left by a previous run. Returns the fd, or -1 with <err>. */
int sock_listen_unix(const char *path, mode_t mode, int backlog, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "unix socket path too long (%zu bytes, at most %zu): %s",
		         strlen(path), sizeof(sun.sun_path) - 1, path);
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket for %s: %s", path, strerror(errno));
		return -1;
	}
	return sock_bind_listen(fd, (const struct sockaddr *)&sun, sizeof(sun), path, &mode,
	                        backlog, err, errlen);
}

/* accept4() a non-blocking, close-on-exec socket. Returns the fd, or -1 with errno
 * (EAGAIN when nothing is pending). <peer> may be NULL. */
int sock_accept(int listen_fd, struct sockaddr_storage *peer, socklen_t *peer_len)
{
	struct sockaddr_storage dummy;
	socklen_t dummy_len = sizeof(dummy);
	int fd;

	if (peer == NULL) {
		peer = &dummy;
		peer_len = &dummy_len;
	} else {
		*peer_len = sizeof(*peer);
	}
	do {
		fd = accept4(listen_fd, (struct sockaddr *)peer, peer_len,
		             SOCK_NONBLOCK | SOCK_CLOEXEC);
	} while (fd == -1 && errno == EINTR);
	return fd;
}

/* Starts a connect to <addr> (TCP, or a unix socket from sock_addr_unix(), whose connect
 * completes or fails at once: EAGAIN when its backlog is full). Returns the fd with
 * <in_progress> telling whether the caller must wait for writability, or -1 with errno. */
int sock_connect_tcp(const struct cfg_addr *addr, bool *in_progress)
{
	int fd;

	fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	*in_progress = false;
	if (connect(fd, (const struct sockaddr *)&addr->ss, addr->len) == -1) {
		if (errno == EINPROGRESS) {
			*in_progress = true;
			return fd;
		}
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* <path> as a unix socket address in <out> (for sock_connector_start()); <out->text> is the
 * path, cut to its size (it is for logs). Returns 0, or -1 with errno ENAMETOOLONG. */
int sock_addr_unix(const char *path, struct cfg_addr *out)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&out->ss;
	size_t len = strlen(path);

	memset(out, 0, sizeof(*out));
	if (len >= sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, len + 1);
	out->len = sizeof(*sun);
	snprintf(out->text, sizeof(out->text), "%s", path);
	return 0;
}

/* Connects to the unix socket <path> (local: completes at once or fails). <nonblock>: the
 * socket is non-blocking, and a listener whose backlog is full fails the connect at once
 * (EAGAIN) instead of blocking: what a daemon's loop needs; a command-line client may wait.
 * Returns the fd or -1. */
int sock_connect_unix(const char *path, bool nonblock)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd == -1)
		return -1;
	if (connect(fd, (const struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* True when bytes (or the peer's FIN) wait to be read on <fd>: a connection about to be served
 * in this loop iteration, which an eviction should spare. Reads nothing (MSG_PEEK). */
bool sock_has_input(int fd)
{
	uint8_t b;
	ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	return n >= 0;
}

/* The pending error of a socket after a non-blocking connect (0: connected). */
int sock_pending_error(int fd)
{
	int e = 0;
	socklen_t len = sizeof(e);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1)
		return errno;
	return e;
}

int sock_set_nodelay(int fd)
{
	int one = 1;

	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* TCP keepalive so a peer host that vanished is noticed even on an idle connection. */
int sock_set_keepalive(int fd, int idle_s, int intvl_s, int count)
{
	int one = 1;

	if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) == -1)
		return -1;
	if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof(idle_s)) == -1)
		return -1;
	if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl_s, sizeof(intvl_s)) == -1)
		return -1;
	return setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
}

/* "1.2.3.4:5555", "[::1]:5555" or "unix" into <out>. Returns <out>. */
const char *sock_addr_str(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN];

	switch (ss->ss_family) {
	case AF_INET: {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(out, outlen, "%s:%u", host, ntohs(sin->sin_port));
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(out, outlen, "[%s]:%u", host, ntohs(sin6->sin6_port));
		break;
	}
	case AF_UNIX:
		snprintf(out, outlen, "unix");
		break;
	default:
		snprintf(out, outlen, "?");
		break;
	}
	return out;
}

static void sock_connector_finish(struct sock_connector *c, int fd, int err)
{
	ev_io_stop(c->loop, &c->io);
	ev_timer_stop(c->loop, &c->timer);
	c->fd = -1;
	c->cb(c, fd, err);
}

static void sock_connector_on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sock_connector *c = container_of(w, struct sock_connector, io);
	int fd = c->fd;
	int e;

	(void)loop;
	(void)revents;
	e = sock_pending_error(fd);
	if (e != 0) {
		close(fd);
		sock_connector_finish(c, -1, e);
		return;
	}
	sock_connector_finish(c, fd, 0);
}

static void sock_connector_on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sock_connector *c = container_of(w, struct sock_connector, timer);

	(void)loop;
	(void)revents;
	close(c->fd);
	sock_connector_finish(c, -1, ETIMEDOUT);
}

void sock_connector_init(struct sock_connector *c, struct ev_loop *loop, sock_connect_cb cb,
                         void *arg)
{
	memset(c, 0, sizeof(*c));
	c->loop = loop;
	c->fd = -1;
	c->cb = cb;
	c->arg = arg;
	ev_init(&c->io, sock_connector_on_writable);
	ev_init(&c->timer, sock_connector_on_timeout);
}

/* Connects to <addr> (TCP or unix) within <timeout> seconds; the callback tells the outcome,
 * never from inside this call. Returns 0, or -1 with errno when the connect could not even start (the
 * callback is then not called). */
int sock_connector_start(struct sock_connector *c, const struct cfg_addr *addr, double timeout)
{
	bool in_progress;
	int fd;

	if (c->fd != -1) {
		errno = EALREADY;
		return -1;
	}
	ev_timer_set(&c->timer, timeout, 0.0);
	ev_timer_start(c->loop, &c->timer);
	fd = sock_connect_tcp(addr, &in_progress);
	if (fd == -1) {
		int e = errno;

		ev_timer_stop(c->loop, &c->timer);
		errno = e;
		return -1;
	}
	c->fd = fd;
	/* Even a connect that completed at once is reported through the loop, so the caller's
	 * callback never runs inside its own call to us. */
	ev_io_set(&c->io, fd, EV_WRITE);
	ev_io_start(c->loop, &c->io);
	return 0;
}

/* Stops a pending connect and closes its socket; the callback is not called. */
void sock_connector_cancel(struct sock_connector *c)
{
	if (c->fd == -1)
		return;
	ev_io_stop(c->loop, &c->io);
	ev_timer_stop(c->loop, &c->timer);
	close(c->fd);
	c->fd = -1;
}
