/*
 * reporter.h: the one header of the lars-reporter daemon.
 *
 * Process model: one master (reporter.c, master.c: one epoll loop, no
 * threads) accepts agents (listener.c), reads and frames their bytes
 * (conn.c), decodes and routes each report (dispatch.c) through the
 * consistent-hash ring (ring.c) into the record queue of one worker slot
 * (queue.c), and writes the queue into that worker's pipe.  proc.c forks,
 * reaps and respawns the workers; upgrade.c hands the sockets to a new
 * binary on SIGUSR2.  Each worker (worker.c) coalesces the
 * newest record per key (coalesce.c) and flushes batches to MySQL
 * (store.c), then acks the last sequence number it committed over the
 * channel (channel.c).
 */
#ifndef LARS_REPORTER_H
#define LARS_REPORTER_H

#include <sys/types.h>
#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "record.h"

#define REPORTER_VERSION	"0.1.0"
#define CONF_DEFAULT_PATH	"/etc/lars/reporter.conf"
#define WORKERS_MAX		64

/* Worker exit statuses the master tells apart. */
#define WORKER_EXIT_OK		0	/* pipe EOF or SIGTERM, all flushed */
#define WORKER_EXIT_FATAL	1	/* a bug or a failed system call */
#define WORKER_EXIT_NEVER	3	/* can never work: bad credentials, no table */

/* config.c */
struct cidr {
	uint8_t		 addr[16];	/* IPv4 as v4-mapped IPv6 */
	int		 bits;
};

struct cidr_list {
	struct cidr	*v;
	int		 n;
};

/* One server of the [mysql] db_host list. */
#define DB_HOSTS_MAX		16
#define DB_HOSTS_MAX_STR	"16"

struct db_host {
	char		 name[256];
	int		 port;
};

/* [mysql] ssl_mode: the MySQL client's --ssl-mode names. */
enum ssl_mode {
	SSL_MODE_DISABLED,
	SSL_MODE_PREFERRED,
	SSL_MODE_REQUIRED,
	SSL_MODE_VERIFY_IDENTITY,
};

/* [mysql] upsert: how a worker sends its rows (store.c). */
enum upsert_mode {
	UPSERT_MODE_AUTO,	/* bulk where the server offers it */
	UPSERT_MODE_BULK,	/* MariaDB's array binding */
	UPSERT_MODE_TEXT,	/* multi-row text statements */
};

struct config {
	char		*path;
	char		*listen_ip;	/* [reactor] ip */
	int		 listen_port;	/* [reactor] port */
	int		 max_conns;
	int		 max_msg_len;
	int		 max_results;
	int		 max_conns_per_ip;
	int		 idle_timeout;	/* seconds; 0: off */
	struct cidr_list allow;		/* empty: everyone */
	int		 frame_timeout;	/* seconds */
	int		 close_timeout;	/* seconds a stop waits for agents */
	char		*db_host;
	int		 db_port;
	char		*db_user;
	char		*db_passwd;
	char		*db_name;
	char		*db_socket;	/* empty: TCP to db_host:db_port */
	int		 db_connect_timeout;	/* seconds */
	int		 db_read_timeout;
	int		 db_write_timeout;
	int		 db_failback_interval;	/* seconds between looks at
						   earlier hosts */
	char		*ssl_ca, *ssl_cert, *ssl_key;	/* empty: none */
	int		 ssl_mode;	/* enum ssl_mode */
	int		 upsert;	/* enum upsert_mode */
	int		 workers;	/* [reporter] db_thread_cnt */
	int		 verbose;	/* [reporter] log_verbose, added to -v */
	int		 drain_timeout;	/* seconds for a stop to commit all */
	char		*pidfile;
	char		*log_file;	/* daemon mode: instead of syslog */
	char		*user;		/* drop to it after binding */
	char		*metrics_listen;	/* "addr:port"; empty: off */
	int		 metrics_clients;	/* connected at once */
	int		 metrics_timeout;	/* seconds to ask and read */
	int		 flush_interval_ms;
	int		 batch_rows;
	int		 queue_max;	/* records waiting per worker before
					   the master stops reading agents */
	int		 max_clock_skew;	/* seconds a ts may be off the
					   receive time; 0: trust it */
};

struct config	*config_load(const char *path, int *nerrors);
void		 config_free(struct config *);
int		 config_key_count(void);
const char	*config_key(int, const char **section, const char **dflt);
int		 cidr_match(const struct cidr_list *, const uint8_t *addr16);
int		 db_hosts_parse(const char *, int dflt_port, struct db_host *,
		    const char **errstr);

/* ring.c: consistent hashing of (modid, cmdid) onto worker slots */
struct ring;
struct ring	*ring_new(int nslots);
void		 ring_free(struct ring *);
int		 ring_lookup(const struct ring *, int32_t modid, int32_t cmdid);

/* queue.c: the records of one worker slot, from uncommitted to unsent */
struct queue {
	struct record	*r;
	size_t		 cap;		/* a power of two */
	uint64_t	 acked;		/* position: first not yet committed */
	uint64_t	 sent;		/* position: first not yet written */
	uint64_t	 tail;		/* position of the next record */
	uint64_t	 next_seq;	/* seq of the next record */
	struct record	 torn;		/* the record a write cut short */
	size_t		 torn_left;	/* its bytes not yet written */
	uint32_t	*cwin;		/* queue_compact()'s tables, */
	uint8_t		*ckeep;		/* kept while small */
	size_t		 csize;
};

int		 queue_init(struct queue *, size_t cap);
void		 queue_free(struct queue *);
void		 queue_grow(struct queue *);
void		 queue_truncate(struct queue *, uint64_t tail);
int		 queue_write(struct queue *, int fd);
int		 queue_written(const struct queue *);
void		 queue_ack(struct queue *, uint64_t seq);
void		 queue_rewind(struct queue *);
size_t		 queue_waiting(const struct queue *);
size_t		 queue_compact(struct queue *);

/* Record at position p, which must lie in [acked, tail). */
static inline struct record *
queue_at(const struct queue *q, uint64_t p)
{
	return &q->r[p & (q->cap - 1)];
}

/* A new record at the tail, its seq set; the caller fills the rest.
 * Inline: the decoder appends every record it reads. */
static inline struct record *
queue_append(struct queue *q)
{
	struct record *rec;

	if (q->tail - q->acked == q->cap)
		queue_grow(q);
	rec = queue_at(q, q->tail++);
	rec->seq = q->next_seq++;
	return rec;
}

/* channel.c: a worker's acks to the master, with its figures since it
 * started. */
#define WSTATS_BUCKETS	10	/* flush durations: see metrics.c */
#define WSTATS_ERRORS	8	/* distinct MySQL error codes kept */

struct wstats {
	uint64_t	rows;		/* rows upserted */
	uint64_t	records;	/* records read */
	uint64_t	connects;	/* MySQL connections made */
	uint64_t	retries;	/* deadlocks and lock timeouts */
	uint64_t	dropped;	/* rows MySQL refused, logged */
	uint64_t	flushes;	/* committed batches */
	uint64_t	flush_us;	/* their total duration */
	uint64_t	flush_le[WSTATS_BUCKETS];	/* cumulative */
	uint32_t	err_code[WSTATS_ERRORS];
	uint64_t	err_count[WSTATS_ERRORS];
	/* the worker's state now, not summed */
	uint64_t	refusing_since;	/* unix time; 0: MySQL takes writes */
	uint32_t	refusing_code;	/* the error of the refusal */
	uint32_t	host;		/* of db_host, from 1; 0: none */
};

struct slot;
int		 channel_ack(int fd, uint64_t seq, const struct wstats *);
int		 channel_stats(int fd, const struct wstats *);
void		 channel_read(struct slot *);

/* The master's state: master.c, listener.c, conn.c, dispatch.c, proc.c */
enum ev_type {
	EV_LISTEN,
	EV_CONN,
	EV_PIPE,		/* a worker's record pipe became writable */
	EV_ACK,			/* a worker's ack pipe has messages */
	EV_SIGNAL,
	EV_METRICS_LISTEN,
	EV_METRICS,		/* an HTTP client of /metrics */
	EV_UPGRADE,		/* the new master's "ready" pipe */
};

struct evsrc {
	enum ev_type	 type;
	void		*obj;
};

struct conn {
	struct evsrc		 ev;
	int			 fd;
	char			 peer[64];	/* "addr:port" for logs */
	uint8_t			*pend;		/* bytes of a partial frame */
	size_t			 plen, pcap;
	int64_t			 frame_since;	/* ms: first byte of pend */
	int64_t			 last_read;	/* ms: for idle_timeout */
	struct peer		*peer_ref;	/* its address's entry */
	TAILQ_ENTRY(conn)	 entry;
};

struct gen;

struct slot {
	int		 id;
	struct gen	*gen;
	struct queue	 q;
	pid_t		 pid;		/* -1: not running */
	int		 rfd;		/* records to the worker */
	int		 afd;		/* acks from the worker */
	struct evsrc	 ev_pipe, ev_ack;
	int64_t		 started;	/* ms */
	int64_t		 respawn_at;	/* ms; 0: none due */
	int		 fails;		/* quick deaths in a row */
	int		 never;		/* it last exited WORKER_EXIT_NEVER */
	struct wstats	 last;		/* the worker's latest figures */
	size_t		 compact_at;	/* queue size of the next compaction */
};

/*
 * A generation: the workers forked for one configuration, with its ring.
 * A reload starts a new generation and closes the old one, whose workers
 * flush and exit; the new one holds its flushes until every older
 * generation is gone, so a key's older record never lands after a newer.
 */
struct gen {
	int		 id;
	struct config	*conf;		/* owned: freed with the generation */
	struct ring	*ring;
	struct slot	*slots;
	int		 nslots;
	int		 closing;	/* close the pipes once all is written */
	int64_t		 deadline;	/* ms: closing by reload, must be done */
	int		 abandoned;	/* its records move to the current gen */
	TAILQ_ENTRY(gen) entry;
};

struct stats {
	uint64_t	accepted, rejected, frames, records, empty;
	uint64_t	bad_len, bad_msgid, bad_body, too_many, clamped;
	uint64_t	compacted;	/* records a newer one of their key
					   replaced in a backlog */
	uint64_t	skew_ahead, skew_behind;	/* reports restamped */
	uint64_t	timeouts, idle, denied, per_ip;
	uint64_t	restarts_signal, restarts_exit, restarts_never;
	uint64_t	reloads, reload_failures;
	/* per worker number: the figures of its exited processes */
	struct wstats	dead[WORKERS_MAX + 1];
	uint64_t	replayed[WORKERS_MAX + 1];
};

struct master {
	struct config		*conf;		/* the current generation's */
	struct gen		*gen;		/* the current generation */
	TAILQ_HEAD(, gen)	 gens;		/* oldest first; gen is last */
	TAILQ_HEAD(, gen)	 dead_gens;	/* freed after the event batch */
	struct pidfh		*pfh;
	int			 verbose;	/* -v on the command line */
	int			 daemonized;
	pid_t			 pid;
	int			 epfd, sigfd, lfd, mfd;
	int			 lfd_held;	/* the parent keeps lfd */
	struct evsrc		 ev_listen, ev_sig, ev_metrics;
	TAILQ_HEAD(, conn)	 conns;
	TAILQ_HEAD(, conn)	 dead_conns;	/* freed after the event batch */
	int			 nconns;
	int			 paused;	/* not reading: queues full */
	uint64_t		 pauses;
	int64_t			 pause_quiet_until;	/* ms: no new log */
	int64_t			 compact_quiet_until;
	int			 quitting;
	int64_t			 quit_deadline;
	uint32_t		 now_s;		/* time(NULL) of this event batch */
	int64_t			 now_read_ms;	/* master_now_ms() of it */
	int64_t			 close_deadline;	/* ms: agents' FIN */
	int			 gens_closed;	/* stopping: pipes close */
	uint8_t			*rbuf;		/* one read buffer for all */
	size_t			 rbufsz;
	struct stats		 stats;
};

extern struct master *master;

int64_t		 master_now_ms(void);
void		 master_watch(int fd, uint32_t events, struct evsrc *);
void		 master_rewatch(int fd, uint32_t events, struct evsrc *);
void		 master_init(struct config *, struct pidfh *, int verbose);
void		 master_run(int ready) __attribute__((noreturn));
void		 master_exit(int) __attribute__((noreturn));
void		 master_notify(const char *, ...)
		    __attribute__((format(printf, 1, 2)));

/* reload.c */
void		 reload(void);

/* upgrade.c */
void		 upgrade_init(int debug, int verbose);
int		 upgrade_busy(void);
void		 upgrade_start(pid_t);
void		 upgrade_abort(const char *);
void		 upgrade_step(int64_t);
void		 upgrade_event(void);
int		 upgrade_reaped(pid_t, int);
int		 upgrade_child_init(void);
int		 upgrade_listen_fd(void);
void		 upgrade_adopt(void);
void		 upgrade_ready(void);
void		 upgrade_atexit(void);

/* listener.c */
int		 listener_open(const char *ip, int port);
int		 listener_take(const struct config *, int fd, int *held);
void		 listener_name(int, char *, size_t);
void		 listener_stop(void);
void		 listener_adopt(int, const uint8_t *, size_t);
void		 listener_accept(void);

/* conn.c */
struct conn	*conn_new(int fd, const char *peer, struct peer *);
void		 conn_restore(struct conn *, const uint8_t *, size_t);
void		 conn_warn(struct conn *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
int		 conn_read(struct conn *);
void		 conn_half_close(struct conn *);
void		 conn_close(struct conn *, const char *why);
void		 conn_pause_all(int pause);
void		 conn_sweep(int64_t now);
void		 conn_gc(void);

/* peer.c */
struct peer	*peer_get(const uint8_t *addr16, int max_per_ip);
void		 peer_put(struct peer *);
int		 peer_may_warn(struct peer *);
void		 peer_tick(void);

/* dispatch.c */
struct queue	*dispatch_queue(int32_t modid, int32_t cmdid);
void		 dispatch_frame(struct conn *, int32_t msgid, const uint8_t *,
		    size_t);

/* proc.c */
struct gen	*proc_gen_new(struct config *);
void		 proc_gen_close(struct gen *, int64_t deadline);
void		 proc_gen_check(int64_t now);
void		 proc_gen_gc(void);
void		 proc_spawn(struct slot *);
void		 proc_kill_all(int sig);
struct slot	*proc_slot_next(struct slot *);
size_t		 proc_waiting(void);

/* Every slot of every generation, oldest generation first. */
#define SLOT_FOREACH(s)							\
	for ((s) = proc_slot_next(NULL); (s) != NULL; (s) = proc_slot_next(s))
void		 proc_reap(void);
void		 proc_respawn_due(int64_t now);
int64_t		 proc_next_respawn(void);

/* metrics.c */
int		 metrics_open(const struct config *);
void		 metrics_accept(void);
void		 metrics_event(struct evsrc *, uint32_t);
void		 metrics_sweep(int64_t now);
void		 metrics_gc(void);
void		 metrics_log(void);
void		 wstats_add(struct wstats *, const struct wstats *);
void		 wstats_worker(int id, struct wstats *);

/* worker.c */
void		 worker_main(const struct config *, int slot, int rfd, int afd,
		    int hold) __attribute__((noreturn));

#endif
