/*
 * metrics.c: the master's figures, in the Prometheus text format on
 * [reporter] metrics_listen, and in one log line on SIGUSR1.
 *
 * The HTTP side lives in the master's epoll loop without blocking it.
 * GET /metrics gets the figures, another path 404, another method 405,
 * and bytes that cannot be an HTTP/1 request line, or a request of more
 * than METRICS_REQ bytes, 400 at once.  A client has metrics_timeout
 * seconds to send its request and read the answer, which is written as
 * the socket takes it.  At most metrics_clients are connected: a new one
 * closes the oldest that has not sent a whole request yet, logged at most
 * every METRICS_QUIET_MS, so idle, slow or abusive clients cost the
 * agents nothing and cannot keep a scraper out.  Workers' figures come
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

#define METRICS_REQ		4096	/* request line and headers */
#define METRICS_METHOD		16	/* longest method name */
#define METRICS_LINGER_MS	1000	/* reading after an early answer */
#define METRICS_QUIET_MS	10000	/* between two eviction logs */

struct mclient {
	struct evsrc	 ev;
	int		 fd;		/* -1: closed, to be freed */
	int		 lingering;	/* answered before the request ended */
	int64_t		 deadline;
	char		 req[METRICS_REQ];
	size_t		 reqlen;
	char		*out;
	size_t		 outlen, outoff;
	TAILQ_ENTRY(mclient) entry;
};

struct mbuf {
	char	*p;
	size_t	 len, cap;
};

/* oldest first */
static TAILQ_HEAD(, mclient) metrics_clients =
    TAILQ_HEAD_INITIALIZER(metrics_clients);
static TAILQ_HEAD(, mclient) metrics_dead =
    TAILQ_HEAD_INITIALIZER(metrics_dead);
static int metrics_nclients;
static int64_t metrics_evict_quiet_until;

static struct {
	uint64_t	accepted, evicted, timeouts;
	uint64_t	ok, not_found, bad_method, bad_request;
} metrics_st;

static const unsigned int metrics_le_ms[WSTATS_BUCKETS] = { 1, 2, 5, 10,
    25, 50, 100, 250, 500, 1000 };

static void mbuf_printf(struct mbuf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
static void metrics_family(struct mbuf *, const char *, const char *,
    const char *);
static void metrics_render(struct mbuf *);
static void metrics_workers(struct mbuf *);
static void metrics_http(struct mbuf *);
static void metrics_evict(int64_t);
static void metrics_close(struct mclient *);
static ssize_t metrics_reqline(const char *, size_t);
static int metrics_status(const struct mclient *);
static void metrics_respond(struct mclient *, int);
static void metrics_write(struct mclient *);
static void metrics_read(struct mclient *);

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

static void metrics_refusing(struct mbuf *);

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
	metrics_refusing(b);
}

/* The current generation's workers: where they write, and refusals. */
static void
metrics_refusing(struct mbuf *b)
{
	const struct wstats *w;
	int i;

	if (master->gen == NULL)	/* stopping: the last one is gone */
		return;
	metrics_family(b, "mysql_host", "gauge", "The db_host entry the "
	    "worker is connected to, from 1; 0: none.");
	for (i = 0; i < master->gen->nslots; i++)
		mbuf_printf(b, "lars_reporter_mysql_host{worker=\"%d\"} %u\n",
		    i + 1, master->gen->slots[i].last.host);
	metrics_family(b, "mysql_refusing_since_seconds", "gauge", "Since "
	    "when (unix time) MySQL refuses the worker's writes, by the "
	    "error of the refusal; absent while it takes them.");
	for (i = 0; i < master->gen->nslots; i++) {
		w = &master->gen->slots[i].last;
		if (w->refusing_since != 0)
			mbuf_printf(b, "lars_reporter_mysql_refusing_since_"
			    "seconds{worker=\"%d\",code=\"%u\"} %llu\n", i + 1,
			    w->refusing_code,
			    (unsigned long long)w->refusing_since);
	}
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
	ONE("records_compacted_total", "counter", "Records dropped from a "
	    "worker's backlog because a newer one of their key was queued.",
	    st->compacted);
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
	metrics_http(b);
	metrics_workers(b);
}

/* The endpoint's own figures; this scrape counts among the 200s. */
static void
metrics_http(struct mbuf *b)
{
	metrics_family(b, "metrics_clients", "gauge", "HTTP clients of "
	    "metrics_listen connected.");
	mbuf_printf(b, "lars_reporter_metrics_clients %d\n", metrics_nclients);
	metrics_family(b, "metrics_clients_accepted_total", "counter", "HTTP "
	    "clients of metrics_listen accepted.");
	mbuf_printf(b, "lars_reporter_metrics_clients_accepted_total %llu\n",
	    (unsigned long long)metrics_st.accepted);
	metrics_family(b, "metrics_clients_closed_total", "counter", "HTTP "
	    "clients of metrics_listen the reporter closed, by reason.");
	mbuf_printf(b, "lars_reporter_metrics_clients_closed_total{reason="
	    "\"evicted\"} %llu\n", (unsigned long long)metrics_st.evicted);
	mbuf_printf(b, "lars_reporter_metrics_clients_closed_total{reason="
	    "\"timeout\"} %llu\n", (unsigned long long)metrics_st.timeouts);
	metrics_family(b, "metrics_responses_total", "counter", "HTTP "
	    "answers of metrics_listen, by status code.");
#define CODE(c, v)							\
	mbuf_printf(b, "lars_reporter_metrics_responses_total{code=\"%d\"} "\
	    "%llu\n", c, (unsigned long long)(v))
	CODE(200, metrics_st.ok);
	CODE(400, metrics_st.bad_request);
	CODE(404, metrics_st.not_found);
	CODE(405, metrics_st.bad_method);
#undef CODE
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

/*
 * At the limit a new client is always taken in: the oldest one that has
 * not sent a whole request yet is closed for it (the oldest of all when
 * every client is being answered), so idle or dribbling clients cannot
 * hold the endpoint against a scraper.  A scraper's request usually
 * arrives with its connection, so it is read at once.
 */
void
metrics_accept(void)
{
	struct mclient *m;
	int64_t now;
	int fd;

	while ((fd = accept4(master->mfd, NULL, NULL,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
		now = master_now_ms();
		while (metrics_nclients >= master->conf->metrics_clients)
			metrics_evict(now);
		if ((m = calloc(1, sizeof(*m))) == NULL) {
			log_warn("%s: calloc", __func__);
			close(fd);
			continue;
		}
		m->fd = fd;
		m->ev.type = EV_METRICS;
		m->ev.obj = m;
		m->deadline = now + master->conf->metrics_timeout * 1000LL;
		TAILQ_INSERT_TAIL(&metrics_clients, m, entry);
		metrics_nclients++;
		metrics_st.accepted++;
		master_watch(fd, EPOLLIN, &m->ev);
		metrics_read(m);
	}
}

static void
metrics_evict(int64_t now)
{
	struct mclient *m, *victim = NULL;

	TAILQ_FOREACH(m, &metrics_clients, entry)
		if (m->out == NULL || m->lingering) {
			victim = m;
			break;
		}
	if (victim == NULL && (victim = TAILQ_FIRST(&metrics_clients)) == NULL)
		fatalx("%s: no client to close", __func__);
	metrics_st.evicted++;
	if (now >= metrics_evict_quiet_until) {
		log_warnx("metrics_listen: %d clients at once "
		    "(metrics_clients), closed the oldest waiting one; %llu "
		    "closed so far", metrics_nclients,
		    (unsigned long long)metrics_st.evicted);
		metrics_evict_quiet_until = now + METRICS_QUIET_MS;
	}
	metrics_close(victim);
}

/* Closed now, freed after the event batch: its event may still be due. */
static void
metrics_close(struct mclient *m)
{
	TAILQ_REMOVE(&metrics_clients, m, entry);
	metrics_nclients--;
	close(m->fd);
	m->fd = -1;
	TAILQ_INSERT_TAIL(&metrics_dead, m, entry);
}

void
metrics_gc(void)
{
	struct mclient *m;

	while ((m = TAILQ_FIRST(&metrics_dead)) != NULL) {
		TAILQ_REMOVE(&metrics_dead, m, entry);
		free(m->out);
		free(m);
	}
}

/*
 * How much of req is an HTTP/1.x request line, "METHOD SP target SP
 * HTTP/d.d CRLF" (or LF): -1 if it cannot become one, 0 if it may still,
 * else its length with the line end.
 */
static ssize_t
metrics_reqline(const char *p, size_t len)
{
	static const char ver[] = "HTTP/9.9";
	size_t i, n, v;

	for (i = 0; i < len && p[i] >= 'A' && p[i] <= 'Z'; i++)
		;
	if (i > METRICS_METHOD)
		return -1;
	if (i == len)
		return 0;
	if (i == 0 || p[i++] != ' ')
		return -1;
	for (n = 0; i < len && p[i] > ' ' && p[i] < 0x7f; i++, n++)
		;
	if (i == len)
		return 0;
	if (n == 0 || p[i++] != ' ')
		return -1;
	for (v = 0; v < sizeof(ver) - 1; v++, i++) {
		if (i == len)
			return 0;
		if (ver[v] == '9' ? p[i] < '0' || p[i] > '9' : p[i] != ver[v])
			return -1;
	}
	if (i < len && p[i] == '\r')
		i++;
	if (i == len)
		return 0;
	return p[i] == '\n' ? (ssize_t)i + 1 : -1;
}

/* The status to answer with, or 0 while the request is not whole. */
static int
metrics_status(const struct mclient *m)
{
	ssize_t line = metrics_reqline(m->req, m->reqlen);

	if (line == -1)
		return 400;
	if (line == 0 || (strstr(m->req, "\r\n\r\n") == NULL &&
	    strstr(m->req, "\n\n") == NULL))
		return m->reqlen == sizeof(m->req) - 1 ? 400 : 0;
	if (strncmp(m->req, "GET ", 4) != 0)
		return 405;
	if (strncmp(m->req + 4, "/metrics ", 9) == 0 ||
	    strncmp(m->req + 4, "/metrics?", 9) == 0)
		return 200;
	return 404;
}

static void
metrics_respond(struct mclient *m, int status)
{
	struct mbuf body = { NULL, 0, 0 }, all = { NULL, 0, 0 };
	const char *line, *type = "text/plain";

	switch (status) {
	case 200:
		metrics_st.ok++;
		line = "200 OK";
		type = "text/plain; version=0.0.4; charset=utf-8";
		metrics_render(&body);
		break;
	case 404:
		metrics_st.not_found++;
		line = "404 Not Found";
		mbuf_printf(&body, "not found: only GET /metrics is served "
		    "here\n");
		break;
	case 405:
		metrics_st.bad_method++;
		line = "405 Method Not Allowed\r\nAllow: GET";
		mbuf_printf(&body, "method not allowed: only GET /metrics is "
		    "served here\n");
		break;
	default:
		metrics_st.bad_request++;
		line = "400 Bad Request";
		mbuf_printf(&body, "bad request: not an HTTP/1 request of at "
		    "most %d bytes\n", METRICS_REQ - 1);
		/* unread bytes would turn our close into a reset */
		m->lingering = 1;
		break;
	}
	mbuf_printf(&all, "HTTP/1.0 %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n%.*s",
	    line, type, body.len, (int)body.len, body.p);
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
	if (!m->lingering) {
		metrics_close(m);
		return;
	}
	/* answered early: read what it still sends until it closes */
	shutdown(m->fd, SHUT_WR);
	master_rewatch(m->fd, EPOLLIN, &m->ev);
	if (m->deadline > master_now_ms() + METRICS_LINGER_MS)
		m->deadline = master_now_ms() + METRICS_LINGER_MS;
}

static void
metrics_read(struct mclient *m)
{
	char sink[4096];
	ssize_t n;
	int status;

	if (m->lingering) {
		while ((n = read(m->fd, sink, sizeof(sink))) > 0)
			;
	} else {
		n = read(m->fd, m->req + m->reqlen,
		    sizeof(m->req) - 1 - m->reqlen);
	}
	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			metrics_close(m);
		return;
	}
	m->reqlen += (size_t)n;
	m->req[m->reqlen] = '\0';
	if ((status = metrics_status(m)) != 0)
		metrics_respond(m, status);
}

void
metrics_event(struct evsrc *ev, uint32_t events)
{
	struct mclient *m = ev->obj;

	if (m->fd == -1)
		return;		/* evicted earlier in this batch */
	if (m->out != NULL && m->outoff < m->outlen)
		metrics_write(m);
	else
		metrics_read(m);
	(void)events;
}

/* Clients that are too slow to ask or to read are closed. */
void
metrics_sweep(int64_t now)
{
	struct mclient *m, *next;

	for (m = TAILQ_FIRST(&metrics_clients); m != NULL; m = next) {
		next = TAILQ_NEXT(m, entry);
		if (now >= m->deadline) {
			if (!m->lingering)
				metrics_st.timeouts++;
			metrics_close(m);
		}
	}
}
