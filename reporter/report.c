/*
 * report.c: decode a ReportStatusReq body with protobuf-c into an arena
 * that has a byte budget (a hostile body cannot make the master allocate
 * more than that), check it, and turn its results into records: ts 0 is
 * stamped with the receive time, counts the int(11) columns cannot hold
 * are clamped to INT32_MAX and counted.
 */
#include <stdlib.h>
#include <string.h>

#include "lars.pb-c.h"
#include "report.h"

struct arena {
	uint8_t	*base;
	size_t	 used, size;
};

static struct arena report_arena;

static void *arena_alloc(void *, size_t);
static void arena_free(void *, void *);
static int32_t report_clamp(uint32_t, int *);

static ProtobufCAllocator report_alloc = {
	.alloc = arena_alloc,
	.free = arena_free,
	.allocator_data = &report_arena,
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

int
report_init(size_t budget)
{
	free(report_arena.base);
	if ((report_arena.base = malloc(budget)) == NULL)
		return -1;
	report_arena.size = budget;
	report_arena.used = 0;
	return 0;
}

enum report_status
report_decode(struct report *rep, const uint8_t *body, size_t len,
    uint32_t now, size_t max_results)
{
	const Lars__ReportStatusReq *req;

	memset(rep, 0, sizeof(*rep));
	report_arena.used = 0;		/* the previous report is done */
	req = lars__report_status_req__unpack(&report_alloc, len, body);
	if (req == NULL)
		return REPORT_BAD_BODY;
	rep->modid = req->modid;
	rep->cmdid = req->cmdid;
	rep->caller = req->caller;
	rep->ts = req->ts != 0 ? req->ts : now;
	rep->n = req->n_results;
	rep->req = req;
	if (rep->n == 0)
		return REPORT_EMPTY;
	if (rep->n > max_results)
		return REPORT_TOO_MANY;
	return REPORT_OK;
}

static int32_t
report_clamp(uint32_t v, int *clamped)
{
	if (v > INT32_MAX) {
		(*clamped)++;
		return INT32_MAX;
	}
	return (int32_t)v;
}

/* Result i as a record; the caller's record keeps its seq. */
void
report_record(struct report *rep, size_t i, struct record *r)
{
	const Lars__ReportStatusReq *req = rep->req;
	const Lars__HostCallResult *h = req->results[i];

	r->modid = rep->modid;
	r->cmdid = rep->cmdid;
	r->caller = rep->caller;
	r->ip = h->ip;
	r->port = h->port;
	r->succ = report_clamp(h->succ, &rep->clamped);
	r->err = report_clamp(h->err, &rep->clamped);
	r->ts = rep->ts;
	r->overload = h->overload ? 1 : 0;
	r->flags = 0;
	memset(r->pad, 0, sizeof(r->pad));
}
