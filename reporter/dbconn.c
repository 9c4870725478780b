/*
 * dbconn.c: connecting to MySQL, for the workers (store.c) and for
 * lars-status alike.
 *
 * dbconn_open() connects to host i of the [mysql] db_host list (or to
 * db_socket, which is then the only host) with the configured connect,
 * read and write timeouts and the ssl_* keys, and never with the client
 * library's automatic reconnect.  dbconn_writable() asks a connected server
 * whether it takes writes now: not when @@read_only is set (a replica, or
 * a primary in a switchover), and, on a Galera node, not unless
 * wsrep_ready is ON and the node is in the primary component.  A look
 * that refuses gives the code a write would have met (1290 read-only,
 * 1047 not ready), so that the refusal is counted like one.
 * Errors are returned in a struct dbconn_err, never logged here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>

#include "dbconn.h"
#include "log.h"
#include "reporter.h"

static void dbconn_seterr(struct dbconn_err *, MYSQL *, const char *);
static void dbconn_options(const struct config *, MYSQL *);
static int dbconn_value(MYSQL *, const char *, char *, size_t,
    struct dbconn_err *);

int
dbconn_nhosts(const struct config *c)
{
	const char *errstr;
	int n;

	if (c->db_socket[0] != '\0')
		return 1;
	/* checked when the file was read */
	if ((n = db_hosts_parse(c->db_host, c->db_port, NULL, &errstr)) < 1)
		fatalx("%s: db_host \"%s\": %s", __func__, c->db_host, errstr);
	return n;
}

/* "user@host:port/db" or "user@socket/db": logs, never the password. */
void
dbconn_where(const struct config *c, int i, char *buf, size_t len)
{
	struct db_host h[DB_HOSTS_MAX];
	const char *errstr;

	if (c->db_socket[0] != '\0') {
		snprintf(buf, len, "%s@%s/%s", c->db_user, c->db_socket,
		    c->db_name);
		return;
	}
	if (db_hosts_parse(c->db_host, c->db_port, h, &errstr) <= i)
		fatalx("%s: no host %d in \"%s\"", __func__, i, c->db_host);
	snprintf(buf, len, strchr(h[i].name, ':') != NULL ?
	    "%s@[%s]:%d/%s" : "%s@%s:%d/%s", c->db_user, h[i].name,
	    h[i].port, c->db_name);
}

static void
dbconn_seterr(struct dbconn_err *err, MYSQL *my, const char *what)
{
	err->code = mysql_errno(my);
	snprintf(err->text, sizeof(err->text), "%s: MySQL error %u: %s", what,
	    err->code, mysql_error(my));
}

static void
dbconn_options(const struct config *c, MYSQL *my)
{
	unsigned int ct = (unsigned int)c->db_connect_timeout;
	unsigned int rt = (unsigned int)c->db_read_timeout;
	unsigned int wt = (unsigned int)c->db_write_timeout;
	my_bool yes = 1;

	mysql_options(my, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
	mysql_options(my, MYSQL_OPT_READ_TIMEOUT, &rt);
	mysql_options(my, MYSQL_OPT_WRITE_TIMEOUT, &wt);
	if (c->ssl_mode == SSL_MODE_DISABLED)
		return;
	if (c->ssl_ca[0] != '\0')
		mysql_options(my, MYSQL_OPT_SSL_CA, c->ssl_ca);
	if (c->ssl_cert[0] != '\0')
		mysql_options(my, MYSQL_OPT_SSL_CERT, c->ssl_cert);
	if (c->ssl_key[0] != '\0')
		mysql_options(my, MYSQL_OPT_SSL_KEY, c->ssl_key);
	if (c->ssl_mode >= SSL_MODE_REQUIRED)
		mysql_options(my, MYSQL_OPT_SSL_ENFORCE, &yes);
	if (c->ssl_mode == SSL_MODE_VERIFY_IDENTITY)
		mysql_options(my, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &yes);
}

/* Host i of the list, or the socket; NULL with err set. */
MYSQL *
dbconn_open(const struct config *c, int i, struct dbconn_err *err)
{
	struct db_host h[DB_HOSTS_MAX];
	const char *host = "localhost", *sock = NULL, *errstr;
	unsigned int port = 0;
	MYSQL *my;

	if ((my = mysql_init(NULL)) == NULL)
		fatalx("%s: mysql_init: out of memory", __func__);
	dbconn_options(c, my);
	if (c->db_socket[0] != '\0')
		sock = c->db_socket;
	else {
		if (db_hosts_parse(c->db_host, c->db_port, h, &errstr) <= i)
			fatalx("%s: no host %d in \"%s\"", __func__, i,
			    c->db_host);
		host = h[i].name;
		port = (unsigned int)h[i].port;
	}
	if (mysql_real_connect(my, host, c->db_user, c->db_passwd,
	    c->db_name, port, sock, 0) == NULL) {
		dbconn_seterr(err, my, "connect");
		mysql_close(my);
		return NULL;
	}
	/* Connector/C 3.3 goes on in clear when the server has no TLS */
	if (c->ssl_mode >= SSL_MODE_REQUIRED &&
	    mysql_get_ssl_cipher(my) == NULL) {
		err->code = CR_SSL_CONNECTION_ERROR;
		snprintf(err->text, sizeof(err->text), "connect: MySQL error "
		    "%u: ssl_mode %s, but the server offers no TLS", err->code,
		    c->ssl_mode == SSL_MODE_REQUIRED ? "REQUIRED" :
		    "VERIFY_IDENTITY");
		mysql_close(my);
		return NULL;
	}
	return my;
}

/* The first column of the first row of q into buf ("" if none). */
static int
dbconn_value(MYSQL *my, const char *q, char *buf, size_t len,
    struct dbconn_err *err)
{
	MYSQL_RES *res;
	MYSQL_ROW row;

	if (mysql_query(my, q) != 0 || (res = mysql_store_result(my)) == NULL) {
		dbconn_seterr(err, my, q);
		return -1;
	}
	buf[0] = '\0';
	if ((row = mysql_fetch_row(res)) != NULL &&
	    row[mysql_num_fields(res) - 1] != NULL)
		strlcpy(buf, row[mysql_num_fields(res) - 1], len);
	mysql_free_result(res);
	return 0;
}

/*
 * 1: the server takes writes; 0: it refuses them (err says why); -1: the
 * look itself failed (err holds the MySQL error).  SHOW ... LIKE works
 * on MySQL, MariaDB and TiDB alike, and gives nothing where the variable
 * does not exist.
 */
int
dbconn_writable(MYSQL *my, struct dbconn_err *err)
{
	char v[64];

	if (dbconn_value(my, "SELECT @@global.read_only", v, sizeof(v),
	    err) == -1)
		return -1;
	if (strcmp(v, "1") == 0) {
		err->code = ER_OPTION_PREVENTS_STATEMENT;
		snprintf(err->text, sizeof(err->text), "read-only "
		    "(@@read_only = 1)");
		return 0;
	}
	if (dbconn_value(my, "SHOW GLOBAL VARIABLES LIKE 'wsrep\\_on'", v,
	    sizeof(v), err) == -1)
		return -1;
	if (strcasecmp(v, "ON") != 0)
		return 1;
	if (dbconn_value(my, "SHOW GLOBAL STATUS LIKE 'wsrep\\_ready'", v,
	    sizeof(v), err) == -1)
		return -1;
	if (strcasecmp(v, "ON") != 0) {
		err->code = ER_UNKNOWN_COM_ERROR;
		snprintf(err->text, sizeof(err->text), "a Galera node that is "
		    "not ready (wsrep_ready %s)", v[0] ? v : "unset");
		return 0;
	}
	if (dbconn_value(my, "SHOW GLOBAL STATUS LIKE "
	    "'wsrep\\_cluster\\_status'", v, sizeof(v), err) == -1)
		return -1;
	if (strcasecmp(v, "Primary") != 0) {
		err->code = ER_UNKNOWN_COM_ERROR;
		snprintf(err->text, sizeof(err->text), "a Galera node outside "
		    "the primary component (wsrep_cluster_status %s)", v);
		return 0;
	}
	return 1;
}

/*
 * "TLSv1.3, cipher TLS_AES_256_GCM_SHA384", or "no TLS": the session as
 * the server sees it (Ssl_version, Ssl_cipher).
 */
const char *
dbconn_tls(MYSQL *my, char *buf, size_t len)
{
	char version[64], cipher[128];
	struct dbconn_err err;

	if (dbconn_value(my, "SHOW SESSION STATUS LIKE 'Ssl\\_cipher'",
	    cipher, sizeof(cipher), &err) == -1 ||
	    dbconn_value(my, "SHOW SESSION STATUS LIKE 'Ssl\\_version'",
	    version, sizeof(version), &err) == -1)
		snprintf(buf, len, "TLS unknown (%s)", err.text);
	else if (cipher[0] == '\0')
		strlcpy(buf, "no TLS", len);
	else
		snprintf(buf, len, "%s, cipher %s", version, cipher);
	return buf;
}

/*
 * A connect error that no retry of the same settings can mend: bad
 * credentials, a database that is not there, a TLS handshake that fails
 * (no TLS on the server, a certificate that does not verify).
 */
int
dbconn_never(unsigned int code)
{
	switch (code) {
	case ER_ACCESS_DENIED_ERROR:
	case ER_DBACCESS_DENIED_ERROR:
	case ER_BAD_DB_ERROR:
	case CR_SSL_CONNECTION_ERROR:
		return 1;
	}
	return 0;
}
