/*
 * load: the load generator of lars-report -L.
 *
 * Each of -j threads drives its share of the conns non-blocking sockets
 * (connection c goes to thread c % threads) with poll(2), and makes its
 * share of -N and of -R; the table of expected rows is shared, each key
 * written by the one thread that owns its connection.  Keys come in
 * groups of -r results, one group per message.  Connection c owns the
 * groups g with g % conns == c, so each key travels over one connection, in
 * order; each pass of a connection over its groups is a round, and round k
 * carries ts_base + k, so the last message placed in a buffer for a key is
 * the row the server must end up with.  A message counts as sent once it is
 * in a buffer, and every buffer is written out before exit; a server that
 * stops reading just makes poll(2) wait.
 *
 * A message counts as sent once all of its bytes are written to the
 * socket, and only then does it enter the expected table (-o), so that
 * the table stays exact when the reporter closes a connection.  What the
 * load does then is -e: without it, a closed connection fails the run;
 * "once" behaves like the real agent (one reconnect at once, and if that
 * fails, never again), "always" retries every LOAD_RETRY_MS, "never"
 * gives the connection up.  A connection the reporter half-closed (end of
 * file) gets the rest of its buffer written first: the reporter still
 * reads until the agent closes.  Messages for a connection that is gone
 * are generated as before and dropped, like the agent's reports, and
 * counted as not sent.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "frame.h"

#define LOAD_BUFSIZE	(64 * 1024)
#define LOAD_CMDIDS	1000		/* cmdids per modid */
#define LOAD_CALLER	0x0A000001u	/* 10.0.0.1 */
#define LOAD_CALLERS	7
#define LOAD_IP		0xC0A80001u	/* 192.168.0.1: a negative int32 */
#define LOAD_PORT	8000
#define LOAD_PORTS	50
#define LOAD_RETRY_MS	100		/* -e always */

/* The newest values sent for one key: its expected row. */
struct load_key {
	uint32_t	 succ;
	uint32_t	 err;
	uint32_t	 ts;
	uint8_t		 overload;
	uint8_t		 sent;
};

/* A message in a connection's buffer, until its last byte is written. */
struct load_msg {
	size_t		 end;		/* offset past its last byte */
	int		 group;
	uint32_t	 round;
};

struct load_conn {
	int		 fd;		/* -1: closed */
	int		 id;
	uint8_t		*buf;
	size_t		 off;		/* written to the socket */
	size_t		 len;		/* placed in the buffer */
	struct load_msg	*msgs;		/* the messages of buf */
	size_t		 nmsgs, done, msgcap;
	int		 next;		/* group of the next message */
	uint32_t	 round;
	int		 eof;		/* the reporter closed: write the rest */
	int		 dead;		/* closed for good */
	int64_t		 retry_at;	/* ms: -e always, next connect */
	char		 peer[CLIENT_PEERLEN];
};

struct load {
	const struct load_conf	*conf;
	int			 tid, nthreads;	/* thread number, of */
	int			 nconns;	/* connections of this thread */
	long long		 messages;	/* its share of -N */
	double			 rate;		/* its share of -R */
	pthread_t		 thread;
	pthread_barrier_t	*ready;		/* all connected: start */
	struct load_conn	*conns;
	struct pollfd		*pfd;
	int			*pconn;		/* connection of each pfd */
	struct load_key		*keys;
	Lars__ReportStatusReq	 req;
	Lars__HostCallResult	*res;
	Lars__HostCallResult	**resp;
	size_t			 bufsize;
	int			 groups;
	int			 turn;		/* first connection to refill */
	int			 generating;	/* -N or -T not reached yet */
	long long		 made;		/* messages generated */
	long long		 sent;		/* messages written out */
	long long		 unsent;	/* dropped: no connection */
	long long		 reconnects, failed;
	long long		 rows;		/* keys sent at least once */
	struct timespec		 start, end;
};

static int32_t	 load_modid(const struct load *, int);
static int32_t	 load_cmdid(int);
static int32_t	 load_caller(int);
static int32_t	 load_ip(int);
static int32_t	 load_port(int);
static void	*load_calloc(size_t, size_t);
static void	 load_init(struct load *, const struct load_conf *, int, int,
		    struct load_key *);
static void	*load_thread(void *);
static int	 load_later(const struct timespec *, const struct timespec *);
static void	 load_connect(struct load *);
static double	 load_elapsed(const struct load *);
static long long load_quota(struct load *);
static void	 load_prepare(struct load *, int, uint32_t);
static void	 load_place(struct load *, struct load_conn *, size_t);
static void	 load_advance(struct load *, struct load_conn *);
static void	 load_delivered(struct load *, struct load_conn *);
static void	 load_fill(struct load *, struct load_conn *);
static void	 load_drop(struct load *, struct load_conn *);
static int	 load_timeout(const struct load *, int);
static void	 load_flush(struct load *, struct load_conn *);
static void	 load_input(struct load *, struct load_conn *);
static void	 load_lost(struct load *, struct load_conn *, const char *);
static void	 load_ended(struct load *, struct load_conn *);
static void	 load_reconnect(struct load *, struct load_conn *);
static int64_t	 load_now_ms(void);
static int	 load_step(struct load *);
static int	 load_idle(const struct load *);
static void	 load_close(struct load *);
static void	 load_write(const struct load *, FILE *);
static void	 load_free(struct load *);

int
load_run(const struct load_conf *conf)
{
	struct load *l, sum;
	struct load_key *keys;
	FILE *out = NULL;
	pthread_barrier_t ready;
	int t, nt = conf->threads < conf->conns ? conf->threads : conf->conns;
	long long left = conf->messages;
	double secs;

	if (conf->out != NULL && (out = fopen(conf->out, "w")) == NULL)
		err(1, "%s", conf->out);
	l = load_calloc((size_t)nt, sizeof(*l));
	keys = NULL;
	pthread_barrier_init(&ready, NULL, (unsigned int)nt);
	for (t = 0; t < nt; t++) {
		load_init(&l[t], conf, t, nt, keys);
		keys = l[t].keys;
		l[t].ready = &ready;
		left -= l[t].messages;
	}
	l[0].messages += left;
	for (t = 0; t < nt; t++)
		if ((errno = pthread_create(&l[t].thread, NULL, load_thread,
		    &l[t])) != 0)
			err(1, "pthread_create");
	for (t = 0; t < nt; t++)
		pthread_join(l[t].thread, NULL);
	pthread_barrier_destroy(&ready);
	sum = l[0];	/* the shared table, the first start */
	for (t = 1; t < nt; t++) {
		sum.sent += l[t].sent;
		sum.unsent += l[t].unsent;
		sum.reconnects += l[t].reconnects;
		sum.failed += l[t].failed;
		sum.rows += l[t].rows;
		if (load_later(&l[t].end, &sum.end))
			sum.end = l[t].end;
	}
	secs = (double)(sum.end.tv_sec - l[0].start.tv_sec) +
	    (double)(sum.end.tv_nsec - l[0].start.tv_nsec) / 1e9;
	if (conf->out != NULL)
		load_write(&sum, out);
	printf("sent %lld messages, %lld records over %d connections in "
	    "%.3f s: %.0f records/s; expecting %lld rows\n", sum.sent,
	    sum.sent * conf->results, conf->conns, secs,
	    secs > 0 ? (double)(sum.sent * conf->results) / secs : 0.0,
	    sum.rows);
	if (conf->on_close != LOAD_CLOSE_FAIL)
		printf("could not send %lld messages, %lld records; "
		    "%lld reconnects, %lld failed\n", sum.unsent,
		    sum.unsent * conf->results, sum.reconnects, sum.failed);
	for (t = 0; t < nt; t++)
		load_free(&l[t]);
	free(keys);
	free(l);
	return 0;
}

/* One thread: connect, wait for the others, run, close. */
static void *
load_thread(void *arg)
{
	struct load *l = arg;

	load_connect(l);
	pthread_barrier_wait(l->ready);
	clock_gettime(CLOCK_MONOTONIC, &l->start);
	while (load_step(l))
		;
	load_close(l);
	clock_gettime(CLOCK_MONOTONIC, &l->end);
	return NULL;
}

static int
load_later(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec &&
	    a->tv_nsec > b->tv_nsec);
}

/* The key layout: group g and result j name a key. */
static int32_t
load_modid(const struct load *l, int g)
{
	return (int32_t)(l->conf->modid_base + g / LOAD_CMDIDS);
}

static int32_t
load_cmdid(int g)
{
	return g % LOAD_CMDIDS + 1;
}

static int32_t
load_caller(int g)
{
	return (int32_t)(LOAD_CALLER + (uint32_t)(g % LOAD_CALLERS));
}

static int32_t
load_ip(int j)
{
	return (int32_t)(LOAD_IP + (uint32_t)j);
}

static int32_t
load_port(int j)
{
	return LOAD_PORT + j % LOAD_PORTS;
}

static void *
load_calloc(size_t n, size_t size)
{
	void *p;

	if ((p = calloc(n, size)) == NULL)
		err(1, "calloc");
	return p;
}

/*
 * Everything but the sockets, for thread tid of nt; the one report is
 * reused for all its messages.  keys: the shared table, NULL for the first
 * thread, which makes it.
 */
static void
load_init(struct load *l, const struct load_conf *conf, int tid, int nt,
    struct load_key *keys)
{
	int j, r = conf->results;

	memset(l, 0, sizeof(*l));
	l->conf = conf;
	l->tid = tid;
	l->nthreads = nt;
	l->nconns = (conf->conns - tid + nt - 1) / nt;
	/* the shares: proportional to the connections (load_run() gives
	 * the first thread what the rounding leaves) */
	l->messages = conf->messages * l->nconns / conf->conns;
	l->rate = (double)conf->rate * l->nconns / conf->conns;
	l->groups = (conf->keys + r - 1) / r;
	if ((long long)conf->modid_base + (l->groups - 1) / LOAD_CMDIDS >
	    INT32_MAX)
		errx(1, "bad -m modid_base %d: modids of %d keys pass %d",
		    conf->modid_base, l->groups * r, INT32_MAX);
	l->keys = keys != NULL ? keys : load_calloc((size_t)l->groups *
	    (size_t)r, sizeof(*l->keys));
	l->res = load_calloc((size_t)r, sizeof(*l->res));
	l->resp = load_calloc((size_t)r, sizeof(*l->resp));
	for (j = 0; j < r; j++) {
		lars__host_call_result__init(&l->res[j]);
		l->res[j].ip = load_ip(j);
		l->res[j].port = load_port(j);
		l->resp[j] = &l->res[j];
	}
	lars__report_status_req__init(&l->req);
	l->req.n_results = (size_t)r;
	l->req.results = l->resp;
	l->bufsize = 2 * client_frame_bound((size_t)r);
	if (l->bufsize < LOAD_BUFSIZE)
		l->bufsize = LOAD_BUFSIZE;
	l->generating = 1;
}

/* Connect every connection before the clock starts, then go non-blocking. */
static void
load_connect(struct load *l)
{
	struct load_conn *c;
	int i, n = l->nconns;

	l->conns = load_calloc((size_t)n, sizeof(*l->conns));
	l->pfd = load_calloc((size_t)n, sizeof(*l->pfd));
	l->pconn = load_calloc((size_t)n, sizeof(*l->pconn));
	for (i = 0; i < n; i++) {
		c = &l->conns[i];
		c->id = l->tid + i * l->nthreads;
		c->next = c->id;
		c->buf = load_calloc(1, l->bufsize);
		c->fd = client_connect(l->conf->host, l->conf->port, c->peer,
		    sizeof(c->peer));
		if (fcntl(c->fd, F_SETFL, O_NONBLOCK) == -1)
			err(1, "fcntl %s", c->peer);
	}
}

static int64_t
load_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double
load_elapsed(const struct load *l)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - l->start.tv_sec) +
	    (double)(now.tv_nsec - l->start.tv_nsec) / 1e9;
}

/* How many messages may be made now; ends generating at -N or -T. */
static long long
load_quota(struct load *l)
{
	const struct load_conf *cf = l->conf;
	long long q = LLONG_MAX, allowed;
	double el;

	if (!l->generating)
		return 0;
	el = load_elapsed(l);
	if (cf->seconds > 0 && el >= cf->seconds) {
		l->generating = 0;
		return 0;
	}
	if (cf->seconds == 0 && (q = l->messages - l->made) <= 0) {
		l->generating = 0;
		return 0;
	}
	if (l->rate > 0) {
		allowed = (long long)(l->rate * el) + 1 - l->made;
		if (allowed < q)
			q = allowed;
	}
	return q > 0 ? q : 0;
}

/* Set the reused report to message (group, round). */
static void
load_prepare(struct load *l, int g, uint32_t k)
{
	uint32_t j;

	l->req.modid = load_modid(l, g);
	l->req.cmdid = load_cmdid(g);
	l->req.caller = load_caller(g);
	l->req.ts = l->conf->ts_base + k;
	for (j = 0; j < l->req.n_results; j++) {
		l->res[j].succ = k * 7 + j;
		l->res[j].err = (k + j) % 13;
		l->res[j].overload = (k + j) % 3 == 0;
	}
}

/* The next message of c is made: move c on to the one after. */
static void
load_advance(struct load *l, struct load_conn *c)
{
	if (++l->made >= l->messages && l->conf->seconds == 0)
		l->generating = 0;
	c->next += l->conf->conns;
	if (c->next >= l->groups) {
		c->next = c->id;
		c->round++;
	}
}

/* The prepared message ends at offset end of c's buffer. */
static void
load_place(struct load *l, struct load_conn *c, size_t end)
{
	struct load_msg *m;

	if (c->nmsgs == c->msgcap) {
		c->msgcap = c->msgcap == 0 ? 64 : c->msgcap * 2;
		if ((m = reallocarray(c->msgs, c->msgcap, sizeof(*m))) == NULL)
			err(1, "reallocarray");
		c->msgs = m;
	}
	m = &c->msgs[c->nmsgs++];
	m->end = end;
	m->group = c->next;
	m->round = c->round;
	load_advance(l, c);
}

/* Messages of c whose last byte is written enter the expected table. */
static void
load_delivered(struct load *l, struct load_conn *c)
{
	const struct load_msg *m;
	struct load_key *key;
	size_t j, r = l->req.n_results;

	for (; c->done < c->nmsgs && c->msgs[c->done].end <= c->off;
	    c->done++) {
		m = &c->msgs[c->done];
		load_prepare(l, m->group, m->round);
		key = &l->keys[(size_t)m->group * r];
		for (j = 0; j < r; j++) {
			if (!key[j].sent) {
				key[j].sent = 1;
				l->rows++;
			}
			key[j].succ = l->res[j].succ;
			key[j].err = l->res[j].err;
			key[j].overload = l->res[j].overload != 0;
			key[j].ts = l->req.ts;
		}
		l->sent++;
	}
}

/* Refill a drained buffer with as many whole frames as fit and may go. */
static void
load_fill(struct load *l, struct load_conn *c)
{
	long long quota;
	size_t n;

	c->off = c->len = 0;
	c->nmsgs = c->done = 0;
	if (c->id >= l->groups)
		return;
	for (quota = load_quota(l); quota > 0; quota--) {
		load_prepare(l, c->next, c->round);
		n = client_encode(c->buf + c->len, l->bufsize - c->len,
		    FRAME_MSGID_REPORT, &l->req);
		if (n == 0)
			break;
		c->len += n;
		load_place(l, c, c->len);
	}
}

/*
 * c has no connection: the messages it would carry now are dropped, as
 * the agent drops its reports; a buffer's worth at a time, paced by -R.
 */
static void
load_drop(struct load *l, struct load_conn *c)
{
	long long quota = load_quota(l);
	size_t n = l->bufsize / client_frame_bound(l->req.n_results);

	if (c->id >= l->groups)
		return;
	for (; quota > 0 && n > 0; quota--, n--) {
		load_advance(l, c);
		l->unsent++;
	}
}

/*
 * poll(2) waits for the sockets, unless a connection waits for the rate
 * limit or a reconnect: then until the next message may go or -T ends.
 */
static int
load_timeout(const struct load *l, int starved)
{
	const struct load_conf *cf = l->conf;
	double el, wait = -1;
	int64_t now = load_now_ms(), at;
	int i, ms = -1;

	if (starved && l->rate > 0 && l->generating) {
		el = load_elapsed(l);
		wait = (double)l->made / l->rate - el;
		if (cf->seconds > 0 && cf->seconds - el < wait)
			wait = cf->seconds - el;
		ms = wait <= 0 ? 0 : (int)ceil(wait * 1000);
	}
	for (i = 0; i < l->nconns; i++) {
		if ((at = l->conns[i].retry_at) == 0)
			continue;
		at = at <= now ? 0 : at - now;
		if (ms == -1 || at < ms)
			ms = (int)at;
	}
	return ms;
}

/*
 * The connection of c is gone (why): the messages of its buffer not yet
 * written are not sent, and -e says what comes next.
 */
static void
load_lost(struct load *l, struct load_conn *c, const char *why)
{
	if (l->conf->on_close == LOAD_CLOSE_FAIL)
		errx(1, "%s (connection %d): %s", c->peer, c->id, why);
	warnx("%s (connection %d): %s; %zu messages of its buffer not sent",
	    c->peer, c->id, why, c->nmsgs - c->done);
	l->unsent += (long long)(c->nmsgs - c->done);
	c->off = c->len = 0;
	c->nmsgs = c->done = 0;
	close(c->fd);
	c->fd = -1;
	c->eof = 0;
	load_reconnect(l, c);
}

/* The reporter's end of file reached c, and its buffer is written out. */
static void
load_ended(struct load *l, struct load_conn *c)
{
	if (shutdown(c->fd, SHUT_WR) == -1)
		warn("shutdown %s (connection %d)", c->peer, c->id);
	close(c->fd);
	c->fd = -1;
	c->eof = 0;
	warnx("%s (connection %d): closed by the reporter (end of file), "
	    "closed it too", c->peer, c->id);
	load_reconnect(l, c);
}

/* -e: once or always connect again at once; never: give up. */
static void
load_reconnect(struct load *l, struct load_conn *c)
{
	enum load_close mode = l->conf->on_close;

	c->retry_at = 0;
	if (mode == LOAD_CLOSE_NEVER) {
		c->dead = 1;
		return;
	}
	l->reconnects++;
	c->fd = client_try_connect(l->conf->host, l->conf->port, c->peer,
	    sizeof(c->peer));
	if (c->fd == -1) {
		l->failed++;
		warn("%s (connection %d): reconnect", c->peer, c->id);
		if (mode == LOAD_CLOSE_ONCE) {
			warnx("%s (connection %d): not trying again",
			    c->peer, c->id);
			c->dead = 1;
		} else
			c->retry_at = load_now_ms() + LOAD_RETRY_MS;
		return;
	}
	if (fcntl(c->fd, F_SETFL, O_NONBLOCK) == -1)
		err(1, "fcntl %s", c->peer);
	warnx("%s (connection %d): reconnected", c->peer, c->id);
}

/* Write what the socket takes; the rest stays for the next POLLOUT. */
static void
load_flush(struct load *l, struct load_conn *c)
{
	char why[128];
	ssize_t n;

	n = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		snprintf(why, sizeof(why), "write: %s", strerror(errno));
		load_lost(l, c, why);
		return;
	}
	c->off += (size_t)n;
	load_delivered(l, c);
	if (c->eof && c->off == c->len)
		load_ended(l, c);
}

/* The reporter never writes: input is its end of file, or an error. */
static void
load_input(struct load *l, struct load_conn *c)
{
	char buf[512], why[128];
	ssize_t n;

	while ((n = read(c->fd, buf, sizeof(buf))) > 0)
		;
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == -1) {
		snprintf(why, sizeof(why), "read: %s", strerror(errno));
		load_lost(l, c, why);
		return;
	}
	if (l->conf->on_close == LOAD_CLOSE_FAIL)
		errx(1, "%s (connection %d): closed by the reporter",
		    c->peer, c->id);
	c->eof = 1;
	if (c->off == c->len)
		load_ended(l, c);
}

/*
 * Refill drained buffers, starting after the connection refilled last so
 * that a rate limit serves all of them in turn, then write.  Returns 0
 * when all is made and written.
 */
static int
load_step(struct load *l)
{
	struct load_conn *c;
	int i, k, first, n = 0, starved = 0, timeout, conns = l->nconns;
	int64_t now = load_now_ms();

	for (i = 0, first = l->turn; i < conns; i++) {
		k = (first + i) % conns;
		c = &l->conns[k];
		if (c->fd == -1 && c->retry_at != 0 && now >= c->retry_at)
			load_reconnect(l, c);
		if (c->fd == -1) {
			load_drop(l, c);
			starved |= c->id < l->groups && l->rate > 0;
			continue;
		}
		if (c->off == c->len && !c->eof) {
			load_fill(l, c);
			if (c->len > 0)
				l->turn = (k + 1) % conns;
		}
		l->pfd[n].fd = c->fd;
		l->pfd[n].events = c->off < c->len ? POLLIN | POLLOUT : POLLIN;
		l->pfd[n].revents = 0;
		l->pconn[n++] = k;
		if (c->off == c->len)
			starved |= c->id < l->groups;
	}
	if (!l->generating && load_idle(l))
		return 0;
	timeout = load_timeout(l, starved);
	if (n == 0 && timeout == -1) {
		/* no rate to pace the drops by, and nothing will reconnect */
		warnx("every connection is gone for good; stopping");
		return 0;
	}
	if (poll(l->pfd, (nfds_t)n, timeout) == -1) {
		if (errno == EINTR)
			return 1;
		err(1, "poll");
	}
	for (i = 0; i < n; i++) {
		c = &l->conns[l->pconn[i]];
		if (l->pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
			load_input(l, c);
		if (c->fd != -1 && (l->pfd[i].revents & POLLOUT))
			load_flush(l, c);
	}
	return 1;
}

/* Nothing left to write on any connection. */
static int
load_idle(const struct load *l)
{
	int i;

	for (i = 0; i < l->nconns; i++)
		if (l->conns[i].fd != -1 && l->conns[i].off < l->conns[i].len)
			return 0;
	return 1;
}

/* All is written: a reset that came meanwhile still fails the run. */
static void
load_close(struct load *l)
{
	struct load_conn *c;
	socklen_t len;
	int i, e;

	for (i = 0; i < l->nconns; i++) {
		c = &l->conns[i];
		if (c->fd == -1)
			continue;
		len = sizeof(e);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1)
			err(1, "getsockopt %s", c->peer);
		errno = e;
		if (e != 0 || shutdown(c->fd, SHUT_WR) == -1) {
			if (l->conf->on_close == LOAD_CLOSE_FAIL)
				err(1, "shutdown %s (connection %d)",
				    c->peer, c->id);
			warn("shutdown %s (connection %d)", c->peer, c->id);
		}
		close(c->fd);
	}
}

/*
 * The expected table, as mariadb -N -B prints it.  Index order is already
 * (modid, cmdid, ip, port, caller) order: modid and cmdid grow with the
 * group, ip with the result (192.168.0.1 + j does not wrap for j < 2000),
 * and a group has one caller.  Counts above INT32_MAX are clamped, as the
 * server stores them.
 */
static void
load_write(const struct load *l, FILE *out)
{
	const struct load_key *k;
	size_t i, n, r = l->req.n_results;
	int g, j;

	n = (size_t)l->groups * r;
	for (i = 0; i < n; i++) {
		k = &l->keys[i];
		if (!k->sent)
			continue;
		g = (int)(i / r);
		j = (int)(i % r);
		fprintf(out, "%d\t%d\t%d\t%d\t%d\t%u\t%u\t%u\t%d\n",
		    load_modid(l, g), load_cmdid(g), load_ip(j), load_port(j),
		    load_caller(g), k->succ > INT32_MAX ? INT32_MAX : k->succ,
		    k->err > INT32_MAX ? INT32_MAX : k->err, k->ts,
		    k->overload);
	}
	if (ferror(out) || fclose(out) == EOF)
		err(1, "%s", l->conf->out);
}

static void
load_free(struct load *l)
{
	int i;

	for (i = 0; i < l->nconns; i++) {
		free(l->conns[i].buf);
		free(l->conns[i].msgs);
	}
	free(l->conns);
	free(l->pfd);
	free(l->pconn);
	free(l->res);
	free(l->resp);
}
