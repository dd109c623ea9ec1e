/* agent/http_probe_conf.h - what the HTTP probe's connection machine (http_probe.c) takes from
 * its config module (http_probe_conf.c). Prefix: hp_ (the probe, agent/http_probe.h). The
 * public config API (key tables, hp_conf_validate(), hp_parse_url()) is in http_probe.h. */
#ifndef HAPROLE_AGENT_HTTP_PROBE_CONF_H
#define HAPROLE_AGENT_HTTP_PROBE_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/http_probe.h"

struct ssl_ctx_st;

/* Length of the url's "http://" or "https://" prefix, 0 for anything else; <*tls> for https. */
size_t hp_scheme_len(const char *url, bool *tls);

/* The name an https probe sends as SNI and checks the certificate against, into <out>[<outlen>];
 * <*is_ip> when it is an address (then no SNI). */
void hp_tls_name(const struct hp_conf *c, char *out, size_t outlen, bool *is_ip);

/* Builds the TLS context of an https probe from <c>. NULL with <err> on failure. */
struct ssl_ctx_st *hp_tls_ctx_new(const struct hp_conf *c, char *err, size_t errlen);

#endif /* HAPROLE_AGENT_HTTP_PROBE_CONF_H */
