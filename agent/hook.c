/* agent/hook.c - the role-change hook; see hook.h. */
#include "agent/hook.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"

static const char *const hook_state_names[HOOK_ST_COUNT] = {
	[HOOK_ST_IDLE] = "IDLE",
	[HOOK_ST_RUNNING] = "RUNNING",
};

const char *hook_state_name(enum hook_state s)
{
	return (unsigned)s < HOOK_ST_COUNT ? hook_state_names[s] : "?";
}

static void hook_set_state(struct hook *h, enum hook_state to)
{
	log_debug("hook: %s -> %s", hook_state_name(h->state), hook_state_name(to));
	h->state = to;
}

static void hook_start_next(struct hook *h);

static void hook_on_child(struct ev_loop *loop, ev_child *w, int revents)
{
	struct hook *h = w->data;
	int st = w->rstatus;

	(void)revents;
	ev_child_stop(loop, w);
	ev_timer_stop(loop, &h->timer);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && !h->killed) {
		log_info("hook %s %s -> %s: exit 0 after %.0f ms", h->cur.path,
		         ns_role_name(h->cur.old_role), ns_role_name(h->cur.new_role),
		         (ev_now(loop) - h->started) * 1e3);
	} else {
		h->failures++;
		if (h->killed)
			log_error("hook %s %s -> %s: killed after hook_timeout %.3fs", h->cur.path,
			          ns_role_name(h->cur.old_role), ns_role_name(h->cur.new_role),
			          h->cur.timeout);
		else if (WIFEXITED(st))
			log_error("hook %s %s -> %s: exit %d after %.0f ms", h->cur.path,
			          ns_role_name(h->cur.old_role), ns_role_name(h->cur.new_role),
			          WEXITSTATUS(st), (ev_now(loop) - h->started) * 1e3);
		else
			log_error("hook %s %s -> %s: killed by signal %d", h->cur.path,
			          ns_role_name(h->cur.old_role), ns_role_name(h->cur.new_role),
			          WIFSIGNALED(st) ? WTERMSIG(st) : -1);
	}
	h->pid = 0;
	hook_set_state(h, HOOK_ST_IDLE);
	hook_start_next(h);
}

static void hook_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct hook *h = w->data;

	(void)loop;
	(void)revents;
	if (h->pid > 0) {
		h->killed = true;
		/* the whole group: a script's own children go too */
		(void)kill(-h->pid, SIGKILL);
		(void)kill(h->pid, SIGKILL);
	}
}

/* In the child, between fork and exec. The agent is single-threaded, so the child may use
 * libc freely; it never returns. */
static void hook_exec_child(const struct hook *h, const struct hook_job *j)
{
	char tl[16];
	char *argv[6];
	sigset_t all;
	int fd;

	(void)setpgid(0, 0);
	sigemptyset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);
	for (int s = 1; s < NSIG; s++)
		(void)signal(s, SIG_DFL);
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0 && fd != 0) {
		(void)dup2(fd, 0);
		(void)close(fd);
	}
	(void)dup2(2, 1);
	for (fd = 3; fd < 1024; fd++)
		(void)close(fd);
	snprintf(tl, sizeof(tl), "%u", j->tl);
	(void)setenv("HAPROLE_OLD_ROLE", ns_role_name(j->old_role), 1);
	(void)setenv("HAPROLE_NEW_ROLE", ns_role_name(j->new_role), 1);
	(void)setenv("HAPROLE_NODE", h->node, 1);
	(void)setenv("HAPROLE_CLUSTER", h->cluster, 1);
	(void)setenv("HAPROLE_TIMELINE", tl, 1);
	(void)setenv("HAPROLE_CONFIG", h->config, 1);
	argv[0] = (char *)j->path;
	argv[1] = (char *)ns_role_name(j->old_role);
	argv[2] = (char *)ns_role_name(j->new_role);
	argv[3] = (char *)h->node;
	argv[4] = tl;
	argv[5] = NULL;
	execv(j->path, argv);
	_exit(127);
}

/* Starts the oldest waiting job, if any and nothing runs. */
static void hook_start_next(struct hook *h)
{
	pid_t pid;

	while (h->state == HOOK_ST_IDLE && h->n_queued > 0) {
		h->cur = h->queue[h->head];
		h->head = (h->head + 1) % HOOK_QUEUE_MAX;
		h->n_queued--;
		h->killed = false;
		h->runs++;
		log_info("hook %s: %s -> %s, node %s, timeline %u", h->cur.path,
		         ns_role_name(h->cur.old_role), ns_role_name(h->cur.new_role), h->node,
		         h->cur.tl);
		pid = fork();
		if (pid == -1) {
			h->failures++;
			log_error("hook %s: fork: %s", h->cur.path, strerror(errno));
			continue;
		}
		if (pid == 0)
			hook_exec_child(h, &h->cur);
		h->pid = pid;
		h->started = ev_now(h->loop);
		ev_child_set(&h->child, pid, 0);
		ev_child_start(h->loop, &h->child);
		ev_timer_set(&h->timer, h->cur.timeout, 0);
		ev_timer_start(h->loop, &h->timer);
		hook_set_state(h, HOOK_ST_RUNNING);
	}
}

/* Sets up <h> (no process, no watcher started). <config> is the agent's config file. */
void hook_init(struct hook *h, struct ev_loop *loop, const char *node, const char *cluster,
               const char *config)
{
	memset(h, 0, sizeof(*h));
	h->loop = loop;
	snprintf(h->node, sizeof(h->node), "%s", node);
	snprintf(h->cluster, sizeof(h->cluster), "%s", cluster);
	snprintf(h->config, sizeof(h->config), "%s", config);
	ev_child_init(&h->child, hook_on_child, 0, 0);
	ev_timer_init(&h->timer, hook_on_timer, 0, 0);
	h->child.data = h;
	h->timer.data = h;
}

/* The agent's view of its PostgreSQL after an update: when the role PostgreSQL answered with
 * differs from the last one (hook.h), queues one run of <path> (none when "") bounded by
 * <timeout> seconds. */
void hook_role_seen(struct hook *h, const struct ns_pg *pg, const char *path, double timeout)
{
	struct hook_job *j;

	if (!pg->present || !pg->up || (pg->role != NS_ROLE_PRIMARY && pg->role != NS_ROLE_STANDBY))
		return;
	if (h->last_role == pg->role)
		return;
	if (h->last_role == NS_ROLE_UNKNOWN) {
		h->last_role = pg->role;
		return;
	}
	if (path[0] != '\0') {
		if (h->n_queued == HOOK_QUEUE_MAX) {
			h->dropped++;
			log_error("hook: %zu role changes already waiting; %s -> %s not reported",
			          h->n_queued, ns_role_name(h->last_role), ns_role_name(pg->role));
		} else {
			j = &h->queue[(h->head + h->n_queued) % HOOK_QUEUE_MAX];
			j->old_role = h->last_role;
			j->new_role = pg->role;
			j->tl = pg->tl;
			snprintf(j->path, sizeof(j->path), "%s", path);
			j->timeout = timeout;
			h->n_queued++;
		}
	}
	h->last_role = pg->role;
	hook_start_next(h);
}

/* Stops the watchers; a hook still running is left to finish on its own (its work, a
 * scheduler started, is not the agent's to cut) and reaped by init. Waiting jobs are dropped. */
void hook_stop(struct hook *h)
{
	if (h->loop == NULL)
		return;
	ev_child_stop(h->loop, &h->child);
	ev_timer_stop(h->loop, &h->timer);
	if (h->n_queued > 0)
		log_warning("hook: stopping with %zu role changes not reported", h->n_queued);
	h->n_queued = 0;
	h->pid = 0;
	h->state = HOOK_ST_IDLE;
}
