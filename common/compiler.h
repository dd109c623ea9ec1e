/* common/compiler.h - attributes and tiny helpers every module uses. No prefix: HR_ macros.
 * Macros here are attributes and constants only; none changes control flow (docs/design.md 14). */
#ifndef HAPROLE_COMMON_COMPILER_H
#define HAPROLE_COMMON_COMPILER_H

#include <stddef.h>

#define HR_MUSTCHECK    __attribute__((warn_unused_result))
#define HR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define HR_UNUSED       __attribute__((unused))
#define HR_LIKELY(x)    __builtin_expect(!!(x), 1)
#define HR_UNLIKELY(x)  __builtin_expect(!!(x), 0)

/* Size of the caller-provided error buffer of setup functions (config, listen, ...). */
#define HR_ERR_LEN 256

#define HR_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The object that embeds <ptr> as its member <member> (libev watchers live in their owner). */
#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#endif /* HAPROLE_COMMON_COMPILER_H */
