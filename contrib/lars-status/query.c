/*
 * query.c: lars-status's MySQL connection and the read of
 * ServerCallStatus; the only file of lars-status that includes mysql.h.
 *
 * query_connect() connects as the daemon does (dbconn.c: the db_host list
 * or db_socket, the timeouts, TLS), to the host the workers would write
 * to, else to the first that answers, and reads the types of the ip, port and caller columns: the seed's schema
 * has them signed int(11), the original project's later one unsigned.
 * Rows are read back as the agent's 32-bit patterns either way, and the
 * caller filter is written in the column's own representation.
 * query_fetch() reads the rows that pass the filters into a status_set.
 * Errors name the server (user@host:port/db, never the password) and the
 * MySQL error; they are kept for query_error(), not logged here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mysql.h>

#include "dbconn.h"
#include "log.h"
#include "reporter.h"
#include "status.h"

#define QUERY_TABLE	"ServerCallStatus"
#define QUERY_COLS	"modid,cmdid,ip,port,caller,succ_cnt,err_cnt,ts,overload"
#define QUERY_NCOLS	9

struct query {
	const struct config	*conf;
	struct status_filter	 filter;
	MYSQL			*my;
	int			 caller_unsigned;
	char			 where[300];	/* user@server/db, for errors */
	char			 err[1024];
};

static int query_failed(struct query *, const char *);
static void query_seterr(struct query *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
static int query_schema(struct query *);
static void query_sql(const struct query *, char *, size_t);
static int query_row(struct status_row *, MYSQL_ROW, time_t, long long);
static long long query_num(const char *);
static struct status_row *query_append(struct status_set *);

struct query *
query_new(const struct config *conf, const struct status_filter *filter)
{
	struct query *q;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		fatal("%s: calloc", __func__);
	q->conf = conf;
	q->filter = *filter;
	dbconn_where(conf, 0, q->where, sizeof(q->where));
	if (mysql_library_init(0, NULL, NULL) != 0)
		fatalx("%s: mysql_library_init failed", __func__);
	return q;
}

void
query_free(struct query *q)
{
	if (q == NULL)
		return;
	if (q->my != NULL)
		mysql_close(q->my);
	free(q);
	mysql_library_end();
}

const char *
query_error(const struct query *q)
{
	return q->err;
}

const char *
query_where(const struct query *q)
{
	return q->where;
}

static void
query_seterr(struct query *q, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(q->err, sizeof(q->err), "%s: %s", q->where, msg);
}

/* A failed call: keep the MySQL error, drop the connection. */
static int
query_failed(struct query *q, const char *what)
{
	query_seterr(q, "%s: MySQL error %u: %s", what, mysql_errno(q->my),
	    mysql_error(q->my));
	mysql_close(q->my);
	q->my = NULL;
	return -1;
}

/*
 * The host the workers write to, as they choose it (dbconn_writable():
 * the freshest table, and not a Galera node outside the primary component,
 * which refuses reads too); failing that, the first host that answers,
 * a read-only replica say.
 */
int
query_connect(struct query *q)
{
	struct dbconn_err err;
	int i, pass, n = dbconn_nhosts(q->conf);

	if (q->my != NULL)
		return 0;
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < n; i++) {
			dbconn_where(q->conf, i, q->where, sizeof(q->where));
			if ((q->my = dbconn_open(q->conf, i, &err)) == NULL) {
				query_seterr(q, "%s", err.text);
				continue;
			}
			if (pass == 1 || dbconn_writable(q->my, &err) == 1)
				return query_schema(q);
			query_seterr(q, "%s", err.text);
			mysql_close(q->my);
			q->my = NULL;
		}
	return -1;
}

/* Which representation the caller column has; the table must exist. */
static int
query_schema(struct query *q)
{
	static const char sql[] = "SELECT COLUMN_NAME, COLUMN_TYPE FROM "
	    "information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
	    "AND TABLE_NAME = '" QUERY_TABLE "'";
	MYSQL_RES *res;
	MYSQL_ROW row;
	int ncols = 0;

	if (mysql_real_query(q->my, sql, sizeof(sql) - 1) != 0 ||
	    (res = mysql_store_result(q->my)) == NULL)
		return query_failed(q, "read the table's columns");
	while ((row = mysql_fetch_row(res)) != NULL) {
		if (row[0] == NULL || row[1] == NULL)
			continue;
		ncols++;
		if (strcasecmp(row[0], "caller") == 0)
			q->caller_unsigned =
			    strcasestr(row[1], "unsigned") != NULL;
	}
	mysql_free_result(res);
	if (ncols == 0) {
		query_seterr(q, "table %s.%s does not exist",
		    q->conf->db_name, QUERY_TABLE);
		mysql_close(q->my);
		q->my = NULL;
		return -1;
	}
	return 0;
}

/* The SELECT with the filters; every value in it is a number we wrote. */
static void
query_sql(const struct query *q, char *buf, size_t len)
{
	const struct status_filter *f = &q->filter;
	long long caller;
	size_t n;

	n = (size_t)snprintf(buf, len, "SELECT " QUERY_COLS " FROM "
	    QUERY_TABLE " WHERE 1=1");
	if (f->have_modid && n < len)
		n += (size_t)snprintf(buf + n, len - n, " AND modid=%d",
		    (int)f->modid);
	if (f->have_cmdid && n < len)
		n += (size_t)snprintf(buf + n, len - n, " AND cmdid=%d",
		    (int)f->cmdid);
	if (f->have_caller && n < len) {
		caller = q->caller_unsigned ? (long long)f->caller :
		    (long long)(int32_t)f->caller;
		snprintf(buf + n, len - n, " AND caller=%lld", caller);
	}
}

int
query_fetch(struct query *q, struct status_set *set, long long stale)
{
	char sql[512];
	MYSQL_RES *res;
	MYSQL_ROW row;
	struct status_row *r;

	if (query_connect(q) == -1)
		return -1;
	query_sql(q, sql, sizeof(sql));
	if (mysql_real_query(q->my, sql, strlen(sql)) != 0 ||
	    (res = mysql_store_result(q->my)) == NULL)
		return query_failed(q, "read " QUERY_TABLE);
	if (mysql_num_fields(res) != QUERY_NCOLS) {
		mysql_free_result(res);
		query_seterr(q, "read %s: unexpected columns", QUERY_TABLE);
		return -1;
	}
	set->n = set->noverload = set->nstale = 0;
	set->now = time(NULL);
	while ((row = mysql_fetch_row(res)) != NULL) {
		r = query_append(set);
		if (query_row(r, row, set->now, stale) == -1) {
			set->n--;
			continue;
		}
		set->noverload += r->overload;
		set->nstale += r->stale;
	}
	mysql_free_result(res);
	return 0;
}

static struct status_row *
query_append(struct status_set *set)
{
	struct status_row *v;
	size_t cap;

	if (set->n == set->cap) {
		cap = set->cap == 0 ? 64 : set->cap * 2;
		if ((v = reallocarray(set->v, cap, sizeof(*v))) == NULL)
			fatal("%s: reallocarray", __func__);
		set->v = v;
		set->cap = cap;
	}
	return &set->v[set->n++];
}

/*
 * One MySQL row into r.  A signed column gives -1062731775 for
 * 192.168.0.1, an unsigned one 3232235521: both are the same 32 bits.
 */
static int
query_row(struct status_row *r, MYSQL_ROW row, time_t now, long long stale)
{
	int i;

	for (i = 0; i < QUERY_NCOLS; i++)
		if (row[i] == NULL)
			return -1;
	r->modid = (int32_t)query_num(row[0]);
	r->cmdid = (int32_t)query_num(row[1]);
	r->ip = (uint32_t)query_num(row[2]);
	r->port = (int32_t)(uint32_t)query_num(row[3]);
	r->caller = (uint32_t)query_num(row[4]);
	r->succ = query_num(row[5]);
	r->err = query_num(row[6]);
	r->ts = query_num(row[7]);
	r->overload = row[8][0] == '1';
	r->age = (long long)now - r->ts;
	r->stale = r->age > stale;
	return 0;
}

static long long
query_num(const char *s)
{
	return strtoll(s, NULL, 10);
}

void
status_set_free(struct status_set *set)
{
	free(set->v);
	set->v = NULL;
	set->n = set->cap = 0;
}
