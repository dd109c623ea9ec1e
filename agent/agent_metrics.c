/* agent/agent_metrics.c - the agent's Prometheus metrics. See agent_metrics.h. */
#include "agent/agent_metrics.h"

#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/agent_conf.h"
#include "agent/agent_line.h"
#include "agent/check.h"
#include "common/prom.h"

/* Weight percent in an agent line ("up ready 37%"), or -1 when it has none. */
static int http_line_weight(const char *line)
{
	const char *p = line;

	while ((p = strchr(p, ' ')) != NULL) {
		int w = 0;
		int digits = 0;

		p++;
		if (*p == '#')
			break;
		while (p[digits] >= '0' && p[digits] <= '9' && digits < 4)
			w = w * 10 + (p[digits++] - '0');
		if (digits > 0 && p[digits] == '%')
			return w;
	}
	return -1;
}

/* One family per metric: probe_up and probe_latency_seconds, a sample per present probe. */
static int http_metrics_probes(const struct http_ctx *ctx, struct buf *b)
{
	const struct node_state *ns = ctx->ns;
	const struct ns_probe *pr[2] = { &ns->app, &ns->nginx };
	static const char *const names[2] = { "app", "nginx" };

	if (buf_printf(b, "# HELP haprole_probe_up Probe passing (after rise/fall).\n"
	                  "# TYPE haprole_probe_up gauge\n") == -1 ||
	    (ns->pg.present &&
	     buf_printf(b, "haprole_probe_up{probe=\"pg\"} %d\n", ns->pg.up) == -1))
		return -1;
	for (size_t i = 0; i < 2; i++) {
		if (pr[i]->present &&
		    buf_printf(b, "haprole_probe_up{probe=\"%s\"} %d\n", names[i], pr[i]->up) == -1)
			return -1;
	}
	if (buf_printf(b, "# HELP haprole_probe_latency_seconds Duration of the last probe.\n"
	                  "# TYPE haprole_probe_latency_seconds gauge\n") == -1 ||
	    (ns->pg.present && buf_printf(b, "haprole_probe_latency_seconds{probe=\"pg\"} %.6f\n",
	                                  (double)ctx->pg_ms / 1000.0) == -1))
		return -1;
	for (size_t i = 0; i < 2; i++) {
		if (pr[i]->present &&
		    buf_printf(b, "haprole_probe_latency_seconds{probe=\"%s\"} %.6f\n", names[i],
		               (double)pr[i]->ms / 1000.0) == -1)
			return -1;
	}
	return 0;
}

/* What the agent port and the feed hold now, as the table below reads it. */
struct agent_metrics_vals {
	uint64_t clients;          /* request connections open */
	uint64_t feed_subscribers; /* feed subscribers */
	uint64_t feed_frames;      /* feed frames queued */
	uint64_t feed_dropped;     /* subscribers dropped */
};

#define AS(m) offsetof(struct agent_stats, m)
#define AV(m) offsetof(struct agent_metrics_vals, m)
/* clang-format off */
static const struct prom_metric agent_metrics_stats[] = {
	{ "haprole_replies_total", PROM_COUNTER, "dialect=\"agent-check\"", AS(agent_replies), "Replies served on the agent port, by dialect." },
	{ "haprole_replies_total", PROM_COUNTER, "dialect=\"http\"", AS(http_replies), "" },
	{ "haprole_default_check_replies_total", PROM_COUNTER, NULL, AS(agent_replies_default), "Agent-check replies to no line." },
	{ "haprole_unknown_check_total", PROM_COUNTER, NULL, AS(unknown_checks), "Agent-check lines naming no check." },
	{ "haprole_connections_refused_total", PROM_COUNTER, NULL, AS(refused), "Closed at accept (max_clients)." },
	{ "haprole_connections_evicted_total", PROM_COUNTER, NULL, AS(evicted), "Silent clients closed for a newer one." },
	{ "haprole_connections_denied_total", PROM_COUNTER, NULL, AS(denied), "Closed at accept: not in allow_from." },
	{ "haprole_requests_too_long_total", PROM_COUNTER, NULL, AS(too_long), "First lines or heads over max_line." },
	{ "haprole_request_timeouts_total", PROM_COUNTER, NULL, AS(timeouts), "Connections closed by idle_timeout." },
	{ "haprole_reloads_total", PROM_COUNTER, "result=\"ok\"", AS(reloads), "Config reloads (SIGHUP), by result." },
	{ "haprole_reloads_total", PROM_COUNTER, "result=\"failed\"", AS(reload_failures), "" },
};
static const struct prom_metric agent_metrics_now[] = {
	{ "haprole_clients", PROM_GAUGE, NULL, AV(clients), "Request connections open now." },
	{ "haprole_feed_subscribers", PROM_GAUGE, NULL, AV(feed_subscribers), "Feed subscribers now." },
	{ "haprole_feed_frames_total", PROM_COUNTER, NULL, AV(feed_frames), "Feed frames queued to subscribers." },
	{ "haprole_feed_dropped_total", PROM_COUNTER, NULL, AV(feed_dropped), "Subscribers dropped for falling behind." },
};
/* clang-format on */
#undef AS
#undef AV

int agent_metrics_write(const struct http_ctx *ctx, struct buf *b)
{
	const struct node_state *ns = ctx->ns;
	const struct agent_stats *st = ctx->stats;
	struct agent_metrics_vals now;
	uint64_t cum = 0;

	if (buf_printf(b, "# HELP haprole_agent_info Agent identity.\n"
	                  "# TYPE haprole_agent_info gauge\nhaprole_agent_info{cluster=\"") == -1 ||
	    prom_label(b, ns->cluster) == -1 || buf_printf(b, "\",node=\"") == -1 ||
	    prom_label(b, ns->node) == -1 ||
	    buf_printf(b,
	               "\",boot=\"%016llx\"} 1\n"
	               "# HELP haprole_agent_uptime_seconds Seconds since the agent started.\n"
	               "# TYPE haprole_agent_uptime_seconds gauge\n"
	               "haprole_agent_uptime_seconds %.3f\n"
	               "# HELP haprole_state_seq Node state sequence number (bumps on change).\n"
	               "# TYPE haprole_state_seq counter\nhaprole_state_seq %llu\n"
	               "# HELP haprole_admin_state Operator admin state (1 for the current one).\n"
	               "# TYPE haprole_admin_state gauge\n"
	               "haprole_admin_state{state=\"ready\"} %d\n"
	               "haprole_admin_state{state=\"drain\"} %d\n"
	               "haprole_admin_state{state=\"maint\"} %d\n"
	               "# HELP haprole_shutting_down 1 during the SIGTERM grace.\n"
	               "# TYPE haprole_shutting_down gauge\nhaprole_shutting_down %d\n"
	               "# HELP haprole_fenced 1 when the local primary is fenced by a peer.\n"
	               "# TYPE haprole_fenced gauge\nhaprole_fenced %d\n",
	               (unsigned long long)ns->boot, ctx->uptime, (unsigned long long)ns->seq,
	               ns->admin == NS_ADMIN_READY, ns->admin == NS_ADMIN_DRAIN,
	               ns->admin == NS_ADMIN_MAINT, ctx->shutting_down, ns->fenced) == -1)
		return -1;
	if (http_metrics_probes(ctx, b) == -1)
		return -1;
	if (ns->pg.present &&
	    buf_printf(b,
	               "# HELP haprole_pg_role PostgreSQL role (1 for the current one).\n"
	               "# TYPE haprole_pg_role gauge\n"
	               "haprole_pg_role{role=\"primary\"} %d\n"
	               "haprole_pg_role{role=\"standby\"} %d\n"
	               "haprole_pg_role{role=\"unknown\"} %d\n"
	               "# HELP haprole_pg_timeline PostgreSQL timeline.\n"
	               "# TYPE haprole_pg_timeline gauge\nhaprole_pg_timeline %u\n"
	               "# HELP haprole_pg_lag_bytes Standby replay lag in bytes.\n"
	               "# TYPE haprole_pg_lag_bytes gauge\nhaprole_pg_lag_bytes %llu\n"
	               "# HELP haprole_pg_lag_seconds Standby replay lag in time.\n"
	               "# TYPE haprole_pg_lag_seconds gauge\nhaprole_pg_lag_seconds %.3f\n"
	               "# HELP haprole_pg_streaming 1 when the WAL receiver streams.\n"
	               "# TYPE haprole_pg_streaming gauge\nhaprole_pg_streaming %d\n"
	               "# HELP haprole_pg_replay_paused 1 when replay is paused.\n"
	               "# TYPE haprole_pg_replay_paused gauge\nhaprole_pg_replay_paused %d\n"
	               "# HELP haprole_pg_queries_total Successful postgres probe queries.\n"
	               "# TYPE haprole_pg_queries_total counter\nhaprole_pg_queries_total %llu\n"
	               "# HELP haprole_pg_failures_total Failed postgres probes and connects.\n"
	               "# TYPE haprole_pg_failures_total counter\nhaprole_pg_failures_total %llu\n",
	               ns->pg.role == NS_ROLE_PRIMARY, ns->pg.role == NS_ROLE_STANDBY,
	               ns->pg.role == NS_ROLE_UNKNOWN, ns->pg.tl,
	               (unsigned long long)ns->pg.lag_bytes, (double)ns->pg.lag_ms / 1000.0,
	               ns->pg.streaming, ns->pg.paused, (unsigned long long)ctx->pg_queries,
	               (unsigned long long)ctx->pg_failures) == -1)
		return -1;
	if (buf_printf(b, "# HELP haprole_check_up 1 when the check answers \"up ready\".\n"
	                  "# TYPE haprole_check_up gauge\n") == -1)
		return -1;
	for (size_t i = 0; i < ns->n_checks; i++) {
		if (buf_printf(b, "haprole_check_up{check=\"") == -1 ||
		    prom_label(b, ns->checks[i].name) == -1 ||
		    buf_printf(b, "\"} %d\n", al_is_up(ns->checks[i].line)) == -1)
			return -1;
	}
	if (buf_printf(b, "# HELP haprole_check_weight_percent Weight the check announces.\n"
	                  "# TYPE haprole_check_weight_percent gauge\n") == -1)
		return -1;
	for (size_t i = 0; i < ns->n_checks; i++) {
		int w = http_line_weight(ns->checks[i].line);

		if (buf_printf(b, "haprole_check_weight_percent{check=\"") == -1 ||
		    prom_label(b, ns->checks[i].name) == -1 ||
		    buf_printf(b, "\"} %d\n", w < 0 ? 0 : w) == -1)
			return -1;
	}
	if (buf_printf(b, "# HELP haprole_check_reply_seconds Agent-check reply time, accept to "
	                  "reply written.\n# TYPE haprole_check_reply_seconds histogram\n") == -1)
		return -1;
	for (size_t i = 0; i < AGENT_REPLY_BUCKETS; i++) {
		cum += st->reply_hist[i];
		if ((i < AGENT_REPLY_BUCKETS - 1
		         ? buf_printf(b, "haprole_check_reply_seconds_bucket{le=\"%g\"} %llu\n",
		                      agent_reply_bounds[i], (unsigned long long)cum)
		         : buf_printf(b, "haprole_check_reply_seconds_bucket{le=\"+Inf\"} %llu\n",
		                      (unsigned long long)cum)) == -1)
			return -1;
	}
	if (buf_printf(
	        b, "haprole_check_reply_seconds_sum %.6f\nhaprole_check_reply_seconds_count %llu\n",
	        st->reply_seconds, (unsigned long long)cum) == -1)
		return -1;
	if (buf_printf(b, "# HELP haprole_check_replies_total Agent-check lines answered.\n"
	                  "# TYPE haprole_check_replies_total counter\n") == -1)
		return -1;
	for (size_t i = 0; i < ns->n_checks; i++) {
		if (buf_printf(b, "haprole_check_replies_total{check=\"") == -1 ||
		    prom_label(b, ns->checks[i].name) == -1 ||
		    buf_printf(b, "\"} %llu\n", (unsigned long long)st->check_served[i]) == -1)
			return -1;
	}
	now.clients = ctx->clients;
	now.feed_subscribers = ctx->feed_subscribers;
	now.feed_frames = ctx->feed_frames;
	now.feed_dropped = ctx->feed_dropped;
	if (prom_write(b, agent_metrics_stats,
	               sizeof(agent_metrics_stats) / sizeof(agent_metrics_stats[0]), st) < 0)
		return -1;
	return prom_write(b, agent_metrics_now,
	                  sizeof(agent_metrics_now) / sizeof(agent_metrics_now[0]), &now);
}
