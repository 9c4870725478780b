/*
 * dispatch.c: what the master does with one whole frame: skip an unknown
 * msgid, decode the report (decode.c) straight into the queue of the
 * worker slot of (modid, cmdid) on the current generation's ring, count
 * and log what the decoder refused.  master.c writes the queues to the
 * pipes after the event batch.
 *
 * The ring's answer for a (modid, cmdid) is kept in a small direct-mapped
 * cache, tagged with the generation it was asked of: an agent repeats its
 * (modid, cmdid) constantly, and the ring's hash and binary search cost
 * more than decoding a result.
 *
 * The receive time is stamped once, into every record: for ts 0
 * (decode.c) and for a ts further than max_clock_skew from it, either
 * way, so that a replay, a compaction or a new generation carries the
 * stamp and never the agent's wrong clock.
 */
#include "frame.h"
#include "decode.h"
#include "log.h"
#include "reporter.h"

#define DISPATCH_CACHE	4096	/* entries, a power of two */

struct dispatch_entry {
	int32_t		 modid, cmdid;
	int		 gen;		/* generation id + 1; 0: empty */
	struct queue	*q;
};

static struct dispatch_entry dispatch_cache[DISPATCH_CACHE];

static struct queue *dispatch_route(void *, int32_t, int32_t);
static void dispatch_skew(struct conn *, struct decoded *, uint32_t);

static const struct decode_route dispatch_rt = { dispatch_route, NULL };

/* The queue of the current generation's slot for (modid, cmdid). */
struct queue *
dispatch_queue(int32_t modid, int32_t cmdid)
{
	struct gen *g = master->gen;

	return &g->slots[ring_lookup(g->ring, modid, cmdid)].q;
}

static struct queue *
dispatch_route(void *arg, int32_t modid, int32_t cmdid)
{
	struct dispatch_entry *e;
	uint32_t h;

	(void)arg;
	h = ((uint32_t)modid * 0x9e3779b1u) ^ ((uint32_t)cmdid * 0x85ebca77u);
	e = &dispatch_cache[(h >> 16) & (DISPATCH_CACHE - 1)];
	if (e->gen != master->gen->id + 1 || e->modid != modid ||
	    e->cmdid != cmdid) {
		e->modid = modid;
		e->cmdid = cmdid;
		e->gen = master->gen->id + 1;
		e->q = dispatch_queue(modid, cmdid);
	}
	return e->q;
}

/*
 * A ts that far off is the agent's clock, not its report's age: trusted,
 * one in the future would freeze the row and one in the past would be
 * ignored.  It is counted, logged (rate-limited per peer) and replaced in
 * the report's records.
 */
static void
dispatch_skew(struct conn *c, struct decoded *rep, uint32_t now)
{
	int64_t d = (int64_t)rep->ts - (int64_t)now;
	int skew = master->conf->max_clock_skew;
	size_t i;

	if (skew == 0 || (d <= skew && d >= -skew))
		return;
	if (d > 0)
		master->stats.skew_ahead++;
	else
		master->stats.skew_behind++;
	conn_warn(c, "modid %d cmdid %d: ts %u is %lld s %s the receive "
	    "time, more than max_clock_skew %d: stored as %u", rep->modid,
	    rep->cmdid, rep->ts, (long long)(d > 0 ? d : -d),
	    d > 0 ? "ahead of" : "behind", skew, now);
	rep->ts = now;
	for (i = 0; i < rep->n; i++)
		queue_at(rep->q, rep->first + i)->ts = now;
}

void
dispatch_frame(struct conn *c, int32_t msgid, const uint8_t *body,
    size_t len)
{
	struct decoded rep;

	if (msgid != FRAME_MSGID_REPORT) {
		master->stats.bad_msgid++;
		conn_warn(c, "skipped a frame of unknown msgid %d (%zu bytes)",
		    msgid, len);
		return;
	}
	switch (decode_report(&rep, body, len, master->now_s,
	    (size_t)master->conf->max_results, &dispatch_rt)) {
	case DECODE_OK:
		break;
	case DECODE_EMPTY:
		master->stats.empty++;
		return;
	case DECODE_BAD_BODY:
		master->stats.bad_body++;
		conn_warn(c, "dropped a frame: %zu bytes do not decode as "
		    "ReportStatusReq", len);
		return;
	case DECODE_TOO_MANY:
		master->stats.too_many++;
		conn_warn(c, "dropped a frame: %zu results, max_results is %d",
		    rep.n, master->conf->max_results);
		return;
	}
	dispatch_skew(c, &rep, (uint32_t)master->now_s);
	master->stats.records += rep.n;
	if (rep.clamped > 0) {
		master->stats.clamped += (uint64_t)rep.clamped;
		conn_warn(c, "modid %d cmdid %d: %d counts above %d clamped",
		    rep.modid, rep.cmdid, rep.clamped, INT32_MAX);
	}
}
