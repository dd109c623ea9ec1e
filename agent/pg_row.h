/* agent/pg_row.h - the PostgreSQL probe's query and its row decoder (pure, no I/O). Prefix: pgp_
 * (a part of the probe, agent/pg_probe.h).
 *
 * PGP_QUERY returns everything the probe needs in one row; pgp_parse_row() decodes the texts
 * libpq hands over into a struct pgp_sample, refusing a malformed column by name.
 * tests/unit/test_pg_probe.c and tests/fuzz/fuzz_pg_row.c drive it. */
#ifndef HAPROLE_AGENT_PG_ROW_H
#define HAPROLE_AGENT_PG_ROW_H

#include <stdbool.h>
#include <stdint.h>

#include "common/compiler.h"
#include "common/node_state.h"

/* Columns of PGP_QUERY, in order. */
enum pgp_col {
	PGP_COL_IN_RECOVERY = 0, /* "t" / "f" */
	PGP_COL_WALFILE,         /* primary: pg_walfile_name(pg_current_wal_lsn()); standby NULL */
	PGP_COL_RECEIVED_TLI, /* standby: receiver's or last checkpoint's timeline; primary NULL */
	PGP_COL_SYSID,        /* system identifier, decimal */
	PGP_COL_CURRENT_LSN,  /* primary: "X/Y"; standby NULL */
	PGP_COL_RECEIVE_LSN,  /* standby: pg_last_wal_receive_lsn(), may be NULL */
	PGP_COL_REPLAY_LSN,   /* standby: pg_last_wal_replay_lsn(), may be NULL */
	PGP_COL_REPLAY_TS_MS, /* pg_last_xact_replay_timestamp() in ms since epoch, may be NULL */
	PGP_COL_NOW_MS,       /* server's clock_timestamp() in ms since epoch */
	PGP_COL_RECEIVER_STATUS, /* pg_stat_wal_receiver.status, NULL when no receiver */
	PGP_COL_RECEIPT_MS,      /* pg_stat_wal_receiver.last_msg_receipt_time in ms, may be NULL */
	PGP_COL_PAUSE_STATE,     /* standby: pg_get_wal_replay_pause_state(); primary NULL */
	PGP_COL_REPL,            /* primary: "NAME=SYNC_STATE,..." of its streaming standbys
	                            (pg_stat_replication); standby or none: NULL */
	PGP_COL_COUNT            /* keep last: number of columns */
};

/* The query whose columns are enum pgp_col; exposed for tests and for the README. */
extern const char PGP_QUERY[];

/* One query row, decoded. Timestamps are the server's clock, so lag needs no clock sync. */
struct pgp_sample {
	bool in_recovery;         /* pg_is_in_recovery() */
	uint32_t tl;              /* timeline, 0 when unknown */
	char sysid[NS_SYSID_MAX]; /* system identifier, "" when unknown */
	uint64_t current_lsn;     /* primary: current WAL write position */
	bool has_receive;         /* <receive_lsn> is known */
	uint64_t receive_lsn;     /* standby: last WAL received and flushed */
	bool has_replay;          /* <replay_lsn> is known */
	uint64_t replay_lsn;      /* standby: last WAL replayed */
	int64_t replay_ts_ms;     /* commit time of the last replayed transaction, 0 unknown */
	int64_t now_ms;           /* server's clock at query time */
	bool has_receiver;        /* a WAL receiver process exists */
	bool receiver_streaming;  /* its status is "streaming" */
	int64_t receipt_ms;       /* its last message from the primary, 0 unknown */
	bool paused;              /* replay paused or pause requested */
	char repl[NS_REPL_MAX];   /* primary: PGP_COL_REPL, cut at a ',' to fit; "" none */
};

/* Parses "X/Y" (two hex numbers, as PostgreSQL prints pg_lsn) into a 64-bit position.
 * Returns 0, or -1 on anything else (empty, sign, spaces, more than 8 hex digits a side). */
int pgp_parse_lsn(const char *s, uint64_t *out) HR_MUSTCHECK;

/* Decodes one row: <vals>[PGP_COL_COUNT], NULL for SQL NULL. Returns 0, or -1 with <*why> a
 * static text naming the bad column. Requires in_recovery, sysid and now_ms. */
int pgp_parse_row(const char *const *vals, struct pgp_sample *out, const char **why) HR_MUSTCHECK;

#endif /* HAPROLE_AGENT_PG_ROW_H */
