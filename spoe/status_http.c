/* spoe/status_http.c - the status port (see status_http.h). Off the hot path: it may allocate
 * a response buffer per request. Slots are fixed; a client beyond them is closed at once. */
#include "spoe/status_http.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/http1.h"
#include "common/log.h"
#include "common/prom.h"
#include "common/node_state.h"
#include "common/sock.h"
#include "spoe/spoa.h"
#include "spoe/spop_conn.h"

#define STATUS_HTTP_TIMEOUT 2.0          /* seconds for the request head, and for the response */
#define STATUS_HTTP_RESP    (256 * 1024) /* largest response: 64 nodes fit many times over */

/* The view as JSON: clusters with their decision, nodes with what their feed last said. */
int status_http_json(struct spoa *s, struct buf *b)
{
	const struct cluster_view *cv = &s->cv;
	double now = ev_now(s->loop);
	size_t i, j;

	if (buf_printf(b,
	               "{\"uptime_s\":%.3f,\"connections\":%llu,\"route_version\":%llu,"
	               "\"clusters\":[",
	               now - s->started, (unsigned long long)s->stats.conns_cur,
	               (unsigned long long)(s->route != NULL ? s->route->version : 0)) < 0)
		return -1;
	for (i = 0; i < cv->n_clusters; i++) {
		const struct cv_cluster *c = &cv->clusters[i];

		if (buf_printf(b, "%s{\"name\":", i > 0 ? "," : "") < 0 ||
		    ns_json_str(b, c->name) < 0 ||
		    buf_printf(b, ",\"status\":\"%s\",\"writer\":", cv_status_name(c->d.status)) <
		        0 ||
		    ns_json_str(b, c->writer) < 0 || buf_printf(b, ",\"reader\":") < 0 ||
		    ns_json_str(b, c->reader) < 0 ||
		    buf_printf(b,
		               ",\"epoch\":%llu,\"writer_changes\":%llu,\"view_age_s\":%.3f,"
		               "\"hold\":%s,\"hold_max_s\":%.3f,\"held\":%zu,\"nodes\":[",
		               (unsigned long long)c->epoch, (unsigned long long)c->writer_changes,
		               c->updated > 0 ? now - c->updated : -1.0, c->hold ? "true" : "false",
		               c->hold_max, s->hold_ready ? s->hold.q[i].n : (size_t)0) < 0)
			return -1;
		for (j = 0; j < c->n_nodes; j++) {
			const struct cv_node *n = &cv->nodes[c->node_idx[j]];

			if (buf_printf(b, "%s{\"name\":", j > 0 ? "," : "") < 0 ||
			    ns_json_str(b, n->name) < 0 || buf_printf(b, ",\"server\":") < 0 ||
			    ns_json_str(b, n->server) < 0 || buf_printf(b, ",\"agent\":") < 0 ||
			    ns_json_str(b, n->agent.text) < 0 ||
			    buf_printf(
			        b,
			        ",\"known\":%s,\"feed\":\"%s\",\"verdict\":\"%s\",\"updates\":%llu,"
			        "\"losses\":%llu,"
			        "\"age_s\":%.3f,\"admin\":\"%s\",\"fenced\":%s,\"pg\":{\"up\":%s,"
			        "\"role\":\"%s\",\"tl\":%u,\"sysid\":",
			        n->known ? "true" : "false", feed_sub_state_name(n->sub.state),
			        rr_verdict_name(c->d.verdict[j]), (unsigned long long)n->updates,
			        (unsigned long long)n->losses,
			        n->updated > 0 ? now - n->updated : -1.0,
			        ns_admin_name(n->st.admin), n->st.fenced ? "true" : "false",
			        n->st.pg.up ? "true" : "false", ns_role_name(n->st.pg.role),
			        n->st.pg.tl) < 0 ||
			    ns_json_str(b, n->st.pg.sysid) < 0 ||
			    buf_printf(b, ",\"lag_bytes\":%llu,\"lag_ms\":%llu,\"streaming\":%s}}",
			               (unsigned long long)n->st.pg.lag_bytes,
			               (unsigned long long)n->st.pg.lag_ms,
			               n->st.pg.streaming ? "true" : "false") < 0)
				return -1;
		}
		if (buf_printf(b, "]}") < 0)
			return -1;
	}
	return buf_printf(b, "]}\n");
}

#define ST(m) offsetof(struct spoa_stats, m)
/* clang-format off */
static const struct prom_metric status_http_stats[] = {
	{ "haprole_spoa_connections", PROM_GAUGE, NULL, ST(conns_cur), "SPOP connections open" },
	{ "haprole_spoa_connections_total", PROM_COUNTER, NULL, ST(conns_accepted), "SPOP connections accepted" },
	{ "haprole_spoa_connections_refused_total", PROM_COUNTER, NULL, ST(conns_refused), "connections refused at max_connections" },
	{ "haprole_spoa_connections_evicted_total", PROM_COUNTER, NULL, ST(conns_evicted), "connections closed in HELLO to make room" },
	{ "haprole_spoa_connections_denied_total", PROM_COUNTER, NULL, ST(conns_denied), "connections closed at accept: not on allow_from" },
	{ "haprole_spoa_hello_total", PROM_COUNTER, NULL, ST(hello), "HELLO handshakes" },
	{ "haprole_spoa_hello_healthcheck_total", PROM_COUNTER, NULL, ST(hello_healthcheck), "healthcheck HELLOs answered" },
	{ "haprole_spoa_frames_received_total", PROM_COUNTER, NULL, ST(frames_in), "SPOP frames received" },
	{ "haprole_spoa_frames_sent_total", PROM_COUNTER, NULL, ST(frames_out), "SPOP frames sent" },
	{ "haprole_spoa_frames_skipped_total", PROM_COUNTER, NULL, ST(frames_skipped), "frames of unknown type skipped" },
	{ "haprole_spoa_haproxy_disconnect_total", PROM_COUNTER, NULL, ST(disconnect_rx), "HAPROXY-DISCONNECT frames received" },
	{ "haprole_spoa_closed_by_peer_total", PROM_COUNTER, NULL, ST(closed_by_peer), "connections ended by HAProxy's FIN or reset" },
	{ "haprole_spoa_notify_total", PROM_COUNTER, NULL, ST(notify), "NOTIFY frames answered" },
	{ "haprole_spoa_messages_total", PROM_COUNTER, "message=\"haprole-route\",intent=\"write\"", ST(msg_route_write), "messages in NOTIFY frames, by name and outcome" },
	{ "haprole_spoa_messages_total", PROM_COUNTER, "message=\"haprole-route\",intent=\"read\"", ST(msg_route_read), "" },
	{ "haprole_spoa_messages_total", PROM_COUNTER, "message=\"haprole-route\",intent=\"write-retry\"", ST(msg_route_retry), "" },
	{ "haprole_spoa_messages_total", PROM_COUNTER, "message=\"haprole-route\",outcome=\"bad-args\"", ST(msg_bad_args), "" },
	{ "haprole_spoa_messages_total", PROM_COUNTER, "message=\"unknown\"", ST(msg_unknown), "" },
	{ "haprole_spoa_route_builds_total", PROM_COUNTER, NULL, ST(route_builds), "routing snapshots built" },
	{ "haprole_spoa_reloads_total", PROM_COUNTER, NULL, ST(reloads), "config reloads" },
	{ "haprole_spoa_reload_failures_total", PROM_COUNTER, NULL, ST(reload_failures), "config reloads refused" },
};
/* clang-format on */
#undef ST

/* Holds (issue 17): started, refused (budget), ended by outcome, held now, hold-time histogram
 * of the answered ones. */
static int status_hold_metrics(struct spoa *s, struct buf *b)
{
	const struct hold_stats *h = &s->hold.stats;
	unsigned long long cum = 0, n = 0;
	size_t i;

	if (prom_one(b, "haprole_spoa_holds_started_total", PROM_COUNTER,
	             "write NOTIFYs held waiting for a promotion", h->started) < 0 ||
	    prom_one(b, "haprole_spoa_holds_refused_total", PROM_COUNTER,
	             "write NOTIFYs answered at once: hold budget or connection room spent",
	             h->refused) < 0 ||
	    prom_one(b, "haprole_spoa_holds", PROM_GAUGE, "write NOTIFYs held now",
	             s->hold_ready ? s->hold.used : 0) < 0 ||
	    buf_printf(b, "# HELP haprole_spoa_holds_ended_total held NOTIFYs answered, by why: "
	                  "writer (released to a new writer), timeout (hold_max), settled (no "
	                  "promotion plausible any more), shutdown, dropped (connection gone)\n"
	                  "# TYPE haprole_spoa_holds_ended_total counter\n") < 0)
		return -1;
	for (i = 0; i < HOLD_END_COUNT; i++)
		if (buf_printf(b, "haprole_spoa_holds_ended_total{outcome=\"%s\"} %llu\n",
		               hold_end_name((enum hold_end)i),
		               (unsigned long long)h->ended[i]) < 0)
			return -1;
	if (buf_printf(b, "# HELP haprole_spoa_hold_seconds time a held write NOTIFY waited for "
	                  "its answer\n# TYPE haprole_spoa_hold_seconds histogram\n") < 0)
		return -1;
	for (i = 0; i < HOLD_HIST_BUCKETS; i++) {
		cum += h->hist[i];
		if (i < HOLD_HIST_BUCKETS - 1) {
			if (buf_printf(b, "haprole_spoa_hold_seconds_bucket{le=\"%g\"} %llu\n",
			               hold_hist_le[i], cum) < 0)
				return -1;
		} else if (buf_printf(b, "haprole_spoa_hold_seconds_bucket{le=\"+Inf\"} %llu\n",
		                      cum) < 0) {
			return -1;
		}
	}
	n = cum;
	return buf_printf(b,
	                  "haprole_spoa_hold_seconds_sum %.6f\nhaprole_spoa_hold_seconds_count "
	                  "%llu\n",
	                  h->hist_sum, n);
}

/* Prometheus text: connections, frames, NOTIFY per message, errors by kind, writer changes,
 * view age. */
int status_http_metrics(struct spoa *s, struct buf *b)
{
	const struct spoa_stats *st = &s->stats;
	double now = ev_now(s->loop);
	size_t i;

	if (prom_write(b, status_http_stats,
	               sizeof(status_http_stats) / sizeof(status_http_stats[0]), st) < 0 ||
	    buf_printf(b, "# HELP haprole_spoa_errors_total connections we closed, by SPOP "
	                  "status\n# TYPE haprole_spoa_errors_total counter\n") < 0)
		return -1;
	for (i = 0; i < SPOA_ERR_SLOTS; i++) {
		int code = i <= SPOP_STATUS_RES ? (int)i : i == 14 ? SPOP_STATUS_UNKNOWN : -1;

		if (i == 0 || st->errors[i] == 0)
			continue;
		if (buf_printf(b, "haprole_spoa_errors_total{status=\"%d\",kind=\"%s\"} %llu\n",
		               code, code >= 0 ? spop_status_str((enum spop_status)code) : "other",
		               (unsigned long long)st->errors[i]) < 0)
			return -1;
	}
	if (status_hold_metrics(s, b) < 0)
		return -1;
	if (buf_printf(b, "# HELP haprole_spoa_writer_changes_total writer changes per cluster\n"
	                  "# TYPE haprole_spoa_writer_changes_total counter\n") < 0)
		return -1;
	for (i = 0; i < s->cv.n_clusters; i++)
		if (buf_printf(b, "haprole_spoa_writer_changes_total{cluster=\"%s\"} %llu\n",
		               s->cv.clusters[i].name,
		               (unsigned long long)s->cv.clusters[i].writer_changes) < 0)
			return -1;
	if (buf_printf(b, "# HELP haprole_spoa_epoch writer epoch per cluster\n"
	                  "# TYPE haprole_spoa_epoch gauge\n") < 0)
		return -1;
	for (i = 0; i < s->cv.n_clusters; i++)
		if (buf_printf(b, "haprole_spoa_epoch{cluster=\"%s\"} %llu\n",
		               s->cv.clusters[i].name,
		               (unsigned long long)s->cv.clusters[i].epoch) < 0)
			return -1;
	if (buf_printf(b, "# HELP haprole_spoa_cluster_ok 1 when the cluster has one writer\n"
	                  "# TYPE haprole_spoa_cluster_ok gauge\n") < 0)
		return -1;
	for (i = 0; i < s->cv.n_clusters; i++)
		if (buf_printf(b, "haprole_spoa_cluster_ok{cluster=\"%s\",status=\"%s\"} %d\n",
		               s->cv.clusters[i].name, cv_status_name(s->cv.clusters[i].d.status),
		               s->cv.clusters[i].d.status == CV_STATUS_OK) < 0)
			return -1;
	if (buf_printf(b, "# HELP haprole_spoa_view_age_seconds time since the last feed update "
	                  "of the cluster\n# TYPE haprole_spoa_view_age_seconds gauge\n") < 0)
		return -1;
	for (i = 0; i < s->cv.n_clusters; i++)
		if (buf_printf(b, "haprole_spoa_view_age_seconds{cluster=\"%s\"} %.3f\n",
		               s->cv.clusters[i].name,
		               s->cv.clusters[i].updated > 0 ? now - s->cv.clusters[i].updated
		                                             : -1.0) < 0)
			return -1;
	return 0;
}

/* Reads the request head at <req>[<len>] (common/http1.h) into <r>, and says what it asks for. */
static enum status_route status_http_decide(const uint8_t *req, size_t len, struct h1_req *r)
{
	switch (h1_read_head(req, len, STATUS_HTTP_HEAD_MAX, r)) {
	case H1_HEAD_MORE:
		return STATUS_ROUTE_INCOMPLETE;
	case H1_HEAD_BAD:
		return STATUS_ROUTE_BAD_REQUEST;
	case H1_HEAD_TOO_LARGE:
		return STATUS_ROUTE_TOO_LARGE;
	case H1_HEAD_OK:
		break;
	}
	if (r->method != H1_M_GET && r->method != H1_M_HEAD)
		return STATUS_ROUTE_BAD_METHOD;
	if (!r->too_long && (strcmp(r->path, "/") == 0 || strcmp(r->path, "/status") == 0))
		return STATUS_ROUTE_JSON;
	if (!r->too_long && strcmp(r->path, "/metrics") == 0)
		return STATUS_ROUTE_METRICS;
	return STATUS_ROUTE_NOT_FOUND;
}

enum status_route status_http_route(const uint8_t *req, size_t len)
{
	struct h1_req r;

	return status_http_decide(req, len, &r);
}

/* Builds the response to the request head in <cl->c.rx> into <cl->c.tx>: the body into the
 * page's scratch buffer, then <cl->c.tx> sized to the whole response (common/http1.h). */
static int respond(struct status_client *cl)
{
	struct spoa *s = cl->h->spoa;
	struct buf *body = &cl->h->scratch;
	const char *ctype = "text/plain";
	struct h1_req req;
	int status = 200;
	int r = -1;

	buf_reset(body);
	switch (status_http_decide(buf_head(&cl->c.rx), buf_len(&cl->c.rx), &req)) {
	case STATUS_ROUTE_INCOMPLETE: /* not called before a whole head; answered as bad */
	case STATUS_ROUTE_BAD_REQUEST:
		status = 400;
		r = buf_printf(body, "not an HTTP/1.x request\n");
		break;
	case STATUS_ROUTE_TOO_LARGE:
		status = 431;
		r = buf_printf(body, "request head over %d bytes\n", STATUS_HTTP_HEAD_MAX);
		break;
	case STATUS_ROUTE_BAD_METHOD:
		status = 405;
		r = buf_printf(body, "only GET\n");
		break;
	case STATUS_ROUTE_JSON:
		ctype = "application/json";
		r = status_http_json(s, body);
		break;
	case STATUS_ROUTE_METRICS:
		ctype = "text/plain; version=0.0.4";
		r = status_http_metrics(s, body);
		break;
	case STATUS_ROUTE_NOT_FOUND:
		status = 404;
		r = buf_printf(body, "paths: / (JSON view), /metrics (Prometheus)\n");
		break;
	}
	if (r < 0) {
		log_warning("status: response larger than %d bytes", STATUS_HTTP_RESP);
		return -1;
	}
	if (buf_init(&cl->c.tx, STATUS_HTTP_HEAD_MAX + buf_len(body)) < 0)
		return -1;
	return h1_put(&cl->c.tx, status, req.method == H1_M_HEAD, ctype, buf_head(body),
	              buf_len(body)) < 0
	           ? -1
	           : 0;
}

/* Bytes of the request head: answered once it is whole, then closed once the answer is sent
 * (the peer's FIN before a whole head closes in common/conn.c). */
static void client_on_read(struct conn *c, bool eof)
{
	struct status_client *cl = container_of(c, struct status_client, c);

	(void)eof;
	if (status_http_route(buf_head(&c->rx), buf_len(&c->rx)) == STATUS_ROUTE_INCOMPLETE)
		return; /* request head not complete yet */
	if (respond(cl) < 0) {
		conn_close(c, "no response");
		return;
	}
	conn_close_after_flush(c, "response sent");
}

static void client_on_free(struct conn *c)
{
	struct status_client *cl = container_of(c, struct status_client, c);

	cl->used = false;
}

/* No on_timeout: the fixed deadline closes as "timeout". */
static const struct conn_ops status_client_ops = {
	.on_read = client_on_read,
	.on_free = client_on_free,
};

/* A free slot, or the one to evict: the oldest still waiting for its request (a slow or silent
 * peer must not lock out a monitor that asks at once); a closed one not yet reaped goes first.
 * Returns STATUS_HTTP_MAX_CLIENTS when every slot is answering. */
static size_t status_http_slot(struct status_http *h)
{
	size_t old = STATUS_HTTP_MAX_CLIENTS;
	size_t i;

	for (i = 0; i < STATUS_HTTP_MAX_CLIENTS; i++)
		if (!h->clients[i].used)
			return i;
	for (i = 0; i < STATUS_HTTP_MAX_CLIENTS; i++) {
		const struct conn *c = &h->clients[i].c;

		if (conn_is_closed(c)) {
			old = i;
			break;
		}
		if (c->state == CONN_ST_OPEN && c->tx.data == NULL && !sock_has_input(c->fd) &&
		    (old == STATUS_HTTP_MAX_CLIENTS || c->opened < h->clients[old].c.opened))
			old = i;
	}
	if (old != STATUS_HTTP_MAX_CLIENTS)
		conn_destroy(&h->clients[old].c, "evicted: a newer client needed the slot");
	return old;
}

static void listen_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct status_http *h = container_of(w, struct status_http, io);
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	struct status_client *cl;
	size_t i;
	int fd;

	(void)revents;
	fd = sock_accept(h->fd, &peer, &plen);
	if (fd == -1)
		return;
	if (!netacl_allows(&h->spoa->conf->status_allow_from, (const struct sockaddr *)&peer,
	                   plen)) {
		close(fd); /* not on status_allow_from */
		return;
	}
	i = status_http_slot(h);
	if (i == STATUS_HTTP_MAX_CLIENTS) {
		close(fd); /* every slot is answering: a status page is not worth queueing */
		return;
	}
	cl = &h->clients[i];
	cl->used = true;
	cl->h = h;
	conn_init(&cl->c, loop, fd, &status_client_ops, "status", ++h->next_id, &peer);
	buf_init_static(&cl->c.rx, cl->rx_mem, sizeof(cl->rx_mem));
	conn_set_deadline(&cl->c, STATUS_HTTP_TIMEOUT, false);
	/* a request already in the socket is read now, before a later accept could evict it */
	conn_start(&cl->c, true);
}

int status_http_start(struct status_http *h, struct spoa *spoa, const struct cfg_addr *addr,
                      char *err, size_t errlen)
{
	size_t i;

	h->spoa = spoa;
	h->next_id = 0;
	for (i = 0; i < STATUS_HTTP_MAX_CLIENTS; i++)
		h->clients[i].used = false;
	if (buf_init(&h->scratch, STATUS_HTTP_RESP) < 0) {
		snprintf(err, errlen, "status page: out of memory");
		return -1;
	}
	h->fd = sock_listen_tcp(addr, 64, err, errlen);
	if (h->fd == -1) {
		buf_free(&h->scratch);
		return -1;
	}
	ev_io_init(&h->io, listen_cb, h->fd, EV_READ);
	ev_io_start(spoa->loop, &h->io);
	return 0;
}

void status_http_stop(struct status_http *h)
{
	size_t i;

	if (h->fd == -1)
		return;
	for (i = 0; i < STATUS_HTTP_MAX_CLIENTS; i++)
		if (h->clients[i].used)
			conn_destroy(&h->clients[i].c, "status page stopping");
	ev_io_stop(h->spoa->loop, &h->io);
	close(h->fd);
	h->fd = -1;
	buf_free(&h->scratch);
}
