/*
 * probe: the raw limits of MariaDB for the reporter's upsert, measured
 * without the reporter.  It writes new rows (every key unique, so the
 * database does all the work) into ServerCallStatus with the ts-guarded
 * INSERT ... ON DUPLICATE KEY UPDATE of reporter/store.c, in these modes:
 *
 *	text	multi-row text statements of PROBE_BATCH rows
 *	prepared	one prepared statement of PROBE_BATCH rows x 9 placeholders
 *	array	a one-row prepared statement executed with MariaDB's array
 *		binding (STMT_ATTR_ARRAY_SIZE) of PROBE_BATCH rows
 *	single	one autocommit statement per row: the original's way
 *
 * each on one or more connections (threads, disjoint keys), autocommit,
 * until -n rows or -t seconds (-T for single), whichever comes first.
 * A mode is named MODE:CONNS, each connection writing a range of keys of
 * its own, or MODE:CONNS:spread, the groups of ten keys dealt to the
 * connections in turn, as the daemon's ring deals (modid, cmdid) to its
 * workers: then neighbours in the primary key come from different
 * connections, and the connections insert into the same pages.
 * The table is truncated before and after each mode.  One line per mode:
 *	probe <mode> <connections> <rows> <seconds> <rows/s>
 * Errors exit 1 with the MySQL error; usage errors exit 2.
 */
#include <err.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mysql.h>

#include "upsert.h"

#define PROBE_BATCH	1000		/* rows per statement */
#define PROBE_COLS	9
#define PROBE_ROW_MAX	128		/* bytes of one "(...)," at most */
#define PROBE_THREADS	16
#define PROBE_TS	1700000000u
#define PROBE_SKEW	300		/* the default max_clock_skew */

/* The statement of reporter/store.c (reporter/upsert.h). */
static const char probe_head[] = UPSERT_HEAD;
static char probe_tail[UPSERT_TAIL_MAX];	/* filled by main() */
static size_t probe_taillen;
static const char probe_marks[] = "(?,?,?,?,?,?,?,?,?)";

enum probe_mode { MODE_TEXT, MODE_PREPARED, MODE_ARRAY, MODE_SINGLE };

static const char *probe_names[] = { "text", "prepared", "array", "single" };

struct probe_conf {
	const char	*socket;
	const char	*host;
	unsigned int	 port;
	const char	*user;
	const char	*passwd;
	const char	*db;
	long long	 rows;		/* -n: per mode, all connections */
	double		 seconds;	/* -t: cap of the batched modes */
	double		 single_seconds; /* -T: cap of single */
};

/* One row's values, laid out as the prepared statement binds them. */
struct probe_row {
	int32_t		 key[5];	/* modid, cmdid, ip, port, caller */
	int32_t		 succ;
	int32_t		 err;
	long long	 ts;
	char		 overload;
};

/* One connection's share of a mode. */
struct probe_job {
	const struct probe_conf	*conf;
	enum probe_mode		 mode;
	pthread_barrier_t	*start;
	long long		 first;		/* key index of its first row */
	int			 id, conns;	/* spread: its turn of conns */
	int			 spread;
	long long		 count;		/* rows it may write */
	long long		 done;
	struct timespec		 t0, t1;
};

static void	 usage(void) __attribute__((noreturn));
static double	 probe_num(const char *, const char *, double, double);
static MYSQL	*probe_connect(const struct probe_conf *);
static void	 probe_fail(MYSQL *, const char *) __attribute__((noreturn));
static void	 probe_stmt_fail(MYSQL_STMT *, const char *)
		    __attribute__((noreturn));
static void	 probe_query(MYSQL *, const char *);
static long long probe_index(const struct probe_job *, long long);
static void	 probe_row(long long, struct probe_row *);
static char	*probe_put_row(char *, const struct probe_row *);
static double	 probe_since(const struct timespec *);
static int	 probe_more(const struct probe_job *, double);
static void	 probe_text(MYSQL *, struct probe_job *, int);
static void	 probe_bind(MYSQL_BIND *, struct probe_row *);
static void	 probe_prepared(MYSQL *, struct probe_job *);
static void	 probe_array(MYSQL *, struct probe_job *);
static void	*probe_thread(void *);
static void	 probe_run(const struct probe_conf *, enum probe_mode, int,
		    int);

static void
usage(void)
{
	fprintf(stderr, "usage: probe [-S socket | -H host -P port] "
	    "[-u user] [-p password] [-D db]\n"
	    "             [-n rows] [-t seconds] [-T single_seconds] "
	    "[mode:connections[:spread] ...]\n"
	    "modes: text, prepared, array, single; default: text:1 text:2 "
	    "prepared:1 array:1 array:2 single:1\n");
	exit(2);
}

static double
probe_num(const char *what, const char *s, double min, double max)
{
	char *end;
	double v;

	v = strtod(s, &end);
	if (end == s || *end != '\0' || v < min || v > max)
		errx(2, "bad %s \"%s\" (%g-%g)", what, s, min, max);
	return v;
}

int
main(int argc, char *argv[])
{
	static const char *defaults[] = { "text:1", "text:2", "prepared:1",
	    "array:1", "array:2", "single:1" };
	struct probe_conf conf = { .user = "lars", .passwd = "",
	    .db = "lars_dns", .host = "127.0.0.1", .port = 3306,
	    .rows = 1000000, .seconds = 10, .single_seconds = 3 };
	const char *const *runs, *colon;
	char *layout;
	size_t len;
	int ch, i, m, nruns, conns, spread;

	probe_taillen = upsert_tail(probe_tail, ">=", PROBE_SKEW);
	while ((ch = getopt(argc, argv, "D:H:n:P:p:S:T:t:u:")) != -1) {
		switch (ch) {
		case 'D':
			conf.db = optarg;
			break;
		case 'H':
			conf.host = optarg;
			break;
		case 'n':
			conf.rows = (long long)probe_num("rows", optarg,
			    PROBE_BATCH, 1e9);
			break;
		case 'P':
			conf.port = (unsigned int)probe_num("port", optarg,
			    1, 65535);
			break;
		case 'p':
			conf.passwd = optarg;
			break;
		case 'S':
			conf.socket = optarg;
			break;
		case 'T':
			conf.single_seconds = probe_num("seconds", optarg,
			    0.1, 3600);
			break;
		case 't':
			conf.seconds = probe_num("seconds", optarg, 0.1, 3600);
			break;
		case 'u':
			conf.user = optarg;
			break;
		default:
			usage();
		}
	}
	runs = argc > optind ? (const char *const *)argv + optind : defaults;
	nruns = argc > optind ? argc - optind :
	    (int)(sizeof(defaults) / sizeof(defaults[0]));
	if (mysql_library_init(0, NULL, NULL) != 0)
		errx(1, "mysql_library_init failed");
	for (i = 0; i < nruns; i++) {
		if ((colon = strchr(runs[i], ':')) == NULL)
			usage();
		len = (size_t)(colon - runs[i]);
		for (m = 0; m <= MODE_SINGLE; m++)
			if (strlen(probe_names[m]) == len &&
			    strncmp(runs[i], probe_names[m], len) == 0)
				break;
		if (m > MODE_SINGLE)
			usage();
		spread = 0;
		if ((layout = strchr(colon + 1, ':')) != NULL) {
			if (strcmp(layout, ":spread") != 0)
				usage();
			*layout = '\0';
			spread = 1;
		}
		conns = (int)probe_num("connections", colon + 1, 1,
		    PROBE_THREADS);
		probe_run(&conf, (enum probe_mode)m, conns, spread);
	}
	mysql_library_end();
	return 0;
}

static MYSQL *
probe_connect(const struct probe_conf *conf)
{
	MYSQL *my;

	if ((my = mysql_init(NULL)) == NULL)
		errx(1, "mysql_init: out of memory");
	if (mysql_real_connect(my, conf->socket != NULL ? "localhost" :
	    conf->host, conf->user, conf->passwd, conf->db, conf->port,
	    conf->socket, 0) == NULL)
		probe_fail(my, "connect");
	return my;
}

static void
probe_fail(MYSQL *my, const char *what)
{
	errx(1, "%s: MySQL error %u: %s", what, mysql_errno(my),
	    mysql_error(my));
}

static void
probe_stmt_fail(MYSQL_STMT *stmt, const char *what)
{
	errx(1, "%s: MySQL error %u: %s", what, mysql_stmt_errno(stmt),
	    mysql_stmt_error(stmt));
}

static void
probe_query(MYSQL *my, const char *q)
{
	if (mysql_real_query(my, q, (unsigned long)strlen(q)) != 0)
		probe_fail(my, q);
}

/* The key index of a job's n-th row. */
static long long
probe_index(const struct probe_job *job, long long n)
{
	if (!job->spread)
		return job->first + n;
	return ((n / 10) * job->conns + job->id) * 10 + n % 10;
}

/*
 * Row i has the key lars-report -L -r 10 gives record i: groups of ten
 * results, 1000 cmdids per modid, seven callers, ip 192.168.0.1 + j.
 */
static void
probe_row(long long i, struct probe_row *r)
{
	long long g = i / 10;
	int j = (int)(i % 10);

	r->key[0] = (int32_t)(1 + g / 1000);
	r->key[1] = (int32_t)(g % 1000 + 1);
	r->key[2] = (int32_t)(0xC0A80001u + (uint32_t)j);
	r->key[3] = 8000 + j % 50;
	r->key[4] = (int32_t)(0x0A000001u + (uint32_t)(g % 7));
	r->succ = (int32_t)(i % 1000);
	r->err = (int32_t)(i % 13);
	r->ts = PROBE_TS;
	r->overload = i % 3 == 0 ? '1' : '0';
}

/* Decimal without snprintf, as store.c writes it. */
static char *
probe_put_row(char *p, const struct probe_row *r)
{
	int i;

	*p++ = '(';
	for (i = 0; i < 5; i++) {
		p = upsert_put_int(p, r->key[i], 0);
		*p++ = ',';
	}
	p = upsert_put_int(p, r->succ, 0);
	*p++ = ',';
	p = upsert_put_int(p, r->err, 0);
	*p++ = ',';
	p += sprintf(p, "%lld", r->ts);
	*p++ = ',';
	*p++ = '\'';
	*p++ = r->overload;
	*p++ = '\'';
	*p++ = ')';
	return p;
}

static double
probe_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) +
	    (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Rows left and time left: another statement may go. */
static int
probe_more(const struct probe_job *job, double cap)
{
	return job->done < job->count && probe_since(&job->t0) < cap;
}

/* Multi-row text statements of batch rows; batch 1 is the original's way. */
static void
probe_text(MYSQL *my, struct probe_job *job, int batch)
{
	struct probe_row r;
	double cap;
	char *sql, *p;
	long long n, k;

	cap = batch == 1 ? job->conf->single_seconds : job->conf->seconds;
	if ((sql = malloc(sizeof(probe_head) + sizeof(probe_tail) +
	    (size_t)batch * PROBE_ROW_MAX)) == NULL)
		err(1, "malloc");
	pthread_barrier_wait(job->start);
	clock_gettime(CLOCK_MONOTONIC, &job->t0);
	while (probe_more(job, cap)) {
		n = job->count - job->done < batch ?
		    job->count - job->done : batch;
		p = sql;
		memcpy(p, probe_head, sizeof(probe_head) - 1);
		p += sizeof(probe_head) - 1;
		for (k = 0; k < n; k++) {
			if (k > 0)
				*p++ = ',';
			probe_row(probe_index(job, job->done + k), &r);
			p = probe_put_row(p, &r);
		}
		memcpy(p, probe_tail, probe_taillen);
		p += probe_taillen;
		if (mysql_real_query(my, sql, (unsigned long)(p - sql)) != 0)
			probe_fail(my, "upsert");
		job->done += n;
	}
	clock_gettime(CLOCK_MONOTONIC, &job->t1);
	free(sql);
}

/* The nine parameters of one row, pointing into r. */
static void
probe_bind(MYSQL_BIND *b, struct probe_row *r)
{
	static unsigned long one = 1;
	int i;

	memset(b, 0, PROBE_COLS * sizeof(*b));
	for (i = 0; i < 5; i++) {
		b[i].buffer_type = MYSQL_TYPE_LONG;
		b[i].buffer = &r->key[i];
	}
	b[5].buffer_type = MYSQL_TYPE_LONG;
	b[5].buffer = &r->succ;
	b[6].buffer_type = MYSQL_TYPE_LONG;
	b[6].buffer = &r->err;
	b[7].buffer_type = MYSQL_TYPE_LONGLONG;
	b[7].buffer = &r->ts;
	b[8].buffer_type = MYSQL_TYPE_STRING;
	b[8].buffer = &r->overload;
	b[8].buffer_length = 1;
	b[8].length = &one;
}

/* One statement of PROBE_BATCH rows x 9 placeholders, prepared once. */
static void
probe_prepared(MYSQL *my, struct probe_job *job)
{
	struct probe_row *rows;
	MYSQL_STMT *stmt;
	MYSQL_BIND *bind;
	size_t len;
	char *sql, *p;
	int k;

	len = sizeof(probe_head) + sizeof(probe_tail) +
	    PROBE_BATCH * sizeof(probe_marks);
	rows = calloc(PROBE_BATCH, sizeof(*rows));
	bind = calloc(PROBE_BATCH * PROBE_COLS, sizeof(*bind));
	if ((sql = malloc(len)) == NULL || rows == NULL || bind == NULL)
		err(1, "malloc");
	memcpy(sql, probe_head, sizeof(probe_head) - 1);
	p = sql + sizeof(probe_head) - 1;
	for (k = 0; k < PROBE_BATCH; k++) {
		if (k > 0)
			*p++ = ',';
		memcpy(p, probe_marks, sizeof(probe_marks) - 1);
		p += sizeof(probe_marks) - 1;
		probe_bind(bind + k * PROBE_COLS, &rows[k]);
	}
	memcpy(p, probe_tail, sizeof(probe_tail));
	if ((stmt = mysql_stmt_init(my)) == NULL)
		probe_fail(my, "mysql_stmt_init");
	if (mysql_stmt_prepare(stmt, sql, (unsigned long)strlen(sql)) != 0)
		probe_stmt_fail(stmt, "prepare");
	if (mysql_stmt_bind_param(stmt, bind) != 0)
		probe_stmt_fail(stmt, "bind");
	pthread_barrier_wait(job->start);
	clock_gettime(CLOCK_MONOTONIC, &job->t0);
	while (probe_more(job, job->conf->seconds)) {
		for (k = 0; k < PROBE_BATCH; k++)
			probe_row(probe_index(job, job->done + k), &rows[k]);
		if (mysql_stmt_execute(stmt) != 0)
			probe_stmt_fail(stmt, "execute");
		job->done += PROBE_BATCH;
	}
	clock_gettime(CLOCK_MONOTONIC, &job->t1);
	mysql_stmt_close(stmt);
	free(sql);
	free(bind);
	free(rows);
}

/*
 * A one-row statement executed with column-wise array binding: each
 * parameter's buffer is an array of PROBE_BATCH values (strings: an array
 * of pointers and one of lengths), sent as one bulk execute.
 */
static void
probe_array(MYSQL *my, struct probe_job *job)
{
	static const char *ov[2] = { "0", "1" };
	struct probe_row r;
	MYSQL_BIND bind[PROBE_COLS];
	MYSQL_STMT *stmt;
	int32_t *col[7];
	long long *ts;
	const char **ovp;
	unsigned long *ovlen;
	unsigned int size = PROBE_BATCH;
	char sql[sizeof(probe_head) + sizeof(probe_marks) +
	    sizeof(probe_tail)];
	int c, k;

	for (c = 0; c < 7; c++)
		if ((col[c] = calloc(PROBE_BATCH, sizeof(int32_t))) == NULL)
			err(1, "calloc");
	ts = calloc(PROBE_BATCH, sizeof(*ts));
	ovp = calloc(PROBE_BATCH, sizeof(*ovp));
	ovlen = calloc(PROBE_BATCH, sizeof(*ovlen));
	if (ts == NULL || ovp == NULL || ovlen == NULL)
		err(1, "calloc");
	snprintf(sql, sizeof(sql), "%s%s%s", probe_head, probe_marks,
	    probe_tail);
	memset(bind, 0, sizeof(bind));
	for (c = 0; c < 7; c++) {
		bind[c].buffer_type = MYSQL_TYPE_LONG;
		bind[c].buffer = col[c];
	}
	bind[7].buffer_type = MYSQL_TYPE_LONGLONG;
	bind[7].buffer = ts;
	bind[8].buffer_type = MYSQL_TYPE_STRING;
	bind[8].buffer = ovp;
	bind[8].length = ovlen;
	if ((stmt = mysql_stmt_init(my)) == NULL)
		probe_fail(my, "mysql_stmt_init");
	if (mysql_stmt_prepare(stmt, sql, (unsigned long)strlen(sql)) != 0)
		probe_stmt_fail(stmt, "prepare");
	if (mysql_stmt_attr_set(stmt, STMT_ATTR_ARRAY_SIZE, &size) != 0)
		probe_stmt_fail(stmt, "STMT_ATTR_ARRAY_SIZE");
	if (mysql_stmt_bind_param(stmt, bind) != 0)
		probe_stmt_fail(stmt, "bind");
	pthread_barrier_wait(job->start);
	clock_gettime(CLOCK_MONOTONIC, &job->t0);
	while (probe_more(job, job->conf->seconds)) {
		for (k = 0; k < PROBE_BATCH; k++) {
			probe_row(probe_index(job, job->done + k), &r);
			for (c = 0; c < 5; c++)
				col[c][k] = r.key[c];
			col[5][k] = r.succ;
			col[6][k] = r.err;
			ts[k] = r.ts;
			ovp[k] = ov[r.overload == '1'];
			ovlen[k] = 1;
		}
		if (mysql_stmt_execute(stmt) != 0)
			probe_stmt_fail(stmt, "execute");
		job->done += PROBE_BATCH;
	}
	clock_gettime(CLOCK_MONOTONIC, &job->t1);
	mysql_stmt_close(stmt);
	for (c = 0; c < 7; c++)
		free(col[c]);
	free(ts);
	free(ovp);
	free(ovlen);
}

static void *
probe_thread(void *arg)
{
	struct probe_job *job = arg;
	MYSQL *my;

	mysql_thread_init();
	my = probe_connect(job->conf);
	switch (job->mode) {
	case MODE_TEXT:
		probe_text(my, job, PROBE_BATCH);
		break;
	case MODE_SINGLE:
		probe_text(my, job, 1);
		break;
	case MODE_PREPARED:
		probe_prepared(my, job);
		break;
	case MODE_ARRAY:
		probe_array(my, job);
		break;
	}
	mysql_close(my);
	mysql_thread_end();
	return NULL;
}

/*
 * One mode on conns connections, each on its own range of keys (or, spread,
 * its turn of the groups), started together; the rate is all rows over the first start to the last end.
 */
static void
probe_run(const struct probe_conf *conf, enum probe_mode mode, int conns,
    int spread)
{
	struct probe_job jobs[PROBE_THREADS];
	pthread_t tid[PROBE_THREADS];
	pthread_barrier_t start;
	struct timespec t0, t1;
	long long share, rows = 0;
	double secs;
	MYSQL *my;
	int i;

	my = probe_connect(conf);
	probe_query(my, "TRUNCATE TABLE ServerCallStatus");
	/* whole statements per connection */
	share = (conf->rows / conns + PROBE_BATCH - 1) / PROBE_BATCH *
	    PROBE_BATCH;
	pthread_barrier_init(&start, NULL, (unsigned int)conns);
	for (i = 0; i < conns; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].conf = conf;
		jobs[i].mode = mode;
		jobs[i].start = &start;
		jobs[i].first = share * i;
		jobs[i].id = i;
		jobs[i].conns = conns;
		jobs[i].spread = spread;
		jobs[i].count = share;
		if ((errno = pthread_create(&tid[i], NULL, probe_thread,
		    &jobs[i])) != 0)
			err(1, "pthread_create");
	}
	for (i = 0; i < conns; i++)
		pthread_join(tid[i], NULL);
	pthread_barrier_destroy(&start);
	t0 = jobs[0].t0;
	t1 = jobs[0].t1;
	for (i = 0; i < conns; i++) {
		rows += jobs[i].done;
		if (jobs[i].t0.tv_sec < t0.tv_sec || (jobs[i].t0.tv_sec ==
		    t0.tv_sec && jobs[i].t0.tv_nsec < t0.tv_nsec))
			t0 = jobs[i].t0;
		if (jobs[i].t1.tv_sec > t1.tv_sec || (jobs[i].t1.tv_sec ==
		    t1.tv_sec && jobs[i].t1.tv_nsec > t1.tv_nsec))
			t1 = jobs[i].t1;
	}
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("probe %s%s %d %lld %.3f %.0f\n", probe_names[mode],
	    spread ? "-spread" : "", conns, rows, secs, secs > 0 ? (double)rows / secs : 0.0);
	fflush(stdout);
	probe_query(my, "TRUNCATE TABLE ServerCallStatus");
	mysql_close(my);
}
