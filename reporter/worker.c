/*
 * worker.c: the loop of a worker process.  It reads records from its pipe,
 * keeps the newest per key (coalesce.c), and flushes them to MySQL
 * (store.c) every flush_interval_ms, or as soon as batch_rows keys are held
 * while waiting would not coalesce them (fewer than two records per key
 * read since the last flush: a load of new keys, bound by the database).
 * Hot keys, rewritten constantly, wait for the timer: flushing them early
 * would spend the database on rows that change again at once.  It reads
 * at most a buffer a millisecond (worker_nap()): a faster stream waits
 * in the master's queue, compacted there to the newest record per key.
 * After each commit it acks to the master the last sequence number it has
 * read, so the master can free those records.  A worker of a new
 * generation starts holding its flushes until the master says (SIGUSR2)
 * that the older generation is gone.  While MySQL is unreachable
 * it keeps reading and coalescing and retries with a capped, jittered
 * backoff.  Pipe EOF (the master closed it, or died) or SIGTERM: flush
 * what is held, ack, exit 0.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coalesce.h"
#include "log.h"
#include "reporter.h"
#include "store.h"

#define WORKER_READ_RECORDS	1365	/* 64 KiB of records per read */
#define WORKER_NAP_US		1000	/* after each read: worker_nap() */
#define WORKER_BACKOFF_MIN_MS	100
#define WORKER_BACKOFF_MAX_MS	10000

struct worker {
	const struct config	*conf;
	int			 slot;
	int			 rfd, afd;
	struct store		*st;
	struct coalesce		 held;
	uint64_t		 last_seq;	/* last seq read */
	int			 unacked;	/* records read since the ack */
	int64_t			 flush_at;	/* ms; 0: nothing held */
	int64_t			 retry_at;	/* ms; 0: not backing off */
	int			 backoff_ms;
	int			 eof;
	int			 draining;	/* title says so */
	pid_t			 master_pid;
	int64_t			 orphan_until;	/* ms; master gone: give up */
	struct wstats		 stats;
	size_t			 since_flush;	/* records read since */
	int			 lost;		/* the retry is for a connection */
	uint64_t		 told_since;	/* refusal state the master has */
	uint32_t		 told_code, told_host;
	_Alignas(struct record) unsigned char buf[WORKER_READ_RECORDS *
				    sizeof(struct record)];
	size_t			 buflen;
};

/* Reachable to the end, whichever exit(3) ends the worker. */
static struct worker *worker_self;

static volatile sig_atomic_t worker_quit;
static volatile sig_atomic_t worker_hold;
static sigset_t worker_waitmask;	/* signals ppoll(2) lets in */

static void worker_sigterm(int);
static void worker_sigusr2(int);
static int worker_can_flush(const struct worker *, int64_t);
static int worker_batch_full(const struct worker *);
static void worker_orphan(struct worker *, int64_t);
static void worker_nap(void);
static int64_t worker_now_ms(void);
static void worker_read(struct worker *);
static void worker_flush(struct worker *);
static void worker_tell(struct worker *, int);
static int worker_timeout(const struct worker *, int64_t);
static void worker_signals(void);

static void
worker_sigterm(int sig)
{
	(void)sig;
	worker_quit = 1;
}

static void
worker_sigusr2(int sig)
{
	(void)sig;
	worker_hold = 0;
}

/*
 * TERM and USR2 stay blocked (inherited from the master) except inside
 * ppoll(2), so a flag set by a handler is never missed and MySQL calls
 * are never interrupted.
 */
static void
worker_signals(void)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = worker_sigterm;
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = worker_sigusr2;
	sigaction(SIGUSR2, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	/* the master decides about INT and HUP; the pipe tells us */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);	/* meant for the master */
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_SETMASK, &set, NULL);
	sigemptyset(&worker_waitmask);
}

static int64_t
worker_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
worker_read(struct worker *w)
{
	const struct record *r;
	size_t i, n;
	ssize_t got;

	got = read(w->rfd, w->buf + w->buflen, sizeof(w->buf) - w->buflen);
	if (got == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		fatal("read from the master's pipe");
	}
	if (got == 0) {
		w->eof = 1;
		return;
	}
	w->buflen += (size_t)got;
	n = w->buflen / sizeof(struct record);
	for (i = 0; i < n; i++) {
		r = (const struct record *)(w->buf + i * sizeof(*r));
		coalesce_put(&w->held, r);
		w->last_seq = r->seq;
	}
	w->stats.records += n;
	w->since_flush += n;
	if (n > 0) {
		w->unacked = 1;
		if (w->flush_at == 0)
			w->flush_at = worker_now_ms() +
			    w->conf->flush_interval_ms;
	}
	w->buflen -= n * sizeof(struct record);
	memmove(w->buf, w->buf + n * sizeof(struct record), w->buflen);
}

/*
 * After a read that leaves no batch to flush at once, a pause of
 * WORKER_NAP_US: a worker takes at most one buffer (1365 records) a
 * millisecond of hot keys, 1.3 million records a second,
 * several times what MySQL commits as distinct rows.  Beyond that the
 * records wait in the master's queue, which compacts a backlog to one
 * record per key before it is written (master.c): under hot keys most
 * records then never cross the pipe nor wake the worker, and the master
 * spends less on a compaction than on the writes.  Signals still come in.
 */
static void
worker_nap(void)
{
	struct timespec ts = { 0, WORKER_NAP_US * 1000 };

	if (ppoll(NULL, 0, &ts, &worker_waitmask) == -1 && errno != EINTR)
		fatal("ppoll");
}

/* ack: everything read is committed; else the figures alone. */
static void
worker_tell(struct worker *w, int ack)
{
	if (ack) {
		(void)channel_ack(w->afd, w->last_seq, &w->stats);
		w->unacked = 0;
	} else
		(void)channel_stats(w->afd, &w->stats);
	w->told_since = w->stats.refusing_since;
	w->told_code = w->stats.refusing_code;
	w->told_host = w->stats.host;
}

static void
worker_flush(struct worker *w)
{
	static const uint64_t le_ms[WSTATS_BUCKETS] = { 1, 2, 5, 10, 25, 50,
	    100, 250, 500, 1000 };
	enum store_result r;
	struct timespec t0, t1;
	size_t n = w->held.n;
	uint64_t us;
	int jitter, i;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = store_flush(w->st, &w->held);
	if (r == STORE_NEVER)
		exit(WORKER_EXIT_NEVER);
	if (r == STORE_RETRY) {
		if (w->backoff_ms == 0)
			w->backoff_ms = WORKER_BACKOFF_MIN_MS;
		else if ((w->backoff_ms *= 2) > WORKER_BACKOFF_MAX_MS)
			w->backoff_ms = WORKER_BACKOFF_MAX_MS;
		jitter = (int)arc4random_uniform(
		    (uint32_t)w->backoff_ms / 2 + 1);
		w->retry_at = worker_now_ms() + w->backoff_ms / 2 + jitter;
		w->lost = !store_connected(w->st);
		/* the reason was logged once, by store.c */
		if (w->stats.refusing_since != w->told_since ||
		    w->stats.refusing_code != w->told_code ||
		    w->stats.host != w->told_host)
			worker_tell(w, 0);	/* for /metrics */
		if (w->backoff_ms == WORKER_BACKOFF_MIN_MS)
			log_warnx("%zu rows held; retrying in %d ms", n,
			    w->backoff_ms / 2 + jitter);
		else
			log_debug("%zu rows held; retrying in %d ms", n,
			    w->backoff_ms / 2 + jitter);
		return;
	}
	if (w->backoff_ms != 0)
		log_info(w->lost ? "MySQL is back: %zu rows stored" :
		    "stored %zu rows after retrying", n);
	w->backoff_ms = 0;
	w->retry_at = 0;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* signed: tv_nsec of t1 may be below t0's */
	us = (uint64_t)(((int64_t)t1.tv_sec - t0.tv_sec) * 1000000 +
	    ((int64_t)t1.tv_nsec - t0.tv_nsec) / 1000);
	w->stats.rows += n;
	w->stats.flushes++;
	w->stats.flush_us += us;
	for (i = 0; i < WSTATS_BUCKETS; i++)
		if (us <= le_ms[i] * 1000)
			w->stats.flush_le[i]++;
	log_debug("committed %zu rows through seq %llu", n,
	    (unsigned long long)w->last_seq);
	coalesce_clear(&w->held);
	w->since_flush = 0;
	w->flush_at = 0;
	worker_tell(w, 1);
}

static int
worker_batch_full(const struct worker *w)
{
	return w->held.n >= (size_t)w->conf->batch_rows &&
	    w->since_flush < 2 * w->held.n;
}

static int
worker_can_flush(const struct worker *w, int64_t now)
{
	return w->unacked && !worker_hold &&
	    (w->retry_at == 0 || now >= w->retry_at);
}

/*
 * The master died (the pipe's EOF came from its exit): nobody will release
 * a hold or respawn us.  Flush now, and give up after drain_timeout if
 * MySQL stays unreachable.
 */
static void
worker_orphan(struct worker *w, int64_t now)
{
	if (getppid() == w->master_pid)
		return;
	if (w->orphan_until == 0) {
		log_warnx("the master is gone: flushing %zu rows and exiting",
		    w->held.n);
		w->orphan_until = now + (int64_t)w->conf->drain_timeout * 1000;
		worker_hold = 0;
	} else if (now >= w->orphan_until && w->unacked) {
		log_warnx("the master is gone and MySQL did not take %zu rows "
		    "within drain_timeout (%d s): they are lost", w->held.n,
		    w->conf->drain_timeout);
		exit(WORKER_EXIT_FATAL);
	}
}

/* Milliseconds to sleep: until a flush or a retry is due; -1: forever. */
static int
worker_timeout(const struct worker *w, int64_t now)
{
	int64_t due;

	if (worker_hold && (w->eof || worker_quit))
		return 1000;	/* look whether the master still lives */
	if (!w->unacked || worker_hold)
		return -1;
	due = w->retry_at != 0 ? w->retry_at : w->flush_at;
	return due <= now ? 0 : (int)(due - now);
}

void
worker_main(const struct config *conf, int slot, int rfd, int afd, int hold)
{
	struct worker *w;
	struct pollfd pfd;
	struct timespec ts;
	int64_t now;
	int timeout, done;

	worker_hold = hold;
	worker_signals();
	if ((w = calloc(1, sizeof(*w))) == NULL)
		fatal("%s: calloc", __func__);
	worker_self = w;
	w->conf = conf;
	w->slot = slot;
	w->rfd = rfd;
	w->afd = afd;
	w->master_pid = getppid();
	if (coalesce_init(&w->held, (size_t)conf->batch_rows * 2) == -1)
		fatal("%s: coalesce_init", __func__);
	w->st = store_new(conf, &w->stats);
	if (store_connect(w->st) == STORE_NEVER)
		exit(WORKER_EXIT_NEVER);
	worker_tell(w, 0);	/* where it writes, or why not */

	for (;;) {
		now = worker_now_ms();
		done = w->eof || worker_quit;
		if (done && !w->draining) {
			w->draining = 1;
			setproctitle("worker %d (draining)", slot);
		}
		if (done)
			worker_orphan(w, now);
		if (worker_can_flush(w, now) && (done || now >= w->flush_at ||
		    worker_batch_full(w))) {
			worker_flush(w);
			continue;
		}
		if (done && !w->unacked)
			break;
		timeout = worker_timeout(w, now);
		ts.tv_sec = timeout / 1000;
		ts.tv_nsec = (long)(timeout % 1000) * 1000000;
		pfd.fd = rfd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (ppoll(&pfd, done ? 0 : 1, timeout < 0 ? NULL : &ts,
		    &worker_waitmask) == -1 && errno != EINTR)
			fatal("ppoll");
		if (pfd.revents & (POLLIN | POLLHUP)) {
			worker_read(w);
			/* a full batch of new keys goes at once */
			if (!w->eof && !worker_quit && !worker_batch_full(w))
				worker_nap();
		}
	}
	log_info("exiting: %llu records read, %llu rows stored",
	    (unsigned long long)w->stats.records,
	    (unsigned long long)w->stats.rows);
	store_free(w->st);
	coalesce_free(&w->held);
	free(w);
	worker_self = NULL;
	exit(WORKER_EXIT_OK);
}
