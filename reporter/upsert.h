/*
 * upsert.h: the text of the ts-guarded upsert into ServerCallStatus and
 * the integer formatter that fills it, shared by the workers (store.c)
 * and the benchmark's database probe (contrib/bench/probe.c), so that the
 * probe measures exactly the statement the reporter sends.
 *
 * The ts guard compares against the old ts in each IF() and assigns ts
 * last, which is right under MySQL's left-to-right assignment and
 * MariaDB's alike.  With a clock skew (max_clock_skew seconds), a row
 * whose ts lies further than that ahead of the database's own clock
 * (UNIX_TIMESTAMP(), which MySQL, MariaDB and TiDB all have) loses to
 * any report: a wrong clock wrote it.  The comparison adds to
 * UNIX_TIMESTAMP() rather than subtracting from ts, which an unsigned
 * column would turn into an out-of-range error.
 */
#ifndef LARS_UPSERT_H
#define LARS_UPSERT_H

#include <stdint.h>
#include <stdio.h>

#define UPSERT_HEAD "INSERT INTO ServerCallStatus"			\
    " (modid,cmdid,ip,port,caller,succ_cnt,err_cnt,ts,overload) VALUES "

#define UPSERT_TAIL_MAX	512	/* bytes of upsert_tail()'s text, NUL too */

/*
 * The ON DUPLICATE KEY UPDATE part into buf, its length returned.
 * cmp ">=": equal ts, the later report wins; ">": only a newer ts.
 * skew 0: no clause about the database's clock, the statement of old.
 */
static inline size_t
upsert_tail(char *buf, const char *cmp, int skew)
{
	char win[96];
	int n;

	if (skew > 0)
		snprintf(win, sizeof(win), "(VALUES(ts)%sts OR "
		    "ts>UNIX_TIMESTAMP()+%d)", cmp, skew);
	else
		snprintf(win, sizeof(win), "VALUES(ts)%sts", cmp);
	n = snprintf(buf, UPSERT_TAIL_MAX, " ON DUPLICATE KEY UPDATE"
	    " succ_cnt=IF(%s,VALUES(succ_cnt),succ_cnt),"
	    " err_cnt=IF(%s,VALUES(err_cnt),err_cnt),"
	    " overload=IF(%s,VALUES(overload),overload),", win, win, win);
	if (skew > 0)
		n += snprintf(buf + n, UPSERT_TAIL_MAX - (size_t)n,
		    " ts=IF(%s,VALUES(ts),ts)", win);
	else
		n += snprintf(buf + n, UPSERT_TAIL_MAX - (size_t)n,
		    " ts=GREATEST(ts,VALUES(ts))");
	return (size_t)n;
}

/* Decimal, as signed or as the unsigned bit pattern; no snprintf. */
static inline char *
upsert_put_int(char *p, int32_t v, int as_unsigned)
{
	char tmp[12];
	uint32_t u;
	int n = 0;

	if (!as_unsigned && v < 0) {
		*p++ = '-';
		u = 0u - (uint32_t)v;
	} else
		u = (uint32_t)v;
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

#endif
