/* common/node_state.c - node state codecs: msgpack feed frames and JSON. See node_state.h for
 * the wire contract. Encoders write whole or nothing into a struct buf; the decoder type-checks
 * every object before use, matches keys on length and bytes, and skips keys it does not know. */
#include "common/node_state.h"

#include <errno.h>
#include <string.h>

#include <msgpack.h>

static const char *const ns_admin_names[NS_ADMIN_COUNT] = {
	[NS_ADMIN_READY] = "ready",
	[NS_ADMIN_DRAIN] = "drain",
	[NS_ADMIN_MAINT] = "maint",
};

static const char *const ns_role_names[NS_ROLE_COUNT] = {
	[NS_ROLE_UNKNOWN] = "unknown",
	[NS_ROLE_PRIMARY] = "primary",
	[NS_ROLE_STANDBY] = "standby",
};

void ns_init(struct node_state *s)
{
	memset(s, 0, sizeof(*s));
	s->v = NS_SCHEMA_VERSION;
}

/* Cuts an agent-check line's "#reason" to its source, the word before the first ':' ("down
 * #pg: could not connect to 10.0.0.5" -> "down #pg", "drain #admin: upgrade" -> "drain
 * #admin"); the state words and the weight stay: they are all HAProxy acts on. */
void ns_minimal_line(char *line)
{
	char *hash = strchr(line, '#');
	char *colon;

	if (hash == NULL)
		return;
	colon = strchr(hash, ':');
	if (colon != NULL)
		*colon = '\0';
}

/* Copies <in> to <out> as an agent with `expose = minimal` shows it: what routing reads stays
 * (identity, admin state, fenced, role, timeline, system identifier, up, lag, streaming,
 * paused, probe up and latency, check lines' state words and weight); what it does not is
 * cut: the LSN (write volume), the standbys' names and sync states (pg.repl), the admin and
 * fence reasons (free text, peer names), the check lines' reasons beyond their source
 * (ns_minimal_line()) and the probes' error texts (they may name addresses, host names,
 * server versions), which become "error" so that a reader still sees that there is one. */
void ns_minimal(const struct node_state *in, struct node_state *out)
{
	static const char hidden[] = "error";

	memcpy(out, in, sizeof(*out));
	out->fence_reason[0] = '\0';
	for (size_t i = 0; i < out->n_checks && i < NS_CHECKS_MAX; i++)
		ns_minimal_line(out->checks[i].line);
	out->pg.lsn = 0;
	out->pg.repl[0] = '\0';
	out->admin_reason[0] = '\0';
	if (out->pg.err[0] != '\0')
		memcpy(out->pg.err, hidden, sizeof(hidden));
	if (out->app.err[0] != '\0')
		memcpy(out->app.err, hidden, sizeof(hidden));
	if (out->nginx.err[0] != '\0')
		memcpy(out->nginx.err, hidden, sizeof(hidden));
}

const char *ns_admin_name(enum ns_admin a)
{
	return (unsigned)a < NS_ADMIN_COUNT ? ns_admin_names[a] : "?";
}

const char *ns_role_name(enum ns_role r)
{
	return (unsigned)r < NS_ROLE_COUNT ? ns_role_names[r] : "?";
}

static bool ns_word_eq(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(s, word, len) == 0;
}

/* Parses <len> bytes of <s> ("ready", "drain", "maint"), matched whole. */
bool ns_admin_parse(const char *s, size_t len, enum ns_admin *out)
{
	for (int i = 0; i < NS_ADMIN_COUNT; i++) {
		if (ns_word_eq(s, len, ns_admin_names[i])) {
			*out = (enum ns_admin)i;
			return true;
		}
	}
	return false;
}

/* Parses <len> bytes of <s> ("primary", "standby", "unknown"), matched whole. */
bool ns_role_parse(const char *s, size_t len, enum ns_role *out)
{
	for (int i = 0; i < NS_ROLE_COUNT; i++) {
		if (ns_word_eq(s, len, ns_role_names[i])) {
			*out = (enum ns_role)i;
			return true;
		}
	}
	return false;
}

/* The check named <name>, or NULL. */
const struct ns_check *ns_find_check(const struct node_state *s, const char *name)
{
	for (size_t i = 0; i < s->n_checks; i++) {
		if (strcmp(s->checks[i].name, name) == 0)
			return &s->checks[i];
	}
	return NULL;
}

/* ---- msgpack encoding -------------------------------------------------------------------- */

static int ns_buf_write(void *data, const char *p, size_t len)
{
	return buf_append(data, p, len);
}

static int ns_pack_str(msgpack_packer *pk, const char *s)
{
	size_t len = strlen(s);

	if (msgpack_pack_str(pk, len) != 0)
		return -1;
	return msgpack_pack_str_body(pk, s, len);
}

static int ns_pack_kstr(msgpack_packer *pk, const char *key, const char *val)
{
	return ns_pack_str(pk, key) != 0 || ns_pack_str(pk, val) != 0 ? -1 : 0;
}

static int ns_pack_ku64(msgpack_packer *pk, const char *key, uint64_t val)
{
	return ns_pack_str(pk, key) != 0 || msgpack_pack_uint64(pk, val) != 0 ? -1 : 0;
}

static int ns_pack_kbool(msgpack_packer *pk, const char *key, bool val)
{
	if (ns_pack_str(pk, key) != 0)
		return -1;
	return val ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
}

static int ns_pack_probe(msgpack_packer *pk, const char *key, const struct ns_probe *pr)
{
	if (ns_pack_str(pk, key) != 0 || msgpack_pack_map(pk, 4) != 0)
		return -1;
	if (ns_pack_kbool(pk, "present", pr->present) != 0 ||
	    ns_pack_kbool(pk, "up", pr->up) != 0 || ns_pack_ku64(pk, "ms", pr->ms) != 0 ||
	    ns_pack_kstr(pk, "err", pr->err) != 0)
		return -1;
	return 0;
}

static int ns_pack_pg(msgpack_packer *pk, const struct ns_pg *pg)
{
	if (ns_pack_str(pk, "pg") != 0 || msgpack_pack_map(pk, 12) != 0)
		return -1;
	if (ns_pack_kbool(pk, "present", pg->present) != 0 ||
	    ns_pack_kbool(pk, "up", pg->up) != 0 ||
	    ns_pack_kstr(pk, "role", ns_role_name(pg->role)) != 0 ||
	    ns_pack_ku64(pk, "tl", pg->tl) != 0 || ns_pack_kstr(pk, "sysid", pg->sysid) != 0 ||
	    ns_pack_ku64(pk, "lsn", pg->lsn) != 0 ||
	    ns_pack_ku64(pk, "lag_bytes", pg->lag_bytes) != 0 ||
	    ns_pack_ku64(pk, "lag_ms", pg->lag_ms) != 0 ||
	    ns_pack_kbool(pk, "streaming", pg->streaming) != 0 ||
	    ns_pack_kbool(pk, "paused", pg->paused) != 0 || ns_pack_kstr(pk, "err", pg->err) != 0 ||
	    ns_pack_kstr(pk, "repl", pg->repl) != 0)
		return -1;
	return 0;
}

static int ns_pack_state(msgpack_packer *pk, const struct node_state *s)
{
	if (msgpack_pack_map(pk, 14) != 0)
		return -1;
	if (ns_pack_ku64(pk, "v", s->v) != 0 || ns_pack_kstr(pk, "cluster", s->cluster) != 0 ||
	    ns_pack_kstr(pk, "node", s->node) != 0 || ns_pack_ku64(pk, "boot", s->boot) != 0 ||
	    ns_pack_ku64(pk, "seq", s->seq) != 0 || ns_pack_ku64(pk, "ts_ms", s->ts_ms) != 0 ||
	    ns_pack_kstr(pk, "admin", ns_admin_name(s->admin)) != 0 ||
	    ns_pack_kstr(pk, "admin_reason", s->admin_reason) != 0 ||
	    ns_pack_kbool(pk, "fenced", s->fenced) != 0 ||
	    ns_pack_kstr(pk, "fence_reason", s->fence_reason) != 0 || ns_pack_pg(pk, &s->pg) != 0 ||
	    ns_pack_probe(pk, "app", &s->app) != 0 || ns_pack_probe(pk, "nginx", &s->nginx) != 0)
		return -1;
	if (ns_pack_str(pk, "checks") != 0 || msgpack_pack_map(pk, (uint32_t)s->n_checks) != 0)
		return -1;
	for (size_t i = 0; i < s->n_checks; i++) {
		if (ns_pack_kstr(pk, s->checks[i].name, s->checks[i].line) != 0)
			return -1;
	}
	return 0;
}

/* Appends one feed frame (length header + msgpack map) for <s> to <out>, whole or not at all.
 * Returns 0, or -1 with errno ENOBUFS when <out> lacks room (then <out> is unchanged). */
int ns_encode_frame(const struct node_state *s, struct buf *out)
{
	/* Offsets relative to head survive the compaction an append may do. */
	size_t hdr_off = buf_len(out);
	uint8_t hdr[NS_FRAME_HDR] = { 0 };
	msgpack_packer pk;
	size_t payload;
	uint8_t *h;

	if (s->n_checks > NS_CHECKS_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (buf_append(out, hdr, sizeof(hdr)) == -1)
		return -1;
	msgpack_packer_init(&pk, out, ns_buf_write);
	if (ns_pack_state(&pk, s) != 0)
		goto out_rollback;
	payload = buf_len(out) - hdr_off - NS_FRAME_HDR;
	if (payload > UINT32_MAX)
		goto out_rollback;
	h = buf_head(out) + hdr_off;
	h[0] = (uint8_t)(payload >> 24);
	h[1] = (uint8_t)(payload >> 16);
	h[2] = (uint8_t)(payload >> 8);
	h[3] = (uint8_t)payload;
	return 0;

out_rollback:
	out->tail = out->head + hdr_off;
	errno = ENOBUFS;
	return -1;
}

/* Big-endian unsigned of <n> bytes at <p>. */
static uint32_t ns_be(const uint8_t *p, size_t n)
{
	uint32_t v = 0;

	while (n-- > 0)
		v = v << 8 | *p++;
	return v;
}

/* Looks at the start of a feed stream. Returns the whole frame's size (header + payload) with
 * <payload_len> set when it is all in <p>, 0 when bytes are missing, -1 when the announced
 * length is 0 or above <max_payload> (the stream cannot be trusted any further). */
int ns_frame_peek(const uint8_t *p, size_t len, size_t max_payload, size_t *payload_len)
{
	uint32_t n;

	if (len < NS_FRAME_HDR)
		return 0;
	n = ns_be(p, NS_FRAME_HDR);
	if (n == 0 || n > max_payload || max_payload > (size_t)INT32_MAX - NS_FRAME_HDR)
		return -1;
	if (len - NS_FRAME_HDR < n)
		return 0;
	*payload_len = n;
	return (int)(n + NS_FRAME_HDR);
}

/* ---- msgpack decoding -------------------------------------------------------------------- */

static bool ns_key_is(const msgpack_object_str *k, const char *name)
{
	return ns_word_eq(k->ptr, k->size, name);
}

static int ns_get_u64(const msgpack_object *o, uint64_t *out)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return -1;
	*out = o->via.u64;
	return 0;
}

static int ns_get_u32(const msgpack_object *o, uint32_t *out)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > UINT32_MAX)
		return -1;
	*out = (uint32_t)o->via.u64;
	return 0;
}

static int ns_get_bool(const msgpack_object *o, bool *out)
{
	if (o->type != MSGPACK_OBJECT_BOOLEAN)
		return -1;
	*out = o->via.boolean;
	return 0;
}

/* Copies a string of at most <size> - 1 bytes without NUL bytes; longer is invalid. */
static int ns_get_str(const msgpack_object *o, char *out, size_t size)
{
	if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= size ||
	    memchr(o->via.str.ptr, '\0', o->via.str.size) != NULL)
		return -1;
	memcpy(out, o->via.str.ptr, o->via.str.size);
	out[o->via.str.size] = '\0';
	return 0;
}

/* How one map field is decoded; the tables below list every field the decoder knows. */
enum ns_field_type {
	NS_F_BOOL = 0, /* bool */
	NS_F_U32,      /* uint32_t, positive integer <= UINT32_MAX */
	NS_F_U64,      /* uint64_t, positive integer */
	NS_F_STR,      /* char[size], no NUL inside, shorter than size */
	NS_F_ROLE,     /* enum ns_role, one of ns_role_names, whole */
	NS_F_ADMIN,    /* enum ns_admin, one of ns_admin_names, whole */
	NS_F_PG,       /* struct ns_pg, a nested map (ns_pg_fields) */
	NS_F_PROBE,    /* struct ns_probe, a nested map (ns_probe_fields) */
	NS_F_CHECKS,   /* the node's checks map (name -> line) */
};

struct ns_field {
	const char *key;         /* wire key, matched on length and bytes */
	enum ns_field_type type; /* how the value is read */
	size_t offset;           /* where in the struct being filled */
	size_t size;             /* NS_F_STR: size of the char array */
	unsigned required;       /* bit set in <seen> when present (0: optional) */
};

#define NS_FIELD(st, key, type, member)                                                            \
	{                                                                                          \
		key, type, offsetof(st, member), sizeof(((st *)0)->member), 0                      \
	}
#define NS_FIELD_REQ(st, key, type, member, bit)                                                   \
	{                                                                                          \
		key, type, offsetof(st, member), sizeof(((st *)0)->member), bit                    \
	}

enum ns_required {
	NS_REQ_V = 1 << 0,       /* "v" seen */
	NS_REQ_CLUSTER = 1 << 1, /* "cluster" seen */
	NS_REQ_NODE = 1 << 2,    /* "node" seen */
	NS_REQ_BOOT = 1 << 3,    /* "boot" seen */
	NS_REQ_SEQ = 1 << 4,     /* "seq" seen */
	NS_REQ_ALL = (1 << 5) - 1,
};

static const struct ns_field ns_probe_fields[] = {
	NS_FIELD(struct ns_probe, "present", NS_F_BOOL, present),
	NS_FIELD(struct ns_probe, "up", NS_F_BOOL, up),
	NS_FIELD(struct ns_probe, "ms", NS_F_U32, ms),
	NS_FIELD(struct ns_probe, "err", NS_F_STR, err),
	{ NULL, NS_F_BOOL, 0, 0, 0 },
};

static const struct ns_field ns_pg_fields[] = {
	NS_FIELD(struct ns_pg, "present", NS_F_BOOL, present),
	NS_FIELD(struct ns_pg, "up", NS_F_BOOL, up),
	NS_FIELD(struct ns_pg, "role", NS_F_ROLE, role),
	NS_FIELD(struct ns_pg, "tl", NS_F_U32, tl),
	NS_FIELD(struct ns_pg, "sysid", NS_F_STR, sysid),
	NS_FIELD(struct ns_pg, "lsn", NS_F_U64, lsn),
	NS_FIELD(struct ns_pg, "lag_bytes", NS_F_U64, lag_bytes),
	NS_FIELD(struct ns_pg, "lag_ms", NS_F_U64, lag_ms),
	NS_FIELD(struct ns_pg, "streaming", NS_F_BOOL, streaming),
	NS_FIELD(struct ns_pg, "paused", NS_F_BOOL, paused),
	NS_FIELD(struct ns_pg, "err", NS_F_STR, err),
	NS_FIELD(struct ns_pg, "repl", NS_F_STR, repl),
	{ NULL, NS_F_BOOL, 0, 0, 0 },
};

static const struct ns_field ns_state_fields[] = {
	NS_FIELD_REQ(struct node_state, "v", NS_F_U32, v, NS_REQ_V),
	NS_FIELD_REQ(struct node_state, "cluster", NS_F_STR, cluster, NS_REQ_CLUSTER),
	NS_FIELD_REQ(struct node_state, "node", NS_F_STR, node, NS_REQ_NODE),
	NS_FIELD_REQ(struct node_state, "boot", NS_F_U64, boot, NS_REQ_BOOT),
	NS_FIELD_REQ(struct node_state, "seq", NS_F_U64, seq, NS_REQ_SEQ),
	NS_FIELD(struct node_state, "ts_ms", NS_F_U64, ts_ms),
	NS_FIELD(struct node_state, "admin", NS_F_ADMIN, admin),
	NS_FIELD(struct node_state, "admin_reason", NS_F_STR, admin_reason),
	NS_FIELD(struct node_state, "fenced", NS_F_BOOL, fenced),
	NS_FIELD(struct node_state, "fence_reason", NS_F_STR, fence_reason),
	NS_FIELD(struct node_state, "pg", NS_F_PG, pg),
	NS_FIELD(struct node_state, "app", NS_F_PROBE, app),
	NS_FIELD(struct node_state, "nginx", NS_F_PROBE, nginx),
	NS_FIELD(struct node_state, "checks", NS_F_CHECKS, checks),
	{ NULL, NS_F_BOOL, 0, 0, 0 },
};

static int ns_decode_checks(const msgpack_object *o, struct node_state *s, const char **why)
{
	if (o->type != MSGPACK_OBJECT_MAP) {
		*why = "checks is not a map";
		return -1;
	}
	if (o->via.map.size > NS_CHECKS_MAX) {
		*why = "too many checks";
		return -1;
	}
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object_kv *kv = &o->via.map.ptr[i];
		struct ns_check *c = &s->checks[i];

		if (ns_get_str(&kv->key, c->name, sizeof(c->name)) != 0 || c->name[0] == '\0' ||
		    ns_get_str(&kv->val, c->line, sizeof(c->line)) != 0 ||
		    strpbrk(c->line, "\r\n") != NULL) {
			*why = "check name or line of the wrong type, empty or too long";
			return -1;
		}
	}
	s->n_checks = o->via.map.size;
	return 0;
}

static int ns_decode_fields(const msgpack_object *map, const struct ns_field *fields, void *base,
                            unsigned *seen, const char **why);

/* Reads <v> as field <f> of <base>. Returns 0, or -1 with <why> set. */
static int ns_decode_field(const struct ns_field *f, const msgpack_object *v, void *base,
                           const char **why)
{
	void *dst = (char *)base + f->offset;
	int r = -1;

	switch (f->type) {
	case NS_F_BOOL:
		r = ns_get_bool(v, dst);
		break;
	case NS_F_U32:
		r = ns_get_u32(v, dst);
		break;
	case NS_F_U64:
		r = ns_get_u64(v, dst);
		break;
	case NS_F_STR:
		r = ns_get_str(v, dst, f->size);
		break;
	case NS_F_ROLE:
		r = v->type == MSGPACK_OBJECT_STR &&
		            ns_role_parse(v->via.str.ptr, v->via.str.size, dst)
		        ? 0
		        : -1;
		break;
	case NS_F_ADMIN:
		r = v->type == MSGPACK_OBJECT_STR &&
		            ns_admin_parse(v->via.str.ptr, v->via.str.size, dst)
		        ? 0
		        : -1;
		break;
	case NS_F_PG:
		return ns_decode_fields(v, ns_pg_fields, dst, NULL, why);
	case NS_F_PROBE:
		return ns_decode_fields(v, ns_probe_fields, dst, NULL, why);
	case NS_F_CHECKS:
		/* the checks array and its count live side by side in struct node_state */
		return ns_decode_checks(v, base, why);
	}
	if (r != 0)
		*why = "field of the wrong type, too long, or an unknown word";
	return r;
}

/* Decodes the map <map> into <base> by <fields>; keys not in the table (a newer agent's
 * fields) are skipped. Adds each present required field's bit to <seen> (may be NULL).
 * Returns 0, or -1 with <why> set. */
static int ns_decode_fields(const msgpack_object *map, const struct ns_field *fields, void *base,
                            unsigned *seen, const char **why)
{
	if (map->type != MSGPACK_OBJECT_MAP) {
		*why = "expected a map";
		return -1;
	}
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];
		const struct ns_field *f;

		if (kv->key.type != MSGPACK_OBJECT_STR) {
			*why = "key is not a string";
			return -1;
		}
		for (f = fields; f->key != NULL; f++) {
			if (ns_key_is(&kv->key.via.str, f->key))
				break;
		}
		if (f->key == NULL)
			continue;
		if (ns_decode_field(f, &kv->val, base, why) != 0)
			return -1;
		if (seen != NULL)
			*seen |= f->required;
	}
	return 0;
}

static int ns_decode_map(const msgpack_object *root, struct node_state *s, const char **why)
{
	unsigned seen = 0;

	if (ns_decode_fields(root, ns_state_fields, s, &seen, why) != 0)
		return -1;
	if ((seen & NS_REQ_ALL) != NS_REQ_ALL) {
		*why = "missing one of v, cluster, node, boot, seq";
		return -1;
	}
	if (s->v == 0 || s->cluster[0] == '\0' || s->node[0] == '\0') {
		*why = "v is 0, or cluster or node is empty";
		return -1;
	}
	return 0;
}

/* msgpack-c allocates every map and array whole, at the size its header claims, before reading
 * the elements: a 6-byte payload claiming 2^32 entries asks for 96 GiB (found by
 * tests/fuzz/fuzz_feed_frame.c). This walk refuses a payload whose containers claim more
 * elements than bytes remain (each element takes at least one byte), so what the unpacker
 * allocates stays proportional to the frame. Returns false only for such a claim; truncated or
 * invalid bytes are left to msgpack_unpack_next() to report. */
static bool ns_counts_fit(const uint8_t *p, size_t len)
{
	const uint8_t *end = p + len;
	size_t pending = 1;

	while (pending > 0 && p < end) {
		uint8_t b = *p++;
		size_t rest = (size_t)(end - p);
		size_t skip = 0;  /* payload bytes after the header */
		size_t hdr = 0;   /* length bytes after the type byte */
		size_t items = 0; /* elements the container adds */

		pending--;
		if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
			continue;
		if (b >= 0x80 && b <= 0x8f) {
			items = 2 * (size_t)(b & 0x0f);
		} else if (b >= 0x90 && b <= 0x9f) {
			items = b & 0x0f;
		} else if (b >= 0xa0 && b <= 0xbf) {
			skip = b & 0x1f;
		} else {
			switch (b) {
			case 0xc4:
			case 0xd9:
				hdr = 1;
				break; /* bin8, str8 */
			case 0xc5:
			case 0xda:
				hdr = 2;
				break; /* bin16, str16 */
			case 0xc6:
			case 0xdb:
				hdr = 4;
				break; /* bin32, str32 */
			case 0xc7:
				hdr = 1;
				skip = 1;
				break; /* ext8: len, type */
			case 0xc8:
				hdr = 2;
				skip = 1;
				break; /* ext16 */
			case 0xc9:
				hdr = 4;
				skip = 1;
				break; /* ext32 */
			case 0xca:
				skip = 4;
				break; /* float32 */
			case 0xcb:
				skip = 8;
				break; /* float64 */
			case 0xcc:
			case 0xd0:
				skip = 1;
				break; /* (u)int8 */
			case 0xcd:
			case 0xd1:
				skip = 2;
				break; /* (u)int16 */
			case 0xce:
			case 0xd2:
				skip = 4;
				break; /* (u)int32 */
			case 0xcf:
			case 0xd3:
				skip = 8;
				break; /* (u)int64 */
			case 0xd4:
				skip = 2;
				break; /* fixext1 */
			case 0xd5:
				skip = 3;
				break; /* fixext2 */
			case 0xd6:
				skip = 5;
				break; /* fixext4 */
			case 0xd7:
				skip = 9;
				break; /* fixext8 */
			case 0xd8:
				skip = 17;
				break; /* fixext16 */
			case 0xdc:
			case 0xde:
				hdr = 2;
				break; /* array16, map16 */
			case 0xdd:
			case 0xdf:
				hdr = 4;
				break; /* array32, map32 */
			default:
				return true; /* 0xc1: msgpack says invalid */
			}
			if (hdr > rest)
				return true;
			if (b == 0xdc || b == 0xdd)
				items = ns_be(p, hdr);
			else if (b == 0xde || b == 0xdf)
				items = 2 * (size_t)ns_be(p, hdr);
			else if (hdr > 0)
				skip += ns_be(p, hdr);
			p += hdr;
			rest -= hdr;
		}
		if (items > 0) {
			if (items > rest || pending > rest - items)
				return false;
			pending += items;
			continue;
		}
		if (skip > rest)
			return true;
		p += skip;
	}
	return true;
}

/* Decodes one frame's payload (without its length header) into <out>. Returns 0, or -1 with
 * <why> set; <out> is then unspecified (decode into a scratch struct). Trailing bytes after the
 * map are invalid. */
int ns_decode(const uint8_t *payload, size_t len, struct node_state *out, const char **why)
{
	msgpack_unpacked up;
	size_t off = 0;
	int ret = -1;

	ns_init(out);
	out->v = 0;
	if (!ns_counts_fit(payload, len)) {
		*why = "a map or array claims more entries than the frame holds";
		return -1;
	}
	msgpack_unpacked_init(&up);
	switch (msgpack_unpack_next(&up, (const char *)payload, len, &off)) {
	case MSGPACK_UNPACK_SUCCESS:
		if (off != len) {
			*why = "bytes after the map";
			break;
		}
		ret = ns_decode_map(&up.data, out, why);
		break;
	case MSGPACK_UNPACK_EXTRA_BYTES:
		*why = "bytes after the map";
		break;
	case MSGPACK_UNPACK_CONTINUE:
		*why = "truncated msgpack";
		break;
	case MSGPACK_UNPACK_PARSE_ERROR:
		*why = "invalid msgpack";
		break;
	case MSGPACK_UNPACK_NOMEM_ERROR:
		*why = "out of memory";
		break;
	}
	msgpack_unpacked_destroy(&up);
	return ret;
}
