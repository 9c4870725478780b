/*
 * reporter.c: main() of lars-reporter: flags, configuration, logging,
 * pidfile and daemon mode, then the master loop (master.c), which forks
 * the workers.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libutil.h>

#include "log.h"
#include "reporter.h"

static void usage(FILE *, int) __attribute__((noreturn));
static struct pidfh *reporter_pidfile(const struct config *);
static int reporter_daemonize(const struct config *, struct pidfh *);
static void reporter_drop(const char *);
static void reporter_log(const struct config *);

/* File scope: the configuration lives as long as the process, also on
 * the fatal paths before the master owns it. */
static struct config *reporter_conf;

static const struct option reporter_longopts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static void
usage(FILE *fp, int code)
{
	fprintf(fp, "usage: lars-reporter [-dhnVv] [-f file]\n");
	exit(code);
}

/* Taken before daemon(3) and before any worker exists, so a second
 * instance refuses to start and names the one that runs. */
static struct pidfh *
reporter_pidfile(const struct config *conf)
{
	struct pidfh *pfh;
	pid_t other;

	if ((pfh = pidfile_open(conf->pidfile, 0644, &other)) != NULL)
		return pfh;
	if (errno == EEXIST)
		fatalx("already running as pid %ld (pidfile %s)",
		    (long)other, conf->pidfile);
	fatal("pidfile %s", conf->pidfile);
}

/*
 * Detach, but let the starting process exit only when the daemon is
 * ready (workers forked, pidfile written): 0 then, 1 if the daemon died
 * first.  An init script or systemd's Type=forking thus never sees a
 * half-started daemon or an empty pidfile.  Returns the descriptor to
 * write the "ready" byte into.
 */
static int
reporter_daemonize(const struct config *conf, struct pidfh *pfh)
{
	int p[2], fd;
	char c;

	if (pipe2(p, O_CLOEXEC) == -1)
		fatal("%s: pipe2", __func__);
	switch (fork()) {
	case -1:
		fatal("%s: fork", __func__);
	case 0:
		break;
	default:
		close(p[1]);
		if (read(p[0], &c, 1) == 1)
			_exit(0);
		fprintf(stderr, "lars-reporter: the daemon exited while "
		    "starting; see %s\n", conf->log_file[0] != '\0' ?
		    conf->log_file : "syslog");
		_exit(1);
	}
	close(p[0]);
	master->pid = getpid();		/* for the pidfile's removal */
	if (setsid() == -1)
		fatal("%s: setsid", __func__);
	reporter_log(conf);
	if (chdir("/") == -1)
		fatal("%s: chdir /", __func__);
	if ((fd = open("/dev/null", O_RDWR)) == -1)
		fatal("%s: /dev/null", __func__);
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	if (conf->log_file[0] == '\0')
		dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
	if (pidfile_write(pfh) == -1)
		fatal("pidfile %s", conf->pidfile);
	return p[1];
}

/* Daemon mode logs to log_file, or else to syslog. */
static void
reporter_log(const struct config *conf)
{
	if (conf->log_file[0] != '\0') {
		if (log_to_file(conf->log_file) == -1)
			fatal("log_file %s", conf->log_file);
	} else
		log_init(LOG_TO_SYSLOG, log_getverbose(), "lars-reporter");
}

/*
 * Least privilege: after the socket is bound and the pidfile and log file
 * are open, become the configured user for good, workers included.
 */
static void
reporter_drop(const char *user)
{
	struct passwd *pw;

	if ((pw = getpwnam(user)) == NULL)
		fatalx("user \"%s\" does not exist", user);
	if (setgroups(1, &pw->pw_gid) == -1)
		fatal("setgroups %u", (unsigned int)pw->pw_gid);
	if (setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1)
		fatal("setgid %u", (unsigned int)pw->pw_gid);
	if (setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		fatal("setuid %u", (unsigned int)pw->pw_uid);
	if (pw->pw_uid != 0 && (setuid(0) != -1 || geteuid() == 0))
		fatalx("still root after dropping to %s", user);
	log_info("running as %s (uid %u, gid %u)", user,
	    (unsigned int)pw->pw_uid, (unsigned int)pw->pw_gid);
}

int
main(int argc, char *argv[], char *envp[])
{
	char path[PATH_MAX];
	const char *file = CONF_DEFAULT_PATH;
	struct pidfh *pfh = NULL;
	int ch, debug = 0, check = 0, verbose = 0, nerrors, ready = -1;
	int upgrading;

	setproctitle_init(argc, argv, envp);
	while ((ch = getopt_long(argc, argv, "df:hnVv", reporter_longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'd':
			debug = 1;
			break;
		case 'f':
			file = optarg;
			break;
		case 'h':
			usage(stdout, 0);
		case 'n':
			check = 1;
			break;
		case 'V':
			printf("lars-reporter %s\n", REPORTER_VERSION);
			exit(0);
		case 'v':
			verbose++;
			break;
		default:
			usage(stderr, 2);
		}
	}
	if (optind != argc)
		usage(stderr, 2);

	log_init(LOG_TO_STDERR, verbose, "lars-reporter");
	/* SIGHUP re-reads it after daemon(3) left the directory */
	if (realpath(file, path) == NULL) {
		log_warn("%s", file);
		exit(1);
	}
	if ((reporter_conf = config_load(path, &nerrors)) == NULL) {
		fprintf(stderr, "%s: %d error%s: configuration not loaded\n",
		    path, nerrors, nerrors == 1 ? "" : "s");
		exit(1);
	}
	if (check) {
		fprintf(stderr, "configuration OK\n");
		config_free(reporter_conf);
		exit(0);
	}
	log_setverbose(verbose + reporter_conf->verbose);
	if (geteuid() == 0 && reporter_conf->user[0] == '\0' && !debug)
		fatalx("refusing to run as root: set [reporter] user in %s, "
		    "or run in the foreground with -d", path);
	log_procname("master");
	upgrade_init(debug, verbose);
	/* an upgrade: already detached, the pidfile inherited, and with
	 * log_file so is the log: the old master's stderr */
	if ((upgrading = upgrade_child_init()) && !debug &&
	    reporter_conf->log_file[0] == '\0')
		log_init(LOG_TO_SYSLOG, log_getverbose(), "lars-reporter");
	if (!debug && !upgrading)
		pfh = reporter_pidfile(reporter_conf);
	master_init(reporter_conf, pfh, verbose);
	master->daemonized = !debug;
	if (!debug && !upgrading)
		ready = reporter_daemonize(reporter_conf, pfh);
	if (reporter_conf->user[0] != '\0' && geteuid() == 0)
		reporter_drop(reporter_conf->user);
	setproctitle("master");
	master_run(ready);
}
