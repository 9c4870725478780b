/*
 * dispatch.c: what the master does with one whole frame: decode the
 * ReportStatusReq (protobuf-c, into an arena with a byte budget), check it,
 * stamp ts 0 with the receive time, clamp counts the int(11) columns
 * cannot hold, pick the worker slot of (modid, cmdid) on the ring and
 * append one record per host result to that slot's queue.  The queues are
 * written to the pipes by master.c after the event batch.
 */
#include <stdlib.h>
#include <time.h>

#include "frame.h"
#include "lars.pb-c.h"
#include "log.h"
#include "reporter.h"

/* Enough for the worst 65527-byte body: ~32k empty results. */
#define DISPATCH_ARENA	(4u << 20)

struct arena {
	uint8_t	*base;
	size_t	 used, size;
};

static struct arena dispatch_arena;

static void *arena_alloc(void *, size_t);
static void arena_free(void *, void *);
static int32_t dispatch_clamp(uint32_t, int *);

static ProtobufCAllocator dispatch_alloc = {
	.alloc = arena_alloc,
	.free = arena_free,
	.allocator_data = &dispatch_arena,
};

static void *
arena_alloc(void *data, size_t size)
{
	struct arena *a = data;
	void *p;

	size = (size + 15) & ~(size_t)15;
	if (size > a->size - a->used)
		return NULL;		/* over budget: the decode fails */
	p = a->base + a->used;
	a->used += size;
	return p;
}

static void
arena_free(void *data, void *p)
{
	(void)data;
	(void)p;
}

void
dispatch_init(void)
{
	if ((dispatch_arena.base = malloc(DISPATCH_ARENA)) == NULL)
		fatal("%s: malloc", __func__);
	dispatch_arena.size = DISPATCH_ARENA;
}

static int32_t
dispatch_clamp(uint32_t v, int *clamped)
{
	if (v > INT32_MAX) {
		(*clamped)++;
		return INT32_MAX;
	}
	return (int32_t)v;
}

/* The queue of the current generation's slot for (modid, cmdid). */
struct queue *
dispatch_queue(int32_t modid, int32_t cmdid)
{
	struct gen *g = master->gen;

	return &g->slots[ring_lookup(g->ring, modid, cmdid)].q;
}

void
dispatch_frame(struct conn *c, int32_t msgid, const uint8_t *body,
    size_t len)
{
	Lars__ReportStatusReq *req;
	const Lars__HostCallResult *h;
	struct record *r;
	struct queue *q;
	uint32_t ts;
	size_t i;
	int clamped = 0;

	if (msgid != FRAME_MSGID_REPORT) {
		master->stats.bad_msgid++;
		log_warnx("%s: skipped a frame of unknown msgid %d (%zu "
		    "bytes)", c->peer, msgid, len);
		return;
	}
	dispatch_arena.used = 0;
	req = lars__report_status_req__unpack(&dispatch_alloc, len, body);
	if (req == NULL) {
		master->stats.bad_body++;
		log_warnx("%s: dropped a frame: %zu bytes do not decode as "
		    "ReportStatusReq", c->peer, len);
		return;
	}
	if (req->n_results == 0) {
		master->stats.empty++;
		return;
	}
	ts = req->ts != 0 ? req->ts : (uint32_t)time(NULL);
	q = dispatch_queue(req->modid, req->cmdid);
	for (i = 0; i < req->n_results; i++) {
		h = req->results[i];
		r = queue_append(q);
		r->modid = req->modid;
		r->cmdid = req->cmdid;
		r->caller = req->caller;
		r->ip = h->ip;
		r->port = h->port;
		r->succ = dispatch_clamp(h->succ, &clamped);
		r->err = dispatch_clamp(h->err, &clamped);
		r->ts = ts;
		r->overload = h->overload ? 1 : 0;
		r->flags = 0;
	}
	master->stats.records += req->n_results;
	if (clamped > 0) {
		master->stats.clamped += (uint64_t)clamped;
		log_warnx("%s: modid %d cmdid %d: %d counts above %d clamped",
		    c->peer, req->modid, req->cmdid, clamped, INT32_MAX);
	}
}
