/* common/node_state.h - one node's state, the payload of the agent's feed (design.md section 4),
 * and its codecs: msgpack frames for the feed (here), JSON for people and scripts
 * (common/ns_json.h). Prefix: ns_.
 *
 * The codecs are pure (bytes in, struct out; struct in, bytes out into a bounded struct buf) so
 * that the agent, haprole-spoa, haprolectl, the fuzzers and a future Lua port share them.
 *
 * Feed frame: a 4-byte big-endian payload length, then one msgpack map with short string keys:
 *   v cluster node boot seq ts_ms admin admin_reason fenced fence_reason
 *   pg    {present up role tl sysid lsn lag_bytes lag_ms streaming paused err repl}
 *   app   {present up ms err}      nginx {present up ms err}
 *   checks {NAME: "agent-check line", ...}
 * Field names are the contract: new fields may be added, a name never changes meaning. The
 * decoder skips keys it does not know and refuses a payload without v, cluster, node, boot,
 * seq, or with a known key of the wrong type. A heartbeat is the full state sent again with
 * the same seq. */
#ifndef HAPROLE_COMMON_NODE_STATE_H
#define HAPROLE_COMMON_NODE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/compiler.h"

#define NS_SCHEMA_VERSION 1
#define NS_NAME_MAX       64   /* cluster, node and check names, with NUL */
#define NS_REASON_MAX     128  /* err, admin_reason, fence_reason, with NUL */
#define NS_CHECKS_MAX     16   /* checks one agent may define */
#define NS_CHECK_LINE_MAX 160  /* one agent-check reply line, with NUL, without '\n' */
#define NS_SYSID_MAX      24   /* a uint64 in decimal, with NUL */
#define NS_FRAME_HDR      4    /* big-endian payload length */
#define NS_FRAME_MAX      8192 /* largest payload a subscriber accepts by default */
#define NS_REPL_MAX       512  /* pg.repl, with NUL */

enum ns_admin {
	NS_ADMIN_READY = 0, /* serving */
	NS_ADMIN_DRAIN,     /* no new sessions; HAProxy DRAIN */
	NS_ADMIN_MAINT,     /* out; HAProxy MAINT */
	NS_ADMIN_COUNT      /* keep last */
};

enum ns_role {
	NS_ROLE_UNKNOWN = 0, /* not probed yet, unreachable, or no answer */
	NS_ROLE_PRIMARY,     /* pg_is_in_recovery() = false */
	NS_ROLE_STANDBY,     /* pg_is_in_recovery() = true */
	NS_ROLE_COUNT        /* keep last */
};

/* What the postgres probe last saw; meaningful when <present>. */
struct ns_pg {
	bool present;             /* the node has a postgres probe */
	bool up;                  /* probe passing (after rise/fall) */
	enum ns_role role;        /* primary / standby / unknown */
	uint32_t tl;              /* timeline (0: unknown) */
	char sysid[NS_SYSID_MAX]; /* system identifier, decimal string ("" unknown) */
	uint64_t lsn;             /* primary: current LSN; standby: replay LSN */
	uint64_t lag_bytes;       /* standby: receive - replay, or primary - replay when known */
	uint64_t lag_ms;          /* standby: time behind, counted only while replay is behind */
	bool streaming;           /* standby: WAL receiver status is streaming */
	bool paused;              /* standby: replay paused */
	char err[NS_REASON_MAX];  /* last error ("" none) */
	/* primary: its streaming standbys from pg_stat_replication, "NAME=SYNC_STATE" joined by
	 * ',' (application_name = the standby's node name; sync_state async, potential, sync or
	 * quorum), "" when none or not a primary; what a standby's /sync and /async read */
	char repl[NS_REPL_MAX];
};

/* What an HTTP or TCP probe last saw; meaningful when <present>. */
struct ns_probe {
	bool present;            /* the node has this probe */
	bool up;                 /* passing (after rise/fall) */
	uint32_t ms;             /* last response time in ms */
	char err[NS_REASON_MAX]; /* last error ("" none) */
};

struct ns_check {
	char name[NS_NAME_MAX];       /* check name, as in the agent config */
	char line[NS_CHECK_LINE_MAX]; /* the agent-check line it answers now, no '\n' */
};

struct node_state {
	uint32_t v;                            /* schema version, NS_SCHEMA_VERSION */
	char cluster[NS_NAME_MAX];             /* cluster name */
	char node[NS_NAME_MAX];                /* node name, unique in the cluster */
	uint64_t boot;                         /* random id of this agent run */
	uint64_t seq;                          /* bumps on every change, per boot */
	uint64_t ts_ms;                        /* wall clock of the last change, ms since epoch */
	enum ns_admin admin;                   /* operator's admin state */
	char admin_reason[NS_REASON_MAX];      /* why, as given to haprolectl */
	bool fenced;                           /* local primary fenced by a peer (design.md 7) */
	char fence_reason[NS_REASON_MAX];      /* which peer, which timeline */
	struct ns_pg pg;                       /* local PostgreSQL */
	struct ns_probe app;                   /* local app */
	struct ns_probe nginx;                 /* local nginx */
	struct ns_check checks[NS_CHECKS_MAX]; /* verdicts per check */
	size_t n_checks;                       /* used entries of <checks> */
};

void ns_init(struct node_state *s);
void ns_minimal(const struct node_state *in, struct node_state *out);
void ns_minimal_line(char *line);

int ns_encode_frame(const struct node_state *s, struct buf *out) HR_MUSTCHECK;
int ns_frame_peek(const uint8_t *p, size_t len, size_t max_payload,
                  size_t *payload_len) HR_MUSTCHECK;
int ns_decode(const uint8_t *payload, size_t len, struct node_state *out,
              const char **why) HR_MUSTCHECK;

const char *ns_admin_name(enum ns_admin a);
const char *ns_role_name(enum ns_role r);
bool ns_admin_parse(const char *s, size_t len, enum ns_admin *out);
bool ns_role_parse(const char *s, size_t len, enum ns_role *out);
const struct ns_check *ns_find_check(const struct node_state *s, const char *name);

#include "common/ns_json.h" /* ns_to_json(), ns_json_str() */

#endif /* HAPROLE_COMMON_NODE_STATE_H */
