/*
 * queue.c: the records of one worker slot, kept by the master until the
 * worker says they are committed.
 *
 *	[ acked ........ sent ........ tail )
 *	  committed <-|  in the pipe  |  waiting to be written
 *
 * acked, sent and tail are positions that only grow; record p lives at
 * r[p & (cap - 1)] and carries its own sequence number, which the worker
 * acks.  Appending is a copy; the array doubles when full, so nothing is
 * ever dropped.  When a worker dies, rewinding `sent` to `acked` hands
 * everything uncommitted to its replacement.
 *
 * When MySQL is down nothing is acked and the queue would grow with every
 * record; queue_compact() keeps only the record of each key that would win
 * (newest ts, later on ties), in order and with its seq, compacting the
 * sent and the unsent parts apart so that acks and `sent` keep their
 * meaning.  The queue is then bounded by distinct keys, not by records.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "reporter.h"

#define QUEUE_AT(q, p)	(&(q)->r[(p) & ((q)->cap - 1)])
#define QUEUE_WRITE_MAX	2048	/* records per write(2): 96 KiB */
#define QUEUE_COMPACT_KEEP 65536	/* records: compaction tables kept */

static size_t queue_pack(struct queue *, uint64_t, uint64_t, uint64_t,
    const uint8_t *);
static size_t queue_slot(const struct queue *, const uint32_t *, size_t,
    const struct record *);
static void queue_compact_free(struct queue *);

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
	queue_compact_free(q);
}

void
queue_grow(struct queue *q)
{
	struct record *n;
	size_t ncap = q->cap * 2;
	uint64_t p;

	if ((n = calloc(ncap, sizeof(*n))) == NULL)
		fatal("%s: %zu records", __func__, ncap);
	for (p = q->acked; p < q->tail; p++)
		n[p & (ncap - 1)] = *QUEUE_AT(q, p);
	free(q->r);
	q->r = n;
	q->cap = ncap;
}

/* Take back the records appended since position tail (none of them
 * written yet), and their sequence numbers. */
void
queue_truncate(struct queue *q, uint64_t tail)
{
	if (tail < q->sent || tail > q->tail)
		fatalx("%s: position %llu outside [%llu, %llu]", __func__,
		    (unsigned long long)tail, (unsigned long long)q->sent,
		    (unsigned long long)q->tail);
	q->next_seq -= q->tail - tail;
	q->tail = tail;
}

/*
 * Write unsent records into the pipe, up to QUEUE_WRITE_MAX per write(2):
 * one writer per pipe, so a write need not be atomic, and a few large
 * writes cost the master and the worker far fewer system calls and
 * wake-ups than many of PIPE_BUF.  A write the full pipe cuts short may
 * end inside a record: that record counts as sent, and a copy of it
 * (torn), which a compaction cannot move, gives the rest of its bytes
 * first next time; the worker joins the pieces.  Returns 0 when
 * everything was written, 1 when the pipe is full, -1 on error (errno
 * set; EPIPE means the worker is gone).
 */
int
queue_write(struct queue *q, int fd)
{
	const uint8_t *from;
	size_t pos, n, len;
	ssize_t w;

	for (;;) {
		if (q->torn_left > 0) {
			from = (const uint8_t *)&q->torn + sizeof(q->torn) -
			    q->torn_left;
			len = q->torn_left;
		} else if (q->sent < q->tail) {
			pos = q->sent & (q->cap - 1);
			n = q->tail - q->sent;
			if (n > q->cap - pos)
				n = q->cap - pos;
			if (n > QUEUE_WRITE_MAX)
				n = QUEUE_WRITE_MAX;
			from = (const uint8_t *)&q->r[pos];
			len = n * sizeof(struct record);
		} else
			return 0;
		if ((w = write(fd, from, len)) == -1) {
			if (errno == EAGAIN)
				return 1;
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (q->torn_left > 0) {
			q->torn_left -= (size_t)w;
			continue;
		}
		q->sent += (size_t)w / sizeof(struct record);
		if ((size_t)w % sizeof(struct record) != 0) {
			q->torn = *QUEUE_AT(q, q->sent);
			q->torn_left = sizeof(struct record) -
			    (size_t)w % sizeof(struct record);
			q->sent++;
		}
		if ((size_t)w < len)
			return 1;
	}
}

/* Everything queued is in the pipe, the last record whole. */
int
queue_written(const struct queue *q)
{
	return q->sent == q->tail && q->torn_left == 0;
}

/* The worker committed every record through seq.  Seqs grow along the
 * queue (with gaps where a compaction removed records): the first one
 * past seq is found by bisection, not by walking every record. */
void
queue_ack(struct queue *q, uint64_t seq)
{
	uint64_t lo = q->acked, hi = q->sent, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (QUEUE_AT(q, mid)->seq <= seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	q->acked = lo;
}

void
queue_rewind(struct queue *q)
{
	q->sent = q->acked;
	q->torn_left = 0;	/* a new pipe: the torn record goes whole */
}

size_t
queue_waiting(const struct queue *q)
{
	return q->tail - q->acked;
}

/* Move the kept records of [from, to) to position `at`, in order. */
static size_t
queue_pack(struct queue *q, uint64_t from, uint64_t to, uint64_t at,
    const uint8_t *keep)
{
	uint64_t p;
	size_t kept = 0;

	for (p = from; p < to; p++) {
		if (!keep[p - q->acked])
			continue;
		if (at + kept != p)
			*QUEUE_AT(q, at + kept) = *QUEUE_AT(q, p);
		kept++;
	}
	return kept;
}

/* Where key of r sits in the open-addressing table of winners (offsets
 * from acked, plus one; 0: empty). */
static size_t
queue_slot(const struct queue *q, const uint32_t *win, size_t mask,
    const struct record *r)
{
	size_t i = record_key_hash(r->modid, r->cmdid, r->ip, r->port,
	    r->caller) & mask;

	while (win[i] != 0 &&
	    !record_same_key(QUEUE_AT(q, q->acked + win[i] - 1), r))
		i = (i + 1) & mask;
	return i;
}

/*
 * Keep one record per key: the one that would win in the table, found in
 * one pass.  Returns how many records it removed.  The tables of a
 * compaction of up to QUEUE_COMPACT_KEEP records are kept for the next
 * (hot keys compact often); larger ones are freed at once.
 */
size_t
queue_compact(struct queue *q)
{
	const struct record *r, *w;
	size_t n = q->tail - q->acked, size = 16, i, kept_sent, kept;
	uint32_t *win, off;
	uint8_t *keep;

	while (size < n * 2)
		size <<= 1;
	if (size > q->csize) {
		free(q->cwin);
		free(q->ckeep);
		if ((q->cwin = malloc(size * sizeof(*q->cwin))) == NULL ||
		    (q->ckeep = malloc(size / 2)) == NULL)
			fatal("%s: %zu entries", __func__, size);
		q->csize = size;
	}
	win = q->cwin;
	keep = q->ckeep;
	memset(win, 0, size * sizeof(*win));
	for (off = 0; off < n; off++) {
		r = QUEUE_AT(q, q->acked + off);
		i = queue_slot(q, win, size - 1, r);
		if (win[i] == 0) {
			win[i] = off + 1;
			keep[off] = 1;
			continue;
		}
		w = QUEUE_AT(q, q->acked + win[i] - 1);
		if (record_wins(r->ts, r->flags, w->ts)) {
			keep[win[i] - 1] = 0;
			win[i] = off + 1;
			keep[off] = 1;
		} else
			keep[off] = 0;
	}
	kept_sent = queue_pack(q, q->acked, q->sent, q->acked, keep);
	kept = kept_sent + queue_pack(q, q->sent, q->tail,
	    q->acked + kept_sent, keep);
	if (q->csize > QUEUE_COMPACT_KEEP * 2)
		queue_compact_free(q);
	q->sent = q->acked + kept_sent;
	q->tail = q->acked + kept;
	return n - kept;
}

static void
queue_compact_free(struct queue *q)
{
	free(q->cwin);
	free(q->ckeep);
	q->cwin = NULL;
	q->ckeep = NULL;
	q->csize = 0;
}
