/* ctl/fetch.h - haprolectl's bounded exchanges: one request, one answer, each under a deadline,
 * with the admin socket (agent/admin.h), HAProxy's stats socket and haprole-spoa's status port.
 * Prefix: ctlf_. Blocking (haprolectl is a one-shot tool), but every wait is bounded by its
 * <timeout> and every answer by 1 MiB; what comes back is parsed by ctl/views.h. */
#ifndef HAPROLE_CTL_FETCH_H
#define HAPROLE_CTL_FETCH_H

#include <stddef.h>

#include "common/compiler.h"
#include "common/node_state.h"
#include "ctl/views.h"

/* Seconds on the monotonic clock. */
double ctlf_now(void);

/* Asks HAProxy's stats socket <path> for `show stat`; fills <h> (reachable, or err). */
void ctlf_haproxy(const char *path, double timeout, struct ctlv_haproxy *h);

/* Asks haprole-spoa's status port <address> (HOST:PORT) for its view; fills <s> for
 * <s->cluster>. */
void ctlf_spoa(const char *address, double timeout, struct ctlv_spoa *s);

/* Sends the command <line> ('\n'-terminated; NULL: none) to the admin socket <path>, then
 * `state` when <state> is not NULL. Puts the command's reply line (no '\n') in <reply> and
 * decodes the state into <state>. Returns 0, or -1 with <err> (connection, no answer, or a
 * state that does not decode). */
int ctlf_admin_ask(const char *path, const char *line, char *reply, size_t replylen,
                   struct node_state *state, double timeout, char *err, size_t errlen) HR_MUSTCHECK;

#endif /* HAPROLE_CTL_FETCH_H */
