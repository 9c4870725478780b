/*
 * decode.h: the master's single-pass decoder of a ReportStatusReq body.
 * It reads the body once and appends one record per HostCallResult to
 * the queue of the worker slot that route() names for (modid, cmdid); no
 * allocation, no intermediate message.  No master state, so that the
 * tests and the fuzzer drive it with their own queues.
 */
#ifndef LARS_DECODE_H
#define LARS_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

struct queue;

enum decode_status {
	DECODE_OK,
	DECODE_EMPTY,		/* no results: nothing to store */
	DECODE_BAD_BODY,	/* protobuf-c would not unpack it */
	DECODE_TOO_MANY,	/* more than max_results results */
};

/* The report's header; its records are in q from position first on. */
struct decoded {
	int32_t		 modid, cmdid, caller;
	uint32_t	 ts;		/* 0 already replaced by "now" */
	size_t		 n;		/* results */
	int		 clamped;	/* counts clamped to INT32_MAX */
	struct queue	*q;		/* DECODE_OK: where the records are */
	uint64_t	 first;		/* their first position in q */
};

/* The queue of (modid, cmdid)'s worker slot. */
struct decode_route {
	struct queue	*(*route)(void *, int32_t modid, int32_t cmdid);
	void		*arg;
};

enum decode_status	 decode_report(struct decoded *, const uint8_t *,
			    size_t, uint32_t now, size_t max_results,
			    const struct decode_route *);

#endif
