/* agent/admin.c - the admin unix socket; see admin.h for the protocol and its limits.
 * admin_parse() is pure (fuzzed by tests/fuzz/fuzz_admin_cmd.c); admin_execute() persists, then
 * applies; the rest moves bytes on libev. */
#include "agent/admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sock.h"

/* clang-format off */
static const char *const admin_verb_names[ADMIN_VERB_COUNT] = {
	[ADMIN_VERB_DRAIN] = "drain",
	[ADMIN_VERB_MAINT] = "maint",
	[ADMIN_VERB_READY] = "ready",
	[ADMIN_VERB_STATUS] = "status",
	[ADMIN_VERB_STATE] = "state",
};
/* clang-format on */

const char *admin_verb_name(enum admin_verb v)
{
	return (unsigned)v < ADMIN_VERB_COUNT ? admin_verb_names[v] : "?";
}

void admin_conf_defaults(struct admin_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->idle_timeout = ADMIN_DEF_IDLE;
	c->max_clients = ADMIN_DEF_CLIENTS;
}

static bool admin_is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Parses one command line of <len> bytes at <line>, without its '\n' (a trailing '\r' is
 * allowed). Verbs are lower case and matched whole. Returns 0 with <out> filled, or -1 with
 * <why> a static text: empty line, unknown verb, argument to ready/status, reason too long, or a
 * control / non-ASCII byte anywhere (a NUL included). */
int admin_parse(const char *line, size_t len, struct admin_cmd *out, const char **why)
{
	const char *p = line;
	const char *end = line + len;
	const char *verb;
	size_t vlen;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (len > 0 && end[-1] == '\r')
		end--;
	for (const char *q = p; q < end; q++) {
		if ((*q < 0x20 && *q != '\t') || (unsigned char)*q > 0x7e) {
			*why = "control or non-ASCII byte in command";
			return -1;
		}
	}
	while (p < end && admin_is_space(*p))
		p++;
	while (end > p && admin_is_space(end[-1]))
		end--;
	if (p == end) {
		*why = "empty command";
		return -1;
	}
	verb = p;
	while (p < end && !admin_is_space(*p))
		p++;
	vlen = (size_t)(p - verb);
	while (p < end && admin_is_space(*p))
		p++;
	for (i = 0; i < ADMIN_VERB_COUNT; i++) {
		if (strlen(admin_verb_names[i]) == vlen &&
		    memcmp(admin_verb_names[i], verb, vlen) == 0)
			break;
	}
	if (i == ADMIN_VERB_COUNT) {
		*why = "unknown command (expected: drain [reason], maint [reason], ready, status, "
		       "state)";
		return -1;
	}
	out->verb = (enum admin_verb)i;
	if (p == end)
		return 0;
	if (out->verb == ADMIN_VERB_READY || out->verb == ADMIN_VERB_STATUS ||
	    out->verb == ADMIN_VERB_STATE) {
		*why = "this command takes no argument";
		return -1;
	}
	if ((size_t)(end - p) >= sizeof(out->reason)) {
		*why = "reason too long";
		return -1;
	}
	memcpy(out->reason, p, (size_t)(end - p));
	out->reason[end - p] = '\0';
	for (char *r = out->reason; *r != '\0'; r++) {
		if (*r == '\t')
			*r = ' ';
	}
	return 0;
}

/* Appends "state HEX\n": the node state as one feed frame, in hex. Returns 0 or -1. */
static int admin_state_reply(struct admin_server *s, struct buf *reply)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t mem[NS_FRAME_HDR + NS_FRAME_MAX];
	const struct node_state *st;
	struct buf frame;

	st = s->ops.state != NULL ? s->ops.state(s->ops.arg) : NULL;
	buf_init_static(&frame, mem, sizeof(mem));
	if (st == NULL || ns_encode_frame(st, &frame) == -1 ||
	    buf_room(reply) < 2 * buf_len(&frame) + sizeof("state \n"))
		return -1;
	if (buf_append(reply, "state ", 6) == -1)
		return -1;
	for (size_t i = 0; i < buf_len(&frame); i++) {
		char two[2] = { hex[buf_head(&frame)[i] >> 4], hex[buf_head(&frame)[i] & 15] };

		if (buf_append(reply, two, 2) == -1)
			return -1;
	}
	return buf_append(reply, "\n", 1);
}

/* Runs <cmd>: drain/maint/ready are persisted, then applied; status asks the agent. Appends one
 * reply line ending in '\n' to <reply>. Returns 0, or -1 when <reply> has no room (nothing
 * appended then). The caller checked that <reply> has ADMIN_REPLY_MAX room. */
int admin_execute(struct admin_server *s, const struct admin_cmd *cmd, struct buf *reply)
{
	struct statefile_data next = { 0 };
	char err[HR_ERR_LEN];
	size_t mark = reply->tail;

	s->commands++;
	switch (cmd->verb) {
	case ADMIN_VERB_STATUS:
		if (s->ops.status == NULL || s->ops.status(s->ops.arg, reply) == -1 ||
		    buf_append(reply, "\n", 1) == -1) {
			reply->tail = mark;
			return buf_printf(reply, "error: status unavailable\n");
		}
		return 0;
	case ADMIN_VERB_STATE:
		if (admin_state_reply(s, reply) == -1) {
			reply->tail = mark;
			return buf_printf(reply, "error: state unavailable\n");
		}
		return 0;
	case ADMIN_VERB_DRAIN:
		next.admin = NS_ADMIN_DRAIN;
		break;
	case ADMIN_VERB_MAINT:
		next.admin = NS_ADMIN_MAINT;
		break;
	case ADMIN_VERB_READY:
		next.admin = NS_ADMIN_READY;
		break;
	case ADMIN_VERB_COUNT:
		return buf_printf(reply, "error: unknown command\n");
	}
	snprintf(next.reason, sizeof(next.reason), "%s", cmd->reason);
	if (s->conf.state_file[0] != '\0' &&
	    statefile_save(s->conf.state_file, &next, err, sizeof(err)) == -1) {
		log_error("admin: %s refused, the state could not be persisted: %s",
		          admin_verb_name(cmd->verb), err);
		return buf_printf(reply, "error: cannot persist admin state: %s\n", err);
	}
	if (s->ops.set_admin != NULL &&
	    s->ops.set_admin(s->ops.arg, next.admin, next.reason) == -1) {
		log_error("admin: the agent refused %s", admin_verb_name(cmd->verb));
		return buf_printf(reply, "error: the agent refused %s\n",
		                  admin_verb_name(cmd->verb));
	}
	s->current = next;
	return buf_printf(reply, "ok %s\n", admin_verb_name(cmd->verb));
}

/* Reads the state file and applies it: a node drained before a restart is drained again before
 * the agent answers its first check. A damaged file means MAINT (statefile.h). */
static void admin_restore(struct admin_server *s)
{
	char err[HR_ERR_LEN] = "";
	enum statefile_result r = STATEFILE_ABSENT;

	memset(&s->current, 0, sizeof(s->current));
	s->current.admin = NS_ADMIN_READY;
	if (s->conf.state_file[0] == '\0') {
		log_warning("admin: no state_file configured: a drain will not survive a restart");
	} else {
		r = statefile_load(s->conf.state_file, &s->current, err, sizeof(err));
	}
	switch (r) {
	case STATEFILE_OK:
		log_info("admin: restored admin state %s%s%s from %s",
		         ns_admin_name(s->current.admin), s->current.reason[0] != '\0' ? ": " : "",
		         s->current.reason, s->conf.state_file);
		break;
	case STATEFILE_ABSENT:
		break;
	case STATEFILE_CORRUPT:
		log_error(
		    "admin: state file unusable, node kept in MAINT until `haprolectl ready`: %s",
		    err);
		break;
	}
	if (s->ops.set_admin != NULL &&
	    s->ops.set_admin(s->ops.arg, s->current.admin, s->current.reason) == -1)
		log_error("admin: the agent refused the restored admin state");
}

/* ---- connections ----------------------------------------------------------------------- */

/* Answers every complete line in <rx> while <tx> has room for the largest reply. The layer
 * sends <tx> when the callback returns and reads no more until it is sent (tx_high 1); the
 * lines left in <rx> are answered then (on_drain). */
static void admin_conn_process(struct admin_conn *ac)
{
	struct conn *c = &ac->c;
	struct admin_cmd cmd;
	const char *why;
	uint8_t *nl;
	size_t len;

	while (!conn_is_closed(c) && buf_room(&c->tx) >= ADMIN_REPLY_MAX / 2) {
		nl = memchr(buf_head(&c->rx), '\n', buf_len(&c->rx));
		if (nl == NULL) {
			if (buf_room(&c->rx) == 0) {
				/* A full buffer without '\n': the limit protects our memory. */
				if (buf_printf(&c->tx, "error: line too long (max %d bytes)\n",
				               ADMIN_LINE_MAX - 1) == -1)
					buf_reset(&c->tx);
				buf_reset(&c->rx);
				conn_close_after_flush(c, "line too long");
			}
			break;
		}
		len = (size_t)(nl - buf_head(&c->rx));
		if (admin_parse((const char *)buf_head(&c->rx), len, &cmd, &why) == -1) {
			if (buf_printf(&c->tx, "error: %s\n", why) == -1)
				break;
		} else {
			if (cmd.verb != ADMIN_VERB_STATUS)
				log_info("admin socket: %s%s%s requested by uid %ld pid %ld",
				         admin_verb_name(cmd.verb),
				         cmd.reason[0] != '\0' ? ": " : "", cmd.reason,
				         ac->peer_uid, ac->peer_pid);
			if (admin_execute(ac->srv, &cmd, &c->tx) == -1)
				break;
		}
		buf_consume(&c->rx, len + 1);
	}
}

/* New bytes, or the client's FIN: the complete lines are answered either way (common/conn.c
 * closes after the last reply on FIN). */
static void admin_conn_on_read(struct conn *c, bool eof)
{
	(void)eof;
	admin_conn_process(container_of(c, struct admin_conn, c));
}

static void admin_conn_on_drain(struct conn *c)
{
	admin_conn_process(container_of(c, struct admin_conn, c));
}

static void admin_conn_on_free(struct conn *c)
{
	free(container_of(c, struct admin_conn, c));
}

/* No on_timeout: the idle deadline closes as "timeout". */
static const struct conn_ops admin_conn_ops = {
	.on_read = admin_conn_on_read,
	.on_drain = admin_conn_on_drain,
	.on_free = admin_conn_on_free,
};

/* Full: closes the oldest client waiting for a line (newest first in the list: the last such),
 * so that clients left open or trickling bytes never lock haprolectl out. Returns false when
 * every client is being answered. */
static bool admin_evict_oldest_reading(struct admin_server *s)
{
	struct conn *old = NULL;

	for (struct conn *c = s->conns.head; c != NULL; c = c->next)
		if (conn_is_closed(c) ||
		    (c->state == CONN_ST_OPEN && buf_len(&c->tx) == 0 && !sock_has_input(c->fd)))
			old = c;
	if (old == NULL)
		return false;
	log_debug("admin: %zu clients already: closing the oldest waiting one", s->conns.n);
	conn_destroy(old, "evicted: a newer client needed the slot");
	return true;
}

static void admin_accept_one(struct admin_server *s, int fd, const struct sockaddr_storage *peer);

static void admin_on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct admin_server *s = container_of(w, struct admin_server, io);

	(void)loop;
	(void)revents;
	/* several per event: a unix socket refuses connects (EAGAIN) once its backlog is full */
	for (int i = 0; i < ADMIN_ACCEPTS_PER_EVENT; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int fd = sock_accept(s->fd, &peer, &plen);

		if (fd == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED)
				log_warning("admin: accept: %s", strerror(errno));
			return;
		}
		admin_accept_one(s, fd, &peer);
	}
}

static void admin_accept_one(struct admin_server *s, int fd, const struct sockaddr_storage *peer)
{
	static const char busy[] = "error: too many clients\n";
	struct admin_conn *ac;
	struct ucred cred;
	socklen_t clen = sizeof(cred);

	if (s->conns.n >= s->conf.max_clients && admin_evict_oldest_reading(s)) {
		/* made room */
	} else if (s->conns.n >= s->conf.max_clients) {
		log_warning("admin: refusing a client: %zu clients already", s->conns.n);
		if (write(fd, busy, sizeof(busy) - 1) == -1)
			log_debug("admin: write to refused client: %s", strerror(errno));
		close(fd);
		return;
	}
	ac = calloc(1, sizeof(*ac));
	if (ac == NULL) {
		log_error("admin: out of memory for a client");
		close(fd);
		return;
	}
	conn_init(&ac->c, s->loop, fd, &admin_conn_ops, "admin", ++s->next_id, peer);
	if (buf_init(&ac->c.rx, ADMIN_LINE_MAX) == -1 ||
	    buf_init(&ac->c.tx, ADMIN_REPLY_MAX) == -1) {
		log_error("admin: out of memory for a client");
		conn_destroy(&ac->c, "out of memory");
		return;
	}
	ac->srv = s;
	ac->peer_uid = -1;
	ac->peer_pid = -1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0) {
		ac->peer_uid = (long)cred.uid;
		ac->peer_pid = (long)cred.pid;
	}
	ac->c.tx_high = 1; /* one reply at a time: read the next lines once it is sent */
	conn_list_add(&s->conns, &ac->c);
	conn_set_deadline(&ac->c, s->conf.idle_timeout, true);
	/* a command already in the socket is read now, before a later accept could evict it */
	conn_start(&ac->c, true);
}

/* ---- server ------------------------------------------------------------------------------ */

/* Restores the persisted admin state (applying it through <ops>), then listens on
 * <conf->socket_path> with mode 0660. Returns 0, or -1 with <err> filled (nothing running). */
int admin_start(struct admin_server *s, struct ev_loop *loop, const struct admin_conf *conf,
                const struct admin_ops *ops, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->conf = *conf;
	s->ops = *ops;
	s->fd = -1;
	if (s->conf.max_clients == 0)
		s->conf.max_clients = ADMIN_DEF_CLIENTS;
	if (s->conf.idle_timeout <= 0)
		s->conf.idle_timeout = ADMIN_DEF_IDLE;
	admin_restore(s);
	if (s->conf.socket_path[0] == '\0') {
		snprintf(err, errlen, "admin: no admin_socket configured");
		return -1;
	}
	s->fd =
	    sock_listen_unix(s->conf.socket_path, ADMIN_SOCKET_MODE, ADMIN_BACKLOG, err, errlen);
	if (s->fd == -1)
		return -1;
	ev_io_init(&s->io, admin_on_accept, s->fd, EV_READ);
	ev_io_start(loop, &s->io);
	return 0;
}

/* Closes every client and the listening socket, removes the socket file. Safe to call twice. */
void admin_stop(struct admin_server *s)
{
	while (s->conns.head != NULL)
		conn_destroy(s->conns.head, "admin socket stopping");
	if (s->fd != -1) {
		ev_io_stop(s->loop, &s->io);
		close(s->fd);
		s->fd = -1;
		unlink(s->conf.socket_path);
	}
}
