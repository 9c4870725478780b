#!/usr/bin/env bash
#
# galera.sh: a private 3-node MariaDB Galera cluster on 127.0.0.1 for the
# tests (the conventions of t/lib/mariadb.sh; ../shared/FACTS.md, "MariaDB
# Galera on one machine", has the measurements behind the choices here).
#
#   t/lib/galera.sh start DIR		a fresh cluster in DIR/n1..n3
#   t/lib/galera.sh stop DIR		stop every node; always succeeds
#   t/lib/galera.sh kill DIR N		SIGKILL node N
#   t/lib/galera.sh stop-node DIR N	stop node N (TERM, then KILL)
#   t/lib/galera.sh start-node DIR N	(re)start node N, wait until Synced
#   t/lib/galera.sh isolate DIR N 0|1	gmcast.isolate: cut N off / back
#   t/lib/galera.sh wait-synced DIR N [SECONDS]
#
# start bootstraps node 1 (--wsrep-new-cluster), then joins nodes 2 and 3
# one at a time by an rsync state transfer, each on four free ports of
# 127.0.0.1 (SQL, group communication, IST, SST: the defaults would
# collide), waits until each is Synced, Primary and wsrep_ready ON (a ping
# is not enough), then loads sql/lars_dns.sql and creates the user lars at
# 'localhost' and '127.0.0.1' with ALL on lars_dns.* once, on node 1: the
# cluster replicates it.  The invoking OS user administers every node over
# its unix socket without a password.
#
# As root the nodes run as the user mysql, which owns DIR/nN: an rsync
# state transfer started by root switches to "nobody" and the joiner
# aborts on "Permission denied".  For the same reason every parent folder
# of DIR gets o+x (a mktemp -d folder is 0700).
#
# DIR/env holds shell-sourceable lines: per node N1_PORT N1_SOCKET N1_PID
# N1_GPORT N1_IPORT N1_SPORT N1_DATADIR N1_LOG (and N2_..., N3_...), then
# HOSTS (127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3, for db_host), USER,
# PASSWORD, SOCKDIR (a temp dir to remove on stop, or empty).  Every action
# rewrites it, so N*_PID is current.
#
# Exit status 0 on success; on failure the tail of the node's error log
# goes to stderr.

set -eu

prog=${0##*/}
top=$(cd "$(dirname "$0")/../.." && pwd)
sql=${LARS_SQL:-$top/sql/lars_dns.sql}
provider=/usr/lib/galera/libgalera_smm.so
nodes="1 2 3"
sync_timeout=${GALERA_SYNC_TIMEOUT:-90}	# seconds for a node to be Synced
stop_timeout=15			# seconds until TERM becomes KILL
# Failure detection in seconds, not the default 5-15 s, so that tests of a
# dead or cut-off node do not wait long (the keepalive must then be under a
# third of the suspect timeout, or the node refuses to start: its default
# 1 s is not); gcache small, it is a test.
provider_opts='gcache.size=64M;evs.keepalive_period=PT0.5S;evs.suspect_timeout=PT2S;evs.inactive_timeout=PT4S;evs.install_timeout=PT3S'

die()
{
	echo "$prog: $*" >&2
	exit 1
}

usage()
{
	cat >&2 <<EOF
usage: $prog start|stop DIR
       $prog kill|stop-node|start-node|wait-synced DIR N
       $prog isolate DIR N 0|1
EOF
	exit 2
}

. "$(dirname "$0")/procs.sh"

# free_ports COUNT [EXCLUDED...]: COUNT distinct ports of 127.0.0.1 free
# at the moment, none of them EXCLUDED.  All are held open together, so
# they differ from each other.
free_ports()
{
	perl -MIO::Socket::INET -e '
		my ($n, %ex) = (shift, map { $_ => 1 } @ARGV);
		my (@s, @p);
		while (@p < $n) {
			my $s = IO::Socket::INET->new(Listen => 1,
			    LocalAddr => "127.0.0.1", LocalPort => 0,
			    ReuseAddr => 0) or die "bind: $!\n";
			push @s, $s;
			push @p, $s->sockport unless $ex{$s->sockport};
		}
		print "@p\n";' "$@"
}

# Per-node state lives in variables port_N, gport_N, ...; node_vars N sets
# the working names (port, socket, ...) for node N.
node_vars()
{
	n=$1
	ndir=$dir/n$n
	datadir=$ndir/data
	log=$ndir/mariadbd.err
	pidfile=$ndir/mariadbd.pid
	socket=$(sock_path "$n")
	eval "port=\${port_$n:-} gport=\${gport_$n:-} iport=\${iport_$n:-}" \
	    "sport=\${sport_$n:-} pid=\${pid_$n:-}"
}

env_load()
{
	local k v n

	[ -f "$dir/env" ] || return 0
	while IFS='=' read -r k v; do
		case $k in
		N[123]_PORT|N[123]_GPORT|N[123]_IPORT|N[123]_SPORT|N[123]_PID)
			n=${k:1:1}
			k=${k#N?_}
			k=$(echo "$k" | tr A-Z a-z)
			eval "${k}_$n=\$v"
			;;
		PASSWORD) password=$v ;;
		SOCKDIR) sockdir=$v ;;
		esac
	done <"$dir/env"
}

env_save()
{
	# Locals: node_vars must not clobber the caller's node.
	local n ndir datadir log pidfile socket port gport iport sport pid
	local hosts=''

	{
		for n in $nodes; do
			node_vars "$n"
			echo "N${n}_PORT=$port"
			echo "N${n}_SOCKET=$socket"
			echo "N${n}_PID=$pid"
			echo "N${n}_GPORT=$gport"
			echo "N${n}_IPORT=$iport"
			echo "N${n}_SPORT=$sport"
			echo "N${n}_DATADIR=$datadir"
			echo "N${n}_LOG=$log"
			hosts=$hosts${hosts:+,}127.0.0.1:$port
		done
		echo "HOSTS=$hosts"
		echo "USER=lars"
		echo "PASSWORD=$password"
		echo "SOCKDIR=$sockdir"
	} >"$dir/env.new"
	mv "$dir/env.new" "$dir/env"
}

# sock_path N: node N's unix socket, in its own dir (the server, maybe
# running as mysql, must create it there), or in SOCKDIR when DIR is long.
sock_path()
{
	if [ -n "$sockdir" ]; then
		echo "$sockdir/n$1.sock"
	else
		echo "$dir/n$1/mysql.sock"
	fi
}

# admin N ARGS: the mariadb client on node N's socket, bounded in time.
admin()
{
	local s

	s=$(sock_path "$1")
	shift
	timeout 30 mariadb --no-defaults --socket="$s" --connect-timeout=5 \
	    -u "$admin_user" -N -B "$@"
}

# state N: "Synced Primary ON" when node N is usable.
state()
{
	admin "$1" -e "SELECT GROUP_CONCAT(VARIABLE_VALUE ORDER BY
	    FIELD(VARIABLE_NAME, 'WSREP_LOCAL_STATE_COMMENT',
	    'WSREP_CLUSTER_STATUS', 'WSREP_READY') SEPARATOR ' ')
	    FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN
	    ('WSREP_LOCAL_STATE_COMMENT', 'WSREP_CLUSTER_STATUS',
	    'WSREP_READY')" 2>/dev/null
}

log_tail()
{
	echo "$prog: last lines of $1:" >&2
	tail -n 30 "$1" 2>/dev/null | sed 's/^/    /' >&2 || true
}

# The gcomm:// list of every node's group-communication port: a joiner
# tries them in turn, a dead one is skipped.
cluster_address()
{
	local n a='' g

	for n in $nodes; do
		eval "g=\${gport_$n:-}"
		[ -n "$g" ] && a=$a${a:+,}127.0.0.1:$g
	done
	echo "gcomm://$a"
}

# The options of node N, for the server and for --wsrep-recover alike.
node_args()
{
	node_vars "$1"
	args=(--no-defaults $user_opt
	    --datadir="$datadir" --socket="$socket" --pid-file="$pidfile"
	    --log-error="$log" --tmpdir="$ndir/tmp"
	    --port="$port" --bind-address=127.0.0.1 --skip-name-resolve
	    --innodb-buffer-pool-size=64M --innodb-log-file-size=16M
	    --innodb-flush-log-at-trx-commit=2 --max-connections=200
	    --binlog-format=ROW --innodb-autoinc-lock-mode=2
	    --default-storage-engine=InnoDB
	    --wsrep-on=ON --wsrep-provider="$provider"
	    --wsrep-cluster-name=lars-test --wsrep-node-name="n$n"
	    --wsrep-cluster-address="$(cluster_address)"
	    --wsrep-node-address="127.0.0.1:$gport"
	    --wsrep-node-incoming-address="127.0.0.1:$port"
	    --wsrep-sst-receive-address="127.0.0.1:$sport"
	    --wsrep-sst-method=rsync
	    --wsrep-provider-options="gmcast.listen_addr=tcp://127.0.0.1:$gport;ist.recv_addr=127.0.0.1:$iport;$provider_opts")
}

# Give DIR/nN to the user the server runs as.
own()
{
	[ -n "$user_opt" ] || return 0
	chown -R mysql:mysql "$1"
}

# launch N [EXTRA...]: start node N detached (own session, stdio on
# /dev/null, or a CI pipe stays open for as long as it runs), wait until it
# is Synced.  Returns 0 when synced, 2 when a port was taken (pick others),
# 1 on any other failure.
launch()
{
	local n=$1 off waited=0 st=
	shift

	node_args "$n"
	mkdir -p "$datadir" "$ndir/tmp"
	own "$ndir"
	off=$(stat -c %s "$log" 2>/dev/null || echo 0)
	setsid mariadbd "${args[@]}" "$@" </dev/null >/dev/null 2>&1 &
	pid=$!
	eval "pid_$n=\$pid"
	env_save
	while :; do
		# Our child, until it exits: setsid execs in place (it is no
		# group leader in a script), so watch it with running.
		if ! running "$pid"; then
			wait "$pid" 2>/dev/null || true
			# The server's, gcomm's and IST's bind say the first;
			# the rsync transfer script the second.
			if tail -c +"$((off + 1))" "$log" 2>/dev/null |
			    grep -qE 'Address already in use|has been taken by another program'; then
				return 2
			fi
			echo "$prog: node $n exited during start-up" >&2
			return 1
		fi
		st=$(state "$n") || st=
		[ "$st" = "Synced Primary ON" ] && break
		if [ "$waited" -ge $((sync_timeout * 5)) ]; then
			echo "$prog: node $n not Synced within" \
			    "${sync_timeout}s (state: ${st:-no answer})" >&2
			kill -KILL "$pid" 2>/dev/null || true
			return 1
		fi
		sleep 0.2
		waited=$((waited + 1))
	done
	if [ -s "$pidfile" ] && alive "$(cat "$pidfile")"; then
		pid=$(cat "$pidfile")
		eval "pid_$n=\$pid"
	fi
	env_save
	return 0
}

# new_ports N: four free ports for node N, none another node's.
new_ports()
{
	local m ex=

	for m in $nodes; do
		[ "$m" = "$1" ] && continue
		eval "ex=\"\$ex \${port_$m:-} \${gport_$m:-}" \
		    "\${iport_$m:-} \${sport_$m:-}\""
	done
	# shellcheck disable=SC2086
	set -- "$1" $(free_ports 4 $ex)
	eval "port_$1=$2 gport_$1=$3 iport_$1=$4 sport_$1=$5"
}

# launch_retry N [EXTRA...]: launch, with new ports while they collide
# with someone else's (the tests of other engineers run in parallel).
launch_retry()
{
	local n=$1 tries=0 rc

	while :; do
		tries=$((tries + 1))
		rc=0
		launch "$@" || rc=$?
		[ "$rc" = 0 ] && return 0
		if [ "$rc" = 2 ] && [ "$tries" -lt 5 ]; then
			echo "$prog: node $n: a port was taken, retrying" >&2
			new_ports "$n"
			continue
		fi
		node_vars "$n"
		log_tail "$log"
		return 1
	done
}

# wait_synced N SECONDS
wait_synced()
{
	local n=$1 limit=$(($2 * 5)) waited=0 st

	node_vars "$n"
	while :; do
		st=$(state "$n") || st=
		[ "$st" = "Synced Primary ON" ] && return 0
		alive "$pid" || die "node $n is not running"
		[ "$waited" -ge "$limit" ] &&
		    die "node $n not Synced within $2 s (state: ${st:-no answer})"
		sleep 0.2
		waited=$((waited + 1))
	done
}

# wait_evicted N: until the running nodes other than N no longer count N
# as a member.  A node restarted before the others evicted it takes twice
# as long to join (FACTS.md); with our evs timeouts this waits ~4 s at most.
wait_evicted()
{
	local n=$1 m live=0 size waited=0

	for m in $nodes; do
		[ "$m" = "$n" ] && continue
		eval "alive \"\${pid_$m:-}\"" && live=$((live + 1))
	done
	[ "$live" -gt 0 ] || return 0
	for m in $nodes; do
		[ "$m" = "$n" ] && continue
		eval "alive \"\${pid_$m:-}\"" || continue
		while [ "$waited" -lt 100 ]; do
			size=$(admin "$m" -e "SELECT VARIABLE_VALUE FROM
			    information_schema.GLOBAL_STATUS WHERE
			    VARIABLE_NAME='WSREP_CLUSTER_SIZE'" 2>/dev/null) ||
			    size=
			[ "$size" = "$live" ] && return 0
			sleep 0.2
			waited=$((waited + 1))
		done
		return 0
	done
}

# stop_pids PID...: TERM them, KILL whoever is left after stop_timeout.
stop_pids()
{
	local p left waited=0

	[ $# -gt 0 ] || return 0
	kill -TERM "$@" 2>/dev/null || true
	while :; do
		left=
		for p in "$@"; do
			running "$p" && left="$left $p"
		done
		[ -z "$left" ] && return 0
		if [ "$waited" -ge $((stop_timeout * 20)) ]; then
			echo "$prog: killing$left: still running" \
			    "${stop_timeout}s after TERM" >&2
			# shellcheck disable=SC2086
			kill -KILL $left 2>/dev/null || true
		fi
		sleep 0.05
		waited=$((waited + 1))
	done
}

# The pid of node N: from env, else from its pid file (a start that failed
# half-way), empty if not running.
node_pid()
{
	node_vars "$1"
	if alive "$pid"; then
		echo "$pid"
	elif [ -s "$pidfile" ] && alive "$(cat "$pidfile")"; then
		cat "$pidfile"
	fi
}

# Processes whose command line names DIR and that are a node, a state
# transfer script or its rsync daemon (a node killed during a transfer can
# leave those behind); nothing else, not someone's tail -f of a log.
dir_pids()
{
	local f p

	for f in $(grep -laF -- "$dir/" /proc/[0-9]*/cmdline 2>/dev/null); do
		p=${f#/proc/}
		p=${p%/cmdline}
		case $(cat "/proc/$p/comm" 2>/dev/null) in
		mariadbd|rsync|wsrep_sst_*) running "$p" && echo "$p" ;;
		esac
	done
	return 0
}

do_start()
{
	local n d st

	for n in $nodes; do
		[ -n "$(node_pid "$n")" ] && die "node $n already runs in $dir"
	done
	rm -rf "$dir"/n[123] "$dir/env"
	mkdir -p "$dir"
	if [ -n "$user_opt" ]; then
		# mysql must reach DIR: o+x on every parent lacking it.
		d=$dir
		while [ "$d" != / ]; do
			d=$(dirname "$d")
			[ -n "$(find "$d" -maxdepth 0 -perm -o+x)" ] ||
			    chmod o+x "$d"
		done
		chmod 0755 "$dir"
	fi
	# sockaddr_un holds 108 bytes: a long DIR gets a short socket dir.
	if [ ${#dir} -le 80 ]; then
		sockdir=
	else
		sockdir=$(mktemp -d /tmp/lars-gsock.XXXXXX)
		chmod 0755 "$sockdir"
		[ -n "$user_opt" ] && chown mysql:mysql "$sockdir"
	fi
	set -- $(free_ports 12)
	for n in $nodes; do
		eval "port_$n=$1 gport_$n=$2 iport_$n=$3 sport_$n=$4"
		shift 4
	done
	password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
	(umask 077 && echo "$password" >"$dir/password")

	# Node 1 starts the cluster from a fresh data dir; the others need
	# none: the state transfer brings node 1's.
	node_vars 1
	mkdir -p "$datadir" "$ndir/tmp"
	own "$ndir"
	if ! mariadb-install-db --no-defaults $user_opt \
	    --datadir="$datadir" --tmpdir="$ndir/tmp" \
	    --auth-root-authentication-method=socket \
	    --auth-root-socket-user="$admin_user" \
	    --skip-test-db --skip-name-resolve \
	    >"$ndir/install.log" 2>&1 </dev/null; then
		echo "$prog: mariadb-install-db failed:" >&2
		tail -n 25 "$ndir/install.log" >&2
		exit 1
	fi
	own "$ndir"
	launch_retry 1 --wsrep-new-cluster || die "node 1 did not start"
	for n in 2 3; do
		launch_retry "$n" || die "node $n did not join"
	done

	admin 1 --default-character-set=utf8mb4 <"$sql" ||
	    die "loading $sql failed"
	admin 1 -e "
	    CREATE USER IF NOT EXISTS 'lars'@'localhost'
	        IDENTIFIED BY '$password';
	    CREATE USER IF NOT EXISTS 'lars'@'127.0.0.1'
	        IDENTIFIED BY '$password';
	    GRANT ALL ON lars_dns.* TO 'lars'@'localhost';
	    GRANT ALL ON lars_dns.* TO 'lars'@'127.0.0.1';" ||
	    die "creating user lars failed"
	for n in $nodes; do
		st=$(state "$n") || st=
		[ "$st" = "Synced Primary ON" ] ||
		    die "node $n is '$st' after loading the schema"
	done
}

do_stop()
{
	local n p pids

	# One at a time, last joined first: each then leaves a healthy
	# cluster gracefully.  All at once, every node waits for the others
	# until evs.suspect_timeout (2 s) before it gives up.
	for n in 3 2 1; do
		p=$(node_pid "$n")
		[ -n "$p" ] && stop_pids "$p"
	done
	# Whatever else names DIR (an orphaned state transfer): no TERM
	# courtesy, it is a leftover.
	pids=$(dir_pids)
	# shellcheck disable=SC2086
	[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
	case $sockdir in
	/tmp/lars-gsock.*) rm -rf "$sockdir" ;;
	esac
	return 0
}

do_kill()
{
	local p

	p=$(node_pid "$1")
	[ -n "$p" ] || die "node $1 is not running"
	kill -KILL "$p"
	while running "$p"; do
		sleep 0.05
	done
}

do_stop_node()
{
	local p

	p=$(node_pid "$1")
	[ -n "$p" ] && stop_pids "$p"
	return 0
}

do_start_node()
{
	local n=$1 seqno pos=

	[ -n "$(node_pid "$n")" ] && die "node $n already runs"
	node_vars "$n"
	[ -d "$datadir/mysql" ] || die "node $n has no data; use start"
	wait_evicted "$n"
	# After a crash grastate.dat says seqno -1: recover the position
	# from InnoDB, or the node asks for a full state transfer.
	seqno=$(sed -n 's/^seqno: *//p' "$datadir/grastate.dat" 2>/dev/null) ||
	    seqno=
	if [ "${seqno:--1}" = -1 ]; then
		node_args "$n"
		own "$ndir"
		timeout 120 mariadbd "${args[@]}" --wsrep-recover \
		    --log-error="$ndir/recover.err" </dev/null >/dev/null 2>&1 ||
		    { log_tail "$ndir/recover.err"; die "node $n: --wsrep-recover failed"; }
		pos=$(sed -n 's/.*WSREP: Recovered position: *//p' \
		    "$ndir/recover.err" | tail -n 1)
		[ -n "$pos" ] || { log_tail "$ndir/recover.err";
		    die "node $n: no position recovered"; }
	fi
	launch_retry "$n" ${pos:+--wsrep-start-position="$pos"} ||
	    die "node $n did not rejoin"
}

do_isolate()
{
	admin "$1" -e "SET GLOBAL wsrep_provider_options='gmcast.isolate=$2'"
}

[ $# -ge 2 ] || usage
cmd=$1
dir=$2
node=${3:-}
case $cmd in
start)
	[ $# -eq 2 ] || usage
	mkdir -p "$dir" || die "cannot create $dir"
	dir=$(cd "$dir" && pwd)
	;;
stop)
	[ $# -eq 2 ] || usage
	[ -d "$dir" ] || exit 0
	dir=$(cd "$dir" && pwd)
	;;
kill|stop-node|start-node|wait-synced|isolate)
	case $node in
	1|2|3) ;;
	*) usage ;;
	esac
	[ "$cmd" = isolate ] && { [ $# -eq 4 ] || usage; }
	[ -f "$dir/env" ] || die "no cluster in $dir"
	dir=$(cd "$dir" && pwd)
	;;
*)	usage ;;
esac

# A trace of every run, to see where a start hung.
exec 9>>"$dir/galera.sh.trace"
BASH_XTRACEFD=9
PS4='+ $EPOCHREALTIME '
set -x

admin_user=$(id -un)
user_opt=
[ "$(id -u)" = 0 ] && user_opt=--user=mysql
password=
sockdir=
env_load

case $cmd in
start)		do_start ;;
stop)		do_stop ;;
kill)		do_kill "$node" ;;
stop-node)	do_stop_node "$node"; env_save ;;
start-node)	do_start_node "$node" ;;
wait-synced)	wait_synced "$node" "${4:-$sync_timeout}" ;;
isolate)
	case ${4:-} in
	0|1) do_isolate "$node" "$4" ;;
	*) usage ;;
	esac
	;;
esac
