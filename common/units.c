/* common/units.c - duration and size parsing; see units.h for the accepted forms. */
#include "common/units.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct units_suffix {
	const char *name; /* exact suffix, compared whole */
	double factor;    /* multiplier to the base unit */
};

static const struct units_suffix units_time[] = {
	{ "", 1e-3 }, { "us", 1e-6 }, { "ms", 1e-3 }, { "s", 1.0 }, { "m", 60.0 }, { "h", 3600.0 },
};

static const struct units_suffix units_bytes[] = {
	{ "", 1.0 },
	{ "B", 1.0 },
	{ "k", 1024.0 },
	{ "K", 1024.0 },
	{ "KB", 1024.0 },
	{ "KiB", 1024.0 },
	{ "kB", 1024.0 },
	{ "M", 1048576.0 },
	{ "MB", 1048576.0 },
	{ "MiB", 1048576.0 },
	{ "G", 1073741824.0 },
	{ "GB", 1073741824.0 },
	{ "GiB", 1073741824.0 },
};

static const struct units_suffix *units_find(const struct units_suffix *tab, size_t n,
                                             const char *suffix)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(tab[i].name, suffix) == 0)
			return &tab[i];
	}
	return NULL;
}

/* Parses a duration into <seconds>. Returns 0, or -1 with errno EINVAL (bad form or unit)
 * or ERANGE (not finite, or above a year). */
int units_parse_duration(const char *s, double *seconds)
{
	const struct units_suffix *u;
	char *end;
	double v;

	if (s[0] < '0' || s[0] > '9') {
		errno = EINVAL;
		return -1;
	}
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || !isfinite(v)) {
		errno = ERANGE;
		return -1;
	}
	u = units_find(units_time, HR_ARRAY_SIZE(units_time), end);
	if (u == NULL) {
		errno = EINVAL;
		return -1;
	}
	v *= u->factor;
	if (v > 365.0 * 86400.0) {
		errno = ERANGE;
		return -1;
	}
	*seconds = v;
	return 0;
}

/* Parses a size into <bytes>. Returns 0, or -1 with errno EINVAL or ERANGE. */
int units_parse_size(const char *s, uint64_t *bytes)
{
	const struct units_suffix *u;
	unsigned long long v;
	char *end;

	if (s[0] < '0' || s[0] > '9') {
		errno = EINVAL;
		return -1;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0) {
		errno = ERANGE;
		return -1;
	}
	u = units_find(units_bytes, HR_ARRAY_SIZE(units_bytes), end);
	if (u == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (u->factor > 1.0 && v > UINT64_MAX / (uint64_t)u->factor) {
		errno = ERANGE;
		return -1;
	}
	*bytes = (uint64_t)v * (uint64_t)u->factor;
	return 0;
}

/* Writes <seconds> the way a config would say it ("250ms", "2s"). Returns 0, or -1 (ENOBUFS). */
int units_format_duration(double seconds, char *out, size_t outlen)
{
	int n;

	if (seconds >= 1.0 && fmod(seconds, 1.0) == 0.0)
		n = snprintf(out, outlen, "%.0fs", seconds);
	else if (fmod(seconds * 1e3, 1.0) < 1e-9)
		n = snprintf(out, outlen, "%.0fms", seconds * 1e3);
	else
		n = snprintf(out, outlen, "%.0fus", seconds * 1e6);
	if (n < 0 || (size_t)n >= outlen) {
		errno = ENOBUFS;
		return -1;
	}
	return 0;
}
