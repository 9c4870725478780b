/*
 * lars-status: a command-line view of ServerCallStatus, the table
 * lars-reporter writes, for the people who watch services.
 *
 * This file holds main, the flags and the one-shot modes (table or
 * --raw); query.c reads the table, view.c formats it, watch.c is
 * --watch.  The database settings come from the daemon's own
 * configuration file, read with the daemon's parser (reporter/config.c).
 * Exit status: 0 done, 1 a configuration, database or output error,
 * 2 a usage error.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "reporter.h"
#include "status.h"

#define EXIT_USAGE	2
#define OPTSTRING	"+:C:c:f:hm:rs:Vw::"

static void usage(int) __attribute__((noreturn));
static void status_badarg(int, const char *, const char *, const char *)
    __attribute__((noreturn));
static long long status_num(int, const char *, const char *, long long,
    long long);
static uint32_t status_addr(int, const char *, const char *);
static int status_interval(const char *, int, char **);
static void status_opts(struct status_opts *, int, char **);
static int status_color(int);
static int status_once(struct query *, const struct status_opts *);

static const struct option status_longopts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "raw", no_argument, NULL, 'r' },
	{ "version", no_argument, NULL, 'V' },
	{ "watch", optional_argument, NULL, 'w' },
	{ NULL, 0, NULL, 0 }
};

static void
usage(int status)
{
	FILE *fp = status == 0 ? stdout : stderr;

	fprintf(fp, "usage: lars-status [-hrV] [-C caller] [-c cmdid] "
	    "[-f file] [-m modid] [-s seconds] [-w [interval]]\n");
	exit(status);
}

static void
status_badarg(int ch, const char *what, const char *arg, const char *why)
{
	fprintf(stderr, "lars-status: bad -%c %s \"%s\": %s\n", ch, what,
	    arg, why);
	usage(EXIT_USAGE);
}

/* A number in [min, max] for flag ch, or a usage error naming it. */
static long long
status_num(int ch, const char *what, const char *arg, long long min,
    long long max)
{
	const char *errstr;
	long long v;

	v = strtonum(arg, min, max, &errstr);
	if (errstr != NULL)
		status_badarg(ch, what, arg, errstr);
	return v;
}

/*
 * An address as the agents send it: a dotted quad, or the int32 itself
 * (192.168.0.1 or -1062731775); the unsigned form 3232235521 is taken
 * too.  Returns the 32-bit pattern.
 */
static uint32_t
status_addr(int ch, const char *what, const char *arg)
{
	struct in_addr in;

	if (strchr(arg, '.') != NULL) {
		if (inet_pton(AF_INET, arg, &in) != 1)
			status_badarg(ch, what, arg, "not a dotted quad");
		return ntohl(in.s_addr);
	}
	return (uint32_t)status_num(ch, what, arg, INT32_MIN, UINT32_MAX);
}

/*
 * -w's optional interval: "-w5", "--watch=5", or, as the next argument,
 * "-w 5" (lars-status takes no operands, so a number there is it).
 */
static int
status_interval(const char *arg, int argc, char **argv)
{
	if (arg == NULL && optind < argc && argv[optind][0] >= '0' &&
	    argv[optind][0] <= '9')
		arg = argv[optind++];
	if (arg == NULL)
		return STATUS_WATCH_DEFAULT;
	return (int)status_num('w', "interval", arg, 1, 3600);
}

static void
status_opts(struct status_opts *o, int argc, char **argv)
{
	struct status_filter *f = &o->filter;
	int ch;

	memset(o, 0, sizeof(*o));
	o->conf_path = CONF_DEFAULT_PATH;
	o->stale = STATUS_STALE_DEFAULT;
	while ((ch = getopt_long(argc, argv, OPTSTRING, status_longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'C':
			f->caller = status_addr(ch, "caller", optarg);
			f->have_caller = 1;
			break;
		case 'c':
			f->cmdid = (int32_t)status_num(ch, "cmdid", optarg,
			    INT32_MIN, INT32_MAX);
			f->have_cmdid = 1;
			break;
		case 'f':
			o->conf_path = optarg;
			break;
		case 'h':
			usage(0);
		case 'm':
			f->modid = (int32_t)status_num(ch, "modid", optarg,
			    INT32_MIN, INT32_MAX);
			f->have_modid = 1;
			break;
		case 'r':
			o->raw = 1;
			break;
		case 's':
			o->stale = status_num(ch, "seconds", optarg, 0,
			    INT32_MAX);
			break;
		case 'V':
			printf("lars-status %s\n", STATUS_VERSION);
			exit(0);
		case 'w':
			o->watch = 1;
			o->interval = status_interval(optarg, argc, argv);
			break;
		case ':':
			fprintf(stderr, "lars-status: -%c needs a value\n",
			    optopt);
			usage(EXIT_USAGE);
		default:
			/* optopt: 0 for an unknown long option, the
			 * flag of a long one with a bad value. */
			if (optopt == 0 || strchr(OPTSTRING, optopt) != NULL)
				fprintf(stderr, "lars-status: bad option "
				    "\"%s\"\n", argv[optind - 1]);
			else
				fprintf(stderr, "lars-status: unknown flag "
				    "-%c\n", optopt);
			usage(EXIT_USAGE);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "lars-status: unexpected argument \"%s\"\n",
		    argv[optind]);
		usage(EXIT_USAGE);
	}
	if (o->raw && o->watch) {
		fprintf(stderr, "lars-status: -r and -w exclude each other\n");
		usage(EXIT_USAGE);
	}
}

/* ANSI attributes only for a terminal, never for --raw or NO_COLOR. */
static int
status_color(int raw)
{
	const char *nc = getenv("NO_COLOR");

	return !raw && isatty(STDOUT_FILENO) && (nc == NULL || *nc == '\0');
}

static int
status_once(struct query *q, const struct status_opts *o)
{
	struct status_set set = { 0 };
	struct view_size size = { 0, 0 };

	if (query_fetch(q, &set, o->stale) == -1) {
		log_warnx("%s", query_error(q));
		return 1;
	}
	view_sort(&set);
	if (o->raw)
		view_raw(stdout, &set);
	else
		view_table(stdout, &set, o->color, &size);
	status_set_free(&set);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		log_warn("stdout");
		return 1;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	struct status_opts o;
	struct config *conf;
	struct query *q;
	int nerrors, rc;

	log_init(LOG_TO_STDERR, 0, "lars-status");
	status_opts(&o, argc, argv);
	o.color = status_color(o.raw);
	if ((conf = config_load(o.conf_path, &nerrors)) == NULL) {
		log_warnx("%s: configuration not loaded", o.conf_path);
		return 1;
	}
	q = query_new(conf, &o.filter);
	if (query_connect(q) == -1) {
		log_warnx("%s", query_error(q));
		rc = 1;
	} else if (o.watch)
		rc = watch_run(q, &o);
	else
		rc = status_once(q, &o);
	query_free(q);
	config_free(conf);
	return rc;
}
