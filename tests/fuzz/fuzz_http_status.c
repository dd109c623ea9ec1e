/* tests/fuzz/fuzz_http_status.c - the HTTP probe's response decoders, as the probe calls them:
 * on every prefix the bytes read so far may form (a response arrives in pieces), and on the
 * whole. Checks their promises: hp_parse_status() returns -1, 0 or the bytes of a line that
 * ends in '\n', a status of 100..599, never more than it was given; a prefix of a valid line is
 * never refused (0 until complete) and a decided prefix stays decided the same way;
 * hp_parse_stub_status() returns -1, 0 or 1 with a non-negative count. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent/http_probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int whole_status = 0;
	int whole = hp_parse_status(data, size, &whole_status);
	int64_t active = -1;
	int r;

	assert(whole >= -1 && (size_t)(whole < 0 ? 0 : whole) <= size);
	if (whole > 0) {
		assert(data[whole - 1] == '\n');
		assert(whole_status >= 100 && whole_status <= 599);
	}
	/* every prefix: consistent with the whole */
	for (size_t len = 0; len <= size && len <= 600; len++) {
		int st = 0;
		int n = hp_parse_status(data, len, &st);

		if (whole > 0 && len < (size_t)whole)
			assert(n == 0); /* a valid line's prefix is only ever "need more" */
		if (whole > 0 && len >= (size_t)whole)
			assert(n == whole && st == whole_status);
		if (n > 0)
			assert(n == whole);
		if (n < 0)
			assert(whole < 0); /* refused early means refused in the end */
	}
	r = hp_parse_stub_status(data, size, &active);
	assert(r >= -1 && r <= 1);
	if (r == 1)
		assert(active >= 0);
	return 0;
}
