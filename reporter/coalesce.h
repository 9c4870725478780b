/*
 * coalesce.h: a worker's table of the newest record per key, waiting to be
 * flushed.  No I/O: worker.c fills it, store.c reads it.
 */
#ifndef LARS_COALESCE_H
#define LARS_COALESCE_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

struct centry {
	int32_t		modid, cmdid, ip, port, caller;	/* the key */
	int32_t		succ, err;
	uint32_t	ts;
	uint8_t		overload;
	uint8_t		older;		/* RECORD_OLDER: loses ts ties */
	uint8_t		used;
	uint8_t		bad;		/* store.c: refused alone */
};

struct coalesce {
	struct centry	*t;
	size_t		 cap;		/* a power of two */
	uint32_t	*used;		/* indexes of used entries */
	size_t		 n;
};

int	 coalesce_init(struct coalesce *, size_t cap);
void	 coalesce_free(struct coalesce *);
int	 coalesce_put(struct coalesce *, const struct record *);
void	 coalesce_sort(struct coalesce *);
void	 coalesce_clear(struct coalesce *);

#define coalesce_entry(c, i)	(&(c)->t[(c)->used[(i)]])

#endif
