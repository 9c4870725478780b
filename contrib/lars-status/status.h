/*
 * status.h: what the parts of lars-status share.
 *
 * lars-status.c parses the command line and reads the daemon's
 * configuration; query.c is the only file that talks to MySQL and turns
 * ServerCallStatus into rows; view.c sorts and formats rows as a table
 * or as tab-separated text; watch.c is the --watch loop and owns the
 * terminal (raw mode, alternate screen, signals).
 */
#ifndef LARS_STATUS_H
#define LARS_STATUS_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define STATUS_VERSION		"0.1.0"
#define STATUS_STALE_DEFAULT	60	/* seconds */
#define STATUS_WATCH_DEFAULT	2	/* seconds between redraws */

struct config;

/* One row of ServerCallStatus, addresses as the agent's bit patterns. */
struct status_row {
	int32_t		 modid;
	int32_t		 cmdid;
	uint32_t	 ip;		/* host order: 192.168.0.1 is 0xc0a80001 */
	int32_t		 port;
	uint32_t	 caller;
	long long	 succ;
	long long	 err;
	long long	 ts;
	int		 overload;
	long long	 age;		/* seconds: the fetch's now - ts */
	int		 stale;		/* age > the -s threshold */
};

/* The rows of one fetch, in view order after view_sort(). */
struct status_set {
	struct status_row	*v;
	size_t			 n;
	size_t			 cap;
	time_t			 now;
	size_t			 noverload;
	size_t			 nstale;
};

struct status_filter {
	int		 have_modid;
	int		 have_cmdid;
	int		 have_caller;
	int32_t		 modid;
	int32_t		 cmdid;
	uint32_t	 caller;
};

struct status_opts {
	const char		*conf_path;
	struct status_filter	 filter;
	long long		 stale;		/* -s seconds */
	int			 raw;		/* -r */
	int			 watch;		/* -w */
	int			 interval;	/* -w seconds */
	int			 color;		/* ANSI attributes allowed */
};

/* query.c */
struct query;
struct query	*query_new(const struct config *, const struct status_filter *);
void		 query_free(struct query *);
int		 query_connect(struct query *);
int		 query_fetch(struct query *, struct status_set *,
		    long long stale);
const char	*query_error(const struct query *);
const char	*query_where(const struct query *);

void		 status_set_free(struct status_set *);

/* view.c */
struct view_size {
	int		 cols;		/* 0: do not cut lines */
	int		 rows;		/* 0: no limit */
};

void		 view_sort(struct status_set *);
void		 view_raw(FILE *, const struct status_set *);
void		 view_table(FILE *, const struct status_set *, int color,
		    const struct view_size *);

/* watch.c */
int		 watch_run(struct query *, const struct status_opts *);

#endif
