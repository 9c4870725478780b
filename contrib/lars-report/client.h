/*
 * client: what the parts of lars-report share.
 *
 * lars-report.c parses the command line and sends single reports; load.c is
 * the load generator; client.c connects and encodes frames for both, so
 * that both modes put exactly the same bytes on the wire.  Errors are
 * reported with err(3) and end the program: this is a command-line tool,
 * every failure is the user's to see.
 */
#ifndef LARS_CLIENT_H
#define LARS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "lars.pb-c.h"

#define CLIENT_VERSION		"0.1.0"
#define CLIENT_DEFAULT_HOST	"127.0.0.1"
#define CLIENT_DEFAULT_PORT	"7779"
#define CLIENT_PEERLEN		80	/* "[v6 address]:port" */

/* -e: what the load does when the reporter closes a connection. */
enum load_close {
	LOAD_CLOSE_FAIL,	/* no -e: exit 1 */
	LOAD_CLOSE_ONCE,	/* the real agent: one reconnect at once */
	LOAD_CLOSE_ALWAYS,
	LOAD_CLOSE_NEVER,
};

/* What load_run() needs; lars-report.c fills it from the flags. */
struct load_conf {
	const char	*host;
	const char	*port;
	int		 conns;		/* -n */
	int		 threads;	/* -j */
	long long	 messages;	/* -N; ignored when seconds > 0 */
	int		 seconds;	/* -T; 0: send messages */
	int		 results;	/* -r: results per message */
	int		 keys;		/* -k: rounded up to results */
	int32_t		 modid_base;	/* -m */
	uint32_t	 ts_base;	/* -t */
	long long	 rate;		/* -R: messages/s; 0: unlimited */
	const char	*out;		/* -o: expected table, or NULL */
	enum load_close	 on_close;	/* -e */
};

int	 client_connect(const char *, const char *, char *, size_t);
int	 client_try_connect(const char *, const char *, char *, size_t);
size_t	 client_frame_bound(size_t);
size_t	 client_frame_len(const Lars__ReportStatusReq *);
size_t	 client_encode(uint8_t *, size_t, int32_t,
	    const Lars__ReportStatusReq *);

int	 load_run(const struct load_conf *);

#endif
