/* agent/pg_accept.c - does the postmaster accept new connections? See pg_accept.h. */
#include "agent/pg_accept.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "common/compiler.h"
#include "common/log.h"
#include "common/sock.h"

static const char *const pgp_acc_state_names[PGP_ACC_COUNT] = {
	[PGP_ACC_OFF] = "OFF",
	[PGP_ACC_WAIT] = "WAIT",
	[PGP_ACC_CONNECTING] = "CONNECTING",
	[PGP_ACC_SENT] = "SENT",
};

/* The only writer of <a->state>: arms <acc.timer> with <t> in WAIT (the next check); the
 * other states' deadlines belong to the connector, then the connection. */
static void pgp_acc_set_state(struct pgp_accept *a, enum pgp_acc_state to, double t)
{

	log_debug("pg probe: accept check %s -> %s", pgp_acc_state_names[a->state],
	          pgp_acc_state_names[to]);
	a->state = to;
	switch (to) {
	case PGP_ACC_OFF:
	case PGP_ACC_CONNECTING:
	case PGP_ACC_SENT:
		ev_timer_stop(a->loop, &a->timer);
		return;
	case PGP_ACC_WAIT:
		ev_timer_stop(a->loop, &a->timer);
		ev_timer_set(&a->timer, t > 0 ? t : 0, 0);
		ev_timer_start(a->loop, &a->timer);
		return;
	case PGP_ACC_COUNT:
		return;
	}
}

/* Ends the check under way; the verdict is read by the next query result. */
static void pgp_acc_done(struct pgp_accept *a, bool ok, const char *why)
{
	pgp_acc_set_state(a, PGP_ACC_WAIT, a->every); /* first: on_close then knows we closed */
	sock_connector_cancel(&a->connector);
	if (a->c_live && !conn_is_closed(&a->c))
		conn_close(&a->c, ok ? "answered" : "check failed");
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
}

static void pgp_acc_no_answer(struct pgp_accept *a)
{
	char why[NS_REASON_MAX];

	snprintf(why, sizeof(why), "postmaster accepts no connection (no answer in %.0f ms)",
	         a->timeout * 1e3);
	pgp_acc_done(a, false, why);
}

/* One byte ('G' or 'N'), or the server closing (even with a reset): a forked process
 * answered. */
static void pgp_acc_on_read(struct conn *c, bool eof)
{
	(void)eof;
	pgp_acc_done(container_of(c, struct pgp_accept, c), true, NULL);
}

static void pgp_acc_on_timeout(struct conn *c)
{
	pgp_acc_no_answer(container_of(c, struct pgp_accept, c));
}

/* A close we did not ask for: the layer's, the request's write failed. */
static void pgp_acc_on_close(struct conn *c)
{
	struct pgp_accept *a = container_of(c, struct pgp_accept, c);

	if (a->state == PGP_ACC_SENT)
		pgp_acc_done(a, false, "postmaster accepts no connection: send failed");
}

static void pgp_acc_on_free(struct conn *c)
{
	container_of(c, struct pgp_accept, c)->c_live = false;
}

static const struct conn_ops pgp_acc_conn_ops = {
	.on_read = pgp_acc_on_read,
	.on_timeout = pgp_acc_on_timeout,
	.on_close = pgp_acc_on_close,
	.on_free = pgp_acc_on_free,
};

/* Connected: sends the 8-byte GSSENCRequest (length 8, code 1234 << 16 | 5680) on common/conn,
 * the rest of the check's deadline for the answer. */
static void pgp_acc_on_connect(struct sock_connector *sc, int fd, int err)
{
	static const uint8_t req[8] = { 0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30 };
	struct pgp_accept *a = sc->arg;
	double left;

	if (fd == -1) {
		char why[NS_REASON_MAX];

		if (err == ETIMEDOUT) {
			pgp_acc_no_answer(a);
			return;
		}
		snprintf(why, sizeof(why), "postmaster accepts no connection: %s", strerror(err));
		pgp_acc_done(a, false, why);
		return;
	}
	if (a->c_live)
		conn_release(&a->c, "replaced"); /* the last check's, closed, not yet reaped */
	conn_init(&a->c, a->loop, fd, &pgp_acc_conn_ops, "pg-accept", a->checks + 1, NULL);
	a->c_live = true;
	buf_init_static(&a->c.rx, a->rx_storage, sizeof(a->rx_storage));
	left = a->started + a->timeout - ev_now(a->loop);
	conn_set_deadline(&a->c, left > 0.001 ? left : 0.001, false);
	pgp_acc_set_state(a, PGP_ACC_SENT, 0);
	conn_start(&a->c, false);
	if (conn_send(&a->c, req, sizeof(req)) == -1)
		return; /* on_close told the failure */
}

/* Starts one check (WAIT -> CONNECTING), deadline first (the connector arms it). */
static void pgp_acc_begin(struct pgp_accept *a)
{
	char why[NS_REASON_MAX];

	pgp_acc_set_state(a, PGP_ACC_CONNECTING, 0);
	a->started = ev_now(a->loop);
	if (sock_connector_start(&a->connector, &a->addr, a->timeout) == 0)
		return;
	if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
		pgp_acc_done(a, false, "accept check: no socket");
		return;
	}
	/* refused, or a unix socket's backlog full (EAGAIN): nobody accepts */
	snprintf(why, sizeof(why), "postmaster accepts no connection: %s", strerror(errno));
	pgp_acc_done(a, false, why);
}

/* The next check is due. */
static void pgp_acc_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct pgp_accept *a = container_of(w, struct pgp_accept, timer);

	(void)loop;
	(void)revents;
	if (a->state == PGP_ACC_WAIT)
		pgp_acc_begin(a);
}

void pgp_acc_stop(struct pgp_accept *a)
{
	pgp_acc_set_state(a, PGP_ACC_OFF, 0);
	sock_connector_cancel(&a->connector);
	if (a->c_live)
		conn_release(&a->c, "stopped");
	a->ok = true;
	a->err[0] = '\0';
}

void pgp_acc_learn(struct pgp_accept *a, const char *addr, const char *host, const char *port,
                   double every, double timeout)
{
	long portnum = port != NULL ? strtol(port, NULL, 10) : 0;

	a->every = every;
	a->timeout = timeout;
	memset(&a->addr, 0, sizeof(a->addr));
	if (a->every <= 0 || portnum <= 0 || portnum > 65535)
		return;
	if (addr != NULL && addr[0] != '\0') {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&a->addr.ss;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->addr.ss;

		if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
			s4->sin_family = AF_INET;
			s4->sin_port = htons((uint16_t)portnum);
			a->addr.len = sizeof(*s4);
		} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons((uint16_t)portnum);
			a->addr.len = sizeof(*s6);
		}
		sock_addr_str(&a->addr.ss, a->addr.text, sizeof(a->addr.text));
	} else if (host != NULL && host[0] == '/') {
		char path[sizeof(((struct sockaddr_un *)NULL)->sun_path)];
		int n = snprintf(path, sizeof(path), "%s/.s.PGSQL.%ld", host, portnum);

		if (n <= 0 || (size_t)n >= sizeof(path) || sock_addr_unix(path, &a->addr) == -1)
			memset(&a->addr, 0, sizeof(a->addr));
	}
	if (a->addr.len == 0) {
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
	a->ok = true;
	sock_connector_init(&a->connector, loop, pgp_acc_on_connect, a);
	ev_timer_init(&a->timer, pgp_acc_timer_cb, 0, 0);
}
