/* bench/feed-fake.c - a stand-in haprole-agent feed for tests and benchmarks (not shipped).
 *
 * Listens on ADDR, answers "SUBSCRIBE\n" with the feed of docs/design.md section 4 (4-byte length +
 * msgpack node state from ns_encode_frame()), re-sends the state every heartbeat, and changes
 * it on commands read line by line from stdin or from a FIFO (-C PATH):
 *   role primary|standby|unknown   tl N   up 0|1   lag BYTES   sysid S   admin ready|drain|maint
 *   fenced 0|1   streaming 0|1   silent 0|1 (stop sending: a black-holed node)
 *   drop (close every subscriber)   quit
 * Several changes on one line ("role primary tl 3") are applied together, one frame.
 * Any other first line is answered as an agent-check of the writer check, then closed.
 * Each change bumps seq and is pushed at once. Prints "ready" on stdout once listening. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "common/buf.h"
#include "common/cfg.h"
#include "common/log.h"
#include "common/node_state.h"
#include "common/sock.h"
#include "common/units.h"

#define FF_SUBS_MAX 32 /* subscribers at once */

struct ff_sub {
	ev_io io;        /* readability (SUBSCRIBE line, then EOF) */
	int fd;          /* -1 when free */
	bool subscribed; /* SUBSCRIBE seen: frames flow */
	char line[64];   /* first line */
	size_t line_len; /* bytes in <line> */
	struct ff *ff;   /* owner */
};

struct ff {
	struct ev_loop *loop;            /* the loop */
	int lfd;                         /* listener */
	ev_io lio;                       /* listener watcher */
	ev_io cio;                       /* command input */
	int cfd;                         /* command fd */
	char cmd[256];                   /* partial command line */
	size_t cmd_len;                  /* bytes in <cmd> */
	ev_timer hb;                     /* heartbeat */
	bool silent;                     /* send nothing */
	struct node_state st;            /* what we publish */
	struct ff_sub subs[FF_SUBS_MAX]; /* subscribers */
};

static void ff_send(struct ff_sub *s)
{
	uint8_t mem[NS_FRAME_HDR + NS_FRAME_MAX];
	struct buf b;

	buf_init_static(&b, mem, sizeof(mem));
	if (ns_encode_frame(&s->ff->st, &b) < 0) {
		fprintf(stderr, "feed-fake: cannot encode the state\n");
		return;
	}
	/* small frames on an idle loopback socket: one write suffices or the subscriber is gone */
	if (write(s->fd, buf_head(&b), buf_len(&b)) != (ssize_t)buf_len(&b)) {
		ev_io_stop(s->ff->loop, &s->io);
		close(s->fd);
		s->fd = -1;
	}
}

static void ff_push(struct ff *ff)
{
	size_t i;

	if (ff->silent)
		return;
	for (i = 0; i < FF_SUBS_MAX; i++)
		if (ff->subs[i].fd != -1 && ff->subs[i].subscribed)
			ff_send(&ff->subs[i]);
}

static void ff_changed(struct ff *ff)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	ff->st.seq++;
	ff->st.ts_ms = (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
	ff_push(ff);
}

static void sub_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ff_sub *s = container_of(w, struct ff_sub, io);
	char tmp[256];
	ssize_t n;

	(void)revents;
	n = read(s->fd, tmp, sizeof(tmp));
	if (n == -1 && errno == EAGAIN)
		return;
	if (n <= 0) {
		ev_io_stop(loop, &s->io);
		close(s->fd);
		s->fd = -1;
		return;
	}
	if (s->subscribed)
		return;
	if (s->line_len + (size_t)n > sizeof(s->line) - 1)
		n = (ssize_t)(sizeof(s->line) - 1 - s->line_len);
	memcpy(s->line + s->line_len, tmp, (size_t)n);
	s->line_len += (size_t)n;
	s->line[s->line_len] = '\0';
	if (strchr(s->line, '\n') == NULL)
		return;
	if (strncmp(s->line, "SUBSCRIBE", 9) == 0) {
		s->subscribed = true;
		if (!s->ff->silent)
			ff_send(s);
	} else {
		/* an agent-check (HAProxy with agent-send "writer\n"): the writer verdict */
		const struct node_state *st = &s->ff->st;
		const char *line = st->pg.up && st->pg.role == NS_ROLE_PRIMARY && !st->fenced
		                       ? "up ready 100%\n"
		                       : "down #feed-fake: not the writer\n";

		(void)!write(s->fd, line, strlen(line));
		ev_io_stop(loop, &s->io);
		close(s->fd);
		s->fd = -1;
	}
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ff *ff = container_of(w, struct ff, lio);
	struct sockaddr_storage peer;
	socklen_t pl = sizeof(peer);
	size_t i;
	int fd;

	(void)revents;
	fd = sock_accept(ff->lfd, &peer, &pl);
	if (fd == -1)
		return;
	for (i = 0; i < FF_SUBS_MAX; i++)
		if (ff->subs[i].fd == -1)
			break;
	if (i == FF_SUBS_MAX) {
		close(fd);
		return;
	}
	memset(&ff->subs[i], 0, sizeof(ff->subs[i]));
	ff->subs[i].fd = fd;
	ff->subs[i].ff = ff;
	ev_io_init(&ff->subs[i].io, sub_cb, fd, EV_READ);
	ev_io_start(loop, &ff->subs[i].io);
}

static void hb_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	ff_push(container_of(w, struct ff, hb));
}

static bool parse_bool(const char *v)
{
	return strcmp(v, "1") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "true") == 0;
}

/* Applies one "key value" change to the state; false for an unknown key or a bad value. */
static bool ff_set(struct ff *ff, const char *k, const char *v)
{
	if (strcmp(k, "role") == 0)
		return ns_role_parse(v, strlen(v), &ff->st.pg.role);
	if (strcmp(k, "tl") == 0)
		ff->st.pg.tl = (uint32_t)strtoul(v, NULL, 10);
	else if (strcmp(k, "up") == 0)
		ff->st.pg.up = parse_bool(v);
	else if (strcmp(k, "lag") == 0)
		ff->st.pg.lag_bytes = strtoull(v, NULL, 10);
	else if (strcmp(k, "sysid") == 0)
		snprintf(ff->st.pg.sysid, sizeof(ff->st.pg.sysid), "%s", v);
	else if (strcmp(k, "admin") == 0)
		return ns_admin_parse(v, strlen(v), &ff->st.admin);
	else if (strcmp(k, "fenced") == 0)
		ff->st.fenced = parse_bool(v);
	else if (strcmp(k, "streaming") == 0)
		ff->st.pg.streaming = parse_bool(v);
	else
		return false;
	return true;
}

/* One command line; returns false on "quit". A line may hold several changes ("role primary
 * tl 3"): they are applied together and pushed as one frame, as an agent reports a promotion
 * (new role and new timeline in one probe result). */
static bool ff_command(struct ff *ff, char *line)
{
	char *k = strtok(line, " \t\r\n"), *v;
	bool changed = false;
	size_t i;

	if (k == NULL)
		return true;
	if (strcmp(k, "quit") == 0)
		return false;
	if (strcmp(k, "drop") == 0) {
		for (i = 0; i < FF_SUBS_MAX; i++)
			if (ff->subs[i].fd != -1) {
				ev_io_stop(ff->loop, &ff->subs[i].io);
				close(ff->subs[i].fd);
				ff->subs[i].fd = -1;
			}
		return true;
	}
	for (; k != NULL; k = strtok(NULL, " \t\r\n")) {
		v = strtok(NULL, " \t\r\n");
		if (v == NULL) {
			fprintf(stderr, "feed-fake: '%s' needs a value\n", k);
			break;
		}
		if (strcmp(k, "silent") == 0) {
			ff->silent = parse_bool(v);
			continue;
		}
		if (ff_set(ff, k, v))
			changed = true;
		else
			fprintf(stderr, "feed-fake: bad command or value '%s %s'\n", k, v);
	}
	if (changed)
		ff_changed(ff);
	return true;
}

static void cmd_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ff *ff = container_of(w, struct ff, cio);
	ssize_t n;
	char *nl;

	(void)revents;
	n = read(ff->cfd, ff->cmd + ff->cmd_len, sizeof(ff->cmd) - 1 - ff->cmd_len);
	if (n == -1 && errno == EAGAIN)
		return;
	if (n <= 0) {
		ev_io_stop(loop, w); /* stdin closed: keep serving until killed */
		return;
	}
	ff->cmd_len += (size_t)n;
	ff->cmd[ff->cmd_len] = '\0';
	while ((nl = strchr(ff->cmd, '\n')) != NULL) {
		size_t used = (size_t)(nl - ff->cmd) + 1;

		*nl = '\0';
		if (!ff_command(ff, ff->cmd)) {
			ev_break(loop, EVBREAK_ALL);
			return;
		}
		memmove(ff->cmd, ff->cmd + used, ff->cmd_len - used + 1);
		ff->cmd_len -= used;
	}
	if (ff->cmd_len == sizeof(ff->cmd) - 1)
		ff->cmd_len = 0; /* an over-long line: dropped */
}

static void usage(void)
{
	fprintf(stderr, "usage: feed-fake -l IP:PORT [-c CLUSTER] [-n NODE] [-r primary|standby|"
	                "unknown] [-t TL] [-s SYSID] [-H HEARTBEAT] [-C FIFO]\n"
	                "commands on stdin (or FIFO): role R, tl N, up 0|1, lag B, sysid S, "
	                "admin A, fenced 0|1, streaming 0|1, silent 0|1, drop, quit\n");
}

int main(int argc, char **argv)
{
	static struct ff ff;
	struct cfg_addr addr;
	const char *why = NULL, *fifo = NULL, *listen_at = NULL;
	double hb = 0.5;
	char err[HR_ERR_LEN];
	size_t i;
	int opt;

	log_init("feed-fake", LOG_TO_STDERR, LOG_LVL_WARNING);
	ns_init(&ff.st);
	snprintf(ff.st.cluster, sizeof(ff.st.cluster), "main");
	snprintf(ff.st.node, sizeof(ff.st.node), "node");
	ff.st.boot = (uint64_t)getpid() << 20 ^ (uint64_t)time(NULL);
	ff.st.seq = 1;
	ff.st.pg.present = true;
	ff.st.pg.up = true;
	ff.st.pg.role = NS_ROLE_STANDBY;
	ff.st.pg.tl = 1;
	ff.st.pg.streaming = true;
	snprintf(ff.st.pg.sysid, sizeof(ff.st.pg.sysid), "7000000000000000001");
	while ((opt = getopt(argc, argv, "l:c:n:r:t:s:H:C:h")) != -1) {
		switch (opt) {
		case 'l':
			listen_at = optarg;
			break;
		case 'c':
			snprintf(ff.st.cluster, sizeof(ff.st.cluster), "%s", optarg);
			break;
		case 'n':
			snprintf(ff.st.node, sizeof(ff.st.node), "%s", optarg);
			break;
		case 'r':
			if (!ns_role_parse(optarg, strlen(optarg), &ff.st.pg.role)) {
				usage();
				return 2;
			}
			break;
		case 't':
			ff.st.pg.tl = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 's':
			snprintf(ff.st.pg.sysid, sizeof(ff.st.pg.sysid), "%s", optarg);
			break;
		case 'H':
			if (units_parse_duration(optarg, &hb) < 0) {
				usage();
				return 2;
			}
			break;
		case 'C':
			fifo = optarg;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (listen_at == NULL || cfg_parse_addr(listen_at, &addr, &why) < 0) {
		usage();
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	ff.loop = ev_default_loop(0);
	for (i = 0; i < FF_SUBS_MAX; i++)
		ff.subs[i].fd = -1;
	ff.lfd = sock_listen_tcp(&addr, 64, err, sizeof(err));
	if (ff.lfd == -1) {
		fprintf(stderr, "feed-fake: %s\n", err);
		return 1;
	}
	if (fifo != NULL) {
		if (mkfifo(fifo, 0600) == -1 && errno != EEXIST) {
			perror("mkfifo");
			return 1;
		}
		ff.cfd = open(fifo, O_RDWR | O_NONBLOCK); /* RDWR: EOF never comes */
		if (ff.cfd == -1) {
			perror(fifo);
			return 1;
		}
	} else {
		ff.cfd = 0;
		fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	}
	ev_io_init(&ff.lio, accept_cb, ff.lfd, EV_READ);
	ev_io_start(ff.loop, &ff.lio);
	ev_io_init(&ff.cio, cmd_cb, ff.cfd, EV_READ);
	ev_io_start(ff.loop, &ff.cio);
	ev_timer_init(&ff.hb, hb_cb, hb, hb);
	ev_timer_start(ff.loop, &ff.hb);
	printf("ready\n");
	fflush(stdout);
	ev_run(ff.loop, 0);
	return 0;
}
