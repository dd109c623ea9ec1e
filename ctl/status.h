/* ctl/status.h - what haprolectl shows, as pure functions over the states it collected: the
 * status table (like `patronictl list`), the JSON document, and the cluster health rules that
 * decide its exit code. Prefix: ctl_. No I/O: ctl/main.c collects, this formats; the unit
 * test (tests/unit/test_haprolectl.c) drives it with tables of cluster situations.
 *
 * Health rules (any broken one makes the cluster unhealthy, exit code 1):
 *   - every listed agent answered with a state;
 *   - all agents report the same cluster name, and the same PostgreSQL system identifier;
 *   - among nodes with a PostgreSQL probe, the one writer rule (common/route_rule.h, the rule
 *     the SPOA routes by) finds a writer: none is "no primary", two writable primaries on the
 *     highest timeline is "split-brain";
 *   - no primary is left below a newer one's timeline unfenced, and no node is fenced (an old
 *     primary is running beside the new one);
 *   - on every node in admin state ready: each probe it has is up (PostgreSQL, app, nginx) and
 *     a standby streams. A drained or maintained node is what the operator asked for. */
#ifndef HAPROLE_CTL_STATUS_H
#define HAPROLE_CTL_STATUS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/compiler.h"
#include "common/node_state.h"
#include "common/route_rule.h"

#define CTL_NODES_MAX   64  /* agents one haprolectl call asks */
#define CTL_PROBLEM_MAX 200 /* one problem sentence, with NUL */
#define CTL_PROBLEMS    16  /* problems listed; more are counted in the last one */

/* One agent asked, and what it said. */
struct ctl_node {
	char name[NS_NAME_MAX]; /* node name: from its state, else from the config or address */
	char address[64];       /* agent port as given ("127.0.0.1:5555") */
	bool reachable;         /* <st> holds the state it sent */
	char err[160];          /* unreachable: why ("connect: Connection refused") */
	struct node_state st;   /* its state, when <reachable> */
};

/* Problems found by ctl_health(). */
struct ctl_health {
	char problems[CTL_PROBLEMS][CTL_PROBLEM_MAX]; /* one sentence each */
	size_t n;                                     /* used entries */
	size_t writers;                               /* writable primaries on the top timeline */
	enum rr_status status;                        /* the writer rule's status */
	int writer;                                   /* index of the writer, -1 none */
};

void ctl_health_eval(const struct ctl_node *nodes, size_t n, struct ctl_health *h);
/* Appends one problem sentence to <h> (haprolectl adds HAProxy's and the SPOA's). */
void ctl_problem(struct ctl_health *h, const char *fmt, ...) HR_PRINTF(2, 3);
int ctl_format_table(const struct ctl_node *nodes, size_t n, const struct ctl_health *h,
                     struct buf *out) HR_MUSTCHECK;
int ctl_format_json(const struct ctl_node *nodes, size_t n, const struct ctl_health *h,
                    struct buf *out) HR_MUSTCHECK;

#endif /* HAPROLE_CTL_STATUS_H */
