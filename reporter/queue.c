/*
 * queue.c: the records of one worker slot, kept by the master until the
 * worker says they are committed.
 *
 *	[ acked ........ sent ........ tail )
 *	  committed <-|  in the pipe  |  waiting to be written
 *
 * A record's sequence number is its position: record s lives at
 * r[s & (cap - 1)].  Appending is a copy; the array doubles when full, so
 * nothing is ever dropped (the master stops reading agents long before
 * memory runs out, see queue_waiting()).  When a worker dies, rewinding
 * `sent` to `acked` hands everything uncommitted to its replacement.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "reporter.h"

static void queue_grow(struct queue *);

int
queue_init(struct queue *q, size_t cap)
{
	size_t c = 1024;

	while (c < cap)
		c <<= 1;
	memset(q, 0, sizeof(*q));
	if ((q->r = calloc(c, sizeof(*q->r))) == NULL)
		return -1;
	q->cap = c;
	return 0;
}

void
queue_free(struct queue *q)
{
	free(q->r);
	q->r = NULL;
}

static void
queue_grow(struct queue *q)
{
	struct record *n;
	size_t ncap = q->cap * 2;
	uint64_t s;

	if ((n = calloc(ncap, sizeof(*n))) == NULL)
		fatal("%s: %zu records", __func__, ncap);
	for (s = q->acked; s < q->tail; s++)
		n[s & (ncap - 1)] = q->r[s & (q->cap - 1)];
	free(q->r);
	q->r = n;
	q->cap = ncap;
}

/* The caller fills the record; its seq is already set. */
struct record *
queue_append(struct queue *q)
{
	struct record *rec;

	if (q->tail - q->acked == q->cap)
		queue_grow(q);
	rec = &q->r[q->tail & (q->cap - 1)];
	rec->seq = q->tail++;
	return rec;
}

/*
 * Write unsent records into the pipe, RECORD_PIPE_BATCH at most per
 * write(2) so that each write is atomic.  Returns 0 when everything was
 * written, 1 when the pipe is full, -1 on error (errno set; EPIPE means
 * the worker is gone).
 */
int
queue_write(struct queue *q, int fd)
{
	size_t pos, n;
	ssize_t w;

	while (q->sent < q->tail) {
		pos = q->sent & (q->cap - 1);
		n = q->tail - q->sent;
		if (n > q->cap - pos)
			n = q->cap - pos;
		if (n > RECORD_PIPE_BATCH)
			n = RECORD_PIPE_BATCH;
		w = write(fd, &q->r[pos], n * sizeof(struct record));
		if (w == -1) {
			if (errno == EAGAIN)
				return 1;
			if (errno == EINTR)
				continue;
			return -1;
		}
		if ((size_t)w != n * sizeof(struct record))
			fatalx("%s: short write of %zd bytes to a pipe",
			    __func__, w);
		q->sent += n;
	}
	return 0;
}

/* The worker committed every record through seq. */
void
queue_ack(struct queue *q, uint64_t seq)
{
	if (seq >= q->sent) {
		log_warnx("%s: ack of seq %llu beyond sent %llu", __func__,
		    (unsigned long long)seq, (unsigned long long)q->sent);
		return;
	}
	if (seq + 1 > q->acked)
		q->acked = seq + 1;
}

void
queue_rewind(struct queue *q)
{
	q->sent = q->acked;
}

size_t
queue_waiting(const struct queue *q)
{
	return q->tail - q->acked;
}
