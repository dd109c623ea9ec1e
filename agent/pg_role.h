/* agent/pg_role.h - the PostgreSQL probe's role and lag decision (pure, no I/O). Prefix: pgp_
 * (a part of the probe, agent/pg_probe.h, whose comment states the lag rules).
 *
 * From one decoded row (agent/pg_row.h) it decides what the feed says of the node: primary or
 * standby, timeline, lag in bytes and time, streaming, paused. */
#ifndef HAPROLE_AGENT_PG_ROLE_H
#define HAPROLE_AGENT_PG_ROLE_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/pg_row.h"
#include "common/node_state.h"

/* What pgp_apply_sample() remembers between samples. Zero it on (re)connect. */
struct pgp_lag_state {
	int64_t caught_up_ms; /* server time of the last sample with replay == receive, 0 never */
};

/* Is the server of row <s> the writable primary? PostgreSQL takes writes exactly when it is
 * not in recovery (pg_is_in_recovery() false; a standby, promoted or not yet, answers true
 * until its promotion ends). This is the node's own view: whether writes are routed to it is
 * decided from every node's feed (common/route_rule.h), fencing (agent/fence.h) and the
 * operator's admin state. */
bool pgp_is_writable_primary(const struct pgp_sample *s);

/* Applies the lag rules above: fills role, tl, sysid, lsn, lag_bytes, lag_ms, streaming and
 * paused of <out> from <s> (leaves present, up and err alone) and updates <lag>.
 * <receiver_timeout_ms> 0 disables the receipt-age rule. */
void pgp_apply_sample(const struct pgp_sample *s, int64_t receiver_timeout_ms,
                      struct pgp_lag_state *lag, struct ns_pg *out);

#endif /* HAPROLE_AGENT_PG_ROLE_H */
