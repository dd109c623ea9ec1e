/* common/priv.c - dropping root after binding; see priv.h. Runs before the event loop starts
 * (the passwd and group lookups may read files). */
#include "common/priv.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/cfg.h"

/* Resolves user <name> (a name, or a number) to its uid and primary gid. Returns 0, or -1 with
 * <why> ("no such user"). */
int priv_lookup_user(const char *name, uid_t *uid, gid_t *gid, char *why, size_t whylen)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(name);
	if (pw == NULL) {
		snprintf(why, whylen, "%s", errno != 0 ? strerror(errno) : "no such user");
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

/* Resolves group <name> to its gid. Returns 0, or -1 with <why>. */
int priv_lookup_group(const char *name, gid_t *gid, char *why, size_t whylen)
{
	struct group *gr;

	errno = 0;
	gr = getgrnam(name);
	if (gr == NULL) {
		snprintf(why, whylen, "%s", errno != 0 ? strerror(errno) : "no such group");
		return -1;
	}
	*gid = gr->gr_gid;
	return 0;
}

/* Decides, at start, what the process becomes after binding. <user> and <group> are the config's
 * values ("" when unset; an empty <group> means the user's primary group); <section> and <file>
 * name where they are set, for the messages. Fills <out> (out->drop false: stay as is). Returns
 * 0, or -1 with <err> when the daemon must not start:
 *   - root without a `user` (or with a `user` of uid 0), unless <allow_root>;
 *   - not root, with a `user` or `group` other than the current ones (only root can switch). */
int priv_plan(const char *user, const char *group, bool allow_root, const char *section,
              const char *file, struct priv_id *out, char *err, size_t errlen)
{
	char why[128];

	memset(out, 0, sizeof(*out));
	if (user[0] != '\0') {
		if (priv_lookup_user(user, &out->uid, &out->gid, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "%s: key 'user': %s (got \"%s\")", file, why, user);
			return -1;
		}
		snprintf(out->user, sizeof(out->user), "%s", user);
	} else if (group[0] != '\0') {
		snprintf(err, errlen, "%s: key 'group': set without 'user' in [%s]", file, section);
		return -1;
	}
	if (group[0] != '\0' && priv_lookup_group(group, &out->gid, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: key 'group': %s (got \"%s\")", file, why, group);
		return -1;
	}
	if (geteuid() != 0) {
		if (user[0] != '\0' && (out->uid != geteuid() || out->gid != getegid())) {
			snprintf(err, errlen,
			         "%s: key 'user': cannot become %s (uid %ld, gid %ld) when started "
			         "as uid %ld gid %ld: only root can switch; start it as root or as "
			         "that user",
			         file, user, (long)out->uid, (long)out->gid, (long)geteuid(),
			         (long)getegid());
			return -1;
		}
		out->drop = false;
		return 0;
	}
	if (user[0] != '\0' && out->uid != 0) {
		out->drop = true;
		return 0;
	}
	if (!allow_root) {
		snprintf(err, errlen,
		         "refusing to run as root: set 'user' (and 'group') in [%s] of %s to the "
		         "account to run as after binding (e.g. user = haprole), or pass "
		         "--allow-root to keep running as root",
		         section, file);
		return -1;
	}
	out->drop = false;
	return 0;
}

/* Gives <path> (a socket or file the daemon created as root) to the user and group <id> drops
 * to, so it can still remove it and its group can use it. Nothing when no drop is planned.
 * Returns 0, or -1 with <err>. */
int priv_chown(const struct priv_id *id, const char *path, char *err, size_t errlen)
{
	if (!id->drop || path[0] == '\0')
		return 0;
	if (chown(path, id->uid, id->gid) == -1) {
		snprintf(err, errlen, "chown %s to %s: %s", path, id->user, strerror(errno));
		return -1;
	}
	return 0;
}

/* Drops root for good when <id> says so: initgroups() (the user's supplementary groups),
 * setgid(), setuid(), in that order (each needs the privilege the next one gives up), each
 * checked; then proves the drop: real, effective and saved ids are the target's and setuid(0)
 * fails. Returns 0 (also when no drop is planned), or -1 with <err>: the caller exits. */
int priv_drop(const struct priv_id *id, char *err, size_t errlen)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (!id->drop)
		return 0;
	if (initgroups(id->user, id->gid) == -1) {
		snprintf(err, errlen, "cannot drop to %s: setgroups: %s", id->user,
		         strerror(errno));
		return -1;
	}
	if (setgid(id->gid) == -1) {
		snprintf(err, errlen, "cannot drop to %s: setgid(%ld): %s", id->user, (long)id->gid,
		         strerror(errno));
		return -1;
	}
	if (setuid(id->uid) == -1) {
		snprintf(err, errlen, "cannot drop to %s: setuid(%ld): %s", id->user, (long)id->uid,
		         strerror(errno));
		return -1;
	}
	if (getresuid(&ru, &eu, &su) == -1 || getresgid(&rg, &eg, &sg) == -1 || ru != id->uid ||
	    eu != id->uid || su != id->uid || rg != id->gid || eg != id->gid || sg != id->gid) {
		snprintf(err, errlen, "cannot drop to %s: ids after setuid are not uid %ld gid %ld",
		         id->user, (long)id->uid, (long)id->gid);
		return -1;
	}
	if (setuid(0) != -1 || seteuid(0) != -1) {
		snprintf(err, errlen, "dropped to %s but root could be regained: refusing to run",
		         id->user);
		return -1;
	}
	return 0;
}

int priv_check_conf_item(const struct cfg_item *it, char *err, size_t errlen)
{
	char why[128];
	uid_t uid;
	gid_t gid;

	if (it->value[0] == '\0')
		return 0;
	if (strcmp(it->key, "user") == 0 &&
	    priv_lookup_user(it->value, &uid, &gid, why, sizeof(why)) < 0) {
		cfg_item_err(err, errlen, it, "key 'user': %s (got \"%s\")", why, it->value);
		return -1;
	}
	if (strcmp(it->key, "group") == 0 &&
	    priv_lookup_group(it->value, &gid, why, sizeof(why)) < 0) {
		cfg_item_err(err, errlen, it, "key 'group': %s (got \"%s\")", why, it->value);
		return -1;
	}
	return 0;
}
