/*
 * client: connect to the reporter and encode report frames; the one place
 * both modes of lars-report get their sockets and their bytes from.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "frame.h"

/*
 * Worst-case encodings, so that a buffer with room for the bound needs no
 * sizing pass: an int32 field is a tag and up to a 10-byte varint, a uint32
 * up to 5, a bool 1.  A result is its tag, a 1-byte length (its body is at
 * most 36 bytes) and the body.
 */
#define CLIENT_REQ_MAX		(3 * 11 + 6)
#define CLIENT_RESULT_MAX	(1 + 1 + 2 * 11 + 2 * 6 + 2)

static void	client_peer(const struct addrinfo *, char *, size_t);

/* "127.0.0.1:7779" or "[::1]:7779", for messages about this peer. */
static void
client_peer(const struct addrinfo *ai, char *peer, size_t len)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	int e;

	e = getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof(host),
	    serv, sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV);
	if (e != 0)
		snprintf(peer, len, "?: %s", gai_strerror(e));
	else if (ai->ai_family == AF_INET6)
		snprintf(peer, len, "[%s]:%s", host, serv);
	else
		snprintf(peer, len, "%s:%s", host, serv);
}

/*
 * Connect a blocking TCP socket to the first address of host that answers.
 * peer receives the address for later messages.  Exits on failure, naming
 * the last address tried.
 */
int
client_connect(const char *host, const char *port, char *peer, size_t len)
{
	int fd;

	if ((fd = client_try_connect(host, port, peer, len)) == -1)
		err(1, "connect to %s", peer);
	return fd;
}

/* The same, but a failed connect returns -1 with errno set. */
int
client_try_connect(const char *host, const char *port, char *peer,
    size_t len)
{
	struct addrinfo hints, *res, *ai;
	int e, fd = -1, saved = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0)
		errx(1, "resolve %s: %s", host, gai_strerror(e));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		client_peer(ai, peer, len);
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd == -1) {
			saved = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		errno = saved;
	return fd;
}

/* An upper bound of the frame of a report with nresults results. */
size_t
client_frame_bound(size_t nresults)
{
	return FRAME_HDR_LEN + CLIENT_REQ_MAX + nresults * CLIENT_RESULT_MAX;
}

/* The exact length of the frame of req. */
size_t
client_frame_len(const Lars__ReportStatusReq *req)
{
	return FRAME_HDR_LEN + lars__report_status_req__get_packed_size(req);
}

/*
 * Write the frame of req, with header msgid, at buf.  Returns its length,
 * or 0 if it does not fit in len bytes.  Only a tight fit costs the extra
 * sizing pass.
 */
size_t
client_encode(uint8_t *buf, size_t len, int32_t msgid,
    const Lars__ReportStatusReq *req)
{
	size_t body;

	if (len < client_frame_bound(req->n_results) &&
	    len < client_frame_len(req))
		return 0;
	body = lars__report_status_req__pack(req, buf + FRAME_HDR_LEN);
	frame_put_header(buf, msgid, (int32_t)body);
	return FRAME_HDR_LEN + body;
}
