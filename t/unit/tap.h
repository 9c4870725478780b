/*
 * tap.h: a header-only TAP producer for the C unit tests in t/unit/.
 *
 *	ok(cond, fmt, ...)		one test; true if it passed
 *	is_int(got, expected, fmt, ...)	signed compare, diag both on failure
 *	is_uint(got, expected, fmt, ...) unsigned compare, shown in hex too
 *	is_mem(got, expected, len, fmt, ...) byte compare, diag the first
 *					differing offset
 *	diag(fmt, ...)			"# ..." on stderr
 *	note(fmt, ...)			"# ..." on stdout
 *	return done_testing();		prints "1..N"; 0 if all passed
 *
 * Everything is static and marked unused, so a test includes this file
 * and uses what it needs under -Wall -Wextra -Werror.
 */
#ifndef LARS_TAP_H
#define LARS_TAP_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#define TAP_PRINTF(f, a)	__attribute__((format(printf, f, a), unused))

static int tap_count;
static int tap_failed;

static void tap_vline(FILE *, const char *, const char *, va_list)
    __attribute__((format(printf, 3, 0)));

static void
tap_vline(FILE *fp, const char *prefix, const char *fmt, va_list ap)
{
	fputs(prefix, fp);
	vfprintf(fp, fmt, ap);
	fputc('\n', fp);
	fflush(fp);
}

static void TAP_PRINTF(1, 2)
diag(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	va_start(ap, fmt);
	tap_vline(stderr, "# ", fmt, ap);
	va_end(ap);
}

static void TAP_PRINTF(1, 2)
note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vline(stdout, "# ", fmt, ap);
	va_end(ap);
}

static int tap_vok(int, const char *, va_list)
    __attribute__((format(printf, 2, 0)));

static int
tap_vok(int cond, const char *fmt, va_list ap)
{
	tap_count++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_count);
	tap_vline(stdout, "", fmt, ap);
	return cond;
}

static int TAP_PRINTF(2, 3)
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vok(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		diag("  failed test %d", tap_count);
	return cond;
}

static int TAP_PRINTF(3, 4)
is_int(long long got, long long expected, const char *fmt, ...)
{
	va_list ap;
	int cond = got == expected;

	va_start(ap, fmt);
	tap_vok(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		diag("  failed test %d:\n#          got: %lld\n"
		    "#     expected: %lld", tap_count, got, expected);
	return cond;
}

static int TAP_PRINTF(3, 4)
is_uint(unsigned long long got, unsigned long long expected,
    const char *fmt, ...)
{
	va_list ap;
	int cond = got == expected;

	va_start(ap, fmt);
	tap_vok(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		diag("  failed test %d:\n#          got: %llu (0x%llx)\n"
		    "#     expected: %llu (0x%llx)", tap_count, got, got,
		    expected, expected);
	return cond;
}

static int TAP_PRINTF(4, 5)
is_mem(const void *got, const void *expected, size_t len,
    const char *fmt, ...)
{
	const unsigned char *g = got, *e = expected;
	va_list ap;
	size_t i;

	for (i = 0; i < len && g[i] == e[i]; i++)
		;
	va_start(ap, fmt);
	tap_vok(i == len, fmt, ap);
	va_end(ap);
	if (i != len)
		diag("  failed test %d: byte %zu is 0x%02x, expected 0x%02x",
		    tap_count, i, g[i], e[i]);
	return i == len;
}

static int __attribute__((unused))
done_testing(void)
{
	printf("1..%d\n", tap_count);
	fflush(stdout);
	if (tap_failed)
		diag("Looks like you failed %d test%s of %d.", tap_failed,
		    tap_failed == 1 ? "" : "s", tap_count);
	return tap_failed ? 1 : 0;
}

#endif
