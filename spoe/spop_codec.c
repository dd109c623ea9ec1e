/* spoe/spop_codec.c - the SPOP 2.0 wire format, pure. See spop_codec.h for the cursor contract.
 * Every length a peer sends is checked against the bytes left before use; narrowing happens
 * only after a range check. */
#include "spoe/spop_codec.h"

#include <string.h>

static inline uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* SPOE.txt 3.1: values below 240 take one byte; above, the first byte carries the 4 low bits
 * (with 0xf0 set), then 7 bits per byte while the byte is >= 128. The arithmetic mirrors
 * HAProxy's decode_varint(): each byte adds its whole value shifted, so 2^64-1 takes 10 bytes.
 * A varint longer than 10 bytes or above 2^64-1 is invalid. */
int spop_varint_get(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	const uint8_t *q = *p;
	unsigned __int128 acc;
	unsigned shift = 4;
	size_t n = 1;

	if (q >= end)
		return 0;
	acc = q[0];
	if (q[0] < 240)
		goto out_ok;
	for (;;) {
		if (n == SPOP_VARINT_MAX)
			return -1; /* an 11th byte would be needed: not a uint64 */
		if (q + n >= end)
			return 0;
		acc += (unsigned __int128)q[n] << shift;
		shift += 7;
		if (q[n++] < 128)
			break;
	}
	if (acc > UINT64_MAX)
		return -1;
out_ok:
	*v = (uint64_t)acc;
	*p = q + n;
	return (int)n;
}

/* Bytes spop_varint_put() writes for <v>. */
size_t spop_varint_len(uint64_t v)
{
	size_t n = 1;

	if (v < 240)
		return 1;
	v = (v - 240) >> 4;
	while (v >= 128) {
		v = (v - 128) >> 7;
		n++;
	}
	return n + 1;
}

int spop_varint_put(uint8_t **p, uint8_t *end, uint64_t v)
{
	uint8_t *q = *p;
	size_t n = spop_varint_len(v);

	if (n > (size_t)(end - q))
		return -1;
	if (v < 240) {
		*q++ = (uint8_t)v;
		goto out;
	}
	*q++ = (uint8_t)(v | 240);
	v = (v - 240) >> 4;
	while (v >= 128) {
		*q++ = (uint8_t)(v | 128);
		v = (v - 128) >> 7;
	}
	*q++ = (uint8_t)v;
out:
	*p = q;
	return (int)n;
}

int spop_string_get(const uint8_t **p, const uint8_t *end, const uint8_t **s, size_t *len)
{
	const uint8_t *q = *p;
	uint64_t l;
	int n;

	n = spop_varint_get(&q, end, &l);
	if (n <= 0)
		return n;
	if (l > (uint64_t)(end - q))
		return 0;
	*s = q;
	*len = (size_t)l;
	*p = q + l;
	return (int)(*p - (q - n));
}

int spop_string_put(uint8_t **p, uint8_t *end, const void *s, size_t len)
{
	uint8_t *q = *p;

	if (spop_varint_put(&q, end, len) < 0)
		return -1;
	if (len > (size_t)(end - q))
		return -1;
	if (len > 0)
		memcpy(q, s, len);
	q += len;
	len = (size_t)(q - *p);
	*p = q;
	return (int)len;
}

/* One TYPED-DATA (SPOE.txt 3.1). Types 10..15 are invalid. */
int spop_data_get(const uint8_t **p, const uint8_t *end, struct spop_data *d)
{
	const uint8_t *q = *p;
	uint8_t tb;
	int n;

	if (q >= end)
		return 0;
	tb = *q++;
	memset(d, 0, sizeof(*d));
	d->type = (enum spop_data_type)(tb & SPOP_DATA_TYPE_MASK);
	d->flags = tb & (uint8_t)~SPOP_DATA_TYPE_MASK;
	switch (d->type) {
	case SPOP_DATA_NULL:
		break;
	case SPOP_DATA_BOOL:
		d->b = (tb & SPOP_DATA_FLAG_TRUE) != 0;
		break;
	case SPOP_DATA_INT32:
	case SPOP_DATA_UINT32:
	case SPOP_DATA_INT64:
	case SPOP_DATA_UINT64:
		n = spop_varint_get(&q, end, &d->u);
		if (n <= 0)
			return n;
		/* 32-bit types: HAProxy encodes an int32 as a 64-bit varint of its sign-extended
		 * value, so a negative INT32 arrives as a 10-byte varint; keep the range check. */
		if (d->type == SPOP_DATA_UINT32 && d->u > UINT32_MAX)
			return -1;
		if (d->type == SPOP_DATA_INT32 &&
		    ((int64_t)d->u < INT32_MIN || (int64_t)d->u > INT32_MAX))
			return -1;
		break;
	case SPOP_DATA_IPV4:
	case SPOP_DATA_IPV6:
		d->len = d->type == SPOP_DATA_IPV4 ? 4 : 16;
		if (d->len > (size_t)(end - q))
			return 0;
		d->ptr = q;
		q += d->len;
		break;
	case SPOP_DATA_STRING:
	case SPOP_DATA_BINARY:
		n = spop_string_get(&q, end, &d->ptr, &d->len);
		if (n <= 0)
			return n;
		break;
	case SPOP_DATA_COUNT:
	default:
		return -1; /* types 10..15: reserved */
	}
	n = (int)(q - *p);
	*p = q;
	return n;
}

/* Writes <d>; strings never carry flag bits (HAProxy 2.6 would read them as BINARY). */
int spop_data_put(uint8_t **p, uint8_t *end, const struct spop_data *d)
{
	uint8_t *q = *p;
	int n;

	if (q >= end)
		return -1;
	switch (d->type) {
	case SPOP_DATA_NULL:
		*q++ = SPOP_DATA_NULL;
		break;
	case SPOP_DATA_BOOL:
		*q++ = (uint8_t)(SPOP_DATA_BOOL | (d->b ? SPOP_DATA_FLAG_TRUE : 0));
		break;
	case SPOP_DATA_INT32:
	case SPOP_DATA_UINT32:
	case SPOP_DATA_INT64:
	case SPOP_DATA_UINT64:
		*q++ = (uint8_t)d->type;
		if (spop_varint_put(&q, end, d->u) < 0)
			return -1;
		break;
	case SPOP_DATA_IPV4:
	case SPOP_DATA_IPV6:
		if (d->len != (d->type == SPOP_DATA_IPV4 ? 4u : 16u) ||
		    d->len > (size_t)(end - q - 1))
			return -1;
		*q++ = (uint8_t)d->type;
		memcpy(q, d->ptr, d->len);
		q += d->len;
		break;
	case SPOP_DATA_STRING:
	case SPOP_DATA_BINARY:
		*q++ = (uint8_t)d->type;
		if (spop_string_put(&q, end, d->ptr, d->len) < 0)
			return -1;
		break;
	case SPOP_DATA_COUNT:
	default:
		return -1;
	}
	n = (int)(q - *p);
	*p = q;
	return n;
}

/* STRING or BINARY: both carry text from HAProxy (2.6 may flag a string as binary). */
bool spop_data_is_text(const struct spop_data *d)
{
	return d->type == SPOP_DATA_STRING || d->type == SPOP_DATA_BINARY;
}

/* A whole frame at <p> (<len> bytes readable)? Returns its size with the 4-byte header, 0 when
 * more bytes are needed, -1 with <*st> set when it is invalid. The length is checked against
 * <max_frame> before anything is buffered (a peer cannot make us wait for a huge frame). */
int spop_frame_peek(const uint8_t *p, size_t len, uint32_t max_frame, struct spop_frame *f,
                    enum spop_status *st)
{
	const uint8_t *q, *fend;
	uint32_t flen;

	if (len < SPOP_FRAME_HDR)
		return 0;
	flen = get_be32(p);
	if (flen > max_frame) {
		*st = SPOP_STATUS_TOO_BIG;
		return -1;
	}
	if (flen < 1 + 4 + 1 + 1) {
		*st = SPOP_STATUS_INVALID; /* type, flags, stream-id, frame-id at least */
		return -1;
	}
	if (len - SPOP_FRAME_HDR < flen)
		return 0;
	q = p + SPOP_FRAME_HDR;
	fend = q + flen;
	f->type = *q++;
	f->flags = get_be32(q);
	q += 4;
	if (spop_varint_get(&q, fend, &f->stream_id) <= 0 ||
	    spop_varint_get(&q, fend, &f->frame_id) <= 0) {
		*st = SPOP_STATUS_INVALID;
		return -1;
	}
	f->payload = q;
	f->payload_len = (size_t)(fend - q);
	return (int)(SPOP_FRAME_HDR + flen);
}

static bool key_is(const uint8_t *k, size_t klen, const char *name)
{
	size_t n = strlen(name);

	return klen == n && memcmp(k, name, n) == 0;
}

static bool is_int_type(const struct spop_data *d)
{
	return d->type == SPOP_DATA_INT32 || d->type == SPOP_DATA_UINT32 ||
	       d->type == SPOP_DATA_INT64 || d->type == SPOP_DATA_UINT64;
}

/* Calls <fn> on each comma-separated word of <s>, spaces trimmed (SPOE.txt 3.2.4). */
static void for_each_word(const uint8_t *s, size_t len, void (*fn)(const uint8_t *, size_t, void *),
                          void *arg)
{
	size_t i = 0;

	while (i < len) {
		size_t b, e;

		while (i < len && (s[i] == ' ' || s[i] == '\t'))
			i++;
		b = i;
		while (i < len && s[i] != ',')
			i++;
		e = i;
		while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
			e--;
		if (e > b)
			fn(s + b, e - b, arg);
		i++; /* skip the comma */
	}
}

static void hello_version(const uint8_t *w, size_t len, void *arg)
{
	struct spop_hello *h = arg;

	/* "Major.Minor": a 2.x announce covers 2.0 (minor versions are backward compatible). */
	if (len >= 3 && w[0] == '2' && w[1] == '.')
		h->version_ok = true;
}

static void hello_cap(const uint8_t *w, size_t len, void *arg)
{
	struct spop_hello *h = arg;

	if (key_is(w, len, "pipelining"))
		h->cap_pipelining = true;
	else if (key_is(w, len, "async"))
		h->cap_async = true;
	else if (key_is(w, len, "fragmentation"))
		h->cap_frag = true;
	/* unknown capabilities are silently ignored (SPOE.txt 3.2.1) */
}

/* HAPROXY-HELLO payload (a KV-LIST). Returns 0, or -1 with <*st> naming the missing or bad
 * item. Unknown keys are skipped by type. "capabilities" is not required: a healthcheck HELLO
 * may carry none, and we use none of HAProxy's. */
int spop_hello_decode(const struct spop_frame *f, struct spop_hello *h, enum spop_status *st)
{
	const uint8_t *q = f->payload, *end = f->payload + f->payload_len;

	memset(h, 0, sizeof(*h));
	while (q < end) {
		const uint8_t *k;
		size_t klen;
		struct spop_data d;

		if (spop_string_get(&q, end, &k, &klen) <= 0 || spop_data_get(&q, end, &d) <= 0) {
			*st = SPOP_STATUS_INVALID;
			return -1;
		}
		if (key_is(k, klen, "supported-versions") && spop_data_is_text(&d)) {
			h->has_versions = true;
			for_each_word(d.ptr, d.len, hello_version, h);
		} else if (key_is(k, klen, "max-frame-size") && is_int_type(&d)) {
			if (d.u > UINT32_MAX) {
				*st = SPOP_STATUS_BAD_FRAME_SIZE;
				return -1;
			}
			h->has_max_frame = true;
			h->max_frame = (uint32_t)d.u;
		} else if (key_is(k, klen, "capabilities") && spop_data_is_text(&d)) {
			h->has_caps = true;
			for_each_word(d.ptr, d.len, hello_cap, h);
		} else if (key_is(k, klen, "healthcheck") && d.type == SPOP_DATA_BOOL) {
			h->healthcheck = d.b;
		} else if (key_is(k, klen, "engine-id") && spop_data_is_text(&d)) {
			h->engine = d.ptr;
			h->engine_len = d.len;
		}
	}
	if (!h->has_versions) {
		*st = SPOP_STATUS_NO_VSN;
		return -1;
	}
	if (!h->version_ok) {
		*st = SPOP_STATUS_BAD_VSN;
		return -1;
	}
	if (!h->has_max_frame) {
		*st = SPOP_STATUS_NO_FRAME_SIZE;
		return -1;
	}
	if (h->max_frame < SPOP_FRAME_MIN_SIZE) {
		*st = SPOP_STATUS_BAD_FRAME_SIZE;
		return -1;
	}
	return 0;
}

/* HAPROXY-DISCONNECT payload. Returns 0, or -1 when the KV-LIST is broken. */
int spop_disconnect_decode(const struct spop_frame *f, struct spop_disconnect *dc)
{
	const uint8_t *q = f->payload, *end = f->payload + f->payload_len;

	memset(dc, 0, sizeof(*dc));
	dc->status = SPOP_STATUS_UNKNOWN;
	while (q < end) {
		const uint8_t *k;
		size_t klen;
		struct spop_data d;

		if (spop_string_get(&q, end, &k, &klen) <= 0 || spop_data_get(&q, end, &d) <= 0)
			return -1;
		if (key_is(k, klen, "status-code") && is_int_type(&d) && d.u <= UINT32_MAX)
			dc->status = (uint32_t)d.u;
		else if (key_is(k, klen, "message") && spop_data_is_text(&d)) {
			dc->msg = d.ptr;
			dc->msg_len = d.len;
		}
	}
	return 0;
}

/* Next message of a NOTIFY payload ending at <end>: returns bytes used, 0 at the end of the
 * list, -1 when the message is broken (a complete frame cannot be "short"). Arguments past
 * SPOP_MSG_ARGS_MAX are validated and skipped. */
int spop_msg_next(const uint8_t **p, const uint8_t *end, struct spop_msg *m)
{
	const uint8_t *q = *p;
	unsigned i;
	int n;

	if (q >= end)
		return 0;
	m->n_args = 0;
	if (spop_string_get(&q, end, &m->name, &m->name_len) <= 0 || q >= end)
		return -1;
	m->nb_args = *q++;
	for (i = 0; i < m->nb_args; i++) {
		const uint8_t *k;
		size_t klen;
		struct spop_data d;

		if (spop_string_get(&q, end, &k, &klen) <= 0 || spop_data_get(&q, end, &d) <= 0)
			return -1;
		if (m->n_args < SPOP_MSG_ARGS_MAX) {
			m->arg_name[m->n_args] = k;
			m->arg_name_len[m->n_args] = klen;
			m->arg[m->n_args] = d;
			m->n_args++;
		}
	}
	n = (int)(q - *p);
	*p = q;
	return n;
}

/* Writes the 4-byte length placeholder and the metadata; <*start> is where spop_frame_end()
 * fills the length in once the payload is written. */
int spop_frame_begin(uint8_t **p, uint8_t *end, uint8_t type, uint32_t flags, uint64_t stream_id,
                     uint64_t frame_id, uint8_t **start)
{
	uint8_t *q = *p;

	if ((size_t)(end - q) < SPOP_FRAME_HDR + 1 + 4)
		return -1;
	put_be32(q, 0);
	q[4] = type;
	put_be32(q + 5, flags);
	q += SPOP_FRAME_HDR + 1 + 4;
	if (spop_varint_put(&q, end, stream_id) < 0 || spop_varint_put(&q, end, frame_id) < 0)
		return -1;
	*start = *p;
	*p = q;
	return (int)(q - *start);
}

/* Fills in the length of the frame that starts at <start> and ends at <p>. */
int spop_frame_end(uint8_t *start, const uint8_t *p)
{
	size_t len = (size_t)(p - start);

	if (len < SPOP_FRAME_HDR || len - SPOP_FRAME_HDR > UINT32_MAX)
		return -1;
	put_be32(start, (uint32_t)(len - SPOP_FRAME_HDR));
	return 0;
}

static int kv_str(uint8_t **p, uint8_t *end, const char *k, const char *v)
{
	struct spop_data d = { .type = SPOP_DATA_STRING,
		               .ptr = (const uint8_t *)v,
		               .len = strlen(v) };

	if (spop_string_put(p, end, k, strlen(k)) < 0 || spop_data_put(p, end, &d) < 0)
		return -1;
	return 0;
}

static int kv_u32(uint8_t **p, uint8_t *end, const char *k, uint32_t v)
{
	struct spop_data d = { .type = SPOP_DATA_UINT32, .u = v };

	if (spop_string_put(p, end, k, strlen(k)) < 0 || spop_data_put(p, end, &d) < 0)
		return -1;
	return 0;
}

/* A whole AGENT-HELLO frame (SPOE.txt 3.2.5): version, max-frame-size, capabilities (always
 * present, even empty: the spec makes it mandatory). */
int spop_agent_hello_put(uint8_t **p, uint8_t *end, uint32_t max_frame, const char *caps)
{
	uint8_t *q = *p, *start;

	if (spop_frame_begin(&q, end, SPOP_FRM_AGENT_HELLO, SPOP_FLAG_FIN, 0, 0, &start) < 0 ||
	    kv_str(&q, end, "version", SPOP_VERSION) < 0 ||
	    kv_u32(&q, end, "max-frame-size", max_frame) < 0 ||
	    kv_str(&q, end, "capabilities", caps) < 0 || spop_frame_end(start, q) < 0)
		return -1;
	*p = q;
	return (int)(q - start);
}

/* A whole AGENT-DISCONNECT frame (SPOE.txt 3.2.9). */
int spop_agent_disconnect_put(uint8_t **p, uint8_t *end, enum spop_status st, const char *msg)
{
	uint8_t *q = *p, *start;
	uint32_t code = st == SPOP_STATUS_NONE ? SPOP_STATUS_NORMAL : (uint32_t)st;

	if (spop_frame_begin(&q, end, SPOP_FRM_AGENT_DISCONNECT, SPOP_FLAG_FIN, 0, 0, &start) < 0 ||
	    kv_u32(&q, end, "status-code", code) < 0 || kv_str(&q, end, "message", msg) < 0 ||
	    spop_frame_end(start, q) < 0)
		return -1;
	*p = q;
	return (int)(q - start);
}

/* Variable names HAProxy accepts: [A-Za-z0-9_.], not empty. */
bool spop_var_name_ok(const char *name, size_t len)
{
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.'))
			return false;
	}
	return true;
}

/* set-var (SPOE.txt 3.4). A NULL <value> type makes HAProxy unset the variable. */
int spop_action_set_var(uint8_t **p, uint8_t *end, enum spop_scope scope, const char *name,
                        const struct spop_data *value)
{
	uint8_t *q = *p;
	size_t nlen = strlen(name);

	if (!spop_var_name_ok(name, nlen) || (size_t)(end - q) < 3)
		return -1;
	*q++ = SPOP_ACT_SET_VAR;
	*q++ = 3;
	*q++ = (uint8_t)scope;
	if (spop_string_put(&q, end, name, nlen) < 0 || spop_data_put(&q, end, value) < 0)
		return -1;
	nlen = (size_t)(q - *p);
	*p = q;
	return (int)nlen;
}

/* unset-var (SPOE.txt 3.4). */
int spop_action_unset_var(uint8_t **p, uint8_t *end, enum spop_scope scope, const char *name)
{
	uint8_t *q = *p;
	size_t nlen = strlen(name);

	if (!spop_var_name_ok(name, nlen) || (size_t)(end - q) < 3)
		return -1;
	*q++ = SPOP_ACT_UNSET_VAR;
	*q++ = 2;
	*q++ = (uint8_t)scope;
	if (spop_string_put(&q, end, name, nlen) < 0)
		return -1;
	nlen = (size_t)(q - *p);
	*p = q;
	return (int)nlen;
}

const char *spop_status_str(enum spop_status st)
{
	switch (st) {
	case SPOP_STATUS_NONE:
		return "none";
	case SPOP_STATUS_NORMAL:
		return "normal";
	case SPOP_STATUS_IO:
		return "I/O error";
	case SPOP_STATUS_TIMEOUT:
		return "a timeout occurred";
	case SPOP_STATUS_TOO_BIG:
		return "frame is too big";
	case SPOP_STATUS_INVALID:
		return "invalid frame received";
	case SPOP_STATUS_NO_VSN:
		return "version value not found";
	case SPOP_STATUS_NO_FRAME_SIZE:
		return "max-frame-size value not found";
	case SPOP_STATUS_NO_CAP:
		return "capabilities value not found";
	case SPOP_STATUS_BAD_VSN:
		return "unsupported version";
	case SPOP_STATUS_BAD_FRAME_SIZE:
		return "max-frame-size too big or too small";
	case SPOP_STATUS_FRAG_NOT_SUP:
		return "payload fragmentation is not supported";
	case SPOP_STATUS_INTERLACED:
		return "invalid interlaced frames";
	case SPOP_STATUS_FRAMEID_NF:
		return "frame-id not found";
	case SPOP_STATUS_RES:
		return "resource allocation error";
	case SPOP_STATUS_UNKNOWN:
		return "an unknown error occurred";
	}
	return "unknown status";
}

const char *spop_frame_type_str(uint8_t type)
{
	switch (type) {
	case SPOP_FRM_UNSET:
		return "UNSET";
	case SPOP_FRM_HAPROXY_HELLO:
		return "HAPROXY-HELLO";
	case SPOP_FRM_HAPROXY_DISCONNECT:
		return "HAPROXY-DISCONNECT";
	case SPOP_FRM_NOTIFY:
		return "NOTIFY";
	case SPOP_FRM_AGENT_HELLO:
		return "AGENT-HELLO";
	case SPOP_FRM_AGENT_DISCONNECT:
		return "AGENT-DISCONNECT";
	case SPOP_FRM_ACK:
		return "ACK";
	}
	return "unknown";
}
