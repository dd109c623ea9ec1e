/* tests/fuzz/fuzz_pg_row.c - the postgres probe's row decoder and lag rules, as the probe calls
 * them on a row libpq handed over: the input is split at '\n' into up to PGP_COL_COUNT column
 * texts, a lone "\x01" standing for SQL NULL (libpq's values are NUL-terminated, so a NUL cuts
 * a column as it would there). Checks: pgp_parse_row() returns 0 or -1 with a reason; on 0,
 * pgp_apply_sample() (run twice through the same lag memory) gives a role, lag only on a
 * standby, lag_ms only while lag_bytes > 0, and a NUL-terminated sysid. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent/pg_probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[4096];
	const char *vals[PGP_COL_COUNT] = { 0 };
	struct pgp_sample s;
	struct pgp_lag_state lag = { 0 };
	struct ns_pg pg = { 0 };
	const char *why = NULL;
	size_t col = 0;
	char *p = buf;
	uint64_t lsn;

	if (size >= sizeof(buf))
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	(void)pgp_parse_lsn(buf, &lsn);
	while (col < PGP_COL_COUNT) {
		char *nl = strchr(p, '\n');

		if (nl != NULL)
			*nl = '\0';
		vals[col++] = strcmp(p, "\x01") == 0 ? NULL : p;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	if (pgp_parse_row(vals, &s, &why) < 0) {
		assert(why != NULL);
		return 0;
	}
	for (int round = 0; round < 2; round++) {
		pgp_apply_sample(&s, round == 0 ? 0 : 10000, &lag, &pg);
		assert(pg.role == (s.in_recovery ? NS_ROLE_STANDBY : NS_ROLE_PRIMARY));
		assert(memchr(pg.sysid, '\0', sizeof(pg.sysid)) != NULL);
		if (!s.in_recovery)
			assert(pg.lag_bytes == 0 && pg.lag_ms == 0 && !pg.streaming);
		if (pg.lag_ms > 0)
			assert(pg.lag_bytes > 0);
	}
	return 0;
}
