/* agent/statefile.h - the agent's persisted admin state (drain / maint / ready and the reason),
 * so that a node drained for an upgrade stays drained across an agent restart or a reboot.
 * Prefix: statefile_.
 *
 * File format: the INI syntax of common/cfg.h, three keys, written whole by statefile_save():
 *     # haprole-agent admin state ...
 *     [admin]
 *     version = 1
 *     admin = drain
 *     reason = "upgrade to 5.2"
 * Writes are atomic and durable: write PATH.tmp, fsync it, rename over PATH, fsync the
 * directory. A reader therefore sees the old file or the new one, never a mix.
 *
 * Policy on a damaged file (decided here, documented in docs/operations.md): a file that exists
 * but cannot be read or parsed puts the node in MAINT, with an error naming file and line.
 * The operator took the node out for a reason we can no longer read; sending it traffic would
 * be the unsafe guess. `haprolectl ready` (which rewrites the file) clears it. A missing file
 * means the node was never drained: READY. */
#ifndef HAPROLE_AGENT_STATEFILE_H
#define HAPROLE_AGENT_STATEFILE_H

#include <stddef.h>

#include "common/compiler.h"
#include "common/node_state.h"

#define STATEFILE_VERSION 1

enum statefile_result {
	STATEFILE_OK = 0,  /* file read: <admin> and <reason> are what it says */
	STATEFILE_ABSENT,  /* no file: READY, never drained on this node */
	STATEFILE_CORRUPT, /* unreadable or malformed: MAINT, <err> says file:line and why */
};

/* The persisted part of the admin state. */
struct statefile_data {
	enum ns_admin admin;        /* ready / drain / maint */
	char reason[NS_REASON_MAX]; /* operator's reason, printable ASCII, may be "" */
};

enum statefile_result statefile_load(const char *path, struct statefile_data *out, char *err,
                                     size_t errlen) HR_MUSTCHECK;
int statefile_save(const char *path, const struct statefile_data *d, char *err,
                   size_t errlen) HR_MUSTCHECK;
const char *statefile_result_name(enum statefile_result r);

#endif /* HAPROLE_AGENT_STATEFILE_H */
