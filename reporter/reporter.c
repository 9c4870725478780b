/*
 * reporter.c: main() of lars-reporter: flags, configuration, logging,
 * daemon mode, then the master loop (master.c), which forks the workers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "reporter.h"

static void usage(FILE *, int) __attribute__((noreturn));

static void
usage(FILE *fp, int code)
{
	fprintf(fp, "usage: lars-reporter [-dnv] [-f file]\n");
	exit(code);
}

int
main(int argc, char *argv[], char *envp[])
{
	const char *path = CONF_DEFAULT_PATH;
	struct config *conf;
	int ch, debug = 0, check = 0, verbose = 0, nerrors;

	setproctitle_init(argc, argv, envp);
	while ((ch = getopt(argc, argv, "df:hnvV")) != -1) {
		switch (ch) {
		case 'd':
			debug = 1;
			break;
		case 'f':
			path = optarg;
			break;
		case 'h':
			usage(stdout, 0);
		case 'n':
			check = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'V':
			printf("lars-reporter %s\n", REPORTER_VERSION);
			exit(0);
		default:
			usage(stderr, 2);
		}
	}
	if (optind != argc)
		usage(stderr, 2);

	log_init(LOG_TO_STDERR, verbose, "lars-reporter");
	if ((conf = config_load(path, &nerrors)) == NULL) {
		fprintf(stderr, "%s: %d error%s: configuration not loaded\n",
		    path, nerrors, nerrors == 1 ? "" : "s");
		exit(1);
	}
	if (check) {
		fprintf(stderr, "configuration OK\n");
		config_free(conf);
		exit(0);
	}
	if (!debug) {
		log_init(LOG_TO_SYSLOG, verbose, "lars-reporter");
		if (daemon(0, 0) == -1)
			fatal("daemon");
	}
	log_procname("master");
	setproctitle("master");
	master_run(conf);
}
