/*
 * channel.c: the channel from a worker to its master, both sides.
 *
 * A worker that committed a batch writes one fixed-size struct wmsg into
 * its ack pipe with one write(2) (channel_ack): the last sequence number
 * it committed and its figures since it started.  A worker whose state
 * changed without a commit (it connected, or MySQL refuses its writes)
 * sends its figures alone (channel_stats).  The message is smaller
 * than PIPE_BUF, so a write is atomic and never torn.  The master reads
 * them when the pipe is readable (channel_read), frees the committed
 * records of the slot's queue and keeps the figures for metrics.c.  A
 * read that is not a whole number of messages, or a type the master does
 * not know, is a broken invariant of our own: fatalx.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "reporter.h"

static int channel_send(int, uint32_t, uint64_t, const struct wstats *);

enum wmsg_type {
	WMSG_ACK = 1,		/* committed every record through seq */
	WMSG_STATS,		/* figures only */
};

struct wmsg {
	uint32_t	type;
	uint32_t	pad;
	uint64_t	seq;
	struct wstats	st;
};

_Static_assert(sizeof(struct wmsg) <= PIPE_BUF, "one atomic write");

static int
channel_send(int fd, uint32_t type, uint64_t seq, const struct wstats *st)
{
	struct wmsg m;

	memset(&m, 0, sizeof(m));
	m.type = type;
	m.seq = seq;
	m.st = *st;
	if (write(fd, &m, sizeof(m)) != (ssize_t)sizeof(m)) {
		log_warn("%s: message %u (seq %llu) to the master", __func__,
		    type, (unsigned long long)seq);
		return -1;
	}
	return 0;
}

/* In the worker: every record through seq is committed. */
int
channel_ack(int fd, uint64_t seq, const struct wstats *st)
{
	return channel_send(fd, WMSG_ACK, seq, st);
}

/* In the worker: its figures, nothing committed. */
int
channel_stats(int fd, const struct wstats *st)
{
	return channel_send(fd, WMSG_STATS, 0, st);
}

/* In the master: read every message the worker of s has written. */
void
channel_read(struct slot *s)
{
	struct wmsg m[64];
	ssize_t n;
	size_t i;

	while ((n = read(s->afd, m, sizeof(m))) > 0) {
		if ((size_t)n % sizeof(m[0]) != 0)
			fatalx("%s: worker %d sent %zd bytes", __func__,
			    s->id, n);
		for (i = 0; i < (size_t)n / sizeof(m[0]); i++) {
			if (m[i].type != WMSG_ACK && m[i].type != WMSG_STATS)
				fatalx("%s: worker %d sent message type %u",
				    __func__, s->id, m[i].type);
			if (m[i].type == WMSG_ACK)
				queue_ack(&s->q, m[i].seq);
			s->last = m[i].st;
		}
	}
	if (n == -1 && errno != EAGAIN && errno != EINTR)
		log_warn("%s: worker %d", __func__, s->id);
}
