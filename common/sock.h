/* common/sock.h - non-blocking sockets for the libev daemons. Prefix: sock_.
 *
 * Every socket returned here is non-blocking and close-on-exec. Addresses are numeric (struct
 * cfg_addr): nothing here resolves names, since a DNS lookup would block the event loop.
 * struct sock_connector runs one outbound connect (TCP, or a unix socket named by
 * sock_addr_unix()) with its own deadline, which it arms before connecting (docs/design.md section 14: every outbound operation starts its timer first). */
#ifndef HAPROLE_COMMON_SOCK_H
#define HAPROLE_COMMON_SOCK_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <ev.h>

#include "common/cfg.h"
#include "common/compiler.h"

struct sock_connector;

/* Called once per sock_connector_start(): <fd> connected (and now owned by the callee), or -1
 * with <err> an errno value (ETIMEDOUT when the deadline passed). */
typedef void (*sock_connect_cb)(struct sock_connector *c, int fd, int err);

struct sock_connector {
	ev_io io;             /* writability of the connecting socket */
	ev_timer timer;       /* the connect deadline */
	struct ev_loop *loop; /* loop the watchers run on */
	int fd;               /* socket while connecting, else -1 */
	sock_connect_cb cb;   /* told the outcome, once */
	void *arg;            /* caller's data */
};

int sock_listen_tcp(const struct cfg_addr *addr, int backlog, char *err,
                    size_t errlen) HR_MUSTCHECK;
int sock_listen_unix(const char *path, mode_t mode, int backlog, char *err,
                     size_t errlen) HR_MUSTCHECK;
int sock_accept(int listen_fd, struct sockaddr_storage *peer, socklen_t *peer_len) HR_MUSTCHECK;
int sock_connect_tcp(const struct cfg_addr *addr, bool *in_progress) HR_MUSTCHECK;
int sock_connect_unix(const char *path, bool nonblock) HR_MUSTCHECK;
int sock_addr_unix(const char *path, struct cfg_addr *out) HR_MUSTCHECK;
int sock_pending_error(int fd);
bool sock_has_input(int fd);
int sock_set_nodelay(int fd);
int sock_set_keepalive(int fd, int idle_s, int intvl_s, int count);
const char *sock_addr_str(const struct sockaddr_storage *ss, char *out, size_t outlen);

void sock_connector_init(struct sock_connector *c, struct ev_loop *loop, sock_connect_cb cb,
                         void *arg);
int sock_connector_start(struct sock_connector *c, const struct cfg_addr *addr,
                         double timeout) HR_MUSTCHECK;
void sock_connector_cancel(struct sock_connector *c);

static inline bool sock_connector_busy(const struct sock_connector *c)
{
	return c->fd != -1;
}

#endif /* HAPROLE_COMMON_SOCK_H */
