/* ctl/status.c - haprolectl's formatting and health rules; see status.h. Everything appends to a
 * bounded struct buf and returns -1 when it does not fit (nothing is cut silently). */
#include "ctl/status.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CTL_FIXED_COLS 8                                /* node .. admin */
#define CTL_COLS       (CTL_FIXED_COLS + NS_CHECKS_MAX) /* plus one per check name */
#define CTL_CELL       NS_CHECK_LINE_MAX                /* widest cell, with NUL */

static const char *const ctl_fixed_head[CTL_FIXED_COLS] = {
	"Node", "Address", "Role", "TL", "Lag", "App", "Nginx", "Admin",
};

/* Appends a problem sentence to <h>; past CTL_PROBLEMS the last entry says how many more. */
void ctl_problem(struct ctl_health *h, const char *fmt, ...)
{
	va_list ap;

	if (h->n >= CTL_PROBLEMS) {
		snprintf(h->problems[CTL_PROBLEMS - 1], CTL_PROBLEM_MAX,
		         "more problems not listed");
		return;
	}
	va_start(ap, fmt);
	vsnprintf(h->problems[h->n], CTL_PROBLEM_MAX, fmt, ap);
	va_end(ap);
	h->n++;
}

/* The routing part of the health rules: the one writer rule (common/route_rule.h) over the
 * nodes that answered, so haprolectl calls split brain exactly what the SPOA refuses to route. */
static void ctl_route_eval(const struct ctl_node *nodes, size_t n, size_t pg_nodes,
                           struct ctl_health *h)
{
	struct rr_node in[CTL_NODES_MAX] = { { 0 } };
	enum rr_verdict v[CTL_NODES_MAX];
	char split[CTL_PROBLEM_MAX] = "";
	struct rr_decision d;
	size_t i;

	if (n > CTL_NODES_MAX)
		n = CTL_NODES_MAX; /* haprolectl asks at most this many */
	for (i = 0; i < n; i++) {
		in[i].fresh = nodes[i].reachable;
		in[i].st = nodes[i].reachable ? &nodes[i].st : NULL;
	}
	rr_decide(in, n, "", RR_NO_LAG_LIMIT, &d, v);
	h->status = d.status;
	h->writer = d.writer;
	for (i = 0; i < n; i++) {
		const struct node_state *s = in[i].st;
		int by;

		switch (v[i]) {
		case RR_V_WRITER:
			h->writers++;
			break;
		case RR_V_SPLIT: {
			size_t used = strlen(split);

			h->writers++;
			snprintf(split + used, sizeof(split) - used, "%s%.63s",
			         used > 0 ? ", " : "", s->node);
			break;
		}
		case RR_V_OUTRANKED:
			by = rr_outranked_by(in, n, i);
			ctl_problem(h,
			            "%.63s is primary on timeline %u below %.63s on timeline %u: "
			            "not fenced yet",
			            s->node, (unsigned)s->pg.tl,
			            by >= 0 ? nodes[by].st.node : "another node",
			            by >= 0 ? (unsigned)nodes[by].st.pg.tl : 0U);
			break;
		case RR_V_READER:
		case RR_V_STANDBY:
		case RR_V_STALE:
		case RR_V_NO_PG:
		case RR_V_DOWN:
		case RR_V_FOREIGN:
		case RR_V_FENCED:
		case RR_V_MAINT:
		case RR_V_DRAIN:
		case RR_V_NOT_STREAMING:
		case RR_V_LAGGING:
		case RR_V_COUNT:
			break;
		}
	}
	switch (d.status) {
	case RR_STATUS_OK:
		break;
	case RR_STATUS_NO_PRIMARY:
	case RR_STATUS_STALE:
		if (pg_nodes > 0)
			ctl_problem(h, "no primary: no node has a writable PostgreSQL%s",
			            d.status == RR_STATUS_STALE ? " among those that answered"
			                                        : "");
		break;
	case RR_STATUS_SPLIT_BRAIN:
		ctl_problem(h, "split-brain: %zu writable primaries: %s", h->writers, split);
		break;
	case RR_STATUS_COUNT:
		break;
	}
}

/* Adds a problem for each local service of the ready node <s> that is not working: a
 * PostgreSQL, app or nginx probe down, a standby that does not stream. */
static void ctl_probe_problems(struct ctl_health *h, const struct node_state *s)
{
	if (s->pg.present && !s->pg.up)
		ctl_problem(h, "%.63s: PostgreSQL is down%s%.100s", s->node,
		            s->pg.err[0] != '\0' ? ": " : "", s->pg.err);
	else if (s->pg.present && s->pg.role == NS_ROLE_STANDBY && !s->pg.streaming)
		ctl_problem(h, "%.63s: standby is not streaming from a primary", s->node);
	if (s->app.present && !s->app.up)
		ctl_problem(h, "%.63s: app is down%s%.100s", s->node,
		            s->app.err[0] != '\0' ? ": " : "", s->app.err);
	if (s->nginx.present && !s->nginx.up)
		ctl_problem(h, "%.63s: nginx is down%s%.100s", s->node,
		            s->nginx.err[0] != '\0' ? ": " : "", s->nginx.err);
}

/* Applies the rules of ctl.h to <n> nodes; fills <h>. */
void ctl_health_eval(const struct ctl_node *nodes, size_t n, struct ctl_health *h)
{
	const struct node_state *first = NULL;
	const char *sysid_node = NULL;
	const char *sysid = NULL;
	size_t pg_nodes = 0;
	size_t i;

	memset(h, 0, sizeof(*h));
	for (i = 0; i < n; i++) {
		const struct ctl_node *c = &nodes[i];
		const struct node_state *s = &c->st;

		if (!c->reachable) {
			ctl_problem(h, "%.63s (%s): no state: %s", c->name, c->address, c->err);
			continue;
		}
		if (first == NULL)
			first = s;
		else if (strcmp(first->cluster, s->cluster) != 0)
			ctl_problem(h, "%.63s is in cluster '%.63s', %.63s in '%.63s'", s->node,
			            s->cluster, first->node, first->cluster);
		if (s->pg.present)
			pg_nodes++;
		if (s->pg.present && s->pg.sysid[0] != '\0') {
			if (sysid == NULL) {
				sysid = s->pg.sysid;
				sysid_node = s->node;
			} else if (strcmp(sysid, s->pg.sysid) != 0) {
				ctl_problem(h, "%.63s has system identifier %s, %.63s has %s",
				            s->node, s->pg.sysid, sysid_node, sysid);
			}
		}
		if (s->fenced)
			ctl_problem(h, "%.63s is FENCED: %.127s", s->node, s->fence_reason);
		/* A node the operator took out (drain, maint) may have its services down. */
		if (s->admin == NS_ADMIN_READY)
			ctl_probe_problems(h, s);
	}
	ctl_route_eval(nodes, n, pg_nodes, h);
}

/* Fills <cell> with the role column of <s>. */
static void ctl_role_cell(const struct node_state *s, char *cell, size_t len)
{
	const char *extra = "";

	if (!s->pg.present) {
		snprintf(cell, len, "-");
		return;
	}
	if (!s->pg.up) {
		snprintf(cell, len, "down");
		return;
	}
	if (s->fenced)
		extra = ", FENCED";
	else if (s->pg.role == NS_ROLE_STANDBY && s->pg.paused)
		extra = ", paused";
	else if (s->pg.role == NS_ROLE_STANDBY && !s->pg.streaming)
		extra = ", not streaming";
	snprintf(cell, len, "%s%s", ns_role_name(s->pg.role), extra);
}

static void ctl_lag_cell(const struct node_state *s, char *cell, size_t len)
{
	uint64_t b = s->pg.lag_bytes;
	char ms[32] = "";

	if (!s->pg.present || !s->pg.up || s->pg.role != NS_ROLE_STANDBY) {
		snprintf(cell, len, "-");
		return;
	}
	/* Without a WAL receiver the standby's lag is not known: "0 B" would read as caught up. */
	if (!s->pg.streaming) {
		snprintf(cell, len, "not streaming");
		return;
	}
	if (s->pg.lag_ms > 0)
		snprintf(ms, sizeof(ms), ", %" PRIu64 " ms", s->pg.lag_ms);
	if (b < 1024)
		snprintf(cell, len, "%" PRIu64 " B%s", b, ms);
	else if (b < 1024 * 1024)
		snprintf(cell, len, "%.1f kB%s", (double)b / 1024, ms);
	else
		snprintf(cell, len, "%.1f MB%s", (double)b / (1024 * 1024), ms);
}

static void ctl_probe_cell(const struct ns_probe *p, char *cell, size_t len)
{
	if (!p->present)
		snprintf(cell, len, "-");
	else if (p->up)
		snprintf(cell, len, "up %" PRIu32 " ms", p->ms);
	else
		snprintf(cell, len, "down");
}

/* The table's cells, row-major, heap-allocated. */
struct ctl_grid {
	char (*cell)[CTL_CELL];                       /* rows x CTL_COLS cells */
	size_t rows;                                  /* header included */
	size_t cols;                                  /* used columns */
	char check_names[NS_CHECKS_MAX][NS_NAME_MAX]; /* check columns, first-seen order */
	size_t n_checks;                              /* used entries of <check_names> */
	size_t width[CTL_COLS];                       /* widest cell per column */
};

static char *ctl_cell(struct ctl_grid *g, size_t row, size_t col)
{
	return g->cell[row * CTL_COLS + col];
}

static int ctl_grid_build(struct ctl_grid *g, const struct ctl_node *nodes, size_t n)
{
	size_t r;
	size_t c;

	memset(g, 0, sizeof(*g));
	g->rows = n + 1;
	g->cell = calloc(g->rows * CTL_COLS, sizeof(*g->cell));
	if (g->cell == NULL)
		return -1;
	for (r = 0; r < n; r++) {
		const struct node_state *s = &nodes[r].st;

		for (size_t k = 0; nodes[r].reachable && k < s->n_checks; k++) {
			for (c = 0; c < g->n_checks; c++) {
				if (strcmp(g->check_names[c], s->checks[k].name) == 0)
					break;
			}
			if (c == g->n_checks && g->n_checks < NS_CHECKS_MAX)
				memcpy(g->check_names[g->n_checks++], s->checks[k].name,
				       NS_NAME_MAX);
		}
	}
	g->cols = CTL_FIXED_COLS + g->n_checks;
	for (c = 0; c < CTL_FIXED_COLS; c++)
		snprintf(ctl_cell(g, 0, c), CTL_CELL, "%s", ctl_fixed_head[c]);
	for (c = 0; c < g->n_checks; c++)
		snprintf(ctl_cell(g, 0, CTL_FIXED_COLS + c), CTL_CELL, "%s", g->check_names[c]);
	for (r = 0; r < n; r++) {
		const struct ctl_node *nd = &nodes[r];
		const struct node_state *s = &nd->st;
		size_t row = r + 1;

		snprintf(ctl_cell(g, row, 0), CTL_CELL, "%s", nd->name);
		snprintf(ctl_cell(g, row, 1), CTL_CELL, "%s", nd->address);
		if (!nd->reachable) {
			snprintf(ctl_cell(g, row, 2), CTL_CELL, "unreachable");
			for (c = 3; c < g->cols; c++)
				snprintf(ctl_cell(g, row, c), CTL_CELL, "?");
			continue;
		}
		ctl_role_cell(s, ctl_cell(g, row, 2), CTL_CELL);
		if (s->pg.present && s->pg.tl > 0)
			snprintf(ctl_cell(g, row, 3), CTL_CELL, "%" PRIu32, s->pg.tl);
		else
			snprintf(ctl_cell(g, row, 3), CTL_CELL, "-");
		ctl_lag_cell(s, ctl_cell(g, row, 4), CTL_CELL);
		ctl_probe_cell(&s->app, ctl_cell(g, row, 5), CTL_CELL);
		ctl_probe_cell(&s->nginx, ctl_cell(g, row, 6), CTL_CELL);
		snprintf(ctl_cell(g, row, 7), CTL_CELL, "%s%s%.40s", ns_admin_name(s->admin),
		         s->admin_reason[0] != '\0' ? ": " : "", s->admin_reason);
		for (c = 0; c < g->n_checks; c++) {
			const struct ns_check *k = ns_find_check(s, g->check_names[c]);

			snprintf(ctl_cell(g, row, CTL_FIXED_COLS + c), CTL_CELL, "%s",
			         k != NULL ? k->line : "-");
		}
	}
	for (r = 0; r < g->rows; r++) {
		for (c = 0; c < g->cols; c++) {
			size_t w = strlen(ctl_cell(g, r, c));

			if (w > g->width[c])
				g->width[c] = w;
		}
	}
	return 0;
}

static int ctl_rule(const struct ctl_grid *g, struct buf *out)
{
	for (size_t c = 0; c < g->cols; c++) {
		if (buf_append(out, "+", 1) == -1)
			return -1;
		for (size_t i = 0; i < g->width[c] + 2; i++) {
			if (buf_append(out, "-", 1) == -1)
				return -1;
		}
	}
	return buf_append(out, "+\n", 2);
}

static int ctl_row(struct ctl_grid *g, size_t r, struct buf *out)
{
	for (size_t c = 0; c < g->cols; c++) {
		if (buf_printf(out, "| %-*s ", (int)g->width[c], ctl_cell(g, r, c)) == -1)
			return -1;
	}
	return buf_append(out, "|\n", 2);
}

/* Appends the status table, then the verdict ("Cluster healthy" or the problems), to <out>.
 * Returns 0, or -1 when <out> is full or memory ran out. */
int ctl_format_table(const struct ctl_node *nodes, size_t n, const struct ctl_health *h,
                     struct buf *out)
{
	const char *cluster = "?";
	struct ctl_grid g;
	int ret = -1;
	size_t i;

	for (i = 0; i < n; i++) {
		if (nodes[i].reachable) {
			cluster = nodes[i].st.cluster;
			break;
		}
	}
	if (ctl_grid_build(&g, nodes, n) == -1)
		return -1;
	if (buf_printf(out, "Cluster: %s (%zu node%s)\n", cluster, n, n == 1 ? "" : "s") == -1 ||
	    ctl_rule(&g, out) == -1 || ctl_row(&g, 0, out) == -1 || ctl_rule(&g, out) == -1)
		goto out_free;
	for (i = 1; i < g.rows; i++) {
		if (ctl_row(&g, i, out) == -1)
			goto out_free;
	}
	if (ctl_rule(&g, out) == -1)
		goto out_free;
	if (h->n == 0) {
		if (buf_printf(out, "Cluster healthy.\n") == -1)
			goto out_free;
	} else {
		if (buf_printf(out, "Cluster UNHEALTHY:\n") == -1)
			goto out_free;
		for (i = 0; i < h->n; i++) {
			if (buf_printf(out, "  - %s\n", h->problems[i]) == -1)
				goto out_free;
		}
	}
	ret = 0;
out_free:
	free(g.cell);
	return ret;
}

/* Appends one JSON document: {"healthy", "status", "writer", "writers", "problems": [...],
 * "nodes": [{"name",
 * "address", "reachable", "error" | "state": <ns_to_json>}]} and a newline. */
int ctl_format_json(const struct ctl_node *nodes, size_t n, const struct ctl_health *h,
                    struct buf *out)
{
	size_t i;

	if (buf_printf(out, "{\"healthy\":%s,\"status\":\"%s\",\"writer\":",
	               h->n == 0 ? "true" : "false", rr_status_name(h->status)) == -1)
		return -1;
	if (h->writer >= 0 && (size_t)h->writer < n) {
		if (ns_json_str(out, nodes[h->writer].name) == -1)
			return -1;
	} else if (buf_printf(out, "null") == -1) {
		return -1;
	}
	if (buf_printf(out, ",\"writers\":%zu,\"problems\":[", h->writers) == -1)
		return -1;
	for (i = 0; i < h->n; i++) {
		if ((i > 0 && buf_append(out, ",", 1) == -1) ||
		    ns_json_str(out, h->problems[i]) == -1)
			return -1;
	}
	if (buf_printf(out, "],\"nodes\":[") == -1)
		return -1;
	for (i = 0; i < n; i++) {
		const struct ctl_node *c = &nodes[i];

		if ((i > 0 && buf_append(out, ",", 1) == -1) ||
		    buf_printf(out, "{\"name\":") == -1 || ns_json_str(out, c->name) == -1 ||
		    buf_printf(out, ",\"address\":") == -1 || ns_json_str(out, c->address) == -1 ||
		    buf_printf(out, ",\"reachable\":%s,", c->reachable ? "true" : "false") == -1)
			return -1;
		if (c->reachable) {
			if (buf_printf(out, "\"state\":") == -1 || ns_to_json(&c->st, out) == -1)
				return -1;
		} else {
			if (buf_printf(out, "\"error\":") == -1 || ns_json_str(out, c->err) == -1)
				return -1;
		}
		if (buf_append(out, "}", 1) == -1)
			return -1;
	}
	return buf_printf(out, "]}\n");
}
