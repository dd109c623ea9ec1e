/* common/netacl.h - allow-lists of source networks for the listeners that face the network
 * (the agent port, the SPOP port, the SPOA status page). Prefix: netacl_.
 *
 * Written in configs as a list of addresses or CIDR networks separated by commas or spaces:
 *   allow_from = 127.0.0.1, 10.0.0.0/8, ::1, fd00::/8
 * Numeric only (no DNS). An empty list allows everyone (the default: the daemons are meant
 * for a trusted network; docs/security.md). An IPv4 peer on an IPv6 socket (::ffff:a.b.c.d)
 * matches the IPv4 networks. */
#ifndef HAPROLE_COMMON_NETACL_H
#define HAPROLE_COMMON_NETACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/compiler.h"

#define NETACL_MAX      16  /* networks in one list */
#define NETACL_TEXT_MAX 512 /* the list as written, with NUL */

struct netacl_net {
	int family;       /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network address, host bits cleared (4 bytes used for IPv4) */
	unsigned prefix;  /* prefix length: 0..32 or 0..128 */
};

struct netacl {
	struct netacl_net net[NETACL_MAX]; /* the networks */
	size_t n;                          /* used entries; 0 = allow everyone */
	char text[NETACL_TEXT_MAX];        /* as written, for logs and -c */
};

/* Parses <text> into <out>. Returns 0, or -1 with <*why> a static text ("not a numeric
 * address or network", "prefix length out of range", "more than 16 networks"). */
int netacl_parse(const char *text, struct netacl *out, const char **why) HR_MUSTCHECK;

/* True when <acl> is empty or one of its networks holds <sa>. */
bool netacl_allows(const struct netacl *acl, const struct sockaddr *sa, socklen_t len);

#endif /* HAPROLE_COMMON_NETACL_H */
