/*
 * test_decode: the single-pass decoder (reporter/decode.c) against
 * protobuf-c's generated unpack, over a table of crafted bodies (each
 * with the status protobuf-c gives it, so that the table tests what it
 * says), bodies protobuf-c packs from random reports, every truncation
 * and many one-byte mutations of those, and the bodies of the fuzzer's
 * seed corpus (t/fuzz/corpus, read from the source tree).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "tap.h"
#include "decode_ref.h"

#define MAX_RESULTS	10000	/* the max_results default */
#define CORPUS		"t/fuzz/corpus"

struct crafted {
	const char	*name;
	enum decode_status want;
	size_t		 len;
	uint8_t		 b[64];
};

#define C(name, want, ...) { name, want,				\
	sizeof((uint8_t[]){ __VA_ARGS__ }), { __VA_ARGS__ } }

static const struct crafted crafted[] = {
	C("empty body", DECODE_EMPTY),
	C("one result, canonical order", DECODE_OK,
	    0x08, 0x01, 0x10, 0x02, 0x18, 0x03,
	    0x22, 0x0a, 0x08, 0x01, 0x10, 0x50, 0x18, 0x05, 0x20, 0x06,
	    0x28, 0x01, 0x28, 0x90, 0x4e),
	C("results before the header (records move)", DECODE_OK,
	    0x22, 0x02, 0x08, 0x07, 0x22, 0x00, 0x08, 0x01, 0x10, 0x02),
	C("modid repeated after the results: last wins", DECODE_OK,
	    0x08, 0x02, 0x22, 0x02, 0x08, 0x07, 0x08, 0x03),
	C("fields of a result repeated", DECODE_OK,
	    0x22, 0x08, 0x08, 0x01, 0x08, 0x02, 0x28, 0x01, 0x28, 0x00),
	C("negative int32 as a 10-byte varint", DECODE_OK,
	    0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0x01, 0x22, 0x00),
	C("varint of 10 bytes with high bits past 64", DECODE_OK,
	    0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0x7f, 0x22, 0x00),
	C("varint of 11 bytes", DECODE_BAD_BODY,
	    0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0x01),
	C("varint cut off", DECODE_BAD_BODY, 0x08, 0x80),
	C("overlong varint of a small value", DECODE_OK,
	    0x10, 0x85, 0x80, 0x80, 0x80, 0x00, 0x22, 0x00),
	/* the fast path reads up to the body's end: a varint must still
	 * end inside its result */
	C("a result's varint runs past its length, the body goes on",
	    DECODE_BAD_BODY, 0x22, 0x02, 0x08, 0x80, 0x28, 0x05,
	    0x08, 0x01, 0x10, 0x02, 0x18, 0x03, 0x08, 0x01),
	C("a 10-byte ip ending exactly at its result's end", DECODE_OK,
	    0x22, 0x0b, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0x01, 0x28, 0x05, 0x08, 0x01, 0x10, 0x02),
	C("an 11-byte varint inside a long body", DECODE_BAD_BODY,
	    0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0x01, 0x10, 0x02, 0x18, 0x03, 0x28, 0x05),
	C("succ and err above INT32_MAX: clamped", DECODE_OK,
	    0x22, 0x0c, 0x18, 0xff, 0xff, 0xff, 0xff, 0x0f,
	    0x20, 0x80, 0x80, 0x80, 0x80, 0x08),
	C("ts 0: stamped", DECODE_OK, 0x22, 0x00, 0x28, 0x00),
	C("ts set", DECODE_OK, 0x22, 0x00, 0x28, 0x80, 0xb0, 0xd3, 0xaa,
	    0x06),
	C("bool from a varint with high bits only", DECODE_OK,
	    0x22, 0x03, 0x28, 0x80, 0x00),
	C("bool from a 64-bit field", DECODE_OK,
	    0x22, 0x09, 0x29, 0, 0, 0, 0, 0, 0, 0, 0x01),
	C("bool from a 64-bit field of 0x80s", DECODE_OK,
	    0x22, 0x09, 0x29, 0x80, 0, 0, 0, 0, 0, 0, 0x80),
	C("bool from a 32-bit field", DECODE_OK,
	    0x22, 0x05, 0x2d, 0, 0, 1, 0),
	C("bool from an empty length-delimited field", DECODE_OK,
	    0x22, 0x02, 0x2a, 0x00),
	C("bool from a length prefix (its byte counts)", DECODE_OK,
	    0x22, 0x03, 0x2a, 0x01, 0x00),
	C("bool from a cut-off 64-bit field", DECODE_BAD_BODY,
	    0x22, 0x03, 0x29, 0x00, 0x00),
	C("int32 as a 32-bit field", DECODE_BAD_BODY, 0x0d, 1, 0, 0, 0),
	C("int32 as a 64-bit field", DECODE_BAD_BODY,
	    0x09, 1, 0, 0, 0, 0, 0, 0, 0),
	C("int32 length-delimited", DECODE_BAD_BODY, 0x0a, 0x00),
	C("ts length-delimited", DECODE_BAD_BODY, 0x2a, 0x00),
	C("ip as a 32-bit field", DECODE_BAD_BODY,
	    0x22, 0x05, 0x0d, 1, 0, 0, 0),
	C("succ length-delimited", DECODE_BAD_BODY, 0x22, 0x02, 0x1a, 0x00),
	C("results as a varint", DECODE_BAD_BODY, 0x20, 0x01),
	C("results as a 32-bit field", DECODE_BAD_BODY, 0x25, 0, 0, 0, 0),
	C("result length past the end", DECODE_BAD_BODY, 0x22, 0x05, 0x08),
	C("result length prefix cut off", DECODE_BAD_BODY, 0x22, 0x80),
	C("length prefix of 6 bytes", DECODE_BAD_BODY,
	    0x32, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00),
	C("length prefix that wraps 32 bits", DECODE_BAD_BODY,
	    0x32, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x08, 0x01),
	C("length prefix of 2^32", DECODE_BAD_BODY,
	    0x32, 0x80, 0x80, 0x80, 0x80, 0x10, 0x08, 0x01),
	C("overlong length prefix of 0", DECODE_OK,
	    0x22, 0x80, 0x80, 0x00),
	C("garbage inside a result", DECODE_BAD_BODY,
	    0x22, 0x02, 0xff, 0xff),
	C("unknown varint field", DECODE_OK, 0x30, 0x05, 0x22, 0x00),
	C("unknown 64-bit field", DECODE_OK,
	    0x31, 1, 2, 3, 4, 5, 6, 7, 8, 0x22, 0x00),
	C("unknown 32-bit field", DECODE_OK, 0x35, 1, 2, 3, 4, 0x22, 0x00),
	C("unknown length-delimited field", DECODE_OK,
	    0x3a, 0x03, 0xff, 0xff, 0xff, 0x22, 0x00),
	C("unknown fields inside a result", DECODE_OK,
	    0x22, 0x0b, 0x30, 0x01, 0x39, 1, 2, 3, 4, 5, 6, 7, 8),
	C("unknown 64-bit field cut off", DECODE_BAD_BODY, 0x31, 0, 0, 0),
	C("unknown 32-bit field cut off", DECODE_BAD_BODY, 0x35, 0, 0),
	C("start group", DECODE_BAD_BODY, 0x33, 0x34),
	C("end group", DECODE_BAD_BODY, 0x0c),
	C("wire type 6", DECODE_BAD_BODY, 0x0e, 0x00),
	C("wire type 7", DECODE_BAD_BODY, 0x0f, 0x00),
	C("start group inside a result", DECODE_BAD_BODY, 0x22, 0x01, 0x0b),
	C("one-byte tag 0", DECODE_BAD_BODY, 0x00, 0x00),
	C("one-byte tag 0, length-delimited", DECODE_BAD_BODY, 0x02, 0x00),
	C("two-byte tag 0: an unknown field", DECODE_OK,
	    0x80, 0x00, 0x00, 0x22, 0x00),
	C("five-byte tag of field 4", DECODE_OK,
	    0xa2, 0x80, 0x80, 0x80, 0x00, 0x00),
	C("six-byte tag", DECODE_BAD_BODY,
	    0xa2, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00),
	C("tag cut off", DECODE_BAD_BODY, 0x22, 0x00, 0x80),
	C("tag of 2^32 - 1", DECODE_OK,
	    0xf8, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x22, 0x00),
	C("field 4's tag with bits in its 5th byte: unknown", DECODE_EMPTY,
	    0xa0, 0x80, 0x80, 0x80, 0x40, 0x00),
	C("a header, no results", DECODE_EMPTY, 0x08, 0x01, 0x10, 0x02),
	C("only unknown fields", DECODE_EMPTY, 0x30, 0x01),
};

static uint32_t rnd_state = 12345;

static uint32_t
rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

/* A value the encoder writes in 1, 2, 5 or 10 bytes, or leaves out. */
static uint32_t
rnd_value(void)
{
	switch (rnd() % 5) {
	case 0:
		return 0;
	case 1:
		return rnd() % 128;
	case 2:
		return rnd() % 16384;
	default:
		return rnd();
	}
}

/* A random report packed by protobuf-c; the caller frees it. */
static uint8_t *
packed(size_t nres, size_t *len)
{
	Lars__ReportStatusReq m = LARS__REPORT_STATUS_REQ__INIT;
	Lars__HostCallResult h[8], *hp[8];
	uint8_t *b;
	size_t i;

	m.modid = (int32_t)rnd_value();
	m.cmdid = (int32_t)rnd_value();
	m.caller = (int32_t)rnd_value();
	m.ts = rnd_value();
	for (i = 0; i < nres; i++) {
		lars__host_call_result__init(&h[i]);
		h[i].ip = (int32_t)rnd_value();
		h[i].port = (int32_t)rnd_value();
		h[i].succ = rnd_value();
		h[i].err = rnd_value();
		h[i].overload = rnd() & 1;
		hp[i] = &h[i];
	}
	m.n_results = nres;
	m.results = hp;
	*len = lars__report_status_req__get_packed_size(&m);
	if ((b = malloc(*len + 1)) == NULL)
		abort();
	lars__report_status_req__pack(&m, b);
	return b;
}

/* Every prefix, and each byte replaced by a few telling values. */
static int
mutations(const uint8_t *b, size_t len, const char **why)
{
	static const uint8_t subst[] = { 0x00, 0x01, 0x7f, 0x80, 0xff };
	uint8_t *m;
	size_t i, j;
	int n = 0;

	if ((m = malloc(len + 1)) == NULL)
		abort();
	for (i = 0; i < len && *why == NULL; i++, n++)
		*why = decode_ref_check(b, i, MAX_RESULTS);
	for (i = 0; i < len && *why == NULL; i++) {
		for (j = 0; j <= sizeof(subst) && *why == NULL; j++, n++) {
			memcpy(m, b, len);
			/* the last one flips the wire type */
			m[i] = j < sizeof(subst) ? subst[j] : b[i] ^ 0x07;
			*why = decode_ref_check(m, len, MAX_RESULTS);
		}
	}
	free(m);
	return n;
}

static void
test_crafted(void)
{
	const struct crafted *c;
	const char *why;
	struct decoded d;
	size_t i;
	int n = 0;

	for (i = 0; i < sizeof(crafted) / sizeof(crafted[0]); i++) {
		c = &crafted[i];
		why = decode_ref_check(c->b, c->len, MAX_RESULTS);
		if (!ok(why == NULL, "%s: as protobuf-c", c->name))
			diag("  %s", why);
		is_int(decode_report(&d, c->b, c->len, DECODE_REF_NOW,
		    MAX_RESULTS, &decode_ref_rt), c->want, "%s: status",
		    c->name);
		decode_ref_q[0].acked = decode_ref_q[0].sent =
		    decode_ref_q[0].tail;
		decode_ref_q[1].acked = decode_ref_q[1].sent =
		    decode_ref_q[1].tail;
	}
	why = NULL;
	for (i = 0; i < sizeof(crafted) / sizeof(crafted[0]) && why == NULL;
	    i++)
		n += mutations(crafted[i].b, crafted[i].len, &why);
	if (!ok(why == NULL, "%d truncations and mutations of the table", n))
		diag("  %s: %s", crafted[i - 1].name, why);
}

static void
test_packed(void)
{
	const char *why = NULL;
	uint8_t *b;
	size_t len;
	int i, n = 0;

	for (i = 0; i < 3000 && why == NULL; i++, n++) {
		b = packed(rnd() % 6, &len);
		why = decode_ref_check(b, len, MAX_RESULTS);
		free(b);
	}
	if (!ok(why == NULL, "%d random reports packed by protobuf-c", n))
		diag("  %s", why);
	for (i = 0, n = 0; i < 150 && why == NULL; i++) {
		b = packed(1 + rnd() % 3, &len);
		n += mutations(b, len, &why);
		free(b);
	}
	if (!ok(why == NULL, "%d truncations and mutations of packed reports", n))
		diag("  %s", why);
}

/* More results than max_results: nothing queued; and a queue that grows
 * and wraps around under one report. */
static void
test_limits(void)
{
	Lars__ReportStatusReq m = LARS__REPORT_STATUS_REQ__INIT;
	Lars__HostCallResult h, **hp;
	const char *why;
	uint8_t *b;
	size_t len, i, n = 3000;

	lars__host_call_result__init(&h);
	h.ip = -1062731775;
	h.port = 80;
	h.succ = 3000000000u;
	if ((hp = calloc(n, sizeof(*hp))) == NULL)
		abort();
	for (i = 0; i < n; i++)
		hp[i] = &h;
	m.modid = 1;
	m.n_results = n;
	m.results = hp;
	len = lars__report_status_req__get_packed_size(&m);
	if ((b = malloc(len)) == NULL)
		abort();
	lars__report_status_req__pack(&m, b);
	why = decode_ref_check(b, len, n - 1);
	if (!ok(why == NULL, "%zu results, max_results %zu: too many, nothing "
	    "queued", n, n - 1))
		diag("  %s", why);
	for (i = 0; i < 5 && why == NULL; i++)
		why = decode_ref_check(b, len, MAX_RESULTS);
	if (!ok(why == NULL, "%zu results five times: the queue grows and wraps",
	    n))
		diag("  %s", why);
	ok(decode_ref_q[1].cap >= n, "queue grew to %zu", decode_ref_q[1].cap);
	free(b);
	free(hp);
}

static int
corpus_file(const char *path, const char **why)
{
	struct frame f;
	uint8_t *buf, *body;
	size_t len, pos = 1;
	long sz;
	FILE *fp;
	int n = 0;

	if ((fp = fopen(path, "rb")) == NULL)
		return -1;
	fseek(fp, 0, SEEK_END);
	sz = ftell(fp);
	rewind(fp);
	if ((buf = malloc((size_t)sz + 1)) == NULL)
		abort();
	len = fread(buf, 1, (size_t)sz, fp);
	fclose(fp);
	/* byte 0 is the fuzzer's read schedule; then the stream */
	while (pos < len && *why == NULL && frame_parse(buf + pos, len - pos,
	    FRAME_MAX_BODY, &f) == FRAME_OK) {
		if (f.msgid == FRAME_MSGID_REPORT) {
			/* its own block: a read past it is valgrind's */
			if ((body = malloc((size_t)f.msglen + 1)) == NULL)
				abort();
			memcpy(body, f.body, (size_t)f.msglen);
			*why = decode_ref_check(body, (size_t)f.msglen,
			    MAX_RESULTS);
			free(body);
			n++;
		}
		pos += f.size;
	}
	free(buf);
	return n;
}

static void
test_corpus(void)
{
	char path[512];
	const char *why = NULL, *last = "";
	struct dirent *de;
	DIR *dir;
	int files = 0, bodies = 0, n;

	if ((dir = opendir(CORPUS)) == NULL) {
		ok(0, "open %s (run from the source tree)", CORPUS);
		return;
	}
	while ((de = readdir(dir)) != NULL && why == NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", CORPUS, de->d_name);
		if ((n = corpus_file(path, &why)) < 0)
			continue;
		files++;
		bodies += n;
		last = de->d_name;
	}
	closedir(dir);
	ok(files > 0 && bodies > 0, "the seed corpus: %d files, %d report "
	    "bodies", files, bodies);
	if (!ok(why == NULL, "every report body of the seed corpus as "
	    "protobuf-c"))
		diag("  %s: %s", last, why);
}

int
main(void)
{
	test_crafted();
	test_packed();
	test_limits();
	test_corpus();
	queue_free(&decode_ref_q[0]);
	queue_free(&decode_ref_q[1]);
	return done_testing();
}
