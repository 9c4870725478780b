/*
 * decode.c: the master's decoder of a ReportStatusReq body, in one pass:
 * each HostCallResult becomes a record in the queue of its worker slot as
 * soon as it is read; nothing is allocated and no message is built.  ts 0
 * is stamped with the receive time; counts the int(11) columns cannot hold
 * are clamped to INT32_MAX and counted.
 *
 * It accepts and rejects exactly what protobuf-c 1.4's generated
 * lars__report_status_req__unpack() does, with the same values (t/unit/
 * test_decode.c and t/fuzz/fuzz_report.c hold it to that):
 *  - a key is a varint of at most 5 bytes whose first byte has some tag
 *    bit set (a one-byte tag 0 is an error, a longer one is an unknown
 *    field); wire types 3, 4, 6 and 7 are errors, known field or not;
 *  - a varint runs at most 10 bytes; an int32 or uint32 field takes its
 *    low 32 bits; a length prefix runs at most 5 bytes and may not pass
 *    the end;
 *  - the int32 and uint32 fields must be varints and results length-
 *    delimited, or the body is rejected; a bool takes any wire type and
 *    is true when any value byte (a length prefix included) has one of
 *    its low 7 bits set;
 *  - a repeated scalar field: the last one wins; unknown fields skipped.
 * The proto is proto3: no field is required.
 *
 * The slot depends on (modid, cmdid), which may come after the results
 * in a body (or change there): the records go to the slot of what was
 * seen at the first result and move if the end says otherwise.  modid,
 * cmdid, caller and ts (which an agent writes after the results) are
 * filled into the records at the end.  A body that fails, or holds more
 * than max_results results, leaves the queue as it found it.
 */
#include <limits.h>
#include <string.h>

#include "decode.h"
#include "log.h"
#include "reporter.h"

enum {
	WT_VARINT = 0,
	WT_64BIT = 1,
	WT_LEN = 2,
	WT_32BIT = 5,
};

/* One field as protobuf-c scans it. */
struct field {
	uint32_t	 tag;
	unsigned int	 wt;
	const uint8_t	*data;		/* the value (wt 2: its length prefix) */
	size_t		 len;		/* its bytes, a length prefix included */
	size_t		 pref;		/* wt 2: bytes of the length prefix */
};

struct result {
	int32_t		 ip, port;
	uint32_t	 succ, err;
	uint8_t		 overload;
};

struct decoder {
	const struct decode_route *rt;
	const uint8_t	*lim;		/* the end of the body */
	struct queue	*q;		/* NULL until the first record */
	int32_t		 modid, cmdid;	/* what q was chosen for */
	uint64_t	 first;		/* position of the first record */
	size_t		 n, max;
	int		 clamped;
};

static const uint8_t *decode_varint(const uint8_t *, const uint8_t *,
    const uint8_t *, uint32_t *);
static const uint8_t *decode_len(const uint8_t *, const uint8_t *,
    const uint8_t **);
static int decode_key(const uint8_t **, const uint8_t *, struct field *);
static int decode_field(const uint8_t **, const uint8_t *, struct field *);
static uint32_t decode_u32(const struct field *);
static uint8_t decode_bool(const struct field *);
static int decode_result(const uint8_t *, const uint8_t *,
    const uint8_t *, struct result *);
static int decode_result_field(const uint8_t **, const uint8_t *,
    struct result *);
static int decode_header_field(const uint8_t **, const uint8_t *,
    struct decoded *, struct decoder *);
static int32_t decode_clamp(uint32_t, int *);
static void decode_append(struct decoder *, const struct result *,
    int32_t, int32_t);
static void decode_move(struct decoder *, struct queue *);
static void decode_undo(struct decoder *);
static void decode_finish(struct decoder *, const struct decoded *);
static int decode_one(struct decoder *, struct decoded *, const uint8_t *,
    const uint8_t *);
static int decode_body(struct decoder *, struct decoded *, const uint8_t *,
    const uint8_t *);

/*
 * The varint at p and the byte after it, or NULL when it runs past end (or
 * there is none) or past 10 bytes; *v gets its low 32 bits.  The fast path
 * of the fields a body is made of; decode_field() is the general one.
 * lim, at or past end, is the end of the body: where 10 bytes lie before
 * it, the bytes are read unrolled and unchecked, and only the varint's end
 * is compared with end (an agent's negative int32, an IP, is 10 bytes).
 * Unrolled by hand: a loop of 10, even apart from the bounded one, took
 * 10% longer per frame.
 */
static inline const uint8_t *
decode_varint(const uint8_t *p, const uint8_t *end, const uint8_t *lim,
    uint32_t *v)
{
	size_t max = (size_t)(end - p) < 10 ? (size_t)(end - p) : 10, i;
	const uint8_t *q;
	uint32_t x;

	if (lim - p >= 10) {
		x = p[0];
		if (x < 0x80) {
			q = p + 1;
			goto done;
		}
		x = (x & 0x7f) | (uint32_t)p[1] << 7;
		if (p[1] < 0x80) {
			q = p + 2;
			goto done;
		}
		x = (x & 0x3fff) | (uint32_t)p[2] << 14;
		if (p[2] < 0x80) {
			q = p + 3;
			goto done;
		}
		x = (x & 0x1fffff) | (uint32_t)p[3] << 21;
		if (p[3] < 0x80) {
			q = p + 4;
			goto done;
		}
		x = (x & 0xfffffff) | (uint32_t)p[4] << 28;
		for (q = p + 4; q < p + 10; q++)
			if (*q < 0x80) {
				q++;
				goto done;
			}
		return NULL;
done:
		if (q > end)
			return NULL;
		*v = x;
		return q;
	}
	for (x = 0, i = 0; i < max; i++) {
		if (i < 5)
			x |= (uint32_t)(p[i] & 0x7f) << (7 * i);
		if (p[i] < 0x80) {
			*v = x;
			return p + i + 1;
		}
	}
	return NULL;
}

/* A length prefix at p: the end of what it delimits, which
 * starts at *start; NULL when it is bad or passes the end. */
static inline const uint8_t *
decode_len(const uint8_t *p, const uint8_t *end, const uint8_t **start)
{
	size_t rem = (size_t)(end - p), max = rem < 5 ? rem : 5, i;
	uint64_t v = 0;

	if (rem == 0)
		return NULL;
	if (p[0] < 0x80 && p[0] < rem) {
		*start = p + 1;
		return p + 1 + p[0];
	}
	for (i = 0; i < max; i++) {
		v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (p[i] < 0x80)
			break;
	}
	if (i == max || v > rem - (i + 1))
		return NULL;
	*start = p + i + 1;
	return *start + v;
}

/* The key at *p, as parse_tag_and_wiretype(); -1: protobuf-c stops. */
static int
decode_key(const uint8_t **pp, const uint8_t *end, struct field *f)
{
	const uint8_t *p = *pp;
	size_t max = (size_t)(end - p) < 5 ? (size_t)(end - p) : 5, i;
	uint32_t tag;
	unsigned int shift = 4;

	if ((p[0] & 0xf8) == 0)
		return -1;	/* tag 0 */
	f->wt = p[0] & 7;
	tag = (uint32_t)(p[0] & 0x7f) >> 3;
	if ((p[0] & 0x80) == 0) {
		f->tag = tag;
		*pp = p + 1;
		return 0;
	}
	for (i = 1; i < max; i++, shift += 7) {
		tag |= (uint32_t)(p[i] & 0x7f) << shift;
		if ((p[i] & 0x80) == 0) {
			f->tag = tag;
			*pp = p + i + 1;
			return 0;
		}
	}
	return -1;
}

/* The field at *p, skipped over; -1: protobuf-c would reject the body. */
static int
decode_field(const uint8_t **pp, const uint8_t *end, struct field *f)
{
	const uint8_t *p;
	size_t rem, max, i;
	uint64_t v = 0;

	if (decode_key(pp, end, f) == -1)
		return -1;
	p = f->data = *pp;
	rem = (size_t)(end - p);
	switch (f->wt) {
	case WT_VARINT:
		max = rem < 10 ? rem : 10;
		for (i = 0; i < max && (p[i] & 0x80) != 0; i++)
			;
		if (i == max)
			return -1;
		f->len = i + 1;
		break;
	case WT_64BIT:
	case WT_32BIT:
		f->len = f->wt == WT_64BIT ? 8 : 4;
		if (rem < f->len)
			return -1;
		break;
	case WT_LEN:
		max = rem < 5 ? rem : 5;
		for (i = 0; i < max; i++) {
			v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
			if ((p[i] & 0x80) == 0)
				break;
		}
		if (i == max || v > rem - (i + 1))
			return -1;
		f->pref = i + 1;
		f->len = f->pref + (size_t)v;
		break;
	default:
		return -1;	/* groups, 6, 7 */
	}
	*pp = p + f->len;
	return 0;
}

/* A varint's low 32 bits, as parse_uint32(). */
static uint32_t
decode_u32(const struct field *f)
{
	const uint8_t *p = f->data;
	uint32_t v = 0;
	size_t i, n = f->len < 5 ? f->len : 5;

	for (i = 0; i < n; i++)
		v |= (uint32_t)(p[i] & 0x7f) << (7 * i);
	return v;
}

/* parse_boolean(): any low bit of any byte of the value. */
static uint8_t
decode_bool(const struct field *f)
{
	size_t i;

	for (i = 0; i < f->len; i++)
		if (f->data[i] & 0x7f)
			return 1;
	return 0;
}

/* A field of a result, any key: the general path. */
static int
decode_result_field(const uint8_t **pp, const uint8_t *end,
    struct result *r)
{
	struct field f;

	if (decode_field(pp, end, &f) == -1)
		return -1;
	if (f.tag >= 1 && f.tag <= 4 && f.wt != WT_VARINT)
		return -1;
	switch (f.tag) {
	case 1:
		r->ip = (int32_t)decode_u32(&f);
		break;
	case 2:
		r->port = (int32_t)decode_u32(&f);
		break;
	case 3:
		r->succ = decode_u32(&f);
		break;
	case 4:
		r->err = decode_u32(&f);
		break;
	case 5:
		r->overload = decode_bool(&f);
		break;
	}
	return 0;
}

/* One HostCallResult in [p, end); -1: the body is rejected.  One-byte
 * keys of its fields as varints are the fast path. */
static int
decode_result(const uint8_t *p, const uint8_t *end, const uint8_t *lim,
    struct result *r)
{
	uint32_t v;

	memset(r, 0, sizeof(*r));
	while (p < end) {
		switch (p[0]) {
		case 0x08:
			if ((p = decode_varint(p + 1, end, lim, &v)) == NULL)
				return -1;
			r->ip = (int32_t)v;
			break;
		case 0x10:
			if ((p = decode_varint(p + 1, end, lim, &v)) == NULL)
				return -1;
			r->port = (int32_t)v;
			break;
		case 0x18:
			if ((p = decode_varint(p + 1, end, lim, &v)) == NULL)
				return -1;
			r->succ = v;
			break;
		case 0x20:
			if ((p = decode_varint(p + 1, end, lim, &v)) == NULL)
				return -1;
			r->err = v;
			break;
		case 0x28:
			/* a bool of one byte; longer ones count every bit */
			if (end - p >= 2 && p[1] < 0x80) {
				r->overload = p[1] != 0;
				p += 2;
				break;
			}
			/* FALLTHROUGH */
		default:
			if (decode_result_field(&p, end, r) == -1)
				return -1;
			break;
		}
	}
	return 0;
}

static int32_t
decode_clamp(uint32_t v, int *clamped)
{
	if (v > INT32_MAX) {
		(*clamped)++;
		return INT32_MAX;
	}
	return (int32_t)v;
}

/* Queue result r; the first one picks the queue by (modid, cmdid). */
static void
decode_append(struct decoder *d, const struct result *res, int32_t modid,
    int32_t cmdid)
{
	struct record *r;

	if (d->q == NULL) {
		d->q = d->rt->route(d->rt->arg, modid, cmdid);
		d->modid = modid;
		d->cmdid = cmdid;
		d->first = d->q->tail;
	}
	r = queue_append(d->q);
	r->ip = res->ip;
	r->port = res->port;
	r->succ = decode_clamp(res->succ, &d->clamped);
	r->err = decode_clamp(res->err, &d->clamped);
	r->overload = res->overload;
	r->flags = 0;
	memset(r->pad, 0, sizeof(r->pad));
}

/* (modid, cmdid) changed after the first result: move the records. */
static void
decode_move(struct decoder *d, struct queue *to)
{
	struct record *r;
	uint64_t first = to->tail, seq;
	size_t i;

	for (i = 0; i < d->n; i++) {
		r = queue_append(to);
		seq = r->seq;
		*r = *queue_at(d->q, d->first + i);
		r->seq = seq;
	}
	queue_truncate(d->q, d->first);
	d->q = to;
	d->first = first;
}

static void
decode_undo(struct decoder *d)
{
	if (d->q != NULL)
		queue_truncate(d->q, d->first);
	d->q = NULL;
}

/* The header, known only now, into every record. */
static void
decode_finish(struct decoder *d, const struct decoded *h)
{
	struct queue *to;
	struct record *r;
	size_t i;

	if (h->modid != d->modid || h->cmdid != d->cmdid) {
		to = d->rt->route(d->rt->arg, h->modid, h->cmdid);
		if (to != d->q)
			decode_move(d, to);
	}
	for (i = 0; i < d->n; i++) {
		r = queue_at(d->q, d->first + i);
		r->modid = h->modid;
		r->cmdid = h->cmdid;
		r->caller = h->caller;
		r->ts = h->ts;
	}
}

/* A result: decoded, counted, queued unless there are too many. */
static int
decode_one(struct decoder *d, struct decoded *h, const uint8_t *p,
    const uint8_t *end)
{
	struct result res;

	if (decode_result(p, end, d->lim, &res) == -1)
		return -1;
	if (++d->n <= d->max)
		decode_append(d, &res, h->modid, h->cmdid);
	return 0;
}

/* A field of the report, any key: the general path. */
static int
decode_header_field(const uint8_t **pp, const uint8_t *end,
    struct decoded *h, struct decoder *d)
{
	struct field f;

	if (decode_field(pp, end, &f) == -1)
		return -1;
	if (f.tag >= 1 && f.tag <= 5 &&
	    f.wt != (f.tag == 4 ? WT_LEN : WT_VARINT))
		return -1;
	switch (f.tag) {
	case 1:
		h->modid = (int32_t)decode_u32(&f);
		break;
	case 2:
		h->cmdid = (int32_t)decode_u32(&f);
		break;
	case 3:
		h->caller = (int32_t)decode_u32(&f);
		break;
	case 4:
		return decode_one(d, h, f.data + f.pref, *pp);
	case 5:
		h->ts = decode_u32(&f);
		break;
	}
	return 0;
}

/* The fields of the report; one-byte keys of the right wire type are the
 * fast path. */
static int
decode_body(struct decoder *d, struct decoded *h, const uint8_t *p,
    const uint8_t *end)
{
	const uint8_t *sub;
	uint32_t v;

	while (p < end) {
		switch (p[0]) {
		case 0x08:
			if ((p = decode_varint(p + 1, end, d->lim, &v)) == NULL)
				return -1;
			h->modid = (int32_t)v;
			break;
		case 0x10:
			if ((p = decode_varint(p + 1, end, d->lim, &v)) == NULL)
				return -1;
			h->cmdid = (int32_t)v;
			break;
		case 0x18:
			if ((p = decode_varint(p + 1, end, d->lim, &v)) == NULL)
				return -1;
			h->caller = (int32_t)v;
			break;
		case 0x22:
			if ((p = decode_len(p + 1, end, &sub)) == NULL ||
			    decode_one(d, h, sub, p) == -1)
				return -1;
			break;
		case 0x28:
			if ((p = decode_varint(p + 1, end, d->lim, &v)) == NULL)
				return -1;
			h->ts = v;
			break;
		default:
			if (decode_header_field(&p, end, h, d) == -1)
				return -1;
			break;
		}
	}
	return 0;
}

enum decode_status
decode_report(struct decoded *h, const uint8_t *body, size_t len,
    uint32_t now, size_t max_results, const struct decode_route *rt)
{
	struct decoder d;

	memset(h, 0, sizeof(*h));
	memset(&d, 0, sizeof(d));
	d.rt = rt;
	d.lim = body + len;
	d.max = max_results;
	if (decode_body(&d, h, body, body + len) == -1) {
		decode_undo(&d);
		h->n = d.n;
		return DECODE_BAD_BODY;
	}
	h->n = d.n;
	if (h->ts == 0)
		h->ts = now;
	if (d.n == 0)
		return DECODE_EMPTY;
	if (d.n > d.max) {
		decode_undo(&d);
		return DECODE_TOO_MANY;
	}
	decode_finish(&d, h);
	h->q = d.q;
	h->first = d.first;
	h->clamped = d.clamped;
	return DECODE_OK;
}
