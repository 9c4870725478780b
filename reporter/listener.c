/*
 * listener.c: the master's listening socket and its accept loop.  A
 * connection past max_conns, past max_conns_per_ip for its address, or
 * from outside the allow list is accepted and closed at once, counted and
 * logged (rate-limited).  Accepted sockets get SO_KEEPALIVE, so a vanished
 * agent host is noticed even with idle_timeout off.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "reporter.h"

static void listener_peer(const struct sockaddr_storage *, char *, size_t,
    uint8_t *);
static int listener_refuse(int, const char *, uint64_t *, const char *);

static int64_t listener_log_at;

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
