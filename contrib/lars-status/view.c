/*
 * view.c: the order and the look of lars-status's rows.
 *
 * view_sort() puts rows in view order: modid, cmdid, then overloaded
 * hosts first, then ip (as an address, so 10.0.0.1 before 192.168.0.1 in
 * both schemas), port, caller.  view_raw() writes the tab-separated form
 * for scripts, one row per line in the fixed column order of the man
 * page; view_table() writes the aligned table for people, overloaded
 * rows bold red and stale ones dim when color is on, cut to a screen's
 * size when asked (the --watch view).  Neither does any I/O but to the
 * FILE it is given.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

#define VIEW_NCOLS	10
#define VIEW_CELL	32		/* bytes of one cell, NUL included */
#define VIEW_GAP	"  "

#define ANSI_BOLD	"\033[1m"
#define ANSI_OVERLOAD	"\033[1;31m"	/* bold red */
#define ANSI_STALE	"\033[2m"	/* dim */
#define ANSI_BOTH	"\033[2;31m"	/* dim red */
#define ANSI_RESET	"\033[0m"

struct view_cells {
	char		 c[VIEW_NCOLS][VIEW_CELL];
};

static const char *view_heads[VIEW_NCOLS] = {
	"MODID", "CMDID", "HOST", "CALLER", "SUCC", "ERR", "ERR%",
	"OVERLOAD", "AGE", "STALE"
};

/* 1: right-aligned (numbers) */
static const int view_right[VIEW_NCOLS] = { 1, 1, 0, 0, 1, 1, 1, 0, 1, 0 };

static int view_cmp(const void *, const void *);
static void view_ipv4(char *, size_t, uint32_t);
static void view_age(char *, size_t, long long);
static int view_rate(char *, size_t, const struct status_row *, int);
static void view_cells(struct view_cells *, const struct status_row *);
static void view_widths(const struct status_set *, size_t, int *);
static void view_line(FILE *, const struct view_cells *, const int *,
    const char *, int);

static int
view_cmp(const void *a, const void *b)
{
	const struct status_row *x = a, *y = b;

	if (x->modid != y->modid)
		return x->modid < y->modid ? -1 : 1;
	if (x->cmdid != y->cmdid)
		return x->cmdid < y->cmdid ? -1 : 1;
	if (x->overload != y->overload)
		return x->overload ? -1 : 1;
	if (x->ip != y->ip)
		return x->ip < y->ip ? -1 : 1;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	if (x->caller != y->caller)
		return x->caller < y->caller ? -1 : 1;
	return 0;
}

void
view_sort(struct status_set *set)
{
	if (set->n > 1)
		qsort(set->v, set->n, sizeof(set->v[0]), view_cmp);
}

static void
view_ipv4(char *buf, size_t len, uint32_t a)
{
	snprintf(buf, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff,
	    (a >> 8) & 0xff, a & 0xff);
}

/* 5s, 3m, 2h, 4d: the largest whole unit; a ts in the future is "-5s". */
static void
view_age(char *buf, size_t len, long long age)
{
	const char *sign = age < 0 ? "-" : "";

	if (age < 0)
		age = -age;
	if (age < 60)
		snprintf(buf, len, "%s%llds", sign, age);
	else if (age < 3600)
		snprintf(buf, len, "%s%lldm", sign, age / 60);
	else if (age < 86400)
		snprintf(buf, len, "%s%lldh", sign, age / 3600);
	else
		snprintf(buf, len, "%s%lldd", sign, age / 86400);
}

/* err / (succ + err) in percent, "-" without calls; returns 0 then. */
static int
view_rate(char *buf, size_t len, const struct status_row *r, int decimals)
{
	long long calls = r->succ + r->err;

	if (calls == 0) {
		snprintf(buf, len, "-");
		return 0;
	}
	snprintf(buf, len, "%.*f", decimals, 100.0 * (double)r->err /
	    (double)calls);
	return 1;
}

void
view_raw(FILE *fp, const struct status_set *set)
{
	const struct status_row *r;
	char ip[16], caller[16], rate[32];
	size_t i;

	for (i = 0; i < set->n; i++) {
		r = &set->v[i];
		view_ipv4(ip, sizeof(ip), r->ip);
		view_ipv4(caller, sizeof(caller), r->caller);
		view_rate(rate, sizeof(rate), r, 2);
		fprintf(fp, "%d\t%d\t%s\t%d\t%s\t%lld\t%lld\t%s\t%d\t%lld\t%d\n",
		    (int)r->modid, (int)r->cmdid, ip, (int)r->port, caller,
		    r->succ, r->err, rate, r->overload, r->age, r->stale);
	}
}

static void
view_cells(struct view_cells *v, const struct status_row *r)
{
	char ip[16];

	snprintf(v->c[0], VIEW_CELL, "%d", (int)r->modid);
	snprintf(v->c[1], VIEW_CELL, "%d", (int)r->cmdid);
	view_ipv4(ip, sizeof(ip), r->ip);
	snprintf(v->c[2], VIEW_CELL, "%s:%d", ip, (int)r->port);
	view_ipv4(v->c[3], VIEW_CELL, r->caller);
	snprintf(v->c[4], VIEW_CELL, "%lld", r->succ);
	snprintf(v->c[5], VIEW_CELL, "%lld", r->err);
	if (view_rate(v->c[6], VIEW_CELL - 1, r, 1))
		strlcat(v->c[6], "%", VIEW_CELL);
	snprintf(v->c[7], VIEW_CELL, "%s", r->overload ? "yes" : "no");
	view_age(v->c[8], VIEW_CELL, r->age);
	/* a ts in the future: a wrong clock wrote it */
	snprintf(v->c[9], VIEW_CELL, "%s", r->age < 0 ? "future" :
	    r->stale ? "stale" : "");
}

/* Column widths over the headings and the first n rows. */
static void
view_widths(const struct status_set *set, size_t n, int *w)
{
	struct view_cells v;
	size_t i;
	int c, len;

	for (c = 0; c < VIEW_NCOLS; c++)
		w[c] = (int)strlen(view_heads[c]);
	for (i = 0; i < n; i++) {
		view_cells(&v, &set->v[i]);
		for (c = 0; c < VIEW_NCOLS; c++)
			if ((len = (int)strlen(v.c[c])) > w[c])
				w[c] = len;
	}
}

/* One line: cells padded, trailing blanks cut, then cut to cols. */
static void
view_line(FILE *fp, const struct view_cells *v, const int *w,
    const char *attr, int cols)
{
	char line[VIEW_NCOLS * (VIEW_CELL + sizeof(VIEW_GAP))];
	size_t n = 0, end;
	int c;

	for (c = 0; c < VIEW_NCOLS && n < sizeof(line); c++)
		n += (size_t)snprintf(line + n, sizeof(line) - n,
		    view_right[c] ? "%s%*s" : "%s%-*s", c ? VIEW_GAP : "",
		    w[c], v->c[c]);
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	for (end = n; end > 0 && line[end - 1] == ' '; end--)
		;
	if (cols > 0 && end > (size_t)cols)
		end = (size_t)cols;
	line[end] = '\0';
	if (attr != NULL)
		fprintf(fp, "%s%s%s\n", attr, line, ANSI_RESET);
	else
		fprintf(fp, "%s\n", line);
}

/*
 * The headings and the rows.  With size->rows, at most that many lines
 * are written, the last one saying how many rows did not fit.
 */
void
view_table(FILE *fp, const struct status_set *set, int color,
    const struct view_size *size)
{
	struct view_cells v;
	const struct status_row *r;
	const char *attr;
	size_t i, shown = set->n;
	int w[VIEW_NCOLS], c;

	if (size->rows > 0 && set->n + 1 > (size_t)size->rows)
		shown = size->rows > 2 ? (size_t)size->rows - 2 : 0;
	view_widths(set, shown, w);
	for (c = 0; c < VIEW_NCOLS; c++)
		snprintf(v.c[c], VIEW_CELL, "%s", view_heads[c]);
	view_line(fp, &v, w, color ? ANSI_BOLD : NULL, size->cols);
	for (i = 0; i < shown; i++) {
		r = &set->v[i];
		view_cells(&v, r);
		attr = NULL;
		if (color && r->overload)
			attr = r->stale ? ANSI_BOTH : ANSI_OVERLOAD;
		else if (color && r->stale)
			attr = ANSI_STALE;
		view_line(fp, &v, w, attr, size->cols);
	}
	if (shown < set->n && size->rows > 1)
		fprintf(fp, "... %zu more rows\n", set->n - shown);
}
