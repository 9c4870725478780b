/*
 * idleconns: hold many idle TCP connections to lars-reporter, as agents
 * that have nothing to report do, for make bench.
 *
 *	idleconns [-H host] [-p port] [-n conns] [-t seconds]
 *
 * Raises its own descriptor limit, opens conns connections, prints
 * "idleconns: N connections open" and then sends nothing until SIGTERM,
 * SIGINT or -t seconds (a bound, so it always ends by itself).  Exits 1
 * if a connection cannot be made or one is closed by the server.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t idle_quit;

static void	 usage(void) __attribute__((noreturn));
static long	 idle_num(const char *, const char *, long, long);
static void	 idle_limit(long);
static void	 idle_signal(int);
static int	 idle_connect(const struct sockaddr_in *, long);
static int	 idle_watch(struct pollfd *, long, long);

static void
usage(void)
{
	fprintf(stderr, "usage: idleconns [-H host] [-p port] [-n conns] "
	    "[-t seconds]\n");
	exit(2);
}

static long
idle_num(const char *what, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v < min || v > max)
		errx(2, "bad %s \"%s\" (%ld-%ld)", what, s, min, max);
	return v;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in sin;
	struct sigaction sa;
	struct pollfd *pfd;
	const char *host = "127.0.0.1";
	long i, n = 10000, port = 7779, secs = 600;
	int ch;

	while ((ch = getopt(argc, argv, "H:n:p:t:")) != -1) {
		switch (ch) {
		case 'H':
			host = optarg;
			break;
		case 'n':
			n = idle_num("conns", optarg, 1, 1000000);
			break;
		case 'p':
			port = idle_num("port", optarg, 1, 65535);
			break;
		case 't':
			secs = idle_num("seconds", optarg, 1, 86400);
			break;
		default:
			usage();
		}
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		errx(2, "bad host \"%s\": an IPv4 address", host);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = idle_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	idle_limit(n + 16);
	if ((pfd = calloc((size_t)n, sizeof(*pfd))) == NULL)
		err(1, "calloc");
	for (i = 0; i < n && !idle_quit; i++) {
		pfd[i].fd = idle_connect(&sin, i);
		pfd[i].events = POLLIN;
	}
	printf("idleconns: %ld connections open\n", i);
	fflush(stdout);
	return idle_watch(pfd, i, secs);
}

static void
idle_limit(long want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		err(1, "getrlimit");
	if (rl.rlim_cur >= (rlim_t)want)
		return;
	rl.rlim_cur = (rlim_t)want;
	if (rl.rlim_max < rl.rlim_cur)
		rl.rlim_max = rl.rlim_cur;	/* root may raise it */
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		err(1, "setrlimit RLIMIT_NOFILE %ld", want);
}

static void
idle_signal(int sig)
{
	(void)sig;
	idle_quit = 1;
}

static int
idle_connect(const struct sockaddr_in *sin, long i)
{
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		err(1, "socket %ld", i);
	while (connect(fd, (const struct sockaddr *)sin, sizeof(*sin)) == -1)
		if (errno != EINTR || idle_quit)
			err(1, "connect %ld", i);
	return fd;
}

/* Sleep with every connection watched: a close by the server fails. */
static int
idle_watch(struct pollfd *pfd, long n, long secs)
{
	time_t end = time(NULL) + secs;
	long i;
	int r;

	while (!idle_quit && time(NULL) < end) {
		if ((r = poll(pfd, (nfds_t)n, 1000)) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "poll");
		}
		for (i = 0; r > 0 && i < n; i++)
			if (pfd[i].revents != 0) {
				warnx("connection %ld closed by the server",
				    i);
				return 1;
			}
	}
	return 0;
}
