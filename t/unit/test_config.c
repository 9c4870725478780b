/*
 * test_config: the keyword table is sorted (bsearch finds every key), the
 * defaults are the documented ones, the original's file loads, and each
 * kind of bad line is an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reporter.h"
#include "tap.h"

static char path[] = "/tmp/lars-test-config.XXXXXX";

static struct config *
load(const char *text, int *nerr)
{
	FILE *fp = fopen(path, "w");

	fputs(text, fp);
	fclose(fp);
	return config_load(path, nerr);
}

int
main(void)
{
	struct config *c;
	const char *sec, *dflt, *prev_sec = "", *prev = "";
	char line[256];
	int i, nerr, sorted = 1, fd;

	if ((fd = mkstemp(path)) == -1)
		return 1;
	close(fd);
	for (i = 0; i < config_key_count(); i++) {
		const char *name = config_key(i, &sec, &dflt);
		int cmp = strcmp(prev_sec, sec);

		if (cmp > 0 || (cmp == 0 && strcmp(prev, name) >= 0))
			sorted = 0;
		prev_sec = sec;
		prev = name;
	}
	ok(sorted, "the key table is sorted by section and name");

	c = load("", &nerr);
	ok(c != NULL && nerr == 0, "an empty file is valid");
	ok(c && strcmp(c->listen_ip, "0.0.0.0") == 0 && c->listen_port == 7779,
	    "default listen 0.0.0.0:7779");
	ok(c && c->workers == 3 && c->flush_interval_ms == 200 &&
	    c->batch_rows == 1000 && c->max_msg_len == 65527,
	    "default workers 3, flush 200 ms, batch 1000, max_msg_len 65527");
	ok(c && strcmp(c->db_name, "lars_dns") == 0 && c->db_port == 3306,
	    "default database lars_dns on port 3306");
	config_free(c);

	c = load("[reactor]\nmaxConn = 1024\nthreadNum = 5\nip = 127.0.0.1\n"
	    "port = 7779\n\n[mysql]\ndb_host = 127.0.0.1\ndb_port = 3306\n"
	    "db_user = root\ndb_passwd = aceld\ndb_name = lars_dns\n\n"
	    "[repoter]\ndb_thread_cnt = 5\n", &nerr);
	ok(c != NULL, "the original lars_reporter.conf loads");
	ok(c && c->workers == 5 && c->max_conns == 1024,
	    "[repoter] db_thread_cnt and maxConn are honoured");
	ok(c && strcmp(c->db_passwd, "aceld") == 0, "db_passwd read");
	config_free(c);

	/* every key in the table can be set, to its default or a number */
	for (i = 0; i < config_key_count(); i++) {
		const char *name = config_key(i, &sec, &dflt);

		snprintf(line, sizeof(line), "[%s]\n%s = %s\n", sec, name,
		    dflt != NULL ? dflt : strcmp(name, "allow") == 0 ?
		    "10.0.0.0/8" : "1024");
		c = load(line, &nerr);
		ok(c != NULL, "key [%s] %s is accepted", sec, name);
		config_free(c);
	}

	c = load("[reactor]\nbogus = 1\n", &nerr);
	ok(c == NULL && nerr == 1, "unknown key is an error");
	c = load("[reactor]\nport = abc\n", &nerr);
	ok(c == NULL && nerr == 1, "bad number is an error");
	c = load("[reactor]\nport = 70000\n", &nerr);
	ok(c == NULL && nerr == 1, "out of range is an error");
	c = load("[reactor]\nip = 300.1.1.1\n", &nerr);
	ok(c == NULL && nerr == 1, "bad address is an error");
	c = load("[nosuch]\nport = 1\n", &nerr);
	ok(c == NULL && nerr == 2, "unknown section and its keys are errors");
	c = load("[reactor]\nport 1\nip = 1.2.3.4\nport = x\n", &nerr);
	ok(c == NULL && nerr == 2, "every error is counted");
	/* the allow list: IPv4 and IPv6 CIDRs, lines add up */
	c = load("[reactor]\nallow = 10.0.0.0/8, 192.168.1.7\n"
	    "allow = fd00::/8 ::1\n", &nerr);
	ok(c != NULL && c->allow.n == 4, "four CIDRs over two allow lines");
	if (c != NULL) {
		uint8_t a[16] = { 0 };

		a[10] = a[11] = 0xff;
		a[12] = 10, a[13] = 200, a[14] = 3, a[15] = 4;
		ok(cidr_match(&c->allow, a), "10.200.3.4 is in 10.0.0.0/8");
		a[12] = 11;
		ok(!cidr_match(&c->allow, a), "11.200.3.4 is not");
		a[12] = 192, a[13] = 168, a[14] = 1, a[15] = 7;
		ok(cidr_match(&c->allow, a), "192.168.1.7 matches itself");
		a[15] = 8;
		ok(!cidr_match(&c->allow, a), "192.168.1.8 does not");
		memset(a, 0, sizeof(a));
		a[0] = 0xfd, a[15] = 9;
		ok(cidr_match(&c->allow, a), "fd00::9 is in fd00::/8");
		a[0] = 0xfe;
		ok(!cidr_match(&c->allow, a), "fe00::9 is not");
		memset(a, 0, sizeof(a));
		a[15] = 1;
		ok(cidr_match(&c->allow, a), "::1 matches");
	}
	config_free(c);
	c = load("[reactor]\nallow = 10.0.0.0/33\n", &nerr);
	ok(c == NULL && nerr == 1, "an IPv4 prefix over 32 is an error");
	c = load("[reactor]\nallow = example.com\n", &nerr);
	ok(c == NULL && nerr == 1, "a name is not an address");
	c = load("", &nerr);
	ok(c != NULL && c->allow.n == 0, "no allow: empty list");
	if (c != NULL) {
		uint8_t any[16] = { 1, 2, 3 };

		ok(cidr_match(&c->allow, any), "and everyone is allowed");
	}
	config_free(c);

	/* db_host: the list Connector/C accepts, each host with its port */
	{
		struct db_host h[DB_HOSTS_MAX];
		const char *err;
		static const char *bad[] = { "", "a,,b", "a:0", "a:70000",
		    "a:x", "[::1", "[::1]x", "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q",
		    NULL };

		ok(db_hosts_parse("db1, db2:3307 ,[::1]:3308,fe80::1", 3306, h,
		    &err) == 4, "four hosts in a db_host list");
		ok(strcmp(h[0].name, "db1") == 0 && h[0].port == 3306 &&
		    strcmp(h[1].name, "db2") == 0 && h[1].port == 3307,
		    "a host without a port takes db_port, one with keeps it");
		ok(strcmp(h[2].name, "::1") == 0 && h[2].port == 3308 &&
		    strcmp(h[3].name, "fe80::1") == 0 && h[3].port == 3306,
		    "[v6]:port, and a bare IPv6 address without a port");
		for (i = 0; bad[i] != NULL; i++)
			ok(db_hosts_parse(bad[i], 3306, h, &err) == -1 &&
			    err != NULL, "db_host \"%s\" is refused: %s", bad[i],
			    err != NULL ? err : "(no reason)");
	}
	c = load("[mysql]\ndb_host = a:1, b:99999\n", &nerr);
	ok(c == NULL && nerr == 1, "a bad db_host is a file:line error");
	c = load("[mysql]\nssl_mode = verify_identity\n", &nerr);
	ok(c != NULL && c->ssl_mode == SSL_MODE_VERIFY_IDENTITY,
	    "ssl_mode is read without regard to case");
	config_free(c);
	c = load("[mysql]\nssl_mode = VERIFY_CA\n", &nerr);
	ok(c == NULL && nerr == 1, "an ssl_mode that is not offered is an error");

	unlink(path);
	c = config_load(path, &nerr);
	ok(c == NULL && nerr == 1, "a missing file is an error");
	return done_testing();
}
