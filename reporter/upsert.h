/*
 * upsert.h: the text of the ts-guarded upsert into ServerCallStatus and
 * the integer formatter that fills it, shared by the workers (store.c)
 * and the benchmark's database probe (contrib/bench/probe.c), so that the
 * probe measures exactly the statement the reporter sends.
 *
 * The ts guard compares against the old ts in each IF() and assigns ts
 * last, which is right under MySQL's left-to-right assignment and
 * MariaDB's alike.
 */
#ifndef LARS_UPSERT_H
#define LARS_UPSERT_H

#include <stdint.h>

#define UPSERT_HEAD "INSERT INTO ServerCallStatus"			\
    " (modid,cmdid,ip,port,caller,succ_cnt,err_cnt,ts,overload) VALUES "

/* cmp ">=": equal ts, the later report wins; ">": only a newer ts. */
#define UPSERT_TAIL(cmp) " ON DUPLICATE KEY UPDATE"			\
    " succ_cnt=IF(VALUES(ts)" cmp "ts,VALUES(succ_cnt),succ_cnt),"	\
    " err_cnt=IF(VALUES(ts)" cmp "ts,VALUES(err_cnt),err_cnt),"		\
    " overload=IF(VALUES(ts)" cmp "ts,VALUES(overload),overload),"	\
    " ts=GREATEST(ts,VALUES(ts))"

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
