/* common/units.h - durations and sizes as people write them in configs. Prefix: units_.
 *
 * Durations: a decimal number and a unit, "500us", "250ms", "2s", "1.5s", "5m", "1h"; a bare
 * number is milliseconds, as in HAProxy's configuration. Sizes: an integer and a unit, "512",
 * "512B", "64k", "64KB", "64KiB", "16M", "16MB", "1G"; every multiple is a power of 1024 (as in
 * HAProxy). Both refuse signs, empty strings, trailing garbage and overflow. */
#ifndef HAPROLE_COMMON_UNITS_H
#define HAPROLE_COMMON_UNITS_H

#include <stdint.h>

#include "common/compiler.h"

int units_parse_duration(const char *s, double *seconds) HR_MUSTCHECK;
int units_parse_size(const char *s, uint64_t *bytes) HR_MUSTCHECK;
int units_format_duration(double seconds, char *out, size_t outlen) HR_MUSTCHECK;

#endif /* HAPROLE_COMMON_UNITS_H */
