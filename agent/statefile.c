/* agent/statefile.c - persisted admin state; see statefile.h for the format and the policy on a
 * damaged file. The save path is the one blocking sequence the agent runs inside its loop
 * (write, fsync, rename, fsync dir on a file of ~100 bytes): it happens only on an operator's
 * command, and the reply "ok" must not be sent before the state is durable. */
#include "agent/statefile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cfg.h"

/* What the file's keys parse into, before validation. */
struct statefile_raw {
	int64_t version;            /* must be STATEFILE_VERSION */
	int admin;                  /* index in statefile_admin_words */
	char reason[NS_REASON_MAX]; /* as written */
	struct cfg_seen seen;       /* lines where each key was set (0: missing) */
};

/* Same order as enum ns_admin, so the index is the value. */
static const char *const statefile_admin_words[] = { "ready", "drain", "maint", NULL };

/* clang-format off */
static const struct cfg_key statefile_keys[] = {
	CFG_INT("version", struct statefile_raw, version, STATEFILE_VERSION, STATEFILE_VERSION, NULL, CFG_RESTART, "format version of this file"),
	CFG_ENUM("admin", struct statefile_raw, admin, statefile_admin_words, NULL, CFG_RESTART, "ready, drain or maint"),
	CFG_STR("reason", struct statefile_raw, reason, 0, NULL, CFG_RESTART, "operator's reason, as given to haprolectl"),
	CFG_END,
};
/* clang-format on */

const char *statefile_result_name(enum statefile_result r)
{
	switch (r) {
	case STATEFILE_OK:
		return "ok";
	case STATEFILE_ABSENT:
		return "absent";
	case STATEFILE_CORRUPT:
		return "corrupt";
	}
	return "?";
}

/* Printable ASCII only: the reason ends up in agent-check lines, logs and JSON. */
static bool statefile_reason_ok(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s < 0x20 || *s > 0x7e)
			return false;
	}
	return true;
}

static int statefile_item(void *arg, const struct cfg_item *it, char *err, size_t errlen)
{
	struct statefile_raw *raw = arg;

	if (it->key == NULL) {
		if (strcmp(it->section, "admin") == 0 && it->name[0] == '\0')
			return 0;
		cfg_item_err(err, errlen, it, "unexpected section [%s] in a state file",
		             it->section);
		return -1;
	}
	if (cfg_set_key(statefile_keys, raw, &raw->seen, it, err, errlen) == -1)
		return -1;
	if (strcmp(it->key, "reason") == 0 && !statefile_reason_ok(raw->reason)) {
		cfg_item_err(err, errlen, it,
		             "key 'reason': control or non-ASCII characters are not allowed");
		return -1;
	}
	return 0;
}

/* Fills <out> with the corrupt-file policy: MAINT. */
static enum statefile_result statefile_corrupt(struct statefile_data *out)
{
	out->admin = NS_ADMIN_MAINT;
	snprintf(out->reason, sizeof(out->reason), "state file corrupt, see agent log");
	return STATEFILE_CORRUPT;
}

/* Reads <path>. Returns STATEFILE_OK with <out> filled; STATEFILE_ABSENT with <out> READY;
 * STATEFILE_CORRUPT with <out> MAINT and <err> "FILE:LINE: ..." (or "FILE: ..."). */
enum statefile_result statefile_load(const char *path, struct statefile_data *out, char *err,
                                     size_t errlen)
{
	struct statefile_raw raw;
	struct stat st;
	size_t i;

	memset(out, 0, sizeof(*out));
	out->admin = NS_ADMIN_READY;
	if (stat(path, &st) == -1) {
		if (errno == ENOENT)
			return STATEFILE_ABSENT;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return statefile_corrupt(out);
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		return statefile_corrupt(out);
	}
	memset(&raw, 0, sizeof(raw));
	if (cfg_set_defaults(statefile_keys, &raw, err, errlen) == -1)
		return statefile_corrupt(out);
	if (cfg_read_file(path, statefile_item, &raw, err, errlen) == -1)
		return statefile_corrupt(out);
	for (i = 0; statefile_keys[i].name != NULL; i++) {
		if (raw.seen.line[i] == 0) {
			snprintf(err, errlen, "%s: key '%s' missing (file empty or cut?)", path,
			         statefile_keys[i].name);
			return statefile_corrupt(out);
		}
	}
	out->admin = (enum ns_admin)raw.admin;
	memcpy(out->reason, raw.reason, sizeof(out->reason));
	return STATEFILE_OK;
}

/* Writes all of <len> bytes of <p> to <fd>. Returns 0, or -1 with errno. */
static int statefile_write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* fsyncs the directory holding <path>, so that the rename itself survives a crash. */
static int statefile_sync_dir(const char *path, char *err, size_t errlen)
{
	char copy[4096];
	const char *dir;
	int fd;

	if (strlen(path) >= sizeof(copy)) {
		snprintf(err, errlen, "%s: path too long", path);
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(copy, path);
	dir = dirname(copy);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1) {
		snprintf(err, errlen, "open directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if (fsync(fd) == -1) {
		int e = errno;

		snprintf(err, errlen, "fsync directory %s: %s", dir, strerror(e));
		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	return 0;
}

/* Replaces <path> atomically and durably by the state <d>. Refuses (-1, EINVAL) a reason with
 * control or non-ASCII characters. Returns 0, or -1 with errno and <err> filled; on failure the
 * old file is untouched. */
int statefile_save(const char *path, const struct statefile_data *d, char *err, size_t errlen)
{
	char tmp[4096];
	char text[NS_REASON_MAX + 256];
	int fd;
	int n;
	int e;

	if ((unsigned)d->admin >= NS_ADMIN_COUNT || !statefile_reason_ok(d->reason) ||
	    strnlen(d->reason, sizeof(d->reason)) == sizeof(d->reason)) {
		snprintf(err, errlen, "%s: refusing to write an invalid admin state", path);
		errno = EINVAL;
		return -1;
	}
	n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		errno = ENAMETOOLONG;
		return -1;
	}
	n = snprintf(text, sizeof(text),
	             "# haprole-agent admin state, written by haprole-agent on every drain, maint\n"
	             "# or ready; change it with haprolectl, not by hand.\n"
	             "[admin]\nversion = %d\nadmin = %s\nreason = \"%s\"\n",
	             STATEFILE_VERSION, statefile_admin_words[d->admin], d->reason);
	if (n < 0 || (size_t)n >= sizeof(text)) {
		snprintf(err, errlen, "%s: state text too long", path);
		errno = EOVERFLOW;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd == -1) {
		snprintf(err, errlen, "create %s: %s", tmp, strerror(errno));
		return -1;
	}
	if (statefile_write_all(fd, text, (size_t)n) == -1) {
		snprintf(err, errlen, "write %s: %s", tmp, strerror(errno));
		goto out_unlink;
	}
	if (fsync(fd) == -1) {
		snprintf(err, errlen, "fsync %s: %s", tmp, strerror(errno));
		goto out_unlink;
	}
	if (close(fd) == -1) {
		fd = -1;
		snprintf(err, errlen, "close %s: %s", tmp, strerror(errno));
		goto out_unlink;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		snprintf(err, errlen, "rename %s to %s: %s", tmp, path, strerror(errno));
		goto out_unlink;
	}
	return statefile_sync_dir(path, err, errlen);

out_unlink:
	e = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	errno = e;
	return -1;
}
