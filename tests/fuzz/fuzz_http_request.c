/* tests/fuzz/fuzz_http_request.c - the HTTP request path of the agent port: h1_head_end()
 * then h1_parse_request_line() on the buffered head, as port.c calls them, and the response
 * built for it over a fixed node state (http_respond() into a bounded buffer). Checks: a
 * parsed line ends at its '\n', path and query are NUL-terminated within their arrays, the
 * path starts with '/', and every response is one complete HTTP/1.1 head whose
 * Content-Length matches the body (or nothing at all when it does not fit). A peer primary
 * listing this node as sync is in view, so /sync, /async and ?lag= take every branch. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/agent_conf.h"
#include "agent/check.h"
#include "agent/http_api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct agent_conf conf;
static struct node_state ns;
static struct node_state peer; /* a primary listing db1 as sync: /sync, /async, ?lag= */
static const struct node_state *peers[1] = { &peer };
static struct agent_stats stats;
static int ready;

static void setup(void)
{
	char err[HR_ERR_LEN];

	if (agent_conf_load_string(&conf, "fuzz", "[agent]\nnode = db1\n", err, sizeof(err)) != 0)
		abort();
	ns_init(&ns);
	strcpy(ns.node, "db1");
	ns.pg.present = true;
	ns.pg.up = true;
	ns.pg.role = NS_ROLE_STANDBY;
	ns.pg.streaming = true;
	ns.pg.lag_bytes = 4096;
	ns.n_checks = conf.n_checks;
	for (size_t i = 0; i < conf.n_checks; i++) {
		strcpy(ns.checks[i].name, conf.checks[i].name);
		if (check_eval(&conf.checks[i], &ns, false, ns.checks[i].line,
		               sizeof(ns.checks[i].line)) < 0)
			abort();
	}
	ns_init(&peer);
	strcpy(peer.node, "db0");
	peer.pg.present = true;
	peer.pg.up = true;
	peer.pg.role = NS_ROLE_PRIMARY;
	peer.pg.lsn = 1u << 26;
	strcpy(peer.pg.repl, "db1=sync,db2=async");
	ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t mem[65536];
	struct http_ctx ctx = {
		.ns = &ns, .conf = &conf, .stats = &stats, .peers = peers, .n_peers = 1
	};
	struct h1_req req;
	struct buf out;
	size_t head;
	int n;

	if (!ready)
		setup();
	if (size > 4096)
		return 0;
	head = h1_head_end(data, size);
	assert(head <= size);
	n = h1_parse_request_line(data, size, &req);
	if (n <= 0)
		return 0;
	assert((size_t)n <= size && data[n - 1] == '\n');
	assert(memchr(req.path, '\0', sizeof(req.path)) != NULL);
	assert(memchr(req.query, '\0', sizeof(req.query)) != NULL);
	assert(req.too_long || req.path[0] == '/');
	buf_init_static(&out, mem, sizeof(mem) - 1);
	n = http_respond(&ctx, &req, &out);
	if (n == -1) {
		assert(buf_len(&out) == 0);
		return 0;
	}
	{
		char *r = (char *)buf_head(&out);
		char *end_head;
		char *cl;
		size_t blen;

		r[buf_len(&out)] = '\0';
		assert(strncmp(r, "HTTP/1.1 ", 9) == 0);
		end_head = strstr(r, "\r\n\r\n");
		assert(end_head != NULL);
		cl = strstr(r, "Content-Length: ");
		assert(cl != NULL && cl < end_head);
		blen = strtoul(cl + 16, NULL, 10);
		if (req.method == H1_M_HEAD)
			assert(end_head + 4 == r + buf_len(&out));
		else
			assert((size_t)(r + buf_len(&out) - (end_head + 4)) == blen);
	}
	return 0;
}
