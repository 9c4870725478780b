/*
 * config.c: the INI parser of lars-reporter.conf, driven by one table of
 * keys (section, name, type, default, range).
 *
 * config_load() parses a file into a fresh struct config or returns NULL
 * after logging every error as "file:line: what"; the caller keeps its old
 * configuration on failure, which is what SIGHUP needs.  The original
 * lars_reporter.conf keys are in the table, and its misspelled [repoter]
 * section is read as [reporter] with a warning.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "reporter.h"

enum cfg_type {
	CFG_INT,
	CFG_STR,
	CFG_ADDR,		/* an IPv4 or IPv6 literal */
	CFG_PATH,		/* an absolute path */
	CFG_CIDRS,		/* CIDRs, comma or space separated; repeats add */
	CFG_LISTEN,		/* "addr:port", "[v6addr]:port" or empty */
	CFG_HOSTS,		/* "host[:port],host[:port],...": db_hosts */
	CFG_ENUM,		/* one of the names in enums: its index */
	CFG_IGNORED,		/* the original's keys that mean nothing here */
};

struct cfg_key {
	const char	*section;
	const char	*name;
	enum cfg_type	 type;
	size_t		 off;
	const char	*dflt;
	long long	 min, max;
	const char *const *enums;	/* CFG_ENUM: NULL-terminated */
};

static const char *const cfg_ssl_modes[] = { "DISABLED", "PREFERRED",
    "REQUIRED", "VERIFY_IDENTITY", NULL };
static const char *const cfg_upsert_modes[] = { "auto", "bulk", "text",
    NULL };

#define C(f) offsetof(struct config, f)

/* Sorted by section, then name: config_find() uses bsearch(3). */
static const struct cfg_key cfg_keys[] = {
	{ "mysql", "db_connect_timeout", CFG_INT, C(db_connect_timeout), "5",
	    1, 3600, NULL },
	{ "mysql", "db_failback_interval", CFG_INT, C(db_failback_interval),
	    "10", 1, 86400, NULL },
	{ "mysql", "db_host", CFG_HOSTS, C(db_host), "127.0.0.1", 0, 0, NULL },
	{ "mysql", "db_name", CFG_STR, C(db_name), "lars_dns", 0, 0, NULL },
	{ "mysql", "db_passwd", CFG_STR, C(db_passwd), "", 0, 0, NULL },
	{ "mysql", "db_port", CFG_INT, C(db_port), "3306", 1, 65535, NULL },
	{ "mysql", "db_read_timeout", CFG_INT, C(db_read_timeout), "30",
	    1, 86400, NULL },
	{ "mysql", "db_socket", CFG_STR, C(db_socket), "", 0, 0, NULL },
	{ "mysql", "db_user", CFG_STR, C(db_user), "root", 0, 0, NULL },
	{ "mysql", "db_write_timeout", CFG_INT, C(db_write_timeout), "30",
	    1, 86400, NULL },
	{ "mysql", "ssl_ca", CFG_PATH, C(ssl_ca), "", 0, 0, NULL },
	{ "mysql", "ssl_cert", CFG_PATH, C(ssl_cert), "", 0, 0, NULL },
	{ "mysql", "ssl_key", CFG_PATH, C(ssl_key), "", 0, 0, NULL },
	{ "mysql", "ssl_mode", CFG_ENUM, C(ssl_mode), "DISABLED", 0, 0,
	    cfg_ssl_modes },
	{ "mysql", "upsert", CFG_ENUM, C(upsert), "auto", 0, 0,
	    cfg_upsert_modes },
	{ "reactor", "allow", CFG_CIDRS, C(allow), NULL, 0, 0, NULL },
	{ "reactor", "close_timeout", CFG_INT, C(close_timeout), "5",
	    0, 3600, NULL },
	{ "reactor", "frame_timeout", CFG_INT, C(frame_timeout), "30",
	    1, 3600, NULL },
	{ "reactor", "idle_timeout", CFG_INT, C(idle_timeout), "0", 0, 86400, NULL },
	{ "reactor", "ip", CFG_ADDR, C(listen_ip), "0.0.0.0", 0, 0, NULL },
	{ "reactor", "maxConn", CFG_INT, C(max_conns), NULL, 1, 1000000, NULL },
	{ "reactor", "max_conns", CFG_INT, C(max_conns), "10000",
	    1, 1000000, NULL },
	{ "reactor", "max_conns_per_ip", CFG_INT, C(max_conns_per_ip), "0",
	    0, 1000000, NULL },
	{ "reactor", "max_msg_len", CFG_INT, C(max_msg_len), "65527",
	    0, 65527, NULL },
	{ "reactor", "max_results", CFG_INT, C(max_results), "10000",
	    1, 32768, NULL },
	{ "reactor", "port", CFG_INT, C(listen_port), "7779", 1, 65535, NULL },
	{ "reactor", "threadNum", CFG_IGNORED, 0, NULL, 0, 0, NULL },
	{ "reporter", "batch_rows", CFG_INT, C(batch_rows), "1000",
	    1, 7000, NULL },
	{ "reporter", "db_thread_cnt", CFG_INT, C(workers), "3",
	    1, WORKERS_MAX, NULL },
	{ "reporter", "drain_timeout", CFG_INT, C(drain_timeout), "60",
	    1, 86400, NULL },
	{ "reporter", "flush_interval_ms", CFG_INT, C(flush_interval_ms),
	    "200", 1, 60000, NULL },
	{ "reporter", "log_file", CFG_PATH, C(log_file), "", 0, 0, NULL },
	{ "reporter", "log_verbose", CFG_INT, C(verbose), "0", 0, 2, NULL },
	{ "reporter", "max_clock_skew", CFG_INT, C(max_clock_skew), "300",
	    0, 86400, NULL },
	{ "reporter", "metrics_clients", CFG_INT, C(metrics_clients), "16",
	    1, 1024, NULL },
	{ "reporter", "metrics_listen", CFG_LISTEN, C(metrics_listen), "",
	    0, 0, NULL },
	{ "reporter", "metrics_timeout", CFG_INT, C(metrics_timeout), "5",
	    1, 3600, NULL },
	{ "reporter", "pidfile", CFG_PATH, C(pidfile), "/run/lars-reporter.pid",
	    1, 0, NULL },
	{ "reporter", "queue_max", CFG_INT, C(queue_max), "262144",
	    1024, 268435456, NULL },
	{ "reporter", "user", CFG_STR, C(user), "", 0, 0, NULL },
};

#define CFG_NKEYS (sizeof(cfg_keys) / sizeof(cfg_keys[0]))

struct cfg_parse {
	const char	*path;
	int		 line;
	int		 errors;
	char		 section[32];
	struct config	*conf;
};

static int config_keycmp(const void *, const void *);
static const struct cfg_key *config_find(const char *, const char *);
static int config_set(struct cfg_parse *, const struct cfg_key *,
    const char *);
static void config_defaults(struct config *);
static int config_cidr(const char *, struct cidr *);
static int config_listen(const char *);
static int config_cidrs(struct cfg_parse *, const struct cfg_key *,
    struct cidr_list *, const char *);
static void config_line(struct cfg_parse *, char *);
static void config_section(struct cfg_parse *, char *);
static void config_error(struct cfg_parse *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
static void config_check_mode(const char *, int);
static char *config_trim(char *);
static const char *config_enum_names(const struct cfg_key *, char *, size_t);

static void
config_error(struct cfg_parse *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s:%d: %s", p->path, p->line, msg);
	p->errors++;
}

static int
config_keycmp(const void *a, const void *b)
{
	const struct cfg_key *x = a, *y = b;
	int c;

	if ((c = strcmp(x->section, y->section)) != 0)
		return c;
	return strcmp(x->name, y->name);
}

static const struct cfg_key *
config_find(const char *section, const char *name)
{
	struct cfg_key k = { .section = section, .name = name };

	return bsearch(&k, cfg_keys, CFG_NKEYS, sizeof(cfg_keys[0]),
	    config_keycmp);
}

static int
config_set(struct cfg_parse *p, const struct cfg_key *k, const char *val)
{
	char *base = (char *)p->conf;
	unsigned char addr[sizeof(struct in6_addr)];
	const char *errstr;
	char names[128];
	long long n;
	char **sp;
	int i;

	switch (k->type) {
	case CFG_CIDRS:
		return config_cidrs(p, k, (struct cidr_list *)(base + k->off),
		    val);
	case CFG_ENUM:
		for (i = 0; k->enums[i] != NULL; i++)
			if (strcasecmp(val, k->enums[i]) == 0) {
				*(int *)(base + k->off) = i;
				return 0;
			}
		config_error(p, "%s = \"%s\": want one of %s", k->name, val,
		    config_enum_names(k, names, sizeof(names)));
		return -1;
	case CFG_IGNORED:
		log_info("%s:%d: %s is ignored: lars-reporter's master has "
		    "one thread", p->path, p->line, k->name);
		return 0;
	case CFG_INT:
		n = strtonum(val, k->min, k->max, &errstr);
		if (errstr != NULL) {
			config_error(p, "%s = \"%s\": %s (range %lld-%lld)",
			    k->name, val, errstr, k->min, k->max);
			return -1;
		}
		*(int *)(base + k->off) = (int)n;
		return 0;
	case CFG_LISTEN:
		if (val[0] != '\0' && config_listen(val) == -1) {
			config_error(p, "%s = \"%s\": want address:port, "
			    "as 127.0.0.1:9779 or [::1]:9779", k->name, val);
			return -1;
		}
		sp = (char **)(base + k->off);
		free(*sp);
		if ((*sp = strdup(val)) == NULL)
			fatal("%s: strdup", __func__);
		return 0;
	case CFG_ADDR:
		if (inet_pton(AF_INET, val, addr) != 1 &&
		    inet_pton(AF_INET6, val, addr) != 1) {
			config_error(p, "%s = \"%s\": not an IPv4 or IPv6 "
			    "address", k->name, val);
			return -1;
		}
		/* FALLTHROUGH */
	case CFG_PATH:
		/* min 1: the path is required, else empty means unset */
		if (k->type == CFG_PATH && val[0] != '/' &&
		    (val[0] != '\0' || k->min)) {
			config_error(p, "%s = \"%s\": not an absolute path",
			    k->name, val);
			return -1;
		}
		/* FALLTHROUGH */
	case CFG_HOSTS:
		if (k->type == CFG_HOSTS &&
		    db_hosts_parse(val, 0, NULL, &errstr) == -1) {
			config_error(p, "%s = \"%s\": %s", k->name, val, errstr);
			return -1;
		}
		/* FALLTHROUGH */
	case CFG_STR:
		sp = (char **)(base + k->off);
		free(*sp);
		if ((*sp = strdup(val)) == NULL)
			fatal("%s: strdup", __func__);
		return 0;
	}
	return -1;
}

/* "10.0.0.0/8" or "::1" (a whole address): into 16 bytes and a length. */
static int
config_cidr(const char *s, struct cidr *c)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash;
	struct in_addr a4;
	const char *errstr;
	int max;

	if (strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return -1;
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, buf, &a4) == 1) {
		c->addr[10] = c->addr[11] = 0xff;
		memcpy(c->addr + 12, &a4, 4);
		max = 32;
	} else if (inet_pton(AF_INET6, buf, c->addr) == 1)
		max = 128;
	else
		return -1;
	c->bits = max;
	if (slash != NULL) {
		c->bits = (int)strtonum(slash, 0, max, &errstr);
		if (errstr != NULL)
			return -1;
	}
	if (max == 32)
		c->bits += 96;
	return 0;
}

static int
config_cidrs(struct cfg_parse *p, const struct cfg_key *k,
    struct cidr_list *l, const char *val)
{
	char *copy, *tok, *save = NULL;
	struct cidr c, *v;
	int bad = 0;

	if ((copy = strdup(val)) == NULL)
		fatal("%s: strdup", __func__);
	for (tok = strtok_r(copy, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save)) {
		if (config_cidr(tok, &c) == -1) {
			config_error(p, "%s: \"%s\" is not an address or "
			    "CIDR", k->name, tok);
			bad = 1;
			continue;
		}
		if ((v = reallocarray(l->v, (size_t)l->n + 1,
		    sizeof(*v))) == NULL)
			fatal("%s: reallocarray", __func__);
		l->v = v;
		l->v[l->n++] = c;
	}
	free(copy);
	return bad ? -1 : 0;
}

static int
config_listen(const char *val)
{
	char addr[INET6_ADDRSTRLEN + 8], *colon;
	unsigned char a[sizeof(struct in6_addr)];
	const char *errstr;
	size_t n;

	if (strlcpy(addr, val, sizeof(addr)) >= sizeof(addr) ||
	    (colon = strrchr(addr, ':')) == NULL)
		return -1;
	*colon = '\0';
	strtonum(colon + 1, 1, 65535, &errstr);
	if (errstr != NULL)
		return -1;
	if (addr[0] == '[') {
		n = strlen(addr);
		if (n < 3 || addr[n - 1] != ']')
			return -1;
		addr[n - 1] = '\0';
		return inet_pton(AF_INET6, addr + 1, a) == 1 ? 0 : -1;
	}
	return inet_pton(AF_INET, addr, a) == 1 ? 0 : -1;
}

/* "a, b, c": the names of an enum key, for its error message. */
static const char *
config_enum_names(const struct cfg_key *k, char *buf, size_t len)
{
	int i;

	buf[0] = '\0';
	for (i = 0; k->enums[i] != NULL; i++) {
		if (i > 0)
			strlcat(buf, ", ", len);
		strlcat(buf, k->enums[i], len);
	}
	return buf;
}

/* One "host", "host:port", "[v6]" or "[v6]:port" of a db_host list. */
static int
db_host_parse(char *s, int dflt_port, struct db_host *h, const char **errstr)
{
	char *colon = NULL, *end;
	long long port = dflt_port;

	if (*s == '[') {
		if ((end = strchr(s, ']')) == NULL) {
			*errstr = "an IPv6 address without its ']'";
			return -1;
		}
		*end = '\0';
		s++;
		if (end[1] == ':')
			colon = end + 1;
		else if (end[1] != '\0') {
			*errstr = "junk after ']'";
			return -1;
		}
	} else if ((colon = strchr(s, ':')) != NULL &&
	    strchr(colon + 1, ':') != NULL)
		colon = NULL;	/* a bare IPv6 address, no port */
	if (colon != NULL) {
		*colon = '\0';
		port = strtonum(colon + 1, 1, 65535, errstr);
		if (*errstr != NULL) {
			*errstr = "a port is a number from 1 to 65535";
			return -1;
		}
	}
	if (*s == '\0') {
		*errstr = "an empty host name";
		return -1;
	}
	if (h != NULL) {
		if (strlcpy(h->name, s, sizeof(h->name)) >= sizeof(h->name)) {
			*errstr = "a host name too long";
			return -1;
		}
		h->port = (int)port;
	}
	return 0;
}

/*
 * The db_host list, "host[:port],host[:port],..." (the syntax MariaDB
 * Connector/C accepts; IPv6 in brackets), into v (when not NULL), each
 * without a port given dflt_port.  Returns the number of hosts, or -1
 * with *errstr set.
 */
int
db_hosts_parse(const char *list, int dflt_port, struct db_host *v,
    const char **errstr)
{
	char *copy, *rest, *tok;
	int n = 0, bad = 0;

	*errstr = NULL;
	if ((copy = rest = strdup(list)) == NULL)
		fatal("%s: strdup", __func__);
	/* strsep(3), not strtok(3): "a,,b" has an empty host */
	while (!bad && (tok = strsep(&rest, ",")) != NULL) {
		if (n == DB_HOSTS_MAX) {
			*errstr = "more than " DB_HOSTS_MAX_STR " hosts";
			bad = 1;
		} else if (db_host_parse(config_trim(tok), dflt_port,
		    v != NULL ? &v[n] : NULL, errstr) == -1)
			bad = 1;
		else
			n++;
	}
	free(copy);
	return bad ? -1 : n;
}

int
cidr_match(const struct cidr_list *l, const uint8_t *addr)
{
	int i, full, rest;

	if (l->n == 0)
		return 1;
	for (i = 0; i < l->n; i++) {
		full = l->v[i].bits / 8;
		rest = l->v[i].bits % 8;
		if (memcmp(l->v[i].addr, addr, (size_t)full) != 0)
			continue;
		if (rest == 0 || ((l->v[i].addr[full] ^ addr[full]) &
		    (0xff << (8 - rest))) == 0)
			return 1;
	}
	return 0;
}

static void
config_defaults(struct config *conf)
{
	struct cfg_parse p = { .path = "(defaults)", .conf = conf };
	size_t i;

	for (i = 0; i < CFG_NKEYS; i++)
		if (cfg_keys[i].dflt != NULL &&
		    config_set(&p, &cfg_keys[i], cfg_keys[i].dflt) == -1)
			fatalx("%s: bad default for %s", __func__,
			    cfg_keys[i].name);
}

static char *
config_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* "[name]": one of the three sections, or the original's [repoter]. */
static void
config_section(struct cfg_parse *p, char *s)
{
	const char *name;
	char *end;

	if ((end = strchr(s, ']')) == NULL || end[1] != '\0') {
		config_error(p, "bad section header \"%s\"", s);
		return;
	}
	*end = '\0';
	name = config_trim(s + 1);
	if (strcmp(name, "repoter") == 0) {
		log_warnx("%s:%d: section [repoter] read as [reporter] (the "
		    "original's spelling)", p->path, p->line);
		name = "reporter";
	}
	if (strcmp(name, "reactor") != 0 && strcmp(name, "mysql") != 0 &&
	    strcmp(name, "reporter") != 0) {
		config_error(p, "unknown section [%s]", name);
		name = "";
	}
	snprintf(p->section, sizeof(p->section), "%s", name);
}

static void
config_line(struct cfg_parse *p, char *line)
{
	const struct cfg_key *k;
	char *s, *eq, *name, *val;

	s = config_trim(line);
	if (*s == '\0' || *s == '#' || *s == ';')
		return;
	if (*s == '[') {
		config_section(p, s);
		return;
	}
	if ((eq = strchr(s, '=')) == NULL) {
		/* the line is not echoed: it may be a password */
		config_error(p, "expected \"key = value\"");
		return;
	}
	*eq = '\0';
	name = config_trim(s);
	val = config_trim(eq + 1);
	if (p->section[0] == '\0') {
		config_error(p, "key \"%s\" outside a known section", name);
		return;
	}
	if ((k = config_find(p->section, name)) == NULL) {
		config_error(p, "unknown key \"%s\" in [%s]", name,
		    p->section);
		return;
	}
	config_set(p, k, val);
}

static void
config_check_mode(const char *path, int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && (st.st_mode & S_IROTH))
		log_warnx("%s: holds db_passwd and is readable by others: "
		    "chmod o-r %s", path, path);
}

struct config *
config_load(const char *path, int *nerrors)
{
	struct cfg_parse p = { .path = path };
	char *line = NULL;
	size_t cap = 0;
	FILE *fp;

	*nerrors = 1;
	if ((fp = fopen(path, "r")) == NULL) {
		log_warn("%s", path);
		return NULL;
	}
	if ((p.conf = calloc(1, sizeof(*p.conf))) == NULL)
		fatal("%s: calloc", __func__);
	config_defaults(p.conf);
	if ((p.conf->path = strdup(path)) == NULL)
		fatal("%s: strdup", __func__);
	while (getline(&line, &cap, fp) != -1) {
		p.line++;
		config_line(&p, line);
	}
	if (ferror(fp))
		config_error(&p, "read error");
	if (p.conf->db_passwd[0] != '\0')
		config_check_mode(path, fileno(fp));
	free(line);
	fclose(fp);
	*nerrors = p.errors;
	if (p.errors > 0) {
		config_free(p.conf);
		return NULL;
	}
	return p.conf;
}

void
config_free(struct config *conf)
{
	size_t i;

	if (conf == NULL)
		return;
	for (i = 0; i < CFG_NKEYS; i++)
		if (cfg_keys[i].type == CFG_STR ||
		    cfg_keys[i].type == CFG_ADDR ||
		    cfg_keys[i].type == CFG_PATH ||
		    cfg_keys[i].type == CFG_LISTEN ||
		    cfg_keys[i].type == CFG_HOSTS)
			free(*(char **)((char *)conf + cfg_keys[i].off));
	free(conf->allow.v);
	free(conf->path);
	free(conf);
}

int
config_key_count(void)
{
	return (int)CFG_NKEYS;
}

/* Key i of the table, for tests and tools: name, section, default. */
const char *
config_key(int i, const char **section, const char **dflt)
{
	*section = cfg_keys[i].section;
	*dflt = cfg_keys[i].dflt;
	return cfg_keys[i].name;
}
