/*
 * store.h: a worker's MySQL connection and the batched upsert.  store.c is
 * the only file that includes mysql.h.
 */
#ifndef LARS_STORE_H
#define LARS_STORE_H

#include <stdint.h>

struct config;
struct coalesce;
struct store;

enum store_result {
	STORE_OK = 0,
	STORE_RETRY = -1,	/* transient: reconnect and try again */
	STORE_NEVER = -2,	/* cannot work with this server or table */
};

struct wstats;

struct store		*store_new(const struct config *, struct wstats *);
void			 store_free(struct store *);
enum store_result	 store_connect(struct store *);
int			 store_connected(const struct store *);
enum store_result	 store_flush(struct store *, struct coalesce *);

#endif
