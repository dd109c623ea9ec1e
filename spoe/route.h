/* spoe/route.h - the read-only routing snapshot NOTIFYs are answered from. Prefix: route_.
 *
 * Built whole from the cluster view's decisions after every change, then swapped in by pointer
 * (the loop is single-threaded: the old one is freed right after the swap, between callbacks).
 * Each entry carries its ACK actions already encoded (set-var writer/reader/status/epoch, or
 * unset-var writer when there is none), so answering a NOTIFY is one memcpy: no allocation, no
 * encoding, no lookup but a scan of a few cluster names. */
#ifndef HAPROLE_SPOE_ROUTE_H
#define HAPROLE_SPOE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "spoe/cluster_view.h"

#define ROUTE_ACTIONS_MAX 320 /* encoded actions of one entry: 4 actions, names <= 48 bytes */

/* Variable names, in transaction scope; HAProxy prefixes them with the engine's var-prefix
 * ("haprole" in haproxy/spoe-haprole.conf): txn.haprole.writer and so on. */
#define ROUTE_VAR_WRITER "writer"
#define ROUTE_VAR_READER "reader"
#define ROUTE_VAR_STATUS "status"
#define ROUTE_VAR_EPOCH  "epoch"
#define ROUTE_VAR_ERROR  "error"

/* What one cluster routes to now (input of route_build). */
struct route_input {
	const char *cluster;   /* cluster name: the SPOE arg `cluster` */
	enum cv_status status; /* ok / no-primary / split-brain / stale */
	const char *writer;    /* server name, "" none */
	const char *reader;    /* server name, "" none */
	uint64_t epoch;        /* writer epoch */
	bool hold;             /* hold window open (spoe/hold.h) */
	double hold_max;       /* seconds a write may be held; 0 never */
};

struct route_entry {
	char cluster[CFG_NAME_MAX];         /* cluster name */
	size_t cluster_len;                 /* strlen(cluster) */
	enum cv_status status;              /* for status pages */
	bool hold;                          /* write NOTIFYs wait (window open, hold_max > 0) */
	double hold_max;                    /* seconds they may wait */
	uint64_t epoch;                     /* writer epoch (a retry waits for it to change) */
	bool has_writer;                    /* a writer is set (status ok) */
	uint8_t actions[ROUTE_ACTIONS_MAX]; /* encoded LIST-OF-ACTIONS */
	size_t actions_len;                 /* bytes used in <actions> */
};

/* An ACK for a NOTIFY we cannot route (unknown message, bad args): one harmless action, since
 * HAProxy 3.1 mishandles an ACK with no action at all (docs/design.md section 11). */
enum route_err {
	ROUTE_ERR_UNKNOWN_MSG = 0, /* no haprole-route message in the NOTIFY */
	ROUTE_ERR_BAD_ARGS,        /* cluster missing/unknown, or intent not write|read */
	ROUTE_ERR_COUNT            /* keep last */
};

struct route_table {
	uint64_t version;                         /* bumps per build (status pages) */
	uint8_t err_actions[ROUTE_ERR_COUNT][64]; /* encoded set-var error=<kind> */
	size_t err_len[ROUTE_ERR_COUNT];          /* bytes used in each */
	size_t n;                                 /* entries */
	struct route_entry e[];                   /* one per cluster */
};

struct route_table *route_build(const struct route_input *in, size_t n, uint64_t version);
struct route_table *route_build_view(const struct cluster_view *cv, uint64_t version);
void route_free(struct route_table *t);
const char *route_err_name(enum route_err e);

/* The entry of cluster <name> (<len> bytes, not NUL-terminated), NULL when unknown. */
static inline const struct route_entry *route_find(const struct route_table *t, const uint8_t *name,
                                                   size_t len)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (t->e[i].cluster_len == len && __builtin_memcmp(t->e[i].cluster, name, len) == 0)
			return &t->e[i];
	return NULL;
}

#endif /* HAPROLE_SPOE_ROUTE_H */
