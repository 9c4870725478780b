/*
 * log: the one way every process of lars-reporter and its tools reports.
 *
 * OpenBSD daemon style: log_warn() appends strerror(errno), log_warnx()
 * does not; fatal()/fatalx() log and exit(1).  Before log_init() and with
 * -d everything goes to stderr, otherwise to syslog (daemon facility).
 * Each line carries the process's name (log_procname()), so that an
 * operator can grep "worker 2".
 */
#ifndef LARS_LOG_H
#define LARS_LOG_H

#include <stdarg.h>

#define LOG_TO_STDERR 1
#define LOG_TO_SYSLOG 0

void log_init(int to_stderr, int verbose, const char *ident);
void log_reopen(void);
int log_to_file(const char *);
void log_setverbose(int verbose);
int log_getverbose(void);
void log_procname(const char *name);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif
