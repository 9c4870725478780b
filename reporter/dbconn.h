/*
 * dbconn.h: the one way lars-reporter's workers (store.c) and lars-status
 * (contrib/lars-status/query.c) connect to MySQL: the [mysql] db_host
 * list or db_socket, the timeouts, TLS, and the look at whether a server
 * takes writes.  dbconn.c, store.c and query.c include mysql.h; nothing
 * else does.
 */
#ifndef LARS_DBCONN_H
#define LARS_DBCONN_H

#include <stddef.h>

struct config;
struct st_mysql;

struct dbconn_err {
	unsigned int	 code;		/* MySQL error; 0: refused by a look */
	char		 text[512];
};

int		 dbconn_nhosts(const struct config *);
void		 dbconn_where(const struct config *, int host, char *, size_t);
struct st_mysql	*dbconn_open(const struct config *, int host,
		    struct dbconn_err *);
int		 dbconn_writable(struct st_mysql *, struct dbconn_err *);
const char	*dbconn_tls(struct st_mysql *, char *, size_t);
int		 dbconn_never(unsigned int code);

#endif
