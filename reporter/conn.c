/*
 * conn.c: one agent connection in the master: read its bytes, split them
 * into frames, hand each frame to dispatch.c, keep a partial frame until
 * the rest arrives, close a connection whose frame length is unusable or
 * whose partial frame is older than frame_timeout.
 *
 * All connections read into one shared buffer; only the bytes of an
 * unfinished frame are copied into the connection's own (freed when
 * empty), so an idle connection costs a struct and a socket.
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "log.h"
#include "reporter.h"

/* A partial frame up to this size is carried in front of the next bulk
 * read (one copy of it); a larger one is read up to its end alone, so
 * that a slow sender of a big frame costs each byte one copy, not one per
 * read. */
#define CONN_CARRY	4096

static void conn_keep(struct conn *, const uint8_t *, size_t, int);
static void conn_append(struct conn *, const uint8_t *, size_t, size_t);
static int conn_read_failed(struct conn *, ssize_t);
static void conn_badlen(struct conn *, const struct frame *);
static int conn_read_bulk(struct conn *);
static int conn_read_rest(struct conn *);

struct conn *
conn_new(int fd, const char *peer, struct peer *p)
{
	struct conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("%s: %s: calloc", __func__, peer);
		peer_put(p);
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->peer_ref = p;
	c->last_read = master_now_ms();
	c->ev.type = EV_CONN;
	c->ev.obj = c;
	strlcpy(c->peer, peer, sizeof(c->peer));
	TAILQ_INSERT_TAIL(&master->conns, c, entry);
	master->nconns++;
	master_watch(fd, master->paused ? 0 : EPOLLIN, &c->ev);
	log_debug("%s: connected", c->peer);
	return c;
}

/* An upgrade: the partial frame the old master had read of c. */
void
conn_restore(struct conn *c, const uint8_t *p, size_t n)
{
	conn_keep(c, p, n, 1);
}

/* A warning about this connection's input, rate-limited per peer. */
void
conn_warn(struct conn *c, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (!peer_may_warn(c->peer_ref))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s: %s", c->peer, msg);
}

void
conn_close(struct conn *c, const char *why)
{
	if (why != NULL)
		conn_warn(c, "closed: %s", why);
	else
		log_debug("%s: closed", c->peer);
	TAILQ_REMOVE(&master->conns, c, entry);
	master->nconns--;
	peer_put(c->peer_ref);
	close(c->fd);
	c->fd = -1;
	/* events of this batch may still name it: free it after */
	TAILQ_INSERT_TAIL(&master->dead_conns, c, entry);
}

/* After an event batch: free the connections closed in it. */
void
conn_gc(void)
{
	struct conn *c;

	while ((c = TAILQ_FIRST(&master->dead_conns)) != NULL) {
		TAILQ_REMOVE(&master->dead_conns, c, entry);
		free(c->pend);
		free(c);
	}
}

/* Keep the bytes of an unfinished frame; fresh: they start a new frame. */
static void
conn_keep(struct conn *c, const uint8_t *p, size_t n, int fresh)
{
	if (n == 0) {
		free(c->pend);
		c->pend = NULL;
		c->plen = c->pcap = 0;
		c->frame_since = 0;
		return;
	}
	conn_append(c, p, n, n);
	if (fresh || c->frame_since == 0)
		c->frame_since = master_now_ms();
}

/* Append to the partial frame; the buffer grows with what arrived, never
 * to a size a header merely announced. */
static void
conn_append(struct conn *c, const uint8_t *p, size_t n, size_t want)
{
	size_t cap = c->pcap;
	uint8_t *np;

	if (c->plen + n > cap) {
		cap = cap * 2 > c->plen + n ? cap * 2 : c->plen + n;
		if (cap > want)
			cap = want;
		if ((np = realloc(c->pend, cap)) == NULL)
			fatal("%s: realloc", __func__);
		c->pend = np;
		c->pcap = cap;
	}
	memcpy(c->pend + c->plen, p, n);
	c->plen += n;
}

/* A read returned n <= 0: nothing yet (1), or the connection is gone
 * and closed (-1). */
static int
conn_read_failed(struct conn *c, ssize_t n)
{
	char why[96];

	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 1;
	if (n == -1)
		snprintf(why, sizeof(why), "read: %s", strerror(errno));
	else
		snprintf(why, sizeof(why), "end of stream inside a frame "
		    "(%zu bytes kept)", c->plen);
	conn_close(c, n == 0 && c->plen == 0 ? NULL : why);
	return -1;
}

static void
conn_badlen(struct conn *c, const struct frame *f)
{
	char why[96];

	master->stats.bad_len++;
	snprintf(why, sizeof(why), "frame length %d out of range 0-%d "
	    "(msgid %d)", f->msglen, master->conf->max_msg_len, f->msgid);
	conn_close(c, why);
}

/*
 * No partial frame, or a small one (the tail of the last read): read as
 * much as the shared buffer takes, after the partial frame's bytes, and
 * dispatch every whole frame in it; keep the tail of an unfinished one.
 */
static int
conn_read_bulk(struct conn *c)
{
	uint8_t *buf = master->rbuf;
	enum frame_status st;
	struct frame f;
	size_t len, pos = 0, carry = c->plen;
	ssize_t n;

	if (carry > 0)
		memcpy(buf, c->pend, carry);
	if ((n = read(c->fd, buf + carry, master->rbufsz - carry)) <= 0)
		return conn_read_failed(c, n);
	len = carry + (size_t)n;
	c->plen = 0;
	c->last_read = master->now_read_ms;
	while ((st = frame_parse(buf + pos, len - pos,
	    (size_t)master->conf->max_msg_len, &f)) == FRAME_OK) {
		master->stats.frames++;
		dispatch_frame(c, f.msgid, f.body, (size_t)f.msglen);
		pos += f.size;
	}
	if (st == FRAME_BADLEN) {
		conn_badlen(c, &f);
		return -1;
	}
	/* the carried frame still unfinished keeps its start time */
	conn_keep(c, buf + pos, len - pos, carry == 0 || pos > 0);
	return 0;
}

/*
 * A partial frame larger than CONN_CARRY: read no further than its end
 * (the header tells), so that a slow sender costs each byte one copy, not
 * one per read.
 */
static int
conn_read_rest(struct conn *c)
{
	enum frame_status st;
	struct frame f;
	size_t want = FRAME_HDR_LEN;
	ssize_t n;

	st = frame_parse(c->pend, c->plen, (size_t)master->conf->max_msg_len,
	    &f);
	if (c->plen >= FRAME_HDR_LEN)
		want = FRAME_HDR_LEN + (size_t)f.msglen;
	n = read(c->fd, master->rbuf, want - c->plen);
	if (n <= 0)
		return conn_read_failed(c, n);
	c->last_read = master->now_read_ms;
	conn_append(c, master->rbuf, (size_t)n, want);
	st = frame_parse(c->pend, c->plen, (size_t)master->conf->max_msg_len,
	    &f);
	if (st == FRAME_BADLEN) {
		conn_badlen(c, &f);
		return -1;
	}
	if (st == FRAME_OK) {
		master->stats.frames++;
		dispatch_frame(c, f.msgid, f.body, (size_t)f.msglen);
		conn_keep(c, NULL, 0, 0);
	}
	return 0;
}

/*
 * Read once and dispatch the whole frames.  Returns 0 after reading, 1
 * when there was nothing to read, -1 when the connection is closed.
 */
int
conn_read(struct conn *c)
{
	return c->plen > CONN_CARRY ? conn_read_rest(c) : conn_read_bulk(c);
}

/*
 * Stopping: half-close, so that the agent sees end of file, closes its
 * side and reconnects; read what it already sent, and keep reading it
 * until its end of file closes the connection here.
 */
void
conn_half_close(struct conn *c)
{
	if (shutdown(c->fd, SHUT_WR) == -1) {
		conn_close(c, "shutdown failed");
		return;
	}
	log_debug("%s: half-closed", c->peer);
	while (conn_read(c) == 0)
		;
}

/* Stop or resume reading every connection: backpressure. */
void
conn_pause_all(int pause)
{
	struct conn *c;
	int64_t now = master_now_ms();

	TAILQ_FOREACH(c, &master->conns, entry) {
		master_rewatch(c->fd, pause ? 0 : EPOLLIN, &c->ev);
		if (!pause) {	/* the wait was ours, not theirs */
			c->last_read = now;
			if (c->frame_since != 0)
				c->frame_since = now;
		}
	}
	master->paused = pause;
}

/*
 * Close connections that hold a partial frame older than frame_timeout
 * (slow or stalled senders cannot hold slots forever), and, with
 * idle_timeout set, those that sent nothing for that long.  Not while
 * paused: then the master is the one not reading.
 */
void
conn_sweep(int64_t now)
{
	const struct config *conf = master->conf;
	struct conn *c, *next;
	int64_t limit = (int64_t)conf->frame_timeout * 1000;
	int64_t idle = (int64_t)conf->idle_timeout * 1000;
	char why[96];

	peer_tick();
	if (master->paused)
		return;
	for (c = TAILQ_FIRST(&master->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->frame_since != 0 && now - c->frame_since >= limit) {
			master->stats.timeouts++;
			snprintf(why, sizeof(why), "frame_timeout: %zu bytes "
			    "of a frame for %d s", c->plen,
			    conf->frame_timeout);
			conn_close(c, why);
		} else if (idle > 0 && now - c->last_read >= idle) {
			master->stats.idle++;
			snprintf(why, sizeof(why), "idle_timeout: nothing for "
			    "%d s", conf->idle_timeout);
			conn_close(c, why);
		}
	}
}
