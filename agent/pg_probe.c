/* agent/pg_probe.c - the PostgreSQL probe: one async libpq connection on the agent's loop, one
 * query per interval, results into a struct ns_pg. See pg_probe.h for the contract.
 *
 * States (only pgp_set_state() writes p->state, and it re-arms <timer> for the new state):
 *   STOPPED -> CONNECTING (connect deadline) -> IDLE (interval) -> QUERY (query deadline)
 *   -> IDLE ...; any failure -> BACKOFF (reconnect delay) -> CONNECTING.
 * A failed SQL statement on a healthy connection counts as a failure but keeps the
 * connection (QUERY -> IDLE). */
#include "agent/pg_probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/log.h"

/* ---- config ------------------------------------------------------------------------------ */

/* clang-format off */
const struct cfg_key pgp_conf_keys[] = {
	CFG_STR("conninfo", struct pgp_conf, conninfo, 1, "host=/var/run/postgresql dbname=postgres user=haprole", CFG_RELOAD, "libpq conninfo; hostaddr= or a unix socket directory, never a host name"),
	CFG_PROBE_KEYS(struct pgp_conf, "100ms", 60, "deadline of one probe query; a hung server fails it", "1"),
	CFG_DUR("connect_timeout", struct pgp_conf, connect_timeout, 0.01, 60, "1s", CFG_RELOAD, "deadline of one connection attempt, startup and authentication included"),
	CFG_DUR("backoff_max", struct pgp_conf, backoff_max, 0.01, 300, "2s", CFG_RELOAD, "longest delay between two reconnect attempts"),
	CFG_DUR("receiver_timeout", struct pgp_conf, receiver_timeout, 0, 3600, "0", CFG_RELOAD, "standby: not streaming when the WAL receiver heard nothing for this long; 0 off"),
	CFG_INT("keepalives_idle", struct pgp_conf, keepalives_idle, 1, 7200, "5", CFG_RELOAD, "TCP keepalive idle time in seconds for the probe connection"),
	CFG_DUR("accept_check", struct pgp_conf, accept_check, 0, 3600, "1s", CFG_RELOAD, "how often to check that the postmaster accepts new connections; 0 off"),
	CFG_STR("pgdata", struct pgp_conf, pgdata, 0, "", CFG_RELOAD, "data directory to watch with inotify: probe at once on a promotion; empty off"),
	CFG_DUR("burst_interval", struct pgp_conf, burst_interval, 0.001, 1, "5ms", CFG_RELOAD, "time between two probe queries while a role change is under way"),
	CFG_DUR("burst_for", struct pgp_conf, burst_for, 0, 60, "2s", CFG_RELOAD, "how long a burst of fast probe queries lasts at most; 0 off"),
	CFG_END,
};
/* clang-format on */

/* True when <h> is an IPv4 or IPv6 literal: libpq then needs no name lookup. */
static bool pgp_is_numeric_host(const char *h)
{
	unsigned char tmp[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, h, tmp) == 1 || inet_pton(AF_INET6, h, tmp) == 1;
}

/* Every comma-separated entry of <hosts> is a unix socket directory or an IP literal. */
static bool pgp_hosts_need_no_dns(const char *hosts, char *bad, size_t badlen)
{
	const char *p = hosts;

	while (*p != '\0') {
		size_t n = strcspn(p, ",");
		char one[256];

		if (n >= sizeof(one))
			return false;
		memcpy(one, p, n);
		one[n] = '\0';
		if (one[0] != '/' && one[0] != '@' && !pgp_is_numeric_host(one)) {
			snprintf(bad, badlen, "%s", one);
			return false;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return true;
}

int pgp_conf_validate(const struct pgp_conf *c, char *err, size_t errlen)
{
	PQconninfoOption *opts;
	PQconninfoOption *o;
	const char *host = NULL;
	const char *hostaddr = NULL;
	char *perr = NULL;
	char bad[256] = "";
	int ret = 0;

	opts = PQconninfoParse(c->conninfo, &perr);
	if (opts == NULL) {
		size_t l;

		if (perr == NULL) {
			snprintf(err, errlen, "key 'conninfo': out of memory");
			return -1;
		}
		l = strcspn(perr, "\n");
		snprintf(err, errlen, "key 'conninfo': %.*s", (int)l, perr);
		PQfreemem(perr);
		return -1;
	}
	for (o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
		else if (strcmp(o->keyword, "connect_timeout") == 0) {
			snprintf(err, errlen,
			         "key 'conninfo': connect_timeout is not enforced by libpq's async "
			         "API: use the [postgres] key connect_timeout (got \"%s\")",
			         o->val);
			ret = -1;
			goto out_free;
		}
	}
	/* libpq takes what the conninfo leaves out from the environment; PQconninfoParse()
	 * does not: look there too, or PGHOST=name would slip a lookup into the loop */
	if (host == NULL)
		host = getenv("PGHOST");
	if (hostaddr == NULL)
		hostaddr = getenv("PGHOSTADDR");
	if (hostaddr != NULL && hostaddr[0] == '\0')
		hostaddr = NULL;
	if (hostaddr == NULL && host != NULL && !pgp_hosts_need_no_dns(host, bad, sizeof(bad))) {
		snprintf(err, errlen,
		         "key 'conninfo': host '%s' needs a name lookup, which would block the "
		         "event loop: give hostaddr=IP or a unix socket directory",
		         bad);
		ret = -1;
		goto out_free;
	}
	if (c->timeout <= 0 || c->connect_timeout <= 0 || c->interval <= 0) {
		snprintf(err, errlen, "key 'timeout': interval and timeouts must be positive");
		ret = -1;
	}
out_free:
	PQconninfoFree(opts);
	return ret;
}

/* ---- the probe ----------------------------------------------------------------------------- */

static const char *const pgp_state_names[PGP_ST_COUNT] = {
	[PGP_ST_STOPPED] = "STOPPED", [PGP_ST_CONNECTING] = "CONNECTING", [PGP_ST_IDLE] = "IDLE",
	[PGP_ST_QUERY] = "QUERY",     [PGP_ST_BACKOFF] = "BACKOFF",
};

const char *pgp_state_name(enum pgp_state st)
{
	return (unsigned)st < PGP_ST_COUNT ? pgp_state_names[st] : "?";
}

static void pgp_process(struct pg_probe *p, int revents);

/* After a successful connect or a reload: points the accept check at the server. */
static void pgp_learn_accept(struct pg_probe *p)
{
	pgp_acc_learn(&p->acc, PQhostaddr(p->conn), PQhost(p->conn), PQport(p->conn),
	              p->conf.accept_check, p->conf.timeout);
}

/* The only writer of <p->state>: logs the move at debug and arms the state's timer. <delay>
 * is the timer for IDLE (next query) and BACKOFF (next connect); the other states use their
 * configured deadline. */
static void pgp_set_state(struct pg_probe *p, enum pgp_state to, double delay)
{
	double t = 0;

	log_debug("pg probe: %s -> %s", pgp_state_name(p->state), pgp_state_name(to));
	p->state = to;
	p->started = ev_now(p->loop);
	ev_timer_stop(p->loop, &p->timer);
	switch (to) {
	case PGP_ST_STOPPED:
		return;
	case PGP_ST_CONNECTING:
		t = p->conf.connect_timeout;
		break;
	case PGP_ST_QUERY:
		t = p->conf.timeout;
		break;
	case PGP_ST_IDLE:
	case PGP_ST_BACKOFF:
		t = delay;
		break;
	case PGP_ST_COUNT:
		return;
	}
	ev_timer_set(&p->timer, t > 0 ? t : 0, 0);
	ev_timer_start(p->loop, &p->timer);
}

/* Watches <fd> for <events>, re-targeting the watcher when libpq changed sockets. */
static void pgp_watch(struct pg_probe *p, int fd, int events)
{
	if (ev_is_active(&p->io) && p->fd == fd && (p->io.events & (EV_READ | EV_WRITE)) == events)
		return;
	ev_io_stop(p->loop, &p->io);
	p->fd = fd;
	if (fd < 0)
		return;
	ev_io_set(&p->io, fd, events);
	ev_io_start(p->loop, &p->io);
}

static void pgp_close_conn(struct pg_probe *p)
{
	ev_io_stop(p->loop, &p->io);
	p->fd = -1;
	if (p->conn != NULL) {
		PQfinish(p->conn);
		p->conn = NULL;
	}
}

/* Mask of what differs between <a> and <b>. */
static unsigned pgp_diff(const struct ns_pg *a, const struct ns_pg *b)
{
	unsigned m = 0;

	if (a->up != b->up)
		m |= PGP_CH_UP;
	if (a->role != b->role)
		m |= PGP_CH_ROLE;
	if (a->tl != b->tl || strcmp(a->sysid, b->sysid) != 0)
		m |= PGP_CH_IDENT;
	if (a->lsn != b->lsn || a->lag_bytes != b->lag_bytes || a->lag_ms != b->lag_ms)
		m |= PGP_CH_LAG;
	if (a->streaming != b->streaming || a->paused != b->paused || strcmp(a->repl, b->repl) != 0)
		m |= PGP_CH_STREAMING;
	if (strcmp(a->err, b->err) != 0)
		m |= PGP_CH_ERR;
	return m;
}

/* Adopts <next> as the result, logs what an operator acts on, tells the agent. */
static void pgp_publish(struct pg_probe *p, const struct ns_pg *next)
{
	unsigned m = pgp_diff(&p->pg, next);

	if (m == 0)
		return;
	if (m & PGP_CH_UP)
		log_info("pg probe: %s%s%s", next->up ? "up" : "down", next->err[0] ? ": " : "",
		         next->err);
	if (m & PGP_CH_ROLE)
		log_info("pg probe: role %s -> %s (timeline %" PRIu32 ")", ns_role_name(p->pg.role),
		         ns_role_name(next->role), next->tl);
	p->pg = *next;
	if (p->cb != NULL)
		p->cb(p, m, p->arg);
}

/* Clears what only a live answer may claim (fail closed once the probe is down). */
static void pgp_forget(struct ns_pg *pg)
{
	pg->role = NS_ROLE_UNKNOWN;
	pg->tl = 0;
	pg->lag_bytes = 0;
	pg->lag_ms = 0;
	pg->streaming = false;
	pg->paused = false;
	pg->repl[0] = '\0';
}

/* Counts one failure, publishes it, and either keeps the connection (<keep>, a SQL error) or
 * closes it and waits for the backoff. */
static void pgp_fail(struct pg_probe *p, bool keep, const char *fmt, ...) HR_PRINTF(3, 4);
static void pgp_fail(struct pg_probe *p, bool keep, const char *fmt, ...)
{
	struct ns_pg next = p->pg;
	double delay;
	va_list ap;
	size_t l;

	va_start(ap, fmt);
	vsnprintf(next.err, sizeof(next.err), fmt, ap);
	va_end(ap);
	/* libpq messages end with a newline and may hold several lines: keep the first */
	l = strcspn(next.err, "\r\n");
	next.err[l] = '\0';

	p->failures++;
	if (strcmp(next.err, p->pg.err) != 0)
		log_warning("pg probe: %s (in %s after %.0f ms)", next.err,
		            pgp_state_name(p->state), (ev_now(p->loop) - p->started) * 1e3);
	rf_feed(&p->rf, false);
	next.up = p->rf.up;
	if (!next.up)
		pgp_forget(&next);

	if (keep) {
		double next_at = p->started + p->conf.interval - ev_now(p->loop);

		pgp_set_state(p, PGP_ST_IDLE, next_at);
		pgp_watch(p, PQsocket(p->conn), EV_READ);
	} else {
		pgp_close_conn(p);
		pgp_acc_stop(&p->acc); /* the next connection re-learns the target */
		delay = p->backoff;
		p->backoff = p->backoff <= 0 ? p->conf.interval : p->backoff * 2;
		if (p->backoff > p->conf.backoff_max)
			p->backoff = p->conf.backoff_max;
		pgp_set_state(p, PGP_ST_BACKOFF, delay);
	}
	pgp_publish(p, &next);
}

static void pgp_notice(void *arg, const char *msg)
{
	(void)arg;
	log_debug("pg probe: server notice: %.*s", (int)strcspn(msg, "\n"), msg);
}

/* Starts one connection attempt (-> CONNECTING). The user's conninfo is expanded from the
 * dbname slot; the entries before it are our defaults, which the conninfo may override:
 * keepalives, application_name (how an operator finds the probe in pg_stat_activity), and
 * gssencmode=disable (libpq's default "prefer" looks for Kerberos credentials on every connect,
 * file I/O we do not want in the loop, and a probe has no use for GSS encryption). */
static void pgp_connect(struct pg_probe *p)
{
	char idle[24];
	const char *keys[] = { "keepalives",
		               "keepalives_idle",
		               "keepalives_interval",
		               "keepalives_count",
		               "application_name",
		               "gssencmode",
		               "dbname",
		               NULL };
	const char *vals[] = { "1", idle, "1", "3", "haprole-agent", "disable", p->conf.conninfo,
		               NULL };
	PGconn *c;

	snprintf(idle, sizeof(idle), "%" PRId64, p->conf.keepalives_idle);
	pgp_set_state(p, PGP_ST_CONNECTING, 0); /* deadline armed before the first byte */
	memset(&p->lag, 0, sizeof(p->lag));
	c = PQconnectStartParams(keys, vals, 1);
	if (c == NULL) {
		pgp_fail(p, false, "connect: out of memory");
		return;
	}
	p->conn = c;
	if (PQstatus(c) == CONNECTION_BAD) {
		pgp_fail(p, false, "connect: %s", PQerrorMessage(c));
		return;
	}
	PQsetNoticeProcessor(c, pgp_notice, p);
	/* libpq: behave as if PQconnectPoll had returned PGRES_POLLING_WRITING */
	pgp_watch(p, PQsocket(c), EV_WRITE);
	if (p->fd < 0)
		pgp_fail(p, false, "connect: libpq gave no socket");
}

/* Sends the probe query (IDLE -> QUERY). */
static void pgp_send_query(struct pg_probe *p)
{
	int r;

	pgp_set_state(p, PGP_ST_QUERY, 0); /* deadline first */
	p->reply.have_row = false;
	p->reply.raced = false;
	p->reply.err[0] = '\0';
	if (PQsendQuery(p->conn, PGP_QUERY) != 1) {
		pgp_fail(p, false, "send query: %s", PQerrorMessage(p->conn));
		return;
	}
	r = PQflush(p->conn);
	if (r < 0) {
		pgp_fail(p, false, "send query: %s", PQerrorMessage(p->conn));
		return;
	}
	pgp_watch(p, PQsocket(p->conn), r == 1 ? EV_READ | EV_WRITE : EV_READ);
}

/* The time between two queries: <burst_interval> while a burst lasts, else <interval>. */
static double pgp_next_interval(struct pg_probe *p)
{
	if (p->burst_until > 0 && ev_now(p->loop) >= p->burst_until) {
		log_debug("pg probe: burst over, role unchanged");
		p->burst_until = 0;
	}
	return p->burst_until > 0 ? p->conf.burst_interval : p->conf.interval;
}

/* Starts (or extends) a burst without querying now: the caller sets the next interval. */
static void pgp_kick_later(struct pg_probe *p, const char *why)
{
	if (p->conf.burst_for <= 0)
		return;
	if (p->burst_until == 0)
		log_debug("pg probe: burst (%s)", why);
	p->kicks++;
	p->burst_until = ev_now(p->loop) + p->conf.burst_for;
}

void pgp_kick(struct pg_probe *p, const char *why)
{
	if (p->loop == NULL || p->state == PGP_ST_STOPPED)
		return;
	pgp_kick_later(p, why);
	switch (p->state) {
	case PGP_ST_IDLE:
		pgp_send_query(p); /* at once: the interval timer would wait up to <interval> */
		return;
	case PGP_ST_BACKOFF:
		p->backoff = 0;
		pgp_connect(p);
		return;
	case PGP_ST_CONNECTING:
	case PGP_ST_QUERY:
		return; /* the result under way is followed by a burst interval */
	case PGP_ST_STOPPED:
	case PGP_ST_COUNT:
		return;
	}
}

static void pgp_watch_event(struct pg_watch *w, const char *name, void *arg)
{
	struct pg_probe *p = arg;

	(void)w;
	pgp_kick(p, name);
}

/* (Re)starts the data directory watch from <p->conf.pgdata>; a failure is logged, not fatal:
 * the periodic probe still sees every change, one interval later. */
static void pgp_watch_start(struct pg_probe *p)
{
	char err[256];

	pgw_stop(&p->watch);
	if (p->conf.pgdata[0] == '\0')
		return;
	if (pgw_start(&p->watch, p->conf.pgdata, err, sizeof(err)) < 0)
		log_warning("pg probe: no event-driven probing: %s", err);
	else
		log_info("pg probe: watching %s for promotions", p->conf.pgdata);
}

/* One good row: feed rise/fall, apply the lag rules, publish. */
static void pgp_success(struct pg_probe *p, const struct pgp_sample *s)
{
	struct ns_pg next = p->pg;
	double took = ev_now(p->loop) - p->started;

	if (!p->acc.ok) {
		/* our backend answers, but new connections hang: clients cannot get in */
		pgp_fail(p, true, "%s", p->acc.err);
		return;
	}
	p->queries++;
	p->raced = 0;
	p->backoff = 0;
	p->last_ms = (uint32_t)(took * 1e3);
	rf_feed(&p->rf, true);
	next.up = p->rf.up;
	next.err[0] = '\0';
	pgp_apply_sample(s, (int64_t)(p->conf.receiver_timeout * 1e3), &p->lag, &next);
	if (!next.up) {
		/* still rising: the role is reported only once the probe is up */
		pgp_forget(&next);
		snprintf(next.err, sizeof(next.err), "rising (%" PRId64 "/%" PRId64 ")",
		         p->rf.count, p->rf.rise);
	}
	if (p->burst_until > 0 && next.role != p->pg.role) {
		log_debug("pg probe: burst over, the role changed");
		p->burst_until = 0; /* settled: the publish below logs the change */
	} else if (p->pg.role == NS_ROLE_STANDBY && next.role == NS_ROLE_STANDBY &&
	           p->pg.streaming && !next.streaming) {
		/* the primary went away: a promotion of this standby may follow */
		pgp_kick_later(p, "WAL receiver stopped streaming");
	}
	pgp_set_state(p, PGP_ST_IDLE, pgp_next_interval(p) - took);
	pgp_watch(p, PQsocket(p->conn), EV_READ);
	pgp_publish(p, &next);
}

/* QUERY: reads what arrived; decides once libpq returned every result of the query. */
/* Queries in a row that may race the end of recovery before it counts as a failure. */
#define PGP_RACED_MAX 3

static void pgp_on_query_io(struct pg_probe *p, int revents)
{
	const char *why = NULL;
	char *errbuf = p->reply.err;
	size_t errlen = sizeof(p->reply.err);
	PGresult *res;

	if (revents & EV_WRITE) {
		int r = PQflush(p->conn);

		if (r < 0) {
			pgp_fail(p, false, "send query: %s", PQerrorMessage(p->conn));
			return;
		}
		pgp_watch(p, p->fd, r == 1 ? EV_READ | EV_WRITE : EV_READ);
		if (!(revents & EV_READ))
			return;
	}
	if (PQconsumeInput(p->conn) != 1) {
		pgp_fail(p, false, "connection lost: %s", PQerrorMessage(p->conn));
		return;
	}
	while (!PQisBusy(p->conn)) {
		res = PQgetResult(p->conn);
		if (res == NULL)
			break; /* the query is complete */
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);

			if (errbuf[0] == '\0')
				snprintf(errbuf, errlen, "query: %s", PQresultErrorMessage(res));
			/* 55000 "recovery is not in progress": a recovery-only function ran after a
			 * promotion ended under the query (pg_is_in_recovery() was true at its start) */
			p->reply.raced = code != NULL && strcmp(code, "55000") == 0;
		} else if (PQntuples(res) != 1 || PQnfields(res) != PGP_COL_COUNT) {
			snprintf(errbuf, errlen, "query: %d rows of %d columns", PQntuples(res),
			         PQnfields(res));
		} else {
			const char *vals[PGP_COL_COUNT];

			for (int i = 0; i < PGP_COL_COUNT; i++)
				vals[i] = PQgetisnull(res, 0, i) ? NULL : PQgetvalue(res, 0, i);
			if (pgp_parse_row(vals, &p->reply.s, &why) < 0)
				snprintf(errbuf, errlen, "query: %s", why);
			else
				p->reply.have_row = true;
		}
		PQclear(res);
		if (PQstatus(p->conn) == CONNECTION_BAD) {
			pgp_fail(p, false, "connection lost: %s", PQerrorMessage(p->conn));
			return;
		}
	}
	if (PQisBusy(p->conn))
		return; /* more to come: what came so far is kept in <p->reply> */
	if (PQstatus(p->conn) == CONNECTION_BAD) {
		pgp_fail(p, false, "connection lost: %s", PQerrorMessage(p->conn));
		return;
	}
	if (p->reply.raced && p->raced < PGP_RACED_MAX) {
		/* not a failure of the server: the standby just became a primary. Asking again at
		 * once reads the new role; counting it down would drop the node from the SPOA's hold
		 * window for a probe interval, in the very moment writes wait for it. */
		p->raced++;
		log_info("pg probe: %s (recovery ended during the query): asking again", errbuf);
		pgp_kick_later(p, "recovery ended during the query");
		pgp_send_query(p);
		return;
	}
	if (errbuf[0] != '\0' || !p->reply.have_row) {
		pgp_fail(p, true, "%s", errbuf[0] != '\0' ? errbuf : "query: no result");
		return;
	}
	pgp_success(p, &p->reply.s);
}

/* CONNECTING: one PQconnectPoll() step per readiness event. */
static void pgp_on_connect_io(struct pg_probe *p)
{
	PostgresPollingStatusType st = PQconnectPoll(p->conn);
	int fd = PQsocket(p->conn); /* may change while libpq tries several addresses */

	switch (st) {
	case PGRES_POLLING_READING:
		pgp_watch(p, fd, EV_READ);
		return;
	case PGRES_POLLING_WRITING:
		pgp_watch(p, fd, EV_WRITE);
		return;
	case PGRES_POLLING_OK:
		if (PQsetnonblocking(p->conn, 1) != 0) {
			pgp_fail(p, false, "connect: %s", PQerrorMessage(p->conn));
			return;
		}
		log_debug("pg probe: connected in %.1f ms, server %d",
		          (ev_now(p->loop) - p->started) * 1e3, PQserverVersion(p->conn));
		pgp_learn_accept(p);
		pgp_send_query(p);
		return;
	case PGRES_POLLING_FAILED:
	case PGRES_POLLING_ACTIVE:
		break;
	}
	pgp_fail(p, false, "connect: %s", PQerrorMessage(p->conn));
}

/* Dispatches a socket or timer event on the state. */
static void pgp_process(struct pg_probe *p, int revents)
{
	switch (p->state) {
	case PGP_ST_STOPPED:
		return;
	case PGP_ST_CONNECTING:
		if (revents & EV_TIMER) {
			pgp_fail(p, false, "connect timeout after %.0f ms",
			         p->conf.connect_timeout * 1e3);
			return;
		}
		pgp_on_connect_io(p);
		return;
	case PGP_ST_IDLE:
		if (revents & EV_TIMER) {
			pgp_send_query(p);
			return;
		}
		/* between queries the server only speaks to say goodbye (or a notice) */
		if (PQconsumeInput(p->conn) != 1 || PQstatus(p->conn) == CONNECTION_BAD) {
			pgp_fail(p, false, "connection lost: %s", PQerrorMessage(p->conn));
			return;
		}
		return;
	case PGP_ST_QUERY:
		if (revents & EV_TIMER) {
			/* a SIGSTOPped postmaster lands here: TCP is fine, nobody answers */
			pgp_fail(p, false, "query timeout after %.0f ms", p->conf.timeout * 1e3);
			return;
		}
		pgp_on_query_io(p, revents);
		return;
	case PGP_ST_BACKOFF:
		if (revents & EV_TIMER)
			pgp_connect(p);
		return;
	case PGP_ST_COUNT:
		return;
	}
}

static void pgp_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct pg_probe *p = container_of(w, struct pg_probe, io);

	(void)loop;
	pgp_process(p, revents);
}

static void pgp_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct pg_probe *p = container_of(w, struct pg_probe, timer);

	(void)loop;
	pgp_process(p, revents);
}

int pgp_init(struct pg_probe *p, struct ev_loop *loop, const struct pgp_conf *conf,
             pgp_change_cb cb, void *arg, char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	if (pgp_conf_validate(conf, err, errlen) < 0)
		return -1;
	p->loop = loop;
	p->conf = *conf;
	/* memset: state PGP_ST_STOPPED */
	p->fd = -1;
	p->cb = cb;
	p->arg = arg;
	ev_io_init(&p->io, pgp_io_cb, -1, EV_READ);
	ev_timer_init(&p->timer, pgp_timer_cb, 0, 0);
	pgp_acc_init(&p->acc, loop);
	pgw_init(&p->watch, loop, pgp_watch_event, p);
	rf_init(&p->rf, conf->rise, conf->fall);
	p->pg.present = true;
	p->pg.role = NS_ROLE_UNKNOWN;
	snprintf(p->pg.err, sizeof(p->pg.err), "not probed yet");
	return 0;
}

void pgp_start(struct pg_probe *p)
{
	if (p->state != PGP_ST_STOPPED)
		return;
	p->backoff = 0;
	pgp_watch_start(p);
	pgp_connect(p);
}

void pgp_stop(struct pg_probe *p)
{
	if (p->loop == NULL)
		return;
	pgw_stop(&p->watch);
	p->burst_until = 0;
	pgp_close_conn(p);
	pgp_acc_stop(&p->acc);
	pgp_set_state(p, PGP_ST_STOPPED, 0);
}

void pgp_free(struct pg_probe *p)
{
	pgp_stop(p);
}

int pgp_reconfigure(struct pg_probe *p, const struct pgp_conf *conf, char *err, size_t errlen)
{
	bool reconnect;
	bool rewatch;

	if (pgp_conf_validate(conf, err, errlen) < 0)
		return -1;
	reconnect = strcmp(conf->conninfo, p->conf.conninfo) != 0 ||
	            conf->keepalives_idle != p->conf.keepalives_idle;
	rewatch = strcmp(conf->pgdata, p->conf.pgdata) != 0;
	p->conf = *conf;
	rf_set_limits(&p->rf, conf->rise, conf->fall);
	if (p->state == PGP_ST_STOPPED)
		return 0;
	if (rewatch)
		pgp_watch_start(p);
	pgp_acc_stop(&p->acc);
	if (reconnect) {
		log_info("pg probe: conninfo changed, reconnecting");
		pgp_close_conn(p);
		p->backoff = 0;
		pgp_connect(p);
	} else if (p->state == PGP_ST_IDLE || p->state == PGP_ST_QUERY) {
		pgp_learn_accept(p); /* accept_check may have changed */
	}
	return 0;
}
