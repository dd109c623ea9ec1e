/* common/log.c - logging to stderr, syslog or a test sink; lines are bounded (LOG_LINE_MAX)
 * and a longer message is marked as cut with "...", never silently shortened. */
#include "common/log.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 1024

static const char *const log_level_names[LOG_LVL_COUNT] = {
	[LOG_LVL_ERROR] = "error",
	[LOG_LVL_WARNING] = "warning",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

static const int log_syslog_prio[LOG_LVL_COUNT] = {
	[LOG_LVL_ERROR] = LOG_ERR,
	[LOG_LVL_WARNING] = LOG_WARNING,
	[LOG_LVL_INFO] = LOG_INFO,
	[LOG_LVL_DEBUG] = LOG_DEBUG,
};

/* Module-private logger state; only the functions below touch it. */
static struct {
	char ident[32];         /* program name in every line */
	enum log_target target; /* where lines go */
	enum log_level level;   /* lines above it are dropped */
	log_sink_fn sink;       /* LOG_TO_CALLBACK only */
	void *sink_arg;         /* passed to <sink> */
} log_state = { "haprole", LOG_TO_STDERR, LOG_LVL_INFO, NULL, NULL };

void log_init(const char *ident, enum log_target target, enum log_level level)
{
	snprintf(log_state.ident, sizeof(log_state.ident), "%s", ident);
	if (log_state.target == LOG_TO_SYSLOG && target != LOG_TO_SYSLOG)
		closelog();
	log_state.target = target;
	log_state.level = level;
	if (target == LOG_TO_SYSLOG)
		openlog(log_state.ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_level(enum log_level level)
{
	log_state.level = level;
}

enum log_level log_get_level(void)
{
	return log_state.level;
}

/* Sends every line to <fn> (tests assert on log output this way). */
void log_set_sink(log_sink_fn fn, void *arg)
{
	log_state.target = LOG_TO_CALLBACK;
	log_state.sink = fn;
	log_state.sink_arg = arg;
}

const char *log_level_name(enum log_level level)
{
	return level < LOG_LVL_COUNT ? log_level_names[level] : "?";
}

/* Parses "error", "warning", "info" or "debug". */
bool log_level_parse(const char *s, enum log_level *out)
{
	for (int i = 0; i < LOG_LVL_COUNT; i++) {
		if (strcmp(s, log_level_names[i]) == 0) {
			*out = (enum log_level)i;
			return true;
		}
	}
	return false;
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	int n;

	if (level > log_state.level)
		return;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		snprintf(line, sizeof(line), "(unformattable log message: %s)", fmt);
	else if ((size_t)n >= sizeof(line))
		memcpy(line + sizeof(line) - 4, "...", 4); /* mark the cut, keep the NUL */
	/* One event, one line: a peer's CR/LF must not forge log lines. */
	for (char *p = line; *p != '\0'; p++) {
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	}
	switch (log_state.target) {
	case LOG_TO_SYSLOG:
		syslog(log_syslog_prio[level], "%s", line);
		break;
	case LOG_TO_CALLBACK:
		if (log_state.sink != NULL)
			log_state.sink(level, line, log_state.sink_arg);
		break;
	case LOG_TO_STDERR: {
		struct timespec ts;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ld %s[%d] %s: %s\n", stamp, ts.tv_nsec / 1000000,
		        log_state.ident, (int)getpid(), log_level_names[level], line);
		break;
	}
	}
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
