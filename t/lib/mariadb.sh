#!/usr/bin/env bash
#
# mariadb.sh: a private MariaDB server for the tests and for `make run`.
#
#   t/lib/mariadb.sh start DIR	install (first time) and start a server in DIR
#   t/lib/mariadb.sh stop DIR	stop it; stopping a stopped server is fine
#
# start initialises DIR/data with mariadb-install-db, starts mariadbd
# detached (its own session, stdio on /dev/null) on a free port of
# 127.0.0.1 and a unix socket, loads sql/lars_dns.sql and creates the user
# lars at 'localhost' and '127.0.0.1' with ALL on lars_dns.*.  The invoking
# OS user administers the server over the socket without a password.  A
# server already running in DIR is reused; a stopped one with data is
# restarted without reloading the schema.
#
# DIR/env holds shell-sourceable lines: SOCKET, PORT, USER, PASSWORD, PID,
# plus DATADIR, LOG, SOCKDIR (a temp dir to remove on stop, or empty) and
# TLS_DIR (empty without TLS).
#
# With LARS_DB_TLS=1 the server speaks TLS: start makes, with openssl, in
# DIR/tls/ a private CA (ca.pem), a server certificate it signed for
# CN 127.0.0.1 with subjectAltName 127.0.0.1 and localhost
# (server-cert.pem, server-key.pem), a client certificate it signed
# (client-cert.pem, client-key.pem) and an unrelated CA (other-ca.pem),
# once per DIR, and passes --ssl-ca, --ssl-cert and --ssl-key.  Without
# it the server has no TLS (have_ssl DISABLED).
#
# A restarted server takes its previous port again when it is free.
#
# Environment: LARS_SQL overrides the schema file; LARS_DB_TLS as above;
# LARS_DB_OPTS adds mariadbd options (word-split), as --read-only.
# Exit status 0 on success; on failure the tail of the server's error log
# goes to stderr.

set -eu

prog=${0##*/}
top=$(cd "$(dirname "$0")/../.." && pwd)
sql=${LARS_SQL:-$top/sql/lars_dns.sql}
start_timeout=30	# seconds until the server must answer
stop_timeout=10		# seconds until TERM becomes KILL

die()
{
	echo "$prog: $*" >&2
	exit 1
}

usage()
{
	echo "usage: $prog start|stop DIR" >&2
	exit 2
}

. "$(dirname "$0")/procs.sh"

free_port()
{
	perl -MIO::Socket::INET -e '
		my $s = IO::Socket::INET->new(Listen => 1,
		    LocalAddr => "127.0.0.1", LocalPort => 0, ReuseAddr => 0)
		    or die "bind: $!\n";
		print $s->sockport, "\n";'
}

# env_get KEY: the value of KEY in DIR/env, empty if none.
env_get()
{
	[ -f "$dir/env" ] || return 0
	sed -n "s/^$1=//p" "$dir/env" | tail -n 1
}

admin()
{
	timeout 60 mariadb --no-defaults --socket="$socket" \
	    --connect-timeout=10 -u "$admin_user" "$@"
}

log_tail()
{
	echo "$prog: last lines of $log:" >&2
	tail -n 25 "$log" 2>/dev/null | sed 's/^/    /' >&2 || true
}

# ssl_sign NAME CN EXT: NAME-key.pem and NAME-cert.pem, for CN, signed by
# the CA with the extensions EXT.
ssl_sign()
{
	local name=$1 cn=$2 ext=$3

	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -subj "/CN=$cn" -keyout "$tls/$name-key.pem" \
	    -out "$tls/$name.csr" 2>>"$tls/openssl.log" &&
	printf '%s\n' "$ext" >"$tls/$name.ext" &&
	openssl x509 -req -in "$tls/$name.csr" -CA "$tls/ca.pem" \
	    -CAkey "$tls/ca-key.pem" -CAcreateserial \
	    -CAserial "$tls/ca.srl" -days 3650 -extfile "$tls/$name.ext" \
	    -out "$tls/$name-cert.pem" 2>>"$tls/openssl.log"
}

# ssl_ca NAME CN: a self-signed CA, NAME.pem and NAME-key.pem.
ssl_ca()
{
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -days 3650 -subj "/CN=$2" \
	    -addext basicConstraints=critical,CA:TRUE \
	    -addext keyUsage=critical,keyCertSign,cRLSign \
	    -keyout "$tls/$1-key.pem" -out "$tls/$1.pem" \
	    2>>"$tls/openssl.log"
}

# make_tls: the certificates of DIR/tls/ (see the top), kept once made.
make_tls()
{
	[ -s "$tls/server-cert.pem" ] && [ -s "$tls/client-cert.pem" ] &&
	    [ -s "$tls/other-ca.pem" ] && return 0
	rm -rf "$tls"
	mkdir -p "$tls"
	if ! { ssl_ca ca "lars test CA" &&
	    ssl_ca other-ca "lars unrelated CA" &&
	    ssl_sign server 127.0.0.1 "basicConstraints=CA:FALSE
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost" &&
	    ssl_sign client lars "basicConstraints=CA:FALSE
extendedKeyUsage=clientAuth"; }; then
		echo "$prog: making certificates with openssl failed:" >&2
		sed 's/^/    /' "$tls/openssl.log" >&2
		rm -rf "$tls"
		exit 1
	fi
	rm -f "$tls"/*.csr "$tls"/*.ext
}

# launch PORT: start mariadbd, wait until it answers.  Returns 0 when up,
# 2 when the port was taken (try another), 1 on any other failure.
launch()
{
	local port=$1 off pid waited=0 user_opt= ssl_opt=()

	[ "$(id -u)" = 0 ] && user_opt=--user=root
	if [ -n "$tls_dir" ]; then
		ssl_opt=(--ssl-ca="$tls/ca.pem"
		    --ssl-cert="$tls/server-cert.pem"
		    --ssl-key="$tls/server-key.pem")
	fi
	off=$(stat -c %s "$log" 2>/dev/null || echo 0)
	setsid mariadbd --no-defaults $user_opt \
	    --datadir="$datadir" --socket="$socket" --pid-file="$pidfile" \
	    --log-error="$log" --tmpdir="$dir/tmp" \
	    --port="$port" --bind-address=127.0.0.1 --skip-name-resolve \
	    --innodb-buffer-pool-size=64M --innodb-log-file-size=16M \
	    --innodb-flush-log-at-trx-commit=2 --max-connections=200 \
	    "${ssl_opt[@]}" ${LARS_DB_OPTS:-} </dev/null >/dev/null 2>&1 &
	pid=$!
	# Our child: until it has exec'd, it is still called setsid, so
	# watch it with running, not alive.  Reap it only once it is gone.
	while :; do
		if ! running "$pid"; then
			wait "$pid" 2>/dev/null || true
			if tail -c +"$((off + 1))" "$log" 2>/dev/null |
			    grep -q 'Address already in use'; then
				return 2
			fi
			echo "$prog: mariadbd exited during start-up" >&2
			return 1
		fi
		# Bounded twice: a ping must never hang the start.
		if timeout 10 mariadb-admin --no-defaults --socket="$socket" \
		    --connect-timeout=3 -u "$admin_user" ping \
		    >/dev/null 2>&1 && running "$pid"; then
			break
		fi
		if [ "$waited" -ge $((start_timeout * 10)) ]; then
			echo "$prog: mariadbd did not answer within" \
			    "${start_timeout}s" >&2
			kill -KILL "$pid" 2>/dev/null || true
			return 1
		fi
		sleep 0.1
		waited=$((waited + 1))
	done
	# setsid execs in place here, but trust the pid file if it differs.
	if [ -s "$pidfile" ] && alive "$(cat "$pidfile")"; then
		pid=$(cat "$pidfile")
	fi
	server_pid=$pid
	server_port=$port
	return 0
}

load_schema()
{
	local pw=$1

	admin --default-character-set=utf8mb4 <"$sql" ||
	    die "loading $sql failed"
	admin -e "
	    CREATE USER IF NOT EXISTS 'lars'@'localhost' IDENTIFIED BY '$pw';
	    CREATE USER IF NOT EXISTS 'lars'@'127.0.0.1' IDENTIFIED BY '$pw';
	    GRANT ALL ON lars_dns.* TO 'lars'@'localhost';
	    GRANT ALL ON lars_dns.* TO 'lars'@'127.0.0.1';
	    FLUSH PRIVILEGES;" || die "creating user lars failed"
}

do_start()
{
	local pid fresh=0 pw tries rc port

	pid=$(env_get PID)
	if alive "$pid"; then
		echo "$prog: already running in $dir (pid $pid)" >&2
		return 0
	fi

	mkdir -p "$dir/tmp"
	# sockaddr_un holds 108 bytes: a long DIR gets a short socket dir.
	if [ ${#dir} -le 80 ]; then
		sockdir=
		socket=$dir/mysql.sock
	else
		sockdir=$(mktemp -d /tmp/lars-sock.XXXXXX)
		socket=$sockdir/mysql.sock
	fi

	if [ ! -d "$datadir/mysql" ]; then
		rm -rf "$datadir"
		mkdir -p "$datadir"
		local user_opt=
		[ "$(id -u)" = 0 ] && user_opt=--user=root
		if ! mariadb-install-db --no-defaults $user_opt \
		    --datadir="$datadir" --tmpdir="$dir/tmp" \
		    --auth-root-authentication-method=socket \
		    --auth-root-socket-user="$admin_user" \
		    --skip-test-db --skip-name-resolve \
		    >"$dir/install.log" 2>&1 </dev/null; then
			echo "$prog: mariadb-install-db failed:" >&2
			tail -n 25 "$dir/install.log" >&2
			rm -rf "$datadir"
			exit 1
		fi
		fresh=1
	fi

	if [ "${LARS_DB_TLS:-0}" = 1 ]; then
		make_tls
		tls_dir=$tls
	fi

	# A restart keeps its port while it is free: a db_host list names it.
	port=$(env_get PORT)
	tries=0
	while :; do
		tries=$((tries + 1))
		rc=0
		launch "${port:-$(free_port)}" || rc=$?
		port=
		[ "$rc" = 0 ] && break
		if [ "$rc" = 2 ] && [ "$tries" -lt 10 ]; then
			continue
		fi
		log_tail
		[ -n "$sockdir" ] && rm -rf "$sockdir"
		exit 1
	done

	if [ -s "$dir/password" ]; then
		pw=$(cat "$dir/password")
	else
		pw=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
		(umask 077 && echo "$pw" >"$dir/password")
	fi
	[ "$fresh" = 1 ] && load_schema "$pw"

	cat >"$dir/env.new" <<EOF
SOCKET=$socket
PORT=$server_port
USER=lars
PASSWORD=$pw
PID=$server_pid
DATADIR=$datadir
LOG=$log
SOCKDIR=$sockdir
TLS_DIR=$tls_dir
EOF
	mv "$dir/env.new" "$dir/env"
}

do_stop()
{
	local pid n=0

	# A start that failed half-way has no env yet: the pid file tells.
	pid=$(env_get PID)
	alive "$pid" || pid=$(cat "$pidfile" 2>/dev/null) || pid=
	if alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		while alive "$pid"; do
			if [ "$n" -ge $((stop_timeout * 20)) ]; then
				echo "$prog: mariadbd $pid ignored TERM;" \
				    "killing it" >&2
				kill -KILL "$pid" 2>/dev/null || true
			fi
			sleep 0.05
			n=$((n + 1))
		done
	fi
	sockdir=$(env_get SOCKDIR)
	case $sockdir in
	/tmp/lars-sock.*) rm -rf "$sockdir" ;;
	esac
	return 0
}

[ $# -eq 2 ] || usage
cmd=$1
dir=$2
case $cmd in
start)
	mkdir -p "$dir" || die "cannot create $dir"
	dir=$(cd "$dir" && pwd)
	;;
stop)
	[ -d "$dir" ] || exit 0
	dir=$(cd "$dir" && pwd)
	;;
*)	usage ;;
esac

# A trace of every run, to see where a start hung.
exec 9>>"$dir/mariadb.sh.trace"
BASH_XTRACEFD=9
PS4='+ $EPOCHREALTIME '
set -x

datadir=$dir/data
pidfile=$dir/mariadbd.pid
log=$dir/mariadbd.err
admin_user=$(id -un)
tls=$dir/tls
tls_dir=
sockdir=
server_pid=
server_port=

case $cmd in
start)	do_start ;;
stop)	do_stop ;;
esac
