/* common/tls_conn.c - TLS over OpenSSL under a struct conn; see tls_conn.h. */
#include "common/tls_conn.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

const char *tls_conn_err_text(void)
{
	unsigned long e = ERR_get_error();
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return r != NULL ? r : "unknown TLS error";
}

/* After an SSL call returned <ret> <= 0 (queue cleared and errno 0 before it, <saved> the errno
 * it left): what the layer waits for, or CONN_IO_ERROR with the reason in <t->why>. <doing>:
 * "handshake", "reading" or "sending". A clean end (close_notify, or a FIN where the context
 * accepts one) is 0 while reading, a failure otherwise. */
static ssize_t tls_conn_result(struct conn *c, struct tls_conn *t, int ret, int saved,
                               const char *doing)
{
	int e = SSL_get_error(t->ssl, ret);
	unsigned long q;
	long v;

	if (e == SSL_ERROR_WANT_READ)
		return CONN_IO_WANT_READ;
	if (e == SSL_ERROR_WANT_WRITE)
		return CONN_IO_WANT_WRITE;
	if (e == SSL_ERROR_ZERO_RETURN && strcmp(doing, "reading") == 0)
		return 0;
	c->err = EPROTO;
	switch (e) {
	case SSL_ERROR_ZERO_RETURN:
		snprintf(t->why, sizeof(t->why), "tls: connection closed by the server (%s)",
		         doing);
		break;
	case SSL_ERROR_SSL:
		q = ERR_peek_error();
		v = SSL_get_verify_result(t->ssl);
		if (ERR_GET_REASON(q) == SSL_R_CERTIFICATE_VERIFY_FAILED && v != X509_V_OK) {
			ERR_clear_error();
			snprintf(t->why, sizeof(t->why), "tls: certificate verify failed (%s)",
			         X509_verify_cert_error_string(v));
			break;
		}
		snprintf(t->why, sizeof(t->why), "tls: %s (%s)", tls_conn_err_text(), doing);
		break;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		if (saved != 0)
			c->err = saved;
		snprintf(t->why, sizeof(t->why), "tls: %s (%s)",
		         saved != 0 ? strerror(saved) : "connection closed by the server", doing);
		break;
	default:
		ERR_clear_error();
		snprintf(t->why, sizeof(t->why), "tls: OpenSSL error %d (%s)", e, doing);
		break;
	}
	c->tp_why = t->why;
	return CONN_IO_ERROR;
}

static int tls_conn_open(struct conn *c)
{
	struct tls_conn *t = c->tp_ctx;
	int r;

	ERR_clear_error();
	errno = 0;
	r = SSL_connect(t->ssl);
	if (r == 1)
		return 0;
	return (int)tls_conn_result(c, t, r, errno, "handshake");
}

/* One SSL_read() into <out>, or (<out> NULL) one SSL_write() from <in>. */
static ssize_t tls_conn_move(struct conn *c, void *out, const void *in, size_t len)
{
	struct tls_conn *t = c->tp_ctx;
	int n = len > INT_MAX ? INT_MAX : (int)len;
	int r;

	ERR_clear_error();
	errno = 0;
	r = out != NULL ? SSL_read(t->ssl, out, n) : SSL_write(t->ssl, in, n);
	if (r > 0)
		return r;
	return tls_conn_result(c, t, r, errno, out != NULL ? "reading" : "sending");
}

static ssize_t tls_conn_recv(struct conn *c, void *p, size_t len)
{
	return tls_conn_move(c, p, NULL, len);
}

static ssize_t tls_conn_send(struct conn *c, const void *p, size_t len)
{
	return tls_conn_move(c, NULL, p, len);
}

static bool tls_conn_pending(const struct conn *c)
{
	const struct tls_conn *t = c->tp_ctx;

	return SSL_pending(t->ssl) > 0;
}

/* No close_notify: the socket is closed right after, and nothing of ours waits on the peer's
 * reading it (an owner that needs one would add a closing step). */
static void tls_conn_close(struct conn *c)
{
	struct tls_conn *t = c->tp_ctx;

	SSL_free(t->ssl);
	t->ssl = NULL;
}

static const struct conn_transport tls_conn_transport = {
	.open = tls_conn_open,
	.recv = tls_conn_recv,
	.send = tls_conn_send,
	.pending = tls_conn_pending,
	.close = tls_conn_close,
};

int tls_conn_client(struct tls_conn *t, struct conn *c, struct ssl_ctx_st *ctx, const char *name,
                    bool name_is_ip, bool check_name)
{
	int ok = 1;

	t->why[0] = '\0';
	ERR_clear_error();
	t->ssl = SSL_new(ctx);
	if (t->ssl == NULL || SSL_set_fd(t->ssl, c->fd) != 1) {
		snprintf(t->why, sizeof(t->why), "tls: cannot start a session: %s",
		         tls_conn_err_text());
		SSL_free(t->ssl);
		t->ssl = NULL;
		return -1;
	}
	/* the layer may send <tx> in pieces, from wherever it was compacted to */
	SSL_set_mode(t->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (!name_is_ip && name[0] != '\0')
		ok = SSL_set_tlsext_host_name(t->ssl, name);
	if (ok == 1 && check_name) {
		if (name_is_ip)
			ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), name);
		else
			ok = SSL_set1_host(t->ssl, name);
	}
	if (ok != 1) {
		snprintf(t->why, sizeof(t->why), "tls: cannot use the name \"%s\": %s", name,
		         tls_conn_err_text());
		SSL_free(t->ssl);
		t->ssl = NULL;
		return -1;
	}
	SSL_set_connect_state(t->ssl);
	conn_set_transport(c, &tls_conn_transport, t);
	return 0;
}

const char *tls_conn_version(const struct tls_conn *t)
{
	return t->ssl != NULL ? SSL_get_version(t->ssl) : "none";
}

const char *tls_conn_cipher(const struct tls_conn *t)
{
	const char *s = t->ssl != NULL ? SSL_get_cipher_name(t->ssl) : NULL;

	return s != NULL ? s : "none";
}
