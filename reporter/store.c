/*
 * store.c: a worker's MySQL connection and its batched upsert; the only
 * file that includes mysql.h.
 *
 * store_flush() writes every held row as multi-row
 *	INSERT ... ON DUPLICATE KEY UPDATE
 * statements of at most batch_rows rows, keys sorted, in one transaction.
 * The ts guard compares against the old ts in each IF() and assigns ts
 * last, which is right under MySQL's left-to-right assignment and
 * MariaDB's alike: an older report never overwrites a newer row; an equal
 * ts overwrites (the later report wins).  A row whose ts lies more than
 * max_clock_skew ahead of the database's clock is overwritten by any
 * report (upsert.h).
 *
 * The key columns may be signed int(11) (the seed's schema) or int(11)
 * unsigned (the original project's later one): store_connect() reads the
 * column types and the values are written as the int32 the agent sent or
 * as its unsigned bit pattern to match.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>

#include "coalesce.h"
#include "log.h"
#include "reporter.h"
#include "store.h"
#include "upsert.h"

#ifndef ER_CONNECTION_KILLED
#define ER_CONNECTION_KILLED	1927
#endif

#define STORE_TABLE		"ServerCallStatus"
#define STORE_ROW_MAX		128	/* bytes of one "(...)," at most */

enum { COL_MODID, COL_CMDID, COL_IP, COL_PORT, COL_CALLER, COL_NKEY };

static const char *store_key_cols[COL_NKEY] = {
	"modid", "cmdid", "ip", "port", "caller"
};

static const char store_head[] = UPSERT_HEAD;

enum store_class {
	CLASS_OK,
	CLASS_CONN,		/* connection lost: reconnect, retry */
	CLASS_AGAIN,		/* deadlock, lock timeout: retry now */
	CLASS_DATA,		/* something in the rows: isolate it */
	CLASS_NEVER,		/* credentials, database, table */
};

#define STORE_TRIES	3

struct store {
	const struct config	*conf;
	struct wstats		*stats;		/* the worker's */
	size_t			 stmt_rows;	/* rows per statement */
	int			 isolating;
	char			 lasterr[256];
	MYSQL			*my;
	int			 key_unsigned[COL_NKEY];
	char			*sql;
	size_t			 sqlcap;
	/* Equal ts: the later report wins; rows moved from an abandoned
	 * older generation were received earlier than what the table
	 * holds, so they only win with a newer ts ([1]). */
	char			 tail[2][UPSERT_TAIL_MAX];
	size_t			 taillen[2];
	char			 where[300];	/* for log lines */
};

static enum store_class store_classify(unsigned int);
static enum store_class store_error(struct store *, const char *);
static enum store_result store_result_of(enum store_class);
static enum store_result store_connect_failed(struct store *, const char *);
static enum store_result store_schema(struct store *);
static int store_packet_limit(struct store *);
static enum store_class store_upsert(struct store *, struct coalesce *,
    size_t, size_t);
static enum store_class store_rollback(struct store *, enum store_class);
static enum store_class store_try(struct store *, struct coalesce *, size_t,
    size_t);
static enum store_class store_isolate(struct store *, struct coalesce *,
    size_t, size_t);
static char *store_put_row(struct store *, char *, const struct centry *);

struct store *
store_new(const struct config *conf, struct wstats *stats)
{
	struct store *st;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		fatal("%s: calloc", __func__);
	st->conf = conf;
	st->stats = stats;
	st->stmt_rows = (size_t)conf->batch_rows;
	st->taillen[0] = upsert_tail(st->tail[0], ">=", conf->max_clock_skew);
	st->taillen[1] = upsert_tail(st->tail[1], ">", conf->max_clock_skew);
	st->sqlcap = sizeof(store_head) + UPSERT_TAIL_MAX +
	    (size_t)conf->batch_rows * STORE_ROW_MAX;
	if ((st->sql = malloc(st->sqlcap)) == NULL)
		fatal("%s: malloc", __func__);
	if (conf->db_socket[0] != '\0')
		snprintf(st->where, sizeof(st->where), "%s@%s/%s",
		    conf->db_user, conf->db_socket, conf->db_name);
	else
		snprintf(st->where, sizeof(st->where), "%s@%s:%d/%s",
		    conf->db_user, conf->db_host, conf->db_port,
		    conf->db_name);
	if (mysql_library_init(0, NULL, NULL) != 0)
		fatalx("%s: mysql_library_init failed", __func__);
	return st;
}

void
store_free(struct store *st)
{
	if (st->my != NULL)
		mysql_close(st->my);
	free(st->sql);
	free(st);
	mysql_library_end();
}

int
store_connected(const struct store *st)
{
	return st->my != NULL;
}

/* What a MySQL error means for the batch. */
static enum store_class
store_classify(unsigned int e)
{
	switch (e) {
	case ER_ACCESS_DENIED_ERROR:
	case ER_DBACCESS_DENIED_ERROR:
	case ER_BAD_DB_ERROR:
	case ER_NO_SUCH_TABLE:
	case ER_TABLEACCESS_DENIED_ERROR:
		return CLASS_NEVER;
	case ER_LOCK_DEADLOCK:
	case ER_LOCK_WAIT_TIMEOUT:
		return CLASS_AGAIN;
	case ER_SERVER_SHUTDOWN:
	case ER_CONNECTION_KILLED:
	case ER_QUERY_INTERRUPTED:
	case ER_NET_PACKET_TOO_LARGE:	/* the server closes on it */
		return CLASS_CONN;
	}
	if (e >= 2000 && e < 3000)	/* client errors: CR_SERVER_LOST... */
		return CLASS_CONN;
	return CLASS_DATA;
}

/*
 * Log a failed call and classify it.  A lost connection is closed here,
 * so the next flush reconnects.
 */
static enum store_class
store_error(struct store *st, const char *what)
{
	unsigned int e = mysql_errno(st->my);
	enum store_class cl = store_classify(e);
	int i;

	for (i = 0; i < WSTATS_ERRORS; i++)	/* counted by code */
		if (st->stats->err_code[i] == e || st->stats->err_code[i] == 0) {
			st->stats->err_code[i] = e;
			st->stats->err_count[i]++;
			break;
		}
	if (cl == CLASS_DATA && st->isolating)
		log_debug("%s: %s: MySQL error %u: %s", st->where, what, e,
		    mysql_error(st->my));
	else
		log_warnx("%s: %s: MySQL error %u: %s", st->where, what, e,
		    mysql_error(st->my));
	snprintf(st->lasterr, sizeof(st->lasterr), "MySQL error %u: %s", e,
	    mysql_error(st->my));
	if (cl == CLASS_CONN) {
		mysql_close(st->my);
		st->my = NULL;
	}
	return cl;
}

static enum store_result
store_result_of(enum store_class cl)
{
	return cl == CLASS_NEVER ? STORE_NEVER : STORE_RETRY;
}

enum store_result
store_connect(struct store *st)
{
	const struct config *c = st->conf;
	unsigned int connect_timeout = 5, rw_timeout = 30;
	const char *host = c->db_host, *sock = NULL;

	if (st->my != NULL)
		return STORE_OK;
	if ((st->my = mysql_init(NULL)) == NULL)
		fatalx("%s: mysql_init: out of memory", __func__);
	mysql_options(st->my, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
	mysql_options(st->my, MYSQL_OPT_READ_TIMEOUT, &rw_timeout);
	mysql_options(st->my, MYSQL_OPT_WRITE_TIMEOUT, &rw_timeout);
	if (c->db_socket[0] != '\0') {
		host = "localhost";
		sock = c->db_socket;
	}
	if (mysql_real_connect(st->my, host, c->db_user, c->db_passwd,
	    c->db_name, (unsigned int)c->db_port, sock, 0) == NULL)
		return store_connect_failed(st, "connect");
	if (mysql_autocommit(st->my, 0) != 0)
		return store_connect_failed(st, "autocommit off");
	st->stats->connects++;
	return store_schema(st);
}

/* Read the types of the key columns: signed, or unsigned. */
static enum store_result
store_schema(struct store *st)
{
	static const char q[] = "SELECT COLUMN_NAME, COLUMN_TYPE FROM "
	    "information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
	    "AND TABLE_NAME = '" STORE_TABLE "'";
	MYSQL_RES *res;
	MYSQL_ROW row;
	int i, found = 0;

	if (mysql_real_query(st->my, q, sizeof(q) - 1) != 0 ||
	    (res = mysql_store_result(st->my)) == NULL)
		return store_connect_failed(st, "read the table's columns");
	while ((row = mysql_fetch_row(res)) != NULL)
		for (i = 0; i < COL_NKEY; i++)
			if (row[0] != NULL && row[1] != NULL &&
			    strcasecmp(row[0], store_key_cols[i]) == 0) {
				st->key_unsigned[i] =
				    strcasestr(row[1], "unsigned") != NULL;
				found++;
			}
	mysql_free_result(res);
	if (found == COL_NKEY && store_packet_limit(st) == -1)
		return store_connect_failed(st, "read max_allowed_packet");
	mysql_commit(st->my);
	if (found != COL_NKEY) {
		log_warnx("%s: table %s is missing or lacks the key columns "
		    "modid, cmdid, ip, port, caller", st->where, STORE_TABLE);
		return STORE_NEVER;
	}
	log_info("connected to MySQL %s, server %s; ip %s, port %s, "
	    "caller %s", st->where, mysql_get_server_info(st->my),
	    st->key_unsigned[COL_IP] ? "unsigned" : "signed",
	    st->key_unsigned[COL_PORT] ? "unsigned" : "signed",
	    st->key_unsigned[COL_CALLER] ? "unsigned" : "signed");
	return STORE_OK;
}

/* A connection that cannot be set up is closed; NEVER, or retry later. */
static enum store_result
store_connect_failed(struct store *st, const char *what)
{
	enum store_class cl = store_error(st, what);

	if (st->my != NULL) {
		mysql_close(st->my);
		st->my = NULL;
	}
	return store_result_of(cl);
}

/* Rows per statement, so that a statement stays under the server's
 * max_allowed_packet. */
static int
store_packet_limit(struct store *st)
{
	static const char q[] = "SELECT @@max_allowed_packet";
	MYSQL_RES *res;
	MYSQL_ROW row;
	long long map = 0;
	size_t fit;

	if (mysql_real_query(st->my, q, sizeof(q) - 1) != 0 ||
	    (res = mysql_store_result(st->my)) == NULL)
		return -1;
	if ((row = mysql_fetch_row(res)) != NULL && row[0] != NULL)
		map = strtoll(row[0], NULL, 10);
	mysql_free_result(res);
	fit = map > 4096 ? ((size_t)map - sizeof(store_head) -
	    UPSERT_TAIL_MAX - 1024) / STORE_ROW_MAX : 1;
	st->stmt_rows = (size_t)st->conf->batch_rows;
	if (fit < st->stmt_rows) {
		st->stmt_rows = fit > 0 ? fit : 1;
		log_info("max_allowed_packet %lld: %zu rows per statement",
		    map, st->stmt_rows);
	}
	return 0;
}

static char *
store_put_row(struct store *st, char *p, const struct centry *e)
{
	const int32_t key[COL_NKEY] = { e->modid, e->cmdid, e->ip, e->port,
	    e->caller };
	int i;

	*p++ = '(';
	for (i = 0; i < COL_NKEY; i++) {
		p = upsert_put_int(p, key[i], st->key_unsigned[i]);
		*p++ = ',';
	}
	p = upsert_put_int(p, e->succ, 0);
	*p++ = ',';
	p = upsert_put_int(p, e->err, 0);
	*p++ = ',';
	p = upsert_put_int(p, (int32_t)e->ts, 1);
	*p++ = ',';
	*p++ = '\'';
	*p++ = e->overload ? '1' : '0';
	*p++ = '\'';
	*p++ = ')';
	return p;
}

/* Rows [lo, hi) of the sorted table as statements and one commit. */
static enum store_class
store_upsert(struct store *st, struct coalesce *c, size_t lo, size_t hi)
{
	const struct centry *e;
	size_t i, rows;
	char *p;
	int older;

	for (i = lo; i < hi; i += rows) {
		p = st->sql;
		memcpy(p, store_head, sizeof(store_head) - 1);
		p += sizeof(store_head) - 1;
		older = coalesce_entry(c, i)->older;
		for (rows = 0; rows < st->stmt_rows && i + rows < hi; rows++) {
			e = coalesce_entry(c, i + rows);
			if (e->older != older)
				break;	/* it needs the other tail */
			if (rows > 0)
				*p++ = ',';
			p = store_put_row(st, p, e);
			if (log_getverbose() >= 2)
				log_debug("row modid=%d cmdid=%d ip=%d "
				    "port=%d caller=%d ts=%u", e->modid,
				    e->cmdid, e->ip, e->port, e->caller,
				    e->ts);
		}
		memcpy(p, st->tail[older], st->taillen[older]);
		p += st->taillen[older];
		if (mysql_real_query(st->my, st->sql,
		    (unsigned long)(p - st->sql)) != 0)
			return store_rollback(st, store_error(st, "upsert"));
	}
	if (mysql_commit(st->my) != 0)
		return store_rollback(st, store_error(st, "commit"));
	return CLASS_OK;
}

static enum store_class
store_rollback(struct store *st, enum store_class cl)
{
	if (st->my != NULL && cl != CLASS_CONN && mysql_rollback(st->my) != 0)
		return store_error(st, "rollback");
	return cl;
}

/* Deadlocks and lock timeouts are tried again, a few times. */
static enum store_class
store_try(struct store *st, struct coalesce *c, size_t lo, size_t hi)
{
	enum store_class cl;
	int tries = 0;

	while ((cl = store_upsert(st, c, lo, hi)) == CLASS_AGAIN &&
	    ++tries < STORE_TRIES)
		st->stats->retries++;
	return cl;
}

/*
 * A batch failed for a data reason: halve it until the bad rows are
 * alone; those are logged with their key and dropped, all others stored.
 */
static enum store_class
store_isolate(struct store *st, struct coalesce *c, size_t lo, size_t hi)
{
	const struct centry *e;
	enum store_class cl;
	size_t mid;

	/* only a data error isolates: lock trouble is tried again later */
	if ((cl = store_try(st, c, lo, hi)) != CLASS_DATA)
		return cl;
	if (hi - lo == 1) {
		e = coalesce_entry(c, lo);
		st->stats->dropped++;
		log_warnx("dropped the row modid=%d cmdid=%d ip=%d port=%d "
		    "caller=%d (succ %d, err %d, ts %u): %s", e->modid,
		    e->cmdid, e->ip, e->port, e->caller, e->succ, e->err,
		    e->ts, st->lasterr);
		return CLASS_OK;
	}
	mid = lo + (hi - lo) / 2;
	if ((cl = store_isolate(st, c, lo, mid)) != CLASS_OK)
		return cl;
	return store_isolate(st, c, mid, hi);
}

/*
 * Upsert every held row in one transaction.  STORE_OK: the caller may
 * clear the table and ack (rows that can never be stored were logged and
 * dropped); otherwise it keeps the rows and retries later.
 */
enum store_result
store_flush(struct store *st, struct coalesce *c)
{
	enum store_class cl;
	enum store_result r;

	if (st->my == NULL && (r = store_connect(st)) != STORE_OK)
		return r;
	coalesce_sort(c);
	cl = store_try(st, c, 0, c->n);
	if (cl == CLASS_DATA) {
		log_warnx("a batch of %zu rows failed (%s): storing it in "
		    "parts to find the rows that cannot be stored", c->n,
		    st->lasterr);
		st->isolating = 1;
		cl = store_isolate(st, c, 0, c->n);
		st->isolating = 0;
	}
	if (cl == CLASS_OK)
		return STORE_OK;
	return store_result_of(cl);
}
