/* bench/agent-replies.c - agent-check replies per second and latency, with many short
 * connections as HAProxy's probes make them: connect, send the agent-send line, read the
 * reply until the agent closes, close. Not shipped; run by bench/agent-replies.sh.
 *
 *   agent-replies -a IP -p PORT [-c CONNS] [-d SECONDS] [-l LINE] [-s SRC_BASE] [-P PID]
 *
 * -c connections in flight, driven by one epoll thread (default 8); -l the line sent
 * (default "writer", "" sends nothing: the agent answers the default check after its
 * first_line_wait); -s spreads source addresses over 127.0.11.SRC_BASE..+15 so that no
 * four-tuple waits in TIME_WAIT; -P the agent's pid, whose CPU time (utime+stime from
 * /proc/PID/stat) over the run and RSS (VmRSS) are printed too.
 * Prints one line per figure: replies/s, p50/p90/p99/max latency (connect to EOF) in us,
 * errors (a connect or read that failed, or a reply without a state word). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BENCH_HIST_US 100000 /* latency buckets of 1 us up to 100 ms; above goes to overflow */

struct bench_opts {
	struct sockaddr_in dst; /* the agent port */
	int conns;              /* client threads */
	double seconds;         /* run time */
	char line[128];         /* what to send, with '\n' (empty: nothing) */
	int src_base;           /* last octet of the first source address, 0: any */
	long pid;               /* agent pid, 0: none */
};

struct bench_thread {
	pthread_t th;               /* the thread */
	const struct bench_opts *o; /* options */
	int idx;                    /* thread number */
	uint64_t ok;                /* replies read */
	uint64_t errors;            /* failed connections or bad replies */
	uint64_t over;              /* replies slower than the histogram */
	uint64_t max_us;            /* slowest reply */
	uint32_t *hist;             /* BENCH_HIST_US counters */
	volatile const bool *stop;  /* set by main when time is up */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One connection slot of a thread: connect, write the line, read to EOF, again. */
struct bench_slot {
	int fd;        /* socket, -1 between probes */
	double t0;     /* when the probe began */
	size_t got;    /* reply bytes read */
	char buf[128]; /* reply */
};

static int bench_slot_start(struct bench_thread *t, struct bench_slot *s, int ep, unsigned *rr)
{
	const struct bench_opts *o = t->o;
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = s };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	s->fd = -1;
	s->got = 0;
	s->t0 = now_s();
	if (fd == -1)
		return -1;
	if (o->src_base > 0) {
		struct sockaddr_in src = { .sin_family = AF_INET };
		char ip[32];

		snprintf(ip, sizeof(ip), "127.0.11.%d", o->src_base + (int)(*rr % 16));
		(*rr)++;
		inet_pton(AF_INET, ip, &src.sin_addr);
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) == -1)
			goto out_close;
	}
	if (connect(fd, (const struct sockaddr *)&o->dst, sizeof(o->dst)) == -1 &&
	    errno != EINPROGRESS)
		goto out_close;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
		goto out_close;
	s->fd = fd;
	return 0;

out_close:
	close(fd);
	return -1;
}

static void bench_slot_end(struct bench_thread *t, struct bench_slot *s, bool ok)
{
	uint64_t us = (uint64_t)((now_s() - s->t0) * 1e6);

	close(s->fd);
	s->fd = -1;
	s->buf[s->got] = '\0';
	if (ok && strncmp(s->buf, "up ", 3) != 0 && strncmp(s->buf, "down ", 5) != 0 &&
	    strncmp(s->buf, "fail ", 5) != 0 && strncmp(s->buf, "stopped ", 8) != 0)
		ok = false;
	if (!ok) {
		t->errors++;
		return;
	}
	t->ok++;
	if (us > t->max_us)
		t->max_us = us;
	if (us < BENCH_HIST_US)
		t->hist[us]++;
	else
		t->over++;
}

/* One event on slot <s>: writable after connect -> send the line; readable -> read. */
static void bench_slot_event(struct bench_thread *t, struct bench_slot *s, int ep, uint32_t events)
{
	const struct bench_opts *o = t->o;
	size_t len = strlen(o->line);

	if (events & EPOLLOUT) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };

		if ((events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN)) {
			bench_slot_end(t, s, false);
			return;
		}
		if (len > 0 && write(s->fd, o->line, len) != (ssize_t)len) {
			bench_slot_end(t, s, false);
			return;
		}
		if (epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev) == -1) {
			bench_slot_end(t, s, false);
			return;
		}
		return;
	}
	for (;;) {
		ssize_t n = read(s->fd, s->buf + s->got, sizeof(s->buf) - 1 - s->got);

		if (n == 0) {
			bench_slot_end(t, s, true);
			return;
		}
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR)
				continue;
			bench_slot_end(t, s, s->got > 0);
			return;
		}
		s->got += (size_t)n;
		if (s->got == sizeof(s->buf) - 1) {
			bench_slot_end(t, s, true);
			return;
		}
	}
}

static void *bench_run(void *arg)
{
	struct bench_thread *t = arg;
	int n = t->o->conns;
	struct bench_slot *slots = calloc((size_t)n, sizeof(*slots));
	struct epoll_event evs[256];
	unsigned rr = (unsigned)t->idx * 7u;
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (slots == NULL || ep == -1)
		return NULL;
	for (int i = 0; i < n; i++) {
		if (bench_slot_start(t, &slots[i], ep, &rr) == -1)
			t->errors++;
	}
	while (!*t->stop) {
		int k = epoll_wait(ep, evs, 256, 100);

		for (int i = 0; i < k; i++) {
			struct bench_slot *s = evs[i].data.ptr;

			bench_slot_event(t, s, ep, evs[i].events);
			if (s->fd == -1 && !*t->stop && bench_slot_start(t, s, ep, &rr) == -1)
				t->errors++;
		}
		for (int i = 0; i < n; i++) {
			if (slots[i].fd == -1 && !*t->stop &&
			    bench_slot_start(t, &slots[i], ep, &rr) == -1)
				t->errors++;
		}
	}
	for (int i = 0; i < n; i++) {
		if (slots[i].fd != -1)
			close(slots[i].fd);
	}
	close(ep);
	free(slots);
	return NULL;
}

/* utime + stime of <pid> in clock ticks, or -1. */
static long long proc_cpu_ticks(long pid)
{
	char path[64];
	char buf[1024];
	unsigned long long ut = 0;
	unsigned long long st = 0;
	FILE *f;
	char *p;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	if (fgets(buf, sizeof(buf), f) == NULL) {
		fclose(f);
		return -1;
	}
	fclose(f);
	p = strrchr(buf, ')');
	if (p == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

static long proc_rss_kb(long pid)
{
	char path[64];
	char line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

static uint64_t percentile(const uint64_t *hist, uint64_t total, uint64_t over, double q)
{
	uint64_t want = (uint64_t)((double)total * q);
	uint64_t seen = 0;

	for (uint64_t us = 0; us < BENCH_HIST_US; us++) {
		seen += hist[us];
		if (seen > want)
			return us;
	}
	(void)over;
	return BENCH_HIST_US;
}

static void usage(void)
{
	fprintf(stderr, "usage: agent-replies -a IP -p PORT [-c CONNS] [-d SECONDS] [-l LINE] "
	                "[-s SRC_BASE] [-P PID]\n");
}

int main(int argc, char **argv)
{
	struct bench_opts o = { .conns = 8, .seconds = 5 };
	struct bench_thread *th;
	uint64_t *hist;
	uint64_t ok = 0;
	uint64_t errors = 0;
	uint64_t over = 0;
	uint64_t max_us = 0;
	volatile bool stop = false;
	const char *addr = NULL;
	int port = 0;
	long long cpu0 = -1;
	long long cpu1 = -1;
	double t0;
	double dt;
	int opt;

	snprintf(o.line, sizeof(o.line), "writer\n");
	while ((opt = getopt(argc, argv, "a:p:c:d:l:s:P:")) != -1) {
		switch (opt) {
		case 'a':
			addr = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'c':
			o.conns = atoi(optarg);
			break;
		case 'd':
			o.seconds = atof(optarg);
			break;
		case 'l':
			snprintf(o.line, sizeof(o.line), "%s%s", optarg,
			         optarg[0] != '\0' ? "\n" : "");
			break;
		case 's':
			o.src_base = atoi(optarg);
			break;
		case 'P':
			o.pid = atol(optarg);
			break;
		default:
			usage();
			return 2;
		}
	}
	if (addr == NULL || port <= 0 || port > 65535 || o.conns < 1 || o.conns > 1024 ||
	    o.seconds <= 0 || o.src_base < 0 || o.src_base > 240) {
		usage();
		return 2;
	}
	o.dst.sin_family = AF_INET;
	o.dst.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &o.dst.sin_addr) != 1) {
		usage();
		return 2;
	}
	th = calloc(1, sizeof(*th));
	hist = calloc(BENCH_HIST_US, sizeof(*hist));
	if (th == NULL || hist == NULL)
		return 1;
	if (o.pid > 0)
		cpu0 = proc_cpu_ticks(o.pid);
	t0 = now_s();
	for (int i = 0; i < 1; i++) {
		th[i].o = &o;
		th[i].idx = i;
		th[i].stop = &stop;
		th[i].hist = calloc(BENCH_HIST_US, sizeof(uint32_t));
		if (th[i].hist == NULL || pthread_create(&th[i].th, NULL, bench_run, &th[i]) != 0)
			return 1;
	}
	usleep((useconds_t)(o.seconds * 1e6));
	stop = true;
	for (int i = 0; i < 1; i++) {
		pthread_join(th[i].th, NULL);
		ok += th[i].ok;
		errors += th[i].errors;
		over += th[i].over;
		if (th[i].max_us > max_us)
			max_us = th[i].max_us;
		for (int us = 0; us < BENCH_HIST_US; us++)
			hist[us] += th[i].hist[us];
		free(th[i].hist);
	}
	dt = now_s() - t0;
	if (o.pid > 0)
		cpu1 = proc_cpu_ticks(o.pid);
	printf("agent-replies: %d connections in parallel, %.1f s, line \"%.*s\"\n", o.conns, dt,
	       (int)(strlen(o.line) > 0 ? strlen(o.line) - 1 : 0), o.line);
	printf("replies_per_s %.0f\n", (double)ok / dt);
	printf("replies %llu errors %llu\n", (unsigned long long)ok, (unsigned long long)errors);
	printf("latency_us p50 %llu p90 %llu p99 %llu max %llu\n",
	       (unsigned long long)percentile(hist, ok, over, 0.50),
	       (unsigned long long)percentile(hist, ok, over, 0.90),
	       (unsigned long long)percentile(hist, ok, over, 0.99), (unsigned long long)max_us);
	if (o.pid > 0 && cpu0 >= 0 && cpu1 >= 0) {
		double cpu_s = (double)(cpu1 - cpu0) / (double)sysconf(_SC_CLK_TCK);

		/* CPU per reply says what one dedicated core would do, whatever else runs */
		printf("agent_cpu_percent %.1f agent_cpu_us_per_reply %.1f "
		       "one_core_replies_per_s %.0f agent_rss_kib %ld\n",
		       100.0 * cpu_s / dt, ok > 0 ? cpu_s * 1e6 / (double)ok : 0.0,
		       cpu_s > 0 ? (double)ok / cpu_s : 0.0, proc_rss_kb(o.pid));
	}
	free(hist);
	free(th);
	return errors > ok / 100 ? 1 : 0;
}
