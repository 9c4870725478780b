/*
 * test_frame: frame_parse() and frame_put_header().
 *
 * A reader like the master's: append what arrives to a buffer, take whole
 * frames off its front.  Fed a stream of frames in every way it can be
 * cut, it must yield the same frames; the limits are those of the
 * original reactor (msglen 0..65527, little-endian header).  Headers are
 * built by hand here, not with frame_put_header(), which is tested
 * against bytes written out below.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "tap.h"

struct want {
	int32_t msgid;
	size_t len;
	uint8_t fill;		/* body byte i is fill + i */
};

/* Zero-length bodies in the middle and at the end. */
static const struct want wants[] = {
	{ 3, 5, 'h' },
	{ 3, 0, 0 },
	{ 99, 300, 7 },
	{ -7, 1, 'x' },
	{ 3, 0, 0 },
	{ 3, 1000, 200 },
	{ 0x12345678, 8, 1 },
	{ 3, 0, 0 },
};
#define NWANTS	(sizeof(wants) / sizeof(wants[0]))

struct reader {
	uint8_t *buf;		/* exactly len bytes: over-reads show */
	size_t len;
	size_t nframes;
	int bad;		/* a frame differed or BADLEN came */
	char why[160];
};

static uint8_t *stream;
static size_t stream_len;

static void put_le32(uint8_t *, uint32_t);
static void build_stream(void);
static void reader_init(struct reader *);
static void reader_check(struct reader *, const struct frame *);
static void reader_feed(struct reader *, const uint8_t *, size_t);
static int reader_done(struct reader *);
static void test_whole(void);
static void test_two_chunks(void);
static void test_bytewise(void);
static void test_random_chunks(void);
static void test_short_header(void);
static void test_limits(void);
static void test_small_max(void);
static void test_byte_order(void);
static void test_put_header(void);

static void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = (v >> 24) & 0xff;
}

static void
build_stream(void)
{
	size_t i, j, off = 0;

	for (i = 0; i < NWANTS; i++)
		stream_len += FRAME_HDR_LEN + wants[i].len;
	if ((stream = malloc(stream_len)) == NULL)
		abort();
	for (i = 0; i < NWANTS; i++) {
		put_le32(stream + off, (uint32_t)wants[i].msgid);
		put_le32(stream + off + 4, (uint32_t)wants[i].len);
		off += FRAME_HDR_LEN;
		for (j = 0; j < wants[i].len; j++)
			stream[off++] = (uint8_t)(wants[i].fill + j);
	}
}

static void
reader_init(struct reader *r)
{
	memset(r, 0, sizeof(*r));
}

static void
reader_check(struct reader *r, const struct frame *f)
{
	const struct want *w;
	size_t j;

	if (r->nframes >= NWANTS) {
		snprintf(r->why, sizeof(r->why), "extra frame %zu",
		    r->nframes);
		r->bad = 1;
		return;
	}
	w = &wants[r->nframes];
	if (f->msgid != w->msgid || f->msglen != (int32_t)w->len ||
	    f->size != FRAME_HDR_LEN + w->len || f->body != r->buf + 8) {
		snprintf(r->why, sizeof(r->why), "frame %zu: msgid %d msglen "
		    "%d size %zu", r->nframes, (int)f->msgid, (int)f->msglen,
		    f->size);
		r->bad = 1;
		return;
	}
	for (j = 0; j < w->len; j++) {
		if (f->body[j] != (uint8_t)(w->fill + j)) {
			snprintf(r->why, sizeof(r->why), "frame %zu: body "
			    "byte %zu", r->nframes, j);
			r->bad = 1;
			return;
		}
	}
	r->nframes++;
}

static void
reader_feed(struct reader *r, const uint8_t *p, size_t n)
{
	struct frame f;
	enum frame_status st;
	uint8_t *nb;

	if (r->bad)
		return;
	if ((nb = realloc(r->buf, r->len + n + 1)) == NULL)
		abort();
	r->buf = nb;
	memcpy(r->buf + r->len, p, n);
	r->len += n;
	for (;;) {
		/* Parse an exact-size copy so that any over-read is caught. */
		uint8_t *exact = malloc(r->len ? r->len : 1);

		if (exact == NULL)
			abort();
		memcpy(exact, r->buf, r->len);
		free(r->buf);
		r->buf = exact;
		st = frame_parse(r->buf, r->len, FRAME_MAX_BODY, &f);
		if (st == FRAME_SHORT)
			return;
		if (st != FRAME_OK) {
			snprintf(r->why, sizeof(r->why), "status %d after "
			    "%zu frames", (int)st, r->nframes);
			r->bad = 1;
			return;
		}
		reader_check(r, &f);
		if (r->bad)
			return;
		memmove(r->buf, r->buf + f.size, r->len - f.size);
		r->len -= f.size;
	}
}

/* All frames seen, nothing left over; frees the buffer. */
static int
reader_done(struct reader *r)
{
	int good = !r->bad && r->nframes == NWANTS && r->len == 0;

	if (!r->bad && !good)
		snprintf(r->why, sizeof(r->why), "%zu frames, %zu bytes left",
		    r->nframes, r->len);
	free(r->buf);
	r->buf = NULL;
	return good;
}

static void
test_whole(void)
{
	struct reader r;

	reader_init(&r);
	reader_feed(&r, stream, stream_len);
	if (!ok(reader_done(&r), "whole stream: %zu frames", NWANTS))
		diag("%s", r.why);
}

static void
test_two_chunks(void)
{
	struct reader r;
	size_t cut, failed = 0;

	for (cut = 0; cut <= stream_len; cut++) {
		reader_init(&r);
		reader_feed(&r, stream, cut);
		reader_feed(&r, stream + cut, stream_len - cut);
		if (!reader_done(&r) && failed++ == 0)
			diag("cut at %zu: %s", cut, r.why);
	}
	ok(failed == 0, "stream cut in two at each of its %zu boundaries",
	    stream_len + 1);
}

static void
test_bytewise(void)
{
	struct reader r;
	size_t i;

	reader_init(&r);
	for (i = 0; i < stream_len; i++)
		reader_feed(&r, stream + i, 1);
	if (!ok(reader_done(&r), "stream fed one byte at a time"))
		diag("%s", r.why);
}

static void
test_random_chunks(void)
{
	struct reader r;
	uint32_t rnd = 12345;
	size_t off, n;
	int round, failed = 0;

	for (round = 0; round < 200; round++) {
		reader_init(&r);
		for (off = 0; off < stream_len; off += n) {
			rnd = rnd * 1103515245 + 12345;
			n = (rnd >> 16) % 40;
			if (n > stream_len - off)
				n = stream_len - off;
			reader_feed(&r, stream + off, n);
		}
		if (!reader_done(&r) && failed++ == 0)
			diag("round %d: %s", round, r.why);
	}
	ok(failed == 0, "stream fed in 200 rounds of random chunks (0-39)");
}

static void
test_short_header(void)
{
	static const uint8_t hdr[8] = { 3, 0, 0, 0, 10, 0, 0, 0 };
	struct frame f;
	size_t len;
	int shorts = 0;

	for (len = 0; len < FRAME_HDR_LEN; len++)
		shorts += frame_parse(hdr, len, FRAME_MAX_BODY, &f) ==
		    FRAME_SHORT;
	is_int(shorts, FRAME_HDR_LEN, "0 to 7 bytes: FRAME_SHORT");
	is_int(frame_parse(hdr, 8, FRAME_MAX_BODY, &f), FRAME_SHORT,
	    "header of a 10-byte body alone: FRAME_SHORT");
	is_int(f.msglen, 10, "msglen known once the header is there");
}

static void
test_limits(void)
{
	/* msglen 65527 = 0x0000fff7, 65528 = 0x0000fff8 */
	static const uint8_t max_ok[8] = { 3, 0, 0, 0, 0xf7, 0xff, 0, 0 };
	static const uint8_t too_long[8] = { 3, 0, 0, 0, 0xf8, 0xff, 0, 0 };
	static const uint8_t minus1[8] = { 3, 0, 0, 0, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t int_min[8] = { 3, 0, 0, 0, 0, 0, 0, 0x80 };
	static const uint8_t int_max[8] = { 3, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f };
	size_t size = FRAME_HDR_LEN + 65527;
	uint8_t *buf;
	struct frame f;

	is_int(FRAME_MAX_BODY, 65527, "FRAME_MAX_BODY is the original's");
	if ((buf = malloc(size)) == NULL)
		abort();
	memcpy(buf, max_ok, 8);
	memset(buf + 8, 0xab, size - 8);
	is_int(frame_parse(buf, size, 65527, &f), FRAME_OK,
	    "msglen 65527 with max 65527: FRAME_OK");
	is_int(f.msglen, 65527, "msglen 65527");
	is_uint(f.size, size, "size is 8 + 65527");
	ok(f.body == buf + 8, "body follows the header");
	is_int(frame_parse(buf, size - 1, 65527, &f), FRAME_SHORT,
	    "msglen 65527, one byte missing: FRAME_SHORT");
	free(buf);

	is_int(frame_parse(too_long, 8, 65527, &f), FRAME_BADLEN,
	    "msglen 65528 with max 65527: FRAME_BADLEN");
	is_int(frame_parse(too_long, 8, 65528, &f), FRAME_SHORT,
	    "msglen 65528 with max 65528: FRAME_SHORT");
	is_int(frame_parse(minus1, 8, 65527, &f), FRAME_BADLEN,
	    "msglen -1: FRAME_BADLEN");
	is_int(frame_parse(int_min, 8, 65527, &f), FRAME_BADLEN,
	    "msglen INT32_MIN: FRAME_BADLEN");
	is_int(frame_parse(int_max, 8, 65527, &f), FRAME_BADLEN,
	    "msglen INT32_MAX: FRAME_BADLEN");
	is_int(frame_parse(minus1, 8, SIZE_MAX, &f), FRAME_BADLEN,
	    "msglen -1 with no max: still FRAME_BADLEN");
}

static void
test_small_max(void)
{
	static const uint8_t two[16] = { 5, 0, 0, 0, 0, 0, 0, 0,
	    6, 0, 0, 0, 1, 0, 0, 0 };
	struct frame f;

	is_int(frame_parse(two, sizeof(two), 0, &f), FRAME_OK,
	    "max 0: empty body OK");
	is_uint(f.size, 8, "size of an empty frame is 8");
	is_int(f.msgid, 5, "msgid of the first of two frames");
	is_int(frame_parse(two + 8, 8, 0, &f), FRAME_BADLEN,
	    "max 0: a 1-byte body is FRAME_BADLEN");
}

static void
test_byte_order(void)
{
	static const uint8_t hdr[10] = { 0x78, 0x56, 0x34, 0x12, 2, 0, 0, 0,
	    'o', 'k' };
	static const uint8_t neg[8] = { 0xfe, 0xff, 0xff, 0xff, 0, 0, 0, 0 };
	static const uint8_t big[8] = { 3, 0, 0, 0, 0x00, 0x01, 0, 0 };
	uint8_t *buf;
	struct frame f;

	is_int(frame_parse(hdr, sizeof(hdr), 65527, &f), FRAME_OK,
	    "little-endian frame parses");
	is_int(f.msgid, 0x12345678, "msgid is little-endian");
	is_int(f.msglen, 2, "msglen is little-endian");
	is_int(frame_parse(neg, 8, 65527, &f), FRAME_OK,
	    "negative msgid, empty body: FRAME_OK (the caller skips it)");
	is_int(f.msgid, -2, "msgid -2");

	/* 0x0100 = 256, not 1: the second byte is the high one. */
	if ((buf = malloc(8 + 256)) == NULL)
		abort();
	memcpy(buf, big, 8);
	memset(buf + 8, 0, 256);
	is_int(frame_parse(buf, 8 + 255, 65527, &f), FRAME_SHORT,
	    "msglen bytes 00 01 mean 256: 255 bytes are short");
	is_int(frame_parse(buf, 8 + 256, 65527, &f), FRAME_OK,
	    "and 256 are whole");
	free(buf);
}

static void
test_put_header(void)
{
	static const uint8_t want1[8] = { 3, 0, 0, 0, 0xf7, 0xff, 0, 0 };
	static const uint8_t want2[8] = { 0xfe, 0xff, 0xff, 0xff,
	    0x04, 0x03, 0x02, 0x01 };
	uint8_t p[8 + 4];
	struct frame f;

	frame_put_header(p, 3, 65527);
	is_mem(p, want1, 8, "frame_put_header(3, 65527)");
	frame_put_header(p, -2, 0x01020304);
	is_mem(p, want2, 8, "frame_put_header(-2, 0x01020304)");

	frame_put_header(p, 42, 4);
	memcpy(p + 8, "abcd", 4);
	is_int(frame_parse(p, sizeof(p), FRAME_MAX_BODY, &f), FRAME_OK,
	    "what frame_put_header writes, frame_parse reads");
	ok(f.msgid == 42 && f.msglen == 4 && f.size == 12 &&
	    memcmp(f.body, "abcd", 4) == 0, "round trip: msgid, msglen, body");
}

int
main(void)
{
	build_stream();
	note("stream of %zu frames, %zu bytes", NWANTS, stream_len);
	test_whole();
	test_two_chunks();
	test_bytewise();
	test_random_chunks();
	test_short_header();
	test_limits();
	test_small_max();
	test_byte_order();
	test_put_header();
	free(stream);
	return done_testing();
}
