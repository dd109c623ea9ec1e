/* common/priv.h - least privilege for haprole-agent and haprole-spoa. Prefix: priv_.
 *
 * A daemon started as root binds its listeners (and opens what only root may open), then drops
 * to the `user` / `group` of its config for good: supplementary groups from /etc/group
 * (initgroups(): how a PostgreSQL data directory shared with group access stays readable),
 * then setgid(), then setuid(), each checked, and a final check that root cannot be regained.
 * Started as root without `user`, a daemon refuses to run unless told --allow-root. Started as
 * another user, it runs as that user; a configured `user` other than the current one is then
 * an error (only root can switch). */
#ifndef HAPROLE_COMMON_PRIV_H
#define HAPROLE_COMMON_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/compiler.h"

#define PRIV_NAME_MAX 64 /* longest user or group name, with NUL */

/* What to become after binding; built by priv_plan(). */
struct priv_id {
	bool drop;                /* true: priv_drop() switches to uid/gid */
	uid_t uid;                /* target user id */
	gid_t gid;                /* target group id */
	char user[PRIV_NAME_MAX]; /* target user name (initgroups() reads its groups) */
};

int priv_lookup_user(const char *name, uid_t *uid, gid_t *gid, char *why,
                     size_t whylen) HR_MUSTCHECK;
int priv_lookup_group(const char *name, gid_t *gid, char *why, size_t whylen) HR_MUSTCHECK;

struct cfg_item;

/* A config item `user` or `group` (of [agent] or [spoa]) names an account that exists: checked
 * while reading, so -c refuses it too. Other keys and empty values pass. Returns 0, or -1
 * with <err> = "FILE:LINE: key 'user': why (got "VALUE")". */
int priv_check_conf_item(const struct cfg_item *it, char *err, size_t errlen) HR_MUSTCHECK;
int priv_plan(const char *user, const char *group, bool allow_root, const char *section,
              const char *file, struct priv_id *out, char *err, size_t errlen) HR_MUSTCHECK;
int priv_chown(const struct priv_id *id, const char *path, char *err, size_t errlen) HR_MUSTCHECK;
int priv_drop(const struct priv_id *id, char *err, size_t errlen) HR_MUSTCHECK;

#endif /* HAPROLE_COMMON_PRIV_H */
