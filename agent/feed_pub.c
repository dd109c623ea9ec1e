/* agent/feed_pub.c - the feed publisher; see feed_pub.h. Subscribers are freed only from
 * feed_pub_reap(), called at the end of each of this module's callbacks and of
 * feed_pub_publish(), never in the middle of a walk over the list. */
#include "agent/feed_pub.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

static const char *const feed_pub_st_name[FEED_PUB_ST_COUNT] = {
	[FEED_PUB_ST_STREAMING] = "STREAMING",
	[FEED_PUB_ST_CLOSING] = "CLOSING",
};

static void feed_pub_reap(struct feed_pub *fp);

/* The only writer of <s->state>. */
static void feed_pub_sub_set_state(struct feed_pub_sub *s, enum feed_pub_sub_state to)
{
	log_debug("feed#%llu %s: %s -> %s", (unsigned long long)s->id, s->peer,
	          feed_pub_st_name[s->state], feed_pub_st_name[to]);
	s->state = to;
}

/* Every exit of a subscriber: stops its watchers, closes the socket, logs <why> once. The
 * memory is freed later by feed_pub_reap(). */
static void feed_pub_sub_close(struct feed_pub_sub *s, enum log_level lvl, const char *why)
{
	struct feed_pub *fp = s->pub;

	if (s->state == FEED_PUB_ST_CLOSING)
		return;
	ev_io_stop(fp->loop, &s->io);
	ev_io_stop(fp->loop, &s->wio);
	if (s->fd != -1) {
		close(s->fd);
		s->fd = -1;
	}
	if (log_enabled(lvl))
		log_msg(lvl, "feed#%llu %s: subscriber closed after %.1fs: %s",
		        (unsigned long long)s->id, s->peer, ev_now(fp->loop) - s->born, why);
	feed_pub_sub_set_state(s, FEED_PUB_ST_CLOSING);
}

/* Writes what <s->tx> holds; arms the write watcher only when bytes remain. */
static void feed_pub_sub_flush(struct feed_pub_sub *s)
{
	struct feed_pub *fp = s->pub;

	while (buf_len(&s->tx) > 0) {
		ssize_t n = buf_write_fd(&s->tx, s->fd);

		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			feed_pub_sub_close(s, LOG_LVL_DEBUG, strerror(errno));
			return;
		}
	}
	if (buf_len(&s->tx) > 0)
		ev_io_start(fp->loop, &s->wio);
	else
		ev_io_stop(fp->loop, &s->wio);
}

/* Queues the frame in <fp->frame> for <s> and writes it. A subscriber that cannot take it
 * (more than its buffer behind) is dropped: never block, never grow. */
static void feed_pub_sub_send(struct feed_pub_sub *s)
{
	struct feed_pub *fp = s->pub;

	if (s->state != FEED_PUB_ST_STREAMING)
		return;
	if (buf_append(&s->tx, buf_head(&fp->frame), buf_len(&fp->frame)) == -1) {
		fp->dropped++;
		feed_pub_sub_close(s, LOG_LVL_WARNING, "fell behind by more than its buffer");
		return;
	}
	fp->frames++;
	feed_pub_sub_flush(s);
}

static void feed_pub_on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct feed_pub_sub *s = container_of(w, struct feed_pub_sub, io);
	uint8_t junk[512];
	ssize_t n;

	(void)loop;
	(void)revents;
	/* a subscriber has nothing to say after SUBSCRIBE: read and drop, bounded per event */
	n = read(s->fd, junk, sizeof(junk));
	if (n == 0)
		feed_pub_sub_close(s, LOG_LVL_DEBUG, "closed by the subscriber");
	else if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		feed_pub_sub_close(s, LOG_LVL_DEBUG, strerror(errno));
	feed_pub_reap(s->pub);
}

static void feed_pub_on_write(struct ev_loop *loop, ev_io *w, int revents)
{
	struct feed_pub_sub *s = container_of(w, struct feed_pub_sub, wio);

	(void)loop;
	(void)revents;
	feed_pub_sub_flush(s);
	feed_pub_reap(s->pub);
}

static void feed_pub_on_heartbeat(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct feed_pub *fp = container_of(w, struct feed_pub, heartbeat);

	(void)loop;
	(void)revents;
	if (fp->n_subs > 0)
		feed_pub_publish(fp);
}

/* Frees the subscribers that reached CLOSING. */
static void feed_pub_reap(struct feed_pub *fp)
{
	struct feed_pub_sub *s = fp->subs;

	while (s != NULL) {
		struct feed_pub_sub *next = s->next;

		if (s->state == FEED_PUB_ST_CLOSING) {
			if (s->prev != NULL)
				s->prev->next = s->next;
			else
				fp->subs = s->next;
			if (s->next != NULL)
				s->next->prev = s->prev;
			fp->n_subs--;
			buf_free(&s->tx);
			free(s);
		}
		s = next;
	}
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

	if (fp->n_subs >= fp->max_subs) {
		log_warning("feed: %s refused: %zu subscribers already (max_subscribers)", peer,
		            fp->n_subs);
		close(fd);
		errno = EMFILE;
		return -1;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL || buf_init(&s->tx, fp->buffer) == -1) {
		free(s);
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	s->pub = fp;
	s->fd = fd;
	s->id = ++fp->next_id;
	s->born = ev_now(fp->loop);
	snprintf(s->peer, sizeof(s->peer), "%s", peer);
	ev_io_init(&s->io, feed_pub_on_read, fd, EV_READ);
	ev_io_init(&s->wio, feed_pub_on_write, fd, EV_WRITE);
	ev_io_start(fp->loop, &s->io);
	s->next = fp->subs;
	if (fp->subs != NULL)
		fp->subs->prev = s;
	fp->subs = s;
	fp->n_subs++;
	log_debug("feed#%llu %s: subscribed", (unsigned long long)s->id, s->peer);
	/* the full state first */
	if (feed_pub_encode(fp) == -1) {
		log_error("feed: cannot encode the node state (%s)", strerror(errno));
		feed_pub_sub_close(s, LOG_LVL_ERROR, "state does not encode");
	} else {
		feed_pub_sub_send(s);
	}
	feed_pub_reap(fp);
	return 0;
}

/* Sends the current state to every subscriber now (a change, or a heartbeat). */
void feed_pub_publish(struct feed_pub *fp)
{
	if (feed_pub_encode(fp) == -1) {
		log_error("feed: cannot encode the node state (%s)", strerror(errno));
		return;
	}
	for (struct feed_pub_sub *s = fp->subs; s != NULL; s = s->next)
		feed_pub_sub_send(s);
	feed_pub_reap(fp);
}

/* Closes every subscriber and frees what feed_pub_init() took. */
void feed_pub_free(struct feed_pub *fp)
{
	ev_timer_stop(fp->loop, &fp->heartbeat);
	for (struct feed_pub_sub *s = fp->subs; s != NULL; s = s->next)
		feed_pub_sub_close(s, LOG_LVL_DEBUG, "agent stopping");
	feed_pub_reap(fp);
	buf_free(&fp->frame);
}
