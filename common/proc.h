/* common/proc.h - the command-line and process conventions haprole-agent and haprole-spoa
 * share (docs/design.md section 9), so that both read and behave alike. Prefix: proc_.
 *
 *   -f FILE        config file                -c             check the config and exit
 *   -d             foreground, log to stderr  -p PIDFILE     write the daemon's pid there
 *   -v, --version  "PROGRAM VERSION"          -h, --help     usage, examples, then the keys
 *   --allow-root   keep running as root when the config sets no `user` (common/priv.h)
 * Without -d a daemon goes to the background once its sockets are bound (a bind error still
 * reaches the caller's exit status), as HAProxy and nginx do; systemd units pass -d. */
#ifndef HAPROLE_COMMON_PROC_H
#define HAPROLE_COMMON_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <ev.h>

#include "common/compiler.h"
#include "common/priv.h"

#define PROC_OPTSTRING      "f:dcp:vh" /* getopt: the options above */
#define PROC_OPT_ALLOW_ROOT 256        /* getopt_long value of --allow-root */

void proc_usage_options(FILE *out, const char *program, const char *default_conf);
void proc_print_version(const char *program);
void proc_print_valid(const char *file, const char *what);
int proc_detach(struct ev_loop *loop, bool foreground, const char *pidfile,
                const struct priv_id *priv, char *err, size_t errlen) HR_MUSTCHECK;
void proc_pidfile_remove(const char *pidfile);

#endif /* HAPROLE_COMMON_PROC_H */
