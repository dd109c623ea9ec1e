/* agent/pg_probe.h - the PostgreSQL probe of haprole-agent. Prefix: pgp_.
 *
 * One persistent libpq connection, async API only, driven by the agent's libev loop (docs/design.md
 * sections 3 and 11): PQconnectStartParams() + PQconnectPoll() with PQsocket() re-read after
 * every poll and our own connect deadline (libpq's connect_timeout does not govern the async
 * API); PQsetnonblocking(), PQsendQuery(), PQflush() to 0, PQconsumeInput(), PQgetResult() only
 * while !PQisBusy(). Never PQexec, PQconnectdb, PQping or PQreset. TCP keepalives are asked for
 * in the connection parameters. A lost connection reconnects at once, then with a doubling
 * backoff up to <backoff_max>.
 *
 * Every <interval> one query (PGP_QUERY) returns everything in one row: role, timeline, system
 * identifier, LSNs, replay timestamp, WAL receiver status, replay pause state. The query runs
 * under <timeout>: a hung server (SIGSTOPped postmaster: the kernel still accepts TCP) is
 * noticed when the deadline passes; the connection is then closed, a failure counted, and a
 * reconnect started.
 *
 * Results land in a struct ns_pg (common/node_state.h):
 *   up         debounced by rise/fall (agent/rise_fall.h) over query results;
 *   role, tl, sysid, lsn, lag_bytes, lag_ms, streaming, paused
 *              from the last successful query; when <up> turns false they are reset to
 *              "unknown" (role NS_ROLE_UNKNOWN, tl 0, streaming false): fail closed;
 *   err        the last error ("" after a success).
 * A role change is never debounced: it is reported in the same loop iteration as the query
 * result that shows it (a promotion must reach the feed at once).
 *
 * Lag rules (pgp_apply_sample(), pure, unit tested):
 *   lag_bytes  standby: receive - replay (0 when receive is unknown or behind replay);
 *   lag_ms     counted ONLY while replay < receive: an idle primary writes no WAL, and
 *              "now - last replay timestamp" would grow on a healthy idle standby. While behind,
 *              lag_ms = server now - max(last replay timestamp, last time we saw it caught up);
 *   streaming  WAL receiver status is "streaming" (and, when <receiver_timeout> > 0, its
 *              last message is younger than that): receive == replay does not mean caught up
 *              when the receiver is gone;
 *   paused     pg_get_wal_replay_pause_state() is not "not paused".
 * The role uses pg_is_in_recovery(); the timeline on a primary is the first 8 hex digits of
 * pg_walfile_name(pg_current_wal_lsn()) (pg_control_checkpoint() is stale right after a
 * promotion), on a standby pg_stat_wal_receiver.received_tli (the last checkpoint's timeline
 * when no receiver runs).
 *
 * Accept check: the persistent connection talks to its own backend, which keeps answering when
 * only the postmaster hangs (SIGSTOP): new client connections then hang in the kernel's backlog
 * while our queries succeed. So every <accept_check> a short second connection goes to the same
 * address (TCP, or the unix socket) and sends a GSSENCRequest (PostgreSQL >= 12, protocol
 * section 55.2.1): a forked server process answers one byte ('G' or 'N') and, when we close,
 * exits without a log line (a CancelRequest would log "did not match any process"; an
 * SSLRequest answered 'S' logs "EOF detected"). No answer within <timeout>: the probe fails
 * ("postmaster accepts no connection") until a check passes again; the persistent connection
 * is kept.
 *
 * Burst: a role change must reach the feed within milliseconds of the event, not at the next
 * <interval>. When something says the role or the server's life is changing -- a file event in
 * <pgdata> (agent/pg_watch.h: promote, standby.signal, postmaster.pid), or a standby's WAL
 * receiver that stops streaming (its primary went away: a promotion may follow) -- the probe
 * queries at once and then every <burst_interval> until the role changes or <burst_for> passes
 * (pgp_kick()). The connection's own EOF already reconnects at once. Steady state is unchanged.
 *
 * The role needs pg_monitor (or superuser) to see pg_stat_wal_receiver and pg_control_system().
 *
 * Lifecycle: pgp_init() (no I/O), pgp_start(), pgp_reconfigure() on SIGHUP, pgp_stop(),
 * pgp_free(). Single-threaded; every callback runs from the loop. */
#ifndef HAPROLE_AGENT_PG_PROBE_H
#define HAPROLE_AGENT_PG_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <ev.h>

#include "agent/pg_watch.h"
#include "agent/rise_fall.h"
#include "common/cfg.h"
#include "common/compiler.h"
#include "common/node_state.h"

#define PGP_CONNINFO_MAX 512 /* conninfo string, with NUL (cfg key "conninfo") */
#define PGP_PGDATA_MAX   256 /* data directory path, with NUL (cfg key "pgdata") */

/* The [postgres] section of the agent config. Filled with cfg_set_defaults(pgp_conf_keys, ...)
 * then cfg_set_key(pgp_conf_keys, ...) per key; checked whole by pgp_conf_validate(). */
struct pgp_conf {
	char conninfo[PGP_CONNINFO_MAX]; /* libpq conninfo; hostaddr= or a unix socket host= */
	double interval;                 /* time between two queries (s), default 100 ms */
	double timeout;                  /* deadline of one query (s), default 1 s */
	double connect_timeout;      /* deadline of one connect, startup and auth included (s) */
	int64_t rise;                /* consecutive good queries to turn up */
	int64_t fall;                /* consecutive failures (error, timeout, lost) to turn down */
	double backoff_max;          /* reconnect delay cap (s); the delay starts at <interval> */
	double receiver_timeout;     /* standby: streaming=false when the receiver's last message is
	                            older (s); 0 = trust the receiver status alone */
	int64_t keepalives_idle;     /* TCP keepalive idle time (s) given to libpq */
	double accept_check;         /* how often to check that the postmaster accepts new
	                            connections (s); 0 = never (see "accept check" above) */
	char pgdata[PGP_PGDATA_MAX]; /* data directory to watch ("" = no watch; see "burst") */
	double burst_interval;       /* time between two queries during a burst (s) */
	double burst_for;            /* how long a burst lasts at most (s) */
};

/* Key table for [postgres]: conninfo, interval, timeout, connect_timeout, rise, fall,
 * backoff_max, receiver_timeout, keepalives_idle, accept_check. Offsets are into
 * struct pgp_conf. */
extern const struct cfg_key pgp_conf_keys[];

/* Checks a whole [postgres] section after its keys are set: the conninfo parses (libpq's
 * PQconninfoParse), names hostaddr= or a host= that is a unix socket directory (a host name
 * would make libpq resolve it, blocking the loop), has no connect_timeout of its own to be
 * confused with ours. Returns 0, or -1 with <err> = "key 'KEY': what is wrong". */
int pgp_conf_validate(const struct pgp_conf *c, char *err, size_t errlen) HR_MUSTCHECK;

#include "agent/pg_row.h"    /* PGP_QUERY, enum pgp_col, struct pgp_sample, pgp_parse_row() */
#include "agent/pg_role.h"   /* pgp_apply_sample(): role and lag from one row */
#include "agent/pg_accept.h" /* struct pgp_accept: does the postmaster accept? */

/* ---- the probe ------------------------------------------------------------------------- */

enum pgp_state {
	PGP_ST_STOPPED = 0, /* not started, or pgp_stop(): no watcher runs */
	PGP_ST_CONNECTING,  /* PQconnectPoll() under way, <timer> = connect deadline */
	PGP_ST_IDLE,        /* connected, waiting for the next interval (<timer>) */
	PGP_ST_QUERY,       /* query sent, reading the result, <timer> = query deadline */
	PGP_ST_BACKOFF,     /* no connection, <timer> = reconnect delay */
	PGP_ST_COUNT        /* keep last */
};

/* What changed in the last callback (bit mask), so the agent may, e.g., push role changes to
 * the feed at once and coalesce lag-only changes. */
enum pgp_change {
	PGP_CH_UP = 1u << 0,        /* ns_pg.up */
	PGP_CH_ROLE = 1u << 1,      /* ns_pg.role */
	PGP_CH_IDENT = 1u << 2,     /* tl or sysid */
	PGP_CH_LAG = 1u << 3,       /* lsn, lag_bytes or lag_ms */
	PGP_CH_STREAMING = 1u << 4, /* streaming, paused, or the primary's standbys (repl) */
	PGP_CH_ERR = 1u << 5,       /* err */
};

struct pg_probe;

/* Told after any field of <p->pg> changed (mask of enum pgp_change in <changed>). Called from
 * the loop; may read <p->pg>; must not call pgp_free() on <p> (pgp_stop() is fine). */
typedef void (*pgp_change_cb)(struct pg_probe *p, unsigned changed, void *arg);

struct pg_probe {
	struct ev_loop *loop;     /* loop the watchers run on */
	struct pgp_conf conf;     /* current config (copied in) */
	enum pgp_state state;     /* written by pgp_set_state() only */
	ev_io io;                 /* the libpq socket (re-armed after each PQconnectPoll) */
	ev_timer timer;           /* deadline / interval / backoff of the current state */
	struct pg_conn *conn;     /* libpq connection (PGconn), NULL when none */
	int fd;                   /* socket <io> watches, -1 when none */
	double backoff;           /* next reconnect delay (s) */
	ev_tstamp started;        /* ev_now() when the current state began */
	struct rise_fall rf;      /* debounce of <pg.up> */
	struct pgp_lag_state lag; /* lag memory, reset on reconnect */
	struct ns_pg pg;          /* the result the agent reads; present = true */
	uint32_t last_ms;         /* duration of the last successful query (ms) */
	uint64_t queries;         /* successful queries since start */
	uint64_t failures;        /* failed queries / connects since start */
	struct pgp_accept acc;    /* the accept check */
	struct pg_watch watch;    /* inotify on conf.pgdata (off when "") */
	ev_tstamp burst_until;    /* query every burst_interval until then; 0 = no burst */
	uint64_t kicks;           /* bursts started since start */
	unsigned raced;           /* queries in a row that raced the end of recovery */
	/* What the query under way returned so far: libpq may hand over its row in one read and
	 * the end of the query (ReadyForQuery) in a later one; reset by each query sent. */
	struct {
		struct pgp_sample s;     /* the row, parsed */
		bool have_row;           /* <s> holds it */
		bool raced;              /* an error 55000: recovery ended under the query */
		char err[NS_REASON_MAX]; /* the first error, "" none */
	} reply;
	pgp_change_cb cb; /* told of every change */
	void *arg;        /* caller's data */
};

/* Prepares <p> with a copy of <conf> (validated by pgp_conf_validate()); no I/O, no watcher.
 * Returns 0, or -1 with <err> filled. */
int pgp_init(struct pg_probe *p, struct ev_loop *loop, const struct pgp_conf *conf,
             pgp_change_cb cb, void *arg, char *err, size_t errlen) HR_MUSTCHECK;

/* Starts connecting (STOPPED -> CONNECTING); a no-op when already running. */
void pgp_start(struct pg_probe *p);

/* Closes the connection and stops every watcher (-> STOPPED); <p->pg> keeps its last values. */
void pgp_stop(struct pg_probe *p);

/* pgp_stop(), then releases what pgp_init() took. <p> may be pgp_init()ed again. */
void pgp_free(struct pg_probe *p);

/* SIGHUP: adopts <conf> keeping <p->pg> and the rise/fall verdict. A changed conninfo closes
 * the connection and reconnects at once; other keys apply from the next interval. Returns 0,
 * or -1 with <err> filled and the old config kept. */
int pgp_reconfigure(struct pg_probe *p, const struct pgp_conf *conf, char *err,
                    size_t errlen) HR_MUSTCHECK;

/* Something says the role may be changing (<why>, for the log): query at once, then every
 * <burst_interval> until the role changes or <burst_for> passes. No-op when stopped. */
void pgp_kick(struct pg_probe *p, const char *why);

const char *pgp_state_name(enum pgp_state st);

#endif /* HAPROLE_AGENT_PG_PROBE_H */
