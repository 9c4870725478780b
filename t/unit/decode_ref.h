/*
 * decode_ref.h: decode_report() held to protobuf-c, for one body; shared
 * by the unit test (t/unit/test_decode.c) and the fuzzer
 * (t/fuzz/fuzz_report.c).
 *
 *	const char *decode_ref_check(const uint8_t *body, size_t len,
 *	    size_t max_results);
 *
 * Decodes the body with lars__report_status_req__unpack() (plain malloc)
 * and with decode_report() into two queues (a slot per parity of modid +
 * cmdid, so that a body whose header changes after its first result
 * makes the decoder move its records), and returns NULL when the two
 * agree: rejected by both; or the same status, header, and one record per
 * result with the same values, clamped and stamped as the master does,
 * consecutive sequence numbers, zero flags and padding, in the right
 * queue, the other queue untouched; any status but DECODE_OK leaves both
 * queues as they were.  Otherwise it returns what differs.
 */
#ifndef LARS_DECODE_REF_H
#define LARS_DECODE_REF_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "lars.pb-c.h"
#include "reporter.h"

#define DECODE_REF_NOW	1700000000u	/* the receive time stamped on ts 0 */

static struct queue decode_ref_q[2];
static char decode_ref_why[256];
static struct decoded decode_ref_last;	/* the decoder's last answer */
static enum decode_status decode_ref_status;

static struct queue *
decode_ref_route(void *arg, int32_t modid, int32_t cmdid)
{
	(void)arg;
	return &decode_ref_q[((uint32_t)modid + (uint32_t)cmdid) & 1];
}

static const struct decode_route decode_ref_rt = { decode_ref_route, NULL };

static int32_t
decode_ref_clamp(uint32_t v)
{
	return v > INT32_MAX ? INT32_MAX : (int32_t)v;
}

#define DECODE_REF_FAIL(...) do {					\
	snprintf(decode_ref_why, sizeof(decode_ref_why), __VA_ARGS__);	\
	goto out;							\
} while (0)

static const char *
decode_ref_records(const struct decoded *d, const Lars__ReportStatusReq *m,
    uint32_t ts)
{
	static const uint8_t zero[6];
	const Lars__HostCallResult *h;
	const struct record *r;
	size_t i;
	int clamped = 0;

	for (i = 0; i < m->n_results; i++) {
		h = m->results[i];
		r = queue_at(d->q, d->first + i);
		if (r->seq != queue_at(d->q, d->first)->seq + i ||
		    r->modid != m->modid || r->cmdid != m->cmdid ||
		    r->caller != m->caller || r->ts != ts ||
		    r->ip != h->ip || r->port != h->port ||
		    r->succ != decode_ref_clamp(h->succ) ||
		    r->err != decode_ref_clamp(h->err) ||
		    r->overload != (h->overload ? 1 : 0) || r->flags != 0 ||
		    memcmp(r->pad, zero, sizeof(zero)) != 0) {
			snprintf(decode_ref_why, sizeof(decode_ref_why),
			    "record %zu: seq %llu %d/%d/%d ip %d port %d succ %d "
			    "err %d ts %u ov %u; protobuf-c: ip %d port %d succ "
			    "%u err %u ov %d", i, (unsigned long long)r->seq,
			    r->modid, r->cmdid, r->caller, r->ip, r->port,
			    r->succ, r->err, r->ts, r->overload, h->ip, h->port,
			    h->succ, h->err, h->overload);
			return decode_ref_why;
		}
		clamped += (h->succ > INT32_MAX) + (h->err > INT32_MAX);
	}
	if (d->clamped != clamped) {
		snprintf(decode_ref_why, sizeof(decode_ref_why),
		    "%d clamped, protobuf-c says %d", d->clamped, clamped);
		return decode_ref_why;
	}
	return NULL;
}

static const char *
decode_ref_check(const uint8_t *body, size_t len, size_t max_results)
{
	Lars__ReportStatusReq *m;
	struct decoded d;
	enum decode_status st, want;
	uint64_t tail[2], seq[2];
	const char *why = NULL;
	uint32_t ts;
	int i, k;

	decode_ref_why[0] = '\0';
	for (i = 0; i < 2; i++) {
		if (decode_ref_q[i].r == NULL &&
		    queue_init(&decode_ref_q[i], 1024) == -1)
			abort();
		tail[i] = decode_ref_q[i].tail;
		seq[i] = decode_ref_q[i].next_seq;
	}
	m = lars__report_status_req__unpack(NULL, len, body);
	st = decode_report(&d, body, len, DECODE_REF_NOW, max_results,
	    &decode_ref_rt);
	decode_ref_last = d;
	decode_ref_status = st;
	want = m == NULL ? DECODE_BAD_BODY : m->n_results == 0 ?
	    DECODE_EMPTY : m->n_results > max_results ? DECODE_TOO_MANY :
	    DECODE_OK;
	if (st != want)
		DECODE_REF_FAIL("status %d, protobuf-c says %d", st, want);
	if (st != DECODE_OK) {
		for (i = 0; i < 2; i++)
			if (decode_ref_q[i].tail != tail[i] ||
			    decode_ref_q[i].next_seq != seq[i])
				DECODE_REF_FAIL("status %d left records in "
				    "queue %d", st, i);
	}
	if (m == NULL)
		goto out;
	ts = m->ts != 0 ? m->ts : DECODE_REF_NOW;
	if (d.modid != m->modid || d.cmdid != m->cmdid ||
	    d.caller != m->caller || d.ts != ts || d.n != m->n_results)
		DECODE_REF_FAIL("header %d/%d/%d ts %u n %zu, protobuf-c "
		    "%d/%d/%d ts %u n %zu", d.modid, d.cmdid, d.caller, d.ts,
		    d.n, m->modid, m->cmdid, m->caller, ts, m->n_results);
	if (st != DECODE_OK)
		goto out;
	k = d.q == decode_ref_route(NULL, m->modid, m->cmdid) ?
	    (int)(d.q - decode_ref_q) : -1;
	if (k == -1 || d.first != tail[k] ||
	    d.q->tail != tail[k] + m->n_results ||
	    decode_ref_q[1 - k].tail != tail[1 - k] ||
	    decode_ref_q[1 - k].next_seq != seq[1 - k])
		DECODE_REF_FAIL("records in the wrong queue or place");
	if (queue_at(d.q, d.first)->seq != seq[k])
		DECODE_REF_FAIL("first seq %llu, expected %llu",
		    (unsigned long long)queue_at(d.q, d.first)->seq,
		    (unsigned long long)seq[k]);
	if ((why = decode_ref_records(&d, m, ts)) != NULL)
		goto out;
out:
	if (why == NULL && decode_ref_why[0] != '\0')
		why = decode_ref_why;
	if (m != NULL)
		lars__report_status_req__free_unpacked(m, NULL);
	for (i = 0; i < 2; i++)	/* as if the workers acked it all */
		decode_ref_q[i].acked = decode_ref_q[i].sent =
		    decode_ref_q[i].tail;
	return why;
}

#endif
