/* spoe/runtime_api.c - one exchange with an HAProxy runtime API, and the `show servers state`
 * parser (spoe/runtime_api.h). */
#include "spoe/runtime_api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sock.h"

/* ---- targets ----------------------------------------------------------------------------- */

int rapi_target_parse(const char *text, struct rapi_target *out, const char **why)
{
	memset(out, 0, sizeof(*out));
	if (strlen(text) >= sizeof(out->text)) {
		*why = "too long";
		return -1;
	}
	snprintf(out->text, sizeof(out->text), "%s", text);
	if (text[0] == '/') {
		out->is_unix = true;
		snprintf(out->path, sizeof(out->path), "%s", text);
		return 0;
	}
	if (cfg_parse_addr(text, &out->addr, why) < 0)
		return -1;
	return 0;
}

/* ---- `show servers state` ---------------------------------------------------------------- */

#define RAPI_FIELDS_MIN 8 /* be_id be_name srv_id srv_name srv_addr op admin uweight */

/* Copies the field [<p>, <end>) into <out>[<outlen>]; -1 when it does not fit. */
static int rapi_copy_field(const char *p, const char *end, char *out, size_t outlen)
{
	size_t l = (size_t)(end - p);

	if (l == 0 || l >= outlen)
		return -1;
	for (size_t i = 0; i < l; i++)
		if ((unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7e)
			return -1; /* HAProxy's names are printable: a NUL or a control byte is no name */
	memcpy(out, p, l);
	out[l] = '\0';
	return 0;
}

/* A non-negative decimal below 2^31 in [<p>, <end>); -1 otherwise. */
static long rapi_field_num(const char *p, const char *end)
{
	long v = 0;

	if (p == end || end - p > 9)
		return -1;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v;
}

/* One data line [<p>, <end>) into <st>. */
static int rapi_parse_server_line(const char *p, const char *end, struct rapi_server_state *st,
                                  const char **why)
{
	const char *f[RAPI_FIELDS_MIN];
	const char *fe[RAPI_FIELDS_MIN];
	size_t nf = 0;
	long op;
	long adm;
	long w;

	while (p < end && nf < RAPI_FIELDS_MIN) {
		while (p < end && *p == ' ')
			p++;
		if (p == end)
			break;
		f[nf] = p;
		while (p < end && *p != ' ')
			p++;
		fe[nf++] = p;
	}
	if (nf < RAPI_FIELDS_MIN) {
		*why = "server line with too few fields";
		return -1;
	}
	if (rapi_copy_field(f[1], fe[1], st->backend, sizeof(st->backend)) < 0 ||
	    rapi_copy_field(f[3], fe[3], st->server, sizeof(st->server)) < 0) {
		*why = "backend or server name too long or not printable";
		return -1;
	}
	op = rapi_field_num(f[5], fe[5]);
	adm = rapi_field_num(f[6], fe[6]);
	w = rapi_field_num(f[7], fe[7]);
	if (op < 0 || op > RAPI_OP_STOPPING || adm < 0 || adm > 0xff || w < 0) {
		*why = "server line with a bad op state, admin state or weight";
		return -1;
	}
	st->op_state = (int)op;
	st->admin_state = (unsigned)adm;
	st->weight = (unsigned)w;
	return 0;
}

int rapi_parse_servers_state(const char *text, size_t len, struct rapi_server_state *out,
                             size_t max, size_t *n, const char **why)
{
	const char *p = text;
	const char *end = text + len;

	*n = 0;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol != NULL ? eol : end;

		if (le > p && le[-1] == '\r')
			le--;
		if (le == p) {
			/* blank line: each answer ends with one */
		} else if (*p == '#') {
			/* the header line names the columns */
		} else if (le - p == 1 && *p == '1') {
			/* format version 1, at the start of each backend's answer */
		} else if (*p >= '0' && *p <= '9') {
			if (*n >= max) {
				*why = "more servers than expected";
				return -1;
			}
			if (rapi_parse_server_line(p, le, &out[*n], why) < 0)
				return -1;
			(*n)++;
		} else {
			*why = "HAProxy answered an error"; /* "Can't find backend.", "Unknown command" */
			return -1;
		}
		p = eol != NULL ? eol + 1 : end;
	}
	return 0;
}

/* ---- one exchange ------------------------------------------------------------------------ */

static const char *const rapi_state_names[RAPI_ST_COUNT] = {
	[RAPI_ST_IDLE] = "IDLE",
	[RAPI_ST_CONNECTING] = "CONNECTING",
	[RAPI_ST_SENDING] = "SENDING",
	[RAPI_ST_READING] = "READING",
};

const char *rapi_state_name(enum rapi_state st)
{
	return st < RAPI_ST_COUNT ? rapi_state_names[st] : "?";
}

/* The only writer of <c->state>; re-targets the socket watcher for the new state. */
static void rapi_set_state(struct rapi_conn *c, enum rapi_state to)
{
	log_debug("runtime api: %s -> %s", rapi_state_name(c->state), rapi_state_name(to));
	c->state = to;
	ev_io_stop(c->loop, &c->io);
	switch (to) {
	case RAPI_ST_IDLE:
		ev_timer_stop(c->loop, &c->timer);
		return;
	case RAPI_ST_CONNECTING:
	case RAPI_ST_SENDING:
		ev_io_set(&c->io, c->fd, EV_WRITE);
		break;
	case RAPI_ST_READING:
		ev_io_set(&c->io, c->fd, EV_READ);
		break;
	case RAPI_ST_COUNT:
		return;
	}
	ev_io_start(c->loop, &c->io);
}

static void rapi_close_fd(struct rapi_conn *c)
{
	ev_io_stop(c->loop, &c->io);
	if (c->fd != -1) {
		close(c->fd);
		c->fd = -1;
	}
}

/* Ends the exchange: closes, goes IDLE, tells the caller (who may start the next one). */
static void rapi_finish(struct rapi_conn *c, int err)
{
	const char *answer = NULL;
	size_t len = 0;

	rapi_close_fd(c);
	rapi_set_state(c, RAPI_ST_IDLE);
	if (err == 0) {
		/* rx keeps one spare byte (see rapi_on_read) for this NUL */
		len = buf_len(&c->rx);
		buf_tail(&c->rx)[0] = '\0';
		answer = (const char *)buf_head(&c->rx);
	}
	c->cb(c, err, answer, len, c->arg);
}

static void rapi_on_write(struct rapi_conn *c)
{
	while (buf_len(&c->tx) > 0) {
		ssize_t w = buf_write_fd(&c->tx, c->fd);

		if (w < 0) {
			if (errno == EAGAIN)
				return; /* EV_WRITE stays armed */
			rapi_finish(c, errno);
			return;
		}
	}
	/* all sent: half-close so that HAProxy knows no more commands come */
	if (shutdown(c->fd, SHUT_WR) == -1) {
		rapi_finish(c, errno);
		return;
	}
	rapi_set_state(c, RAPI_ST_READING);
}

static void rapi_on_read(struct rapi_conn *c)
{
	for (;;) {
		ssize_t r;

		/* keep one byte of room for the NUL rapi_finish() adds (rx only grows: head is 0) */
		if (buf_tail_room(&c->rx) <= 1) {
			rapi_finish(c, EMSGSIZE);
			return;
		}
		r = read(c->fd, buf_tail(&c->rx), buf_tail_room(&c->rx) - 1);
		if (r > 0) {
			c->rx.tail += (size_t)r;
			continue;
		}
		if (r == 0) {
			rapi_finish(c, 0); /* HAProxy closed: the answer is complete */
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			rapi_finish(c, errno);
		return;
	}
}

static void rapi_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct rapi_conn *c = container_of(w, struct rapi_conn, io);
	int err;

	(void)loop;
	(void)revents;
	switch (c->state) {
	case RAPI_ST_CONNECTING:
		err = sock_pending_error(c->fd);
		if (err != 0) {
			rapi_finish(c, err);
			return;
		}
		rapi_set_state(c, RAPI_ST_SENDING);
		rapi_on_write(c);
		return;
	case RAPI_ST_SENDING:
		rapi_on_write(c);
		return;
	case RAPI_ST_READING:
		rapi_on_read(c);
		return;
	case RAPI_ST_IDLE:
	case RAPI_ST_COUNT:
		return;
	}
}

static void rapi_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rapi_conn *c = container_of(w, struct rapi_conn, timer);

	(void)loop;
	(void)revents;
	if (c->state != RAPI_ST_IDLE)
		rapi_finish(c, ETIMEDOUT);
}

int rapi_init(struct rapi_conn *c, struct ev_loop *loop, size_t tx_max, size_t rx_max,
              rapi_done_cb cb, void *arg)
{
	memset(c, 0, sizeof(*c));
	c->loop = loop;
	c->fd = -1;
	c->cb = cb;
	c->arg = arg;
	ev_io_init(&c->io, rapi_io_cb, -1, EV_READ);
	ev_timer_init(&c->timer, rapi_timer_cb, 0, 0);
	if (buf_init(&c->tx, tx_max) < 0)
		return -1;
	if (buf_init(&c->rx, rx_max) < 0) {
		buf_free(&c->tx);
		return -1;
	}
	return 0;
}

int rapi_exchange(struct rapi_conn *c, const struct rapi_target *t, const char *line,
                  double timeout)
{
	bool in_progress = false;

	if (c->state != RAPI_ST_IDLE) {
		errno = EBUSY;
		return -1;
	}
	buf_consume(&c->tx, buf_len(&c->tx));
	buf_consume(&c->rx, buf_len(&c->rx));
	buf_compact(&c->tx);
	buf_compact(&c->rx);
	if (buf_append(&c->tx, line, strlen(line)) < 0 || buf_append(&c->tx, "\n", 1) < 0) {
		errno = EMSGSIZE;
		return -1;
	}
	/* the deadline first: it covers the connect too */
	c->started = ev_now(c->loop);
	ev_timer_set(&c->timer, timeout, 0);
	ev_timer_start(c->loop, &c->timer);
	if (t->is_unix)
		c->fd = sock_connect_unix(t->path, true); /* a stopped HAProxy: EAGAIN */
	else
		c->fd = sock_connect_tcp(&t->addr, &in_progress);
	if (c->fd == -1) {
		int e = errno;

		ev_timer_stop(c->loop, &c->timer);
		errno = e;
		return -1;
	}
	if (in_progress) {
		rapi_set_state(c, RAPI_ST_CONNECTING);
		return 0;
	}
	rapi_set_state(c, RAPI_ST_SENDING);
	return 0;
}

void rapi_cancel(struct rapi_conn *c)
{
	if (c->loop == NULL)
		return;
	rapi_close_fd(c);
	if (c->state != RAPI_ST_IDLE)
		rapi_set_state(c, RAPI_ST_IDLE);
	ev_timer_stop(c->loop, &c->timer);
}

void rapi_free(struct rapi_conn *c)
{
	rapi_cancel(c);
	buf_free(&c->tx);
	buf_free(&c->rx);
}
