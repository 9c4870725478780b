/*
 * record: the fixed-size message the master writes into a worker's pipe,
 * one per HostCallResult.  Both sides include this one definition.
 *
 * Records travel in writes of at most RECORD_PIPE_BATCH records, which is
 * at most PIPE_BUF bytes, so every write is atomic and a reader never sees
 * half a record from a complete write.
 */
#ifndef LARS_RECORD_H
#define LARS_RECORD_H

#include <limits.h>
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

#define RECORD_PIPE_BATCH (PIPE_BUF / sizeof(struct record))

_Static_assert(RECORD_PIPE_BATCH * sizeof(struct record) <= PIPE_BUF,
    "a batch of records must be an atomic pipe write");

#endif
