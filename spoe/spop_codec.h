/* spoe/spop_codec.h - the SPOP 2.0 wire format (HAProxy's SPOE.txt, section 3), pure: bytes in,
 * structs out; structs in, bytes out into caller memory. No I/O, no allocation. Prefix: spop_.
 *
 * Decoders take a cursor <*p> and the end of the readable bytes <end>. They return the number of
 * bytes used, 0 when the bytes end before the item does (need more), -1 when the bytes are
 * invalid; <*p> moves only on success. Inside a frame that is already complete, 0 means the
 * frame is truncated: callers treat it as invalid (SPOP_STATUS_INVALID).
 * Encoders take a cursor <*p> and the end of the writable room <end>; they return the bytes
 * written or -1 when the item does not fit (nothing is cut: on -1 <*p> does not move). */
#ifndef HAPROLE_SPOE_SPOP_CODEC_H
#define HAPROLE_SPOE_SPOP_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

#define SPOP_VERSION        "2.0" /* the only version we speak (SPOE.txt 3.2.4) */
#define SPOP_FRAME_HDR      4     /* big-endian length before each frame */
#define SPOP_FRAME_MIN_SIZE 256   /* smallest max-frame-size HAProxy accepts (3.2) */
#define SPOP_VARINT_MAX     10    /* a uint64 needs at most 10 varint bytes */
#define SPOP_FRAME_META_MAX (1 + 4 + 2 * SPOP_VARINT_MAX) /* type, flags, stream-id, frame-id */
#define SPOP_MSG_ARGS_MAX   8  /* args of one message we decode; more are validated, skipped */
#define SPOP_VAR_NAME_MAX   63 /* HAProxy drops a "scope.prefix.name" longer than this */

/* Frame flags, bit 0 is the LSB of a 4-byte network-order field (SPOE.txt 3.2). */
#define SPOP_FLAG_FIN   0x00000001u /* last (or only) fragment */
#define SPOP_FLAG_ABORT 0x00000002u /* abort a fragmented payload */

/* Frame types (SPOE.txt 3.2.2); values are the wire codes. */
enum spop_frame_type {
	SPOP_FRM_UNSET = 0,              /* continuation fragment */
	SPOP_FRM_HAPROXY_HELLO = 1,      /* HAProxy opens a connection */
	SPOP_FRM_HAPROXY_DISCONNECT = 2, /* HAProxy closes, with a status */
	SPOP_FRM_NOTIFY = 3,             /* messages for one stream event */
	SPOP_FRM_AGENT_HELLO = 101,      /* our answer to HAPROXY-HELLO */
	SPOP_FRM_AGENT_DISCONNECT = 102, /* we close, with a status */
	SPOP_FRM_ACK = 103,              /* our answer to NOTIFY: actions */
};

/* Status codes (SPOE.txt 3.5); values are the wire codes, so each violation sends its own. */
enum spop_status {
	SPOP_STATUS_NONE = -1,          /* not a wire code: no error, go on */
	SPOP_STATUS_NORMAL = 0,         /* normal end */
	SPOP_STATUS_IO = 1,             /* I/O error */
	SPOP_STATUS_TIMEOUT = 2,        /* a timeout occurred */
	SPOP_STATUS_TOO_BIG = 3,        /* frame is too big */
	SPOP_STATUS_INVALID = 4,        /* invalid frame received */
	SPOP_STATUS_NO_VSN = 5,         /* version value not found */
	SPOP_STATUS_NO_FRAME_SIZE = 6,  /* max-frame-size value not found */
	SPOP_STATUS_NO_CAP = 7,         /* capabilities value not found */
	SPOP_STATUS_BAD_VSN = 8,        /* unsupported version */
	SPOP_STATUS_BAD_FRAME_SIZE = 9, /* max-frame-size too big or too small */
	SPOP_STATUS_FRAG_NOT_SUP = 10,  /* payload fragmentation is not supported */
	SPOP_STATUS_INTERLACED = 11,    /* invalid interlaced frames */
	SPOP_STATUS_FRAMEID_NF = 12,    /* frame-id not found */
	SPOP_STATUS_RES = 13,           /* resource allocation error */
	SPOP_STATUS_UNKNOWN = 99,       /* an unknown error occurred */
};

/* Typed data types: the low 4 bits of the type byte (SPOE.txt 3.1); the high 4 are flags. */
enum spop_data_type {
	SPOP_DATA_NULL = 0,   /* no value */
	SPOP_DATA_BOOL = 1,   /* value in flag bit 0x10 */
	SPOP_DATA_INT32 = 2,  /* varint of the value as unsigned */
	SPOP_DATA_UINT32 = 3, /* varint */
	SPOP_DATA_INT64 = 4,  /* varint of the value as unsigned (negatives: 10 bytes) */
	SPOP_DATA_UINT64 = 5, /* varint */
	SPOP_DATA_IPV4 = 6,   /* 4 bytes, network order */
	SPOP_DATA_IPV6 = 7,   /* 16 bytes, network order */
	SPOP_DATA_STRING = 8, /* varint length, then bytes */
	SPOP_DATA_BINARY = 9, /* varint length, then bytes */
	SPOP_DATA_COUNT       /* keep last: types 10..15 are invalid */
};

#define SPOP_DATA_TYPE_MASK 0x0f /* type bits of the type byte */
#define SPOP_DATA_FLAG_TRUE 0x10 /* BOOL: the value is true */

/* Variable scopes of set-var / unset-var (SPOE.txt 3.4). */
enum spop_scope {
	SPOP_SCOPE_PROC = 0, /* process */
	SPOP_SCOPE_SESS = 1, /* session */
	SPOP_SCOPE_TXN = 2,  /* transaction */
	SPOP_SCOPE_REQ = 3,  /* request */
	SPOP_SCOPE_RES = 4,  /* response */
};

/* Action types (SPOE.txt 3.4). */
enum spop_action {
	SPOP_ACT_SET_VAR = 1,   /* scope, name, value */
	SPOP_ACT_UNSET_VAR = 2, /* scope, name */
};

/* One decoded typed value; byte pointers point into the frame. */
struct spop_data {
	enum spop_data_type type; /* type bits of the type byte */
	uint8_t flags;            /* flag bits of the type byte (high nibble) */
	bool b;                   /* BOOL */
	uint64_t u;               /* INT32/UINT32/INT64/UINT64 (signed ones: cast to int64_t) */
	const uint8_t *ptr;       /* IPV4/IPV6/STRING/BINARY bytes */
	size_t len;               /* bytes at <ptr> */
};

/* A frame whose bytes are all present, header decoded; <payload> points into the input. */
struct spop_frame {
	uint8_t type;           /* enum spop_frame_type, or an unknown value */
	uint32_t flags;         /* SPOP_FLAG_* */
	uint64_t stream_id;     /* echoed in the ACK */
	uint64_t frame_id;      /* echoed in the ACK */
	const uint8_t *payload; /* after the metadata */
	size_t payload_len;     /* bytes at <payload> */
};

/* What a HAPROXY-HELLO says (SPOE.txt 3.2.4). */
struct spop_hello {
	bool has_versions;     /* "supported-versions" present */
	bool version_ok;       /* it lists a 2.x version */
	bool has_max_frame;    /* "max-frame-size" present with an integer type */
	uint32_t max_frame;    /* HAProxy's max-frame-size */
	bool has_caps;         /* "capabilities" present */
	bool cap_pipelining;   /* "pipelining" listed */
	bool cap_async;        /* "async" listed (accepted, not used) */
	bool cap_frag;         /* "fragmentation" listed (accepted, not used) */
	bool healthcheck;      /* "healthcheck" true: answer, then close */
	const uint8_t *engine; /* "engine-id" bytes, NULL when absent */
	size_t engine_len;     /* bytes at <engine> */
};

/* What a HAPROXY-DISCONNECT says (SPOE.txt 3.2.8). */
struct spop_disconnect {
	uint32_t status;    /* "status-code", SPOP_STATUS_UNKNOWN when absent */
	const uint8_t *msg; /* "message" bytes, NULL when absent */
	size_t msg_len;     /* bytes at <msg> */
};

/* One message of a NOTIFY (SPOE.txt 3.2.6): a name and its arguments. */
struct spop_msg {
	const uint8_t *name; /* message name bytes */
	size_t name_len;     /* bytes at <name> */
	unsigned nb_args;    /* args in the frame */
	unsigned n_args;     /* args decoded into <args>, <= SPOP_MSG_ARGS_MAX */
	const uint8_t *arg_name[SPOP_MSG_ARGS_MAX]; /* arg names (may be empty) */
	size_t arg_name_len[SPOP_MSG_ARGS_MAX];     /* bytes of each name */
	struct spop_data arg[SPOP_MSG_ARGS_MAX];    /* arg values */
};

/* varints (SPOE.txt 3.1: "Variable-length integer") */
int spop_varint_get(const uint8_t **p, const uint8_t *end, uint64_t *v) HR_MUSTCHECK;
int spop_varint_put(uint8_t **p, uint8_t *end, uint64_t v) HR_MUSTCHECK;
size_t spop_varint_len(uint64_t v);

/* strings (varint length + bytes) and typed data */
int spop_string_get(const uint8_t **p, const uint8_t *end, const uint8_t **s,
                    size_t *len) HR_MUSTCHECK;
int spop_string_put(uint8_t **p, uint8_t *end, const void *s, size_t len) HR_MUSTCHECK;
int spop_data_get(const uint8_t **p, const uint8_t *end, struct spop_data *d) HR_MUSTCHECK;
int spop_data_put(uint8_t **p, uint8_t *end, const struct spop_data *d) HR_MUSTCHECK;
bool spop_data_is_text(const struct spop_data *d);

/* frames */
int spop_frame_peek(const uint8_t *p, size_t len, uint32_t max_frame, struct spop_frame *f,
                    enum spop_status *st) HR_MUSTCHECK;
int spop_hello_decode(const struct spop_frame *f, struct spop_hello *h,
                      enum spop_status *st) HR_MUSTCHECK;
int spop_disconnect_decode(const struct spop_frame *f, struct spop_disconnect *d) HR_MUSTCHECK;
int spop_msg_next(const uint8_t **p, const uint8_t *end, struct spop_msg *m) HR_MUSTCHECK;

int spop_frame_begin(uint8_t **p, uint8_t *end, uint8_t type, uint32_t flags, uint64_t stream_id,
                     uint64_t frame_id, uint8_t **start) HR_MUSTCHECK;
int spop_frame_end(uint8_t *start, const uint8_t *p) HR_MUSTCHECK;
int spop_agent_hello_put(uint8_t **p, uint8_t *end, uint32_t max_frame,
                         const char *caps) HR_MUSTCHECK;
int spop_agent_disconnect_put(uint8_t **p, uint8_t *end, enum spop_status st,
                              const char *msg) HR_MUSTCHECK;
int spop_action_set_var(uint8_t **p, uint8_t *end, enum spop_scope scope, const char *name,
                        const struct spop_data *value) HR_MUSTCHECK;
int spop_action_unset_var(uint8_t **p, uint8_t *end, enum spop_scope scope,
                          const char *name) HR_MUSTCHECK;

const char *spop_status_str(enum spop_status st);
const char *spop_frame_type_str(uint8_t type);
bool spop_var_name_ok(const char *name, size_t len);

#endif /* HAPROLE_SPOE_SPOP_CODEC_H */
