/* tests/fuzz/fuzz_admin_cmd.c - admin_parse() as an admin connection calls it: the input is
 * split at '\n' into lines (each without its '\n', as agent/admin.c hands them over) and every
 * line is parsed. Checks the parser's promises on each accepted line: a known verb, a reason
 * that is NUL-terminated, printable ASCII, trimmed, and empty for ready and status. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent/admin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data;
	const uint8_t *end = data + size;

	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		struct admin_cmd cmd;
		const char *why = NULL;

		if (len < ADMIN_LINE_MAX) {
			if (admin_parse((const char *)p, len, &cmd, &why) == 0) {
				size_t rl = strnlen(cmd.reason, sizeof(cmd.reason));

				assert(cmd.verb < ADMIN_VERB_COUNT);
				assert(rl < sizeof(cmd.reason));
				for (size_t i = 0; i < rl; i++)
					assert(cmd.reason[i] >= 0x20 && cmd.reason[i] <= 0x7e);
				assert(rl == 0 ||
				       (cmd.reason[0] != ' ' && cmd.reason[rl - 1] != ' '));
				assert(rl == 0 || cmd.verb == ADMIN_VERB_DRAIN ||
				       cmd.verb == ADMIN_VERB_MAINT);
			} else {
				assert(why != NULL);
			}
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return 0;
}
