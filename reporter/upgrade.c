/*
 * upgrade.c: SIGUSR2, the binary upgrade, both sides (nginx's signal).
 *
 * The old master: stop reading agents and accepting, close every
 * generation so that the workers commit everything and exit (no key then
 * has records in two generations of workers), then fork and exec the
 * binary now at the path this one was started from.  It inherits the
 * listening socket, every agent connection and the pidfile's descriptor;
 * a memfd describes them, with the bytes of each connection's partial
 * frame, and a pipe carries the new master's "ready".  On "ready" the old
 * master names the new one to the service manager (MAINPID=), drops its
 * copies of the sockets without shutting any down, and exits 0.  If the
 * new one cannot start (no binary, a configuration that does not load, an
 * exit or a death before "ready", or no "ready" within drain_timeout),
 * the old one logs why and serves on: a new generation of workers, the
 * same connections.  If the workers cannot commit within drain_timeout,
 * the upgrade is given up the same way, before any exec.
 *
 * The new master (LARS_UPGRADE in its environment): upgrade_child_init()
 * reads the description after its configuration loaded, master_init()
 * takes the listening socket (upgrade_listen_fd), master_run() adopts the
 * connections (upgrade_adopt) before it forks its workers, and
 * upgrade_ready() writes its pid into the inherited pidfile and says
 * "ready"; it reads no agent byte before that.
 */
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libutil.h>

#include "log.h"
#include "reporter.h"

#define UPGRADE_ENV	"LARS_UPGRADE"
#define UPGRADE_MAGIC	"lars-reporter upgrade 1"

enum upgrade_phase {
	UPGRADE_NONE,
	UPGRADE_DRAINING,	/* workers commit and exit */
	UPGRADE_STARTING,	/* the new master runs, not yet ready */
};

/* The old master's side. */
static struct {
	enum upgrade_phase	 phase;
	int64_t			 deadline;	/* ms */
	pid_t			 pid;		/* the new master */
	int			 rfd;		/* its "ready" pipe */
	int			 memfd;
	struct evsrc		 ev;
	char			 exe[PATH_MAX];
	char			*argv[16];
} up = { .rfd = -1, .memfd = -1 };

/* The new master's side: what the old one handed over. */
struct upgrade_conn {
	int		 fd;
	char		 peer[64];
	uint8_t		*pend;
	size_t		 plen;
};

static struct {
	int			 active;
	int			 lfd, held, readyfd, pidfd;
	char			 pidpath[PATH_MAX];
	struct upgrade_conn	*conns;
	size_t			 nconns;
} in = { .lfd = -1, .readyfd = -1, .pidfd = -1 };

static void upgrade_fail(const char *, ...)
    __attribute__((format(printf, 1, 2)));
static void upgrade_resume(void);
static void upgrade_spawn(void);
static int upgrade_describe(void);
static void upgrade_exec(void) __attribute__((noreturn));
static void upgrade_inherit(int);
static void upgrade_handover(void);
static void upgrade_parse(FILE *);
static void upgrade_metrics(int);
static void upgrade_unwatch(void);

/* At start-up, before anything can replace it: the binary's path. */
void
upgrade_init(int debug, int verbose)
{
	ssize_t n;
	int i = 0;

	if ((n = readlink("/proc/self/exe", up.exe, sizeof(up.exe) - 1)) ==
	    -1) {
		log_warn("%s: readlink /proc/self/exe", __func__);
		up.exe[0] = '\0';
	} else
		up.exe[n] = '\0';
	up.argv[i++] = up.exe;
	if (debug)
		up.argv[i++] = (char *)(uintptr_t)"-d";
	while (verbose-- > 0 && i < 12)
		up.argv[i++] = (char *)(uintptr_t)"-v";
	up.argv[i] = NULL;
}

int
upgrade_busy(void)
{
	return up.phase != UPGRADE_NONE;
}

/*
 * Out of the epoll set, not merely paused: a hang-up is reported even
 * with no events asked, and no byte may be read here now.  paused keeps
 * conn_sweep() from timing them out meanwhile.
 */
static void
upgrade_unwatch(void)
{
	struct conn *c;

	TAILQ_FOREACH(c, &master->conns, entry)
		if (epoll_ctl(master->epfd, EPOLL_CTL_DEL, c->fd, NULL) == -1)
			fatal("%s: epoll_ctl del %s", __func__, c->peer);
	master->paused = 1;
}

/* SIGUSR2: begin with the drain. */
void
upgrade_start(pid_t from)
{
	struct gen *g, *next;

	log_info("SIGUSR2 from pid %ld: upgrading to %s", (long)from,
	    up.exe);
	if (up.phase != UPGRADE_NONE) {
		log_warnx("upgrade: one is already under way; ignored");
		return;
	}
	if (up.exe[0] == '\0' || access(up.exe, X_OK) == -1) {
		log_warnx("upgrade FAILED: %s: %s; still serving", up.exe,
		    strerror(errno));
		return;
	}
	up.phase = UPGRADE_DRAINING;
	up.deadline = master_now_ms() +
	    (int64_t)master->conf->drain_timeout * 1000;
	upgrade_unwatch();
	master_rewatch(master->lfd, 0, &master->ev_listen);
	for (g = TAILQ_FIRST(&master->gens); g != NULL; g = next) {
		next = TAILQ_NEXT(g, entry);
		proc_gen_close(g, 0);	/* may free it */
	}
	setproctitle("master (upgrading)");
	log_info("upgrade: not reading agents; %zu records to commit first",
	    proc_waiting());
}

/* After each event batch: the drain done, spawn; or a deadline passed. */
void
upgrade_step(int64_t now)
{
	if (up.phase == UPGRADE_DRAINING && TAILQ_EMPTY(&master->gens))
		upgrade_spawn();
	else if (up.phase == UPGRADE_DRAINING && now >= up.deadline)
		upgrade_fail("the workers did not commit within "
		    "drain_timeout (%d s)", master->conf->drain_timeout);
	else if (up.phase == UPGRADE_STARTING && now >= up.deadline)
		upgrade_fail("the new master (pid %ld) was not ready within "
		    "drain_timeout (%d s)", (long)up.pid,
		    master->conf->drain_timeout);
}

static void
upgrade_fail(const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("upgrade FAILED: %s; still serving", msg);
	if (up.phase == UPGRADE_STARTING && up.pid != -1) {
		kill(up.pid, SIGKILL);	/* reaped as an unknown child */
		up.pid = -1;
	}
	upgrade_resume();
}

/* Serve on as if nothing happened: workers, the listener, the agents. */
static void
upgrade_resume(void)
{
	struct conn *c;
	struct gen *g;

	if (up.rfd != -1) {
		close(up.rfd);
		up.rfd = -1;
	}
	if (up.memfd != -1) {
		close(up.memfd);
		up.memfd = -1;
	}
	up.phase = UPGRADE_NONE;
	/* closing generations that did not commit: abandoned at once,
	 * their records move to the new one (proc.c) */
	TAILQ_FOREACH(g, &master->gens, entry)
		g->deadline = master_now_ms();
	master->gen = proc_gen_new(master->conf);
	proc_gen_check(master_now_ms());
	master_rewatch(master->lfd, EPOLLIN, &master->ev_listen);
	TAILQ_FOREACH(c, &master->conns, entry)
		master_watch(c->fd, 0, &c->ev);
	conn_pause_all(0);	/* reads again, with fresh timeouts */
	upgrade_metrics(1);
	setproctitle("master");
}

/* The metrics socket is the new master's to bind: close, or reopen. */
static void
upgrade_metrics(int open)
{
	if (!open) {
		if (master->mfd != -1)
			close(master->mfd);
		master->mfd = -1;
		return;
	}
	if (master->conf->metrics_listen[0] == '\0')
		return;
	if ((master->mfd = metrics_open(master->conf)) == -1) {
		log_warnx("metrics_listen %s: cannot listen again; no metrics "
		    "served", master->conf->metrics_listen);
		return;
	}
	master_watch(master->mfd, EPOLLIN, &master->ev_metrics);
}

/* SIGTERM while upgrading: give the upgrade up, then stop. */
void
upgrade_abort(const char *why)
{
	if (up.phase != UPGRADE_NONE)
		upgrade_fail("%s", why);
}

/* The description of what the new master inherits. */
static int
upgrade_describe(void)
{
	struct conn *c;
	FILE *fp;
	int fd;

	if ((fd = memfd_create("lars-upgrade", MFD_CLOEXEC)) == -1) {
		log_warn("%s: memfd_create", __func__);
		return -1;
	}
	if ((fp = fdopen(dup(fd), "w")) == NULL) {
		log_warn("%s: fdopen", __func__);
		close(fd);
		return -1;
	}
	fprintf(fp, "%s\nlisten %d %d\n", UPGRADE_MAGIC, master->lfd,
	    master->lfd_held);
	if (master->pfh != NULL)
		fprintf(fp, "pidfile %d %s\n", pidfile_fileno(master->pfh),
		    master->conf->pidfile);
	TAILQ_FOREACH(c, &master->conns, entry) {
		fprintf(fp, "conn %d %zu %s\n", c->fd, c->plen, c->peer);
		if (c->plen > 0)
			fwrite(c->pend, 1, c->plen, fp);
	}
	fprintf(fp, "end\n");
	if (fflush(fp) == EOF || ferror(fp)) {
		log_warn("%s: write", __func__);
		fclose(fp);
		close(fd);
		return -1;
	}
	fclose(fp);
	return fd;
}

static void
upgrade_spawn(void)
{
	int p[2];

	upgrade_metrics(0);	/* the new master binds metrics_listen */
	if ((up.memfd = upgrade_describe()) == -1) {
		upgrade_fail("cannot describe the connections");
		return;
	}
	if (pipe2(p, O_CLOEXEC) == -1) {
		upgrade_fail("pipe2: %s", strerror(errno));
		return;
	}
	switch ((up.pid = fork())) {
	case -1:
		close(p[0]);
		close(p[1]);
		upgrade_fail("fork: %s", strerror(errno));
		return;
	case 0:
		close(p[0]);
		upgrade_inherit(p[1]);
		upgrade_exec();
	}
	close(p[1]);
	up.rfd = p[0];
	up.phase = UPGRADE_STARTING;
	up.deadline = master_now_ms() +
	    (int64_t)master->conf->drain_timeout * 1000;
	up.ev.type = EV_UPGRADE;
	master_watch(up.rfd, EPOLLIN, &up.ev);
	log_info("upgrade: every record committed; started %s as pid %ld "
	    "with %d agent connections", up.exe, (long)up.pid,
	    master->nconns);
}

/* In the child: these descriptors survive the exec. */
static void
upgrade_inherit(int readyfd)
{
	struct conn *c;
	char env[64];
	int fds[4] = { master->lfd, up.memfd, readyfd,
	    master->pfh != NULL ? pidfile_fileno(master->pfh) : -1 };
	int i;

	for (i = 0; i < 4; i++)
		if (fds[i] != -1 && fcntl(fds[i], F_SETFD, 0) == -1)
			_exit(126);
	TAILQ_FOREACH(c, &master->conns, entry)
		if (fcntl(c->fd, F_SETFD, 0) == -1)
			_exit(126);
	snprintf(env, sizeof(env), "%d:%d", up.memfd, readyfd);
	if (setenv(UPGRADE_ENV, env, 1) == -1)
		_exit(126);
}

static void
upgrade_exec(void)
{
	char **av = up.argv;
	int i;

	for (i = 0; av[i] != NULL; i++)
		;
	av[i++] = (char *)(uintptr_t)"-f";
	av[i++] = master->conf->path;
	av[i] = NULL;
	execv(up.exe, av);
	log_warn("upgrade: exec %s", up.exe);
	_exit(127);
}

/* The "ready" pipe is readable: a byte, or the new one is gone. */
void
upgrade_event(void)
{
	char ch;
	ssize_t n;

	if ((n = read(up.rfd, &ch, 1)) == -1 && (errno == EAGAIN ||
	    errno == EINTR))
		return;
	if (n == 1) {
		upgrade_handover();
		return;
	}
	/* gone, or going: its exit status (upgrade_reaped) tells why,
	 * or the deadline ends it */
	if (epoll_ctl(master->epfd, EPOLL_CTL_DEL, up.rfd, NULL) == -1)
		log_warn("%s: epoll_ctl del", __func__);
	close(up.rfd);
	up.rfd = -1;
}

/* SIGCHLD for a pid that is no worker: the new master, if it is ours. */
int
upgrade_reaped(pid_t pid, int status)
{
	if (up.phase != UPGRADE_STARTING || pid != up.pid)
		return 0;
	up.pid = -1;
	if (WIFSIGNALED(status))
		upgrade_fail("the new master (pid %ld) was killed by signal "
		    "%d before it was ready", (long)pid, WTERMSIG(status));
	else
		upgrade_fail("the new master (pid %ld) exited with status %d "
		    "before it was ready; see its messages above",
		    (long)pid, WEXITSTATUS(status));
	return 1;
}

/*
 * The new master serves: drop our copies of its sockets (close, never
 * shutdown: the connections stay open in it) and go.
 */
static void
upgrade_handover(void)
{
	struct conn *c;

	log_info("upgrade: the new master (pid %ld) is ready and serves %d "
	    "agent connections; exiting", (long)up.pid, master->nconns);
	master_notify("MAINPID=%ld", (long)up.pid);
	while ((c = TAILQ_FIRST(&master->conns)) != NULL)
		conn_close(c, NULL);
	if (epoll_ctl(master->epfd, EPOLL_CTL_DEL, master->lfd, NULL) == -1)
		log_warn("%s: epoll_ctl del listener", __func__);
	close(master->lfd);
	master->lfd = -1;
	if (master->pfh != NULL) {	/* the new master keeps it locked */
		pidfile_close(master->pfh);
		master->pfh = NULL;
	}
	master_exit(0);
}

/* ------------------------------------------------------------------ */
/* The new master. */

/* Read LARS_UPGRADE's description; 0 when this is no upgrade. */
int
upgrade_child_init(void)
{
	const char *env = getenv(UPGRADE_ENV);
	const char *errstr;
	char *sep;
	FILE *fp;
	int memfd;

	if (env == NULL)
		return 0;
	if ((sep = strchr(env, ':')) == NULL)
		fatalx("%s=\"%s\": want memfd:readyfd", UPGRADE_ENV, env);
	*sep = '\0';
	memfd = (int)strtonum(env, 3, INT_MAX, &errstr);
	if (errstr == NULL)
		in.readyfd = (int)strtonum(sep + 1, 3, INT_MAX, &errstr);
	if (errstr != NULL)
		fatalx("%s: bad descriptor: %s", UPGRADE_ENV, errstr);
	unsetenv(UPGRADE_ENV);
	fcntl(in.readyfd, F_SETFD, FD_CLOEXEC);
	if (lseek(memfd, 0, SEEK_SET) == -1 ||
	    (fp = fdopen(memfd, "r")) == NULL)
		fatal("%s: the description (fd %d)", __func__, memfd);
	upgrade_parse(fp);
	fclose(fp);
	in.active = 1;
	log_info("upgrade: taking over listening fd %d and %zu agent "
	    "connections from pid %ld", in.lfd, in.nconns, (long)getppid());
	return 1;
}

static void
upgrade_parse(FILE *fp)
{
	char line[PATH_MAX + 64], peer[64];
	struct upgrade_conn *c;
	size_t plen;
	int fd, n;

	if (fgets(line, sizeof(line), fp) == NULL ||
	    strcmp(line, UPGRADE_MAGIC "\n") != 0)
		fatalx("upgrade: the description is not \"%s\"",
		    UPGRADE_MAGIC);
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strcmp(line, "end") == 0)
			return;
		if (sscanf(line, "listen %d %d", &in.lfd, &in.held) == 2)
			continue;
		if (sscanf(line, "pidfile %d %n", &in.pidfd, &n) == 1) {
			strlcpy(in.pidpath, line + n, sizeof(in.pidpath));
			continue;
		}
		if (sscanf(line, "conn %d %zu %63s", &fd, &plen, peer) != 3)
			fatalx("upgrade: bad line \"%s\"", line);
		if ((c = reallocarray(in.conns, in.nconns + 1,
		    sizeof(*c))) == NULL)
			fatal("%s: reallocarray", __func__);
		in.conns = c;
		c = &in.conns[in.nconns++];
		c->fd = fd;
		c->plen = plen;
		strlcpy(c->peer, peer, sizeof(c->peer));
		if ((c->pend = malloc(plen + 1)) == NULL)
			fatal("%s: malloc", __func__);
		if (plen > 0 && fread(c->pend, 1, plen, fp) != plen)
			fatalx("upgrade: %s: short partial frame", peer);
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	fatalx("upgrade: the description ends early");
}

int
upgrade_listen_fd(void)
{
	if (!in.active)
		return -1;
	fcntl(in.lfd, F_SETFD, FD_CLOEXEC);
	master->lfd_held = in.held;
	return in.lfd;
}

/* In master_run(), once epoll exists: the inherited connections. */
void
upgrade_adopt(void)
{
	size_t i;

	if (!in.active)
		return;
	for (i = 0; i < in.nconns; i++) {
		listener_adopt(in.conns[i].fd, in.conns[i].pend,
		    in.conns[i].plen);
		free(in.conns[i].pend);
	}
	free(in.conns);
	in.conns = NULL;
	if (in.pidfd != -1)
		fcntl(in.pidfd, F_SETFD, FD_CLOEXEC);
}

/* Workers run: the pidfile names us, then the old master may go. */
void
upgrade_ready(void)
{
	char buf[32];
	int n;

	if (!in.active)
		return;
	if (in.pidfd != -1) {
		n = snprintf(buf, sizeof(buf), "%ld", (long)getpid());
		if (ftruncate(in.pidfd, 0) == -1 ||
		    pwrite(in.pidfd, buf, (size_t)n, 0) != n)
			log_warn("upgrade: pidfile %s", in.pidpath);
	}
	if (write(in.readyfd, "", 1) != 1)
		fatal("upgrade: tell the old master");
	close(in.readyfd);
	in.readyfd = -1;
	master_notify("MAINPID=%ld\nREADY=1", (long)getpid());
	log_info("upgrade: ready, serving as pid %ld", (long)getpid());
}

/* At the new master's exit: the pidfile it inherited goes. */
void
upgrade_atexit(void)
{
	if (in.pidfd == -1)
		return;
	if (unlink(in.pidpath) == -1)
		log_warn("pidfile %s", in.pidpath);
	close(in.pidfd);
	in.pidfd = -1;
}
