/* ctl/fetch.c - haprolectl's bounded exchanges with the admin socket, HAProxy's stats socket and
 * the SPOA's status port. See fetch.h. */
#include "ctl/fetch.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/admin.h"
#include "common/sock.h"

#define CTLF_MAX (1024 * 1024) /* largest answer read from HAProxy or the SPOA */

double ctlf_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits for <events> on <fd> until <deadline> (ctlf_now() clock). Returns 0, or -1 with errno
 * (ETIMEDOUT when the deadline passed). */
static int ctlf_poll(int fd, short events, double deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		double left = deadline - ctlf_now();
		int r;

		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		r = poll(&p, 1, (int)(left * 1000) + 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r > 0)
			return 0;
	}
}

/* Sends <len> bytes of <req> on the non-blocking <fd>, then reads into <out> until EOF (<lines>
 * 0) or until <lines> '\n' arrived; everything before <deadline>. A half-close after sending
 * tells a server that reads to EOF (HAProxy's CLI, HTTP/1.0) that the request is complete.
 * Returns 0, or -1 with <err> filled. */
static int ctlf_exchange(int fd, const char *req, size_t len, bool half_close, struct buf *out,
                         int lines, double deadline, char *err, size_t errlen)
{
	size_t sent = 0;
	int seen = 0;

	while (sent < len) {
		ssize_t n = write(fd, req + sent, len - sent);

		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			if (ctlf_poll(fd, POLLOUT, deadline) == -1)
				goto out_errno;
			continue;
		}
		if (n == -1)
			goto out_errno;
		sent += (size_t)n;
	}
	if (half_close)
		(void)shutdown(fd, SHUT_WR);
	for (;;) {
		ssize_t n;

		if (buf_room(out) == 0) {
			snprintf(err, errlen, "answer larger than %zu bytes", out->size);
			return -1;
		}
		n = buf_read_fd(out, fd);
		if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			if (ctlf_poll(fd, POLLIN, deadline) == -1)
				goto out_errno;
			continue;
		}
		if (n == -1)
			goto out_errno;
		if (n == 0)
			break;
		for (size_t i = buf_len(out) - (size_t)n; i < buf_len(out); i++)
			seen += buf_head(out)[i] == '\n';
		if (lines > 0 && seen >= lines)
			break;
	}
	if (lines > 0 && seen < lines) {
		snprintf(err, errlen, "connection closed before the answer");
		errno = 0;
		return -1;
	}
	return 0;
out_errno : {
	int e = errno;

	snprintf(err, errlen, "%s", e == ETIMEDOUT ? "no answer in time" : strerror(e));
	errno = e;
	return -1;
}
}

/* Connects to the unix socket <path> (non-blocking). Returns the fd, or -1 with <err>. */
static int ctlf_connect_unix(const char *path, char *err, size_t errlen)
{
	int fd = sock_connect_unix(path, false);

	if (fd == -1)
		snprintf(err, errlen, "cannot connect to %s: %s", path, strerror(errno));
	return fd;
}

/* Connects to <addr> before <deadline> (non-blocking). Returns the fd, or -1 with <err>. */
static int ctlf_connect_tcp(const struct cfg_addr *addr, double deadline, char *err, size_t errlen)
{
	bool in_progress = false;
	int fd = sock_connect_tcp(addr, &in_progress);
	int e;

	if (fd == -1) {
		snprintf(err, errlen, "connect %s: %s", addr->text, strerror(errno));
		return -1;
	}
	if (in_progress && ctlf_poll(fd, POLLOUT, deadline) == -1) {
		snprintf(err, errlen, "connect %s: %s", addr->text,
		         errno == ETIMEDOUT ? "no answer in time" : strerror(errno));
		close(fd);
		return -1;
	}
	e = sock_pending_error(fd);
	if (e != 0) {
		snprintf(err, errlen, "connect %s: %s", addr->text, strerror(e));
		close(fd);
		return -1;
	}
	return fd;
}

/* Asks HAProxy's stats socket for `show stat`; fills <h> (reachable, or err). */
void ctlf_haproxy(const char *path, double timeout, struct ctlv_haproxy *h)
{
	static const char req[] = "show stat\n";
	struct buf out;
	int fd;

	snprintf(h->socket, sizeof(h->socket), "%s", path);
	h->reachable = false;
	h->n = 0;
	if (buf_init(&out, CTLF_MAX) == -1) {
		snprintf(h->err, sizeof(h->err), "out of memory");
		return;
	}
	fd = ctlf_connect_unix(path, h->err, sizeof(h->err));
	if (fd != -1) {
		if (ctlf_exchange(fd, req, sizeof(req) - 1, true, &out, 0, ctlf_now() + timeout,
		                  h->err, sizeof(h->err)) == 0) {
			if (ctlv_stat_parse((const char *)buf_head(&out), buf_len(&out), h) == 0)
				h->reachable = true;
			else
				snprintf(h->err, sizeof(h->err),
				         "not a `show stat` answer (a stats socket?)");
		}
		close(fd);
	}
	buf_free(&out);
}

/* Asks haprole-spoa's status port for its view; fills <s> for <s->cluster>. */
void ctlf_spoa(const char *address, double timeout, struct ctlv_spoa *s)
{
	static const char req[] = "GET / HTTP/1.0\r\nHost: haprolectl\r\n\r\n";
	double deadline = ctlf_now() + timeout;
	struct cfg_addr addr;
	const char *why = NULL;
	struct buf out;
	size_t off;
	int fd;

	snprintf(s->address, sizeof(s->address), "%s", address);
	s->reachable = false;
	s->found = false;
	if (cfg_parse_addr(address, &addr, &why) == -1) {
		snprintf(s->err, sizeof(s->err), "bad address: %s", why != NULL ? why : "?");
		return;
	}
	if (buf_init(&out, CTLF_MAX) == -1) {
		snprintf(s->err, sizeof(s->err), "out of memory");
		return;
	}
	fd = ctlf_connect_tcp(&addr, deadline, s->err, sizeof(s->err));
	if (fd != -1) {
		if (ctlf_exchange(fd, req, sizeof(req) - 1, false, &out, 0, deadline, s->err,
		                  sizeof(s->err)) == 0) {
			if (ctlv_http_body((const char *)buf_head(&out), buf_len(&out), &off) ==
			    -1) {
				snprintf(s->err, sizeof(s->err), "not an HTTP 200 answer");
			} else {
				s->reachable = true;
				/* Not found: <s->found> false and <s->err> say so. */
				if (ctlv_spoa_parse((const char *)buf_head(&out) + off,
				                    buf_len(&out) - off, s) == -1)
					s->found = false;
			}
		}
		close(fd);
	}
	buf_free(&out);
}

/* How often ctlf_admin_ask() asks again when the agent closed the connection unanswered. */
#define CTLF_ADMIN_TRIES 3

/* True when an exchange with the admin socket ended without a byte of answer because the agent
 * closed the connection: under a flood of idle clients the agent evicts the oldest one that has
 * sent nothing (agent/admin.c), and a client descheduled between its connect and its write can
 * be that one. The agent had read nothing of the command then (it spares a connection with
 * input waiting, and answers a command in the callback that reads it); and every admin command
 * sets a state or reads one, so even one read by an agent that died before answering is safe
 * to send again. */
static bool ctlf_admin_evicted(const struct buf *out, int err)
{
	return buf_len(out) == 0 && (err == EPIPE || err == ECONNRESET || err == 0);
}

/* Sends the command <line> ('\n'-terminated; NULL: none) to the admin socket <path>, then
 * `state` when <state> is not NULL. Puts the command's reply line (no '\n') in <reply> and
 * decodes the state into <state>. Returns 0, or -1 with <err> (connection, no answer, or a
 * state that does not decode). Asks again, up to CTLF_ADMIN_TRIES times within <timeout>, when
 * the agent closed the connection before reading the command. */
int ctlf_admin_ask(const char *path, const char *line, char *reply, size_t replylen,
                   struct node_state *state, double timeout, char *err, size_t errlen)
{
	char req[ADMIN_LINE_MAX + 8];
	char what[CTLV_ERR_MAX];
	double deadline = ctlf_now() + timeout;
	struct buf out;
	const char *why = NULL;
	const char *p;
	const char *nl;
	int lines = (line != NULL) + (state != NULL);
	int ret = -1;
	int fd = -1;

	snprintf(req, sizeof(req), "%s%s", line != NULL ? line : "",
	         state != NULL ? "state\n" : "");
	if (buf_init(&out, ADMIN_REPLY_MAX) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int attempt = 1;; attempt++) {
		fd = ctlf_connect_unix(path, err, errlen);
		if (fd == -1) {
			if (line != NULL) /* drain/maint/ready: say how to name the node's agent */
				snprintf(err + strlen(err), errlen - strlen(err),
				         " (this node's admin socket: -s SOCKET, or -f its agent "
				         "config)");
			goto out_free;
		}
		if (ctlf_exchange(fd, req, strlen(req), true, &out, lines, deadline, err, errlen) ==
		    0)
			break;
		if (attempt < CTLF_ADMIN_TRIES && ctlf_now() < deadline &&
		    ctlf_admin_evicted(&out, errno)) {
			close(fd);
			continue;
		}
		snprintf(what, sizeof(what), "%s", err);
		snprintf(err, errlen, "admin socket %s: %s", path, what);
		goto out_close;
	}
	p = (const char *)buf_head(&out);
	nl = memchr(p, '\n', buf_len(&out));
	if (line != NULL) {
		snprintf(reply, replylen, "%.*s", (int)(nl - p), p);
		p = nl + 1;
		nl = memchr(p, '\n', buf_len(&out) - (size_t)(p - (const char *)buf_head(&out)));
	}
	if (state != NULL && ctlv_hex_frame(p, (size_t)(nl - p), state, &why) == -1) {
		if (strncmp(p, "error", 5) == 0) /* the agent's own words */
			snprintf(err, errlen, "admin socket %s: %.*s", path, (int)(nl - p), p);
		else
			snprintf(err, errlen, "admin socket %s: state: %s", path, why);
		goto out_close;
	}
	ret = 0;
out_close:
	close(fd);
out_free:
	buf_free(&out);
	return ret;
}
