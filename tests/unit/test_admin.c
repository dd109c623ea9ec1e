/* tests/unit/test_admin.c - the admin socket: the command parser (table of vectors), then the
 * server on a real unix socket and libev loop with a fake agent: persist-then-apply, restore at
 * start (and MAINT on a damaged state file), the limits (line length, clients), socket mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/admin.h"
#include "common/compiler.h"
#include "common/log.h"

/* ---- parser ------------------------------------------------------------------------------ */

static void test_admin_parse_vectors(void **state)
{
	static const struct {
		const char *line;
		int ret;
		enum admin_verb verb;
		const char *reason; /* ret 0: expected reason; ret -1: expected part of <why> */
		int line_no;
	} vec[] = {
		{ "drain", 0, ADMIN_VERB_DRAIN, "", __LINE__ },
		{ "drain upgrade to 5.2", 0, ADMIN_VERB_DRAIN, "upgrade to 5.2", __LINE__ },
		{ "  drain \t upgrade\tnow  ", 0, ADMIN_VERB_DRAIN, "upgrade now", __LINE__ },
		{ "drain x\r", 0, ADMIN_VERB_DRAIN, "x", __LINE__ },
		{ "maint disk swap", 0, ADMIN_VERB_MAINT, "disk swap", __LINE__ },
		{ "maint", 0, ADMIN_VERB_MAINT, "", __LINE__ },
		{ "ready", 0, ADMIN_VERB_READY, "", __LINE__ },
		{ "ready\r", 0, ADMIN_VERB_READY, "", __LINE__ },
		{ "status", 0, ADMIN_VERB_STATUS, "", __LINE__ },
		{ "state", 0, ADMIN_VERB_STATE, "", __LINE__ },
		{ "state x", -1, 0, "no argument", __LINE__ },
		{ "ready now", -1, 0, "no argument", __LINE__ },
		{ "status x", -1, 0, "no argument", __LINE__ },
		{ "", -1, 0, "empty", __LINE__ },
		{ "   \t", -1, 0, "empty", __LINE__ },
		{ "\r", -1, 0, "empty", __LINE__ },
		{ "DRAIN", -1, 0, "unknown command", __LINE__ },
		{ "drai", -1, 0, "unknown command", __LINE__ },
		{ "drainx", -1, 0, "unknown command", __LINE__ },
		{ "readyx", -1, 0, "unknown command", __LINE__ },
		{ "up", -1, 0, "unknown command", __LINE__ },
		{ "drain a\x01", -1, 0, "control", __LINE__ },
		{ "drain \xc3\xa9t\xc3\xa9", -1, 0, "non-ASCII", __LINE__ },
		{ "drain a\rb", -1, 0, "control", __LINE__ },
	};
	size_t i;

	(void)state;
	for (i = 0; i < HR_ARRAY_SIZE(vec); i++) {
		struct admin_cmd cmd;
		const char *why = NULL;
		int ret = admin_parse(vec[i].line, strlen(vec[i].line), &cmd, &why);

		if (ret != vec[i].ret)
			fail_msg("vector at line %d: returned %d (%s)", vec[i].line_no, ret,
			         why != NULL ? why : "");
		if (ret == 0 && (cmd.verb != vec[i].verb || strcmp(cmd.reason, vec[i].reason) != 0))
			fail_msg("vector at line %d: got %s \"%s\"", vec[i].line_no,
			         admin_verb_name(cmd.verb), cmd.reason);
		if (ret == -1 && (why == NULL || strstr(why, vec[i].reason) == NULL))
			fail_msg("vector at line %d: why \"%s\"", vec[i].line_no, why);
	}
}

static void test_admin_parse_nul_and_length(void **state)
{
	char line[ADMIN_LINE_MAX + NS_REASON_MAX];
	struct admin_cmd cmd;
	const char *why;

	(void)state;
	/* A NUL inside the line is refused, not taken as the end. */
	assert_int_equal(admin_parse("drain a\0b", 9, &cmd, &why), -1);
	/* The longest reason that fits, then one byte more. */
	memcpy(line, "drain ", 6);
	memset(line + 6, 'r', NS_REASON_MAX - 1);
	assert_int_equal(admin_parse(line, 6 + NS_REASON_MAX - 1, &cmd, &why), 0);
	assert_int_equal(strlen(cmd.reason), NS_REASON_MAX - 1);
	line[6 + NS_REASON_MAX - 1] = 'r';
	assert_int_equal(admin_parse(line, 6 + NS_REASON_MAX, &cmd, &why), -1);
	assert_non_null(strstr(why, "too long"));
}

/* ---- server ------------------------------------------------------------------------------ */

/* The fake agent: records what the admin socket asked. */
struct fake_agent {
	int calls;                  /* set_admin calls */
	enum ns_admin admin;        /* last admin applied */
	char reason[NS_REASON_MAX]; /* last reason applied */
	int refuse;                 /* set_admin returns -1 */
};

static int fake_set_admin(void *arg, enum ns_admin admin, const char *reason)
{
	struct fake_agent *a = arg;

	if (a->refuse)
		return -1;
	a->calls++;
	a->admin = admin;
	snprintf(a->reason, sizeof(a->reason), "%s", reason);
	return 0;
}

static int fake_status(void *arg, struct buf *out)
{
	struct fake_agent *a = arg;

	return buf_printf(out, "{\"admin\":\"%s\"}", ns_admin_name(a->admin));
}

/* The node state behind `state`: a named node in the fake's admin state. */
static const struct node_state *fake_state(void *arg)
{
	static struct node_state st;
	struct fake_agent *a = arg;

	ns_init(&st);
	snprintf(st.cluster, sizeof(st.cluster), "itsm");
	snprintf(st.node, sizeof(st.node), "db2");
	st.boot = 7;
	st.seq = 3;
	st.admin = a->admin;
	return &st;
}

struct fixture {
	char dir[64];            /* temp dir */
	struct admin_conf conf;  /* socket and state file in <dir> */
	struct fake_agent agent; /* the fake */
	struct admin_ops ops;    /* pointing at <agent> */
	struct admin_server srv; /* under test */
	struct ev_loop *loop;    /* its loop */
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	strcpy(fx->dir, "/tmp/haprole-test-admin-XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	admin_conf_defaults(&fx->conf);
	snprintf(fx->conf.socket_path, sizeof(fx->conf.socket_path), "%s/admin.sock", fx->dir);
	snprintf(fx->conf.state_file, sizeof(fx->conf.state_file), "%s/admin.state", fx->dir);
	fx->ops.set_admin = fake_set_admin;
	fx->ops.status = fake_status;
	fx->ops.state = fake_state;
	fx->ops.arg = &fx->agent;
	fx->loop = ev_loop_new(EVFLAG_AUTO);
	log_init("test_admin", LOG_TO_STDERR, LOG_LVL_ERROR);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[128];

	admin_stop(&fx->srv);
	ev_loop_destroy(fx->loop);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		return -1;
	free(fx);
	return 0;
}

static void start(struct fixture *fx)
{
	char err[HR_ERR_LEN] = "";

	if (admin_start(&fx->srv, fx->loop, &fx->conf, &fx->ops, err, sizeof(err)) != 0)
		fail_msg("admin_start: %s", err);
}

static int client(struct fixture *fx)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	assert_true(fd != -1);
	strcpy(sun.sun_path, fx->conf.socket_path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

/* Sends <text> (unless NULL), then runs the loop until <lines> reply lines or EOF arrived,
 * at most 500 rounds of 10 ms. Returns the reply (static); *<eof> tells a close. */
static const char *exchange(struct fixture *fx, int fd, const char *text, int lines, bool *eof)
{
	static char reply[ADMIN_REPLY_MAX];
	size_t got = 0;
	int seen = 0;
	int round;

	*eof = false;
	if (text != NULL)
		assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	for (round = 0; round < 500 && seen < lines && !*eof; round++) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		ev_run(fx->loop, EVRUN_NOWAIT);
		if (poll(&pfd, 1, 10) <= 0)
			continue;
		n = read(fd, reply + got, sizeof(reply) - 1 - got);
		if (n == 0)
			*eof = true;
		if (n <= 0)
			continue;
		for (ssize_t k = 0; k < n; k++)
			seen += reply[got + (size_t)k] == '\n';
		got += (size_t)n;
	}
	reply[got] = '\0';
	return reply;
}

static void test_admin_start_socket_mode(void **state)
{
	struct fixture *fx = *state;
	struct stat st;

	start(fx);
	assert_int_equal(stat(fx->conf.socket_path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
	/* No state file: READY applied once, nothing written. */
	assert_int_equal(fx->agent.calls, 1);
	assert_int_equal(fx->agent.admin, NS_ADMIN_READY);
	assert_int_equal(access(fx->conf.state_file, F_OK), -1);
	admin_stop(&fx->srv);
	assert_int_equal(access(fx->conf.socket_path, F_OK), -1);
}

/* `state` answers one line "state HEX" holding a feed frame that ns_decode() reads back; a
 * client that half-closes after its command gets the reply, then EOF (`nc -N` in the docs). */
static void test_admin_execute_state_frame(void **state)
{
	struct fixture *fx = *state;
	uint8_t frame[NS_FRAME_HDR + NS_FRAME_MAX];
	struct node_state st;
	size_t len = 0;
	size_t payload;
	const char *why = NULL;
	const char *r;
	bool eof;
	int fd;

	start(fx);
	fd = client(fx);
	r = exchange(fx, fd, "drain x\n", 1, &eof);
	assert_string_equal(r, "ok drain\n");
	assert_int_equal(write(fd, "state\n", 6), 6);
	shutdown(fd, SHUT_WR);
	r = exchange(fx, fd, NULL, 2, &eof);
	assert_true(eof);
	assert_int_equal(strncmp(r, "state ", 6), 0);
	for (const char *p = r + 6; *p != '\n'; p += 2) {
		unsigned v;

		assert_int_equal(sscanf(p, "%2x", &v), 1);
		assert_true(len < sizeof(frame));
		frame[len++] = (uint8_t)v;
	}
	assert_int_equal(ns_frame_peek(frame, len, NS_FRAME_MAX, &payload), (int)len);
	assert_int_equal(payload + NS_FRAME_HDR, len);
	assert_int_equal(ns_decode(frame + NS_FRAME_HDR, payload, &st, &why), 0);
	assert_string_equal(st.node, "db2");
	assert_int_equal(st.admin, NS_ADMIN_DRAIN);
	close(fd);
}

static void test_admin_execute_persist_then_apply(void **state)
{
	struct fixture *fx = *state;
	struct statefile_data d;
	char err[HR_ERR_LEN];
	const char *r;
	bool eof;
	int fd;

	start(fx);
	fd = client(fx);
	r = exchange(fx, fd, "drain upgrade to 5.2\nstatus\n", 2, &eof);
	assert_string_equal(r, "ok drain\n{\"admin\":\"drain\"}\n");
	assert_int_equal(fx->agent.admin, NS_ADMIN_DRAIN);
	assert_string_equal(fx->agent.reason, "upgrade to 5.2");
	assert_int_equal(statefile_load(fx->conf.state_file, &d, err, sizeof(err)), STATEFILE_OK);
	assert_int_equal(d.admin, NS_ADMIN_DRAIN);
	assert_string_equal(d.reason, "upgrade to 5.2");

	r = exchange(fx, fd, "maint\nbogus\nready\n", 3, &eof);
	assert_string_equal(r, "ok maint\nerror: unknown command (expected: drain [reason], maint "
	                       "[reason], ready, status, state)\nok ready\n");
	assert_int_equal(fx->agent.admin, NS_ADMIN_READY);
	assert_int_equal(statefile_load(fx->conf.state_file, &d, err, sizeof(err)), STATEFILE_OK);
	assert_int_equal(d.admin, NS_ADMIN_READY);

	/* A half line then EOF: nothing executed, connection closed. */
	r = exchange(fx, fd, "drain", 1, &eof);
	shutdown(fd, SHUT_WR);
	r = exchange(fx, fd, NULL, 1, &eof);
	assert_true(eof);
	assert_string_equal(r, "");
	assert_int_equal(fx->agent.admin, NS_ADMIN_READY);
	close(fd);
	ev_run(fx->loop, EVRUN_NOWAIT);
	assert_int_equal(fx->srv.conns.n, 0);
}

static void test_admin_execute_persist_failure_changes_nothing(void **state)
{
	struct fixture *fx = *state;
	const char *r;
	bool eof;
	int fd;

	snprintf(fx->conf.state_file, sizeof(fx->conf.state_file), "%s/missing-dir/admin.state",
	         fx->dir);
	start(fx);
	fd = client(fx);
	r = exchange(fx, fd, "drain x\n", 1, &eof);
	assert_non_null(strstr(r, "error: cannot persist admin state: create "));
	assert_int_equal(fx->agent.admin, NS_ADMIN_READY);
	assert_int_equal(fx->srv.current.admin, NS_ADMIN_READY);
	close(fd);
}

static void test_admin_execute_agent_refuses(void **state)
{
	struct fixture *fx = *state;
	const char *r;
	bool eof;
	int fd;

	start(fx);
	fx->agent.refuse = 1;
	fd = client(fx);
	r = exchange(fx, fd, "maint\n", 1, &eof);
	assert_string_equal(r, "error: the agent refused maint\n");
	close(fd);
}

static void test_admin_start_restores_state(void **state)
{
	static const struct {
		const char *text; /* NULL: valid drain written by statefile_save */
		enum ns_admin admin;
		const char *reason;
		int line;
	} vec[] = {
		{ NULL, NS_ADMIN_DRAIN, "upgrade", __LINE__ },
		{ "[admin]\nversion = 1\nadmin = what\n", NS_ADMIN_MAINT,
		  "state file corrupt, see agent log", __LINE__ },
		{ "", NS_ADMIN_MAINT, "state file corrupt, see agent log", __LINE__ },
	};
	struct fixture *fx = *state;
	size_t i;

	for (i = 0; i < HR_ARRAY_SIZE(vec); i++) {
		char err[HR_ERR_LEN] = "";

		if (vec[i].text == NULL) {
			struct statefile_data d = { .admin = NS_ADMIN_DRAIN, .reason = "upgrade" };

			assert_int_equal(statefile_save(fx->conf.state_file, &d, err, sizeof(err)),
			                 0);
		} else {
			FILE *f = fopen(fx->conf.state_file, "w");

			assert_non_null(f);
			fputs(vec[i].text, f);
			fclose(f);
		}
		memset(&fx->agent, 0, sizeof(fx->agent));
		start(fx);
		if (fx->agent.calls != 1 || fx->agent.admin != vec[i].admin ||
		    strcmp(fx->agent.reason, vec[i].reason) != 0)
			fail_msg("vector at line %d: %d calls, %s \"%s\"", vec[i].line,
			         fx->agent.calls, ns_admin_name(fx->agent.admin), fx->agent.reason);
		admin_stop(&fx->srv);
	}
}

static void test_admin_limits_line_too_long(void **state)
{
	struct fixture *fx = *state;
	char line[ADMIN_LINE_MAX + 10];
	const char *r;
	bool eof;
	int fd;

	start(fx);
	fd = client(fx);
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	r = exchange(fx, fd, line, 1, &eof);
	assert_non_null(strstr(r, "error: line too long"));
	r = exchange(fx, fd, NULL, 1, &eof);
	assert_true(eof);
	close(fd);
}

static void test_admin_limits_max_clients(void **state)
{
	struct fixture *fx = *state;
	const char *r;
	bool eof;
	int a;
	int b;

	fx->conf.max_clients = 1;
	start(fx);
	a = client(fx);
	r = exchange(fx, a, "status\n", 1, &eof);
	assert_string_equal(r, "{\"admin\":\"ready\"}\n");
	/* full: the newcomer takes the slot of the oldest client waiting for a line (a client
	 * left open must not lock haprolectl out); the evicted one sees the end of the stream */
	b = client(fx);
	r = exchange(fx, b, "ready\n", 1, &eof);
	assert_string_equal(r, "ok ready\n");
	r = exchange(fx, a, NULL, 1, &eof);
	assert_string_equal(r, "");
	assert_true(eof);
	close(a);
	close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_admin_parse_vectors),
		cmocka_unit_test(test_admin_parse_nul_and_length),
		cmocka_unit_test_setup_teardown(test_admin_start_socket_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_admin_execute_persist_then_apply, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_admin_execute_persist_failure_changes_nothing,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_admin_execute_agent_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_admin_start_restores_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_admin_execute_state_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_admin_limits_line_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_admin_limits_max_clients, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
