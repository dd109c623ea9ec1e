/* agent/pg_role.c - the PostgreSQL probe's role and lag decision. See pg_role.h. */
#include "agent/pg_role.h"

#include <string.h>

bool pgp_is_writable_primary(const struct pgp_sample *s)
{
	return !s->in_recovery;
}

void pgp_apply_sample(const struct pgp_sample *s, int64_t receiver_timeout_ms,
                      struct pgp_lag_state *lag, struct ns_pg *out)
{
	bool behind;

	out->tl = s->tl;
	memcpy(out->sysid, s->sysid, sizeof(out->sysid));
	if (pgp_is_writable_primary(s)) {
		out->role = NS_ROLE_PRIMARY;
		out->lsn = s->current_lsn;
		out->lag_bytes = 0;
		out->lag_ms = 0;
		out->streaming = false;
		out->paused = false;
		memcpy(out->repl, s->repl, sizeof(out->repl));
		lag->caught_up_ms = 0;
		return;
	}
	out->role = NS_ROLE_STANDBY;
	out->repl[0] = '\0';
	out->lsn = s->has_replay ? s->replay_lsn : 0;
	behind = s->has_receive && s->has_replay && s->receive_lsn > s->replay_lsn;
	if (behind) {
		/* replay is at least as recent as the last replayed commit and as the last time we
		 * saw it caught up: the later of the two bounds the lag best */
		int64_t base =
		    s->replay_ts_ms > lag->caught_up_ms ? s->replay_ts_ms : lag->caught_up_ms;

		out->lag_bytes = s->receive_lsn - s->replay_lsn;
		out->lag_ms = base > 0 && s->now_ms > base ? (uint64_t)(s->now_ms - base) : 0;
	} else {
		/* nothing received is left to replay: an idle primary is no lag */
		out->lag_bytes = 0;
		out->lag_ms = 0;
		lag->caught_up_ms = s->now_ms;
	}
	out->streaming = s->has_receiver && s->receiver_streaming;
	if (out->streaming && receiver_timeout_ms > 0 &&
	    (s->receipt_ms <= 0 || s->now_ms - s->receipt_ms > receiver_timeout_ms))
		out->streaming = false;
	out->paused = s->paused;
}
