/* agent/agent_line.h - the ONE encoder of HAProxy agent-check reply lines. Prefix: al_.
 *
 * Grammar (HAProxy configuration manual, "agent-check"; tcpcheck_agent_expect_reply() in
 * src/tcpcheck.c): one ASCII line ended by '\n', words separated by spaces. We always write,
 * in this order:
 *
 *     <state> <admin> [<weight>%] [maxconn:<n>] [#<reason>]
 *
 *   state   up | down | fail | stopped   (always: HAProxy keeps the last value it got)
 *   admin   ready | drain | maint        (always: only the agent can undo its own drain)
 *   weight  0..256 percent of the server's configured weight, when the reply sets one
 *   maxconn when the check sets one
 *   reason  free text after '#', with CR, LF, '#' and other control bytes replaced by ' ' so
 *           the line can neither end early nor smuggle a second '#'
 *
 * The encoder is pure: no I/O, no allocation. A line that does not fit in <outlen> is an
 * error (-1, ENOBUFS), never cut, except the reason, which is shortened (on a word-free byte
 * boundary) to keep the line within AL_LINE_MAX: a cut reason still leaves every word that
 * HAProxy acts on intact. */
#ifndef HAPROLE_AGENT_AGENT_LINE_H
#define HAPROLE_AGENT_AGENT_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"
#include "common/node_state.h"

/* Longest line we write, without its '\n' and NUL; fits in a node_state check line. */
#define AL_LINE_MAX (NS_CHECK_LINE_MAX - 1)

/* Largest weight percentage HAProxy accepts (SRV_UWGHT_MAX relative to 100 %). */
#define AL_WEIGHT_MAX 256

enum al_state {
	AL_UP = 0,  /* "up": serving, as far as this check is concerned */
	AL_DOWN,    /* "down": not what the check wants (a standby for writer, ...) */
	AL_FAIL,    /* "fail": a probe failed (PostgreSQL unreachable, app 500, ...) */
	AL_STOPPED, /* "stopped": stopped on purpose */
	AL_COUNT    /* keep last */
};

struct al_reply {
	enum al_state state; /* state word */
	enum ns_admin admin; /* admin word: ready / drain / maint */
	int weight;          /* 0..AL_WEIGHT_MAX percent, or -1: no weight word */
	int64_t maxconn;     /* > 0: "maxconn:N"; 0: no maxconn word */
	const char *reason;  /* NULL or "": no '#' word; else sanitised and appended */
};

int al_format(const struct al_reply *r, char *out, size_t outlen) HR_MUSTCHECK;
const char *al_state_name(enum al_state s);
bool al_is_up(const char *line);

#endif /* HAPROLE_AGENT_AGENT_LINE_H */
