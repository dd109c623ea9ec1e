/* bench/spoa-load.c - SPOP load generator for haprole-spoa (not shipped).
 *
 * Opens C connections to an SPOA, does the HELLO handshake as HAProxy 3.x does (pipelining),
 * then keeps D NOTIFY frames in flight on each (D <= 20, HAProxy 3.x's limit) and counts
 * ACKs. For each connection count of the list it prints NOTIFY->ACK per second, latency
 * percentiles (from the NOTIFY write to its ACK read), and, when given the SPOA's pid, its CPU
 * time per message and its RSS. One thread, epoll; pin it away from the SPOA (-C CPU).
 *
 *   spoa-load -a 127.0.0.1:12345 [-c 1,10,100] [-d 20] [-t 3] [-p SPOA_PID] [-C CPU]
 *             [-m CLUSTER]
 *   spoa-load --echo IP:PORT [-C CPU]   a trivial echo agent (HELLO, then one set-var per
 *                                       NOTIFY): the ceiling the generator and this machine
 *                                       reach, to print beside haprole-spoa's figures. */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/cfg.h"
#include "common/sock.h"
#include "spoe/spop_codec.h"

#define LOAD_CONNS_MAX 1024
#define LOAD_BUF       (256 * 1024)
#define LOAD_SLOTS     240     /* in-flight timestamp slots per connection: frame-ids 1..239 */
#define HIST_US        1000000 /* 1 us buckets up to 1 s */

struct lconn {
	int fd;                       /* socket */
	bool ready;                   /* AGENT-HELLO received */
	uint64_t next_fid;            /* next frame-id to send */
	unsigned inflight;            /* NOTIFYs without ACK */
	uint64_t sent_ns[LOAD_SLOTS]; /* send time per frame-id % LOAD_SLOTS */
	uint8_t rx[LOAD_BUF];         /* received bytes */
	size_t rx_len;                /* bytes in <rx> */
	uint8_t tx[LOAD_BUF];         /* bytes to send */
	size_t tx_len;                /* bytes in <tx> */
	size_t tx_off;                /* bytes of <tx> already written */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) == -1)
		perror("sched_setaffinity");
}

static void fatal(const char *what)
{
	perror(what);
	exit(1);
}

/* ---- shared encoders -------------------------------------------------------------------- */

static size_t put_hello(uint8_t *b, size_t cap)
{
	uint8_t *p = b, *end = b + cap, *start;
	struct spop_data v = { .type = SPOP_DATA_STRING, .ptr = (const uint8_t *)"2.0", .len = 3 };
	struct spop_data m = { .type = SPOP_DATA_UINT32, .u = 16380 };
	struct spop_data c = { .type = SPOP_DATA_STRING,
		               .ptr = (const uint8_t *)"pipelining",
		               .len = 10 };

	if (spop_frame_begin(&p, end, SPOP_FRM_HAPROXY_HELLO, SPOP_FLAG_FIN, 0, 0, &start) < 0 ||
	    spop_string_put(&p, end, "supported-versions", 18) < 0 ||
	    spop_data_put(&p, end, &v) < 0 || spop_string_put(&p, end, "max-frame-size", 14) < 0 ||
	    spop_data_put(&p, end, &m) < 0 || spop_string_put(&p, end, "capabilities", 12) < 0 ||
	    spop_data_put(&p, end, &c) < 0 || spop_frame_end(start, p) < 0)
		return 0;
	return (size_t)(p - b);
}

static size_t put_notify(uint8_t *b, size_t cap, uint64_t sid, uint64_t fid, const char *cluster)
{
	uint8_t *p = b, *end = b + cap, *start;
	struct spop_data c = { .type = SPOP_DATA_STRING,
		               .ptr = (const uint8_t *)cluster,
		               .len = strlen(cluster) };
	struct spop_data i = { .type = SPOP_DATA_STRING,
		               .ptr = (const uint8_t *)"write",
		               .len = 5 };

	if (spop_frame_begin(&p, end, SPOP_FRM_NOTIFY, SPOP_FLAG_FIN, sid, fid, &start) < 0 ||
	    spop_string_put(&p, end, "haprole-route", 13) < 0 || p >= end)
		return 0;
	*p++ = 2;
	if (spop_string_put(&p, end, "cluster", 7) < 0 || spop_data_put(&p, end, &c) < 0 ||
	    spop_string_put(&p, end, "intent", 6) < 0 || spop_data_put(&p, end, &i) < 0 ||
	    spop_frame_end(start, p) < 0)
		return 0;
	return (size_t)(p - b);
}

/* ---- echo agent ------------------------------------------------------------------------- */

struct econn {
	int fd;               /* socket, -1 free */
	uint8_t rx[LOAD_BUF]; /* received */
	size_t rx_len;        /* bytes in <rx> */
	uint8_t tx[LOAD_BUF]; /* to send */
	size_t tx_len;        /* bytes in <tx> */
};

static int echo_agent(const char *addr_text, int cpu)
{
	static struct econn ec[LOAD_CONNS_MAX];
	struct epoll_event ev, evs[256];
	struct cfg_addr addr;
	const char *why;
	char err[HR_ERR_LEN];
	uint8_t act[64], *ap = act;
	struct spop_data val = { .type = SPOP_DATA_STRING,
		                 .ptr = (const uint8_t *)"db1",
		                 .len = 3 };
	size_t act_len, i;
	int lfd, ep, n, k;

	pin(cpu);
	if (cfg_parse_addr(addr_text, &addr, &why) < 0) {
		fprintf(stderr, "spoa-load: %s: %s\n", addr_text, why);
		return 2;
	}
	lfd = sock_listen_tcp(&addr, 1024, err, sizeof(err));
	if (lfd == -1) {
		fprintf(stderr, "spoa-load: %s\n", err);
		return 1;
	}
	if (spop_action_set_var(&ap, act + sizeof(act), SPOP_SCOPE_TXN, "writer", &val) < 0)
		return 1;
	act_len = (size_t)(ap - act);
	for (i = 0; i < LOAD_CONNS_MAX; i++)
		ec[i].fd = -1;
	ep = epoll_create1(0);
	ev.events = EPOLLIN;
	ev.data.u64 = UINT64_MAX;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	printf("echo agent ready on %s\n", addr_text);
	fflush(stdout);
	for (;;) {
		n = epoll_wait(ep, evs, 256, -1);
		for (k = 0; k < n; k++) {
			struct econn *c;
			size_t off = 0;
			ssize_t r;

			if (evs[k].data.u64 == UINT64_MAX) {
				struct sockaddr_storage peer;
				socklen_t pl = sizeof(peer);
				int fd = sock_accept(lfd, &peer, &pl);

				if (fd == -1)
					continue;
				for (i = 0; i < LOAD_CONNS_MAX && ec[i].fd != -1; i++)
					;
				if (i == LOAD_CONNS_MAX) {
					close(fd);
					continue;
				}
				(void)sock_set_nodelay(fd);
				ec[i].fd = fd;
				ec[i].rx_len = 0;
				ev.events = EPOLLIN;
				ev.data.u64 = i;
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				continue;
			}
			c = &ec[evs[k].data.u64];
			r = read(c->fd, c->rx + c->rx_len, sizeof(c->rx) - c->rx_len);
			if (r <= 0) {
				if (r == -1 && errno == EAGAIN)
					continue;
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				c->fd = -1;
				continue;
			}
			c->rx_len += (size_t)r;
			c->tx_len = 0;
			for (;;) {
				struct spop_frame f;
				enum spop_status st;
				uint8_t *p = c->tx + c->tx_len, *end = c->tx + sizeof(c->tx),
				        *start;
				int m =
				    spop_frame_peek(c->rx + off, c->rx_len - off, 16380, &f, &st);

				if (m <= 0 || (size_t)(end - p) < 128)
					break;
				if (f.type == SPOP_FRM_HAPROXY_HELLO) {
					if (spop_agent_hello_put(&p, end, 16380, "pipelining") < 0)
						break;
				} else if (f.type == SPOP_FRM_NOTIFY) {
					if (spop_frame_begin(&p, end, SPOP_FRM_ACK, SPOP_FLAG_FIN,
					                     f.stream_id, f.frame_id, &start) < 0)
						break;
					memcpy(p, act, act_len);
					p += act_len;
					if (spop_frame_end(start, p) < 0)
						break;
				}
				c->tx_len = (size_t)(p - c->tx);
				off += (size_t)m;
			}
			memmove(c->rx, c->rx + off, c->rx_len - off);
			c->rx_len -= off;
			/* loopback, small ACKs: a blocking-free write normally takes all */
			for (i = 0; i < c->tx_len;) {
				r = write(c->fd, c->tx + i, c->tx_len - i);
				if (r > 0)
					i += (size_t)r;
				else if (r == -1 && errno == EAGAIN)
					continue;
				else
					break;
			}
		}
	}
	return 0;
}

/* ---- load generator ----------------------------------------------------------------------- */

struct proc_sample {
	double cpu_s; /* utime + stime */
	long rss_kib; /* VmRSS */
};

static int proc_sample(int pid, struct proc_sample *s)
{
	char path[64], line[1024];
	unsigned long ut = 0, st = 0;
	FILE *f;

	s->cpu_s = 0;
	s->rss_kib = 0;
	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	if (fgets(line, sizeof(line), f) != NULL) {
		char *rp = strrchr(line, ')');

		if (rp != NULL &&
		    sscanf(rp + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
		           &st) == 2)
			s->cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	}
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &s->rss_kib) == 1)
			break;
	fclose(f);
	return 0;
}

static uint32_t *hist;  /* latency histogram, 1 us buckets */
static uint64_t hist_n; /* samples */
static uint64_t acks;   /* ACKs counted */
static bool counting;   /* measuring (after warmup) */

/* The NOTIFY every connection sends, encoded once with stream-id 1 and frame-id 1; frame-ids
 * cycle through 1..239 so that the varint stays one byte and only that byte is patched. */
static uint8_t notify_tpl[256];
static size_t notify_len;
static size_t notify_fid_off; /* offset of the frame-id byte */

static void fill(struct lconn *c, unsigned depth, uint64_t t)
{
	if (c->tx_off == c->tx_len) {
		c->tx_off = 0;
		c->tx_len = 0;
	}
	while (c->inflight < depth && sizeof(c->tx) - c->tx_len >= notify_len) {
		uint8_t *p = c->tx + c->tx_len;

		memcpy(p, notify_tpl, notify_len);
		p[notify_fid_off] = (uint8_t)c->next_fid;
		c->sent_ns[c->next_fid % LOAD_SLOTS] = t;
		c->next_fid = c->next_fid == 239 ? 1 : c->next_fid + 1;
		c->inflight++;
		c->tx_len += notify_len;
	}
}

static int flush(struct lconn *c)
{
	while (c->tx_off < c->tx_len) {
		ssize_t w = write(c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off);

		if (w > 0)
			c->tx_off += (size_t)w;
		else if (w == -1 && errno == EAGAIN)
			return 0;
		else
			return -1;
	}
	return 0;
}

static double percentile(double q)
{
	uint64_t want = (uint64_t)(q * (double)hist_n), seen = 0;
	size_t i;

	for (i = 0; i < HIST_US; i++) {
		seen += hist[i];
		if (seen > want)
			return (double)i;
	}
	return (double)HIST_US;
}

/* One run with <nconns> connections; prints one line. */
static int run_level(const struct cfg_addr *addr, unsigned nconns, unsigned depth, double secs,
                     int pid, const char *label)
{
	static struct lconn conns[LOAD_CONNS_MAX];
	struct epoll_event ev, evs[256];
	struct proc_sample s0, s1;
	uint64_t t_start, t_end, t_meas = 0;
	uint8_t hello[256];
	size_t hlen = put_hello(hello, sizeof(hello));
	unsigned i, ready = 0;
	int ep = epoll_create1(0);

	memset(hist, 0, HIST_US * sizeof(*hist));
	hist_n = 0;
	acks = 0;
	counting = false;
	for (i = 0; i < nconns; i++) {
		struct lconn *c = &conns[i];
		bool inprog;

		memset(c, 0, offsetof(struct lconn, rx));
		c->rx_len = 0;
		c->tx_len = 0;
		c->tx_off = 0;
		c->next_fid = 1;
		c->fd = sock_connect_tcp(addr, &inprog);
		if (c->fd == -1)
			fatal("connect");
		(void)sock_set_nodelay(c->fd);
		memcpy(c->tx, hello, hlen);
		c->tx_len = hlen;
		ev.events = EPOLLIN | EPOLLOUT;
		ev.data.u32 = i;
		epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
	}
	t_start = now_ns();
	t_end = t_start + (uint64_t)((secs + 0.5) * 1e9);
	while (now_ns() < t_end) {
		int n = epoll_wait(ep, evs, 256, 100), k;
		uint64_t t = now_ns();

		if (!counting && t - t_start > 500000000ull && ready == nconns) {
			counting = true; /* 0.5 s warm-up */
			t_meas = t;
			proc_sample(pid, &s0);
		}
		for (k = 0; k < n; k++) {
			struct lconn *c = &conns[evs[k].data.u32];
			size_t off = 0;

			if (evs[k].events & EPOLLOUT) {
				if (flush(c) < 0)
					fatal("write");
				if (c->tx_off == c->tx_len) {
					ev.events = EPOLLIN;
					ev.data.u32 = evs[k].data.u32;
					epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
				}
			}
			if (!(evs[k].events & EPOLLIN))
				continue;
			ssize_t r = read(c->fd, c->rx + c->rx_len, sizeof(c->rx) - c->rx_len);

			if (r == 0 || (r == -1 && errno != EAGAIN)) {
				fprintf(stderr, "spoa-load: connection %u closed by the agent\n",
				        evs[k].data.u32);
				return -1;
			}
			if (r < 0)
				continue;
			c->rx_len += (size_t)r;
			for (;;) {
				struct spop_frame f;
				enum spop_status st;
				int m = spop_frame_peek(c->rx + off, c->rx_len - off, 1u << 20, &f,
				                        &st);

				if (m <= 0)
					break;
				off += (size_t)m;
				if (f.type == SPOP_FRM_AGENT_HELLO) {
					c->ready = true;
					ready++;
				} else if (f.type == SPOP_FRM_ACK) {
					c->inflight--;
					if (counting) {
						uint64_t lat =
						    (t - c->sent_ns[f.frame_id % LOAD_SLOTS]) /
						    1000;

						hist[lat < HIST_US ? lat : HIST_US - 1]++;
						hist_n++;
						acks++;
					}
				} else if (f.type == SPOP_FRM_AGENT_DISCONNECT) {
					fprintf(stderr, "spoa-load: AGENT-DISCONNECT received\n");
					return -1;
				}
			}
			memmove(c->rx, c->rx + off, c->rx_len - off);
			c->rx_len -= off;
			if (c->ready) {
				size_t before = c->tx_len - c->tx_off;

				fill(c, depth, t);
				if (flush(c) < 0)
					fatal("write");
				if (c->tx_off < c->tx_len && before == 0) {
					ev.events = EPOLLIN | EPOLLOUT;
					ev.data.u32 = evs[k].data.u32;
					epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
				}
			}
		}
	}
	t_end = now_ns();
	proc_sample(pid, &s1);
	for (i = 0; i < nconns; i++)
		close(conns[i].fd);
	close(ep);
	if (!counting || acks == 0) {
		fprintf(stderr, "spoa-load: no ACK measured (%u/%u connections ready)\n", ready,
		        nconns);
		return -1;
	}
	{
		double el = (double)(t_end - t_meas) / 1e9;

		printf("%-14s conns=%-4u depth=%-2u notify_ack_per_s=%-9.0f p50_us=%-5.0f "
		       "p99_us=%-6.0f",
		       label, nconns, depth, (double)acks / el, percentile(0.50), percentile(0.99));
		if (pid > 0)
			printf(" agent_cpu_us_per_msg=%.3f agent_cpu_pct=%.0f agent_rss_kib=%ld",
			       (s1.cpu_s - s0.cpu_s) * 1e6 / (double)acks,
			       (s1.cpu_s - s0.cpu_s) * 100 / el, s1.rss_kib);
		printf("\n");
		fflush(stdout);
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: spoa-load -a IP:PORT [-c 1,10,100] [-d 20] [-t SECONDS] "
	                "[-p AGENT_PID] [-C CPU] [-m CLUSTER] [-l LABEL]\n"
	                "       spoa-load --echo IP:PORT [-C CPU]\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = { { "echo", required_argument, NULL, 'e' },
		                                  { NULL, 0, NULL, 0 } };
	const char *target = NULL, *echo = NULL, *list = "1,10,100", *cluster = "main";
	const char *label = "agent", *why;
	unsigned depth = 20;
	double secs = 3;
	int pid = 0, cpu = -1, opt;
	struct cfg_addr addr;
	char *copy, *tok;

	while ((opt = getopt_long(argc, argv, "a:c:d:t:p:C:m:l:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			target = optarg;
			break;
		case 'e':
			echo = optarg;
			break;
		case 'c':
			list = optarg;
			break;
		case 'd':
			depth = (unsigned)atoi(optarg);
			break;
		case 't':
			secs = atof(optarg);
			break;
		case 'p':
			pid = atoi(optarg);
			break;
		case 'C':
			cpu = atoi(optarg);
			break;
		case 'm':
			cluster = optarg;
			break;
		case 'l':
			label = optarg;
			break;
		default:
			usage();
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	if (echo != NULL)
		return echo_agent(echo, cpu);
	if (target == NULL || depth == 0 || depth > 200 || secs <= 0 ||
	    cfg_parse_addr(target, &addr, &why) < 0) {
		usage();
		return 2;
	}
	pin(cpu);
	notify_len = put_notify(notify_tpl, sizeof(notify_tpl), 1, 1, cluster);
	notify_fid_off = SPOP_FRAME_HDR + 1 + 4 + 1; /* length, type, flags, stream-id 1 */
	if (notify_len == 0 || notify_tpl[notify_fid_off] != 1) {
		fprintf(stderr, "spoa-load: cluster name too long\n");
		return 2;
	}
	hist = calloc(HIST_US, sizeof(*hist));
	if (hist == NULL)
		fatal("calloc");
	copy = strdup(list);
	for (tok = strtok(copy, ","); tok != NULL; tok = strtok(NULL, ",")) {
		unsigned n = (unsigned)atoi(tok);

		if (n == 0 || n > LOAD_CONNS_MAX) {
			usage();
			return 2;
		}
		if (run_level(&addr, n, depth, secs, pid, label) < 0)
			return 1;
	}
	free(copy);
	return 0;
}
