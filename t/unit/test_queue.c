/*
 * test_queue: a slot's record queue assigns sequence numbers, grows
 * without loss, writes records to a pipe in large writes (a record a full
 * pipe cuts short is finished first next time, even when a compaction
 * dropped it meanwhile), frees records on ack and replays the unacked
 * ones after a rewind.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reporter.h"
#include "tap.h"

/*
 * A 4 KiB pipe (85 records and a third) read by a worker's rules: bytes
 * appended to a stream.  Writes and reads alternate until the queue is
 * written; between the first two writes, `compact' appends a newer record
 * of every key and compacts, which drops the torn record's copy.
 */
static void
torn(int compact)
{
	struct queue q;
	struct record *r, *out;
	uint8_t *stream;
	size_t len = 0, cap = 4000 * sizeof(struct record), n, i;
	int p[2], rounds = 0, was_torn = 0, whole = 1, rc;
	uint64_t last = 0;
	ssize_t got;

	queue_init(&q, 16);
	for (i = 0; i < 1000; i++) {
		r = queue_append(&q);
		r->modid = (int32_t)r->seq;	/* every key distinct */
		r->ts = 1;
	}
	stream = malloc(cap);
	if (pipe2(p, O_NONBLOCK) == -1 || fcntl(p[1], F_SETPIPE_SZ, 4096) == -1)
		exit(1);
	do {
		rc = queue_write(&q, p[1]);
		if (q.torn_left > 0)
			was_torn = 1;
		if (compact && rounds == 0) {
			for (i = 0; i < 1000; i++) {
				r = queue_append(&q);
				r->modid = (int32_t)i;
				r->ts = 2;
			}
			queue_compact(&q);
		}
		while ((got = read(p[0], stream + len, cap - len)) > 0)
			len += (size_t)got;
		rounds++;
	} while (rc == 1 && rounds < 10000);
	is_int(rc, 0, "%s: written in %d rounds", compact ? "compacted" :
	    "torn", rounds);
	ok(was_torn, "a write ended inside a record");
	ok(len % sizeof(struct record) == 0, "the stream is whole records "
	    "(%zu bytes)", len);
	n = len / sizeof(struct record);
	out = (struct record *)stream;
	for (i = 0; i < n; i++) {
		/* the originals carry modid == seq; the newer ones ts 2 */
		if ((out[i].ts == 1 && out[i].modid != (int32_t)out[i].seq) ||
		    (out[i].ts == 2 && (out[i].seq < 1000 ||
		    out[i].modid != (int32_t)out[i].seq - 1000)) ||
		    (out[i].ts != 1 && out[i].ts != 2) ||
		    (i > 0 && out[i].seq <= last))
			whole = 0;
		last = out[i].seq;
	}
	ok(whole, "every record read is one written, in seq order");
	if (compact)
		ok(n > 1000 && out[n - 1].seq == 1999 && out[n - 1].ts == 2,
		    "the newer records follow (%zu records)", n);
	else
		ok(n == 1000 && out[999].seq == 999, "all 1000 arrive");
	free(stream);
	queue_free(&q);
	close(p[0]);
	close(p[1]);
}

static size_t
drain(int fd, struct record *out, size_t max)
{
	ssize_t n;
	size_t got = 0;

	while (got < max && (n = read(fd, out + got,
	    (max - got) * sizeof(*out))) > 0) {
		if (n % (ssize_t)sizeof(*out) != 0)
			return (size_t)-1;
		got += (size_t)n / sizeof(*out);
	}
	return got;
}

int
main(void)
{
	struct queue q;
	struct record *r, *out;
	int p[2], i, inorder = 1, rc;
	size_t got;

	is_int((int)sizeof(struct record), 48, "a record is 48 bytes");
	ok(queue_init(&q, 1000) == 0 && q.cap == 1024, "capacity rounds "
	    "to a power of two");
	for (i = 0; i < 3000; i++) {
		r = queue_append(&q);
		if (r->seq != (uint64_t)i)
			inorder = 0;
		r->modid = i;
	}
	ok(inorder, "sequence numbers count from 0");
	ok(q.cap >= 3000, "grew to %zu", q.cap);
	is_int((int)queue_waiting(&q), 3000, "3000 waiting");

	if (pipe2(p, O_NONBLOCK) == -1 || fcntl(p[1], F_SETPIPE_SZ, 1 << 20) == -1)
		return 1;
	out = calloc(4000, sizeof(*out));
	rc = queue_write(&q, p[1]);
	is_int(rc, 0, "everything fits the pipe (%zu bytes)",
	    3000 * sizeof(struct record));
	got = drain(p[0], out, 4000);
	is_int((int)got, 3000, "3000 whole records read back");
	for (i = 0, inorder = 1; i < 3000; i++)
		if (out[i].modid != i || out[i].seq != (uint64_t)i)
			inorder = 0;
	ok(inorder, "in order, with their seq");

	queue_ack(&q, 1999);
	is_int((int)queue_waiting(&q), 1000, "ack through 1999 frees 2000");
	queue_ack(&q, 10);
	is_int((int)queue_waiting(&q), 1000, "an older ack changes nothing");
	queue_rewind(&q);
	queue_write(&q, p[1]);
	got = drain(p[0], out, 4000);
	ok(got == 1000 && out[0].seq == 2000 && out[999].seq == 2999,
	    "after a rewind the 1000 unacked records are written again");

	/* a full pipe: write what fits, say so, keep the rest */
	for (i = 0; i < 200000; i++)
		queue_append(&q)->modid = i;
	rc = queue_write(&q, p[1]);
	is_int(rc, 1, "a full pipe returns 1");
	ok(q.sent < q.tail, "records wait for the pipe (%llu of %llu sent)",
	    (unsigned long long)q.sent, (unsigned long long)q.tail);
	free(out);
	queue_free(&q);
	close(p[0]);
	close(p[1]);

	torn(0);
	torn(1);

	/*
	 * Compaction: 10 keys, 1000 records, the first 400 sent.  Key k's
	 * ts grows with i except that key 3's newest ts comes first (an
	 * agent's delayed report must not win), and key 5's last two have
	 * equal ts (the later wins).
	 */
	queue_init(&q, 16);
	for (i = 0; i < 1000; i++) {
		r = queue_append(&q);
		memset(&r->modid, 0, sizeof(*r) - sizeof(r->seq));
		r->modid = i % 10;
		r->ts = (uint32_t)(1000 + i);
		r->succ = i;
		if (i % 10 == 3)
			r->ts = i == 3 ? 5000 : (uint32_t)i;
		if (i == 985)
			r->ts = 2000;
		if (i == 995)
			r->ts = 2000;
	}
	q.sent = 400;
	is_int((int)queue_compact(&q), 990, "compaction removes 990 of 1000");
	is_int((int)queue_waiting(&q), 10, "one record per key left");
	ok(q.sent == q.acked + 1, "the one sent winner stays in the sent part");
	{
		int seen[10] = { 0 }, order = 1;
		uint64_t last = 0;
		uint64_t pos;

		for (pos = q.acked; pos < q.tail; pos++) {
			r = &q.r[pos & (q.cap - 1)];
			seen[r->modid] = r->succ;
			if (pos > q.acked && r->seq <= last)
				order = 0;
			last = r->seq;
		}
		ok(order, "kept records stay in seq order");
		is_int(seen[3], 3, "key 3: the newest ts wins though sent first");
		is_int(seen[5], 995, "key 5: equal ts, the later wins");
		is_int(seen[7], 997, "key 7: the last record wins");
		is_int((int)q.r[q.acked & (q.cap - 1)].seq, 3, "its seq kept");
	}
	queue_ack(&q, 3);
	is_int((int)queue_waiting(&q), 9, "an ack by seq frees the sent one");
	queue_free(&q);
	return done_testing();
}
