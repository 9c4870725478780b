/*
 * peer.c: what the master knows about each remote address that has
 * connections open: how many (for max_conns_per_ip), and how many warnings
 * it may still cause.  Bad input is logged at most PEER_WARN_BURST lines
 * per PEER_WARN_PERIOD per address and PEER_GLOBAL_BURST per second over
 * all addresses; the rest is counted and summed up once a second, so a
 * flood cannot fill the disk.  Addresses are kept as 16 bytes, IPv4 as
 * v4-mapped IPv6, so a dual-stack socket counts a peer once.
 */
#include <sys/queue.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "reporter.h"

#define PEER_BUCKETS		4096
#define PEER_WARN_BURST		10
#define PEER_WARN_PERIOD_MS	10000
#define PEER_GLOBAL_BURST	50

struct peer {
	uint8_t			 addr[16];
	int			 conns;
	int			 tokens;
	int64_t			 refill_at;
	LIST_ENTRY(peer)	 entry;
};

LIST_HEAD(peer_list, peer);

static struct peer_list peer_table[PEER_BUCKETS];
static int peer_global_tokens = PEER_GLOBAL_BURST;
static uint64_t peer_suppressed;

static size_t peer_bucket(const uint8_t *);

static size_t
peer_bucket(const uint8_t *a)
{
	uint32_t h = 2166136261u;
	int i;

	for (i = 0; i < 16; i++)
		h = (h ^ a[i]) * 16777619u;
	return h % PEER_BUCKETS;
}

/* A new connection from addr; NULL when it is one too many. */
struct peer *
peer_get(const uint8_t *addr, int max_per_ip)
{
	struct peer_list *l = &peer_table[peer_bucket(addr)];
	struct peer *p;

	LIST_FOREACH(p, l, entry)
		if (memcmp(p->addr, addr, 16) == 0)
			break;
	if (p == NULL) {
		if ((p = calloc(1, sizeof(*p))) == NULL)
			fatal("%s: calloc", __func__);
		memcpy(p->addr, addr, 16);
		p->tokens = PEER_WARN_BURST;
		LIST_INSERT_HEAD(l, p, entry);
	}
	if (max_per_ip > 0 && p->conns >= max_per_ip) {
		if (p->conns == 0) {
			LIST_REMOVE(p, entry);
			free(p);
		}
		return NULL;
	}
	p->conns++;
	return p;
}

void
peer_put(struct peer *p)
{
	if (--p->conns > 0)
		return;
	LIST_REMOVE(p, entry);
	free(p);
}

/* May this peer log one more warning? */
int
peer_may_warn(struct peer *p)
{
	int64_t now = master_now_ms();

	if (now >= p->refill_at) {
		p->tokens = PEER_WARN_BURST;
		p->refill_at = now + PEER_WARN_PERIOD_MS;
	}
	if (p->tokens > 0 && peer_global_tokens > 0) {
		p->tokens--;
		peer_global_tokens--;
		return 1;
	}
	peer_suppressed++;
	return 0;
}

/* Once a second: refill the global budget, say what was held back. */
void
peer_tick(void)
{
	if (peer_suppressed > 0)
		log_warnx("%llu more warnings about bad input suppressed "
		    "(rate limit)", (unsigned long long)peer_suppressed);
	peer_suppressed = 0;
	peer_global_tokens = PEER_GLOBAL_BURST;
}
