/*
 * load: the load generator of lars-report -L.
 *
 * One thread drives conns non-blocking sockets with poll(2).  Keys come in
 * groups of -r results, one group per message.  Connection c owns the
 * groups g with g % conns == c, so each key travels over one connection, in
 * order; each pass of a connection over its groups is a round, and round k
 * carries ts_base + k, so the last message placed in a buffer for a key is
 * the row the server must end up with.  A message counts as sent once it is
 * in a buffer, and every buffer is written out before exit; a server that
 * stops reading just makes poll(2) wait.  The expected table (-o) is kept
 * per key as messages are placed.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
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

/* The newest values sent for one key: its expected row. */
struct load_key {
	uint32_t	 succ;
	uint32_t	 err;
	uint32_t	 ts;
	uint8_t		 overload;
	uint8_t		 sent;
};

struct load_conn {
	int		 fd;
	int		 id;
	uint8_t		*buf;
	size_t		 off;		/* written to the socket */
	size_t		 len;		/* placed in the buffer */
	int		 next;		/* group of the next message */
	uint32_t	 round;
	char		 peer[CLIENT_PEERLEN];
};

struct load {
	const struct load_conf	*conf;
	struct load_conn	*conns;
	struct pollfd		*pfd;
	int			*pconn;		/* connection of each pfd */
	struct load_key		*keys;
	FILE			*out;
	Lars__ReportStatusReq	 req;
	Lars__HostCallResult	*res;
	Lars__HostCallResult	**resp;
	size_t			 bufsize;
	int			 groups;
	int			 turn;		/* first connection to refill */
	int			 generating;	/* -N or -T not reached yet */
	long long		 sent;		/* messages placed in buffers */
	long long		 rows;		/* keys sent at least once */
	struct timespec		 start;
};

static int32_t	 load_modid(const struct load *, int);
static int32_t	 load_cmdid(int);
static int32_t	 load_caller(int);
static int32_t	 load_ip(int);
static int32_t	 load_port(int);
static void	*load_calloc(size_t, size_t);
static void	 load_init(struct load *, const struct load_conf *);
static void	 load_connect(struct load *);
static double	 load_elapsed(const struct load *);
static long long load_quota(struct load *);
static void	 load_prepare(struct load *, const struct load_conn *);
static void	 load_commit(struct load *, struct load_conn *);
static void	 load_fill(struct load *, struct load_conn *);
static int	 load_timeout(const struct load *, int);
static void	 load_flush(struct load_conn *);
static int	 load_step(struct load *);
static void	 load_close(struct load *);
static void	 load_write(struct load *);
static void	 load_free(struct load *);

int
load_run(const struct load_conf *conf)
{
	struct load l;
	double secs;

	load_init(&l, conf);
	load_connect(&l);
	clock_gettime(CLOCK_MONOTONIC, &l.start);
	while (load_step(&l))
		;
	load_close(&l);
	secs = load_elapsed(&l);
	if (l.out != NULL)
		load_write(&l);
	printf("sent %lld messages, %lld records over %d connections in "
	    "%.3f s: %.0f records/s; expecting %lld rows\n", l.sent,
	    l.sent * conf->results, conf->conns, secs,
	    secs > 0 ? (double)(l.sent * conf->results) / secs : 0.0, l.rows);
	load_free(&l);
	return 0;
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

/* Everything but the sockets; the one report is reused for all messages. */
static void
load_init(struct load *l, const struct load_conf *conf)
{
	int j, r = conf->results;

	memset(l, 0, sizeof(*l));
	l->conf = conf;
	l->groups = (conf->keys + r - 1) / r;
	if ((long long)conf->modid_base + (l->groups - 1) / LOAD_CMDIDS >
	    INT32_MAX)
		errx(1, "bad -m modid_base %d: modids of %d keys pass %d",
		    conf->modid_base, l->groups * r, INT32_MAX);
	if (conf->out != NULL && (l->out = fopen(conf->out, "w")) == NULL)
		err(1, "%s", conf->out);
	l->keys = load_calloc((size_t)l->groups * (size_t)r,
	    sizeof(*l->keys));
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
	int i, n = l->conf->conns;

	l->conns = load_calloc((size_t)n, sizeof(*l->conns));
	l->pfd = load_calloc((size_t)n, sizeof(*l->pfd));
	l->pconn = load_calloc((size_t)n, sizeof(*l->pconn));
	for (i = 0; i < n; i++) {
		c = &l->conns[i];
		c->id = i;
		c->next = i;
		c->buf = load_calloc(1, l->bufsize);
		c->fd = client_connect(l->conf->host, l->conf->port, c->peer,
		    sizeof(c->peer));
		if (fcntl(c->fd, F_SETFL, O_NONBLOCK) == -1)
			err(1, "fcntl %s", c->peer);
	}
}

static double
load_elapsed(const struct load *l)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - l->start.tv_sec) +
	    (double)(now.tv_nsec - l->start.tv_nsec) / 1e9;
}

/* How many messages may be placed now; ends generating at -N or -T. */
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
	if (cf->seconds == 0 && (q = cf->messages - l->sent) <= 0) {
		l->generating = 0;
		return 0;
	}
	if (cf->rate > 0) {
		allowed = (long long)((double)cf->rate * el) + 1 - l->sent;
		if (allowed < q)
			q = allowed;
	}
	return q > 0 ? q : 0;
}

/* Set the reused report to the next message of c. */
static void
load_prepare(struct load *l, const struct load_conn *c)
{
	uint32_t k = c->round, j;
	int g = c->next;

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

/* The prepared message is in c's buffer: remember it, move c on. */
static void
load_commit(struct load *l, struct load_conn *c)
{
	struct load_key *key;
	size_t j, r = l->req.n_results;

	key = &l->keys[(size_t)c->next * r];
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
	if (++l->sent >= l->conf->messages && l->conf->seconds == 0)
		l->generating = 0;
	c->next += l->conf->conns;
	if (c->next >= l->groups) {
		c->next = c->id;
		c->round++;
	}
}

/* Refill a drained buffer with as many whole frames as fit and may go. */
static void
load_fill(struct load *l, struct load_conn *c)
{
	long long quota;
	size_t n;

	c->off = c->len = 0;
	if (c->id >= l->groups)
		return;
	for (quota = load_quota(l); quota > 0; quota--) {
		load_prepare(l, c);
		n = client_encode(c->buf + c->len, l->bufsize - c->len,
		    FRAME_MSGID_REPORT, &l->req);
		if (n == 0)
			break;
		c->len += n;
		load_commit(l, c);
	}
}

/*
 * poll(2) waits for writable sockets only, unless a drained connection
 * waits for the rate limit: then until the next message may go or -T ends.
 */
static int
load_timeout(const struct load *l, int starved)
{
	const struct load_conf *cf = l->conf;
	double el, wait;

	if (!starved || cf->rate == 0 || !l->generating)
		return -1;
	el = load_elapsed(l);
	wait = (double)l->sent / (double)cf->rate - el;
	if (cf->seconds > 0 && cf->seconds - el < wait)
		wait = cf->seconds - el;
	if (wait <= 0)
		return 0;
	return (int)ceil(wait * 1000);
}

/* Write what the socket takes; the rest stays for the next POLLOUT. */
static void
load_flush(struct load_conn *c)
{
	ssize_t n;

	n = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		err(1, "write to %s (connection %d)", c->peer, c->id);
	}
	c->off += (size_t)n;
}

/*
 * Refill drained buffers, starting after the connection refilled last so
 * that a rate limit serves all of them in turn, then write.  Returns 0
 * when all is placed and written.
 */
static int
load_step(struct load *l)
{
	struct load_conn *c;
	int i, first, n = 0, starved = 0, timeout, conns = l->conf->conns;

	for (i = 0, first = l->turn; i < conns; i++) {
		c = &l->conns[(first + i) % conns];
		if (c->off == c->len) {
			load_fill(l, c);
			if (c->len > 0)
				l->turn = (c->id + 1) % conns;
		}
		if (c->off == c->len) {
			starved |= c->id < l->groups;
			continue;
		}
		l->pfd[n].fd = c->fd;
		l->pfd[n].events = POLLOUT;
		l->pfd[n].revents = 0;
		l->pconn[n++] = c->id;
	}
	if (n == 0 && !l->generating)
		return 0;
	timeout = load_timeout(l, starved);
	if (n == 0 && timeout == -1)
		errx(1, "%s: nothing to wait for", __func__);
	if (poll(l->pfd, (nfds_t)n, timeout) == -1) {
		if (errno == EINTR)
			return 1;
		err(1, "poll");
	}
	for (i = 0; i < n; i++)
		if (l->pfd[i].revents != 0)
			load_flush(&l->conns[l->pconn[i]]);
	return 1;
}

/* All is written: a reset that came meanwhile still fails the run. */
static void
load_close(struct load *l)
{
	struct load_conn *c;
	socklen_t len;
	int i, e;

	for (i = 0; i < l->conf->conns; i++) {
		c = &l->conns[i];
		len = sizeof(e);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1)
			err(1, "getsockopt %s", c->peer);
		errno = e;
		if (e != 0 || shutdown(c->fd, SHUT_WR) == -1)
			err(1, "shutdown %s (connection %d)", c->peer, c->id);
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
load_write(struct load *l)
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
		fprintf(l->out, "%d\t%d\t%d\t%d\t%d\t%u\t%u\t%u\t%d\n",
		    load_modid(l, g), load_cmdid(g), load_ip(j), load_port(j),
		    load_caller(g), k->succ > INT32_MAX ? INT32_MAX : k->succ,
		    k->err > INT32_MAX ? INT32_MAX : k->err, k->ts,
		    k->overload);
	}
	if (ferror(l->out) || fclose(l->out) == EOF)
		err(1, "%s", l->conf->out);
	l->out = NULL;
}

static void
load_free(struct load *l)
{
	int i;

	for (i = 0; i < l->conf->conns; i++)
		free(l->conns[i].buf);
	free(l->conns);
	free(l->pfd);
	free(l->pconn);
	free(l->keys);
	free(l->res);
	free(l->resp);
}
