/* tests/unit/test_runtime_api.c - HAProxy runtime API pieces of push mode: the target parser,
 * the `show servers state` decoder (answers captured from HAProxy 2.6.12, plus one broken
 * variant per rule), and one exchange against a fake runtime API on a unix socket that, like
 * HAProxy in non-interactive mode, answers once it has read the request's end. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/compiler.h"
#include "common/sock.h"
#include "spoe/runtime_api.h"
#include "evtest.h"

#define HDR                                                                                        \
	"1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "    \
	"srv_iweight srv_time_since_last_change srv_check_status srv_check_result "                \
	"srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id "         \
	"srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr "    \
	"srv_agent_port\n"
/* db1 ready and UP, db2 `disabled` in the config (admin 5 = FMAINT | CMAINT) and DOWN */
#define DB1_UP    "3 pg_write 1 db1 127.0.0.99 2 4 1 1 0 1 0 4 6 0 0 0 - 34991 - 0 0 - - 0\n"
#define DB2_MAINT "3 pg_write 2 db2 127.0.0.99 0 5 1 1 1 1 0 0 8 0 0 0 - 34992 - 0 0 - - 0\n"

struct ss_vec {
	const char *text; /* answer */
	int ret;          /* expected return */
	size_t n;         /* expected entries */
	int line;         /* __LINE__ */
};

static const struct ss_vec ss_vecs[] = {
	{ HDR DB1_UP DB2_MAINT "\n", 0, 2, __LINE__ },
	/* two backends' answers one after the other (two commands in one line) */
	{ HDR DB1_UP "\n" HDR
	             "4 pg_read 1 db1 127.0.0.99 2 0 100 100 5 6 3 4 6 0 0 0 - 1 - 0 0 - - 0\n\n",
	  0, 2, __LINE__ },
	{ HDR "\n", 0, 0, __LINE__ }, /* a backend with no server */
	{ "", 0, 0, __LINE__ },       /* nothing at all */
	{ HDR "3 pg_write 1 db1 1.2.3.4 2 4 1 1 0\r\n", 0, 1, __LINE__ }, /* CRLF */
	{ "Can't find backend.\n\n", -1, 0, __LINE__ },                   /* HAProxy's error */
	{ "Unknown command: 'show servers stat'\n", -1, 0, __LINE__ },
	{ HDR "3 pg_write 1 db1 1.2.3.4 2\n", -1, 0, __LINE__ },       /* too few fields */
	{ HDR "3 pg_write 1 db1 1.2.3.4 7 0 1\n", -1, 0, __LINE__ },   /* op state 7 */
	{ HDR "3 pg_write 1 db1 1.2.3.4 2 x 1\n", -1, 0, __LINE__ },   /* admin not a number */
	{ HDR "3 pg_write 1 db1 1.2.3.4 2 256 1\n", -1, 0, __LINE__ }, /* admin out of range */
	{ HDR "3 pg_write 1 db1 1.2.3.4 2 0 -1\n", -1, 0, __LINE__ },  /* negative weight */
	{ HDR "3 pg_write 1 "
	      "a123456789012345678901234567890123456789012345678901234567890123456789 "
	      "1.2.3.4 2 0 1\n",
	  -1, 0, __LINE__ }, /* server name longer than we track */
	{ HDR DB1_UP DB1_UP DB1_UP DB1_UP DB1_UP, -1, 0, __LINE__ }, /* more than the table */
	/* a control byte in a name (fuzz_servers_state found a NUL giving an empty name) */
	{ HDR "3 pg_write 1 d\tb1 1.2.3.4 2 0 1\n", -1, 0, __LINE__ },
};

static void test_rapi_parse_servers_state_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < HR_ARRAY_SIZE(ss_vecs); i++) {
		struct rapi_server_state st[4];
		const char *why = NULL;
		size_t n = 99;
		int r;

		print_message("vector line %d\n", ss_vecs[i].line);
		r = rapi_parse_servers_state(ss_vecs[i].text, strlen(ss_vecs[i].text), st, 4, &n,
		                             &why);
		assert_int_equal(r, ss_vecs[i].ret);
		if (r == 0)
			assert_int_equal(n, ss_vecs[i].n);
		else
			assert_non_null(why);
	}
}

static void test_rapi_parse_servers_state_fields(void **state)
{
	static const char text[] = HDR DB1_UP DB2_MAINT "\n";
	struct rapi_server_state st[4];
	const char *why = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(rapi_parse_servers_state(text, sizeof(text) - 1, st, 4, &n, &why), 0);
	assert_int_equal(n, 2);
	assert_string_equal(st[0].backend, "pg_write");
	assert_string_equal(st[0].server, "db1");
	assert_int_equal(st[0].op_state, RAPI_OP_RUNNING);
	assert_int_equal(st[0].admin_state, RAPI_ADMF_CMAINT);
	assert_int_equal(st[0].weight, 1);
	assert_string_equal(st[1].server, "db2");
	assert_int_equal(st[1].op_state, RAPI_OP_STOPPED);
	assert_int_equal(st[1].admin_state, RAPI_ADMF_FMAINT | RAPI_ADMF_CMAINT);
}

static void test_rapi_target_parse(void **state)
{
	struct rapi_target t;
	const char *why = NULL;

	(void)state;
	assert_int_equal(rapi_target_parse("/run/haproxy/admin.sock", &t, &why), 0);
	assert_true(t.is_unix);
	assert_string_equal(t.path, "/run/haproxy/admin.sock");
	assert_int_equal(rapi_target_parse("127.0.0.1:9999", &t, &why), 0);
	assert_false(t.is_unix);
	assert_string_equal(t.addr.text, "127.0.0.1:9999");
	assert_int_equal(rapi_target_parse("localhost:9999", &t, &why), -1);
	assert_non_null(why);
	assert_int_equal(
	    rapi_target_parse(
	        "/a/path/that/is/much/too/long/for/a/unix/socket/"
	        "because/sun_path/has/only/one/hundred/and/eight/bytes/so/this/is/refused",
	        &t, &why),
	    -1);
}

/* ---- one exchange against a fake runtime API ------------------------------------------------ */

#define FAKE_RX_MAX 64 /* the exchange's answer bound in these tests */

enum fake_mode {
	FAKE_ANSWER = 0, /* after the request's end: "ok <request>", then close */
	FAKE_SILENT,     /* never answers */
	FAKE_FLOOD,      /* after the request's end: more than FAKE_RX_MAX bytes */
};

struct fake_api {
	struct fake_peer peer; /* listens on peer.path; peer.conn_fd: the client's connection */
	enum fake_mode mode;   /* what to do */
	char got[128];         /* the request as read */
	size_t got_len;        /* bytes in <got> */
};

struct result {
	int done;              /* exchanges ended */
	int err;               /* <err> of the last one */
	char answer[128];      /* the last answer */
	size_t len;            /* its length */
	int again;             /* exchanges to start again from the callback */
	struct rapi_target *t; /* where to start them */
};

static void fake_conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fake_api *fa = container_of(w, struct fake_api, peer.conn_io);
	char big[FAKE_RX_MAX * 2];
	char out[160];
	ssize_t n;

	(void)revents;
	n = read(fa->peer.conn_fd, fa->got + fa->got_len, sizeof(fa->got) - 1 - fa->got_len);
	if (n > 0) {
		fa->got_len += (size_t)n;
		return;
	}
	if (n == -1)
		return; /* EAGAIN */
	/* the request's end: answer, close */
	ev_io_stop(loop, &fa->peer.conn_io);
	if (fa->mode == FAKE_ANSWER) {
		n = snprintf(out, sizeof(out), "ok %.*s", (int)fa->got_len, fa->got);
		assert_int_equal(write(fa->peer.conn_fd, out, (size_t)n), n);
	} else if (fa->mode == FAKE_FLOOD) {
		memset(big, 'x', sizeof(big));
		assert_int_equal(write(fa->peer.conn_fd, big, sizeof(big)), (ssize_t)sizeof(big));
	}
	if (fa->mode != FAKE_SILENT)
		fake_peer_drop(&fa->peer, loop);
}

static void fake_on_accept(struct fake_peer *fp)
{
	container_of(fp, struct fake_api, peer)->got_len = 0;
}

static void fake_start(struct fake_api *fa, struct ev_loop *loop, enum fake_mode mode)
{
	char path[64];

	memset(fa, 0, sizeof(*fa));
	fa->mode = mode;
	snprintf(path, sizeof(path), "/tmp/hr-rapi-test-%d.sock", (int)getpid());
	fake_peer_listen_unix(&fa->peer, loop, fake_conn_cb, path);
	fa->peer.on_accept = fake_on_accept;
}

static void fake_stop(struct fake_api *fa, struct ev_loop *loop)
{
	fake_peer_stop(&fa->peer, loop);
}

static void on_done(struct rapi_conn *c, int err, const char *answer, size_t len, void *arg)
{
	struct result *r = arg;

	r->done++;
	r->err = err;
	r->len = len;
	r->answer[0] = '\0';
	if (answer != NULL) {
		assert_int_equal(answer[len], '\0');
		snprintf(r->answer, sizeof(r->answer), "%s", answer);
	}
	if (r->again > 0) {
		r->again--;
		assert_int_equal(rapi_exchange(c, r->t, "show info", 5.0), 0);
	}
}

/* The line, its newline, the request's end (the write side shut): then HAProxy answers. Two
 * more exchanges started from the callback reuse the connection slot. */
static void test_rapi_exchange_answer(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct result r = { 0 };
	struct rapi_target t;
	struct fake_api fa;
	struct rapi_conn c;
	const char *why = NULL;

	(void)state;
	fake_start(&fa, loop, FAKE_ANSWER);
	assert_int_equal(rapi_target_parse(fa.peer.path, &t, &why), 0);
	assert_int_equal(rapi_init(&c, loop, 64, FAKE_RX_MAX, on_done, &r), 0);
	assert_int_equal(rapi_exchange(&c, &t, "show servers state pg_write", 5.0), 0);
	assert_int_equal(rapi_exchange(&c, &t, "busy", 5.0), -1); /* one at a time */
	EVTEST_RUN_UNTIL(loop, r.done >= 1);
	assert_int_equal(r.err, 0);
	assert_string_equal(r.answer, "ok show servers state pg_write\n");
	assert_int_equal(r.len, strlen(r.answer));
	r.again = 2;
	r.t = &t;
	assert_int_equal(rapi_exchange(&c, &t, "show info", 5.0), 0);
	EVTEST_RUN_UNTIL(loop, r.done >= 4);
	assert_int_equal(r.err, 0);
	assert_string_equal(r.answer, "ok show info\n");
	assert_int_equal(c.exchanges, 4);
	assert_int_equal(c.state, RAPI_ST_IDLE);
	rapi_free(&c);
	fake_stop(&fa, loop);
	ev_loop_destroy(loop);
}

/* An API that never answers costs the exchange's deadline: ETIMEDOUT, no answer. */
static void test_rapi_exchange_timeout(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct result r = { 0 };
	struct rapi_target t;
	struct fake_api fa;
	struct rapi_conn c;
	const char *why = NULL;

	(void)state;
	fake_start(&fa, loop, FAKE_SILENT);
	assert_int_equal(rapi_target_parse(fa.peer.path, &t, &why), 0);
	assert_int_equal(rapi_init(&c, loop, 64, FAKE_RX_MAX, on_done, &r), 0);
	assert_int_equal(rapi_exchange(&c, &t, "show info", 0.2), 0);
	EVTEST_RUN_UNTIL(loop, r.done >= 1);
	assert_int_equal(r.err, ETIMEDOUT);
	assert_int_equal(r.len, 0);
	assert_true(fa.got_len > 0); /* it was connected and sent: the answer's deadline fired */
	rapi_free(&c);
	fake_stop(&fa, loop);
	ev_loop_destroy(loop);
}

/* An answer larger than <rx_max>: EMSGSIZE, not a cut answer. */
static void test_rapi_exchange_answer_too_long(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct result r = { 0 };
	struct rapi_target t;
	struct fake_api fa;
	struct rapi_conn c;
	const char *why = NULL;

	(void)state;
	fake_start(&fa, loop, FAKE_FLOOD);
	assert_int_equal(rapi_target_parse(fa.peer.path, &t, &why), 0);
	assert_int_equal(rapi_init(&c, loop, 64, FAKE_RX_MAX, on_done, &r), 0);
	assert_int_equal(rapi_exchange(&c, &t, "show info", 5.0), 0);
	EVTEST_RUN_UNTIL(loop, r.done >= 1);
	assert_int_equal(r.err, EMSGSIZE);
	rapi_free(&c);
	fake_stop(&fa, loop);
	ev_loop_destroy(loop);
}

/* Nobody listens on the socket: refused at once, no callback; a line that does not fit is
 * refused too. */
static void test_rapi_exchange_refused(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct result r = { 0 };
	struct rapi_target t;
	struct rapi_conn c;
	const char *why = NULL;
	char long_line[80];

	(void)state;
	assert_int_equal(rapi_target_parse("/tmp/hr-rapi-test-nobody.sock", &t, &why), 0);
	assert_int_equal(rapi_init(&c, loop, 64, FAKE_RX_MAX, on_done, &r), 0);
	errno = 0;
	assert_int_equal(rapi_exchange(&c, &t, "show info", 1.0), -1);
	assert_true(errno == ENOENT || errno == ECONNREFUSED);
	memset(long_line, 'x', sizeof(long_line) - 1);
	long_line[sizeof(long_line) - 1] = '\0';
	assert_int_equal(rapi_exchange(&c, &t, long_line, 1.0), -1);
	assert_int_equal(errno, EMSGSIZE);
	ev_run(loop, EVRUN_NOWAIT);
	assert_int_equal(r.done, 0);
	assert_int_equal(c.state, RAPI_ST_IDLE);
	rapi_free(&c);
	ev_loop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rapi_parse_servers_state_vectors),
		cmocka_unit_test(test_rapi_parse_servers_state_fields),
		cmocka_unit_test(test_rapi_target_parse),
		cmocka_unit_test(test_rapi_exchange_answer),
		cmocka_unit_test(test_rapi_exchange_timeout),
		cmocka_unit_test(test_rapi_exchange_answer_too_long),
		cmocka_unit_test(test_rapi_exchange_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
