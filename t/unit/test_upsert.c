/*
 * test_upsert: upsert_tail(), the ON DUPLICATE KEY UPDATE text of
 * reporter/upsert.h.  With skew 0 it is byte for byte the statement of
 * before max_clock_skew; with a skew every IF() and the ts assignment
 * also let a row more than skew seconds ahead of the database's clock
 * lose, ts is still assigned last (after every IF() that reads the
 * old ts), and the longest skew fits.
 */
#include <string.h>

#include "tap.h"
#include "upsert.h"

#define OLD(cmp) " ON DUPLICATE KEY UPDATE"				\
    " succ_cnt=IF(VALUES(ts)" cmp "ts,VALUES(succ_cnt),succ_cnt),"	\
    " err_cnt=IF(VALUES(ts)" cmp "ts,VALUES(err_cnt),err_cnt),"		\
    " overload=IF(VALUES(ts)" cmp "ts,VALUES(overload),overload),"	\
    " ts=GREATEST(ts,VALUES(ts))"

#define WIN(cmp, s) "(VALUES(ts)" cmp "ts OR ts>UNIX_TIMESTAMP()+" s ")"

#define NEW(cmp, s) " ON DUPLICATE KEY UPDATE"				\
    " succ_cnt=IF(" WIN(cmp, s) ",VALUES(succ_cnt),succ_cnt),"		\
    " err_cnt=IF(" WIN(cmp, s) ",VALUES(err_cnt),err_cnt),"		\
    " overload=IF(" WIN(cmp, s) ",VALUES(overload),overload),"		\
    " ts=IF(" WIN(cmp, s) ",VALUES(ts),ts)"

static void
check(const char *cmp, int skew, const char *want)
{
	char buf[UPSERT_TAIL_MAX];
	size_t n;

	memset(buf, 'x', sizeof(buf));
	n = upsert_tail(buf, cmp, skew);
	ok(n == strlen(want) && strcmp(buf, want) == 0,
	    "cmp \"%s\", skew %d: the expected text", cmp, skew);
	if (strcmp(buf, want) != 0)
		diag("got  '%s'\nwant '%s'", buf, want);
	ok(n < UPSERT_TAIL_MAX, "cmp \"%s\", skew %d: %zu bytes fit", cmp,
	    skew, n);
}

int
main(void)
{
	check(">=", 0, OLD(">="));
	check(">", 0, OLD(">"));
	check(">=", 300, NEW(">=", "300"));
	check(">", 300, NEW(">", "300"));
	check(">=", 86400, NEW(">=", "86400"));
	check(">", 2147483647, NEW(">", "2147483647"));

	return done_testing();
}
