/*
 * record: the fixed-size message the master writes into a worker's pipe,
 * one per HostCallResult.  Both sides include this one definition.
 *
 * Records travel as a byte stream: the master is a pipe's only writer
 * and writes up to 96 KiB at a time (queue.c), so a write the full pipe
 * cuts short may end inside a record, whose rest comes first in the next
 * write; the worker keeps a partial record until the rest arrives.
 */
#ifndef LARS_RECORD_H
#define LARS_RECORD_H

#include <stdint.h>

struct record {
	uint64_t seq;		/* per worker slot, assigned by the master */
	int32_t modid;
	int32_t cmdid;
	int32_t ip;		/* the int32 the agent sent, host order */
	int32_t port;
	int32_t caller;
	int32_t succ;		/* clamped to INT32_MAX by the master */
	int32_t err;
	uint32_t ts;		/* seconds; never 0 (stamped by the master) */
	uint8_t overload;	/* 0 or 1 */
	uint8_t flags;		/* RECORD_* */
	uint8_t pad[6];
};

/* Moved from an abandoned older generation: it loses ties on ts against
 * what the new generation received, which came later. */
#define RECORD_OLDER	0x01

_Static_assert(sizeof(struct record) == 48, "record must be 48 bytes");

static inline int
record_same_key(const struct record *a, const struct record *b)
{
	return a->modid == b->modid && a->cmdid == b->cmdid &&
	    a->ip == b->ip && a->port == b->port && a->caller == b->caller;
}

static inline uint32_t
record_key_hash(int32_t modid, int32_t cmdid, int32_t ip, int32_t port,
    int32_t caller)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL;

	h = (h ^ (uint32_t)modid) * 0xff51afd7ed558ccdULL;
	h = (h ^ (uint32_t)cmdid) * 0xc4ceb9fe1a85ec53ULL;
	h = (h ^ (uint32_t)ip) * 0xff51afd7ed558ccdULL;
	h = (h ^ (uint32_t)port) * 0xc4ceb9fe1a85ec53ULL;
	h = (h ^ (uint32_t)caller) * 0xff51afd7ed558ccdULL;
	return (uint32_t)(h ^ (h >> 32));
}

/*
 * Does a record of a key, received after one with held_ts, replace it?
 * Newer ts wins; equal ts: the later one, unless it was moved from an
 * abandoned older generation (then it was received earlier).
 */
static inline int
record_wins(uint32_t ts, uint8_t flags, uint32_t held_ts)
{
	return ts > held_ts || (ts == held_ts && !(flags & RECORD_OLDER));
}

#endif
