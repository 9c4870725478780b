/*
 * log: stderr or syslog output for every process; see log.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int log_stderr = 1;
static int log_verbose;
static const char *log_ident = "lars";
static char log_name[32] = "";

static void log_emit(int, const char *, const char *);
static void log_vwrite(int, int, const char *, va_list)
    __attribute__((format(printf, 3, 0)));

void
log_init(int to_stderr, int verbose, const char *ident)
{
	log_stderr = to_stderr;
	log_verbose = verbose;
	log_ident = ident;
	if (!log_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	tzset();
}

/*
 * Daemon mode with a log file: stderr becomes the file (workers inherit
 * it), lines look as with -d.  Called again on SIGHUP, so a rotated file
 * is reopened.
 */
int
log_to_file(const char *path)
{
	int fd;

	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0640)) == -1)
		return -1;
	if (fd != STDERR_FILENO) {
		if (dup2(fd, STDERR_FILENO) == -1) {
			close(fd);
			return -1;
		}
		close(fd);
	}
	if (!log_stderr)
		closelog();
	log_stderr = 1;
	return 0;
}

/* After closing descriptors wholesale (a forked worker): reconnect. */
void
log_reopen(void)
{
	if (log_stderr)
		return;
	closelog();
	openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_setverbose(int verbose)
{
	log_verbose = verbose;
}

int
log_getverbose(void)
{
	return log_verbose;
}

void
log_procname(const char *name)
{
	snprintf(log_name, sizeof(log_name), "%s", name);
}

static void
log_emit(int pri, const char *msg, const char *err)
{
	char stamp[32];
	struct timespec now;
	struct tm tm;
	const char *sep = log_name[0] ? ": " : "";
	const char *tag = pri == LOG_CRIT ? "fatal: " : "";

	if (!log_stderr) {
		if (err)
			syslog(pri, "%s%s%s%s: %s", log_name, sep, tag, msg,
			    err);
		else
			syslog(pri, "%s%s%s%s", log_name, sep, tag, msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	localtime_r(&now.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ld [%ld] %s%s%s%s%s%s\n", stamp,
	    now.tv_nsec / 1000000, (long)getpid(), log_name, sep, tag, msg,
	    err ? ": " : "", err ? err : "");
}

/* with_errno: append strerror of the errno the caller saw. */
static void
log_vwrite(int pri, int with_errno, const char *fmt, va_list ap)
{
	char msg[1024];
	int saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_emit(pri, msg, with_errno ? strerror(saved) : NULL);
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, 1, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_verbose < 1)
		return;
	va_start(ap, fmt);
	log_vwrite(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
