/* agent/pg_accept.c - does the postmaster accept new connections? See pg_accept.h. */
#include "agent/pg_accept.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/compiler.h"
#include "common/log.h"
#include "common/sock.h"

static const char *const pgp_acc_state_names[PGP_ACC_COUNT] = {
	[PGP_ACC_OFF] = "OFF",
	[PGP_ACC_WAIT] = "WAIT",
	[PGP_ACC_CONNECTING] = "CONNECTING",
	[PGP_ACC_SENT] = "SENT",
};

/* The only writer of <a->state>: arms <acc.timer> with <t> (WAIT: next check; CONNECTING,
 * SENT: deadline, armed only when entering CONNECTING); OFF stops it. */
static void pgp_acc_set_state(struct pgp_accept *a, enum pgp_acc_state to, double t)
{

	log_debug("pg probe: accept check %s -> %s", pgp_acc_state_names[a->state],
	          pgp_acc_state_names[to]);
	a->state = to;
	switch (to) {
	case PGP_ACC_OFF:
		ev_timer_stop(a->loop, &a->timer);
		return;
	case PGP_ACC_WAIT:
	case PGP_ACC_CONNECTING:
		ev_timer_stop(a->loop, &a->timer);
		ev_timer_set(&a->timer, t > 0 ? t : 0, 0);
		ev_timer_start(a->loop, &a->timer);
		return;
	case PGP_ACC_SENT:
	case PGP_ACC_COUNT:
		return;
	}
}

static void pgp_acc_close(struct pgp_accept *a)
{
	ev_io_stop(a->loop, &a->io);
	if (a->fd != -1) {
		close(a->fd);
		a->fd = -1;
	}
}

/* Ends the check under way; the verdict is read by the next query result. */
static void pgp_acc_done(struct pgp_accept *a, bool ok, const char *why)
{

	pgp_acc_close(a);
	a->checks++;
	if (!ok) {
		a->failures++;
		if (a->ok)
			log_warning("pg probe: %s", why);
		snprintf(a->err, sizeof(a->err), "%s", why);
	} else if (!a->ok) {
		log_info("pg probe: the postmaster accepts connections again");
	}
	a->ok = ok;
	pgp_acc_set_state(a, PGP_ACC_WAIT, a->every);
}

/* Sends the 8-byte GSSENCRequest: length 8, code 1234 << 16 | 5680. */
static void pgp_acc_send(struct pgp_accept *a)
{
	static const uint8_t req[8] = { 0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30 };
	ssize_t n = write(a->fd, req, sizeof(req));

	if (n != (ssize_t)sizeof(req)) {
		/* a fresh socket takes 8 bytes at once; anything else is a broken connection */
		pgp_acc_done(a, false, "postmaster accepts no connection: send failed");
		return;
	}
	pgp_acc_set_state(a, PGP_ACC_SENT, 0);
	ev_io_stop(a->loop, &a->io);
	ev_io_set(&a->io, a->fd, EV_READ);
	ev_io_start(a->loop, &a->io);
}

/* Starts one check (WAIT -> CONNECTING), deadline first. */
static void pgp_acc_begin(struct pgp_accept *a)
{
	int fd;

	pgp_acc_set_state(a, PGP_ACC_CONNECTING, a->timeout);
	a->started = ev_now(a->loop);
	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		pgp_acc_done(a, false, "accept check: no socket");
		return;
	}
	a->fd = fd;
	if (connect(fd, (const struct sockaddr *)&a->ss, a->sslen) == 0) {
		pgp_acc_send(a);
		return;
	}
	if (errno != EINPROGRESS) {
		/* refused, or a unix socket's backlog full (EAGAIN): nobody accepts */
		char why[NS_REASON_MAX];

		snprintf(why, sizeof(why), "postmaster accepts no connection: %s", strerror(errno));
		pgp_acc_done(a, false, why);
		return;
	}
	ev_io_set(&a->io, fd, EV_WRITE);
	ev_io_start(a->loop, &a->io);
}

static void pgp_acc_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct pgp_accept *a = container_of(w, struct pgp_accept, io);
	uint8_t b[16];
	ssize_t n;
	int e;

	(void)loop;
	(void)revents;
	switch (a->state) {
	case PGP_ACC_CONNECTING:
		e = sock_pending_error(a->fd);
		if (e != 0) {
			char why[NS_REASON_MAX];

			snprintf(why, sizeof(why), "postmaster accepts no connection: %s",
			         strerror(e));
			pgp_acc_done(a, false, why);
			return;
		}
		pgp_acc_send(a);
		return;
	case PGP_ACC_SENT:
		n = read(a->fd, b, sizeof(b));
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		/* one byte ('G' or 'N'), or the server closing: a forked process answered */
		pgp_acc_done(a, true, NULL);
		return;
	case PGP_ACC_OFF:
	case PGP_ACC_WAIT:
	case PGP_ACC_COUNT:
		pgp_acc_close(a);
		return;
	}
}

static void pgp_acc_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct pgp_accept *a = container_of(w, struct pgp_accept, timer);
	char why[NS_REASON_MAX];

	(void)loop;
	(void)revents;
	switch (a->state) {
	case PGP_ACC_WAIT:
		pgp_acc_begin(a);
		return;
	case PGP_ACC_CONNECTING:
	case PGP_ACC_SENT:
		snprintf(why, sizeof(why),
		         "postmaster accepts no connection (no answer in %.0f ms)",
		         a->timeout * 1e3);
		pgp_acc_done(a, false, why);
		return;
	case PGP_ACC_OFF:
	case PGP_ACC_COUNT:
		return;
	}
}

void pgp_acc_stop(struct pgp_accept *a)
{
	pgp_acc_close(a);
	pgp_acc_set_state(a, PGP_ACC_OFF, 0);
	a->ok = true;
	a->err[0] = '\0';
}

void pgp_acc_learn(struct pgp_accept *a, const char *addr, const char *host, const char *port,
                   double every, double timeout)
{
	long portnum = port != NULL ? strtol(port, NULL, 10) : 0;

	a->every = every;
	a->timeout = timeout;
	a->sslen = 0;
	memset(&a->ss, 0, sizeof(a->ss));
	if (a->every <= 0 || portnum <= 0 || portnum > 65535)
		return;
	if (addr != NULL && addr[0] != '\0') {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;

		if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
			s4->sin_family = AF_INET;
			s4->sin_port = htons((uint16_t)portnum);
			a->sslen = sizeof(*s4);
		} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons((uint16_t)portnum);
			a->sslen = sizeof(*s6);
		}
	} else if (host != NULL && host[0] == '/') {
		struct sockaddr_un *su = (struct sockaddr_un *)&a->ss;
		int n =
		    snprintf(su->sun_path, sizeof(su->sun_path), "%s/.s.PGSQL.%ld", host, portnum);

		if (n > 0 && (size_t)n < sizeof(su->sun_path)) {
			su->sun_family = AF_UNIX;
			a->sslen = sizeof(*su);
		}
	}
	if (a->sslen == 0) {
		log_debug("pg probe: accept check off: no address for the server");
		return;
	}
	if (a->state == PGP_ACC_OFF)
		pgp_acc_set_state(a, PGP_ACC_WAIT, a->every);
}

void pgp_acc_init(struct pgp_accept *a, struct ev_loop *loop)
{
	memset(a, 0, sizeof(*a)); /* state PGP_ACC_OFF */
	a->loop = loop;
	a->fd = -1;
	a->ok = true;
	ev_io_init(&a->io, pgp_acc_io_cb, -1, EV_READ);
	ev_timer_init(&a->timer, pgp_acc_timer_cb, 0, 0);
}
