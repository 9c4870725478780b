/*
 * dispatch.c: what the master does with one whole frame: skip an unknown
 * msgid, decode and check the report (report.c), pick the worker slot of
 * (modid, cmdid) on the current generation's ring and append one record
 * per host result to that slot's queue.  master.c writes the queues to the
 * pipes after the event batch.
 *
 * The receive time is stamped here, once, into every record: for ts 0
 * (report.c) and for a ts further than max_clock_skew from it, either
 * way, so that a replay, a compaction or a new generation carries the
 * stamp and never the agent's wrong clock.
 */
#include <time.h>

#include "frame.h"
#include "log.h"
#include "report.h"
#include "reporter.h"

static void dispatch_skew(struct conn *, struct report *, uint32_t);

/* The worst 65527-byte body (32762 empty results) takes 3.9 MB here. */
#define DISPATCH_ARENA	(8u << 20)

void
dispatch_init(void)
{
	if (report_init(DISPATCH_ARENA) == -1)
		fatal("%s: report_init", __func__);
}

/* The queue of the current generation's slot for (modid, cmdid). */
struct queue *
dispatch_queue(int32_t modid, int32_t cmdid)
{
	struct gen *g = master->gen;

	return &g->slots[ring_lookup(g->ring, modid, cmdid)].q;
}

/*
 * A ts that far off is the agent's clock, not its report's age: trusted,
 * one in the future would freeze the row and one in the past would be
 * ignored.  It is counted, logged (rate-limited per peer) and replaced.
 */
static void
dispatch_skew(struct conn *c, struct report *rep, uint32_t now)
{
	int64_t d = (int64_t)rep->ts - (int64_t)now;
	int skew = master->conf->max_clock_skew;

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
}

void
dispatch_frame(struct conn *c, int32_t msgid, const uint8_t *body,
    size_t len)
{
	uint32_t now = (uint32_t)time(NULL);
	struct report rep;
	struct queue *q;
	size_t i;

	if (msgid != FRAME_MSGID_REPORT) {
		master->stats.bad_msgid++;
		conn_warn(c, "skipped a frame of unknown msgid %d (%zu bytes)",
		    msgid, len);
		return;
	}
	switch (report_decode(&rep, body, len, now,
	    (size_t)master->conf->max_results)) {
	case REPORT_OK:
		break;
	case REPORT_EMPTY:
		master->stats.empty++;
		return;
	case REPORT_BAD_BODY:
		master->stats.bad_body++;
		conn_warn(c, "dropped a frame: %zu bytes do not decode as "
		    "ReportStatusReq", len);
		return;
	case REPORT_TOO_MANY:
		master->stats.too_many++;
		conn_warn(c, "dropped a frame: %zu results, max_results is %d",
		    rep.n, master->conf->max_results);
		return;
	}
	dispatch_skew(c, &rep, now);
	q = dispatch_queue(rep.modid, rep.cmdid);
	for (i = 0; i < rep.n; i++)
		report_record(&rep, i, queue_append(q));
	master->stats.records += rep.n;
	if (rep.clamped > 0) {
		master->stats.clamped += (uint64_t)rep.clamped;
		conn_warn(c, "modid %d cmdid %d: %d counts above %d clamped",
		    rep.modid, rep.cmdid, rep.clamped, INT32_MAX);
	}
}
