/*
 * metrics.c: the master's figures, in the Prometheus text format on
 * [reporter] metrics_listen (GET /metrics; anything else is a 404), and in
 * one log line on SIGUSR1.
 *
 * The HTTP side lives in the master's epoll loop without blocking it: a
 * client has METRICS_TIMEOUT_MS to send a request of at most METRICS_REQ
 * bytes, the answer is written as the socket takes it, and at most
 * METRICS_CLIENTS are served at once (more are closed at accept), so a
 * slow or abusive client costs the agents nothing.  Workers' figures come
 * with their acks (struct wstats); those of exited workers are kept per
 * worker number.
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "reporter.h"

#define METRICS_CLIENTS		16
#define METRICS_REQ		4096
#define METRICS_TIMEOUT_MS	5000

struct mclient {
	struct evsrc	 ev;
	int		 fd;
	int64_t		 deadline;
	char		 req[METRICS_REQ];
	size_t		 reqlen;
	char		*out;
	size_t		 outlen, outoff;
};

struct mbuf {
	char	*p;
	size_t	 len, cap;
};

static struct mclient *metrics_clients[METRICS_CLIENTS];

static const unsigned int metrics_le_ms[WSTATS_BUCKETS] = { 1, 2, 5, 10,
    25, 50, 100, 250, 500, 1000 };

static void mbuf_printf(struct mbuf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
static void metrics_family(struct mbuf *, const char *, const char *,
    const char *);
static void metrics_render(struct mbuf *);
static void metrics_workers(struct mbuf *);
static void metrics_close(struct mclient *);
static void metrics_respond(struct mclient *);
static void metrics_write(struct mclient *);

static void
mbuf_printf(struct mbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			fatalx("%s: vsnprintf", __func__);
		if ((size_t)n < b->cap - b->len)
			break;
		b->cap = b->cap * 2 + (size_t)n + 1;
		if ((b->p = realloc(b->p, b->cap)) == NULL)
			fatal("%s: realloc", __func__);
	}
	b->len += (size_t)n;
}

static void
metrics_family(struct mbuf *b, const char *name, const char *type,
    const char *help)
{
	mbuf_printf(b, "# HELP lars_reporter_%s %s\n# TYPE lars_reporter_%s "
	    "%s\n", name, help, name, type);
}

void
wstats_add(struct wstats *to, const struct wstats *from)
{
	int i, j;

	to->rows += from->rows;
	to->records += from->records;
	to->connects += from->connects;
	to->retries += from->retries;
	to->dropped += from->dropped;
	to->flushes += from->flushes;
	to->flush_us += from->flush_us;
	for (i = 0; i < WSTATS_BUCKETS; i++)
		to->flush_le[i] += from->flush_le[i];
	for (i = 0; i < WSTATS_ERRORS && from->err_code[i] != 0; i++)
		for (j = 0; j < WSTATS_ERRORS; j++)
			if (to->err_code[j] == from->err_code[i] ||
			    to->err_code[j] == 0) {
				to->err_code[j] = from->err_code[i];
				to->err_count[j] += from->err_count[i];
				break;
			}
}

/* Worker number id's figures: exited processes plus the live ones. */
void
wstats_worker(int id, struct wstats *w)
{
	struct gen *g;

	*w = master->stats.dead[id];
	TAILQ_FOREACH(g, &master->gens, entry)
		if (id <= g->nslots)
			wstats_add(w, &g->slots[id - 1].last);
}

static void
metrics_workers(struct mbuf *b)
{
	struct wstats w[WORKERS_MAX + 1];
	uint64_t queued[WORKERS_MAX + 1] = { 0 }, flight[WORKERS_MAX + 1] = { 0 };
	struct slot *s;
	int id, i, max = 0;

	SLOT_FOREACH(s) {
		queued[s->id] += s->q.tail - s->q.sent;
		flight[s->id] += s->q.sent - s->q.acked;
		if (s->id > max)
			max = s->id;
	}
	for (id = 1; id <= WORKERS_MAX; id++) {
		wstats_worker(id, &w[id]);
		if (w[id].records != 0 || w[id].connects != 0)
			max = id > max ? id : max;
	}
#define PER_WORKER(name, type, help, expr)				\
	do {								\
		metrics_family(b, name, type, help);			\
		for (id = 1; id <= max; id++)				\
			mbuf_printf(b, "lars_reporter_%s{worker=\"%d\"} %llu\n",\
			    name, id, (unsigned long long)(expr));	\
	} while (0)
	PER_WORKER("records_queued", "gauge", "Records waiting to be "
	    "written to the worker's pipe.", queued[id]);
	PER_WORKER("records_in_flight", "gauge", "Records written to the "
	    "worker and not yet committed.", flight[id]);
	PER_WORKER("worker_records_total", "counter", "Records the worker "
	    "read from its pipe.", w[id].records);
	PER_WORKER("rows_committed_total", "counter", "Rows the worker "
	    "committed to MySQL.", w[id].rows);
	PER_WORKER("records_resent_total", "counter", "Records re-sent to a "
	    "respawned worker.", master->stats.replayed[id]);
	PER_WORKER("flush_batches_total", "counter", "Transactions the "
	    "worker committed.", w[id].flushes);
	PER_WORKER("mysql_reconnects_total", "counter", "MySQL connections "
	    "made after the first.", w[id].connects > 0 ? w[id].connects - 1 :
	    0);
	PER_WORKER("mysql_retries_total", "counter", "Batches retried after "
	    "a deadlock or lock timeout.", w[id].retries);
	PER_WORKER("rows_dropped_total", "counter", "Rows MySQL refused "
	    "alone, logged with their key.", w[id].dropped);
#undef PER_WORKER
	metrics_family(b, "flush_duration_seconds", "histogram", "Time to "
	    "write and commit one batch.");
	for (id = 1; id <= max; id++) {
		for (i = 0; i < WSTATS_BUCKETS; i++)
			mbuf_printf(b, "lars_reporter_flush_duration_seconds_"
			    "bucket{worker=\"%d\",le=\"%g\"} %llu\n", id,
			    metrics_le_ms[i] / 1000.0,
			    (unsigned long long)w[id].flush_le[i]);
		mbuf_printf(b, "lars_reporter_flush_duration_seconds_bucket"
		    "{worker=\"%d\",le=\"+Inf\"} %llu\n", id,
		    (unsigned long long)w[id].flushes);
		mbuf_printf(b, "lars_reporter_flush_duration_seconds_sum"
		    "{worker=\"%d\"} %.6f\n", id, w[id].flush_us / 1e6);
		mbuf_printf(b, "lars_reporter_flush_duration_seconds_count"
		    "{worker=\"%d\"} %llu\n", id,
		    (unsigned long long)w[id].flushes);
	}
	metrics_family(b, "mysql_errors_total", "counter", "MySQL errors "
	    "the workers met, by error code.");
	for (id = 1; id <= max; id++)
		for (i = 0; i < WSTATS_ERRORS && w[id].err_code[i]; i++)
			mbuf_printf(b, "lars_reporter_mysql_errors_total{worker="
			    "\"%d\",code=\"%u\"} %llu\n", id, w[id].err_code[i],
			    (unsigned long long)w[id].err_count[i]);
}

static void
metrics_render(struct mbuf *b)
{
	const struct stats *st = &master->stats;

#define ONE(name, type, help, v)					\
	do {								\
		metrics_family(b, name, type, help);			\
		mbuf_printf(b, "lars_reporter_%s %llu\n", name,		\
		    (unsigned long long)(v));				\
	} while (0)
#define BY(name, label, value, v)					\
	mbuf_printf(b, "lars_reporter_%s{%s=\"%s\"} %llu\n", name, label,\
	    value, (unsigned long long)(v))
	metrics_family(b, "build_info", "gauge", "The running version.");
	mbuf_printf(b, "lars_reporter_build_info{version=\"%s\"} 1\n",
	    REPORTER_VERSION);
	ONE("connections", "gauge", "Agent connections open.",
	    master->nconns);
	ONE("connections_accepted_total", "counter", "Agent connections "
	    "accepted.", st->accepted);
	metrics_family(b, "connections_rejected_total", "counter", "Agent "
	    "connections closed at accept, by reason.");
	BY("connections_rejected_total", "reason", "max_conns", st->rejected);
	BY("connections_rejected_total", "reason", "max_conns_per_ip",
	    st->per_ip);
	BY("connections_rejected_total", "reason", "allow", st->denied);
	metrics_family(b, "connections_closed_total", "counter", "Agent "
	    "connections the reporter closed, by reason.");
	BY("connections_closed_total", "reason", "bad_length", st->bad_len);
	BY("connections_closed_total", "reason", "frame_timeout",
	    st->timeouts);
	BY("connections_closed_total", "reason", "idle_timeout", st->idle);
	ONE("frames_total", "counter", "Whole frames received.", st->frames);
	ONE("records_total", "counter", "Host results received and queued.",
	    st->records);
	metrics_family(b, "frames_dropped_total", "counter", "Frames not "
	    "stored, by reason.");
	BY("frames_dropped_total", "reason", "unknown_msgid", st->bad_msgid);
	BY("frames_dropped_total", "reason", "bad_body", st->bad_body);
	BY("frames_dropped_total", "reason", "too_many_results",
	    st->too_many);
	BY("frames_dropped_total", "reason", "empty", st->empty);
	ONE("records_clamped_total", "counter", "Counts above 2147483647 "
	    "clamped.", st->clamped);
	metrics_family(b, "clock_skew_reports_total", "counter", "Reports "
	    "whose ts lay further than max_clock_skew from the receive time, "
	    "stored with the receive time, by the agent clock's direction.");
	BY("clock_skew_reports_total", "direction", "ahead", st->skew_ahead);
	BY("clock_skew_reports_total", "direction", "behind",
	    st->skew_behind);
	metrics_family(b, "worker_restarts_total", "counter", "Workers that "
	    "died and were respawned, by cause.");
	BY("worker_restarts_total", "cause", "signal", st->restarts_signal);
	BY("worker_restarts_total", "cause", "exit", st->restarts_exit);
	BY("worker_restarts_total", "cause", "cannot_work",
	    st->restarts_never);
	metrics_family(b, "reloads_total", "counter", "SIGHUP reloads, by "
	    "result.");
	BY("reloads_total", "result", "success", st->reloads);
	BY("reloads_total", "result", "failure", st->reload_failures);
	ONE("paused", "gauge", "1 while agents are not read (backpressure).",
	    master->paused);
#undef ONE
#undef BY
	metrics_workers(b);
}

/* SIGUSR1: the figures in one line an operator can grep. */
void
metrics_log(void)
{
	const struct stats *t = &master->stats;
	struct wstats all, w;
	size_t queued = proc_waiting();
	int i;

	memset(&all, 0, sizeof(all));
	for (i = 1; i <= WORKERS_MAX; i++) {
		wstats_worker(i, &w);
		wstats_add(&all, &w);
	}
	log_info("stats: connections %d accepted %llu rejected %llu "
	    "denied %llu per_ip %llu frames %llu records %llu empty %llu "
	    "bad_length %llu bad_msgid %llu bad_body %llu too_many %llu "
	    "timeouts %llu idle %llu clamped %llu skew_ahead %llu "
	    "skew_behind %llu queued %zu rows %llu "
	    "flushes %llu mysql_connects %llu retries %llu dropped %llu "
	    "worker_restarts %llu reloads %llu reload_failures %llu",
	    master->nconns, (unsigned long long)t->accepted,
	    (unsigned long long)t->rejected, (unsigned long long)t->denied,
	    (unsigned long long)t->per_ip, (unsigned long long)t->frames,
	    (unsigned long long)t->records, (unsigned long long)t->empty,
	    (unsigned long long)t->bad_len, (unsigned long long)t->bad_msgid,
	    (unsigned long long)t->bad_body, (unsigned long long)t->too_many,
	    (unsigned long long)t->timeouts, (unsigned long long)t->idle,
	    (unsigned long long)t->clamped,
	    (unsigned long long)t->skew_ahead,
	    (unsigned long long)t->skew_behind, queued,
	    (unsigned long long)all.rows, (unsigned long long)all.flushes,
	    (unsigned long long)all.connects, (unsigned long long)all.retries,
	    (unsigned long long)all.dropped,
	    (unsigned long long)(t->restarts_signal + t->restarts_exit +
	    t->restarts_never), (unsigned long long)t->reloads,
	    (unsigned long long)t->reload_failures);
}

/* metrics_listen is "addr:port" or "[v6addr]:port" (checked by config.c). */
int
metrics_open(const struct config *conf)
{
	char addr[80], *colon;
	int port;

	if (conf->metrics_listen[0] == '\0')
		return -1;
	strlcpy(addr, conf->metrics_listen, sizeof(addr));
	if ((colon = strrchr(addr, ':')) == NULL)
		return -1;
	*colon = '\0';
	port = atoi(colon + 1);
	if (addr[0] == '[') {
		memmove(addr, addr + 1, strlen(addr));
		addr[strlen(addr) - 1] = '\0';
	}
	return listener_open(addr, port);
}

void
metrics_accept(void)
{
	struct mclient *m;
	int fd, i;

	while ((fd = accept4(master->mfd, NULL, NULL,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
		for (i = 0; i < METRICS_CLIENTS && metrics_clients[i]; i++)
			;
		if (i == METRICS_CLIENTS ||
		    (m = calloc(1, sizeof(*m))) == NULL) {
			close(fd);
			continue;
		}
		m->fd = fd;
		m->ev.type = EV_METRICS;
		m->ev.obj = m;
		m->deadline = master_now_ms() + METRICS_TIMEOUT_MS;
		metrics_clients[i] = m;
		master_watch(fd, EPOLLIN, &m->ev);
	}
}

static void
metrics_close(struct mclient *m)
{
	int i;

	for (i = 0; i < METRICS_CLIENTS; i++)
		if (metrics_clients[i] == m)
			metrics_clients[i] = NULL;
	close(m->fd);
	free(m->out);
	free(m);
}

static void
metrics_respond(struct mclient *m)
{
	struct mbuf body = { NULL, 0, 0 }, all = { NULL, 0, 0 };
	int ok = strncmp(m->req, "GET /metrics ", 13) == 0 ||
	    strncmp(m->req, "GET /metrics?", 13) == 0;

	if (ok)
		metrics_render(&body);
	else
		mbuf_printf(&body, "not found: only GET /metrics is "
		    "served here\n");
	mbuf_printf(&all, "HTTP/1.0 %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n%.*s",
	    ok ? "200 OK" : "404 Not Found", ok ?
	    "text/plain; version=0.0.4; charset=utf-8" : "text/plain",
	    body.len, (int)body.len, body.p);
	free(body.p);
	m->out = all.p;
	m->outlen = all.len;
	master_rewatch(m->fd, EPOLLOUT, &m->ev);
	metrics_write(m);
}

static void
metrics_write(struct mclient *m)
{
	ssize_t n;

	while (m->outoff < m->outlen) {
		n = write(m->fd, m->out + m->outoff, m->outlen - m->outoff);
		if (n == -1) {
			if (errno != EAGAIN && errno != EINTR)
				metrics_close(m);
			return;
		}
		m->outoff += (size_t)n;
	}
	metrics_close(m);
}

void
metrics_event(struct evsrc *ev, uint32_t events)
{
	struct mclient *m = ev->obj;
	ssize_t n;

	if (m->out != NULL) {
		metrics_write(m);
		return;
	}
	n = read(m->fd, m->req + m->reqlen, sizeof(m->req) - 1 - m->reqlen);
	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			metrics_close(m);
		return;
	}
	m->reqlen += (size_t)n;
	m->req[m->reqlen] = '\0';
	if (strstr(m->req, "\r\n\r\n") != NULL ||
	    strstr(m->req, "\n\n") != NULL)
		metrics_respond(m);
	else if (m->reqlen == sizeof(m->req) - 1)
		metrics_close(m);	/* too big: not a scrape */
	(void)events;
}

/* Clients that are too slow to ask or to read are closed. */
void
metrics_sweep(int64_t now)
{
	int i;

	for (i = 0; i < METRICS_CLIENTS; i++)
		if (metrics_clients[i] != NULL &&
		    now >= metrics_clients[i]->deadline)
			metrics_close(metrics_clients[i]);
}
