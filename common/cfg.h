/* common/cfg.h - INI-style config files and key tables. Prefix: cfg_.
 *
 * File syntax: "[section]" or "[section name]" headers, "key = value" lines, full-line comments
 * starting with '#' or ';', blank lines. A value may be wrapped in double quotes to keep leading
 * or trailing spaces; '#' inside a value is data (a password may contain one). Lines are at most
 * CFG_LINE_MAX bytes.
 *
 * Two layers: cfg_read_file() tokenizes and calls the daemon back per header and per key; the
 * daemon routes each key to a key table (struct cfg_key[]) with cfg_set_key(), which parses the
 * value by type into a struct at the key's offset. Every error names file, line and key:
 *     FILE:LINE: key 'KEY': what is wrong (got "VALUE")
 * Daemons parse into a fresh struct, validate it whole, then swap (a failed reload keeps the old). */
#ifndef HAPROLE_COMMON_CFG_H
#define HAPROLE_COMMON_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/compiler.h"

#define CFG_LINE_MAX 1024 /* longest line accepted, without its newline */
#define CFG_MAX_KEYS 64   /* most keys one table may hold (duplicate tracking) */
#define CFG_NAME_MAX 64   /* longest section or instance name */

enum cfg_type {
	CFG_T_INT = 0,  /* int64_t, bounds min..max */
	CFG_T_BOOL,     /* bool: yes/no, true/false, on/off, 1/0 */
	CFG_T_DURATION, /* double seconds, units.h forms, bounds in seconds */
	CFG_T_SIZE,     /* uint64_t bytes, units.h forms, bounds in bytes */
	CFG_T_STRING,   /* char[len], NUL-terminated; a longer value is an error */
	CFG_T_ENUM,     /* int: index of the value in enum_names */
	CFG_T_ADDR,     /* struct cfg_addr: numeric "ip:port", "[ip6]:port" or "*:port" */
	CFG_T_NETS,     /* struct netacl: "10.0.0.0/8, ::1" (common/netacl.h); "" = everyone */
	CFG_T_COUNT     /* keep last */
};

/* A listen or connect address, parsed without DNS (nothing may block the event loop). */
struct cfg_addr {
	struct sockaddr_storage ss; /* family, address and port */
	socklen_t len;              /* meaningful bytes of <ss> */
	char text[64];              /* as written in the config, for logs */
};

struct cfg_key {
	const char *name;              /* key as written in the file, matched whole */
	enum cfg_type type;            /* how the value is parsed and stored */
	size_t offset;                 /* where in the daemon's struct the value goes */
	size_t len;                    /* CFG_T_STRING: size of the char array (with NUL) */
	double min;                    /* numeric types: lowest accepted value */
	double max;                    /* numeric types: highest accepted value */
	const char *def;               /* default, as text parsed like a value; NULL: zero */
	const char *const *enum_names; /* CFG_T_ENUM: accepted words, NULL-terminated */
	bool reloadable;               /* SIGHUP may change it; else a change needs a restart */
	const char *help;              /* one line for --help and docs */
};

/* Key table entries, one line per key (pgbouncer's bouncer_params[] is the model):
 *   CFG_INT(KEY, TYPE, MEMBER, MIN, MAX, DEFAULT, RELOAD, HELP)   likewise CFG_DUR, CFG_SIZE
 *   CFG_STR(KEY, TYPE, MEMBER, MINLEN, DEFAULT, RELOAD, HELP)     char array: .len = its size
 *   CFG_BOOL / CFG_ADDR / CFG_NETS(KEY, TYPE, MEMBER, DEFAULT, RELOAD, HELP)
 *   CFG_ENUM(KEY, TYPE, MEMBER, WORDS, DEFAULT, RELOAD, HELP)
 *   CFG_END
 * TYPE is the struct the offsets are into ("struct pgp_conf"), DEFAULT the text of the default
 * (NULL: zero), RELOAD CFG_RELOAD or CFG_RESTART. Tables are kept out of clang-format so that
 * each key stays on its line. */
#define CFG_RELOAD  true  /* SIGHUP may change the key */
#define CFG_RESTART false /* a change needs a restart */
#define CFG_NUM_(t_, k_, T_, m_, lo_, hi_, def_, rl_, help_)                                       \
	{                                                                                          \
		.name = (k_), .type = (t_), .offset = offsetof(T_, m_), .min = (lo_),              \
		.max = (hi_), .def = (def_), .reloadable = (rl_), .help = (help_)                  \
	}
#define CFG_INT(k_, T_, m_, lo_, hi_, def_, rl_, help_)                                            \
	CFG_NUM_(CFG_T_INT, k_, T_, m_, lo_, hi_, def_, rl_, help_)
#define CFG_DUR(k_, T_, m_, lo_, hi_, def_, rl_, help_)                                            \
	CFG_NUM_(CFG_T_DURATION, k_, T_, m_, lo_, hi_, def_, rl_, help_)
#define CFG_SIZE(k_, T_, m_, lo_, hi_, def_, rl_, help_)                                           \
	CFG_NUM_(CFG_T_SIZE, k_, T_, m_, lo_, hi_, def_, rl_, help_)
#define CFG_STR(k_, T_, m_, minlen_, def_, rl_, help_)                                             \
	{                                                                                          \
		.name = (k_), .type = CFG_T_STRING, .offset = offsetof(T_, m_),                    \
		.len = sizeof(((T_ *)0)->m_), .min = (minlen_), .def = (def_),                     \
		.reloadable = (rl_), .help = (help_)                                               \
	}
#define CFG_PLAIN_(t_, k_, T_, m_, def_, rl_, help_)                                               \
	{                                                                                          \
		.name = (k_), .type = (t_), .offset = offsetof(T_, m_), .def = (def_),             \
		.reloadable = (rl_), .help = (help_)                                               \
	}
#define CFG_BOOL(k_, T_, m_, def_, rl_, help_) CFG_PLAIN_(CFG_T_BOOL, k_, T_, m_, def_, rl_, help_)
#define CFG_ADDR(k_, T_, m_, def_, rl_, help_) CFG_PLAIN_(CFG_T_ADDR, k_, T_, m_, def_, rl_, help_)
#define CFG_NETS(k_, T_, m_, def_, rl_, help_) CFG_PLAIN_(CFG_T_NETS, k_, T_, m_, def_, rl_, help_)
#define CFG_ENUM(k_, T_, m_, words_, def_, rl_, help_)                                             \
	{                                                                                          \
		.name = (k_), .type = CFG_T_ENUM, .offset = offsetof(T_, m_),                      \
		.enum_names = (words_), .def = (def_), .reloadable = (rl_), .help = (help_)        \
	}
#define CFG_END                                                                                    \
	{                                                                                          \
		.name = NULL                                                                       \
	}

/* The keys every probe has -- interval, timeout, rise, fall -- defined once, for a struct <T_>
 * with members of those names: <ival_> the default interval and <ival_max_> its bound,
 * <tmo_help_> what the timeout covers, <fall_> the default fall. All reloadable. */
#define CFG_PROBE_KEYS(T_, ival_, ival_max_, tmo_help_, fall_)                                     \
	CFG_DUR("interval", T_, interval, 0.01, ival_max_, ival_, CFG_RELOAD,                      \
	        "time between two probes"),                                                        \
	    CFG_DUR("timeout", T_, timeout, 0.01, 60, "1s", CFG_RELOAD, tmo_help_),                \
	    CFG_INT("rise", T_, rise, 1, 1000, "2", CFG_RELOAD,                                    \
	            "consecutive passes to turn the probe up (the first result sets it)"),         \
	    CFG_INT("fall", T_, fall, 1, 1000, fall_, CFG_RELOAD,                                  \
	            "consecutive failures (error, timeout, lost connection) to turn it down")

/* What cfg_read_file() hands the daemon: a header (key == NULL) or a key. */
struct cfg_item {
	const char *file;    /* path as given */
	unsigned line;       /* 1-based line number */
	const char *section; /* "check" in "[check writer]"; "" before any header */
	const char *name;    /* "writer" in "[check writer]"; "" when none */
	const char *key;     /* NULL on a section header */
	const char *value;   /* unquoted value; NULL on a section header */
};

/* Returns 0 to go on, -1 to stop with <err> filled (use cfg_item_err()). */
typedef int (*cfg_item_fn)(void *arg, const struct cfg_item *it, char *err, size_t errlen);

/* Lines at which each key of one table instance was set, to refuse duplicates. */
struct cfg_seen {
	unsigned line[CFG_MAX_KEYS]; /* 0: not set yet */
};

int cfg_read_file(const char *path, cfg_item_fn fn, void *arg, char *err,
                  size_t errlen) HR_MUSTCHECK;
int cfg_read_string(const char *name, const char *text, cfg_item_fn fn, void *arg, char *err,
                    size_t errlen) HR_MUSTCHECK;

int cfg_set_key(const struct cfg_key *table, void *base, struct cfg_seen *seen,
                const struct cfg_item *it, char *err, size_t errlen) HR_MUSTCHECK;
int cfg_set_defaults(const struct cfg_key *table, void *base, char *err,
                     size_t errlen) HR_MUSTCHECK;
const struct cfg_key *cfg_find_key(const struct cfg_key *table, const char *name);
int cfg_parse_value(const struct cfg_key *k, const char *value, void *base,
                    const char **why) HR_MUSTCHECK;
int cfg_parse_addr(const char *text, struct cfg_addr *out, const char **why) HR_MUSTCHECK;
/* Bytes a value of <k> takes in the daemon's struct. */
size_t cfg_value_size(const struct cfg_key *k);
int cfg_format_value(const struct cfg_key *k, const void *base, char *out,
                     size_t outlen) HR_MUSTCHECK;

void cfg_item_err(char *err, size_t errlen, const struct cfg_item *it, const char *fmt, ...)
    HR_PRINTF(4, 5);
const char *cfg_redact(const char *conninfo, char *out, size_t outlen);

#endif /* HAPROLE_COMMON_CFG_H */
