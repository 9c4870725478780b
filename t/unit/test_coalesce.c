/*
 * test_coalesce: the worker's table keeps the newest record per key
 * (larger ts; equal ts: the later one), grows without losing entries,
 * sorts by key and clears.
 */
#include <string.h>

#include "coalesce.h"
#include "tap.h"

static struct record
rec(int32_t modid, int32_t ip, uint32_t ts, int32_t succ)
{
	struct record r;

	memset(&r, 0, sizeof(r));
	r.modid = modid;
	r.cmdid = 7;
	r.ip = ip;
	r.port = 80;
	r.caller = -5;
	r.ts = ts;
	r.succ = succ;
	r.err = succ / 2;
	r.overload = succ & 1;
	return r;
}

static const struct centry *
find(struct coalesce *c, int32_t modid, int32_t ip)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (coalesce_entry(c, i)->modid == modid &&
		    coalesce_entry(c, i)->ip == ip)
			return coalesce_entry(c, i);
	return NULL;
}

int
main(void)
{
	struct coalesce c;
	struct record r;
	const struct centry *e;
	size_t i;
	int sorted = 1, k, bad = 0;

	ok(coalesce_init(&c, 4) == 0, "init");
	r = rec(1, 10, 100, 1);
	is_int(coalesce_put(&c, &r), 1, "first record is held");
	r = rec(1, 10, 99, 2);
	is_int(coalesce_put(&c, &r), 0, "an older ts is ignored");
	r = rec(1, 10, 100, 3);
	is_int(coalesce_put(&c, &r), 1, "an equal ts replaces (later wins)");
	r = rec(1, 10, 101, 4);
	coalesce_put(&c, &r);
	e = find(&c, 1, 10);
	ok(e != NULL && e->succ == 4 && e->err == 2 && e->ts == 101 &&
	    e->overload == 0, "newest values held");
	is_int((int)c.n, 1, "one key held");

	/* many keys: growth keeps every entry */
	for (k = 0; k < 50000; k++) {
		r = rec(k % 97, -k, (uint32_t)k, k);
		coalesce_put(&c, &r);
	}
	is_int((int)c.n, 50001, "50001 keys held after growth");
	for (k = 0; k < 50000; k += 5000) {	/* find() is a linear scan */
		e = find(&c, k % 97, -k);
		if (e == NULL || e->succ != k)
			bad++;
	}
	is_int(bad, 0, "sampled keys keep their values");
	coalesce_sort(&c);
	for (i = 1; i < c.n; i++) {
		const struct centry *a = coalesce_entry(&c, i - 1);
		const struct centry *b = coalesce_entry(&c, i);

		if (a->modid > b->modid ||
		    (a->modid == b->modid && a->ip >= b->ip))
			sorted = 0;
	}
	ok(sorted, "sorted by key, signed order");
	coalesce_clear(&c);
	is_int((int)c.n, 0, "cleared");
	r = rec(1, 10, 5, 9);
	is_int(coalesce_put(&c, &r), 1, "after clear an old ts is held "
	    "again (the database guards it)");
	coalesce_free(&c);
	return done_testing();
}
