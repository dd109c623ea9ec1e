/* tests/unit/test_pg_probe.c - the postgres probe's pure parts: LSN parsing, row decoding,
 * lag rules (idle primary, receiver gone, paused, behind), timeline, config validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ev.h>

#include "agent/pg_probe.h"
#include "common/cfg.h"
#include "common/compiler.h"

struct lsn_vector {
	const char *in; /* as PostgreSQL prints a pg_lsn */
	int ret;        /* expected return */
	uint64_t lsn;   /* expected value when ret == 0 */
	int line;       /* where the vector is */
};

static const struct lsn_vector lsn_vectors[] = {
	{ "0/0", 0, 0, __LINE__ },
	{ "0/3000148", 0, 0x3000148, __LINE__ },
	{ "16/B374D848", 0, 0x16B374D848ULL, __LINE__ },
	{ "FFFFFFFF/FFFFFFFF", 0, UINT64_MAX, __LINE__ },
	{ "ab/cd", 0, 0xab000000cdULL, __LINE__ },
	{ "", -1, 0, __LINE__ },
	{ "/", -1, 0, __LINE__ },
	{ "0/", -1, 0, __LINE__ },
	{ "/0", -1, 0, __LINE__ },
	{ "0", -1, 0, __LINE__ },
	{ "0/0/0", -1, 0, __LINE__ },
	{ "1FFFFFFFF/0", -1, 0, __LINE__ },
	{ "0/1FFFFFFFF", -1, 0, __LINE__ },
	{ " 0/1", -1, 0, __LINE__ },
	{ "0/1 ", -1, 0, __LINE__ },
	{ "-1/0", -1, 0, __LINE__ },
	{ "0/g", -1, 0, __LINE__ },
};

static void test_pgp_parse_lsn_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < HR_ARRAY_SIZE(lsn_vectors); i++) {
		const struct lsn_vector *v = &lsn_vectors[i];
		uint64_t got = 12345;
		int ret = pgp_parse_lsn(v->in, &got);

		if (ret != v->ret || (ret == 0 && got != v->lsn))
			fail_msg("vector at line %d (\"%s\"): ret %d lsn %llx", v->line, v->in, ret,
			         (unsigned long long)got);
	}
	assert_int_equal(pgp_parse_lsn(NULL, &(uint64_t){ 0 }), -1);
}

/* A row as libpq hands it over: NULL is SQL NULL. */
struct row_vector {
	const char *vals[PGP_COL_COUNT]; /* columns in enum pgp_col order */
	int ret;                         /* expected pgp_parse_row() return */
	const char *why;                 /* expected <why> substring when ret == -1 */
	bool in_recovery;                /* expected fields when ret == 0 */
	uint32_t tl;                     /* expected timeline */
	int line;                        /* where the vector is */
};

#define PRIMARY_ROW(walfile, lsn)                                                                  \
	{                                                                                          \
		"f", walfile, NULL, "7301234567890123456", lsn, NULL, NULL, NULL, "1700000000000", \
		    NULL, NULL, NULL                                                               \
	}
#define STANDBY_ROW(tli, recv, replay, status, pause)                                              \
	{                                                                                          \
		"t", NULL, tli, "7301234567890123456", NULL, recv, replay, "1699999999000",        \
		    "1700000000000", status, "1699999999500", pause                                \
	}

static const struct row_vector row_vectors[] = {
	{ PRIMARY_ROW("000000010000000000000003", "0/3000148"), 0, NULL, false, 1, __LINE__ },
	{ PRIMARY_ROW("0000000A0000000000000003", "0/3000148"), 0, NULL, false, 10, __LINE__ },
	{ PRIMARY_ROW("00000001000000000000003", "0/3000148"), -1, "walfile", false, 0, __LINE__ },
	{ PRIMARY_ROW("00000001000000000000000G", "0/3000148"), -1, "walfile", false, 0, __LINE__ },
	{ PRIMARY_ROW(NULL, "0/3000148"), -1, "walfile", false, 0, __LINE__ },
	{ PRIMARY_ROW("000000010000000000000003", NULL), -1, "current_wal_lsn", false, 0,
	  __LINE__ },
	{ STANDBY_ROW("2", "0/5000060", "0/5000060", "streaming", "not paused"), 0, NULL, true, 2,
	  __LINE__ },
	{ STANDBY_ROW(NULL, NULL, NULL, NULL, "not paused"), 0, NULL, true, 0, __LINE__ },
	{ STANDBY_ROW("2", "0/5000060", "0/5000060", "streaming", "paused"), 0, NULL, true, 2,
	  __LINE__ },
	{ STANDBY_ROW("2", "0/5000060", "0/5000060", "streaming", "sleeping"), -1, "pause", true, 0,
	  __LINE__ },
	{ STANDBY_ROW("x", "0/5000060", "0/5000060", "streaming", "paused"), -1, "received_tli",
	  true, 0, __LINE__ },
	{ STANDBY_ROW("-1", "0/5000060", "0/5000060", "streaming", "paused"), -1, "received_tli",
	  true, 0, __LINE__ },
	{ STANDBY_ROW("2", "5000060", "0/5000060", "streaming", "paused"), -1, "receive", true, 0,
	  __LINE__ },
	{ STANDBY_ROW("2", "0/5000060", "zz", "streaming", "paused"), -1, "replay", true, 0,
	  __LINE__ },
	{ { "yes", NULL, NULL, "1", NULL, NULL, NULL, NULL, "1", NULL, NULL, NULL },
	  -1,
	  "in_recovery",
	  false,
	  0,
	  __LINE__ },
	{ { NULL, NULL, NULL, "1", NULL, NULL, NULL, NULL, "1", NULL, NULL, NULL },
	  -1,
	  "in_recovery",
	  false,
	  0,
	  __LINE__ },
	{ { "t", NULL, NULL, "73x", NULL, NULL, NULL, NULL, "1", NULL, NULL, NULL },
	  -1,
	  "system_identifier",
	  false,
	  0,
	  __LINE__ },
	{ { "t", NULL, NULL, "123456789012345678901234567", NULL, NULL, NULL, NULL, "1", NULL, NULL,
	    NULL },
	  -1,
	  "system_identifier",
	  false,
	  0,
	  __LINE__ },
	{ { "t", NULL, NULL, "1", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL },
	  -1,
	  "clock_timestamp",
	  false,
	  0,
	  __LINE__ },
	{ { "t", NULL, NULL, "1", NULL, NULL, NULL, "1.5", "1", NULL, NULL, NULL },
	  -1,
	  "replay_timestamp",
	  false,
	  0,
	  __LINE__ },
};

static void test_pgp_parse_row_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < HR_ARRAY_SIZE(row_vectors); i++) {
		const struct row_vector *v = &row_vectors[i];
		struct pgp_sample s;
		const char *why = NULL;
		int ret = pgp_parse_row(v->vals, &s, &why);

		if (ret != v->ret)
			fail_msg("vector at line %d: ret %d (why: %s)", v->line, ret,
			         why ? why : "-");
		if (ret < 0) {
			if (why == NULL || strstr(why, v->why) == NULL)
				fail_msg("vector at line %d: why \"%s\" lacks \"%s\"", v->line,
				         why ? why : "(null)", v->why);
			continue;
		}
		if (s.in_recovery != v->in_recovery || s.tl != v->tl)
			fail_msg("vector at line %d: in_recovery %d tl %u", v->line, s.in_recovery,
			         s.tl);
		if (strcmp(s.sysid, "7301234567890123456") != 0)
			fail_msg("vector at line %d: sysid %s", v->line, s.sysid);
	}
}

static void test_pgp_parse_row_standby_fields(void **state)
{
	const char *vals[PGP_COL_COUNT] =
	    STANDBY_ROW("3", "0/5000100", "0/5000060", "streaming", "pause requested");
	struct pgp_sample s;
	const char *why = NULL;

	(void)state;
	assert_int_equal(pgp_parse_row(vals, &s, &why), 0);
	assert_true(s.has_receive);
	assert_true(s.has_replay);
	assert_int_equal(s.receive_lsn, 0x5000100);
	assert_int_equal(s.replay_lsn, 0x5000060);
	assert_int_equal(s.replay_ts_ms, 1699999999000LL);
	assert_int_equal(s.now_ms, 1700000000000LL);
	assert_int_equal(s.receipt_ms, 1699999999500LL);
	assert_true(s.has_receiver);
	assert_true(s.receiver_streaming);
	assert_true(s.paused);
}

/* The primary's standbys (pg_stat_replication) reach ns_pg.repl; a list too long to fit keeps
 * its whole entries; a standby's repl is empty. */
static void test_pgp_repl_column(void **state)
{
	static char longlist[NS_REPL_MAX + 64];
	const char *vals[PGP_COL_COUNT] = { 0 };
	struct pgp_lag_state lag = { 0 };
	struct pgp_sample s;
	struct ns_pg pg;
	const char *why = NULL;
	size_t n = 0;

	(void)state;
	vals[PGP_COL_IN_RECOVERY] = "f";
	vals[PGP_COL_WALFILE] = "000000030000000000000005";
	vals[PGP_COL_SYSID] = "7301234567890123456";
	vals[PGP_COL_CURRENT_LSN] = "0/5000100";
	vals[PGP_COL_NOW_MS] = "1700000000000";
	vals[PGP_COL_REPL] = "db2=sync,db3=async";
	assert_int_equal(pgp_parse_row(vals, &s, &why), 0);
	memset(&pg, 0, sizeof(pg));
	pgp_apply_sample(&s, 0, &lag, &pg);
	assert_string_equal(pg.repl, "db2=sync,db3=async");
	while (n + 12 < sizeof(longlist)) {
		memcpy(longlist + n, "node00=async,", 13);
		n += 13;
	}
	longlist[n - 1] = '\0';
	vals[PGP_COL_REPL] = longlist;
	assert_int_equal(pgp_parse_row(vals, &s, &why), 0);
	assert_true(strlen(s.repl) < NS_REPL_MAX);
	assert_true(strlen(s.repl) % 13 == 12); /* whole entries only */
	vals[PGP_COL_IN_RECOVERY] = "t";
	vals[PGP_COL_WALFILE] = NULL;
	vals[PGP_COL_CURRENT_LSN] = NULL;
	vals[PGP_COL_RECEIVED_TLI] = "3";
	vals[PGP_COL_REPL] = NULL;
	assert_int_equal(pgp_parse_row(vals, &s, &why), 0);
	pgp_apply_sample(&s, 0, &lag, &pg);
	assert_string_equal(pg.repl, "");
}

/* Lag rules: one sample after another through the same lag memory. */
struct lag_step {
	struct pgp_sample s; /* input */
	int64_t rx_timeout;  /* receiver_timeout in ms */
	enum ns_role role;   /* expected */
	uint64_t lag_bytes;  /* expected */
	uint64_t lag_ms;     /* expected */
	bool streaming;      /* expected */
	bool paused;         /* expected */
};

struct lag_vector {
	const char *name;         /* what the scenario shows */
	struct lag_step steps[4]; /* applied in order */
	size_t n;                 /* used steps */
	int line;                 /* where the vector is */
};

#define SB(recv_, replay_, rts_, now_, strm_, rcpt_, paused_)                                      \
	{                                                                                          \
		.in_recovery = true, .tl = 1, .sysid = "42", .has_receive = true,                  \
		.receive_lsn = (recv_), .has_replay = true, .replay_lsn = (replay_),               \
		.replay_ts_ms = (rts_), .now_ms = (now_), .has_receiver = (strm_) >= 0,            \
		.receiver_streaming = (strm_) > 0, .receipt_ms = (rcpt_), .paused = (paused_)      \
	}

static const struct lag_vector lag_vectors[] = {
	{ "idle primary: no lag, whatever the clock says",
	  { { { .in_recovery = false, .tl = 1, .current_lsn = 0x100, .now_ms = 999999 },
	      0,
	      NS_ROLE_PRIMARY,
	      0,
	      0,
	      false,
	      false } },
	  1,
	  __LINE__ },
	{ "healthy idle standby: last commit an hour ago, receive == replay: lag 0",
	  { { SB(0x500, 0x500, 1000, 3601000, 1, 3600900, false), 0, NS_ROLE_STANDBY, 0, 0, true,
	      false },
	    { SB(0x500, 0x500, 1000, 3602000, 1, 3601900, false), 0, NS_ROLE_STANDBY, 0, 0, true,
	      false } },
	  2,
	  __LINE__ },
	{ "standby behind after an idle hour: time counted from when it was last caught up",
	  { { SB(0x500, 0x500, 1000, 3601000, 1, 0, false), 0, NS_ROLE_STANDBY, 0, 0, true, false },
	    { SB(0x900, 0x500, 1000, 3601300, 1, 0, false), 0, NS_ROLE_STANDBY, 0x400, 300, true,
	      false },
	    { SB(0x900, 0x900, 3601200, 3601400, 1, 0, false), 0, NS_ROLE_STANDBY, 0, 0, true,
	      false } },
	  3,
	  __LINE__ },
	{ "behind since before the probe started: replay timestamp bounds the lag",
	  { { SB(0x900, 0x500, 5000, 7500, 1, 0, false), 0, NS_ROLE_STANDBY, 0x400, 2500, true,
	      false } },
	  1,
	  __LINE__ },
	{ "receiver gone: receive == replay is not caught up, streaming false",
	  { { SB(0x500, 0x500, 1000, 2000, -1, 0, false), 0, NS_ROLE_STANDBY, 0, 0, false,
	      false } },
	  1,
	  __LINE__ },
	{ "receiver not streaming (starting / waiting)",
	  { { SB(0x500, 0x500, 1000, 2000, 0, 0, false), 0, NS_ROLE_STANDBY, 0, 0, false, false } },
	  1,
	  __LINE__ },
	{ "receiver silent longer than receiver_timeout: not streaming",
	  { { SB(0x500, 0x500, 1000, 20000, 1, 9000, false), 10000, NS_ROLE_STANDBY, 0, 0, false,
	      false },
	    { SB(0x500, 0x500, 1000, 20000, 1, 10000, false), 10000, NS_ROLE_STANDBY, 0, 0, true,
	      false },
	    { SB(0x500, 0x500, 1000, 20000, 1, 0, false), 10000, NS_ROLE_STANDBY, 0, 0, false,
	      false } },
	  3,
	  __LINE__ },
	{ "replay paused: flagged, lag grows while WAL arrives",
	  { { SB(0x500, 0x500, 1000, 2000, 1, 0, true), 0, NS_ROLE_STANDBY, 0, 0, true, true },
	    { SB(0x700, 0x500, 1000, 5000, 1, 0, true), 0, NS_ROLE_STANDBY, 0x200, 3000, true,
	      true } },
	  2,
	  __LINE__ },
	{ "receive behind replay (restart reports segment start): no lag",
	  { { SB(0x400, 0x500, 1000, 2000, 1, 0, false), 0, NS_ROLE_STANDBY, 0, 0, true, false } },
	  1,
	  __LINE__ },
};

static void test_pgp_apply_sample_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < HR_ARRAY_SIZE(lag_vectors); i++) {
		const struct lag_vector *v = &lag_vectors[i];
		struct pgp_lag_state lag = { 0 };
		struct ns_pg pg = { 0 };

		for (size_t k = 0; k < v->n; k++) {
			const struct lag_step *st = &v->steps[k];

			pgp_apply_sample(&st->s, st->rx_timeout, &lag, &pg);
			if (pg.role != st->role || pg.lag_bytes != st->lag_bytes ||
			    pg.lag_ms != st->lag_ms || pg.streaming != st->streaming ||
			    pg.paused != st->paused)
				fail_msg(
				    "vector at line %d (%s), step %zu: role %d bytes %llu ms %llu "
				    "streaming %d paused %d",
				    v->line, v->name, k, pg.role, (unsigned long long)pg.lag_bytes,
				    (unsigned long long)pg.lag_ms, pg.streaming, pg.paused);
		}
	}
}

static void test_pgp_apply_sample_identity(void **state)
{
	struct pgp_sample s = { .in_recovery = false, .tl = 7, .sysid = "7301", .current_lsn = 9 };
	struct pgp_lag_state lag = { 0 };
	struct ns_pg pg = { .up = true, .present = true, .err = "kept" };

	(void)state;
	pgp_apply_sample(&s, 0, &lag, &pg);
	assert_int_equal(pg.tl, 7);
	assert_string_equal(pg.sysid, "7301");
	assert_int_equal(pg.lsn, 9);
	assert_true(pg.up);      /* left alone */
	assert_true(pg.present); /* left alone */
	assert_string_equal(pg.err, "kept");
}

struct conf_vector {
	const char *conninfo; /* value of the conninfo key */
	int ret;              /* expected pgp_conf_validate() return */
	const char *err;      /* expected error substring */
	int line;             /* where the vector is */
};

static const struct conf_vector conf_vectors[] = {
	{ "host=/var/run/postgresql dbname=postgres", 0, NULL, __LINE__ },
	{ "hostaddr=127.0.0.1 port=5432", 0, NULL, __LINE__ },
	{ "host=db1.example hostaddr=10.0.0.1", 0, NULL, __LINE__ },
	{ "host=127.0.11.1,::1 port=5432", 0, NULL, __LINE__ },
	{ "postgresql://127.0.0.1:5432/postgres", 0, NULL, __LINE__ },
	{ "dbname=postgres", 0, NULL, __LINE__ },
	{ "host=localhost", -1, "key 'conninfo': host 'localhost' needs a name lookup", __LINE__ },
	{ "host=/tmp,db2", -1, "host 'db2' needs a name lookup", __LINE__ },
	{ "hostaddr=127.0.0.1 connect_timeout=3", -1, "connect_timeout is not enforced", __LINE__ },
	{ "hostaddr=127.0.0.1 bogus=1", -1, "key 'conninfo': invalid connection option", __LINE__ },
	{ "host='unterminated", -1, "key 'conninfo': unterminated quoted string", __LINE__ },
};

static void test_pgp_conf_validate_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < HR_ARRAY_SIZE(conf_vectors); i++) {
		const struct conf_vector *v = &conf_vectors[i];
		struct pgp_conf c;
		char err[HR_ERR_LEN] = "";
		int ret;

		assert_int_equal(cfg_set_defaults(pgp_conf_keys, &c, err, sizeof(err)), 0);
		snprintf(c.conninfo, sizeof(c.conninfo), "%s", v->conninfo);
		ret = pgp_conf_validate(&c, err, sizeof(err));
		if (ret != v->ret || (ret < 0 && strstr(err, v->err) == NULL))
			fail_msg("vector at line %d (%s): ret %d err \"%s\"", v->line, v->conninfo,
			         ret, err);
	}
}

/* libpq fills a missing host from PGHOST: a name there would block the loop all the same. */
static void test_pgp_conf_validate_pghost_env(void **state)
{
	struct pgp_conf c;
	char err[HR_ERR_LEN] = "";

	(void)state;
	assert_int_equal(cfg_set_defaults(pgp_conf_keys, &c, err, sizeof(err)), 0);
	snprintf(c.conninfo, sizeof(c.conninfo), "dbname=postgres");
	assert_int_equal(setenv("PGHOST", "db.example", 1), 0);
	assert_int_equal(pgp_conf_validate(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "host 'db.example' needs a name lookup"));
	assert_int_equal(setenv("PGHOSTADDR", "10.0.0.1", 1), 0);
	assert_int_equal(pgp_conf_validate(&c, err, sizeof(err)), 0);
	assert_int_equal(unsetenv("PGHOSTADDR"), 0);
	snprintf(c.conninfo, sizeof(c.conninfo), "host=/tmp dbname=postgres");
	assert_int_equal(pgp_conf_validate(&c, err, sizeof(err)), 0);
	assert_int_equal(unsetenv("PGHOST"), 0);
}

static void test_pgp_conf_keys_defaults(void **state)
{
	struct pgp_conf c;
	char err[HR_ERR_LEN] = "";

	(void)state;
	assert_int_equal(cfg_set_defaults(pgp_conf_keys, &c, err, sizeof(err)), 0);
	assert_true(c.interval > 0.099 && c.interval < 0.101);
	assert_true(c.timeout > 0.999 && c.timeout < 1.001);
	assert_int_equal(c.rise, 2);
	assert_int_equal(c.fall, 1);
	assert_true(c.accept_check > 0.999 && c.accept_check < 1.001);
	assert_int_equal(pgp_conf_validate(&c, err, sizeof(err)), 0);
}

static void test_pgp_reconfigure_keeps_old_on_error(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct pg_probe p;
	struct pgp_conf c;
	struct pgp_conf bad;
	char err[HR_ERR_LEN] = "";

	(void)state;
	assert_int_equal(cfg_set_defaults(pgp_conf_keys, &c, err, sizeof(err)), 0);
	assert_int_equal(pgp_init(&p, loop, &c, NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(p.state, PGP_ST_STOPPED);
	assert_true(p.pg.present);
	assert_false(p.pg.up);
	assert_int_equal(p.pg.role, NS_ROLE_UNKNOWN);

	bad = c;
	snprintf(bad.conninfo, sizeof(bad.conninfo), "host=db.example");
	bad.interval = 5;
	assert_int_equal(pgp_reconfigure(&p, &bad, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "key 'conninfo': host 'db.example' needs a name lookup"));
	assert_true(p.conf.interval < 1); /* old config kept */

	bad = c;
	bad.rise = 5;
	bad.accept_check = 0;
	assert_int_equal(pgp_reconfigure(&p, &bad, err, sizeof(err)), 0);
	assert_int_equal(p.rf.rise, 5);
	assert_int_equal(p.state, PGP_ST_STOPPED); /* a stopped probe stays stopped */
	pgp_free(&p);
	pgp_free(&p); /* twice is harmless */
	ev_loop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pgp_parse_lsn_vectors),
		cmocka_unit_test(test_pgp_parse_row_vectors),
		cmocka_unit_test(test_pgp_parse_row_standby_fields),
		cmocka_unit_test(test_pgp_repl_column),
		cmocka_unit_test(test_pgp_apply_sample_vectors),
		cmocka_unit_test(test_pgp_apply_sample_identity),
		cmocka_unit_test(test_pgp_conf_validate_vectors),
		cmocka_unit_test(test_pgp_conf_validate_pghost_env),
		cmocka_unit_test(test_pgp_conf_keys_defaults),
		cmocka_unit_test(test_pgp_reconfigure_keeps_old_on_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
