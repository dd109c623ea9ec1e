/* common/log.h - one line per event, to stderr or syslog. Prefix: log_.
 *
 * Levels (design.md 14): error = lost something or exiting; warning = a peer misbehaved, we retry;
 * info = what an operator acts on (role change, up/down, drain, reload); debug = per connection.
 * The state (target, level, ident) is private to log.c; set it once in main(). */
#ifndef HAPROLE_COMMON_LOG_H
#define HAPROLE_COMMON_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#include "common/compiler.h"

enum log_level {
	LOG_LVL_ERROR = 0, /* lost something, or exiting */
	LOG_LVL_WARNING,   /* a peer misbehaved; we retry */
	LOG_LVL_INFO,      /* an operator acts on it */
	LOG_LVL_DEBUG,     /* per connection, per frame */
	LOG_LVL_COUNT      /* keep last */
};

enum log_target {
	LOG_TO_STDERR = 0, /* "<time> <ident>[pid] <level>: message" */
	LOG_TO_SYSLOG,     /* openlog(ident, LOG_PID, LOG_DAEMON) */
	LOG_TO_CALLBACK,   /* tests: every formatted line goes to a function */
};

typedef void (*log_sink_fn)(enum log_level level, const char *line, void *arg);

void log_init(const char *ident, enum log_target target, enum log_level level);
void log_set_level(enum log_level level);
void log_set_sink(log_sink_fn fn, void *arg);
enum log_level log_get_level(void);
bool log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) HR_PRINTF(2, 3);
void log_vmsg(enum log_level level, const char *fmt, va_list ap) HR_PRINTF(2, 0);

static inline bool log_enabled(enum log_level level)
{
	return level <= log_get_level();
}

/* Debug lines are built only when debug is on: the hot path pays one comparison. */
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_enabled(LOG_LVL_DEBUG))                                                    \
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__);                                       \
	} while (0)
#define log_info(...)    log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LVL_WARNING, __VA_ARGS__)
#define log_error(...)   log_msg(LOG_LVL_ERROR, __VA_ARGS__)

#endif /* HAPROLE_COMMON_LOG_H */
