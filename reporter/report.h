/*
 * report.h: decoding and checking one ReportStatusReq body, with no I/O
 * and no master state, so that the fuzzer and the tests can drive it.
 */
#ifndef LARS_REPORT_H
#define LARS_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

enum report_status {
	REPORT_OK,
	REPORT_EMPTY,		/* no results: nothing to store */
	REPORT_BAD_BODY,	/* does not decode, or over the byte budget */
	REPORT_TOO_MANY,	/* more than max_results results */
};

struct report {
	int32_t		 modid, cmdid, caller;
	uint32_t	 ts;		/* 0 already replaced by "now" */
	size_t		 n;		/* results */
	int		 clamped;	/* counts clamped so far */
	const void	*req;		/* the decoded message, in the arena */
};

int			 report_init(size_t budget);
enum report_status	 report_decode(struct report *, const uint8_t *,
			    size_t, uint32_t now, size_t max_results);
void			 report_record(struct report *, size_t,
			    struct record *);

#endif
