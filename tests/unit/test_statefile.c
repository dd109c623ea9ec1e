/* tests/unit/test_statefile.c - the persisted admin state: round trips, atomic replacement, and
 * the damaged-file policy (MAINT, error naming file and line) for each way a file can be bad. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/statefile.h"
#include "common/compiler.h"

static char dir[64];
static char path[128];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/haprole-test-statefile-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/admin.state", dir);
	return 0;
}

static int teardown(void **state)
{
	char tmp[160];

	(void)state;
	unlink(path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	rmdir(dir);
	return 0;
}

static void write_text(const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_statefile_load_absent(void **state)
{
	struct statefile_data d;
	char err[HR_ERR_LEN] = "";

	(void)state;
	assert_int_equal(statefile_load(path, &d, err, sizeof(err)), STATEFILE_ABSENT);
	assert_int_equal(d.admin, NS_ADMIN_READY);
	assert_string_equal(d.reason, "");
}

static void test_statefile_save_roundtrip(void **state)
{
	static const struct {
		enum ns_admin admin;
		const char *reason;
		int line;
	} vec[] = {
		{ NS_ADMIN_DRAIN, "upgrade to 5.2", __LINE__ },
		{ NS_ADMIN_MAINT, "", __LINE__ },
		{ NS_ADMIN_READY, "", __LINE__ },
		{ NS_ADMIN_DRAIN, "  spaces kept \"quoted\" #hash ", __LINE__ },
	};
	char tmp[160];
	size_t i;

	(void)state;
	for (i = 0; i < HR_ARRAY_SIZE(vec); i++) {
		struct statefile_data in = { .admin = vec[i].admin };
		struct statefile_data out;
		char err[HR_ERR_LEN] = "";

		snprintf(in.reason, sizeof(in.reason), "%s", vec[i].reason);
		if (statefile_save(path, &in, err, sizeof(err)) != 0)
			fail_msg("vector at line %d: save: %s", vec[i].line, err);
		if (statefile_load(path, &out, err, sizeof(err)) != STATEFILE_OK)
			fail_msg("vector at line %d: load: %s", vec[i].line, err);
		if (out.admin != in.admin || strcmp(out.reason, in.reason) != 0)
			fail_msg("vector at line %d: got %d \"%s\"", vec[i].line, out.admin,
			         out.reason);
	}
	/* No temporary file is left behind. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(access(tmp, F_OK), -1);
}

static void test_statefile_save_refuses_bad_reason(void **state)
{
	struct statefile_data in = { .admin = NS_ADMIN_DRAIN, .reason = "two\nlines" };
	struct statefile_data out;
	char err[HR_ERR_LEN] = "";

	(void)state;
	unlink(path);
	assert_int_equal(statefile_save(path, &in, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "invalid admin state"));
	/* Nothing was written: the node still reads as never drained. */
	assert_int_equal(statefile_load(path, &out, err, sizeof(err)), STATEFILE_ABSENT);
	in.admin = NS_ADMIN_COUNT;
	strcpy(in.reason, "ok");
	assert_int_equal(statefile_save(path, &in, err, sizeof(err)), -1);
}

static void test_statefile_save_unwritable_dir(void **state)
{
	struct statefile_data in = { .admin = NS_ADMIN_DRAIN };
	char err[HR_ERR_LEN] = "";

	(void)state;
	assert_int_equal(statefile_save("/nonexistent-dir/x.state", &in, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent-dir/x.state.tmp"));
}

static void test_statefile_load_corrupt(void **state)
{
	static const struct {
		const char *text;
		const char *err; /* expected in the error after the file name */
		int line;
	} vec[] = {
		{ "", ": key 'version' missing", __LINE__ },
		{ "[admin]\nversion = 1\nadmin = drain\n", ": key 'reason' missing", __LINE__ },
		{ "[admin]\nversion = 1\nadmin = drain\nreason = \"x",
		  ":4: key 'reason': unterminated", __LINE__ },
		{ "[admin]\nversion = 2\nadmin = drain\nreason = \"\"\n", ":2: key 'version'",
		  __LINE__ },
		{ "[admin]\nversion = 1\nadmin = drained\nreason = \"\"\n", ":3: key 'admin'",
		  __LINE__ },
		{ "[admin]\nversion = 1\nadmin = drain\nadmin = ready\nreason = \"\"\n",
		  ":4: key 'admin'", __LINE__ },
		{ "[agent]\nversion = 1\n", ":1: unexpected section [agent]", __LINE__ },
		{ "[admin]\nversion = 1\nadmin = drain\nreason = \"a\x01b\"\n",
		  ":4: key 'reason': control", __LINE__ },
		{ "garbage\n", ":1: expected 'key = value'", __LINE__ },
		{ "version = 1\n", ":1: key 'version'", __LINE__ },
		{ "[admin]\nversion = 1\nadmin = maint\nreason = \"x\"\nextra = 1\n",
		  ":5: ", __LINE__ },
	};
	size_t i;

	(void)state;
	for (i = 0; i < HR_ARRAY_SIZE(vec); i++) {
		struct statefile_data out;
		char err[HR_ERR_LEN] = "";
		enum statefile_result r;

		write_text(vec[i].text);
		r = statefile_load(path, &out, err, sizeof(err));
		if (r != STATEFILE_CORRUPT)
			fail_msg("vector at line %d: result %s", vec[i].line,
			         statefile_result_name(r));
		if (out.admin != NS_ADMIN_MAINT)
			fail_msg("vector at line %d: corrupt file must mean maint", vec[i].line);
		if (strncmp(err, path, strlen(path)) != 0 || strstr(err, vec[i].err) == NULL)
			fail_msg("vector at line %d: error \"%s\" lacks \"%s\"", vec[i].line, err,
			         vec[i].err);
	}
}

static void test_statefile_load_not_regular(void **state)
{
	struct statefile_data out;
	char err[HR_ERR_LEN] = "";

	(void)state;
	unlink(path);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(statefile_load(path, &out, err, sizeof(err)), STATEFILE_CORRUPT);
	assert_int_equal(out.admin, NS_ADMIN_MAINT);
	assert_non_null(strstr(err, "not a regular file"));
	rmdir(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_statefile_load_absent),
		cmocka_unit_test(test_statefile_save_roundtrip),
		cmocka_unit_test(test_statefile_save_refuses_bad_reason),
		cmocka_unit_test(test_statefile_save_unwritable_dir),
		cmocka_unit_test(test_statefile_load_corrupt),
		cmocka_unit_test(test_statefile_load_not_regular),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
