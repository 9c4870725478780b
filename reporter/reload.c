/*
 * reload.c: SIGHUP.  Parse the configuration file into a fresh struct; on
 * any error log "configuration reloading FAILED" and keep everything as it
 * was.  Otherwise apply it: the log level and the limits at once, a new
 * listening socket only when the address changed, and a new generation of
 * workers for the new database settings, worker count and flush policy.
 * The old generation's pipes close once its queues are written; its
 * workers flush, ack and exit, and the new generation holds its flushes
 * until then (proc.c), so no record is lost or lands after a newer one.
 */
#include <sys/epoll.h>

#include <string.h>
#include <unistd.h>

#include "log.h"
#include "reporter.h"

static int reload_listener(const struct config *, const struct config *);
static void reload_metrics(const struct config *);
static void reload_apply(struct config *, int);

/* A new metrics address: open it, or say why not and serve none. */
static void
reload_metrics(const struct config *conf)
{
	if (master->mfd != -1)
		close(master->mfd);
	master->mfd = -1;
	if (conf->metrics_listen[0] == '\0')
		return;
	if ((master->mfd = metrics_open(conf)) == -1) {
		log_warnx("metrics_listen %s: cannot listen; no metrics "
		    "served", conf->metrics_listen);
		return;
	}
	master_watch(master->mfd, EPOLLIN, &master->ev_metrics);
	log_info("metrics on %s", conf->metrics_listen);
}

/* Open the new address before closing the old: a failure changes nothing. */
static int
reload_listener(const struct config *old, const struct config *new)
{
	int fd;

	if (strcmp(old->listen_ip, new->listen_ip) == 0 &&
	    old->listen_port == new->listen_port)
		return 0;
	if (master->lfd_held) {
		log_warnx("[reactor] ip %s port %d: not applied, the listening "
		    "socket is the parent's", new->listen_ip,
		    new->listen_port);
		return 0;
	}
	if ((fd = listener_open(new->listen_ip, new->listen_port)) == -1)
		return -1;
	close(master->lfd);
	master->lfd = fd;
	master_watch(master->lfd, EPOLLIN, &master->ev_listen);
	log_info("listening on %s:%d instead of %s:%d", new->listen_ip,
	    new->listen_port, old->listen_ip, old->listen_port);
	return 0;
}

void
reload(void)
{
	struct config *conf;
	int nerrors;

	log_info("SIGHUP: reloading %s", master->conf->path);
	master_notify("RELOADING=1");
	conf = config_load(master->conf->path, &nerrors);
	reload_apply(conf, nerrors);
	master_notify("READY=1");
}

static void
reload_apply(struct config *conf, int nerrors)
{
	struct gen *old = master->gen;

	if (conf == NULL) {
		log_warnx("configuration reloading FAILED: %d error%s in %s; "
		    "still running on the previous configuration", nerrors,
		    nerrors == 1 ? "" : "s", master->conf->path);
		master->stats.reload_failures++;
		return;
	}
	if (reload_listener(master->conf, conf) == -1) {
		log_warnx("configuration reloading FAILED: cannot listen on "
		    "%s port %d; still running on the previous "
		    "configuration", conf->listen_ip, conf->listen_port);
		config_free(conf);
		master->stats.reload_failures++;
		return;
	}
	if (strcmp(master->conf->metrics_listen, conf->metrics_listen) != 0)
		reload_metrics(conf);
	master->stats.reloads++;
	log_setverbose(master->verbose + conf->verbose);
	if (master->daemonized && conf->log_file[0] != '\0' &&
	    log_to_file(conf->log_file) == -1)
		log_warn("log_file %s; logging on as before", conf->log_file);
	master->conf = conf;
	proc_gen_close(old, master_now_ms() +
	    (int64_t)conf->drain_timeout * 1000);
	master->gen = proc_gen_new(conf);
	log_info("configuration reloaded: generation %d with %d workers; "
	    "generation %d drains", master->gen->id, conf->workers, old->id);
}
