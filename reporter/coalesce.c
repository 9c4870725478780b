/*
 * coalesce.c: open-addressing table of the newest record per key
 * (modid, cmdid, ip, port, caller), run by each worker.
 *
 * A record replaces the held one when its ts is newer or equal: records
 * of one key arrive in the order the master received them, so for equal
 * ts the later one wins, as the table's rules say.  The exception is a
 * record moved from an abandoned older generation (RECORD_OLDER): it
 * arrives after records the master received later, so it loses ties.  The table only holds
 * keys not yet flushed; coalesce_clear() empties it after a commit in
 * time proportional to the keys held, not to the table's size.
 */
#include <stdlib.h>
#include <string.h>

#include "coalesce.h"
#include "log.h"

static uint32_t coalesce_hash(const struct record *);
static int coalesce_same(const struct centry *, const struct record *);
static void coalesce_grow(struct coalesce *);
static int coalesce_keycmp(const void *, const void *);

static const struct centry *coalesce_sorting;

int
coalesce_init(struct coalesce *c, size_t cap)
{
	size_t n = 64;

	while (n < cap)
		n <<= 1;
	memset(c, 0, sizeof(*c));
	c->t = calloc(n, sizeof(*c->t));
	c->used = calloc(n, sizeof(*c->used));
	if (c->t == NULL || c->used == NULL) {
		coalesce_free(c);
		return -1;
	}
	c->cap = n;
	return 0;
}

void
coalesce_free(struct coalesce *c)
{
	free(c->t);
	free(c->used);
	memset(c, 0, sizeof(*c));
}

static uint32_t
coalesce_hash(const struct record *r)
{
	return record_key_hash(r->modid, r->cmdid, r->ip, r->port, r->caller);
}

static int
coalesce_same(const struct centry *e, const struct record *r)
{
	return e->modid == r->modid && e->cmdid == r->cmdid &&
	    e->ip == r->ip && e->port == r->port && e->caller == r->caller;
}

static void
coalesce_grow(struct coalesce *c)
{
	struct coalesce n;
	struct record r;
	struct centry *e;
	size_t i;

	if (coalesce_init(&n, c->cap * 2) == -1)
		fatal("%s: %zu entries", __func__, c->cap * 2);
	memset(&r, 0, sizeof(r));
	for (i = 0; i < c->n; i++) {
		e = coalesce_entry(c, i);
		r.modid = e->modid;
		r.cmdid = e->cmdid;
		r.ip = e->ip;
		r.port = e->port;
		r.caller = e->caller;
		r.succ = e->succ;
		r.err = e->err;
		r.ts = e->ts;
		r.overload = e->overload;
		r.flags = e->older ? RECORD_OLDER : 0;
		coalesce_put(&n, &r);
	}
	coalesce_free(c);
	*c = n;
}

/* Returns 1 when the record is now the held one, 0 when it was older. */
int
coalesce_put(struct coalesce *c, const struct record *r)
{
	struct centry *e;
	size_t i;

	if ((c->n + 1) * 4 > c->cap * 3)
		coalesce_grow(c);
	for (i = coalesce_hash(r) & (c->cap - 1);; i = (i + 1) & (c->cap - 1)) {
		e = &c->t[i];
		if (!e->used) {
			e->used = 1;
			e->modid = r->modid;
			e->cmdid = r->cmdid;
			e->ip = r->ip;
			e->port = r->port;
			e->caller = r->caller;
			c->used[c->n++] = (uint32_t)i;
			break;
		}
		if (coalesce_same(e, r)) {
			if (!record_wins(r->ts, r->flags, e->ts))
				return 0;
			break;
		}
	}
	e->succ = r->succ;
	e->err = r->err;
	e->ts = r->ts;
	e->overload = r->overload;
	e->older = (r->flags & RECORD_OLDER) != 0;
	return 1;
}

static int
coalesce_keycmp(const void *a, const void *b)
{
	const struct centry *x = &coalesce_sorting[*(const uint32_t *)a];
	const struct centry *y = &coalesce_sorting[*(const uint32_t *)b];

	if (x->modid != y->modid)
		return x->modid < y->modid ? -1 : 1;
	if (x->cmdid != y->cmdid)
		return x->cmdid < y->cmdid ? -1 : 1;
	if (x->ip != y->ip)
		return x->ip < y->ip ? -1 : 1;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	if (x->caller != y->caller)
		return x->caller < y->caller ? -1 : 1;
	return 0;
}

/* Order the held entries by key, so that every batch locks rows in the
 * same order and two workers can never deadlock each other. */
void
coalesce_sort(struct coalesce *c)
{
	coalesce_sorting = c->t;
	qsort(c->used, c->n, sizeof(c->used[0]), coalesce_keycmp);
	coalesce_sorting = NULL;
}

void
coalesce_clear(struct coalesce *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		c->t[c->used[i]].used = 0;
	c->n = 0;
}
