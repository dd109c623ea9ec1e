/* common/tls_conn.h - TLS over OpenSSL as a transport of common/conn (struct conn_transport).
 * Prefix: tls_conn_.
 *
 * A struct tls_conn lives next to the owner's struct conn (same object, same lifetime).
 * tls_conn_client() starts a client session over the connection's non-blocking socket, with
 * the name to send as SNI and to check the certificate against, and puts it under the
 * connection: from then on the layer's reads and writes are SSL_read() and SSL_write(), and
 * the connection is OPENING until the handshake is done.
 *
 * The handshake is the layer's OPENING step rather than a state of each owner: driving
 * SSL_connect() means arming the watcher for what it waits for (read or write) and timing it
 * out, which is what the layer does for every connection. The owner queues its request at
 * once; the layer sends it when the handshake is done, and tells the owner (ops->on_open).
 *
 * A failure becomes the connection's close reason (<c->tp_why>, <c->err> the errno, or EPROTO),
 * in these words:
 *   "tls: certificate verify failed (self-signed certificate)"  (X509_verify_cert_error_string)
 *   "tls: <OpenSSL's reason> (handshake|reading|sending)"
 *   "tls: <strerror> (...)", "tls: connection closed by the server (...)"
 * OpenSSL's error queue is per thread and shared with libpq's own TLS: it is cleared before
 * each call and read right after it. */
#ifndef HAPROLE_COMMON_TLS_CONN_H
#define HAPROLE_COMMON_TLS_CONN_H

#include <stdbool.h>

#include "common/compiler.h"
#include "common/conn.h"

#define TLS_CONN_WHY_MAX 160 /* a failure's reason, with NUL */

struct ssl_ctx_st; /* OpenSSL's SSL_CTX */
struct ssl_st;     /* OpenSSL's SSL */

struct tls_conn {
	struct ssl_st *ssl;         /* the session; NULL before tls_conn_client() and once closed */
	char why[TLS_CONN_WHY_MAX]; /* the last failure ("tls: ..."), what <c->tp_why> points to */
};

/* A client session on <c>'s socket (conn_init()ed, not started) from <ctx> (its verify mode
 * decides whether the certificate is checked): <name> is sent as SNI unless <name_is_ip> (RFC
 * 6066 section 3); with <check_name>, the certificate must name it (host name or IP). Puts the
 * session under <c> (conn_set_transport(): <c> is OPENING). Returns 0, or -1 with <t->why>
 * ("tls: cannot start a session: ..."); <c> is then unchanged. */
int tls_conn_client(struct tls_conn *t, struct conn *c, struct ssl_ctx_st *ctx, const char *name,
                    bool name_is_ip, bool check_name) HR_MUSTCHECK;

/* The protocol and cipher of an open session ("TLSv1.3", "TLS_AES_256_GCM_SHA384"). */
const char *tls_conn_version(const struct tls_conn *t);
const char *tls_conn_cipher(const struct tls_conn *t);

/* OpenSSL's last error as text, for reasons; empties the queue. */
const char *tls_conn_err_text(void);

#endif /* HAPROLE_COMMON_TLS_CONN_H */
