/* agent/rise_fall.h - debounce of one probe's pass/fail results. Prefix: rf_.
 *
 * A probe starts down and not known. Its first result sets the verdict directly (a restarted
 * agent whose first query succeeds is up at once, not "rising": issue 4's follow-up, a
 * restart must not answer fail for a healthy primary). After that <rise> consecutive passes
 * turn it up, <fall> consecutive failures turn it down; any other sequence keeps the current
 * verdict, so one slow or failed answer does not flap a server (docs/design.md sections 6 and 11:
 * HAProxy applies every agent-check reply at once, the debounce is ours). Pure: no clock, no
 * I/O. */
#ifndef HAPROLE_AGENT_RISE_FALL_H
#define HAPROLE_AGENT_RISE_FALL_H

#include <stdbool.h>
#include <stdint.h>

struct rise_fall {
	int64_t rise;  /* consecutive passes needed to turn up, >= 1 */
	int64_t fall;  /* consecutive failures needed to turn down, >= 1 */
	int64_t count; /* consecutive results against the current verdict, < rise or fall */
	bool up;       /* the debounced verdict; false until the first result */
	bool known;    /* a result has been fed: <up> is a verdict, not the initial down */
};

/* Sets <rise> and <fall> (values below 1 count as 1) and starts down, not known. */
void rf_init(struct rise_fall *rf, int64_t rise, int64_t fall);

/* Changes <rise> and <fall> (SIGHUP) keeping the verdict and <known>; the pending count
 * restarts. */
void rf_set_limits(struct rise_fall *rf, int64_t rise, int64_t fall);

/* Records one result: the first sets the verdict, later ones are debounced. Returns true when
 * the verdict <rf->up> changed with it. */
bool rf_feed(struct rise_fall *rf, bool pass);

#endif /* HAPROLE_AGENT_RISE_FALL_H */
