/*
 * fuzz_report: libFuzzer target for what the master does with the bytes
 * of one agent connection: frame_parse() splitting a TCP stream into
 * frames, and decode_report() (reporter/decode.c) decoding each
 * ReportStatusReq body into records, held to protobuf-c's generated
 * unpack by decode_ref_check() (t/unit/decode_ref.h): any disagreement
 * in status, header, records or queue state aborts.
 *
 * Input: byte 0 is the chunk schedule (how the stream arrives in reads,
 * see fuzz_next_chunk()), the rest is the stream.  Each read is appended
 * to what the previous one left, whole frames are taken off the front
 * as conn.c does, and the rest is kept for the next read, so frames split
 * at any boundary are explored.  Buffers are allocated to the exact size
 * of their bytes and every body is decoded from its own exact copy, so
 * that any read past the data is an ASan report.  A broken invariant
 * aborts with the expression that failed.
 *
 * decode.c is built with coverage; libprotobuf-c is the system's, built
 * without.  fuzz_walk() adds an outside view of each body: the (field,
 * wire type) pairs, varint sizes and nesting, and the decode's outcome,
 * counted in libFuzzer's extra counters.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode_ref.h"
#include "frame.h"
#include "record.h"

#define FUZZ_RBUF        (256 * 1024 + 65536 + 8) /* master.c's MASTER_RBUF */
#define FUZZ_MAX_RESULTS 10000       /* the max_results default */
#define FUZZ_MAX_CHUNKS  1024        /* then the rest in one read */

/* Extra counters: per nesting depth, then the decode's outcome. */
#define FEAT_DEPTH   512              /* (field 0-15, wire type 0-7) */
#define FEAT_VARINT  128              /* + (field 0-15) * 11 + bytes */
#define FEAT_STOP    320              /* + why a walk stopped */
#define FEAT_OUTCOME (2 * FEAT_DEPTH) /* + status * 32 + log2(n) */
#define FEAT_MAX     (FEAT_OUTCOME + 4 * 32)

enum walk_stop {
	WALK_END,      /* the body ends between fields */
	WALK_VARINT,   /* a varint runs off the end or past 10 bytes */
	WALK_FIXED,    /* a fixed32/64 runs off the end */
	WALK_LENGTH,   /* a length goes past the end */
	WALK_WIRETYPE, /* wire type 3, 4, 6 or 7 */
};

#define FUZZ_ASSERT(e)                                                         \
	do {                                                                   \
		if (!(e))                                                      \
			fuzz_fail(#e, __LINE__);                               \
	} while (0)

struct sched {
	uint8_t mode; /* the schedule byte */
	uint32_t x;   /* xorshift state for modes 128-255 */
	size_t nchunks;
};

struct stream {
	uint8_t *pend; /* the partial frame kept between reads */
	size_t plen;
	int closed; /* FRAME_BADLEN: conn.c closes */
};

static uint8_t fuzz_counters[FEAT_MAX]
    __attribute__((section("__libfuzzer_extra_counters"), used));

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void fuzz_fail(const char *, int) __attribute__((noreturn));
static void *fuzz_xalloc(size_t);
static int32_t fuzz_le32(const uint8_t *);
static size_t fuzz_next_chunk(struct sched *);
static void fuzz_read(struct stream *, const uint8_t *, size_t);
static void fuzz_check_frame(
    const uint8_t *, size_t, enum frame_status, const struct frame *);
static void fuzz_frame(int32_t, const uint8_t *, size_t);
static void fuzz_feature(unsigned int);
static size_t fuzz_varint(const uint8_t *, size_t, uint64_t *);
static void fuzz_walk(const uint8_t *, size_t, unsigned int);
static unsigned int fuzz_log2(size_t);
static void fuzz_report(const uint8_t *, size_t);

static void
fuzz_fail(const char *what, int line)
{
	fprintf(stderr, "fuzz_report.c:%d: invariant broken: %s\n", line, what);
	abort();
}

/* malloc or abort; under ASan any read of a 0-byte block is reported. */
static void *
fuzz_xalloc(size_t n)
{
	void *p;

	if ((p = malloc(n)) == NULL && n > 0)
		abort();
	return p;
}

static int32_t
fuzz_le32(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 |
	    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

/*
 * The size of the next read.  Mode 0: the whole stream in one read.
 * 1-127: reads of that many bytes (1 splits at every byte).  128-255: a
 * pseudo-random sequence of 1 to 128 bytes seeded by the mode.  After
 * FUZZ_MAX_CHUNKS reads the rest comes at once, which bounds the copying
 * of a large partial frame (conn.c copies it on every read).
 */
static size_t
fuzz_next_chunk(struct sched *s)
{
	uint32_t x;

	if (s->mode == 0 || s->nchunks++ >= FUZZ_MAX_CHUNKS)
		return SIZE_MAX;
	if (s->mode < 128)
		return s->mode;
	x = s->x;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	s->x = x;
	return 1 + (x >> 8) % (1u << (x & 7));
}

/*
 * One read of n bytes, as conn_read(): the kept partial frame and the new
 * bytes in one buffer, whole frames taken off its front, the rest kept.
 */
static void
fuzz_read(struct stream *st, const uint8_t *data, size_t n)
{
	enum frame_status fs;
	struct frame f;
	uint8_t *buf, *copy;
	size_t len = st->plen + n, pos = 0;

	buf = fuzz_xalloc(len);
	if (st->plen > 0)
		memcpy(buf, st->pend, st->plen);
	memcpy(buf + st->plen, data, n);
	free(st->pend);
	st->pend = NULL;
	st->plen = 0;

	for (;;) {
		fs = frame_parse(buf + pos, len - pos, FRAME_MAX_BODY, &f);
		fuzz_check_frame(buf + pos, len - pos, fs, &f);
		if (fs != FRAME_OK)
			break;
		/* Its own block, so a decoder reading past it is caught. */
		copy = fuzz_xalloc((size_t)f.msglen);
		if (f.msglen > 0)
			memcpy(copy, f.body, (size_t)f.msglen);
		fuzz_frame(f.msgid, copy, (size_t)f.msglen);
		free(copy);
		pos += f.size;
	}
	if (fs == FRAME_BADLEN)
		st->closed = 1;
	else if (len > pos) {
		/* A partial frame always leaves the next read some room. */
		FUZZ_ASSERT(len - pos < FUZZ_RBUF);
		st->plen = len - pos;
		st->pend = fuzz_xalloc(st->plen);
		memcpy(st->pend, buf + pos, st->plen);
	}
	free(buf);
}

/* frame_parse()'s answer against the header bytes themselves. */
static void
fuzz_check_frame(
    const uint8_t *p, size_t len, enum frame_status fs, const struct frame *f)
{
	int32_t msgid, msglen;

	if (len < FRAME_HDR_LEN) {
		FUZZ_ASSERT(fs == FRAME_SHORT);
		return;
	}
	msgid = fuzz_le32(p);
	msglen = fuzz_le32(p + 4);
	FUZZ_ASSERT(f->msgid == msgid);
	FUZZ_ASSERT(f->msglen == msglen);
	switch (fs) {
	case FRAME_OK:
		FUZZ_ASSERT(msglen >= 0 && msglen <= FRAME_MAX_BODY);
		FUZZ_ASSERT(f->size == FRAME_HDR_LEN + (size_t)msglen);
		FUZZ_ASSERT(f->size <= len);
		FUZZ_ASSERT(f->body == p + FRAME_HDR_LEN);
		break;
	case FRAME_SHORT:
		FUZZ_ASSERT(msglen >= 0 && msglen <= FRAME_MAX_BODY);
		FUZZ_ASSERT(len < FRAME_HDR_LEN + (size_t)msglen);
		break;
	case FRAME_BADLEN:
		FUZZ_ASSERT(msglen < 0 || msglen > FRAME_MAX_BODY);
		break;
	default:
		FUZZ_ASSERT(!"frame_parse() status");
	}
}

/* dispatch_frame() without the master: unknown msgids are skipped. */
static void
fuzz_frame(int32_t msgid, const uint8_t *body, size_t len)
{
	if (msgid == FRAME_MSGID_REPORT)
		fuzz_report(body, len);
}

static void
fuzz_feature(unsigned int i)
{
	if (i < FEAT_MAX && fuzz_counters[i] < UINT8_MAX)
		fuzz_counters[i]++;
}

/* The bytes of the varint at p, or 0 if it is cut off or too long. */
static size_t
fuzz_varint(const uint8_t *p, size_t len, uint64_t *v)
{
	size_t i;

	*v = 0;
	for (i = 0; i < len && i < 10; i++) {
		*v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if ((p[i] & 0x80) == 0)
			return i + 1;
	}
	return 0;
}

/*
 * Count what a body is made of, field by field, as protobuf-c will scan
 * it; the results (field 4) one level down.  Nothing is decided here.
 */
static void
fuzz_walk(const uint8_t *p, size_t len, unsigned int depth)
{
	unsigned int base = depth * FEAT_DEPTH, field, wt;
	uint64_t key, v;
	size_t n;

	while (len > 0) {
		if ((n = fuzz_varint(p, len, &key)) == 0) {
			fuzz_feature(base + FEAT_STOP + WALK_VARINT);
			return;
		}
		p += n;
		len -= n;
		field = key >> 3 > 15 ? 15 : (unsigned int)(key >> 3);
		wt = key & 7;
		fuzz_feature(base + field * 8 + wt);
		switch (wt) {
		case 0:
		case 2:
			if ((n = fuzz_varint(p, len, &v)) == 0) {
				fuzz_feature(base + FEAT_STOP + WALK_VARINT);
				return;
			}
			fuzz_feature(
			    base + FEAT_VARINT + field * 11 + (unsigned int)n);
			p += n;
			len -= n;
			if (wt == 0)
				break;
			if (v > len) {
				fuzz_feature(base + FEAT_STOP + WALK_LENGTH);
				return;
			}
			if (depth == 0 && field == 4)
				fuzz_walk(p, (size_t)v, 1);
			p += v;
			len -= v;
			break;
		case 1:
		case 5:
			n = wt == 1 ? 8 : 4;
			if (n > len) {
				fuzz_feature(base + FEAT_STOP + WALK_FIXED);
				return;
			}
			p += n;
			len -= n;
			break;
		default:
			fuzz_feature(base + FEAT_STOP + WALK_WIRETYPE);
			return;
		}
	}
	fuzz_feature(base + FEAT_STOP + WALK_END);
}

static unsigned int
fuzz_log2(size_t n)
{
	unsigned int b = 0;

	while (n > 0 && b < 31) {
		n >>= 1;
		b++;
	}
	return b;
}

/* The decoder against protobuf-c; any disagreement aborts. */
static void
fuzz_report(const uint8_t *body, size_t len)
{
	const char *why;

	fuzz_walk(body, len, 0);
	why = decode_ref_check(body, len, FUZZ_MAX_RESULTS);
	fuzz_feature(FEAT_OUTCOME + (unsigned int)decode_ref_status * 32 +
	    fuzz_log2(decode_ref_last.n));
	if (why != NULL) {
		fprintf(stderr, "decode_report() and protobuf-c disagree on "
		    "a %zu-byte body: %s\n", len, why);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sched s;
	struct stream st;
	size_t want, room;

	if (size == 0)
		return 0;
	memset(&s, 0, sizeof(s));
	memset(&st, 0, sizeof(st));
	s.mode = data[0];
	s.x = 0x9e3779b9u ^ data[0];
	data++;
	size--;
	while (size > 0 && !st.closed) {
		want = fuzz_next_chunk(&s);
		room = FUZZ_RBUF - st.plen; /* conn.c reads at most that */
		FUZZ_ASSERT(room > 0);
		if (want > room)
			want = room;
		if (want > size)
			want = size;
		fuzz_read(&st, data, want);
		data += want;
		size -= want;
	}
	free(st.pend); /* end of stream, inside a frame or not */
	return 0;
}
