/* common/proc.c - the daemons' shared command-line words and going to the background; see
 * proc.h. */
#include "common/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/version.h"

/* Prints the options block every daemon's --help shows, word for word the same. */
void proc_usage_options(FILE *out, const char *program, const char *default_conf)
{
	fprintf(out,
	        "options:\n"
	        "  -f FILE        config file (default %s)\n"
	        "  -d             stay in the foreground and log to stderr (what systemd units\n"
	        "                 use); without -d: go to the background once the sockets are\n"
	        "                 bound, and log to syslog\n"
	        "  -p PIDFILE     write the daemon's pid to PIDFILE (removed when it exits)\n"
	        "  -c             check the config and exit: 0 valid, 1 with an error such as\n"
	        "                 FILE:LINE: key 'KEY': what is wrong (got \"VALUE\")\n"
	        "  --allow-root   started as root with no 'user' in the config: run as root\n"
	        "                 anyway (without it the daemon refuses to start); with 'user'\n"
	        "                 set, it binds its ports as root, then drops to user/group\n"
	        "  -v, --version  print \"%s %s\" and exit\n"
	        "  -h, --help     this text\n",
	        default_conf, program, HAPROLE_VERSION);
}

/* -v / --version: one line, "PROGRAM VERSION", the same for every program. */
void proc_print_version(const char *program)
{
	printf("%s %s\n", program, HAPROLE_VERSION);
}

/* -c on a good file: "FILE: configuration is valid (WHAT)". */
void proc_print_valid(const char *file, const char *what)
{
	printf("%s: configuration is valid (%s)\n", file, what);
}

/* Writes "<pid>\n" to <path> through a temporary file renamed over it. Returns 0 or -1. */
static int proc_pidfile_write(const char *path, char *err, size_t errlen)
{
	char tmp[4096];
	char line[32];
	int n = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "pidfile %s: path too long", path);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1) {
		snprintf(err, errlen, "pidfile %s: %s", tmp, strerror(errno));
		return -1;
	}
	if (write(fd, line, (size_t)n) != n || close(fd) == -1) {
		snprintf(err, errlen, "pidfile %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) == -1) {
		snprintf(err, errlen, "pidfile %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* After the sockets are bound: goes to the background unless <foreground> (the loop is told
 * it forked), then writes <pidfile> (NULL: none) with the pid that will run, then drops root
 * as <priv> says (priv_drop(); the pidfile is written before, as root). The caller of
 * the program gets its exit status only once that is done: the parent waits for the child's
 * word on a pipe, so a script that starts the daemon and reads the pidfile right after finds
 * it, and a pidfile that cannot be written or a failed drop is exit 1 to the caller. Returns 0
 * in the process that runs on, or -1 with <err> (the caller exits 1). */
int proc_detach(struct ev_loop *loop, bool foreground, const char *pidfile,
                const struct priv_id *priv, char *err, size_t errlen)
{
	int pfd[2];
	pid_t pid;
	char ok = 0;
	int devnull;

	if (foreground) {
		if (pidfile != NULL && proc_pidfile_write(pidfile, err, errlen) == -1)
			return -1;
		return priv_drop(priv, err, errlen);
	}
	if (pipe2(pfd, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "cannot go to the background: pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid == -1) {
		snprintf(err, errlen, "cannot go to the background: fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid > 0) {
		/* The parent: exit 0 once the child says it runs, 1 when it cannot (it logs why). */
		close(pfd[1]);
		while (read(pfd[0], &ok, 1) == -1 && errno == EINTR)
			;
		_exit(ok == 1 ? 0 : 1);
	}
	close(pfd[0]);
	ev_loop_fork(loop);
	if (setsid() == -1 || chdir("/") == -1) {
		snprintf(err, errlen, "cannot go to the background: %s", strerror(errno));
		close(pfd[1]);
		return -1;
	}
	devnull = open("/dev/null", O_RDWR);
	if (devnull != -1) {
		(void)dup2(devnull, STDIN_FILENO);
		(void)dup2(devnull, STDOUT_FILENO);
		(void)dup2(devnull, STDERR_FILENO);
		if (devnull > STDERR_FILENO)
			close(devnull);
	}
	if (pidfile != NULL && proc_pidfile_write(pidfile, err, errlen) == -1) {
		close(pfd[1]);
		return -1;
	}
	if (priv_drop(priv, err, errlen) == -1) {
		close(pfd[1]);
		return -1;
	}
	ok = 1;
	if (write(pfd[1], &ok, 1) != 1) {
		/* The parent is gone: nobody waits for the word. */
	}
	close(pfd[1]);
	return 0;
}

/* Removes <pidfile> (NULL: none) when it still names this process. */
void proc_pidfile_remove(const char *pidfile)
{
	char line[32] = "";
	FILE *f;

	if (pidfile == NULL)
		return;
	f = fopen(pidfile, "r");
	if (f == NULL)
		return;
	if (fgets(line, sizeof(line), f) != NULL && atol(line) == (long)getpid())
		unlink(pidfile);
	fclose(f);
}
