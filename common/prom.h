/* common/prom.h - Prometheus text format 0.0.4, written from tables: the one metrics writer of
 * haprole-agent (agent/agent_metrics.c) and haprole-spoa (spoe/status_http.c). Prefix: prom_.
 *
 * A table lists counters and gauges read as uint64_t at an offset in the caller's stats
 * struct, one row a sample. Consecutive rows of the same name are one family: its # HELP and
 * # TYPE lines are written once, before the first, and each row adds its labels. Pure: writes
 * into a bounded struct buf; -1 when it is full (the caller answers 503 or rolls back). */
#ifndef HAPROLE_COMMON_PROM_H
#define HAPROLE_COMMON_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/compiler.h"

enum prom_type {
	PROM_COUNTER = 0, /* only goes up; name ends in _total */
	PROM_GAUGE,       /* a value now */
	PROM_TYPE_COUNT   /* keep last */
};

/* One sample of a table. */
struct prom_metric {
	const char *name;    /* family name, "haprole_spoa_hello_total" */
	enum prom_type type; /* counter or gauge */
	const char *labels;  /* NULL, or the labels of this sample: "dialect=\"http\"" */
	size_t offset;       /* of its uint64_t value in the struct given to prom_write() */
	const char *help;    /* the family's help line (the first row's is written) */
};

/* Writes the <n> samples of <t>, their values read from <base>. Returns 0 or -1 (full). */
int prom_write(struct buf *b, const struct prom_metric *t, size_t n, const void *base) HR_MUSTCHECK;

/* Writes one family's # HELP and # TYPE lines. Returns 0 or -1 (full). */
int prom_head(struct buf *b, const char *name, enum prom_type type, const char *help) HR_MUSTCHECK;

/* Writes a family of one unlabelled sample <v>. Returns 0 or -1 (full). */
int prom_one(struct buf *b, const char *name, enum prom_type type, const char *help,
             uint64_t v) HR_MUSTCHECK;

/* Appends <s> as a label value: '\\', '"' and newlines escaped. Returns 0 or -1 (full). */
int prom_label(struct buf *b, const char *s) HR_MUSTCHECK;

#endif /* HAPROLE_COMMON_PROM_H */
