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

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "log.h"
#include "reporter.h"

static void conn_keep(struct conn *, const uint8_t *, size_t, int);

void
conn_new(int fd, const char *peer, struct peer *p)
{
	struct conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("%s: %s: calloc", __func__, peer);
		peer_put(p);
		close(fd);
		return;
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
	if (n > c->pcap) {
		free(c->pend);
		if ((c->pend = malloc(n)) == NULL)
			fatal("%s: malloc", __func__);
		c->pcap = n;
	}
	memmove(c->pend, p, n);
	c->plen = n;
	if (fresh || c->frame_since == 0)
		c->frame_since = master_now_ms();
}

/*
 * Read once and dispatch the whole frames.  Returns 0 after reading, 1
 * when there was nothing to read, -1 when the connection is closed (and
 * freed).
 */
int
conn_read(struct conn *c)
{
	uint8_t *buf = master->rbuf;
	size_t len = c->plen, pos = 0;
	enum frame_status st;
	struct frame f;
	ssize_t n;
	char why[96];

	if (len > 0)
		memcpy(buf, c->pend, len);
	n = read(c->fd, buf + len, master->rbufsz - len);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return 1;
		snprintf(why, sizeof(why), "read: %s", strerror(errno));
		conn_close(c, why);
		return -1;
	}
	if (n == 0) {
		if (len > 0) {
			snprintf(why, sizeof(why), "end of stream inside a "
			    "frame (%zu bytes kept)", len);
			conn_close(c, why);
		} else
			conn_close(c, NULL);
		return -1;
	}
	len += (size_t)n;
	c->last_read = master_now_ms();
	while ((st = frame_parse(buf + pos, len - pos,
	    (size_t)master->conf->max_msg_len, &f)) == FRAME_OK) {
		master->stats.frames++;
		dispatch_frame(c, f.msgid, f.body, (size_t)f.msglen);
		pos += f.size;
	}
	if (st == FRAME_BADLEN) {
		master->stats.bad_len++;
		snprintf(why, sizeof(why), "frame length %d out of range "
		    "0-%d (msgid %d)", f.msglen, master->conf->max_msg_len,
		    f.msgid);
		conn_close(c, why);
		return -1;
	}
	conn_keep(c, buf + pos, len - pos, pos > 0);
	return 0;
}

/* Stopping: take everything the peer has already sent, then close. */
void
conn_read_all(struct conn *c)
{
	int r;

	while ((r = conn_read(c)) == 0)
		;
	if (r == 1)
		conn_close(c, NULL);
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
