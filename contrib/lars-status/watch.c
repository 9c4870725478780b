/*
 * watch.c: lars-status --watch: the view redrawn in place every interval
 * seconds, as top(1) does, until q, Ctrl-C or a signal.
 *
 * The terminal: stdin goes into non-canonical, non-echo mode (q needs no
 * Enter and is not echoed; Ctrl-C stays a signal), stdout into the
 * alternate screen with the cursor hidden.  watch_restore() undoes all
 * of it and runs on every way out: the end of the loop, exit() from
 * fatal() (atexit), and before a suspend by ^Z, after which the terminal
 * is set up again.  Signal handlers only set flags; the signals are
 * blocked but in ppoll(), so none slips in between the check and the
 * wait.  A failed fetch does not end the watch: the error is shown and
 * the next refresh connects again.
 */
#include <sys/ioctl.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "status.h"

#define ANSI_ENTER	"\033[?1049h\033[?25l"	/* alternate screen, no cursor */
#define ANSI_LEAVE	"\033[?25h\033[?1049l"
#define ANSI_CLEAR	"\033[H\033[2J"
#define WATCH_HEAD	3	/* lines above the table */

struct watch {
	struct query			*q;
	const struct status_opts	*o;
	struct status_set		 set;
	int				 failed;	/* the last fetch */
	int				 keys;		/* read q from stdin */
	sigset_t			 waitmask;	/* in ppoll() */
};

static volatile sig_atomic_t watch_quit, watch_winch, watch_tstp;
static struct termios watch_saved;
static int watch_tty_raw;		/* stdin's mode is changed */
static int watch_screen;		/* the alternate screen is on */

static void watch_handler(int);
static void watch_catch(int);
static void watch_signals(struct watch *);
static void watch_enter(void);
static void watch_restore(void);
static void watch_suspend(void);
static int64_t watch_ms(void);
static void watch_size(struct view_size *);
static void watch_header(FILE *, const struct watch *, int);
static int watch_draw(struct watch *);
static int watch_write(const char *, size_t);
static int watch_wait(struct watch *, int64_t);
static int watch_keys(struct watch *);

static void
watch_handler(int sig)
{
	switch (sig) {
	case SIGWINCH:
	case SIGCONT:
		watch_winch = 1;
		break;
	case SIGTSTP:
		watch_tstp = 1;
		break;
	default:
		watch_quit = 1;
		break;
	}
}

static void
watch_catch(int sig)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = watch_handler;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) == -1)
		fatal("%s: sigaction %d", __func__, sig);
}

/* Handlers for the signals the loop acts on; blocked outside ppoll(). */
static void
watch_signals(struct watch *w)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT,
	    SIGWINCH, SIGCONT, SIGTSTP };
	sigset_t block;
	size_t i;

	sigemptyset(&block);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaddset(&block, sigs[i]);
		watch_catch(sigs[i]);
	}
	if (sigprocmask(SIG_BLOCK, &block, &w->waitmask) == -1)
		fatal("%s: sigprocmask", __func__);
}

static void
watch_enter(void)
{
	struct termios raw;

	if (!watch_tty_raw && isatty(STDIN_FILENO) &&
	    tcgetattr(STDIN_FILENO, &watch_saved) == 0) {
		raw = watch_saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
			watch_tty_raw = 1;
	}
	if (!watch_screen) {
		watch_write(ANSI_ENTER, sizeof(ANSI_ENTER) - 1);
		watch_screen = 1;
	}
}

static void
watch_restore(void)
{
	if (watch_screen) {
		watch_write(ANSI_LEAVE, sizeof(ANSI_LEAVE) - 1);
		watch_screen = 0;
	}
	if (watch_tty_raw) {
		tcsetattr(STDIN_FILENO, TCSANOW, &watch_saved);
		watch_tty_raw = 0;
	}
}

/* ^Z: give the shell its terminal back, stop, set up again on SIGCONT. */
static void
watch_suspend(void)
{
	sigset_t tstp;

	watch_restore();
	signal(SIGTSTP, SIG_DFL);
	sigemptyset(&tstp);
	sigaddset(&tstp, SIGTSTP);
	raise(SIGTSTP);
	sigprocmask(SIG_UNBLOCK, &tstp, NULL);	/* stops here */
	sigprocmask(SIG_BLOCK, &tstp, NULL);
	watch_catch(SIGTSTP);
	watch_enter();
}

static int64_t
watch_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
watch_size(struct view_size *size)
{
	struct winsize ws;

	size->cols = 80;
	size->rows = 24;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 &&
	    ws.ws_row > 0) {
		size->cols = ws.ws_col;
		size->rows = ws.ws_row;
	}
}

/* The time of the rows shown, the counts, and a line of state. */
static void
watch_header(FILE *fp, const struct watch *w, int cols)
{
	char line[1024], stamp[32];
	struct tm tm;
	time_t when = w->set.now ? w->set.now : time(NULL);

	localtime_r(&when, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(line, sizeof(line), "lars-status  %s  %s  hosts %zu  "
	    "overloaded %zu  stale %zu", stamp, query_where(w->q), w->set.n,
	    w->set.noverload, w->set.nstale);
	fprintf(fp, "%.*s\n", cols, line);
	if (w->failed)
		snprintf(line, sizeof(line), "error: %s (retrying every %ds)",
		    query_error(w->q), w->o->interval);
	else
		snprintf(line, sizeof(line), "every %ds, stale after %llds; "
		    "q quits, space refreshes", w->o->interval, w->o->stale);
	fprintf(fp, "%.*s\n\n", cols, line);
}

/* One frame, built in memory and written at once. */
static int
watch_draw(struct watch *w)
{
	struct view_size size;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;
	int rc;

	watch_size(&size);
	if ((fp = open_memstream(&buf, &len)) == NULL)
		fatal("%s: open_memstream", __func__);
	fputs(ANSI_CLEAR, fp);
	watch_header(fp, w, size.cols);
	/* The last line keeps its newline off the bottom row: no scroll. */
	size.rows = size.rows > WATCH_HEAD + 2 ? size.rows - WATCH_HEAD - 1 : 1;
	view_table(fp, &w->set, w->o->color, &size);
	if (fclose(fp) != 0)
		fatal("%s: fclose", __func__);
	rc = watch_write(buf, len);
	free(buf);
	return rc;
}

static int
watch_write(const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(STDOUT_FILENO, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Sleep until deadline (ms), a key or a signal; 1: a key is waiting. */
static int
watch_wait(struct watch *w, int64_t deadline)
{
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	struct timespec ts;
	int64_t left = deadline - watch_ms();
	int n;

	if (left < 0)
		left = 0;
	ts.tv_sec = (time_t)(left / 1000);
	ts.tv_nsec = (long)(left % 1000) * 1000000;
	n = ppoll(&pfd, w->keys ? 1 : 0, &ts, &w->waitmask);
	if (n == -1 && errno != EINTR)
		fatal("%s: ppoll", __func__);
	return n > 0;
}

/* q, Q or ^C quit; space refreshes now (returns 1). */
static int
watch_keys(struct watch *w)
{
	char buf[64];
	ssize_t n, i;
	int refresh = 0;

	if ((n = read(STDIN_FILENO, buf, sizeof(buf))) <= 0) {
		if (n == 0 || errno != EINTR)
			w->keys = 0;	/* EOF: only signals end it now */
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (buf[i] == 'q' || buf[i] == 'Q' || buf[i] == 3)
			watch_quit = 1;
		else if (buf[i] == ' ')
			refresh = 1;
	}
	return refresh;
}

int
watch_run(struct query *q, const struct status_opts *o)
{
	struct watch w = { .q = q, .o = o };
	int64_t next = 0, now;
	int rc = 0;

	watch_signals(&w);
	if (atexit(watch_restore) != 0)
		fatalx("%s: atexit failed", __func__);
	watch_enter();
	w.keys = watch_tty_raw;
	while (!watch_quit && rc == 0) {
		if (watch_tstp) {
			watch_tstp = 0;
			watch_suspend();
			watch_winch = 1;
		}
		if ((now = watch_ms()) >= next) {
			w.failed = query_fetch(q, &w.set, o->stale) == -1;
			if (!w.failed)
				view_sort(&w.set);
			next = now + (int64_t)o->interval * 1000;
			watch_winch = 1;
		}
		if (watch_winch) {
			watch_winch = 0;
			rc = watch_draw(&w);
		}
		if (watch_wait(&w, next) && watch_keys(&w))
			next = 0;
	}
	watch_restore();
	status_set_free(&w.set);
	if (rc != 0)
		log_warn("%s: write", __func__);
	return rc == 0 ? 0 : 1;
}
