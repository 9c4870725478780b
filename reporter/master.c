/*
 * master.c: the master process's event loop: one epoll set for the
 * listening socket, the agents' connections, the workers' pipes and a
 * signalfd.  After each batch of events it writes the slots' queues into
 * the worker pipes, applies backpressure (stops reading agents while a
 * slot holds more than queue_max records) and runs its timers.
 *
 * SIGTERM/SIGINT: close the listener after accepting what the kernel
 * queued, half-close every connection (shutdown(SHUT_WR): the agent sees
 * end of file and reconnects) and read each until the agent closes its
 * side, for close_timeout at most; then write it all to the workers and
 * close their pipes; each worker flushes, acks and exits, and the master
 * exits 0 once every record is committed, within drain_timeout.
 * SIGUSR2 is upgrade.c's; the service manager hears of readiness,
 * reloads and the stop through master_notify() (sd_notify(3)).
 */
#include <sys/epoll.h>
#include <sys/signalfd.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libutil.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "reporter.h"

#define MASTER_EVENTS		256
#define MASTER_RBUF		(256 * 1024)	/* one read, for every conn */
#define MASTER_COMPACT_MIN	8192	/* records: a first compaction */
#define MASTER_SWEEP_MS		1000

struct master *master;

static void master_signals(void);
static void master_signal(void);
static void master_event(struct evsrc *, uint32_t);
static void master_flush_queues(void);
static void master_backpressure(void);
static void master_quit(void);
static void master_quit_step(int64_t);
static void master_drain_timeout(void);
static void master_atexit(void);
static int master_timeout(int64_t);
static void master_clock(void);

int64_t
master_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The receive time of this event batch: once per batch, not per read
 * or frame. */
static void
master_clock(void)
{
	master->now_s = (uint32_t)time(NULL);
	master->now_read_ms = master_now_ms();
}

void
master_watch(int fd, uint32_t events, struct evsrc *ev)
{
	struct epoll_event e = { .events = events, .data.ptr = ev };

	if (epoll_ctl(master->epfd, EPOLL_CTL_ADD, fd, &e) == -1)
		fatal("%s: epoll_ctl add", __func__);
}

void
master_rewatch(int fd, uint32_t events, struct evsrc *ev)
{
	struct epoll_event e = { .events = events, .data.ptr = ev };

	if (epoll_ctl(master->epfd, EPOLL_CTL_MOD, fd, &e) == -1)
		fatal("%s: epoll_ctl mod", __func__);
}

/* Signals arrive through a signalfd in the loop; handlers never run. */
static void
master_signals(void)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);	/* workers inherit it blocked */
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		fatal("%s: sigprocmask", __func__);
	master->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (master->sigfd == -1)
		fatal("%s: signalfd", __func__);
	master->ev_sig.type = EV_SIGNAL;
	master_watch(master->sigfd, EPOLLIN, &master->ev_sig);
}

static void
master_signal(void)
{
	struct signalfd_siginfo si;

	while (read(master->sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			proc_reap();
			break;
		case SIGTERM:
		case SIGINT:
			if (!master->quitting) {
				log_info("%s from pid %u: stopping",
				    strsignal((int)si.ssi_signo), si.ssi_pid);
				upgrade_abort("stopping");
				master_quit();
			}
			break;
		case SIGHUP:
			if (upgrade_busy())
				log_warnx("SIGHUP from pid %u: ignored while "
				    "upgrading", si.ssi_pid);
			else if (!master->quitting)
				reload();
			break;
		case SIGUSR2:
			if (!master->quitting)
				upgrade_start((pid_t)si.ssi_pid);
			break;
		case SIGUSR1:
			metrics_log();
			break;
		}
	}
}

static void
master_event(struct evsrc *ev, uint32_t events)
{
	struct slot *s;

	switch (ev->type) {
	case EV_LISTEN:
		listener_accept();
		break;
	case EV_CONN:
		if (((struct conn *)ev->obj)->fd != -1)
			(void)conn_read(ev->obj);
		break;
	case EV_PIPE:
		break;		/* writable again: master_flush_queues() */
	case EV_ACK:
		s = ev->obj;
		if (s->pid != -1)
			channel_read(s);
		break;
	case EV_SIGNAL:
		master_signal();
		break;
	case EV_METRICS_LISTEN:
		metrics_accept();
		break;
	case EV_METRICS:
		metrics_event(ev, events);
		break;
	case EV_UPGRADE:
		upgrade_event();
		break;
	}
	(void)events;
}

/* Write every slot's queue into its pipe; close a closing slot's pipe
 * once all is written, so that its worker flushes, acks and exits. */
static void
master_flush_queues(void)
{
	struct slot *s;

	SLOT_FOREACH(s) {
		if (s->pid == -1 || s->rfd == -1)
			continue;
		if (queue_write(&s->q, s->rfd) == -1) {
			if (errno != EPIPE)
				log_warn("write to worker %d", s->id);
			continue;	/* reaped soon; the queue waits */
		}
		if (s->gen->closing && queue_written(&s->q)) {
			close(s->rfd);
			s->rfd = -1;
		}
	}
}

/*
 * A slot whose worker falls behind (or cannot commit) is compacted to one
 * record per key each time its queue doubles what the last compaction
 * left, from MASTER_COMPACT_MIN records up to queue_max: memory follows
 * the distinct keys, not the backlog.  When compaction at queue_max still
 * leaves 3/4 of it (that many distinct keys), stop reading agents until
 * every slot is under half of it: TCP backpressure instead of loss.
 */
static void
master_backpressure(void)
{
	const size_t max = (size_t)master->conf->queue_max;
	const size_t least = max < MASTER_COMPACT_MIN ? max : MASTER_COMPACT_MIN;
	struct slot *s;
	size_t most = 0, before, left;
	int full = 0;

	SLOT_FOREACH(s) {
		if (s->compact_at < least || queue_waiting(&s->q) == 0)
			s->compact_at = least;
		if (queue_waiting(&s->q) >= s->compact_at && !master->paused) {
			before = queue_waiting(&s->q);
			queue_compact(&s->q);
			left = queue_waiting(&s->q);
			master->stats.compacted += before - left;
			/* at most one info line in 10 s: it can be often */
			if (master_now_ms() >= master->compact_quiet_until) {
				log_info("worker %d: %zu records wait; kept the "
				    "newest per key: %zu", s->id, before, left);
				master->compact_quiet_until =
				    master_now_ms() + 10000;
			} else
				log_debug("worker %d: %zu records wait; kept "
				    "the newest per key: %zu", s->id, before,
				    left);
			s->compact_at = left * 2 > max ? max :
			    left * 2 < least ? least : left * 2;
			full |= left >= max / 4 * 3;
		}
		if (queue_waiting(&s->q) > most)
			most = queue_waiting(&s->q);
	}
	/* said once per episode: a drain may pause and resume often */
	if (!master->paused && full) {
		if (master_now_ms() >= master->pause_quiet_until)
			log_warnx("%zu records of distinct keys wait for a "
			    "worker (queue_max %zu): not reading agents until "
			    "MySQL catches up", most, max);
		master->pauses++;
		conn_pause_all(1);
	} else if (master->paused && most < max / 2) {
		if (master_now_ms() >= master->pause_quiet_until)
			log_info("reading agents again (%zu records waiting, "
			    "%llu pauses)", most,
			    (unsigned long long)master->pauses);
		master->pause_quiet_until = master_now_ms() + 10000;
		conn_pause_all(0);
	}
}

static void
master_quit(void)
{
	struct conn *c, *next;
	int64_t now = master_now_ms();

	master->quitting = 1;
	master->quit_deadline = now +
	    (int64_t)master->conf->drain_timeout * 1000;
	master->close_deadline = now +
	    (int64_t)master->conf->close_timeout * 1000;
	master_notify("STOPPING=1");
	listener_stop();
	if (master->paused)
		conn_pause_all(0);	/* read them to their end of file */
	for (c = TAILQ_FIRST(&master->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		conn_half_close(c);
	}
	if (master->nconns > 0)
		log_info("half-closed %d agent connections; reading them "
		    "until they close (close_timeout %d s)", master->nconns,
		    master->conf->close_timeout);
	setproctitle("master (stopping)");
}

/*
 * Stopping: once every agent closed its side (or close_timeout passed),
 * close the workers' pipes: they flush, ack and exit.
 */
static void
master_quit_step(int64_t now)
{
	struct conn *c;
	struct gen *g, *next;

	if (master->gens_closed)
		return;
	if (master->nconns > 0 && now < master->close_deadline)
		return;
	if (master->nconns > 0)
		log_warnx("%d agent connections still open after "
		    "close_timeout (%d s): closing them", master->nconns,
		    master->conf->close_timeout);
	while ((c = TAILQ_FIRST(&master->conns)) != NULL)
		conn_close(c, NULL);
	for (g = TAILQ_FIRST(&master->gens); g != NULL; g = next) {
		next = TAILQ_NEXT(g, entry);
		proc_gen_close(g, 0);	/* drain_timeout bounds the stop */
	}
	master->gens_closed = 1;
}

/* Stopping took longer than drain_timeout: say what is lost, go. */
static void
master_drain_timeout(void)
{
	log_warnx("drain_timeout (%d s) expired: %zu records not committed "
	    "to MySQL are lost; killing the workers",
	    master->conf->drain_timeout, proc_waiting());
	proc_kill_all(SIGKILL);
	master_exit(1);
}

/* sd_notify(3): a no-op unless a service manager asked (NOTIFY_SOCKET). */
void
master_notify(const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if ((r = sd_notify(0, msg)) < 0)
		log_warnx("%s: sd_notify \"%s\": %s", __func__, msg,
		    strerror(-r));
}

void
master_exit(int code)
{
	log_info("exiting with status %d", code);
	exit(code);
}

/* Whatever way the master exits, fatal() included, the pidfile goes. */
static void
master_atexit(void)
{
	if (master != NULL && master->pfh != NULL &&
	    getpid() == master->pid) {
		pidfile_remove(master->pfh);
		master->pfh = NULL;
	}
	if (master != NULL && getpid() == master->pid)
		upgrade_atexit();
}

static int
master_timeout(int64_t now)
{
	int64_t next = now + MASTER_SWEEP_MS, r = proc_next_respawn();

	if (r != 0 && r < next)
		next = r;
	return next <= now ? 0 : (int)(next - now);
}

/*
 * Everything that can fail on a bad setting happens here, before the
 * daemon detaches, so the operator who starts it sees the error.
 */
void
master_init(struct config *conf, struct pidfh *pfh, int verbose)
{
	if ((master = calloc(1, sizeof(*master))) == NULL)
		fatal("%s: calloc", __func__);
	master->conf = conf;
	master->pfh = pfh;
	master->daemonized = pfh != NULL;
	master->verbose = verbose;
	master->pid = getpid();
	atexit(master_atexit);
	TAILQ_INIT(&master->conns);
	TAILQ_INIT(&master->dead_conns);
	TAILQ_INIT(&master->gens);
	TAILQ_INIT(&master->dead_gens);
	master->rbufsz = MASTER_RBUF;
	if ((master->rbuf = malloc(master->rbufsz)) == NULL)
		fatal("%s: malloc", __func__);
	if ((master->lfd = listener_take(conf, upgrade_listen_fd(),
	    &master->lfd_held)) == -1)
		fatalx("cannot listen on %s port %d", conf->listen_ip,
		    conf->listen_port);
	master->mfd = -1;
	if (conf->metrics_listen[0] != '\0' &&
	    (master->mfd = metrics_open(conf)) == -1)
		fatalx("cannot listen on metrics_listen %s",
		    conf->metrics_listen);
}

/* ready: write a byte there once the workers exist (daemon mode). */
void
master_run(int ready)
{
	struct epoll_event ev[MASTER_EVENTS];
	struct config *conf = master->conf;
	int64_t now, sweep = 0;
	char name[80];
	int i, n;

	/* epoll and signalfd only now: they belong to the process that
	 * made them, and daemon mode forked since master_init() */
	master->pid = getpid();
	if ((master->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("%s: epoll_create1", __func__);
	master_signals();
	master->ev_listen.type = EV_LISTEN;
	master_watch(master->lfd, EPOLLIN, &master->ev_listen);
	master->ev_metrics.type = EV_METRICS_LISTEN;
	if (master->mfd != -1)
		master_watch(master->mfd, EPOLLIN, &master->ev_metrics);
	upgrade_adopt();
	master->gen = proc_gen_new(conf);
	listener_name(master->lfd, name, sizeof(name));
	log_info("listening on %s%s, %d workers", name, master->lfd_held ?
	    " (a socket the parent holds)" : "", conf->workers);
	upgrade_ready();
	if (ready != -1) {
		if (write(ready, "", 1) != 1)
			log_warn("%s: tell the starting process", __func__);
		close(ready);
	}
	master_notify("READY=1\nSTATUS=%d workers", conf->workers);

	master_clock();
	for (;;) {
		now = master_now_ms();
		n = epoll_wait(master->epfd, ev, MASTER_EVENTS,
		    master_timeout(now));
		if (n == -1 && errno != EINTR)
			fatal("epoll_wait");
		master_clock();
		for (i = 0; i < n; i++)
			master_event(ev[i].data.ptr, ev[i].events);
		conn_gc();
		metrics_gc();
		proc_gen_gc();
		master_flush_queues();
		if (!master->quitting && !upgrade_busy())
			master_backpressure();
		now = master_now_ms();
		proc_respawn_due(now);
		if (now - sweep >= MASTER_SWEEP_MS) {
			conn_sweep(now);
			metrics_sweep(now);
			if (!master->quitting)
				proc_gen_check(now);
			sweep = now;
		}
		upgrade_step(now);
		if (master->quitting)
			master_quit_step(now);
		if (master->quitting && TAILQ_EMPTY(&master->gens)) {
			log_info("all records committed");
			master_exit(0);
		}
		if (master->quitting && now > master->quit_deadline)
			master_drain_timeout();
	}
}
