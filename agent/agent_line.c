/* agent/agent_line.c - the agent-check line encoder; see agent_line.h for the grammar. */
#include "agent/agent_line.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const al_state_names[AL_COUNT] = {
	[AL_UP] = "up",
	[AL_DOWN] = "down",
	[AL_FAIL] = "fail",
	[AL_STOPPED] = "stopped",
};

const char *al_state_name(enum al_state s)
{
	return (unsigned)s < AL_COUNT ? al_state_names[s] : "?";
}

/* Writes the line for <r> into <out> (NUL-terminated, without '\n'). Returns its length, or
 * -1 with errno EINVAL (a state, admin or weight out of range) or ENOBUFS (<outlen> too small
 * for the words HAProxy acts on). Only the reason may be shortened, to fit AL_LINE_MAX and
 * <outlen>. */
int al_format(const struct al_reply *r, char *out, size_t outlen)
{
	size_t cap = outlen > AL_LINE_MAX + 1 ? AL_LINE_MAX + 1 : outlen;
	size_t n;
	int w;

	if ((unsigned)r->state >= AL_COUNT || (unsigned)r->admin >= NS_ADMIN_COUNT ||
	    r->weight < -1 || r->weight > AL_WEIGHT_MAX || r->maxconn < 0) {
		errno = EINVAL;
		return -1;
	}
	if (r->weight >= 0 && r->maxconn > 0)
		w = snprintf(out, cap, "%s %s %d%% maxconn:%lld", al_state_names[r->state],
		             ns_admin_name(r->admin), r->weight, (long long)r->maxconn);
	else if (r->weight >= 0)
		w = snprintf(out, cap, "%s %s %d%%", al_state_names[r->state],
		             ns_admin_name(r->admin), r->weight);
	else if (r->maxconn > 0)
		w = snprintf(out, cap, "%s %s maxconn:%lld", al_state_names[r->state],
		             ns_admin_name(r->admin), (long long)r->maxconn);
	else
		w = snprintf(out, cap, "%s %s", al_state_names[r->state], ns_admin_name(r->admin));
	if (w < 0 || (size_t)w >= cap) {
		errno = ENOBUFS;
		return -1;
	}
	n = (size_t)w;
	if (r->reason == NULL || r->reason[0] == '\0')
		return (int)n;
	/* " #" plus at least one byte of reason, plus the NUL */
	if (n + 4 > cap)
		return (int)n;
	out[n++] = ' ';
	out[n++] = '#';
	for (const char *p = r->reason; *p != '\0' && n + 1 < cap; p++) {
		unsigned char c = (unsigned char)*p;

		/* CR/LF would end the line, '#' would start another comment, other control and
		 * non-ASCII bytes are not "ASCII" as the manual asks */
		out[n++] = (c < 0x20 || c >= 0x7f || c == '#') ? ' ' : (char)c;
	}
	/* a reason made only of trailing spaces after sanitising is still a reason: keep it */
	out[n] = '\0';
	return (int)n;
}

/* Whether <line> (as al_format() wrote it) says the server is up and ready to serve: state
 * word "up" and admin word "ready". Used for HTTP 200/503. */
bool al_is_up(const char *line)
{
	return strncmp(line, "up ready", 8) == 0 && (line[8] == '\0' || line[8] == ' ');
}
