/*
 * proc.c: the master's supervision of its workers: fork one into a slot,
 * read its acks, reap it when it dies and respawn it with a delay that
 * grows while it keeps dying right after start (crash-loop throttle).  A
 * worker that exits WORKER_EXIT_NEVER (bad credentials, no table) is
 * retried slowly.  A respawned worker receives, from the slot's queue,
 * every record its predecessor had not committed.
 */
#include <sys/epoll.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "reporter.h"

#define PROC_PIPE_SIZE		(1 << 20)
#define PROC_QUICK_DEATH_MS	10000	/* died sooner: counts as a fail */
#define PROC_DELAY_MIN_MS	100
#define PROC_DELAY_MAX_MS	30000
#define PROC_NEVER_DELAY_MS	30000

static void proc_child(struct slot *, int, int) __attribute__((noreturn));
static struct slot *proc_find(pid_t);
static void proc_exited(struct slot *, int);

/* In the child: keep stdio and the two pipe ends, close the rest. */
static void
proc_child(struct slot *s, int rfd, int afd)
{
	char name[32];
	int lo = rfd < afd ? rfd : afd, hi = rfd < afd ? afd : rfd;

	if (close_range(3, (unsigned int)lo - 1, 0) == -1 ||
	    close_range((unsigned int)lo + 1, (unsigned int)hi - 1, 0) == -1 ||
	    close_range((unsigned int)hi + 1, ~0u, 0) == -1)
		fatal("%s: close_range", __func__);
	snprintf(name, sizeof(name), "worker %d", s->id);
	log_procname(name);
	setproctitle("%s", name);
	worker_main(master->conf, s->id, rfd, afd);
}

void
proc_spawn(struct slot *s)
{
	int rp[2], ap[2];
	pid_t pid;

	if (pipe2(rp, O_CLOEXEC) == -1 || pipe2(ap, O_CLOEXEC) == -1)
		fatal("%s: pipe2", __func__);
	switch ((pid = fork())) {
	case -1:
		fatal("%s: fork", __func__);
	case 0:
		proc_child(s, rp[0], ap[1]);
	}
	close(rp[0]);
	close(ap[1]);
	s->pid = pid;
	s->rfd = rp[1];
	s->afd = ap[0];
	s->started = master_now_ms();
	s->respawn_at = 0;
	if (fcntl(s->rfd, F_SETPIPE_SZ, PROC_PIPE_SIZE) == -1)
		log_debug("%s: F_SETPIPE_SZ: %s", __func__, strerror(errno));
	if (fcntl(s->rfd, F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(s->afd, F_SETFL, O_NONBLOCK) == -1)
		fatal("%s: O_NONBLOCK", __func__);
	s->ev_pipe.type = EV_PIPE;
	s->ev_pipe.obj = s;
	s->ev_ack.type = EV_ACK;
	s->ev_ack.obj = s;
	master_watch(s->rfd, EPOLLOUT | EPOLLET, &s->ev_pipe);
	master_watch(s->afd, EPOLLIN, &s->ev_ack);
	queue_rewind(&s->q);
	log_info("worker %d started, pid %ld, %zu records to replay", s->id,
	    (long)pid, queue_waiting(&s->q));
}

void
proc_read_acks(struct slot *s)
{
	struct wmsg m[64];
	ssize_t n;
	size_t i;

	while ((n = read(s->afd, m, sizeof(m))) > 0) {
		if ((size_t)n % sizeof(m[0]) != 0)
			fatalx("%s: worker %d sent %zd bytes", __func__,
			    s->id, n);
		for (i = 0; i < (size_t)n / sizeof(m[0]); i++) {
			if (m[i].type != WMSG_ACK)
				continue;
			queue_ack(&s->q, m[i].seq);
			s->rows = m[i].rows;
		}
	}
	if (n == -1 && errno != EAGAIN && errno != EINTR)
		log_warn("%s: worker %d", __func__, s->id);
}

static struct slot *
proc_find(pid_t pid)
{
	int i;

	for (i = 0; i < master->nslots; i++)
		if (master->slots[i].pid == pid)
			return &master->slots[i];
	return NULL;
}

static void
proc_exited(struct slot *s, int status)
{
	int64_t now = master_now_ms(), delay = 0;
	pid_t pid = s->pid;
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;

	proc_read_acks(s);
	close(s->rfd);
	close(s->afd);
	s->pid = -1;
	if (WIFSIGNALED(status))
		log_warnx("worker %d (pid %ld) killed by signal %d (%s)",
		    s->id, (long)pid, WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	else if (code != WORKER_EXIT_OK)
		log_warnx("worker %d (pid %ld) exited with status %d%s",
		    s->id, (long)pid, code,
		    code == WORKER_EXIT_NEVER ? ": it cannot work with this "
		    "database; see its messages above" : "");
	else
		log_info("worker %d exited", s->id);
	if (master->quitting && queue_waiting(&s->q) == 0)
		return;
	if (code == WORKER_EXIT_NEVER)
		delay = PROC_NEVER_DELAY_MS;
	else if (now - s->started < PROC_QUICK_DEATH_MS) {
		delay = (int64_t)PROC_DELAY_MIN_MS << (s->fails < 10 ?
		    s->fails : 10);
		if (delay > PROC_DELAY_MAX_MS)
			delay = PROC_DELAY_MAX_MS;
		s->fails++;
	} else
		s->fails = 0;
	if (delay > 0)
		log_warnx("worker %d: respawning in %lld ms (%d quick "
		    "deaths in a row)", s->id, (long long)delay, s->fails);
	s->respawn_at = now + delay;
}

void
proc_reap(void)
{
	struct slot *s;
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((s = proc_find(pid)) == NULL) {
			log_warnx("%s: unknown child %ld", __func__,
			    (long)pid);
			continue;
		}
		proc_exited(s, status);
	}
}

void
proc_respawn_due(int64_t now)
{
	struct slot *s;
	int i;

	for (i = 0; i < master->nslots; i++) {
		s = &master->slots[i];
		if (s->pid == -1 && s->respawn_at != 0 && now >= s->respawn_at)
			proc_spawn(s);
	}
}

/* The earliest respawn due, in ms, or 0 when none is. */
int64_t
proc_next_respawn(void)
{
	int64_t t = 0;
	int i;

	for (i = 0; i < master->nslots; i++)
		if (master->slots[i].pid == -1 &&
		    master->slots[i].respawn_at != 0 &&
		    (t == 0 || master->slots[i].respawn_at < t))
			t = master->slots[i].respawn_at;
	return t;
}
