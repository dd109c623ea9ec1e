/* agent/probe_slot.h - one probe of the agent ([postgres], the app probe, the nginx probe) in
 * one slot type, so that starting, stopping, reloading and reading the result of a probe is
 * written once for all of them. Prefix: ps_.
 *
 * A slot is of one kind for its whole life (ps_setup()); <on> says whether its probe is
 * initialised (ps_init() took it), <pending> that a reload added it and it has no first result
 * yet: until then the node state shows the probe as absent, so the checks keep answering as
 * before the reload instead of "fail ... not probed yet" (agent/agent.h). What only the
 * PostgreSQL probe does (role, lag, timeline, fencing input) stays in agent/pg_probe.h, reached
 * as <u.pg> of the PS_PG slot (ps_pg()). */
#ifndef HAPROLE_AGENT_PROBE_SLOT_H
#define HAPROLE_AGENT_PROBE_SLOT_H

#include <stdbool.h>
#include <stddef.h>

#include <ev.h>

#include "agent/agent_conf.h"
#include "agent/http_probe.h"
#include "agent/pg_probe.h"
#include "agent/rise_fall.h"
#include "common/compiler.h"
#include "common/node_state.h"

/* The agent's probes, in the order they are set up, started and reloaded. */
enum ps_kind {
	PS_PG = 0, /* [postgres]: struct pg_probe, result in ns_pg */
	PS_APP,    /* [http app] / [tcp app]: struct http_probe, result in ns.app */
	PS_NGINX,  /* [http nginx] / [tcp nginx]: struct http_probe, result in ns.nginx */
	PS_COUNT   /* keep last */
};

/* Told after the probe's result changed; the agent rebuilds its node state. */
typedef void (*ps_change_cb)(void *arg);

struct probe_slot {
	enum ps_kind kind;    /* fixed by ps_setup() */
	bool on;              /* the probe is initialised (and started once the agent runs) */
	bool pending;         /* added by a reload, no first result yet: absent from the state */
	struct ev_loop *loop; /* loop the probe runs on */
	ps_change_cb cb;      /* told of every change of the result */
	void *arg;            /* <cb>'s argument */
	union {
		struct pg_probe pg;   /* PS_PG */
		struct http_probe hp; /* PS_APP, PS_NGINX */
	} u;
};

/* Makes <s> an empty slot of <kind> (not on, not pending). */
void ps_setup(struct probe_slot *s, enum ps_kind kind, struct ev_loop *loop, ps_change_cb cb,
              void *arg);

/* "pg", "app", "nginx": the slot's name in logs. */
const char *ps_name(enum ps_kind kind);

/* Whether <c> has a section for the probe of <kind>. */
bool ps_wanted(enum ps_kind kind, const struct agent_conf *c);

/* The section header of <kind> in <c> ("[postgres]", "[tcp app]", ...) into <out>. */
void ps_section(enum ps_kind kind, const struct agent_conf *c, char *out, size_t outlen);

/* Initialises (does not start) the probe of <s> from its section in <c> (ps_wanted()); does
 * not set <on>. Returns 0, or -1 with <err> filled and nothing held. */
int ps_init(struct probe_slot *s, const struct agent_conf *c, char *err,
            size_t errlen) HR_MUSTCHECK;

/* Starts the probe of an initialised slot. */
void ps_start(struct probe_slot *s);

/* Stops and frees the probe of an initialised slot; <on> and <pending> become false. */
void ps_free(struct probe_slot *s);

/* Checks that the running probe of <s> can take its section in <c>. 0, or -1 with <err>. */
int ps_validate(const struct probe_slot *s, const struct agent_conf *c, char *err,
                size_t errlen) HR_MUSTCHECK;

/* Makes the running probe of <s> adopt its section in <c>, keeping its result and verdict.
 * 0, or -1 with <err> and the old config kept. */
int ps_reconfigure(struct probe_slot *s, const struct agent_conf *c, char *err,
                   size_t errlen) HR_MUSTCHECK;

/* The rise/fall debounce of the probe of <s> (valid for a slot that is on). */
const struct rise_fall *ps_rf(const struct probe_slot *s);

/* Whether <s> is on and its probe has no first result yet (the start gate waits on it). */
bool ps_waiting(const struct probe_slot *s);

/* The longest a first result of the probe of <kind> configured by <c> can take (s): a
 * PostgreSQL connect then a query, or one http/tcp probe. */
double ps_first_wait(enum ps_kind kind, const struct agent_conf *c);

/* Clears <pending> once the probe has a first result, then writes the slot's view into the
 * node state <ns> being built: the probe's result with present = true when the slot is on and
 * not pending, else present = false (the other fields keep what <ns> held). */
void ps_publish(struct probe_slot *s, struct node_state *ns);

/* The PostgreSQL probe of the PS_PG slot <s> when it is on, else NULL. */
const struct pg_probe *ps_pg(const struct probe_slot *s);

#endif /* HAPROLE_AGENT_PROBE_SLOT_H */
