/*
 * listener.c: the master's listening socket and its accept loop.  A
 * connection past max_conns, past max_conns_per_ip for its address, or
 * from outside the allow list is accepted and closed at once, counted and
 * logged (rate-limited).  Accepted sockets get SO_KEEPALIVE, so a vanished
 * agent host is noticed even with idle_timeout off.
 *
 * The listening socket is bound here, or taken from the parent: from the
 * old master in a binary upgrade (upgrade.c), or by socket activation
 * (sd_listen_fds(3): systemd's .socket, or any parent that sets
 * LISTEN_FDS and LISTEN_PID and passes it as fd 3).  A socket the parent
 * holds stays listening after this process is gone, so agents that
 * connect meanwhile wait in its accept queue for the next instance: it is
 * never shut down here, and a stop accepts nothing more from it.
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "reporter.h"

static void listener_peer(const struct sockaddr_storage *, char *, size_t,
    uint8_t *);
static int listener_refuse(int, const char *, uint64_t *, const char *);

static int listener_activated(void);

static int64_t listener_log_at;

/* sd_listen_fds(3): fd 3, when the parent passed one; else -1. */
static int
listener_activated(void)
{
	int n, fd = SD_LISTEN_FDS_START, fl;

	if ((n = sd_listen_fds(1)) <= 0) {
		if (n < 0)
			log_warnx("%s: sd_listen_fds: %s", __func__,
			    strerror(-n));
		return -1;
	}
	if (n > 1)
		log_warnx("%s: the parent passed %d sockets; using fd %d only",
		    __func__, n, fd);
	if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0)
		fatalx("fd %d from the parent (LISTEN_FDS) is not a listening "
		    "TCP socket", fd);
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
		fatal("%s: fcntl fd %d", __func__, fd);
	return fd;
}

/*
 * The listening socket: handed over (fd >= 0: an upgrade), passed by the
 * parent, or bound to ip and port.  held: the parent keeps it open.
 */
int
listener_take(const struct config *conf, int fd, int *held)
{
	if (fd >= 0)
		return fd;
	if ((fd = listener_activated()) != -1) {
		*held = 1;
		return fd;
	}
	*held = 0;
	return listener_open(conf->listen_ip, conf->listen_port);
}

/* "addr:port" the socket is bound to, for logs. */
void
listener_name(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	uint8_t a16[16];

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1) {
		snprintf(buf, len, "fd %d: %s", fd, strerror(errno));
		return;
	}
	listener_peer(&ss, buf, len, a16);
}

/*
 * Stopping: one we bound takes what the kernel queued, then closes (new
 * agents are refused); one the parent holds is only dropped from here, so
 * that what is queued, and whoever connects next, waits for the next
 * instance.
 */
void
listener_stop(void)
{
	if (master->lfd == -1)
		return;
	if (!master->lfd_held)
		listener_accept();
	else if (epoll_ctl(master->epfd, EPOLL_CTL_DEL, master->lfd, NULL)
	    == -1)
		log_warn("%s: epoll_ctl del", __func__);
	close(master->lfd);
	master->lfd = -1;
}

int
listener_open(const char *ip, int port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int fd, on = 1;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		len = sizeof(*sin6);
	} else {
		log_warnx("%s: bad listen address \"%s\"", __func__, ip);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		log_warn("%s: socket", __func__);
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		log_warn("%s: SO_REUSEADDR", __func__);
	on = 0;		/* "::" takes IPv4 agents too */
	if (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) == -1)
		log_warn("%s: IPV6_V6ONLY", __func__);
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, SOMAXCONN) == -1) {
		log_warn("%s: listen on %s port %d", __func__, ip, port);
		close(fd);
		return -1;
	}
	return fd;
}

/* "addr:port" for logs, and the address as 16 bytes (v4-mapped). */
static void
listener_peer(const struct sockaddr_storage *ss, char *buf, size_t len,
    uint8_t *a16)
{
	char addr[INET6_ADDRSTRLEN];
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

	memset(a16, 0, 16);
	if (ss->ss_family == AF_INET6 &&
	    !IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof(addr));
		snprintf(buf, len, "[%s]:%u", addr, ntohs(sin6->sin6_port));
		memcpy(a16, &sin6->sin6_addr, 16);
		return;
	}
	a16[10] = a16[11] = 0xff;
	if (ss->ss_family == AF_INET6) {
		memcpy(a16 + 12, &sin6->sin6_addr.s6_addr[12], 4);
		inet_ntop(AF_INET, a16 + 12, addr, sizeof(addr));
		snprintf(buf, len, "%s:%u", addr, ntohs(sin6->sin6_port));
	} else {
		memcpy(a16 + 12, &sin->sin_addr, 4);
		inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr));
		snprintf(buf, len, "%s:%u", addr, ntohs(sin->sin_port));
	}
}

/* Close a refused connection; log at most once a second. */
static int
listener_refuse(int fd, const char *peer, uint64_t *counter, const char *why)
{
	int64_t now = master_now_ms();

	(*counter)++;
	if (now >= listener_log_at) {
		log_warnx("%s: closed at accept: %s (%llu so far)", peer, why,
		    (unsigned long long)*counter);
		listener_log_at = now + 1000;
	}
	close(fd);
	return 0;
}

/* Accept everything the kernel has queued. */
void
listener_accept(void)
{
	const struct config *conf = master->conf;
	struct sockaddr_storage ss;
	struct peer *p;
	socklen_t len;
	uint8_t a16[16];
	char peer[64];
	int fd, on = 1;

	for (;;) {
		len = sizeof(ss);
		fd = accept4(master->lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				log_warn("%s: accept", __func__);
			return;
		}
		listener_peer(&ss, peer, sizeof(peer), a16);
		if (!cidr_match(&conf->allow, a16)) {
			listener_refuse(fd, peer, &master->stats.denied,
			    "not in the allow list");
			continue;
		}
		if (master->nconns >= conf->max_conns) {
			listener_refuse(fd, peer, &master->stats.rejected,
			    "max_conns reached");
			continue;
		}
		if ((p = peer_get(a16, conf->max_conns_per_ip)) == NULL) {
			listener_refuse(fd, peer, &master->stats.per_ip,
			    "max_conns_per_ip reached");
			continue;
		}
		if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on,
		    sizeof(on)) == -1)
			log_warn("%s: SO_KEEPALIVE", peer);
		master->stats.accepted++;
		conn_new(fd, peer, p);
	}
}

/* An upgrade: a connection the old master accepted, with its bytes. */
void
listener_adopt(int fd, const uint8_t *pend, size_t plen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct conn *c;
	uint8_t a16[16];
	char peer[64];

	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1) {
		log_warn("%s: fd %d: getpeername", __func__, fd);
		close(fd);
		return;
	}
	listener_peer(&ss, peer, sizeof(peer), a16);
	if ((c = conn_new(fd, peer, peer_get(a16, 0))) != NULL && plen > 0)
		conn_restore(c, pend, plen);
}
