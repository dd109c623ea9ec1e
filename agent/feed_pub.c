/* agent/feed_pub.c - the feed publisher; see feed_pub.h. Subscribers are connections of
 * common/conn.c: freed at the end of their own callbacks, or by conn_list_reap() at the end of
 * feed_pub_publish(), never in the middle of a walk over the list. */
#include "agent/feed_pub.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

/* Queues the frame in <fp->frame> for <s> and writes it. A subscriber that cannot take it
 * (more than its buffer behind) is dropped: never block, never grow. */
static void feed_pub_sub_send(struct feed_pub_sub *s)
{
	struct feed_pub *fp = s->pub;

	if (conn_is_closed(&s->c))
		return;
	if (buf_append(&s->c.tx, buf_head(&fp->frame), buf_len(&fp->frame)) == -1) {
		fp->dropped++;
		log_conn(LOG_LVL_WARNING, &s->c,
		         "subscriber dropped: fell behind by more than its buffer");
		conn_close(&s->c, "fell behind");
		return;
	}
	fp->frames++;
	conn_flush(&s->c); /* a write error closes it: reaped at the end of the publish */
}

/* A subscriber has nothing to say after SUBSCRIBE: dropped (its FIN closes in common/conn.c). */
static void feed_pub_sub_on_read(struct conn *c, bool eof)
{
	(void)eof;
	buf_reset(&c->rx);
}

static void feed_pub_sub_on_free(struct conn *c)
{
	free(container_of(c, struct feed_pub_sub, c));
}

static const struct conn_ops feed_pub_sub_ops = {
	.on_read = feed_pub_sub_on_read,
	.on_free = feed_pub_sub_on_free,
};

static void feed_pub_on_heartbeat(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct feed_pub *fp = container_of(w, struct feed_pub, heartbeat);

	(void)loop;
	(void)revents;
	if (fp->subs.n > 0)
		feed_pub_publish(fp);
}

/* Prepares <fp> to publish <ns> (owned by the caller, read at each publish and heartbeat).
 * Returns 0, or -1 (ENOMEM). */
/* Encodes the state into <fp->frame>, as <fp->minimal> says. Returns 0 or -1 (errno kept). */
static int feed_pub_encode(struct feed_pub *fp)
{
	static struct node_state shown; /* the minimal copy (large for the stack; one loop) */

	buf_reset(&fp->frame);
	if (!fp->minimal)
		return ns_encode_frame(fp->ns, &fp->frame);
	ns_minimal(fp->ns, &shown);
	return ns_encode_frame(&shown, &fp->frame);
}

int feed_pub_init(struct feed_pub *fp, struct ev_loop *loop, const struct node_state *ns,
                  double heartbeat, size_t buffer, size_t max_subs)
{
	memset(fp, 0, sizeof(*fp));
	fp->loop = loop;
	fp->ns = ns;
	if (buf_init(&fp->frame, NS_FRAME_HDR + NS_FRAME_MAX) == -1)
		return -1;
	ev_timer_init(&fp->heartbeat, feed_pub_on_heartbeat, heartbeat, heartbeat);
	feed_pub_configure(fp, heartbeat, buffer, max_subs);
	return 0;
}

/* Adopts new limits (SIGHUP). Existing subscribers keep their buffer size. */
void feed_pub_configure(struct feed_pub *fp, double heartbeat, size_t buffer, size_t max_subs)
{
	fp->interval = heartbeat;
	fp->buffer = buffer;
	fp->max_subs = max_subs;
	fp->heartbeat.repeat = heartbeat;
	ev_timer_again(fp->loop, &fp->heartbeat);
}

/* Takes <fd> (a connected socket that sent SUBSCRIBE; closed here on failure) as a new
 * subscriber and sends it the full state. <peer> names it in logs. Returns 0, or -1 when the
 * subscriber limit is reached or memory is short. */
int feed_pub_add(struct feed_pub *fp, int fd, const char *peer)
{
	struct feed_pub_sub *s;

	if (fp->subs.n >= fp->max_subs) {
		log_warning("feed: %s refused: %zu subscribers already (max_subscribers)", peer,
		            fp->subs.n);
		close(fd);
		errno = EMFILE;
		return -1;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	conn_init(&s->c, fp->loop, fd, &feed_pub_sub_ops, "feed", ++fp->next_id, NULL);
	snprintf(s->c.peer, sizeof(s->c.peer), "%s", peer);
	if (buf_init(&s->c.tx, fp->buffer) == -1) {
		conn_destroy(&s->c, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	buf_init_static(&s->c.rx, s->rx_mem, sizeof(s->rx_mem));
	s->pub = fp;
	conn_list_add(&fp->subs, &s->c);
	conn_start(&s->c, false);
	log_conn(LOG_LVL_DEBUG, &s->c, "subscribed");
	/* the full state first */
	if (feed_pub_encode(fp) == -1) {
		log_error("feed: cannot encode the node state (%s)", strerror(errno));
		conn_close(&s->c, "state does not encode");
	} else {
		feed_pub_sub_send(s);
	}
	conn_list_reap(&fp->subs);
	return 0;
}

/* Sends the current state to every subscriber now (a change, or a heartbeat). */
void feed_pub_publish(struct feed_pub *fp)
{
	if (feed_pub_encode(fp) == -1) {
		log_error("feed: cannot encode the node state (%s)", strerror(errno));
		return;
	}
	for (struct conn *c = fp->subs.head; c != NULL; c = c->next)
		feed_pub_sub_send(container_of(c, struct feed_pub_sub, c));
	conn_list_reap(&fp->subs);
}

/* Closes every subscriber and frees what feed_pub_init() took. */
void feed_pub_free(struct feed_pub *fp)
{
	ev_timer_stop(fp->loop, &fp->heartbeat);
	while (fp->subs.head != NULL)
		conn_destroy(fp->subs.head, "agent stopping");
	buf_free(&fp->frame);
}
