# procs.sh: what t/lib/mariadb.sh and t/lib/galera.sh both ask of a
# server's pid.  Sourced, not run.

# running PID: the process exists and is not a zombie (kill -0 is true for
# a zombie).
running()
{
	local pid=$1 stat state

	[ -n "$pid" ] || return 1
	stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
	state=${stat##*) }
	state=${state%% *}
	[ "$state" != Z ] && [ "$state" != X ]
}

# alive PID: running, and a mariadbd (a pid from a file may be reused).
alive()
{
	running "$1" || return 1
	case $(cat "/proc/$1/comm" 2>/dev/null) in
	mariadbd|mysqld) return 0 ;;
	esac
	return 1
}
