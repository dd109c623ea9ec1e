/* common/netacl.c - allow-lists of source networks (common/netacl.h). */
#include "common/netacl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Clears the host bits of <addr> (<bytes> long) past <prefix>. */
static void netacl_mask(uint8_t *addr, size_t bytes, unsigned prefix)
{
	for (size_t i = 0; i < bytes; i++) {
		unsigned keep = prefix >= 8 * (i + 1) ? 8 : prefix > 8 * i ? prefix - 8 * i : 0;

		addr[i] &= (uint8_t)(0xff00u >> keep);
	}
}

static int netacl_parse_one(const char *tok, struct netacl_net *out, const char **why)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(tok, '/');
	size_t hlen = slash != NULL ? (size_t)(slash - tok) : strlen(tok);
	unsigned max;

	if (hlen == 0 || hlen >= sizeof(host)) {
		*why = "not a numeric address or network";
		return -1;
	}
	memcpy(host, tok, hlen);
	host[hlen] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, host, out->addr) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, out->addr) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else {
		*why = "not a numeric address or network (examples: 10.0.0.0/8, 127.0.0.1, ::1)";
		return -1;
	}
	out->prefix = max;
	if (slash != NULL) {
		char *end;
		unsigned long p;

		if (slash[1] < '0' || slash[1] > '9') {
			*why = "prefix length out of range";
			return -1;
		}
		p = strtoul(slash + 1, &end, 10);
		if (*end != '\0' || p > max) {
			*why = "prefix length out of range";
			return -1;
		}
		out->prefix = (unsigned)p;
	}
	netacl_mask(out->addr, out->family == AF_INET ? 4 : 16, out->prefix);
	return 0;
}

int netacl_parse(const char *text, struct netacl *out, const char **why)
{
	char tok[INET6_ADDRSTRLEN + 8];
	const char *p = text;

	memset(out, 0, sizeof(*out));
	if (strlen(text) >= sizeof(out->text)) {
		*why = "list too long";
		return -1;
	}
	snprintf(out->text, sizeof(out->text), "%s", text);
	while (*p != '\0') {
		size_t l;

		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		l = strcspn(p, ", \t");
		if (l >= sizeof(tok)) {
			*why = "not a numeric address or network";
			return -1;
		}
		if (out->n == NETACL_MAX) {
			*why = "more than 16 networks";
			return -1;
		}
		memcpy(tok, p, l);
		tok[l] = '\0';
		if (netacl_parse_one(tok, &out->net[out->n], why) < 0)
			return -1;
		out->n++;
		p += l;
	}
	return 0;
}

static bool netacl_net_holds(const struct netacl_net *net, const uint8_t *addr, int family)
{
	uint8_t a[16];
	size_t bytes = family == AF_INET ? 4 : 16;

	if (net->family != family)
		return false;
	memcpy(a, addr, bytes);
	netacl_mask(a, bytes, net->prefix);
	return memcmp(a, net->addr, bytes) == 0;
}

bool netacl_allows(const struct netacl *acl, const struct sockaddr *sa, socklen_t len)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const uint8_t *addr;
	int family;

	if (acl->n == 0)
		return true;
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		addr = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
		family = AF_INET;
	} else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		addr = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
		family = AF_INET6;
		if (memcmp(addr, v4mapped, sizeof(v4mapped)) == 0) {
			addr += 12;
			family = AF_INET;
		}
	} else {
		return false; /* unknown family: not on the list */
	}
	for (size_t i = 0; i < acl->n; i++)
		if (netacl_net_holds(&acl->net[i], addr, family))
			return true;
	return false;
}
