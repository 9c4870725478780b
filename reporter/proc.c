/*
 * proc.c: the master's supervision of its workers, by generation.
 *
 * proc_gen_new() builds a generation (ring, slots, queues) for a
 * configuration and forks its workers; proc_gen_close() marks it closing:
 * its pipes are closed once everything is written, its workers flush, ack
 * and exit, and the generation is freed when all of its records are
 * committed.  A worker that dies is reaped and respawned in its slot with
 * a delay that grows while it keeps dying right after start (crash-loop
 * throttle); one that exits WORKER_EXIT_NEVER (bad credentials, no table)
 * is retried slowly.  The respawned worker receives from the slot's queue
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
#define PROC_QUEUE_INIT		16384
#define PROC_QUICK_DEATH_MS	10000	/* died sooner: counts as a fail */
#define PROC_DELAY_MIN_MS	100
#define PROC_DELAY_MAX_MS	30000
#define PROC_NEVER_DELAY_MS	30000

static void proc_child(struct slot *, int, int, int)
    __attribute__((noreturn));
static void proc_close_range(unsigned int, unsigned int);
static struct slot *proc_find(pid_t);
static void proc_exited(struct slot *, int);
static int proc_gen_done(const struct gen *);
static void proc_gen_free(struct gen *);
static int proc_must_hold(const struct gen *);
static void proc_gen_abandon(struct gen *, const char *);
static void proc_gen_move(struct gen *);

static int proc_next_gen_id = 1;

struct gen *
proc_gen_new(struct config *conf)
{
	struct gen *g;
	int i;

	if ((g = calloc(1, sizeof(*g))) == NULL ||
	    (g->slots = calloc((size_t)conf->workers, sizeof(*g->slots))) ==
	    NULL)
		fatal("%s: calloc", __func__);
	g->id = proc_next_gen_id++;
	g->conf = conf;
	g->ring = ring_new(conf->workers);
	g->nslots = conf->workers;
	TAILQ_INSERT_TAIL(&master->gens, g, entry);
	for (i = 0; i < g->nslots; i++) {
		g->slots[i].id = i + 1;
		g->slots[i].gen = g;
		g->slots[i].pid = -1;
		if (queue_init(&g->slots[i].q, PROC_QUEUE_INIT) == -1)
			fatal("%s: queue_init", __func__);
		proc_spawn(&g->slots[i]);
	}
	return g;
}

/* deadline: when a reload's old generation must be gone; 0: none. */
void
proc_gen_close(struct gen *g, int64_t deadline)
{
	int i;

	g->closing = 1;
	g->deadline = deadline;
	/* a dead worker with nothing left to commit need not come back */
	for (i = 0; i < g->nslots; i++)
		if (g->slots[i].pid == -1 &&
		    queue_waiting(&g->slots[i].q) == 0)
			g->slots[i].respawn_at = 0;
	if (proc_gen_done(g))
		proc_gen_free(g);
}

/*
 * An old generation that cannot commit (its database settings were what
 * the reload fixed, or MySQL is down) must not hold the new one forever:
 * past its deadline, or at once when a worker of it can never work, it is
 * abandoned: its workers are killed and its uncommitted records move to
 * the current generation's queues.
 */
static void
proc_gen_abandon(struct gen *g, const char *why)
{
	int i;

	if (g->abandoned || g == master->gen)
		return;
	log_warnx("generation %d %s: killing its workers and moving its "
	    "uncommitted records to generation %d", g->id, why,
	    master->gen->id);
	g->abandoned = 1;
	for (i = 0; i < g->nslots; i++) {
		g->slots[i].respawn_at = 0;
		if (g->slots[i].pid != -1)
			kill(g->slots[i].pid, SIGKILL);
	}
	if (proc_gen_done(g))
		proc_gen_free(g);
}

void
proc_gen_check(int64_t now)
{
	struct gen *g, *next;

	int i;

	for (g = TAILQ_FIRST(&master->gens); g != NULL; g = next) {
		next = TAILQ_NEXT(g, entry);
		if (!g->closing || g->deadline == 0)
			continue;
		if (now >= g->deadline) {
			proc_gen_abandon(g, "did not commit within "
			    "drain_timeout");
			continue;
		}
		for (i = 0; i < g->nslots; i++)
			if (g->slots[i].pid == -1 && g->slots[i].never) {
				proc_gen_abandon(g, "cannot work with its "
				    "configuration");
				break;
			}
	}
}

/* Append an abandoned generation's uncommitted records to the current
 * one, marked as older so that they lose ties on ts. */
static void
proc_gen_move(struct gen *g)
{
	const struct record *r;
	struct record *n;
	struct queue *q;
	uint64_t seq, seq_keep, moved = 0;
	int i;

	for (i = 0; i < g->nslots; i++) {
		q = &g->slots[i].q;
		for (seq = q->acked; seq < q->tail; seq++, moved++) {
			r = &q->r[seq & (q->cap - 1)];
			n = queue_append(dispatch_queue(r->modid, r->cmdid));
			seq_keep = n->seq;
			*n = *r;
			n->seq = seq_keep;
			n->flags |= RECORD_OLDER;
		}
		q->acked = q->sent = q->tail;
	}
	log_info("generation %d: %llu uncommitted records moved to "
	    "generation %d", g->id, (unsigned long long)moved,
	    master->gen->id);
}

static int
proc_gen_done(const struct gen *g)
{
	int i;

	for (i = 0; i < g->nslots; i++)
		if (g->slots[i].pid != -1 || (!g->abandoned &&
		    queue_waiting(&g->slots[i].q) != 0))
			return 0;
	return 1;
}

static void
proc_gen_free(struct gen *g)
{
	int i;

	if (g->abandoned)
		proc_gen_move(g);
	else
		log_info("generation %d: every record committed, workers "
		    "gone", g->id);
	TAILQ_REMOVE(&master->gens, g, entry);
	if (g == master->gen)
		master->gen = NULL;	/* stopping: nothing routes to it */
	/* events of this batch may still name its slots: free it after */
	TAILQ_INSERT_TAIL(&master->dead_gens, g, entry);
	/* the oldest generation left may flush now */
	if ((g = TAILQ_FIRST(&master->gens)) != NULL)
		for (i = 0; i < g->nslots; i++)
			if (g->slots[i].pid != -1)
				kill(g->slots[i].pid, SIGUSR2);
}

/* After an event batch: free the generations that ended in it. */
void
proc_gen_gc(void)
{
	struct gen *g;
	int i;

	while ((g = TAILQ_FIRST(&master->dead_gens)) != NULL) {
		TAILQ_REMOVE(&master->dead_gens, g, entry);
		for (i = 0; i < g->nslots; i++)
			queue_free(&g->slots[i].q);
		free(g->slots);
		ring_free(g->ring);
		if (g->conf != master->conf)
			config_free(g->conf);
		free(g);
	}
}

/* A generation holds its flushes while an older one is alive. */
static int
proc_must_hold(const struct gen *g)
{
	return TAILQ_FIRST(&master->gens) != g;
}

/* close_range(2) refuses first > last: an empty range is fine here. */
static void
proc_close_range(unsigned int first, unsigned int last)
{
	if (first <= last && close_range(first, last, 0) == -1)
		fatal("%s: close_range %u-%u", __func__, first, last);
}

/* In the child: keep stdio and the two pipe ends, close the rest. */
static void
proc_child(struct slot *s, int rfd, int afd, int hold)
{
	char name[32];
	int lo = rfd < afd ? rfd : afd, hi = rfd < afd ? afd : rfd;

	if (master->pfh != NULL) {
		pidfile_close(master->pfh);
		master->pfh = NULL;
	}
	proc_close_range(3, (unsigned int)lo - 1);
	proc_close_range((unsigned int)lo + 1, (unsigned int)hi - 1);
	proc_close_range((unsigned int)hi + 1, ~0u);
	log_reopen();
	snprintf(name, sizeof(name), "worker %d", s->id);
	log_procname(name);
	setproctitle("%s", name);
	worker_main(s->gen->conf, s->id, rfd, afd, hold);
}

void
proc_spawn(struct slot *s)
{
	int rp[2], ap[2], hold = proc_must_hold(s->gen);
	pid_t pid;

	if (pipe2(rp, O_CLOEXEC) == -1 || pipe2(ap, O_CLOEXEC) == -1)
		fatal("%s: pipe2", __func__);
	switch ((pid = fork())) {
	case -1:
		fatal("%s: fork", __func__);
	case 0:
		proc_child(s, rp[0], ap[1], hold);
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
	master->stats.replayed[s->id] += queue_waiting(&s->q);
	log_info("worker %d of generation %d started, pid %ld, %zu records "
	    "to replay%s", s->id, s->gen->id, (long)pid,
	    queue_waiting(&s->q), hold ? ", holding its flushes until the "
	    "older generation is gone" : "");
}

struct slot *
proc_slot_next(struct slot *s)
{
	struct gen *g = s == NULL ? TAILQ_FIRST(&master->gens) : s->gen;
	int i = s == NULL ? 0 : (int)(s - g->slots) + 1;

	for (; g != NULL; g = TAILQ_NEXT(g, entry), i = 0)
		if (i < g->nslots)
			return &g->slots[i];
	return NULL;
}

/* Records not yet committed, over every slot. */
size_t
proc_waiting(void)
{
	struct slot *s;
	size_t n = 0;

	SLOT_FOREACH(s)
		n += queue_waiting(&s->q);
	return n;
}

static struct slot *
proc_find(pid_t pid)
{
	struct slot *s;

	SLOT_FOREACH(s)
		if (s->pid == pid)
			return s;
	return NULL;
}

static void
proc_exited(struct slot *s, int status)
{
	int64_t now = master_now_ms(), delay = 0;
	struct gen *g = s->gen;
	pid_t pid = s->pid;
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;

	channel_read(s);
	close(s->rfd);
	close(s->afd);
	s->pid = -1;
	wstats_add(&master->stats.dead[s->id], &s->last);
	memset(&s->last, 0, sizeof(s->last));
	if (WIFSIGNALED(status))
		master->stats.restarts_signal++;
	else if (code == WORKER_EXIT_NEVER)
		master->stats.restarts_never++;
	else if (code != WORKER_EXIT_OK)
		master->stats.restarts_exit++;
	s->rfd = s->afd = -1;
	if (WIFSIGNALED(status))
		log_warnx("worker %d (pid %ld) killed by signal %d (%s)",
		    s->id, (long)pid, WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	else if (code != WORKER_EXIT_OK)
		log_warnx("worker %d (pid %ld) exited with status %d%s",
		    s->id, (long)pid, code, code == WORKER_EXIT_NEVER ?
		    ": it can never work with this database as configured, "
		    "see its messages above; retrying slowly" : "");
	else
		log_info("worker %d (pid %ld) exited", s->id, (long)pid);
	s->never = code == WORKER_EXIT_NEVER;
	if (s->never && g->closing && g != master->gen && !g->abandoned) {
		proc_gen_abandon(g, "cannot work with its configuration");
		return;		/* g may be freed */
	}
	if (g->abandoned || (g->closing && queue_waiting(&s->q) == 0)) {
		if (proc_gen_done(g))
			proc_gen_free(g);
		return;
	}
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
	if (s->never)
		log_warnx("worker %d: respawning in %lld ms", s->id,
		    (long long)delay);
	else if (delay > 0)
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
		if ((s = proc_find(pid)) != NULL)
			proc_exited(s, status);
		else if (!upgrade_reaped(pid, status))
			log_warnx("%s: unknown child %ld", __func__,
			    (long)pid);
	}
}

void
proc_respawn_due(int64_t now)
{
	struct slot *s;

	SLOT_FOREACH(s)
		if (s->pid == -1 && s->respawn_at != 0 && now >= s->respawn_at)
			proc_spawn(s);
}

/* The earliest respawn due, in ms, or 0 when none is. */
int64_t
proc_next_respawn(void)
{
	struct slot *s;
	int64_t t = 0;

	SLOT_FOREACH(s)
		if (s->pid == -1 && s->respawn_at != 0 &&
		    (t == 0 || s->respawn_at < t))
			t = s->respawn_at;
	return t;
}

void
proc_kill_all(int sig)
{
	struct slot *s;

	SLOT_FOREACH(s)
		if (s->pid != -1)
			kill(s->pid, sig);
}
