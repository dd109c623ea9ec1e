/* agent/http_probe.h - HTTP and plain TCP probes of haprole-agent. Prefix: hp_.
 *
 * One probe = one target, probed every <interval> under <timeout> (docs/design.md sections 3, 6):
 *   HP_KIND_HTTP  non-blocking connect to a numeric address, send
 *                 "GET PATH HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n", read at most
 *                 HP_RX_MAX bytes, decode the status line with hp_parse_status() (pure, fuzzed);
 *                 pass when the status is within [expect_min, expect_max]. With <stub_status>,
 *                 the body is nginx's stub_status page and "Active connections: N" is read
 *                 (hp_parse_stub_status()) into <active>.
 *                 With an "https://" url the same request goes over TLS (OpenSSL, non-blocking):
 *                 a handshake follows the connect; <verify> none|peer (against <ca_file>, else
 *                 the system's CAs; the certificate's name against <sni>, else the <host>
 *                 header's name, else the url's IP), SNI = <sni>, else the <host> header's
 *                 name (a numeric url host is never sent as SNI: RFC 6066 section 3).
 *   HP_KIND_TCP   pass when the connect succeeds within <timeout>; nothing is sent.
 * The timer is armed before the connect; everything (connect, TLS handshake, send, response)
 * must finish within <timeout>. No DNS: addresses are numeric (cfg_parse_addr()).
 *
 * Results land in a struct ns_probe (common/node_state.h): <up> debounced by rise/fall
 * (agent/rise_fall.h), <ms> the last probe's duration, <err> the last failure ("" after a
 * pass). The agent decides which node_state member (app, nginx, ...) a probe feeds.
 *
 * Config sections (agent core routes them here): "[http NAME]" keys hp_http_keys,
 * "[tcp NAME]" keys hp_tcp_keys, both into struct hp_conf; then hp_conf_validate(). */
#ifndef HAPROLE_AGENT_HTTP_PROBE_H
#define HAPROLE_AGENT_HTTP_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "agent/rise_fall.h"
#include "common/buf.h"
#include "common/cfg.h"
#include "common/compiler.h"
#include "common/conn.h"
#include "common/node_state.h"
#include "common/sock.h"
#include "common/tls_conn.h"

#define HP_RX_MAX   4096 /* response bytes read: status line, headers, a stub_status body */
#define HP_TX_MAX   512  /* request bytes: request line + Host + Connection */
#define HP_URL_MAX  256  /* "url" value, with NUL */
#define HP_PATH_MAX 200  /* request path, with NUL */
#define HP_HOST_MAX 128  /* Host header value, with NUL */
#define HP_FILE_MAX 256  /* ca_file path, with NUL */

/* What an https probe checks of the server's certificate. */
enum hp_verify {
	HP_VERIFY_NONE = 0, /* encrypt only: any certificate is accepted */
	HP_VERIFY_PEER,     /* chain to <ca_file> (or the system's CAs) and the name must match */
	HP_VERIFY_COUNT     /* keep last */
};

enum hp_kind {
	HP_KIND_HTTP = 0, /* GET and check the status */
	HP_KIND_TCP,      /* connect only */
	HP_KIND_COUNT     /* keep last */
};

/* One [http NAME] or [tcp NAME] section. */
struct hp_conf {
	char name[CFG_NAME_MAX]; /* NAME from the section header (set by the agent core) */
	enum hp_kind kind;       /* set by the agent core from the section word */
	char url[HP_URL_MAX];    /* http: "http[s]://IP:PORT/path?query" (numeric IP, [v6] ok) */
	char host[HP_HOST_MAX];  /* http: Host header; "" = the url's "IP:PORT" */
	char expect[32];         /* http: accepted status range "200-399" or one code "200" */
	bool stub_status;        /* http: the body is nginx stub_status; read Active connections */
	int verify;              /* https: enum hp_verify (CFG_T_ENUM stores an int) */
	char ca_file[HP_FILE_MAX]; /* https, verify peer: PEM CA bundle; "" = the system's CAs */
	char sni[HP_HOST_MAX];     /* https: server name sent and verified; "" = <host>'s name */
	struct cfg_addr addr;      /* tcp: target "IP:PORT"; http: filled from <url> by validate */
	double interval;           /* time between two probes (s) */
	double timeout;            /* deadline of one whole probe (s) */
	int64_t rise;              /* consecutive passes to turn up */
	int64_t fall;              /* consecutive failures to turn down */
	/* Filled by hp_conf_validate() from the above: */
	char path[HP_PATH_MAX]; /* http: path and query of <url> */
	bool tls;               /* http: the url is https:// */
	int expect_min;         /* http: lowest accepted status */
	int expect_max;         /* http: highest accepted status */
};

/* Key tables. [http NAME]: url, host, expect, stub_status, verify, ca_file, sni, interval,
 * timeout, rise, fall.
 * [tcp NAME]: addr, interval, timeout, rise, fall. Offsets are into struct hp_conf. */
extern const struct cfg_key hp_http_keys[];
extern const struct cfg_key hp_tcp_keys[];

/* Checks a whole section and fills the derived fields (addr from url, path, tls,
 * expect_min/max). An https section also gets its TLS context built once (the CA file read and
 * parsed), so a bad ca_file is a config error, not a probe failure. Returns 0, or -1 with
 * <err> = "key 'KEY': what is wrong (got "VALUE")". */
int hp_conf_validate(struct hp_conf *c, char *err, size_t errlen) HR_MUSTCHECK;

/* ---- pure decoders (unit tested, fuzzed: tests/fuzz/fuzz_http_status.c) ---------------- */

/* Splits "http://IP:PORT/path" or "https://..." into <addr> and <path> (path "/" when absent;
 * port 80, or 443 for https, when absent); <*tls> tells https. Refuses other schemes, host
 * names, user info, fragments. Returns 0 or -1 with <*why> a static text. */
int hp_parse_url(const char *url, struct cfg_addr *addr, char *path, size_t pathlen, bool *tls,
                 const char **why) HR_MUSTCHECK;

/* Parses "200-399" or "204" into a range of 100..599. Returns 0 or -1. */
int hp_parse_expect(const char *s, int *min, int *max) HR_MUSTCHECK;

/* Decodes an HTTP status line at the start of <p>[<len>]: "HTTP/1.x SSS[ reason]\r\n" (a bare
 * "\n" accepted). Returns the bytes of the line including its end, 0 when the line is not
 * complete yet (and could still become valid), -1 when invalid; <*status> set on success. */
int hp_parse_status(const uint8_t *p, size_t len, int *status) HR_MUSTCHECK;

/* Finds the body after "\r\n\r\n" (or "\n\n") in <p>[<len>] and reads nginx stub_status's
 * "Active connections: N". Returns 1 with <*active> set, 0 when not (yet) there, -1 when
 * the body is there but malformed. */
int hp_parse_stub_status(const uint8_t *p, size_t len, int64_t *active) HR_MUSTCHECK;

/* ---- the probe ------------------------------------------------------------------------- */

enum hp_state {
	HP_ST_STOPPED = 0, /* not started, or hp_stop() */
	HP_ST_WAIT,        /* between probes, <timer> = next probe */
	HP_ST_CONNECTING,  /* connect under way, <timer> = probe deadline */
	HP_ST_HANDSHAKE,   /* https: TLS handshake under way, <timer> = probe deadline */
	HP_ST_SENDING,     /* request partly written, <timer> = probe deadline */
	HP_ST_READING,     /* reading the response, <timer> = probe deadline */
	HP_ST_COUNT        /* keep last */
};

struct http_probe;
struct ssl_ctx_st; /* OpenSSL's SSL_CTX */

/* Told after <p->res.up>, <p->res.err> or <p->active> changed. <p->res.ms> is refreshed by
 * every probe without a call (it changes every time; read it when building a state). Called
 * from the loop; must not hp_free(<p>). */
typedef void (*hp_change_cb)(struct http_probe *p, void *arg);

struct http_probe {
	struct ev_loop *loop;            /* loop the watchers run on */
	struct hp_conf conf;             /* current config (copied in, validated) */
	enum hp_state state;             /* written by hp_set_state() only */
	struct sock_connector connector; /* connect with deadline (common/sock.h) */
	struct conn conn;                /* the connected socket of the probe under way */
	bool conn_live;                  /* <conn> holds a connection (until its on_free) */
	struct tls_conn tls;             /* https: the TLS session under <conn> */
	ev_timer timer;                  /* next probe, or deadline of the probe under way */
	struct ssl_ctx_st *ssl_ctx;      /* https: built from <conf> by hp_init/hp_reconfigure */
	ev_tstamp started;               /* ev_now() when the probe under way began */
	uint8_t tx_mem[HP_TX_MAX];       /* storage of <conn.tx>: the request */
	uint8_t rx_mem[HP_RX_MAX];       /* storage of <conn.rx>: the response; full = decide */
	struct rise_fall rf;             /* debounce of <res.up> */
	struct ns_probe res;             /* the result the agent reads; present = true */
	int last_status;                 /* last HTTP status seen, 0 none */
	int64_t active;                  /* stub_status active connections, -1 unknown */
	int64_t active_told;             /* <active> as last told through the callback */
	uint64_t probes;                 /* probes completed since start */
	uint64_t failures;               /* failed probes since start */
	hp_change_cb cb;                 /* told of every change */
	void *arg;                       /* caller's data */
};

/* Prepares <p> with a copy of <conf> (hp_conf_validate()d); no I/O. 0 or -1 with <err>. */
int hp_init(struct http_probe *p, struct ev_loop *loop, const struct hp_conf *conf, hp_change_cb cb,
            void *arg, char *err, size_t errlen) HR_MUSTCHECK;

/* Starts probing: the first probe runs at once. A no-op when running. */
void hp_start(struct http_probe *p);

/* Aborts a probe under way, stops every watcher; <p->res> keeps its values. */
void hp_stop(struct http_probe *p);

/* hp_stop() and frees the TLS context; <p> may be hp_init()ed again. */
void hp_free(struct http_probe *p);

/* SIGHUP: adopts <conf> keeping <p->res> and the rise/fall verdict; a probe under way is
 * aborted without counting, the next starts at once. 0, or -1 with <err> and the old kept. */
int hp_reconfigure(struct http_probe *p, const struct hp_conf *conf, char *err,
                   size_t errlen) HR_MUSTCHECK;

const char *hp_state_name(enum hp_state st);

#endif /* HAPROLE_AGENT_HTTP_PROBE_H */
