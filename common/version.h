/* common/version.h - the one version string of haprole-agent, haprole-spoa and haprolectl;
 * each prints "PROGRAM VERSION" for -v and --version. `make HAPROLE_VERSION=...` overrides. */
#ifndef HAPROLE_COMMON_VERSION_H
#define HAPROLE_COMMON_VERSION_H

#ifndef HAPROLE_VERSION
#define HAPROLE_VERSION "0.1.0"
#endif

#endif /* HAPROLE_COMMON_VERSION_H */
