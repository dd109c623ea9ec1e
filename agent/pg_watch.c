/* agent/pg_watch.c - inotify on the PostgreSQL data directory (agent/pg_watch.h). */
#include "agent/pg_watch.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "common/compiler.h"
#include "common/log.h"

/* Room for several events per read; the kernel never splits one event across reads and
 * refuses (EINVAL) a buffer smaller than the next event, which NAME_MAX + 1 rules out. */
#define PGW_BUF (16 * (sizeof(struct inotify_event) + NAME_MAX + 1))
/* Events per read callback at most, so a storm of file changes cannot hold the loop. */
#define PGW_READS_PER_EVENT 4

#define PGW_MASK (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)

bool pgw_is_relevant(const char *name)
{
	static const char *const names[] = { "promote", "standby.signal", "recovery.signal",
		                             "postmaster.pid", NULL };

	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

static void pgw_io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct pg_watch *w = container_of(io, struct pg_watch, io);
	char buf[PGW_BUF] __attribute__((aligned(__alignof__(struct inotify_event))));
	const char *told = NULL;

	(void)loop;
	(void)revents;
	for (int r = 0; r < PGW_READS_PER_EVENT; r++) {
		ssize_t n = read(w->fd, buf, sizeof(buf));
		size_t off = 0;

		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				log_warning("pg watch: read: %s", strerror(errno));
			break;
		}
		while ((size_t)n - off >= sizeof(struct inotify_event)) {
			const struct inotify_event *ev = (const void *)(buf + off);
			size_t len = sizeof(*ev) + ev->len;

			if (len > (size_t)n - off)
				break; /* cannot happen: the kernel writes whole events */
			off += len;
			if (ev->mask & IN_Q_OVERFLOW) {
				told = "(queue overflow)"; /* something changed: probe anyway */
				continue;
			}
			if (ev->len == 0 || !pgw_is_relevant(ev->name))
				continue;
			w->events++;
			log_debug("pg watch: %s %s", ev->name,
			          (ev->mask & (IN_DELETE | IN_MOVED_FROM)) ? "removed" : "written");
			told = ev->name;
		}
	}
	/* one call per read event: the probe's burst covers every event of this batch */
	if (told != NULL)
		w->cb(w, told, w->arg);
}

void pgw_init(struct pg_watch *w, struct ev_loop *loop, pgw_event_cb cb, void *arg)
{
	memset(w, 0, sizeof(*w));
	w->loop = loop;
	w->fd = -1;
	w->wd = -1;
	w->cb = cb;
	w->arg = arg;
	ev_io_init(&w->io, pgw_io_cb, -1, EV_READ);
}

int pgw_start(struct pg_watch *w, const char *dir, char *err, size_t errlen)
{
	pgw_stop(w);
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd == -1) {
		snprintf(err, errlen, "inotify_init1: %s", strerror(errno));
		return -1;
	}
	w->wd = inotify_add_watch(w->fd, dir, PGW_MASK | IN_ONLYDIR);
	if (w->wd == -1) {
		snprintf(err, errlen, "inotify_add_watch %s: %s", dir, strerror(errno));
		close(w->fd);
		w->fd = -1;
		return -1;
	}
	ev_io_set(&w->io, w->fd, EV_READ);
	ev_io_start(w->loop, &w->io);
	return 0;
}

void pgw_stop(struct pg_watch *w)
{
	if (w->loop == NULL)
		return;
	ev_io_stop(w->loop, &w->io);
	if (w->fd != -1) {
		close(w->fd); /* drops the watch with it */
		w->fd = -1;
	}
	w->wd = -1;
}
