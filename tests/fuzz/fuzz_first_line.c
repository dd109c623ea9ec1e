/* tests/fuzz/fuzz_first_line.c - port_first_line() as the agent port calls it: on every prefix
 * of the input a connection may have buffered (it decodes after each read), with the default
 * max_line and a small one. Checks the decoder's promises: 0 only while no '\n' came within
 * the limit and the limit was not reached, -1 only when it was, a positive result never past
 * the end or the limit, a check name inside the line, without the '\n', '\r', or blanks at
 * either end; the encoder of the reply (al_format) takes any name as a reason. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent/agent_line.h"
#include "agent/port.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const uint8_t *data, size_t size, size_t max_line)
{
	struct port_line pl;
	int n = port_first_line(data, size, max_line, &pl);
	const uint8_t *nl = memchr(data, '\n', size < max_line ? size : max_line);

	if (n == 0) {
		assert(nl == NULL && size < max_line);
		return;
	}
	if (n == -1) {
		assert(nl == NULL && size >= max_line);
		return;
	}
	assert(nl != NULL && (size_t)n == (size_t)(nl - data) + 1);
	assert((size_t)n <= size && (size_t)n <= max_line);
	assert(pl.dialect < PORT_DIALECT_COUNT);
	if (pl.dialect == PORT_DIALECT_CHECK) {
		char why[NS_CHECK_LINE_MAX];
		char line[NS_CHECK_LINE_MAX];
		struct al_reply r = { AL_FAIL, NS_ADMIN_READY, -1, 0, why };
		int len;

		assert((const uint8_t *)pl.name >= data);
		assert((const uint8_t *)pl.name + pl.name_len <= nl);
		assert(memchr(pl.name, '\n', pl.name_len) == NULL);
		if (pl.name_len > 0) {
			assert(pl.name[0] != ' ' && pl.name[0] != '\t');
			assert(pl.name[pl.name_len - 1] != ' ' && pl.name[pl.name_len - 1] != '\t');
			assert(pl.name[pl.name_len - 1] != '\r');
		}
		/* the unknown-check reply, as port.c builds it */
		memcpy(why, pl.name, pl.name_len < sizeof(why) ? pl.name_len : sizeof(why) - 1);
		why[pl.name_len < sizeof(why) ? pl.name_len : sizeof(why) - 1] = '\0';
		len = al_format(&r, line, sizeof(line));
		assert(len > 0 && (size_t)len <= AL_LINE_MAX);
		assert(strchr(line, '\n') == NULL && strchr(line, '\r') == NULL);
		assert(strchr(line, '#') == strrchr(line, '#'));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (size_t i = 0; i <= size; i++) {
		one(data, i, 2048);
		one(data, i, 16);
	}
	return 0;
}
