/* tests/unit/test_tls_conn.c - common/tls_conn.c under a struct conn, against an in-process
 * OpenSSL server on the other end of a socketpair, both on one real libev loop: the handshake
 * is the connection's OPENING (the request queued before it waits, then goes), a write the
 * socket cannot take waits for writability and resumes, bytes left inside the session
 * (SSL_pending) are read without a socket event, and failures carry their reasons ("tls:
 * certificate verify failed (hostname mismatch)", "... (handshake)"). The certificate is made
 * in memory at start. Every loop run is bounded by a guard timer. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/conn.h"
#include "common/tls_conn.h"
#include "evtest.h"

#define BIG      (1 << 18) /* bytes of the request that cannot fit the socket at once */
#define CERT_CN  "tls.test"
#define SRV_KEEP (BIG + 64) /* bytes the server keeps of what it reads */

static EVP_PKEY *g_key;
static X509 *g_cert;

/* ---- the server: OpenSSL on the other end, its own watcher on the same loop -------------- */

struct srv {
	ev_io io;
	SSL *ssl;
	int fd;
	bool accepted;         /* handshake done */
	bool read_paused;      /* application bytes are left in the socket */
	bool plain;            /* no TLS at all: answers the ClientHello with a line of text */
	uint8_t got[SRV_KEEP]; /* what it read */
	size_t got_len;
	const char *reply; /* sent once <want> bytes came */
	size_t want;
	size_t reply_off;
};

static void srv_arm(struct ev_loop *loop, struct srv *s, int events)
{
	ev_io_stop(loop, &s->io);
	ev_io_set(&s->io, s->fd, events);
	if (events != 0)
		ev_io_start(loop, &s->io);
}

static void srv_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct srv *s = container_of(w, struct srv, io);
	int r;

	(void)revents;
	if (s->plain) {
		static const char line[] = "HTTP/1.1 400 not TLS\r\n\r\n";

		assert_int_equal(write(s->fd, line, sizeof(line) - 1), (ssize_t)sizeof(line) - 1);
		srv_arm(loop, s, 0);
		return;
	}
	if (!s->accepted) {
		r = SSL_accept(s->ssl);
		if (r != 1) {
			int e = SSL_get_error(s->ssl, r);

			ERR_clear_error();
			/* the client gave up (a failed verify): the server stops too */
			srv_arm(loop, s,
			        e == SSL_ERROR_WANT_READ    ? EV_READ
			        : e == SSL_ERROR_WANT_WRITE ? EV_WRITE
			                                    : 0);
			return;
		}
		s->accepted = true;
	}
	while (!s->read_paused && s->got_len < sizeof(s->got)) {
		r = SSL_read(s->ssl, s->got + s->got_len, (int)(sizeof(s->got) - s->got_len));
		if (r <= 0)
			break;
		s->got_len += (size_t)r;
	}
	if (s->reply != NULL && s->got_len >= s->want && s->reply[s->reply_off] != '\0') {
		size_t left = strlen(s->reply) - s->reply_off;

		r = SSL_write(s->ssl, s->reply + s->reply_off, (int)left);
		if (r > 0)
			s->reply_off += (size_t)r;
	}
	srv_arm(loop, s, s->read_paused ? 0 : EV_READ);
}

/* ---- the client: a struct conn with the TLS transport ------------------------------------ */

struct cli {
	struct conn c;
	struct tls_conn tls;
	uint8_t rx_mem[64]; /* small: the server's records do not fit, SSL_pending holds the rest */
	uint8_t *tx_mem;
	uint8_t got[8192]; /* what on_read took out of <rx> */
	size_t got_len;
	int opens;
	int frees;
	int closes;
	bool eof;
	const char *why; /* close reason */
	char why_copy[TLS_CONN_WHY_MAX];
};

static void cli_on_read(struct conn *c, bool eof)
{
	struct cli *k = container_of(c, struct cli, c);
	size_t n = buf_len(&c->rx);

	if (n > sizeof(k->got) - k->got_len)
		n = sizeof(k->got) - k->got_len;
	memcpy(k->got + k->got_len, buf_head(&c->rx), n);
	k->got_len += n;
	buf_consume(&c->rx, n);
	if (eof)
		k->eof = true;
}

static void cli_on_open(struct conn *c)
{
	struct cli *k = container_of(c, struct cli, c);

	k->opens++;
}

static void cli_on_close(struct conn *c)
{
	struct cli *k = container_of(c, struct cli, c);

	k->closes++;
	snprintf(k->why_copy, sizeof(k->why_copy), "%s", c->why);
}

static void cli_on_free(struct conn *c)
{
	struct cli *k = container_of(c, struct cli, c);

	k->frees++;
}

static const struct conn_ops cli_ops = {
	.on_read = cli_on_read,
	.on_open = cli_on_open,
	.on_close = cli_on_close,
	.on_free = cli_on_free,
};

struct fx {
	struct ev_loop *loop;
	SSL_CTX *sctx;
	SSL_CTX *cctx;
	struct srv s;
	struct cli k;
};

/* A socketpair, the server on one end (its certificate: CN tls.test), the client's struct conn
 * on the other with a TLS session checking <name> against the certificate (NULL: no check),
 * <tx_size> bytes of send buffer. Not started. */
static struct fx *fx_new(const char *name, size_t tx_size)
{
	struct fx *f = calloc(1, sizeof(*f));
	int sv[2];

	assert_non_null(f);
	f->loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(f->loop);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);

	f->sctx = SSL_CTX_new(TLS_server_method());
	assert_non_null(f->sctx);
	assert_int_equal(SSL_CTX_use_certificate(f->sctx, g_cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(f->sctx, g_key), 1);
	SSL_CTX_set_mode(f->sctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
	f->s.ssl = SSL_new(f->sctx);
	assert_non_null(f->s.ssl);
	f->s.fd = sv[0];
	assert_int_equal(SSL_set_fd(f->s.ssl, sv[0]), 1);
	SSL_set_accept_state(f->s.ssl);
	ev_io_init(&f->s.io, srv_cb, sv[0], EV_READ);
	ev_io_start(f->loop, &f->s.io);

	f->cctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(f->cctx);
	if (name != NULL) {
		assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(f->cctx), g_cert), 1);
		SSL_CTX_set_verify(f->cctx, SSL_VERIFY_PEER, NULL);
	}
	conn_init(&f->k.c, f->loop, sv[1], &cli_ops, "tls", 1, NULL);
	buf_init_static(&f->k.c.rx, f->k.rx_mem, sizeof(f->k.rx_mem));
	f->k.tx_mem = malloc(tx_size);
	assert_non_null(f->k.tx_mem);
	buf_init_static(&f->k.c.tx, f->k.tx_mem, tx_size);
	assert_int_equal(tls_conn_client(&f->k.tls, &f->k.c, f->cctx, name != NULL ? name : CERT_CN,
	                                 false, name != NULL),
	                 0);
	return f;
}

static void fx_free(struct fx *f)
{
	if (f->k.frees == 0)
		conn_destroy(&f->k.c, "test over");
	assert_int_equal(f->k.frees, 1);
	assert_null(f->k.tls.ssl); /* the transport's close ran */
	ev_io_stop(f->loop, &f->s.io);
	SSL_free(f->s.ssl);
	close(f->s.fd);
	SSL_CTX_free(f->sctx);
	SSL_CTX_free(f->cctx);
	free(f->k.tx_mem);
	ev_loop_destroy(f->loop);
	free(f);
}

/* ---- tests -------------------------------------------------------------------------------- */

/* The request queued before the start waits for the handshake (OPENING), then goes; the
 * reply comes back through <rx>; the certificate's name is checked. */
static void test_tls_conn_request_reply(void **state)
{
	struct fx *f = fx_new(CERT_CN, 256);

	(void)state;
	assert_int_equal(f->k.c.state, CONN_ST_OPENING);
	assert_int_equal(buf_printf(&f->k.c.tx, "ping\n"), 0);
	f->s.reply = "pong\n";
	f->s.want = 5;
	conn_start(&f->k.c, true);
	assert_int_equal(f->k.opens, 0); /* the ClientHello is out, the rest needs the server */
	EVTEST_RUN_UNTIL(f->loop, f->k.got_len >= 5);
	assert_memory_equal(f->k.got, "pong\n", 5);
	assert_int_equal(f->s.got_len, 5);
	assert_memory_equal(f->s.got, "ping\n", 5);
	assert_int_equal(f->k.opens, 1);
	assert_int_equal(f->k.c.state, CONN_ST_OPEN);
	assert_non_null(strstr(tls_conn_version(&f->k.tls), "TLSv1."));
	fx_free(f);
}

/* 256 KiB do not fit the socket: SSL_write wants to write, the layer waits for EV_WRITE with
 * what is left in <tx>; once the server reads, every byte arrives, in order. */
static void test_tls_conn_write_waits_for_writable(void **state)
{
	struct fx *f = fx_new(CERT_CN, BIG);
	static uint8_t req[BIG];
	int sndbuf = 4096;

	(void)state;
	for (size_t i = 0; i < sizeof(req); i++)
		req[i] = (uint8_t)(i * 7 + i / 251);
	assert_int_equal(setsockopt(f->k.c.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
	f->s.reply = "done\n";
	f->s.want = sizeof(req);
	conn_start(&f->k.c, true);
	EVTEST_RUN_UNTIL(f->loop, f->k.opens >= 1);
	f->s.read_paused = true; /* the server stops reading: the socket fills */
	assert_int_equal(conn_send(&f->k.c, req, sizeof(req)), 0);
	for (int i = 0; i < 20; i++)
		ev_run(f->loop, EVRUN_NOWAIT);
	assert_true(buf_len(&f->k.c.tx) > 0);
	assert_int_equal(f->k.c.tx_wait, EV_WRITE);
	assert_true((f->k.c.events & EV_WRITE) != 0);
	f->s.read_paused = false;
	srv_arm(f->loop, &f->s, EV_READ);
	EVTEST_RUN_UNTIL(f->loop, f->k.got_len >= 5);
	assert_memory_equal(f->k.got, "done\n", 5);
	assert_int_equal(f->s.got_len, sizeof(req));
	assert_memory_equal(f->s.got, req, sizeof(req));
	assert_int_equal(buf_len(&f->k.c.tx), 0);
	fx_free(f);
}

/* A reply far larger than <rx> (64 bytes) arrives in a few records: what the session decoded
 * and <rx> had no room for is read on the next loop turns, without a socket event. */
static void test_tls_conn_pending_bytes_read(void **state)
{
	struct fx *f = fx_new(CERT_CN, 256);
	static char reply[4001];

	(void)state;
	for (size_t i = 0; i < sizeof(reply) - 1; i++)
		reply[i] = (char)('a' + i % 26);
	f->s.reply = reply;
	f->s.want = 1;
	assert_int_equal(buf_printf(&f->k.c.tx, "x"), 0);
	conn_start(&f->k.c, true);
	EVTEST_RUN_UNTIL(f->loop, f->k.got_len >= sizeof(reply) - 1);
	assert_memory_equal(f->k.got, reply, sizeof(reply) - 1);
	fx_free(f);
}

/* The certificate names another host: the handshake fails, the close reason says why, the
 * owner never had on_open nor a byte. */
static void test_tls_conn_verify_failure_reason(void **state)
{
	struct fx *f = fx_new("other.test", 256);

	(void)state;
	assert_int_equal(buf_printf(&f->k.c.tx, "ping\n"), 0);
	conn_start(&f->k.c, true);
	EVTEST_RUN_UNTIL(f->loop, f->k.frees >= 1);
	assert_string_equal(f->k.why_copy, "tls: certificate verify failed (hostname mismatch)");
	assert_int_equal(f->k.opens, 0);
	assert_int_equal(f->k.got_len, 0);
	assert_int_equal(f->s.got_len, 0);
	fx_free(f);
}

/* A peer that does not speak TLS: the handshake fails with OpenSSL's reason, named as the
 * handshake's. */
static void test_tls_conn_plain_peer_reason(void **state)
{
	struct fx *f = fx_new(NULL, 256);

	(void)state;
	f->s.plain = true;
	conn_start(&f->k.c, true);
	EVTEST_RUN_UNTIL(f->loop, f->k.frees >= 1);
	assert_true(strncmp(f->k.why_copy, "tls: ", 5) == 0);
	assert_non_null(strstr(f->k.why_copy, "(handshake)"));
	assert_int_equal(f->k.opens, 0);
	fx_free(f);
}

/* A self-signed certificate for CN tls.test, made once. */
static int make_cert(void **state)
{
	X509_NAME *n;

	(void)state;
	g_key = EVP_EC_gen("P-256");
	g_cert = X509_new();
	if (g_key == NULL || g_cert == NULL)
		return -1;
	X509_set_version(g_cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(g_cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(g_cert), -60);
	X509_gmtime_adj(X509_getm_notAfter(g_cert), 3600);
	X509_set_pubkey(g_cert, g_key);
	n = X509_get_subject_name(g_cert);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)CERT_CN, -1, -1,
	                           0);
	X509_set_issuer_name(g_cert, n);
	return X509_sign(g_cert, g_key, EVP_sha256()) > 0 ? 0 : -1;
}

static int free_cert(void **state)
{
	(void)state;
	X509_free(g_cert);
	EVP_PKEY_free(g_key);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_conn_request_reply),
		cmocka_unit_test(test_tls_conn_write_waits_for_writable),
		cmocka_unit_test(test_tls_conn_pending_bytes_read),
		cmocka_unit_test(test_tls_conn_verify_failure_reason),
		cmocka_unit_test(test_tls_conn_plain_peer_reason),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, make_cert, free_cert);
}
