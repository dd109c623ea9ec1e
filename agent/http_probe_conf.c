/* agent/http_probe_conf.c - the config of the HTTP and TCP probes: key tables, URL and expect
 * parsing, the TLS context of an https probe. See http_probe.h and http_probe_conf.h. */
#include "agent/http_probe.h"
#include "agent/http_probe_conf.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/tls_conn.h"

/* ---- config ------------------------------------------------------------------------------ */

static const char *const hp_verify_names[] = {
	[HP_VERIFY_NONE] = "none", [HP_VERIFY_PEER] = "peer", NULL
};

/* clang-format off */
const struct cfg_key hp_http_keys[] = {
	CFG_STR("url", struct hp_conf, url, 0, NULL, CFG_RELOAD, "what to GET: http://IP:PORT/path or https://... (numeric address, no DNS)"),
	CFG_STR("host", struct hp_conf, host, 0, "", CFG_RELOAD, "Host header; empty: the url's IP:PORT"),
	CFG_STR("expect", struct hp_conf, expect, 0, "200-399", CFG_RELOAD, "accepted status: a range 200-399 or one code 200"),
	CFG_BOOL("stub_status", struct hp_conf, stub_status, "no", CFG_RELOAD, "the url is nginx stub_status: read 'Active connections'"),
	CFG_ENUM("verify", struct hp_conf, verify, hp_verify_names, "peer", CFG_RELOAD, "https: none (any certificate) or peer (chain to ca_file and name)"),
	CFG_STR("ca_file", struct hp_conf, ca_file, 0, "", CFG_RELOAD, "https, verify peer: PEM file of the CAs to trust; empty: the system's"),
	CFG_STR("sni", struct hp_conf, sni, 0, "", CFG_RELOAD, "https: server name sent (SNI) and verified; empty: the host key's name"),
	CFG_PROBE_KEYS(struct hp_conf, "1s", 300, "deadline of one probe: connect, request and response", "2"),
	CFG_END,
};
/* clang-format on */

/* clang-format off */
const struct cfg_key hp_tcp_keys[] = {
	CFG_ADDR("addr", struct hp_conf, addr, NULL, CFG_RELOAD, "where to connect: IP:PORT (numeric, no DNS)"),
	CFG_PROBE_KEYS(struct hp_conf, "1s", 300, "deadline of one connect", "2"),
	CFG_END,
};
/* clang-format on */

/* A byte that may appear in a request target or Host value we send: visible ASCII only. */
static bool hp_is_vchar(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

static bool hp_all_vchar(const char *s)
{
	for (; *s != '\0'; s++) {
		if (!hp_is_vchar((unsigned char)*s))
			return false;
	}
	return true;
}

/* Length of the url's "http://" or "https://" prefix, 0 for anything else. */
size_t hp_scheme_len(const char *url, bool *tls)
{
	static const char http[] = "http://";
	static const char https[] = "https://";

	if (strncasecmp(url, http, sizeof(http) - 1) == 0) {
		*tls = false;
		return sizeof(http) - 1;
	}
	if (strncasecmp(url, https, sizeof(https) - 1) == 0) {
		*tls = true;
		return sizeof(https) - 1;
	}
	return 0;
}

int hp_parse_url(const char *url, struct cfg_addr *addr, char *path, size_t pathlen, bool *tls,
                 const char **why)
{
	size_t slen = hp_scheme_len(url, tls);
	const char *auth;
	const char *rest;
	size_t alen;
	char hostport[80];
	int n;

	if (slen == 0) {
		*why = "only http:// and https:// urls are probed";
		return -1;
	}
	auth = url + slen;
	alen = strcspn(auth, "/?#");
	rest = auth + alen;
	if (alen == 0) {
		*why = "no address in the url";
		return -1;
	}
	if (memchr(auth, '@', alen) != NULL) {
		*why = "user info in the url is not supported";
		return -1;
	}
	if (strchr(url, '#') != NULL) {
		*why = "a fragment has no meaning in a probe url";
		return -1;
	}
	if (!hp_all_vchar(url)) {
		*why = "spaces or control characters in the url";
		return -1;
	}
	/* port given: "...]:P" or "a.b.c.d:P"; absent: "[v6]" or "a.b.c.d" */
	if ((auth[0] == '[' && auth[alen - 1] == ']') ||
	    (auth[0] != '[' && memchr(auth, ':', alen) == NULL))
		n = snprintf(hostport, sizeof(hostport), "%.*s:%d", (int)alen, auth,
		             *tls ? 443 : 80);
	else
		n = snprintf(hostport, sizeof(hostport), "%.*s", (int)alen, auth);
	if (n < 0 || (size_t)n >= sizeof(hostport)) {
		*why = "address too long";
		return -1;
	}
	if (cfg_parse_addr(hostport, addr, why) < 0)
		return -1;
	if (rest[0] == '\0')
		n = snprintf(path, pathlen, "/");
	else if (rest[0] == '?')
		n = snprintf(path, pathlen, "/%s", rest);
	else
		n = snprintf(path, pathlen, "%s", rest);
	if (n < 0 || (size_t)n >= pathlen) {
		*why = "path too long";
		return -1;
	}
	return 0;
}

int hp_parse_expect(const char *s, int *min, int *max)
{
	char *end;
	long a;
	long b;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	a = strtol(s, &end, 10);
	if (*end == '\0') {
		b = a;
	} else if (*end == '-' && end[1] >= '0' && end[1] <= '9') {
		b = strtol(end + 1, &end, 10);
		if (*end != '\0')
			return -1;
	} else {
		return -1;
	}
	if (a < 100 || b > 599 || a > b)
		return -1;
	*min = (int)a;
	*max = (int)b;
	return 0;
}

/* ---- TLS context and names ------------------------------------------------------------------ */

/* The name an https probe sends as SNI and checks the certificate against, into <out>: <sni>,
 * else the <host> header without its port, else the url's host (an IP). <*is_ip> when it is an
 * address: then no SNI (RFC 6066 section 3) and the certificate must name that IP. */
void hp_tls_name(const struct hp_conf *c, char *out, size_t outlen, bool *is_ip)
{
	const char *h = c->sni;
	size_t n;
	unsigned char bin[16];
	bool tls;

	if (h[0] == '\0')
		h = c->host;
	if (h[0] == '\0') {
		h = c->url + hp_scheme_len(c->url, &tls);
		n = strcspn(h, "/?#");
	} else {
		n = strlen(h);
	}
	if (h[0] == '[') { /* [v6] or [v6]:port */
		h++;
		n = strcspn(h, "]");
	} else {
		size_t colon = strcspn(h, ":");

		n = colon < n ? colon : n;
	}
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, h, n);
	out[n] = '\0';
	*is_ip = inet_pton(AF_INET, out, bin) == 1 || inet_pton(AF_INET6, out, bin) == 1;
}

/* Builds the TLS context of an https probe from <c>: TLS 1.2+, and with verify peer the CAs of
 * <ca_file> (else the system's). NULL with <err> on failure. */
struct ssl_ctx_st *hp_tls_ctx_new(const struct hp_conf *c, char *err, size_t errlen)
{
	SSL_CTX *ctx;
	int ok;

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		snprintf(err, errlen, "key 'url': cannot make a TLS context: %s (got \"%s\")",
		         tls_conn_err_text(), c->url);
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		snprintf(err, errlen, "key 'url': TLS 1.2 refused by OpenSSL: %s (got \"%s\")",
		         tls_conn_err_text(), c->url);
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* our tx buffer may be sent in pieces (non-blocking socket) */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	/* many servers close after "Connection: close" without close_notify: that is the end of
	 * the response, as over plain TCP, not an error */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
	if (c->verify == HP_VERIFY_NONE) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return ctx;
	}
	if (c->ca_file[0] != '\0' && access(c->ca_file, R_OK) == -1) {
		/* OpenSSL 3 reports a missing file without a reason text: say it ourselves */
		snprintf(err, errlen, "key 'ca_file': cannot read it: %s (got \"%s\")",
		         strerror(errno), c->ca_file);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (c->ca_file[0] != '\0')
		ok = SSL_CTX_load_verify_locations(ctx, c->ca_file, NULL);
	else
		ok = SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		if (c->ca_file[0] != '\0')
			snprintf(err, errlen, "key 'ca_file': cannot load it: %s (got \"%s\")",
			         tls_conn_err_text(), c->ca_file);
		else
			snprintf(err, errlen,
			         "key 'ca_file': the system's CAs cannot be loaded: %s",
			         tls_conn_err_text());
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
}

int hp_conf_validate(struct hp_conf *c, char *err, size_t errlen)
{
	const char *why = NULL;

	switch (c->kind) {
	case HP_KIND_TCP:
		if (c->addr.len == 0) {
			snprintf(err, errlen, "key 'addr': required in a [tcp %s] section",
			         c->name);
			return -1;
		}
		return 0;
	case HP_KIND_HTTP:
		break;
	case HP_KIND_COUNT:
		snprintf(err, errlen, "key 'kind': not http or tcp");
		return -1;
	}
	if (c->url[0] == '\0') {
		snprintf(err, errlen, "key 'url': required in an [http %s] section", c->name);
		return -1;
	}
	if (hp_parse_url(c->url, &c->addr, c->path, sizeof(c->path), &c->tls, &why) < 0) {
		snprintf(err, errlen, "key 'url': %s (got \"%s\")", why, c->url);
		return -1;
	}
	if (!hp_all_vchar(c->host)) {
		snprintf(err, errlen, "key 'host': spaces or control characters (got \"%s\")",
		         c->host);
		return -1;
	}
	if (hp_parse_expect(c->expect, &c->expect_min, &c->expect_max) < 0) {
		snprintf(err, errlen,
		         "key 'expect': a status 100-599 or a range like 200-399 (got \"%s\")",
		         c->expect);
		return -1;
	}
	if (!hp_all_vchar(c->sni) || strchr(c->sni, ':') != NULL) {
		snprintf(err, errlen, "key 'sni': a host name without port (got \"%s\")", c->sni);
		return -1;
	}
	if (c->verify < 0 || c->verify >= HP_VERIFY_COUNT) {
		snprintf(err, errlen, "key 'verify': none or peer (got %d)", c->verify);
		return -1;
	}
	if (c->tls) {
		/* built once here so a bad ca_file fails the config, not every probe */
		struct ssl_ctx_st *ctx = hp_tls_ctx_new(c, err, errlen);

		if (ctx == NULL)
			return -1;
		SSL_CTX_free(ctx);
	}
	return 0;
}
