/*
 * test_ring: the consistent-hash ring places (modid, cmdid) keys evenly
 * over the slots, always the same way, and moves few keys when the slot
 * count changes.
 */
#include <stdlib.h>

#include "reporter.h"
#include "tap.h"

#define NKEYS	100000

static int
key_slot(const struct ring *r, int k)
{
	return ring_lookup(r, k / 1000 + 1, k % 1000 + 1);
}

int
main(void)
{
	struct ring *r3, *r4, *again;
	int count[4] = { 0 }, k, s, moved = 0, wrong = 0, stable = 1;

	r3 = ring_new(3);
	r4 = ring_new(4);
	again = ring_new(3);
	for (k = 0; k < NKEYS; k++) {
		s = key_slot(r3, k);
		if (s < 0 || s >= 3)
			wrong++;
		else
			count[s]++;
		if (key_slot(again, k) != s)
			stable = 0;
		if (key_slot(r4, k) != s) {
			moved++;
			if (key_slot(r4, k) != 3)
				wrong++;	/* moved, but not to the new slot */
		}
	}
	is_int(wrong, 0, "every key maps into range and only moves to the "
	    "new slot");
	ok(stable, "the same slot count maps every key the same way");
	for (s = 0; s < 3; s++)
		ok(count[s] > NKEYS / 3 * 80 / 100 &&
		    count[s] < NKEYS / 3 * 120 / 100,
		    "slot %d holds %d of %d keys (within 20%% of a third)", s,
		    count[s], NKEYS);
	ok(moved > NKEYS / 4 * 70 / 100 && moved < NKEYS / 4 * 130 / 100,
	    "3 -> 4 slots moves %d keys, about a quarter", moved);
	/* one modid, consecutive cmdids: the production pattern */
	count[0] = count[1] = count[2] = 0;
	for (k = 1; k <= 3000; k++)
		count[ring_lookup(r3, 1, k)]++;
	for (s = 0; s < 3; s++)
		ok(count[s] > 800 && count[s] < 1200, "modid 1, cmdids "
		    "1-3000: slot %d holds %d", s, count[s]);
	ok(ring_lookup(r3, -1, -2147483647 - 1) >= 0,
	    "negative modid and cmdid map to a slot");
	ring_free(r3);
	ring_free(r4);
	ring_free(again);
	r3 = ring_new(1);
	for (k = 0, wrong = 0; k < 1000; k++)
		wrong += key_slot(r3, k) != 0;
	is_int(wrong, 0, "one slot takes every key");
	ring_free(r3);
	return done_testing();
}
