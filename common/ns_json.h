/* common/ns_json.h - one node's state (common/node_state.h) as JSON, for people and scripts:
 * the agent's /status and Patroni-style bodies, its admin socket, haprolectl --json and the
 * SPOA's status page. Prefix: ns_ (the node state's codecs; the msgpack one is in
 * node_state.c). Pure: struct in, bytes out into a bounded struct buf. */
#ifndef HAPROLE_COMMON_NS_JSON_H
#define HAPROLE_COMMON_NS_JSON_H

#include "common/compiler.h"

struct buf;
struct node_state;

/* Appends <s> as a JSON string (quoted, escaped: '"', '\\', control characters as \u00XX, and
 * '?' for bytes that are not valid UTF-8). Returns 0, or -1 (ENOBUFS) leaving <out> unchanged. */
int ns_json_str(struct buf *out, const char *s) HR_MUSTCHECK;

/* Appends <s> as one JSON object (what `curl node:5555` shows, and haprolectl --json), whole
 * or not at all. Returns 0, or -1 (ENOBUFS) leaving <out> unchanged. */
int ns_to_json(const struct node_state *s, struct buf *out) HR_MUSTCHECK;

#endif /* HAPROLE_COMMON_NS_JSON_H */
