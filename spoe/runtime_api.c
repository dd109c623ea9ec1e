/* spoe/runtime_api.c - one exchange with an HAProxy runtime API, and the `show servers state`
 * parser (spoe/runtime_api.h). */
#include "spoe/runtime_api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		if (sock_addr_unix(out->path, &out->addr) < 0) {
			*why = "too long";
			return -1;
		}
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
			*why =
			    "HAProxy answered an error"; /* "Can't find backend.", "Unknown command" */
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
	[RAPI_ST_EXCHANGING] = "EXCHANGING",
};

const char *rapi_state_name(enum rapi_state st)
{
	return st < RAPI_ST_COUNT ? rapi_state_names[st] : "?";
}

/* The only writer of <c->state>. The deadlines belong to the connector, then the connection. */
static void rapi_set_state(struct rapi_conn *c, enum rapi_state to)
{
	log_debug("runtime api: %s -> %s", rapi_state_name(c->state), rapi_state_name(to));
	c->state = to;
}

/* Ends the exchange: closes, goes IDLE, tells the caller (who may start the next one). The
 * answer stays in the closed connection's <rx> until the end of its callback. */
static void rapi_finish(struct rapi_conn *c, int err)
{
	const char *answer = NULL;
	size_t len = 0;

	sock_connector_cancel(&c->connector);
	rapi_set_state(c, RAPI_ST_IDLE); /* first: on_close then knows we closed */
	if (c->c_live && !conn_is_closed(&c->c))
		conn_close(&c->c, err == 0 ? "answer read" : "exchange failed");
	if (err == 0) {
		/* rx is one byte short of its storage (rapi_on_connect): room for this NUL */
		len = buf_len(&c->c.rx);
		buf_head(&c->c.rx)[len] = '\0';
		answer = (const char *)buf_head(&c->c.rx);
	}
	c->cb(c, err, answer, len, c->arg);
}

/* The answer so far, or its end: HAProxy closes once it has answered the whole line. */
static void rapi_on_read(struct conn *cn, bool eof)
{
	struct rapi_conn *c = container_of(cn, struct rapi_conn, c);

	if (eof)
		rapi_finish(c, cn->err);
	else if (buf_room(&cn->rx) == 0)
		rapi_finish(c, EMSGSIZE);
}

static void rapi_on_timeout(struct conn *cn)
{
	rapi_finish(container_of(cn, struct rapi_conn, c), ETIMEDOUT);
}

/* A close we did not ask for (the layer's: a failed write or shutdown) fails the exchange. */
static void rapi_on_close(struct conn *cn)
{
	struct rapi_conn *c = container_of(cn, struct rapi_conn, c);

	if (c->state != RAPI_ST_IDLE)
		rapi_finish(c, cn->err != 0 ? cn->err : EPIPE);
}

static void rapi_on_free(struct conn *cn)
{
	container_of(cn, struct rapi_conn, c)->c_live = false;
}

static const struct conn_ops rapi_conn_ops = {
	.on_read = rapi_on_read,
	.on_timeout = rapi_on_timeout,
	.on_close = rapi_on_close,
	.on_free = rapi_on_free,
};

/* Connected: the line goes out on common/conn, the write side is shut after it, the rest of
 * the exchange's deadline governs the answer. */
static void rapi_on_connect(struct sock_connector *sc, int fd, int err)
{
	struct rapi_conn *c = sc->arg;
	double left;

	if (fd == -1) {
		rapi_finish(c, err);
		return;
	}
	if (c->c_live)
		conn_release(&c->c, "replaced"); /* the last exchange's, closed, not yet reaped */
	conn_init(&c->c, c->loop, fd, &rapi_conn_ops, "rapi", ++c->exchanges, NULL);
	c->c_live = true;
	buf_init_static(&c->c.rx, c->rx_storage, c->rx_max - 1);
	buf_init_static(&c->c.tx, c->tx_storage, c->tx_max);
	buf_commit(&c->c.tx, c->tx_len);
	left = c->started + c->timeout - ev_now(c->loop);
	conn_set_deadline(&c->c, left > 0.001 ? left : 0.001, false);
	rapi_set_state(c, RAPI_ST_EXCHANGING);
	conn_start(&c->c, false);
	conn_shut_write(&c->c); /* HAProxy answers once it reads the line's end */
}

int rapi_init(struct rapi_conn *c, struct ev_loop *loop, size_t tx_max, size_t rx_max,
              rapi_done_cb cb, void *arg)
{
	memset(c, 0, sizeof(*c));
	c->loop = loop;
	c->cb = cb;
	c->arg = arg;
	sock_connector_init(&c->connector, loop, rapi_on_connect, c);
	if (rx_max < 2) {
		errno = EINVAL;
		return -1;
	}
	c->tx_storage = malloc(tx_max);
	c->rx_storage = malloc(rx_max);
	if (c->tx_storage == NULL || c->rx_storage == NULL) {
		rapi_free(c);
		errno = ENOMEM;
		return -1;
	}
	c->tx_max = tx_max;
	c->rx_max = rx_max;
	return 0;
}

int rapi_exchange(struct rapi_conn *c, const struct rapi_target *t, const char *line,
                  double timeout)
{
	size_t len = strlen(line);

	if (c->state != RAPI_ST_IDLE) {
		errno = EBUSY;
		return -1;
	}
	if (len + 1 > c->tx_max) {
		errno = EMSGSIZE;
		return -1;
	}
	memcpy(c->tx_storage, line, len);
	c->tx_storage[len] = '\n';
	c->tx_len = len + 1;
	/* the deadline first: it covers the connect too (the connector arms it before) */
	c->started = ev_now(c->loop);
	c->timeout = timeout;
	if (sock_connector_start(&c->connector, &t->addr, timeout) == -1)
		return -1; /* a unix socket refused at once, or no socket: no callback */
	rapi_set_state(c, RAPI_ST_CONNECTING);
	return 0;
}

void rapi_cancel(struct rapi_conn *c)
{
	if (c->loop == NULL)
		return;
	sock_connector_cancel(&c->connector);
	if (c->state != RAPI_ST_IDLE)
		rapi_set_state(c, RAPI_ST_IDLE);
	if (c->c_live)
		conn_release(&c->c, "cancelled");
}

void rapi_free(struct rapi_conn *c)
{
	rapi_cancel(c);
	free(c->tx_storage);
	c->tx_storage = NULL;
	free(c->rx_storage);
	c->rx_storage = NULL;
}
