/* spoe/route.c - builds routing snapshots (see route.h). Runs on feed updates, never on the
 * NOTIFY path: it may allocate and log. */
#include "spoe/route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "spoe/spop_codec.h"

static const char *const route_err_names[ROUTE_ERR_COUNT] = {
	[ROUTE_ERR_UNKNOWN_MSG] = "unknown-message",
	[ROUTE_ERR_BAD_ARGS] = "bad-args",
};

const char *route_err_name(enum route_err e)
{
	return (unsigned)e < ROUTE_ERR_COUNT ? route_err_names[e] : "?";
}

static int set_str(uint8_t **p, uint8_t *end, const char *var, const char *val)
{
	struct spop_data d = { .type = SPOP_DATA_STRING,
		               .ptr = (const uint8_t *)val,
		               .len = strlen(val) };

	return spop_action_set_var(p, end, SPOP_SCOPE_TXN, var, &d);
}

/* docs/design.md section 8: writer (unset when none), reader (unset when none), status, epoch. */
static int encode_entry(struct route_entry *e, const struct route_input *in)
{
	uint8_t *p = e->actions, *end = e->actions + sizeof(e->actions);
	struct spop_data ep = { .type = SPOP_DATA_INT64, .u = in->epoch };

	if (in->writer[0] != '\0') {
		if (set_str(&p, end, ROUTE_VAR_WRITER, in->writer) < 0)
			return -1;
	} else if (spop_action_unset_var(&p, end, SPOP_SCOPE_TXN, ROUTE_VAR_WRITER) < 0) {
		return -1;
	}
	if (in->reader[0] != '\0') {
		if (set_str(&p, end, ROUTE_VAR_READER, in->reader) < 0)
			return -1;
	} else if (spop_action_unset_var(&p, end, SPOP_SCOPE_TXN, ROUTE_VAR_READER) < 0) {
		return -1;
	}
	if (set_str(&p, end, ROUTE_VAR_STATUS, cv_status_name(in->status)) < 0 ||
	    spop_action_set_var(&p, end, SPOP_SCOPE_TXN, ROUTE_VAR_EPOCH, &ep) < 0)
		return -1;
	e->actions_len = (size_t)(p - e->actions);
	return 0;
}

/* A snapshot of <n> clusters. Returns NULL (logged) when out of memory or when a name does
 * not fit its encoded actions; the caller keeps the previous snapshot then. */
struct route_table *route_build(const struct route_input *in, size_t n, uint64_t version)
{
	struct route_table *t;
	size_t i;

	t = calloc(1, sizeof(*t) + n * sizeof(t->e[0]));
	if (t == NULL) {
		log_error("routing table: out of memory for %zu clusters", n);
		return NULL;
	}
	t->version = version;
	t->n = n;
	for (i = 0; i < ROUTE_ERR_COUNT; i++) {
		uint8_t *p = t->err_actions[i], *end = p + sizeof(t->err_actions[i]);

		if (set_str(&p, end, ROUTE_VAR_ERROR, route_err_names[i]) < 0)
			goto out_free;
		t->err_len[i] = (size_t)(p - t->err_actions[i]);
	}
	for (i = 0; i < n; i++) {
		struct route_entry *e = &t->e[i];

		snprintf(e->cluster, sizeof(e->cluster), "%s", in[i].cluster);
		e->cluster_len = strlen(e->cluster);
		e->status = in[i].status;
		e->hold = in[i].hold && in[i].hold_max > 0;
		e->hold_max = in[i].hold_max;
		e->epoch = in[i].epoch;
		e->has_writer = in[i].writer != NULL && in[i].writer[0] != '\0';
		if (encode_entry(e, &in[i]) < 0) {
			log_error("routing table: cluster %s: actions do not fit %d bytes",
			          in[i].cluster, ROUTE_ACTIONS_MAX);
			goto out_free;
		}
	}
	return t;

out_free:
	free(t);
	return NULL;
}

/* A snapshot of every cluster of <cv>, as decided now. */
struct route_table *route_build_view(const struct cluster_view *cv, uint64_t version)
{
	struct route_input in[SPOA_CLUSTERS_MAX];
	size_t i;

	for (i = 0; i < cv->n_clusters; i++) {
		const struct cv_cluster *c = &cv->clusters[i];

		in[i].cluster = c->name;
		in[i].status = c->d.status;
		in[i].writer = c->writer;
		in[i].reader = c->reader;
		in[i].epoch = c->epoch;
		in[i].hold = c->hold;
		in[i].hold_max = c->hold_max;
	}
	return route_build(in, cv->n_clusters, version);
}

void route_free(struct route_table *t)
{
	free(t);
}
