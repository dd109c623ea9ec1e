/* agent/probe_slot.c - one probe of the agent in one slot type; see probe_slot.h. Every
 * function that depends on the kind switches on it here, so agent.c runs its probes in loops. */
#include "agent/probe_slot.h"

#include <stdio.h>
#include <string.h>

static void ps_on_pg(struct pg_probe *p, unsigned changed, void *arg)
{
	struct probe_slot *s = arg;

	(void)p;
	(void)changed;
	s->cb(s->arg);
}

static void ps_on_hp(struct http_probe *p, void *arg)
{
	struct probe_slot *s = arg;

	(void)p;
	s->cb(s->arg);
}

void ps_setup(struct probe_slot *s, enum ps_kind kind, struct ev_loop *loop, ps_change_cb cb,
              void *arg)
{
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->loop = loop;
	s->cb = cb;
	s->arg = arg;
}

const char *ps_name(enum ps_kind kind)
{
	switch (kind) {
	case PS_PG:
		return "pg";
	case PS_APP:
		return "app";
	case PS_NGINX:
		return "nginx";
	case PS_COUNT:
		break;
	}
	return "?";
}

/* The http/tcp section of <kind> in <c>, NULL for PS_PG. */
static const struct hp_conf *ps_hp_conf(enum ps_kind kind, const struct agent_conf *c)
{
	switch (kind) {
	case PS_APP:
		return &c->app;
	case PS_NGINX:
		return &c->nginx;
	case PS_PG:
	case PS_COUNT:
		break;
	}
	return NULL;
}

bool ps_wanted(enum ps_kind kind, const struct agent_conf *c)
{
	switch (kind) {
	case PS_PG:
		return c->has_pg;
	case PS_APP:
		return c->has_app;
	case PS_NGINX:
		return c->has_nginx;
	case PS_COUNT:
		break;
	}
	return false;
}

void ps_section(enum ps_kind kind, const struct agent_conf *c, char *out, size_t outlen)
{
	const struct hp_conf *h = ps_hp_conf(kind, c);

	if (h == NULL)
		snprintf(out, outlen, "[postgres]");
	else
		snprintf(out, outlen, "[%s %s]", h->kind == HP_KIND_TCP ? "tcp" : "http",
		         ps_name(kind));
}

int ps_init(struct probe_slot *s, const struct agent_conf *c, char *err, size_t errlen)
{
	if (s->kind == PS_PG)
		return pgp_init(&s->u.pg, s->loop, &c->pg, ps_on_pg, s, err, errlen);
	return hp_init(&s->u.hp, s->loop, ps_hp_conf(s->kind, c), ps_on_hp, s, err, errlen);
}

void ps_start(struct probe_slot *s)
{
	if (s->kind == PS_PG)
		pgp_start(&s->u.pg);
	else
		hp_start(&s->u.hp);
}

void ps_free(struct probe_slot *s)
{
	if (s->kind == PS_PG)
		pgp_free(&s->u.pg);
	else
		hp_free(&s->u.hp);
	s->on = false;
	s->pending = false;
}

int ps_validate(const struct probe_slot *s, const struct agent_conf *c, char *err, size_t errlen)
{
	struct hp_conf copy;

	if (s->kind == PS_PG)
		return pgp_conf_validate(&c->pg, err, errlen);
	/* hp_conf_validate() completes what it checks: work on a copy */
	copy = *ps_hp_conf(s->kind, c);
	return hp_conf_validate(&copy, err, errlen);
}

int ps_reconfigure(struct probe_slot *s, const struct agent_conf *c, char *err, size_t errlen)
{
	if (s->kind == PS_PG)
		return pgp_reconfigure(&s->u.pg, &c->pg, err, errlen);
	return hp_reconfigure(&s->u.hp, ps_hp_conf(s->kind, c), err, errlen);
}

const struct rise_fall *ps_rf(const struct probe_slot *s)
{
	return s->kind == PS_PG ? &s->u.pg.rf : &s->u.hp.rf;
}

bool ps_waiting(const struct probe_slot *s)
{
	return s->on && !ps_rf(s)->known;
}

double ps_first_wait(enum ps_kind kind, const struct agent_conf *c)
{
	const struct hp_conf *h = ps_hp_conf(kind, c);

	if (h == NULL)
		return c->pg.connect_timeout + c->pg.timeout;
	return h->timeout;
}

void ps_publish(struct probe_slot *s, struct node_state *ns)
{
	struct ns_probe *dst;
	bool shown;

	s->pending = s->pending && ps_waiting(s);
	shown = s->on && !s->pending;
	if (s->kind == PS_PG) {
		if (shown)
			ns->pg = s->u.pg.pg;
		ns->pg.present = shown;
		return;
	}
	dst = s->kind == PS_APP ? &ns->app : &ns->nginx;
	if (shown)
		*dst = s->u.hp.res;
	dst->present = shown;
}

const struct pg_probe *ps_pg(const struct probe_slot *s)
{
	return s->kind == PS_PG && s->on ? &s->u.pg : NULL;
}
