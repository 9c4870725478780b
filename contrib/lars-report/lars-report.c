/*
 * lars-report: the client that stands in for the Lars agent.
 *
 * Without -L it sends one ReportStatusReq built from its arguments and
 * exits; with -L it runs the load generator of load.c.  This file holds
 * main, the flags, the parsing of values and the single-report mode.
 * Bad values exit 1 naming the flag or result; usage errors exit 2.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "frame.h"

#define OPTSTRING	"+:C:c:e:H:hi:j:k:LN:n:m:o:p:R:r:T:t:V"
#define SINGLE_FLAGS	"cCi"		/* only without -L */
#define LOAD_FLAGS	"ejnNTrkRo"	/* only with -L */

struct options {
	int		 load;		/* -L */
	int		 single_flag;	/* first flag seen that needs no -L */
	int		 load_flag;	/* first flag seen that needs -L */
	int		 have_modid;
	int		 have_cmdid;
	int		 have_ts;
	int		 have_messages;
	const char	*host;
	char		 port[8];
	int32_t		 modid;
	int32_t		 cmdid;
	int32_t		 caller;
	int32_t		 msgid;
	uint32_t	 ts;
	struct load_conf lc;
};

static void		 usage(int) __attribute__((noreturn));
static void		 opt_init(struct options *);
static void		 opt_set(struct options *, int, const char *);
static void		 opt_check(const struct options *, int);
static long long	 opt_num(int, const char *, const char *, long long,
			    long long);
static int32_t		 opt_addr(int, const char *, const char *);
static const char	*addr_parse(const char *, int32_t *);
static long long	 result_num(const char *, const char *, const char *,
			    long long, long long);
static void		 result_parse(const char *, Lars__HostCallResult *);
static int		 single_run(const struct options *, int, char **);
static void		 single_send(const char *, const char *,
			    const uint8_t *, size_t);
static int		 load_start(struct options *);

static void
usage(int status)
{
	FILE *fp = status == 0 ? stdout : stderr;

	fprintf(fp, "usage: lars-report [-H host] [-p port] -m modid "
	    "-c cmdid [-C caller] [-t ts] [-i msgid] result ...\n"
	    "       lars-report -L [-H host] [-p port] [-j threads] [-n conns] "
	    "[-N messages | -T seconds] [-r results] [-k keys] "
	    "[-m modid_base] [-t ts_base] [-R rate] [-o file] [-e mode]\n");
	exit(status);
}

int
main(int argc, char *argv[])
{
	struct options o;
	int ch;

	opt_init(&o);
	while ((ch = getopt(argc, argv, OPTSTRING)) != -1)
		opt_set(&o, ch, optarg);
	argc -= optind;
	argv += optind;
	opt_check(&o, argc);
	if (o.load)
		return load_start(&o);
	return single_run(&o, argc, argv);
}

static void
opt_init(struct options *o)
{
	memset(o, 0, sizeof(*o));
	o->host = CLIENT_DEFAULT_HOST;
	strlcpy(o->port, CLIENT_DEFAULT_PORT, sizeof(o->port));
	o->msgid = FRAME_MSGID_REPORT;
	o->modid = 1;
	o->ts = 1700000000;
	o->lc.conns = 4;
	o->lc.threads = 1;
	o->lc.messages = 10000;
	o->lc.results = 10;
	o->lc.keys = 1000;
}

/* One flag: its value goes where both modes or its own mode reads it. */
static void
opt_set(struct options *o, int ch, const char *arg)
{
	if (strchr(SINGLE_FLAGS, ch) != NULL && o->single_flag == 0)
		o->single_flag = ch;
	if (strchr(LOAD_FLAGS, ch) != NULL && o->load_flag == 0)
		o->load_flag = ch;

	switch (ch) {
	case 'C':
		o->caller = opt_addr(ch, "caller", arg);
		break;
	case 'c':
		o->cmdid = (int32_t)opt_num(ch, "cmdid", arg, INT32_MIN,
		    INT32_MAX);
		o->have_cmdid = 1;
		break;
	case 'e':
		if (strcmp(arg, "once") == 0)
			o->lc.on_close = LOAD_CLOSE_ONCE;
		else if (strcmp(arg, "always") == 0)
			o->lc.on_close = LOAD_CLOSE_ALWAYS;
		else if (strcmp(arg, "never") == 0)
			o->lc.on_close = LOAD_CLOSE_NEVER;
		else
			errx(1, "bad -e \"%s\": want once, always or never",
			    arg);
		break;
	case 'H':
		o->host = arg;
		break;
	case 'h':
		usage(0);
	case 'i':
		o->msgid = (int32_t)opt_num(ch, "msgid", arg, INT32_MIN,
		    INT32_MAX);
		break;
	case 'j':
		o->lc.threads = (int)opt_num(ch, "threads", arg, 1, 64);
		break;
	case 'k':
		o->lc.keys = (int)opt_num(ch, "keys", arg, 1, 10000000);
		break;
	case 'L':
		o->load = 1;
		break;
	case 'm':
		o->modid = (int32_t)opt_num(ch, "modid", arg, INT32_MIN,
		    INT32_MAX);
		o->have_modid = 1;
		break;
	case 'N':
		o->lc.messages = opt_num(ch, "messages", arg, 0, LLONG_MAX);
		o->have_messages = 1;
		break;
	case 'n':
		o->lc.conns = (int)opt_num(ch, "conns", arg, 1, 1000);
		break;
	case 'o':
		o->lc.out = arg;
		break;
	case 'p':
		snprintf(o->port, sizeof(o->port), "%lld",
		    opt_num(ch, "port", arg, 1, 65535));
		break;
	case 'R':
		o->lc.rate = opt_num(ch, "rate", arg, 0, 1000000000);
		break;
	case 'r':
		/* 2000 results of at most 26 bytes stay under 65527. */
		o->lc.results = (int)opt_num(ch, "results", arg, 1, 2000);
		break;
	case 'T':
		o->lc.seconds = (int)opt_num(ch, "seconds", arg, 1,
		    365 * 86400);
		break;
	case 't':
		o->ts = (uint32_t)opt_num(ch, "ts", arg, 0, UINT32_MAX);
		o->have_ts = 1;
		break;
	case 'V':
		printf("lars-report %s\n", CLIENT_VERSION);
		exit(0);
	case ':':
		warnx("-%c needs a value", optopt);
		usage(2);
	default:
		warnx("unknown flag -%c", optopt);
		usage(2);
	}
}

/* Flags that belong to the other mode, or missing ones, are usage errors. */
static void
opt_check(const struct options *o, int nargs)
{
	if (o->load && o->single_flag) {
		warnx("-%c does not go with -L", o->single_flag);
		usage(2);
	}
	if (!o->load && o->load_flag) {
		warnx("-%c needs -L", o->load_flag);
		usage(2);
	}
	if (o->load && nargs > 0) {
		warnx("-L takes no results");
		usage(2);
	}
	if (o->have_messages && o->lc.seconds > 0) {
		warnx("-N and -T exclude each other");
		usage(2);
	}
	if (!o->load && (!o->have_modid || !o->have_cmdid)) {
		warnx("-m modid and -c cmdid are required");
		usage(2);
	}
}

/* A number in [min, max] for flag ch, or exit naming flag and value. */
static long long
opt_num(int ch, const char *what, const char *arg, long long min,
    long long max)
{
	const char *errstr;
	long long v;

	v = strtonum(arg, min, max, &errstr);
	if (errstr != NULL)
		errx(1, "bad -%c %s \"%s\": %s", ch, what, arg, errstr);
	return v;
}

static int32_t
opt_addr(int ch, const char *what, const char *arg)
{
	const char *errstr;
	int32_t v;

	if ((errstr = addr_parse(arg, &v)) != NULL)
		errx(1, "bad -%c %s \"%s\": %s", ch, what, arg, errstr);
	return v;
}

/*
 * An address as the agent sends it: a dotted quad becomes the IPv4
 * address in host order as int32 (192.168.0.1 is -1062731775), anything
 * else must be a decimal int32.  Returns NULL or what is wrong.
 */
static const char *
addr_parse(const char *s, int32_t *v)
{
	struct in_addr in;
	const char *errstr;
	long long n;

	if (strchr(s, '.') != NULL) {
		if (inet_pton(AF_INET, s, &in) != 1)
			return "not a dotted quad";
		*v = (int32_t)ntohl(in.s_addr);
		return NULL;
	}
	n = strtonum(s, INT32_MIN, INT32_MAX, &errstr);
	if (errstr == NULL)
		*v = (int32_t)n;
	return errstr;
}

static long long
result_num(const char *arg, const char *what, const char *s, long long min,
    long long max)
{
	const char *errstr;
	long long v;

	v = strtonum(s, min, max, &errstr);
	if (errstr != NULL)
		errx(1, "bad result \"%s\": %s \"%s\": %s", arg, what, s,
		    errstr);
	return v;
}

/* ip:port:succ:err[:overload] into r, or exit naming the result. */
static void
result_parse(const char *arg, Lars__HostCallResult *r)
{
	char buf[128], *p, *f[6];
	const char *errstr;
	int n = 0;

	if (strlcpy(buf, arg, sizeof(buf)) >= sizeof(buf))
		errx(1, "bad result \"%s\": too long", arg);
	for (p = buf; n < 6 && (f[n] = strsep(&p, ":")) != NULL; n++)
		;
	if (n < 4 || n > 5)
		errx(1, "bad result \"%s\": want ip:port:succ:err[:overload]",
		    arg);
	if ((errstr = addr_parse(f[0], &r->ip)) != NULL)
		errx(1, "bad result \"%s\": ip \"%s\": %s", arg, f[0], errstr);
	r->port = (int32_t)result_num(arg, "port", f[1], INT32_MIN,
	    INT32_MAX);
	r->succ = (uint32_t)result_num(arg, "succ", f[2], 0, UINT32_MAX);
	r->err = (uint32_t)result_num(arg, "err", f[3], 0, UINT32_MAX);
	if (n == 5)
		r->overload = (protobuf_c_boolean)result_num(arg, "overload",
		    f[4], 0, 1);
}

/* Build the report from the arguments before connecting, then send it. */
static int
single_run(const struct options *o, int argc, char **argv)
{
	Lars__ReportStatusReq req = LARS__REPORT_STATUS_REQ__INIT;
	Lars__HostCallResult *res, **ptrs;
	uint8_t *buf;
	size_t i, n = (size_t)argc, len;

	if ((res = calloc(n + 1, sizeof(*res))) == NULL ||
	    (ptrs = calloc(n + 1, sizeof(*ptrs))) == NULL)
		err(1, "calloc");
	for (i = 0; i < n; i++) {
		lars__host_call_result__init(&res[i]);
		result_parse(argv[i], &res[i]);
		ptrs[i] = &res[i];
	}
	req.modid = o->modid;
	req.cmdid = o->cmdid;
	req.caller = o->caller;
	req.ts = o->have_ts ? o->ts : (uint32_t)time(NULL);
	req.n_results = n;
	req.results = ptrs;

	len = client_frame_len(&req);
	if ((buf = malloc(len)) == NULL)
		err(1, "malloc");
	if (client_encode(buf, len, o->msgid, &req) != len)
		errx(1, "encoding the report failed");
	single_send(o->host, o->port, buf, len);
	free(buf);
	free(ptrs);
	free(res);
	return 0;
}

static void
single_send(const char *host, const char *port, const uint8_t *buf,
    size_t len)
{
	char peer[CLIENT_PEERLEN];
	size_t off = 0;
	ssize_t n;
	int fd;

	fd = client_connect(host, port, peer, sizeof(peer));
	while (off < len) {
		n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			err(1, "write to %s", peer);
		off += (size_t)n;
	}
	if (shutdown(fd, SHUT_WR) == -1)
		err(1, "shutdown %s", peer);
	close(fd);
}

static int
load_start(struct options *o)
{
	if (o->ts == 0)
		errx(1, "bad -t ts_base \"0\": the server would stamp its "
		    "own time, so the final table is unknown");
	o->lc.host = o->host;
	o->lc.port = o->port;
	o->lc.modid_base = o->modid;
	o->lc.ts_base = o->ts;
	if (o->lc.seconds > 0)
		o->lc.messages = 0;
	return load_run(&o->lc);
}
