/*
 * store.c: a worker's MySQL connection and its batched upsert.
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
 * The connection (dbconn.c) goes to the first host of the db_host list
 * that takes writes; connected to a later one, the worker looks at the
 * earlier ones every db_failback_interval seconds and moves back to the
 * first that takes writes again, so that all workers converge on one
 * writer.
 *
 * What a failed statement means (store_classify):
 *  - the connection is lost: reconnect (walking the list), retry;
 *  - a deadlock or lock wait timeout: retry now, a few times;
 *  - MySQL rejects a row's own values (the closed list store_row_codes):
 *    the batch is halved until the rows that fail alone are found; each
 *    is dropped, logged with its key, only when rows beside it were
 *    stored; if none was, nothing is dropped and the batch is retried;
 *  - anything else, known or not (read-only, a full tablespace, a Galera
 *    node outside the primary component, a statement timeout, missing
 *    privileges or table): the server refuses writes now.  The batch is
 *    kept, the connection closed, and the flush retried with the
 *    worker's backoff from a fresh connection, which looks again at
 *    every host.  The refusal is logged once per episode with its reason,
 *    and so is its end.
 * A worker's first connect that fails for good (credentials, database,
 * TLS, no table) is STORE_NEVER: the master respawns it slowly.
 *
 * The rows go as multi-row text statements, or, where the server offers
 * MariaDB's bulk execution (chosen at connect, or forced by [mysql]
 * upsert), as one prepared one-row statement executed with array binding
 * (STMT_ATTR_ARRAY_SIZE) over the same rows: store_upsert_text() and
 * store_upsert_bulk() send rows [lo, hi) in the same statements of at
 * most stmt_rows rows, a statement never mixing the two tails, and
 * store_upsert() commits them once; everything above (retries, the
 * halving, the classes) is the same for both.  MySQL and TiDB have no
 * bulk execution: they get text.
 *
 * The key columns may be signed int(11) (the seed's schema) or int(11)
 * unsigned (the original project's later one): the connect reads the
 * column types and the values are written as the int32 the agent sent or
 * as its unsigned bit pattern to match.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>

#include "coalesce.h"
#include "dbconn.h"
#include "log.h"
#include "reporter.h"
#include "store.h"
#include "upsert.h"

#ifndef ER_CONNECTION_KILLED
#define ER_CONNECTION_KILLED	1927
#endif

#define STORE_TABLE		"ServerCallStatus"
#define STORE_ROW_MAX		128	/* bytes of one "(...)," at most */
#define STORE_MARKS		"(?,?,?,?,?,?,?,?,?)"

enum { COL_MODID, COL_CMDID, COL_IP, COL_PORT, COL_CALLER, COL_NKEY };

/* The bulk statement's integer columns: the key, succ, err, ts; then
 * overload, a string. */
enum { BCOL_SUCC = COL_NKEY, BCOL_ERR, BCOL_TS, BCOL_NINT };
#define BCOL_N		(BCOL_NINT + 1)

static const char *store_key_cols[COL_NKEY] = {
	"modid", "cmdid", "ip", "port", "caller"
};

static const char store_head[] = UPSERT_HEAD;

/*
 * The errors about one row's own values: strict mode's value errors and
 * constraint failures.  Documented in lars-reporter.conf(5); only these
 * may get a row dropped.
 */
static const unsigned int store_row_codes[] = {
	1048,	/* ER_BAD_NULL_ERROR */
	1062,	/* ER_DUP_ENTRY: another unique index */
	1216,	/* ER_NO_REFERENCED_ROW */
	1217,	/* ER_ROW_IS_REFERENCED */
	1263,	/* ER_WARN_NULL_TO_NOTNULL */
	1264,	/* ER_WARN_DATA_OUT_OF_RANGE */
	1265,	/* WARN_DATA_TRUNCATED */
	1292,	/* ER_TRUNCATED_WRONG_VALUE */
	1366,	/* ER_TRUNCATED_WRONG_VALUE_FOR_FIELD */
	1367,	/* ER_ILLEGAL_VALUE_FOR_TYPE */
	1406,	/* ER_DATA_TOO_LONG */
	1411,	/* ER_WRONG_VALUE_FOR_TYPE */
	1451,	/* ER_ROW_IS_REFERENCED_2 */
	1452,	/* ER_NO_REFERENCED_ROW_2 */
	1690,	/* ER_DATA_OUT_OF_RANGE */
	3819,	/* MySQL's ER_CHECK_CONSTRAINT_VIOLATED */
	4025,	/* MariaDB's ER_CONSTRAINT_FAILED */
};

enum store_class {
	CLASS_OK,
	CLASS_CONN,		/* connection lost: reconnect, retry */
	CLASS_AGAIN,		/* deadlock, lock timeout: retry now */
	CLASS_ROW,		/* a row's own values: isolate it */
	CLASS_REFUSED,		/* the server refuses writes now */
	CLASS_NEVER,		/* first connect: can never work */
};

#define STORE_TRIES	3

struct store {
	const struct config	*conf;
	struct wstats		*stats;		/* the worker's */
	size_t			 stmt_rows;	/* rows per statement */
	int			 isolating;
	char			 lasterr[512];
	unsigned int		 lastcode;
	MYSQL			*my;
	int			 host;		/* of the list; -1: none */
	int			 nhosts;
	int			 ever;		/* connected once */
	int			 committed;	/* on this connection */
	int64_t			 failback_at;	/* ms: look at earlier hosts */
	int			 failback_mult;	/* of db_failback_interval */
	int			 key_unsigned[COL_NKEY];
	char			*sql;
	size_t			 sqlcap;
	/* Equal ts: the later report wins; rows moved from an abandoned
	 * older generation were received earlier than what the table
	 * holds, so they only win with a newer ts ([1]). */
	char			 tail[2][UPSERT_TAIL_MAX];
	size_t			 taillen[2];
	char			 where[300];	/* the host, for log lines */
	int			 bulk;		/* this connection: array binding */
	MYSQL_STMT		*stmt[2];	/* by tail; prepared on first use */
	int32_t			*col[BCOL_NINT];	/* stmt_rows values each */
	const char		**ovp;		/* overload: "0" or "1" */
	unsigned long		*ovlen;
	time_t			 refusing_since;	/* 0: accepting */
	unsigned int		 refusing_code;
};

struct isolation {
	size_t			 stored;	/* rows committed */
	size_t			 bad;		/* rows refused alone */
};

static enum store_class store_classify(unsigned int);
static void store_seterr(struct store *, unsigned int, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static enum store_class store_error(struct store *, const char *);
static int64_t store_now_ms(void);
static enum store_result store_connect_range(struct store *, int);
static enum store_class store_connect_host(struct store *, int);
static enum store_class store_schema(struct store *);
static int store_packet_limit(struct store *);
static void store_failback(struct store *);
static void store_disconnect(struct store *);
static void store_refusing(struct store *, unsigned int, const char *);
static void store_accepting(struct store *);
static enum store_class store_fail(struct store *, const char *,
    unsigned int, const char *);
static int store_use_bulk(struct store *);
static void store_stmt_close(struct store *);
static void store_bulk_alloc(struct store *);
static enum store_class store_prepare(struct store *, int, MYSQL_STMT **);
static int store_execute(struct store *, MYSQL_STMT *, size_t);
static void store_log_row(const struct centry *);
static enum store_class store_upsert_text(struct store *, struct coalesce *,
    size_t, size_t);
static enum store_class store_upsert_bulk(struct store *, struct coalesce *,
    size_t, size_t);
static enum store_class store_upsert(struct store *, struct coalesce *,
    size_t, size_t);
static enum store_class store_rollback(struct store *, enum store_class);
static enum store_class store_try(struct store *, struct coalesce *, size_t,
    size_t);
static enum store_class store_isolate(struct store *, struct coalesce *,
    size_t, size_t, struct isolation *);
static enum store_class store_drop_bad(struct store *, struct coalesce *,
    const struct isolation *);
static char *store_put_row(struct store *, char *, const struct centry *);

struct store *
store_new(const struct config *conf, struct wstats *stats)
{
	struct store *st;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		fatal("%s: calloc", __func__);
	st->conf = conf;
	st->stats = stats;
	st->host = -1;
	st->nhosts = dbconn_nhosts(conf);
	st->stmt_rows = (size_t)conf->batch_rows;
	st->taillen[0] = upsert_tail(st->tail[0], ">=", conf->max_clock_skew);
	st->taillen[1] = upsert_tail(st->tail[1], ">", conf->max_clock_skew);
	st->sqlcap = sizeof(store_head) + UPSERT_TAIL_MAX +
	    (size_t)conf->batch_rows * STORE_ROW_MAX;
	if ((st->sql = malloc(st->sqlcap)) == NULL)
		fatal("%s: malloc", __func__);
	if (conf->upsert != UPSERT_MODE_TEXT)
		store_bulk_alloc(st);
	dbconn_where(conf, 0, st->where, sizeof(st->where));
	if (mysql_library_init(0, NULL, NULL) != 0)
		fatalx("%s: mysql_library_init failed", __func__);
	return st;
}

/* The bound arrays, batch_rows values each (stmt_rows never exceeds it). */
static void
store_bulk_alloc(struct store *st)
{
	size_t n = (size_t)st->conf->batch_rows;
	int i;

	for (i = 0; i < BCOL_NINT; i++)
		if ((st->col[i] = calloc(n, sizeof(int32_t))) == NULL)
			fatal("%s: calloc", __func__);
	if ((st->ovp = calloc(n, sizeof(*st->ovp))) == NULL ||
	    (st->ovlen = calloc(n, sizeof(*st->ovlen))) == NULL)
		fatal("%s: calloc", __func__);
}

void
store_free(struct store *st)
{
	int i;

	store_disconnect(st);
	for (i = 0; i < BCOL_NINT; i++)
		free(st->col[i]);
	free(st->ovp);
	free(st->ovlen);
	free(st->sql);
	free(st);
	mysql_library_end();
}

int
store_connected(const struct store *st)
{
	return st->my != NULL;
}

static int64_t
store_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What a failed statement means for the batch. */
static enum store_class
store_classify(unsigned int e)
{
	size_t i;

	switch (e) {
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
	for (i = 0; i < sizeof(store_row_codes) / sizeof(store_row_codes[0]);
	    i++)
		if (e == store_row_codes[i])
			return CLASS_ROW;
	return CLASS_REFUSED;
}

/* The last error: counted by code for /metrics, kept for log lines. */
static void
store_seterr(struct store *st, unsigned int e, const char *fmt, ...)
{
	va_list ap;
	int i;

	va_start(ap, fmt);
	vsnprintf(st->lasterr, sizeof(st->lasterr), fmt, ap);
	va_end(ap);
	st->lastcode = e;
	if (e == 0)
		return;
	for (i = 0; i < WSTATS_ERRORS; i++)
		if (st->stats->err_code[i] == e || st->stats->err_code[i] == 0) {
			st->stats->err_code[i] = e;
			st->stats->err_count[i]++;
			break;
		}
}

/*
 * Log a failed statement and classify it.  A connection that is lost, or
 * to a server that refuses writes, is closed here: the next flush
 * connects again and looks at every host.
 */
static enum store_class
store_error(struct store *st, const char *what)
{
	return store_fail(st, what, mysql_errno(st->my), mysql_error(st->my));
}

/* store_error() for error e with its text: a statement's, say. */
static enum store_class
store_fail(struct store *st, const char *what, unsigned int e,
    const char *text)
{
	enum store_class cl = store_classify(e);

	store_seterr(st, e, "MySQL error %u: %s", e, text);
	if ((cl == CLASS_ROW && st->isolating) ||
	    (cl == CLASS_REFUSED && st->refusing_since != 0))
		log_debug("%s: %s: %s", st->where, what, st->lasterr);
	else
		log_warnx("%s: %s: %s", st->where, what, st->lasterr);
	if (cl == CLASS_CONN)
		store_disconnect(st);
	return cl;
}

/* The prepared statements belong to the connection: closed before it. */
static void
store_stmt_close(struct store *st)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (st->stmt[i] != NULL)
			mysql_stmt_close(st->stmt[i]);
		st->stmt[i] = NULL;
	}
}

static void
store_disconnect(struct store *st)
{
	store_stmt_close(st);
	if (st->my != NULL)
		mysql_close(st->my);
	st->my = NULL;
	st->host = -1;
	st->committed = 0;
	st->stats->host = 0;
}

/* A refusal episode begins (logged once) or goes on. */
static void
store_refusing(struct store *st, unsigned int code, const char *why)
{
	st->stats->refusing_code = code;
	if (st->refusing_since != 0) {
		if (code != st->refusing_code)
			log_info("MySQL still takes no writes, now: %s", why);
		st->refusing_code = code;
		return;
	}
	st->refusing_since = time(NULL);
	st->refusing_code = code;
	st->stats->refusing_since = (uint64_t)st->refusing_since;
	log_warnx("MySQL takes no writes: %s; keeping every row and "
	    "retrying", why);
}

static void
store_accepting(struct store *st)
{
	if (st->refusing_since == 0)
		return;
	log_info("MySQL %s takes writes again, after %lld s (last error "
	    "%u)", st->where,
	    (long long)(time(NULL) - st->refusing_since), st->refusing_code);
	st->refusing_since = 0;
	st->refusing_code = 0;
	st->stats->refusing_since = 0;
	st->stats->refusing_code = 0;
}

enum store_result
store_connect(struct store *st)
{
	if (st->my != NULL)
		return STORE_OK;
	return store_connect_range(st, st->nhosts);
}

/*
 * Connect to the first of hosts [0, n) that takes writes.  When none
 * does: NEVER if this worker never connected and every host failed for
 * good, else RETRY; the reasons are logged with the refusal.
 */
static enum store_result
store_connect_range(struct store *st, int n)
{
	char why[2048], one[900];
	enum store_class cl;
	int i, never = 1;
	size_t len = 0;

	why[0] = '\0';
	for (i = 0; i < n; i++) {
		if ((cl = store_connect_host(st, i)) == CLASS_OK)
			return STORE_OK;
		never = never && cl == CLASS_NEVER;
		snprintf(one, sizeof(one), "%s%s: %s", i > 0 ? "; " : "",
		    st->where, st->lasterr);
		if (len < sizeof(why))
			len += strlcpy(why + len, one, sizeof(why) - len);
	}
	if (n < st->nhosts)
		return STORE_RETRY;	/* a look back: the current one stays */
	if (never && !st->ever) {
		log_warnx("%s", why);
		return STORE_NEVER;
	}
	store_refusing(st, st->lastcode, why);
	return STORE_RETRY;
}

/* Connect to host i and see that it takes writes; keep it if it does. */
static enum store_class
store_connect_host(struct store *st, int i)
{
	int keys[COL_NKEY], w;
	size_t rows = st->stmt_rows;
	struct dbconn_err err;
	enum store_class cl;
	MYSQL *my, *old = st->my;
	char tls[128];

	dbconn_where(st->conf, i, st->where, sizeof(st->where));
	if ((my = dbconn_open(st->conf, i, &err)) == NULL) {
		store_seterr(st, err.code, "%s", err.text);
		return dbconn_never(err.code) ? CLASS_NEVER : CLASS_REFUSED;
	}
	if ((w = dbconn_writable(my, &err)) != 1) {
		store_seterr(st, err.code, "%s%s", w == 0 ?
		    "refuses writes: " : "", err.text);
		mysql_close(my);
		return CLASS_REFUSED;
	}
	memcpy(keys, st->key_unsigned, sizeof(keys));
	st->my = my;
	cl = mysql_autocommit(my, 0) != 0 ? CLASS_REFUSED : store_schema(st);
	if (cl != CLASS_OK) {
		if (mysql_errno(my) != 0)
			store_seterr(st, mysql_errno(my), "set up the session: "
			    "MySQL error %u: %s", mysql_errno(my),
			    mysql_error(my));
		mysql_close(my);
		st->my = old;
		memcpy(st->key_unsigned, keys, sizeof(keys));
		st->stmt_rows = rows;
		return st->ever ? CLASS_REFUSED : cl;
	}
	if (old != NULL) {
		st->my = old;
		store_stmt_close(st);
		mysql_close(old);
		st->my = my;
	}
	st->bulk = store_use_bulk(st);
	st->host = i;
	st->ever = 1;
	st->committed = 0;
	st->stats->connects++;
	st->stats->host = (uint32_t)i + 1;
	st->failback_mult = 1;
	if (i > 0)
		st->failback_at = store_now_ms() +
		    (int64_t)st->conf->db_failback_interval * 1000;
	log_info("connected to MySQL %s (host %d of %d), server %s, %s; "
	    "ip %s, port %s, caller %s; upsert %s", st->where, i + 1,
	    st->nhosts, mysql_get_server_info(st->my), dbconn_tls(st->my, tls,
	    sizeof(tls)),
	    st->key_unsigned[COL_IP] ? "unsigned" : "signed",
	    st->key_unsigned[COL_PORT] ? "unsigned" : "signed",
	    st->key_unsigned[COL_CALLER] ? "unsigned" : "signed",
	    st->bulk ? "bulk (array binding)" : "text (multi-row statements)");
	return CLASS_OK;
}

/*
 * Array binding where the server offers bulk execution (MariaDB 10.2 on;
 * not MySQL, not TiDB), unless [mysql] upsert says text.  Forced to bulk
 * on a server without it, the worker says so and sends text: the client
 * library would refuse every bulk execution.
 */
static int
store_use_bulk(struct store *st)
{
	unsigned long caps = 0;
	int has;

	if (st->conf->upsert == UPSERT_MODE_TEXT)
		return 0;
	has = mariadb_get_infov(st->my,
	    MARIADB_CONNECTION_EXTENDED_SERVER_CAPABILITIES, &caps) == 0 &&
	    (caps & (MARIADB_CLIENT_STMT_BULK_OPERATIONS >> 32)) != 0;
	if (!has && st->conf->upsert == UPSERT_MODE_BULK)
		log_warnx("%s: upsert = bulk, but the server offers no bulk "
		    "execution: sending text statements", st->where);
	return has;
}

/*
 * Read the types of the key columns (signed or unsigned) and the packet
 * limit.  A missing table is CLASS_NEVER with lasterr set.
 */
static enum store_class
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
		return CLASS_REFUSED;
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
		return CLASS_REFUSED;
	mysql_commit(st->my);
	if (found != COL_NKEY) {
		st->lastcode = ER_NO_SUCH_TABLE;
		snprintf(st->lasterr, sizeof(st->lasterr), "table %s is "
		    "missing or lacks the key columns modid, cmdid, ip, port, "
		    "caller", STORE_TABLE);
		log_warnx("%s: %s", st->where, st->lasterr);
		return CLASS_NEVER;
	}
	return CLASS_OK;
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

/*
 * Connected to a later host of the list: every db_failback_interval,
 * between transactions, look whether an earlier one takes writes again,
 * and move there.
 */
static void
store_failback(struct store *st)
{
	char from[300];
	int was = st->host;
	int64_t now;

	if (st->my == NULL || st->host <= 0 ||
	    (now = store_now_ms()) < st->failback_at)
		return;
	strlcpy(from, st->where, sizeof(from));
	if (store_connect_range(st, st->host) == STORE_OK) {
		log_info("moved from MySQL %s (host %d) back to %s (host %d): "
		    "it takes writes again", from, was + 1, st->where,
		    st->host + 1);
		return;
	}
	strlcpy(st->where, from, sizeof(st->where));
	/* a host that does not answer costs up to a connect timeout each
	 * look, the worker waiting: then look less often, up to 16
	 * intervals; a quick refusal (read-only, not Primary) costs little */
	if (store_now_ms() - now < 1000)
		st->failback_mult = 1;
	else if (st->failback_mult < 16)
		st->failback_mult *= 2;
	st->failback_at = store_now_ms() + (int64_t)st->failback_mult *
	    st->conf->db_failback_interval * 1000;
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

static void
store_log_row(const struct centry *e)
{
	if (log_getverbose() >= 2)
		log_debug("row modid=%d cmdid=%d ip=%d port=%d caller=%d "
		    "ts=%u", e->modid, e->cmdid, e->ip, e->port, e->caller,
		    e->ts);
}

/* Rows [lo, hi) of the sorted table as multi-row text statements. */
static enum store_class
store_upsert_text(struct store *st, struct coalesce *c, size_t lo,
    size_t hi)
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
			store_log_row(e);
		}
		memcpy(p, st->tail[older], st->taillen[older]);
		p += st->taillen[older];
		if (mysql_real_query(st->my, st->sql,
		    (unsigned long)(p - st->sql)) != 0)
			return store_error(st, "upsert");
	}
	return CLASS_OK;
}

/*
 * The one-row upsert with tail `older', prepared on this connection once,
 * its parameters bound to the column arrays: the key columns unsigned
 * where the table's are, ts unsigned (store_execute()).
 */
static enum store_class
store_prepare(struct store *st, int older, MYSQL_STMT **stp)
{
	char sql[sizeof(store_head) + sizeof(STORE_MARKS) + UPSERT_TAIL_MAX];
	enum store_class cl;
	MYSQL_STMT *stmt;
	int n;

	if ((*stp = st->stmt[older]) != NULL)
		return CLASS_OK;
	n = snprintf(sql, sizeof(sql), "%s%s%s", store_head, STORE_MARKS,
	    st->tail[older]);
	if ((stmt = mysql_stmt_init(st->my)) == NULL)
		fatalx("%s: mysql_stmt_init: out of memory", __func__);
	if (mysql_stmt_prepare(stmt, sql, (unsigned long)n) != 0) {
		cl = store_fail(st, "prepare the upsert",
		    mysql_stmt_errno(stmt), mysql_stmt_error(stmt));
		mysql_stmt_close(stmt);
		return cl;
	}
	*stp = st->stmt[older] = stmt;
	return CLASS_OK;
}

/* Bind the arrays for `rows' rows and execute them as one bulk. */
static int
store_execute(struct store *st, MYSQL_STMT *stmt, size_t rows)
{
	MYSQL_BIND b[BCOL_N];
	unsigned int size = (unsigned int)rows;
	int i;

	memset(b, 0, sizeof(b));
	for (i = 0; i < BCOL_NINT; i++) {
		b[i].buffer_type = MYSQL_TYPE_LONG;
		b[i].buffer = st->col[i];
		b[i].is_unsigned = i == BCOL_TS ||
		    (i < COL_NKEY && st->key_unsigned[i]);
	}
	b[BCOL_NINT].buffer_type = MYSQL_TYPE_STRING;
	b[BCOL_NINT].buffer = st->ovp;
	b[BCOL_NINT].length = st->ovlen;
	if (mysql_stmt_attr_set(stmt, STMT_ATTR_ARRAY_SIZE, &size) != 0 ||
	    mysql_stmt_bind_param(stmt, b) != 0 ||
	    mysql_stmt_execute(stmt) != 0)
		return -1;
	return 0;
}

/*
 * Rows [lo, hi) as bulk executions of the prepared one-row upsert: the
 * same rows in the same statements as store_upsert_text() would send.
 */
static enum store_class
store_upsert_bulk(struct store *st, struct coalesce *c, size_t lo,
    size_t hi)
{
	static const char *ov[2] = { "0", "1" };
	const struct centry *e;
	enum store_class cl;
	MYSQL_STMT *stmt;
	size_t i, rows;
	int older;

	for (i = lo; i < hi; i += rows) {
		older = coalesce_entry(c, i)->older;
		if ((cl = store_prepare(st, older, &stmt)) != CLASS_OK)
			return cl;
		for (rows = 0; rows < st->stmt_rows && i + rows < hi; rows++) {
			e = coalesce_entry(c, i + rows);
			if (e->older != older)
				break;	/* it needs the other statement */
			st->col[COL_MODID][rows] = e->modid;
			st->col[COL_CMDID][rows] = e->cmdid;
			st->col[COL_IP][rows] = e->ip;
			st->col[COL_PORT][rows] = e->port;
			st->col[COL_CALLER][rows] = e->caller;
			st->col[BCOL_SUCC][rows] = e->succ;
			st->col[BCOL_ERR][rows] = e->err;
			st->col[BCOL_TS][rows] = (int32_t)e->ts;
			st->ovp[rows] = ov[e->overload != 0];
			st->ovlen[rows] = 1;
			store_log_row(e);
		}
		if (store_execute(st, stmt, rows) != 0)
			return store_fail(st, "upsert", mysql_stmt_errno(stmt),
			    mysql_stmt_error(stmt));
	}
	return CLASS_OK;
}

/* Rows [lo, hi) of the sorted table as statements and one commit. */
static enum store_class
store_upsert(struct store *st, struct coalesce *c, size_t lo, size_t hi)
{
	enum store_class cl;

	cl = st->bulk ? store_upsert_bulk(st, c, lo, hi) :
	    store_upsert_text(st, c, lo, hi);
	if (cl != CLASS_OK)
		return store_rollback(st, cl);
	if (mysql_commit(st->my) != 0)
		return store_rollback(st, store_error(st, "commit"));
	return CLASS_OK;
}

static enum store_class
store_rollback(struct store *st, enum store_class cl)
{
	if (st->my != NULL && cl != CLASS_CONN && mysql_rollback(st->my) != 0)
		cl = store_error(st, "rollback");
	/* a refusing server is looked at again from a new connection */
	if (cl == CLASS_REFUSED)
		store_disconnect(st);
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
	if (cl == CLASS_OK)
		st->committed = 1;
	return cl;
}

/*
 * A batch failed on a row's values: halve it until the rows that fail
 * alone are found and marked; every other row is stored.  Any other
 * failure stops the search: the whole batch is retried later.
 */
static enum store_class
store_isolate(struct store *st, struct coalesce *c, size_t lo, size_t hi,
    struct isolation *iso)
{
	enum store_class cl;
	size_t mid;

	if ((cl = store_try(st, c, lo, hi)) == CLASS_OK)
		iso->stored += hi - lo;
	if (cl != CLASS_ROW)
		return cl;
	if (hi - lo == 1) {
		coalesce_entry(c, lo)->bad = 1;
		iso->bad++;
		return CLASS_OK;
	}
	mid = lo + (hi - lo) / 2;
	if ((cl = store_isolate(st, c, lo, mid, iso)) != CLASS_OK)
		return cl;
	return store_isolate(st, c, mid, hi, iso);
}

/*
 * Rows that failed alone are dropped only when the server stored rows
 * beside them (in this flush, or, for a flush of that one row, on this
 * connection before): then it is the row, not the server.  Otherwise
 * nothing is dropped and the batch is kept as refused.
 */
static enum store_class
store_drop_bad(struct store *st, struct coalesce *c,
    const struct isolation *iso)
{
	const struct centry *e;
	size_t i;

	if (iso->bad == 0)
		return CLASS_OK;
	if (iso->stored == 0 && !(c->n == 1 && st->committed)) {
		log_warnx("every row of the batch failed alone (%s): none is "
		    "dropped; the batch is kept", st->lasterr);
		return CLASS_REFUSED;
	}
	for (i = 0; i < c->n; i++) {
		e = coalesce_entry(c, i);
		if (!e->bad)
			continue;
		st->stats->dropped++;
		log_warnx("dropped the row modid=%d cmdid=%d ip=%d port=%d "
		    "caller=%d (succ %d, err %d, ts %u): %s", e->modid,
		    e->cmdid, e->ip, e->port, e->caller, e->succ, e->err,
		    e->ts, st->lasterr);
	}
	return CLASS_OK;
}

/*
 * Upsert every held row in one transaction.  STORE_OK: the caller may
 * clear the table and ack (rows that can never be stored were logged and
 * dropped); otherwise it keeps the rows and retries later.
 */
enum store_result
store_flush(struct store *st, struct coalesce *c)
{
	struct isolation iso = { 0, 0 };
	char why[1024];
	enum store_class cl;
	enum store_result r;
	size_t i;

	store_failback(st);
	if (st->my == NULL && (r = store_connect(st)) != STORE_OK)
		return r;
	coalesce_sort(c);
	cl = store_try(st, c, 0, c->n);
	if (cl == CLASS_ROW) {
		log_warnx("a batch of %zu rows failed (%s): storing it in "
		    "parts to find the rows that cannot be stored", c->n,
		    st->lasterr);
		for (i = 0; i < c->n; i++)
			coalesce_entry(c, i)->bad = 0;
		st->isolating = 1;
		if ((cl = store_isolate(st, c, 0, c->n, &iso)) == CLASS_OK)
			cl = store_drop_bad(st, c, &iso);
		st->isolating = 0;
	}
	if (cl == CLASS_OK) {
		store_accepting(st);
		return STORE_OK;
	}
	snprintf(why, sizeof(why), "%s: %s", st->where, st->lasterr);
	store_refusing(st, st->lastcode, why);
	return STORE_RETRY;
}
