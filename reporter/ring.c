/*
 * ring.c: the consistent-hash ring that maps (modid, cmdid) to a worker
 * slot.  Each slot owns RING_VNODES points, placed by murmurhash of the
 * slot's number and point index; a key goes to the first point at or after
 * its own hash.  Changing the slot count from N to N+1 moves only about
 * 1/(N+1) of the keys.  Built once per configuration; lookups never
 * allocate.
 */
#include <stdlib.h>

#include "log.h"
#include "murmur.h"
#include "reporter.h"

#define RING_VNODES	160
#define RING_SEED_KEY	0x4c415253	/* "LARS" */
#define RING_SEED_POINT	0x52494e47	/* "RING": keys and points must not
					   share a seed, or key (1, c) would
					   land on point c of slot 1 */

struct ring_point {
	uint32_t	hash;
	int		slot;
};

struct ring {
	int		 npoints;
	struct ring_point p[];
};

static int ring_point_cmp(const void *, const void *);
static uint32_t ring_key_hash(int32_t, int32_t);

static int
ring_point_cmp(const void *a, const void *b)
{
	const struct ring_point *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->slot - y->slot;
}

static uint32_t
ring_key_hash(int32_t modid, int32_t cmdid)
{
	uint8_t k[8];
	uint32_t m = (uint32_t)modid, c = (uint32_t)cmdid;
	int i;

	for (i = 0; i < 4; i++) {
		k[i] = (m >> (8 * i)) & 0xff;
		k[4 + i] = (c >> (8 * i)) & 0xff;
	}
	return murmur3_32(k, sizeof(k), RING_SEED_KEY);
}

struct ring *
ring_new(int nslots)
{
	struct ring *r;
	uint32_t v[2];
	int s, i, n = 0;

	if (nslots < 1)
		fatalx("%s: %d slots", __func__, nslots);
	r = malloc(sizeof(*r) + sizeof(r->p[0]) * nslots * RING_VNODES);
	if (r == NULL)
		fatal("%s: malloc", __func__);
	for (s = 0; s < nslots; s++)
		for (i = 0; i < RING_VNODES; i++) {
			v[0] = (uint32_t)s;
			v[1] = (uint32_t)i;
			r->p[n].hash = murmur3_32(v, sizeof(v),
			    RING_SEED_POINT);
			r->p[n++].slot = s;
		}
	r->npoints = n;
	qsort(r->p, n, sizeof(r->p[0]), ring_point_cmp);
	return r;
}

void
ring_free(struct ring *r)
{
	free(r);
}

int
ring_lookup(const struct ring *r, int32_t modid, int32_t cmdid)
{
	uint32_t h = ring_key_hash(modid, cmdid);
	int lo = 0, hi = r->npoints, mid;

	/* first point with hash >= h; past the last wraps to the first */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (r->p[mid].hash < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return r->p[lo == r->npoints ? 0 : lo].slot;
}
