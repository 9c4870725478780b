#!/usr/bin/env bash
#
# devrun.sh: what `make run` runs.
#
#   t/lib/devrun.sh BUILD
#
# Starts (or reuses) a private MariaDB in BUILD/run-db with the schema
# loaded, writes BUILD/run/reporter.conf for it (127.0.0.1:7779, user lars,
# the server's unix socket), prints how to send a report and look at the
# table, and runs BUILD/lars-reporter -d in the foreground.  When the
# reporter exits (Ctrl-C), the MariaDB server is stopped; its data stays
# in BUILD/run-db for the next run.

set -eu

prog=${0##*/}
lib=$(cd "$(dirname "$0")" && pwd)

[ $# -eq 1 ] || { echo "usage: $prog BUILD" >&2; exit 2; }
[ -d "$1" ] || { echo "$prog: no build directory $1" >&2; exit 1; }
build=$(cd "$1" && pwd)
db=$build/run-db
run=$build/run
conf=$run/reporter.conf
port=7779

for bin in lars-reporter lars-report; do
	[ -x "$build/$bin" ] || { echo "$prog: $build/$bin is not built" >&2;
	    exit 1; }
done

"$lib/mariadb.sh" start "$db"
stop_db()
{
	"$lib/mariadb.sh" stop "$db" && echo "$prog: MariaDB in $db stopped"
}
trap stop_db EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

SOCKET=$(sed -n 's/^SOCKET=//p' "$db/env")
PASSWORD=$(sed -n 's/^PASSWORD=//p' "$db/env")

mkdir -p "$run"
(umask 077 && cat >"$conf" <<EOF
# written by t/lib/devrun.sh for make run
[reactor]
ip = 127.0.0.1
port = $port

[mysql]
db_host = localhost
db_socket = $SOCKET
db_user = lars
db_passwd = $PASSWORD
db_name = lars_dns

[reporter]
db_thread_cnt = 3
flush_interval_ms = 200
batch_rows = 1000
EOF
)

cat <<EOF

lars-reporter is starting in the foreground on 127.0.0.1:$port
  configuration: $conf
  MariaDB:       $db (socket $SOCKET)

In another terminal, send a report:
  $build/lars-report -m 1 -c 1 192.168.0.1:8080:10:2

or some load:
  $build/lars-report -L -n 4 -T 5

and look at the table:
  mariadb --no-defaults --socket=$SOCKET -u $(id -un) \\
      -e 'SELECT * FROM lars_dns.ServerCallStatus'

Stop with Ctrl-C; the MariaDB server is stopped with it.

EOF

# Not exec: the trap must stop MariaDB after the reporter is gone.  On
# Ctrl-C the reporter gets SIGINT too and stops gracefully; bash waits.
status=0
"$build/lars-reporter" -d -f "$conf" || status=$?
exit "$status"
