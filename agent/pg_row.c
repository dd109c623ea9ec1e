/* agent/pg_row.c - the PostgreSQL probe's query and row decoder. See pg_row.h. */
#include "agent/pg_row.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* One query, one row: pg_is_in_recovery() is read once in the sub-select so that every CASE
 * sees the same role. pg_walfile_name() and pg_get_wal_replay_pause_state() raise errors in the
 * other role, hence the CASEs. pg_stat_wal_receiver has 0 or 1 row. */
const char PGP_QUERY[] =
    "SELECT s.r,"
    " CASE WHEN NOT s.r THEN pg_walfile_name(pg_current_wal_lsn()) END,"
    " CASE WHEN s.r THEN coalesce(w.received_tli,"
    " (SELECT timeline_id FROM pg_control_checkpoint())) END,"
    " (SELECT system_identifier FROM pg_control_system()),"
    " CASE WHEN NOT s.r THEN pg_current_wal_lsn() END,"
    " pg_last_wal_receive_lsn(),"
    " pg_last_wal_replay_lsn(),"
    " (extract(epoch FROM pg_last_xact_replay_timestamp()) * 1000)::bigint,"
    " (extract(epoch FROM clock_timestamp()) * 1000)::bigint,"
    " w.status,"
    " (extract(epoch FROM w.last_msg_receipt_time) * 1000)::bigint,"
    " CASE WHEN s.r THEN pg_get_wal_replay_pause_state() END,"
    " CASE WHEN NOT s.r THEN (SELECT string_agg(application_name || '=' || sync_state, ','"
    " ORDER BY application_name) FROM pg_stat_replication WHERE state = 'streaming') END"
    " FROM (SELECT pg_is_in_recovery() AS r) s LEFT JOIN pg_stat_wal_receiver w ON true";

/* Parses 1 to <maxdigits> hex digits of <s> up to <stop> (or the end). Returns the digits
 * used, or -1. */
static int pgp_parse_hex32(const char *s, char stop, int maxdigits, uint32_t *out)
{
	uint32_t v = 0;
	int i;

	for (i = 0; s[i] != '\0' && s[i] != stop; i++) {
		char ch = s[i];
		uint32_t d;

		if (i >= maxdigits)
			return -1;
		if (ch >= '0' && ch <= '9')
			d = (uint32_t)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			d = (uint32_t)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			d = (uint32_t)(ch - 'A' + 10);
		else
			return -1;
		v = (v << 4) | d;
	}
	if (i == 0)
		return -1;
	*out = v;
	return i;
}

int pgp_parse_lsn(const char *s, uint64_t *out)
{
	uint32_t hi;
	uint32_t lo;
	int n;

	if (s == NULL)
		return -1;
	n = pgp_parse_hex32(s, '/', 8, &hi);
	if (n < 0 || s[n] != '/')
		return -1;
	s += n + 1;
	n = pgp_parse_hex32(s, '\0', 8, &lo);
	if (n < 0 || s[n] != '\0')
		return -1;
	*out = ((uint64_t)hi << 32) | lo;
	return 0;
}

/* Strict decimal int64: optional '-', digits, nothing else. */
static int pgp_parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || s[0] == '\0' || s[0] == ' ' || s[0] == '+')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = (int64_t)v;
	return 0;
}

int pgp_parse_row(const char *const *vals, struct pgp_sample *out, const char **why)
{
	const char *v;
	int64_t i;

	memset(out, 0, sizeof(*out));

	v = vals[PGP_COL_IN_RECOVERY];
	if (v != NULL && strcmp(v, "t") == 0)
		out->in_recovery = true;
	else if (v != NULL && strcmp(v, "f") == 0)
		out->in_recovery = false;
	else {
		*why = "pg_is_in_recovery() is not t or f";
		return -1;
	}

	v = vals[PGP_COL_SYSID];
	if (v == NULL || v[0] == '\0' || strlen(v) >= sizeof(out->sysid) ||
	    strspn(v, "0123456789") != strlen(v)) {
		*why = "system_identifier is not a decimal number";
		return -1;
	}
	memcpy(out->sysid, v, strlen(v) + 1);

	if (pgp_parse_i64(vals[PGP_COL_NOW_MS], &out->now_ms) < 0) {
		*why = "clock_timestamp() is not an integer";
		return -1;
	}

	if (!out->in_recovery) {
		uint32_t tl;

		/* WAL file name: 8 hex digits of timeline, then log and segment numbers */
		v = vals[PGP_COL_WALFILE];
		if (v == NULL || strlen(v) != 24 || strspn(v, "0123456789ABCDEFabcdef") != 24) {
			*why = "pg_walfile_name() is not 24 hex digits";
			return -1;
		}
		{
			char head[9];

			memcpy(head, v, 8);
			head[8] = '\0';
			if (pgp_parse_hex32(head, '\0', 8, &tl) != 8) {
				*why = "pg_walfile_name() has no timeline";
				return -1;
			}
		}
		out->tl = tl;
		if (pgp_parse_lsn(vals[PGP_COL_CURRENT_LSN], &out->current_lsn) < 0) {
			*why = "pg_current_wal_lsn() is not an LSN";
			return -1;
		}
	} else {
		v = vals[PGP_COL_RECEIVED_TLI];
		if (v != NULL) {
			if (pgp_parse_i64(v, &i) < 0 || i < 0 || i > UINT32_MAX) {
				*why = "received_tli is not a timeline";
				return -1;
			}
			out->tl = (uint32_t)i;
		}
	}

	v = vals[PGP_COL_RECEIVE_LSN];
	if (v != NULL) {
		if (pgp_parse_lsn(v, &out->receive_lsn) < 0) {
			*why = "pg_last_wal_receive_lsn() is not an LSN";
			return -1;
		}
		out->has_receive = true;
	}
	v = vals[PGP_COL_REPLAY_LSN];
	if (v != NULL) {
		if (pgp_parse_lsn(v, &out->replay_lsn) < 0) {
			*why = "pg_last_wal_replay_lsn() is not an LSN";
			return -1;
		}
		out->has_replay = true;
	}
	v = vals[PGP_COL_REPLAY_TS_MS];
	if (v != NULL && pgp_parse_i64(v, &out->replay_ts_ms) < 0) {
		*why = "pg_last_xact_replay_timestamp() is not an integer";
		return -1;
	}
	v = vals[PGP_COL_RECEIVER_STATUS];
	if (v != NULL) {
		out->has_receiver = true;
		out->receiver_streaming = strcmp(v, "streaming") == 0;
	}
	v = vals[PGP_COL_RECEIPT_MS];
	if (v != NULL && pgp_parse_i64(v, &out->receipt_ms) < 0) {
		*why = "last_msg_receipt_time is not an integer";
		return -1;
	}
	v = vals[PGP_COL_PAUSE_STATE];
	if (v != NULL) {
		if (strcmp(v, "not paused") == 0)
			out->paused = false;
		else if (strcmp(v, "paused") == 0 || strcmp(v, "pause requested") == 0)
			out->paused = true;
		else {
			*why = "pg_get_wal_replay_pause_state() is not a known state";
			return -1;
		}
	}
	v = vals[PGP_COL_REPL];
	if (v != NULL) {
		size_t n = strlen(v);

		if (n >= sizeof(out->repl)) {
			/* too many standbys to list: keep the whole entries that fit */
			n = sizeof(out->repl) - 1;
			while (n > 0 && v[n] != ',')
				n--;
		}
		memcpy(out->repl, v, n);
		out->repl[n] = '\0';
	}
	return 0;
}
