#!/usr/bin/env bash
#
# bench.sh: what `make bench` runs.
#
#   contrib/bench/bench.sh BUILD
#
# Starts a private MariaDB in BUILD/bench/db and the release build of the
# daemon (BUILD/lars-reporter -d) against its unix socket, drives it with
# BUILD/lars-report -L on 127.0.0.1, and measures in one run, so that the
# ratios hold on a noisy machine:
#   - the raw database limits: BUILD/probe upserts new rows straight into
#     MariaDB (multi-row text, prepared, array-bound; 1 and 2 connections;
#     and one autocommit statement per row, the original's way);
#   - hot keys (4000 keys rewritten constantly) in the agent's frame shape
#     (3 results per frame): records/s accepted, master CPU per record, and
#     the lag from the load's end until the table equals what lars-report
#     expects, at full and at half rate;
#   - the previous release ($prev_rev, built from git into BUILD/prev by
#     `git archive`, never committed) on the same hot load in the same run,
#     and the ratio;
#   - unique keys (every record a new row): rows/s committed, over the
#     array-binding probe with as many connections as workers, each
#     writing a key range of its own and (:spread) with the groups of keys
#     dealt to the connections in turn, as the ring deals them to workers;
#   - 10,000 idle connections (BUILD/idleconns) plus the hot-key load;
#   - results per message 1, 10, 100 and connections 1-16;
#   - cost: RSS of master and workers, worker bytes per distinct key held
#     while MariaDB is down (and nothing lost once it is back);
#   - the same hot and unique loads with 2 and 4 workers.
# Each scenario is one function (scenario_*), called by main() at the end;
# the daemon's figures come from its /metrics endpoint.  Prints every
# command as it runs it, then a table; writes
# BUILD/bench/results.csv and, with gnuplot, BUILD/bench/bench.png.  The
# daemon and MariaDB are always stopped.  Exit status 1 when a check
# failed (a table that never matched, a lost row, a daemon that died).
#
# The hot loads come from lars-report -j 2: one thread encoding every
# message with protobuf-c would bound them before the reporter does.
# Environment: BENCH_WORKERS (default 3), BENCH_OTHER_WORKERS ("2 4";
# empty skips them), BENCH_IDLE (10000), BENCH_SECS (10: the hot loads),
# BENCH_SHORT_SECS (5: the sweeps), BENCH_LOAD_THREADS (2); short ones
# only to try the script.

set -eu -o pipefail

prog=${0##*/}
top=$(cd "$(dirname "$0")/../.." && pwd)
lib=$top/t/lib

[ $# -eq 1 ] || { echo "usage: $prog BUILD" >&2; exit 2; }
[ -d "$1" ] || { echo "$prog: no build directory $1" >&2; exit 1; }
build=$(cd "$1" && pwd)
out=$build/bench
db=$out/db
workers=${BENCH_WORKERS:-3}
other_workers=${BENCH_OTHER_WORKERS-2 4}
idle_want=${BENCH_IDLE:-10000}
hot_keys=4000
hot_results=3		# the real agent's frame: 2-3 results, 41-80 bytes
prev_rev=bb59aef	# the previous release, measured beside this one
hot_secs=${BENCH_SECS:-10}
short_secs=${BENCH_SHORT_SECS:-5}
load_timeout=60		# seconds any one lars-report may take
load_threads=${BENCH_LOAD_THREADS:-2}	# lars-report -j of the hot loads

for bin in lars-reporter lars-report probe idleconns; do
	[ -x "$build/$bin" ] || { echo "$prog: $build/$bin is not built" >&2;
	    exit 1; }
done

master=
sampler=
idle_pid=
failures=0
started=$EPOCHREALTIME
declare -A fig		# figure name -> value
declare -a order	# figure names in table order
declare -A desc unit
declare -a w_hot w_uniq	# by number of workers

# --- plumbing ---------------------------------------------------------

say()
{
	printf '%s\n' "$*"
}

# show CMD...: print the exact command (and keep it in commands.txt).
show()
{
	printf '  $ %s\n' "$*" | tee -a "$out/commands.txt"
}

# run CMD...: print the exact command, then run it.
run()
{
	show "$@"
	"$@"
}

fail()
{
	say "FAILED: $*"
	failures=$((failures + 1))
}

# calc EXPR [DECIMALS]: awk arithmetic; the parentheses keep a ">" in
# EXPR a comparison, not an output redirection.
calc()
{
	awk "BEGIN { printf \"%.${2:-0}f\", ($1) }"
}

since()
{
	calc "$EPOCHREALTIME - $1" 3
}

# set NAME VALUE UNIT DESCRIPTION: one line of the table and the CSV.
set_fig()
{
	[ -n "${fig[$1]+x}" ] || order+=("$1")
	fig[$1]=$2
	unit[$1]=$3
	desc[$1]=$4
}

heading()
{
	order+=("--$*")
}

sql()
{
	timeout 120 mariadb --no-defaults --socket="$SOCKET" -u "$(id -un)" \
	    -N -B lars_dns -e "$1"
}

status_var()
{
	sql "SHOW GLOBAL STATUS LIKE '$1'" | cut -f 2
}

dump()
{
	sql "SELECT modid,cmdid,ip,port,caller,succ_cnt,err_cnt,ts,overload
	    FROM ServerCallStatus ORDER BY modid,cmdid,ip,port,caller" >"$1"
}

# running PID: exists and is not a zombie.
running()
{
	local stat state

	[ -n "$1" ] || return 1
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	state=${stat##*) }
	state=${state%% *}
	[ "$state" != Z ] && [ "$state" != X ]
}

# cpu_ticks PID: utime + stime in clock ticks.
cpu_ticks()
{
	local stat

	stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	stat=${stat##*) }
	set -- $stat
	echo $((${12} + ${13}))
}

rss_kb()
{
	awk '/^VmRSS/ { print $2; f = 1 } END { if (!f) print 0 }' \
	    "/proc/$1/status" 2>/dev/null || echo 0
}

worker_pids()
{
	pgrep -P "$master" 2>/dev/null | tr '\n' ' ' || true
}

# machine_busy: CPU ticks all processes of the machine have used.
machine_busy()
{
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}

workers_cpu()
{
	local w sum=0

	for w in $(worker_pids); do
		sum=$((sum + $(cpu_ticks "$w")))
	done
	echo "$sum"
}

workers_rss()
{
	local w sum=0

	for w in $(worker_pids); do
		sum=$((sum + $(rss_kb "$w")))
	done
	echo "$sum"
}

# Every 0.2 s: master RSS, largest worker RSS, workers' sum (kB).
sample_rss()
{
	local m w r wmax wsum

	while :; do
		m=$(rss_kb "$master")
		wmax=0
		wsum=0
		for w in $(worker_pids); do
			r=$(rss_kb "$w")
			wsum=$((wsum + r))
			[ "$r" -gt "$wmax" ] && wmax=$r
		done
		echo "$m $wmax $wsum" >>"$1"
		sleep 0.2
	done
}

sampler_start()
{
	: >"$out/rss.samples"
	sample_rss "$out/rss.samples" &
	sampler=$!
}

# sampler_stop: sets rss_master, rss_worker, rss_workers (max kB).
sampler_stop()
{
	kill "$sampler" 2>/dev/null || true
	wait "$sampler" 2>/dev/null || true
	sampler=
	read -r rss_master rss_worker rss_workers < <(awk '
	    $1 > m { m = $1 } $2 > w { w = $2 } $3 > s { s = $3 }
	    END { print m + 0, w + 0, s + 0 }' "$out/rss.samples")
}

cleanup()
{
	local status=$? n=0 w ws

	trap - EXIT INT TERM
	[ -n "$sampler" ] && kill "$sampler" 2>/dev/null
	[ -n "$idle_pid" ] && kill "$idle_pid" 2>/dev/null
	if running "$master"; then
		ws=$(worker_pids)
		kill -TERM "$master" 2>/dev/null || true
		while running "$master" && [ "$n" -lt 150 ]; do
			sleep 0.1
			n=$((n + 1))
		done
		if running "$master"; then
			say "$prog: the daemon ignored TERM; killing it"
			kill -KILL "$master" 2>/dev/null || true
			for w in $ws; do
				kill -KILL "$w" 2>/dev/null || true
			done
		fi
	fi
	"$lib/mariadb.sh" stop "$db" || true
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port()
{
	perl -MIO::Socket::INET -e '
		my $s = IO::Socket::INET->new(Listen => 1,
		    LocalAddr => "127.0.0.1", LocalPort => 0, ReuseAddr => 0)
		    or die "bind: $!\n";
		print $s->sockport, "\n";'
}

db_start()
{
	run "$lib/mariadb.sh" start "$db"
	SOCKET=$(sed -n 's/^SOCKET=//p' "$db/env")
	PASSWORD=$(sed -n 's/^PASSWORD=//p' "$db/env")
	DBPID=$(sed -n 's/^PID=//p' "$db/env")
}

# daemon_start WORKERS TAG [LINE [BINARY]]: a fresh daemon on a free
# port, LINE added to [reporter]; ready when it listens and every worker
# is connected to MySQL (the log is the only place that says so before a
# worker's first commit).  lars-report -L stamps ts from 1700000000 on:
# this build is told to trust it (max_clock_skew 0, as the tests do), or
# it would store the receive time and the table never equal the
# expected one; $prev_rev has no such key and always trusts ts.
daemon_start()
{
	local w=$1 extra=${3:-} bin=${4:-$build/lars-reporter} n=0

	[ "$bin" = "$build/lars-reporter" ] &&
	    extra="max_clock_skew = 0${extra:+
$extra}"

	port=$(free_port)
	mport=$(free_port)
	conf=$out/reporter-$2.conf
	(umask 077 && cat >"$conf" <<EOF
# written by contrib/bench/bench.sh
[reactor]
ip = 127.0.0.1
port = $port
max_conns = 20000

[mysql]
db_socket = $SOCKET
db_user = lars
db_passwd = $PASSWORD
db_name = lars_dns

[reporter]
db_thread_cnt = $w
flush_interval_ms = 200
batch_rows = 1000
drain_timeout = 10
metrics_listen = 127.0.0.1:$mport
$extra
EOF
)
	dlog=$out/reporter-$2.log
	say "  daemon: $w workers, $conf (flush_interval_ms 200," \
	    "batch_rows 1000${extra:+, $extra}), log $dlog"
	show "$bin" -d -f "$conf"
	setsid "$bin" -d -f "$conf" \
	    </dev/null >/dev/null 2>"$dlog" &
	master=$!
	until grep -q 'listening on' "$dlog" 2>/dev/null &&
	    [ "$(grep -c 'connected to MySQL' "$dlog")" -ge "$w" ]; do
		if ! running "$master" || [ "$n" -ge 200 ]; then
			tail -n 20 "$dlog" >&2
			say "$prog: the daemon did not start"
			exit 1
		fi
		sleep 0.05
		n=$((n + 1))
	done
}

daemon_stop()
{
	local n=0

	kill -TERM "$master" 2>/dev/null || true
	while running "$master"; do
		if [ "$n" -ge 300 ]; then
			fail "the daemon did not stop within 15 s"
			kill -KILL "$master" 2>/dev/null || true
		fi
		sleep 0.05
		n=$((n + 1))
	done
	wait "$master" 2>/dev/null || true
	master=
}

daemon_check()
{
	running "$master" && return 0
	say "$prog: the daemon died; the end of its log:"
	tail -n 20 "$out"/reporter-*.log
	exit 1
}

# metric NAME: the daemon's /metrics figure NAME, summed over its labels
# (workers, reasons); 0 when absent.
metric()
{
	curl -s --max-time 5 "http://127.0.0.1:$mport/metrics" |
	    awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $2 }
	    END { printf "%.0f\n", s }'
}

# compactions: records the master's compactions removed so far.
compactions()
{
	metric lars_reporter_records_compacted_total
}

# load TAG ARGS...: lars-report -L against the daemon; sets l_records,
# l_secs, l_rate (records/s), l_rows (rows expected), l_cpu (its CPU s).
load()
{
	local tag=$1 line TIMEFORMAT='%U %S'

	shift
	show "$build/lars-report" -L -H 127.0.0.1 -p "$port" "$@"
	if ! { time timeout "$load_timeout" "$build/lars-report" -L \
	    -H 127.0.0.1 -p "$port" "$@" >"$out/load-$tag.out" 2>&1; } \
	    2>"$out/load-$tag.time"; then
		cat "$out/load-$tag.out"
		say "$prog: the end of the daemon's log $dlog:"
		grep -v 'records wait; kept' "$dlog" | tail -n 5
		daemon_check
		say "$prog: lars-report failed or took over $load_timeout s"
		exit 1
	fi
	line=$(grep '^sent ' "$out/load-$tag.out")
	say "    $line"
	# sent N messages, M records over C connections in S s: R records/s;
	# expecting K rows
	set -- $(echo "$line" | tr -d ',:;' | awk '{ print $4, $10, $12, $15 }')
	l_records=$1 l_secs=$2 l_rate=$3 l_rows=$4
	l_cpu=$(awk '{ print $1 + $2 }' "$out/load-$tag.time")
}

# wait_table FILE TIMEOUT: poll until the table equals FILE; prints the
# time the first matching poll started (its snapshot), fails on timeout.
wait_table()
{
	local t end

	end=$(calc "$EPOCHREALTIME + $2" 3)
	while :; do
		t=$EPOCHREALTIME
		dump "$out/table.tsv"
		if cmp -s "$out/table.tsv" "$1"; then
			echo "$t"
			return 0
		fi
		if [ "$(calc "$t > $end")" = 1 ]; then
			return 1
		fi
		sleep 0.02
	done
}

# wait_inserted BASE ROWS TIMEOUT: until the server has written ROWS rows
# since Handler_write read BASE; prints the time.
wait_inserted()
{
	local t end

	end=$(calc "$EPOCHREALTIME + $3" 3)
	while :; do
		t=$EPOCHREALTIME
		if [ $(($(status_var Handler_write) - $1)) -ge "$2" ]
		then
			echo "$t"
			return 0
		fi
		[ "$(calc "$t > $end")" = 1 ] && return 1
		sleep 0.02
	done
}

# hot TAG CONNS RESULTS SECONDS [RATE]: the hot-key load on an empty
# table; sets l_* and lag (s, or "timeout").
hot()
{
	local tag=$1 conns=$2 r=$3 secs=$4 rate=${5:-} t_end t
	local -a extra=()

	[ -n "$rate" ] && extra=(-R "$rate")
	sql "TRUNCATE TABLE ServerCallStatus"
	load "$tag" -j "$load_threads" -n "$conns" -T "$secs" -r "$r" \
	    -k "$hot_keys" \
	    "${extra[@]}" -o "$out/expect-$tag.tsv"
	t_end=$EPOCHREALTIME
	if t=$(wait_table "$out/expect-$tag.tsv" 60); then
		lag=$(calc "$t - $t_end" 3)
		say "    table complete $lag s after the load ended"
	else
		lag=timeout
		fail "$tag: the table did not match $out/expect-$tag.tsv" \
		    "within 60 s"
	fi
}

# unique TAG: 1M records of 1M distinct keys on an empty table; sets
# uniq_rate (rows/s committed) and uniq_secs.
unique()
{
	local tag=$1 base t0 t m0 w0 d0 b0 m1 w1 d1

	uniq_rate=0 uniq_secs=timeout
	uniq_cpu_master=- uniq_cpu_workers=- uniq_cpu_db=- uniq_cpu_other=-
	sql "TRUNCATE TABLE ServerCallStatus"
	base=$(status_var Handler_write)
	m0=$(cpu_ticks "$master") w0=$(workers_cpu) d0=$(cpu_ticks "$DBPID")
	b0=$(machine_busy)
	t0=$EPOCHREALTIME
	load "$tag" -n 1 -N 100000 -r 10 -k 1000000 -o "$out/expect-$tag.tsv"
	if ! t=$(wait_inserted "$base" "$l_rows" 120); then
		fail "$tag: $l_rows rows not inserted within 120 s"
		return
	fi
	uniq_secs=$(calc "$t - $t0" 3)
	uniq_rate=$(calc "$l_rows / $uniq_secs")
	t=$(since "$t0")
	m1=$(($(cpu_ticks "$master") - m0)) w1=$(($(workers_cpu) - w0))
	d1=$(($(cpu_ticks "$DBPID") - d0))
	uniq_cpu_master=$(calc "$m1 / $cpu_hz / $t * 100")
	uniq_cpu_workers=$(calc "$w1 / $cpu_hz / $t * 100")
	uniq_cpu_db=$(calc "$d1 / $cpu_hz / $t * 100")
	uniq_cpu_other=$(calc "(($(machine_busy) - $b0 - $m1 - $w1 - $d1) / \
	    $cpu_hz - $l_cpu) / $t * 100")
	say "    $l_rows rows inserted after $uniq_secs s: $uniq_rate rows/s"
	# the counter counts inserts as they happen: wait for the commit
	if t=$(wait_table "$out/expect-$tag.tsv" 30); then
		say "    table equals the expected $l_rows rows"
	else
		fail "$tag: the table does not equal $out/expect-$tag.tsv"
	fi
}

# --- the scenarios, one function each ---------------------------------

# a fresh output directory and MariaDB; gnuplot if root
setup()
{
	mkdir -p "$out"
	"$lib/mariadb.sh" stop "$db" || true
	rm -rf "$db" "$out"/*.tsv "$out"/*.out "$out"/*.log "$out"/*.conf \
	    "$out/commands.txt"
	ulimit -n "$(ulimit -Hn)"

	if ! command -v gnuplot >/dev/null; then
		if [ "$(id -u)" = 0 ]; then
			say "# installing gnuplot-nox for the plot"
			{ apt-get update && DEBIAN_FRONTEND=noninteractive \
			    apt-get install -y --no-install-recommends gnuplot-nox; } \
			    </dev/null >"$out/apt.log" 2>&1 ||
			    say "# apt-get install gnuplot-nox failed; see $out/apt.log"
		fi
	fi

	say "# lars-reporter benchmark: $build/lars-reporter ($(nproc) cores," \
	    "load average $(cut -d ' ' -f 1-3 /proc/loadavg))"
	rev=$(git -C "$top" describe --always --dirty 2>/dev/null || echo unknown)
	say "# built from $rev (make all rebuilt it from the work tree as it is)"
	say "# private MariaDB in $db"
	db_start
	say "#   $(mariadbd --version | sed 's/ for .*//'), socket $SOCKET"
	cpu_hz=$(getconf CLK_TCK)
}

# raw database limits, store.c's statement, no daemon
scenario_probe()
{
	say
	say "# 1. raw database limits: $build/probe upserts new rows (1,000,000 per"
	say "#    mode, at most 10 s; single: 3 s) with store.c's statement"
	local modes="text:1 text:2 prepared:1 array:1 array:2 single:1"
	case $workers in 1|2) ;; *) modes="$modes array:$workers" ;; esac
	# the keys as the ring deals them: neighbours to different workers
	modes="$modes array:$workers:spread"
	run "$build/probe" -S "$SOCKET" -u lars -p "$PASSWORD" -n 1000000 -t 10 \
	    -T 3 $modes >"$out/probe.out"
	cat "$out/probe.out"
	declare -gA probe
	while read -r _ mode conns rows secs rate; do
		probe[$mode:$conns]=$rate
	done <"$out/probe.out"
	best1=0 best1_how= best2=0 best2_how=
	for k in text:1 prepared:1 array:1; do
		[ "${probe[$k]:-0}" -gt "$best1" ] && best1=${probe[$k]} best1_how=$k
	done
	for k in text:2 array:2; do
		[ "${probe[$k]:-0}" -gt "$best2" ] && best2=${probe[$k]} best2_how=$k
	done
	heading "raw database limits ($build/probe, new rows, 1000 rows per statement)"
	set_fig probe_text1 "${probe[text:1]}" rows/s \
	    "multi-row text statements, 1 connection"
	set_fig probe_text2 "${probe[text:2]}" rows/s \
	    "multi-row text statements, 2 connections"
	set_fig probe_prep1 "${probe[prepared:1]}" rows/s \
	    "prepared, 1000 rows x 9 placeholders, 1 connection"
	set_fig probe_array1 "${probe[array:1]}" rows/s \
	    "array binding (STMT_ATTR_ARRAY_SIZE), 1 connection"
	set_fig probe_array2 "${probe[array:2]}" rows/s \
	    "array binding, 2 connections"
	if [ -n "${probe[array:$workers]:-}" ]; then
		set_fig "probe_array$workers" "${probe[array:$workers]}" \
		    rows/s "array binding, $workers connections (one per worker)"
	fi
	set_fig "probe_spread$workers" "${probe[array-spread:$workers]}" \
	    rows/s "array binding, $workers connections, keys spread as the ring does"
	set_fig probe_single "${probe[single:1]}" rows/s \
	    "one autocommit upsert per row (the original's way)"
}

# hot keys in the agent's frame shape, at full and half rate
scenario_hot()
{
	say
	say "# 2. hot keys: $hot_keys keys, 8 connections, $hot_results results per" \
	    "message, $workers workers"
	sql "TRUNCATE TABLE ServerCallStatus"
	c0=$(cpu_ticks "$master") w0=$(workers_cpu) d0=$(cpu_ticks "$DBPID")
	rows0=$(metric lars_reporter_rows_committed_total) k0=$(compactions) b0=$(machine_busy)
	wr0=$(metric lars_reporter_worker_records_total)
	t0=$EPOCHREALTIME
	sampler_start
	hot hot 8 "$hot_results" "$hot_secs"
	sampler_stop
	rows1=$(metric lars_reporter_rows_committed_total) k1=$(compactions)
	wr1=$(metric lars_reporter_worker_records_total)
	# CPU up to the load's end plus the lag: what storing it all took
	c1=$(cpu_ticks "$master") w1=$(workers_cpu) d1=$(cpu_ticks "$DBPID")
	b1=$(machine_busy)
	wall=$(since "$t0")
	hot_rate=$l_rate hot_records=$l_records hot_secs_real=$l_secs
	heading "hot keys ($hot_keys keys rewritten constantly;" \
	    "lars-report -L -j $load_threads -n 8 -r $hot_results -T $hot_secs)"
	set_fig hot_rate "$hot_rate" records/s "accepted (lars-report's own rate)"
	if [ "$lag" != timeout ]; then
		set_fig hot_e2e "$(calc "$hot_records / ($hot_secs_real + $lag)")" \
		    records/s "stored end to end: records / (load time + lag)"
	fi
	set_fig hot_lag "$lag" s "lag at full rate: load's end until the table matches"
	set_fig hot_cpu_rec "$(calc "($c1 - $c0) / $cpu_hz / $hot_records * 1e9")" \
	    ns "master CPU per record (utime+stime / records)"
	set_fig hot_cpu_master "$(calc "($c1 - $c0) / $cpu_hz / $wall * 100")" \
	    "% cpu" "master CPU over the run (load + lag)"
	set_fig hot_cpu_workers "$(calc "($w1 - $w0) / $cpu_hz / $wall * 100")" \
	    "% cpu" "workers' CPU over the run, all together"
	set_fig hot_cpu_db "$(calc "($d1 - $d0) / $cpu_hz / $wall * 100")" \
	    "% cpu" "mariadbd CPU over the run"
	set_fig hot_cpu_client "$(calc "$l_cpu / $l_secs * 100")" "% cpu" \
	    "lars-report's CPU while it sends (2 cores: 200%)"
	set_fig hot_cpu_other "$(calc "(($b1 - $b0 - ($c1 - $c0) - ($w1 - $w0) - \
	    ($d1 - $d0)) / $cpu_hz - $l_cpu) / $wall * 100")" "% cpu" \
	    "everything else on the machine meanwhile (noise)"
	set_fig hot_rows "$(calc "($rows1 - $rows0) / $wall")" rows/s \
	    "rows upserted into MariaDB (the daemon's stats)"
	set_fig hot_rows_rec "$(calc "($rows1 - $rows0) / $hot_records" 3)" \
	    rows "rows upserted per record received"
	set_fig hot_wrec "$(calc "($wr1 - $wr0) / $hot_records" 3)" records \
	    "records the workers read per record received"
	set_fig hot_compact "$(calc "($k1 - $k0) / $hot_records" 3)" records \
	    "records compactions removed per record received (pipe copies too)"
	hot_rss_master=$rss_master hot_rss_worker=$rss_worker

	half=$(calc "$hot_rate / 2 / $hot_results")
	say "# 2b. the same at half the rate: -R $half messages/s"
	hot half 8 "$hot_results" "$hot_secs" "$half"
	set_fig half_rate "$l_rate" records/s \
	    "half rate (-R $half messages of $hot_results)"
	set_fig half_lag "$lag" s "lag at half rate"
}

# unique keys: every record a new row
scenario_unique()
{
	say
	say "# 3. unique keys: every record a new row (1,000,000 rows)"
	unique unique
	main_uniq=$uniq_rate
	heading "unique keys (lars-report -L -n 1 -N 100000 -r 10 -k 1000000;" \
	    "$workers workers)"
	set_fig uniq_rate "$uniq_rate" rows/s \
	    "committed: rows / time from start until all are inserted"
	set_fig uniq_secs "$uniq_secs" s "time until the table holds all $l_rows rows"
	set_fig uniq_cpu_master "$uniq_cpu_master" "% cpu" "master CPU meanwhile"
	set_fig uniq_cpu_workers "$uniq_cpu_workers" "% cpu" \
	    "workers' CPU meanwhile, all together"
	set_fig uniq_cpu_db "$uniq_cpu_db" "% cpu" \
	    "mariadbd CPU meanwhile (2 cores: 200%)"
	set_fig uniq_cpu_other "$uniq_cpu_other" "% cpu" \
	    "everything else on the machine meanwhile (noise)"
}

# results per message 1, 10, 100
scenario_rpm()
{
	say
	say "# 4. results per message 1, 10, 100 (hot keys, 8 connections," \
	    "-T $short_secs)"
	heading "results per message (hot keys, 8 connections, -T $short_secs)"
	: >"$out/rpm.dat"
	for r in 1 10 100; do
		hot "rpm$r" 8 "$r" "$short_secs"
		echo "$r $l_rate" >>"$out/rpm.dat"
		set_fig "rpm$r" "$l_rate" records/s "-r $r (lag $lag s)"
	done
}

# connections 1-16
scenario_conns()
{
	say
	say "# 5. connections 1, 2, 4, 8, 16 (hot keys, -r 10, -T $short_secs)"
	heading "connections (hot keys, -r 10, -T $short_secs)"
	: >"$out/conns.dat"
	for n in 1 2 4 8 16; do
		hot "conns$n" "$n" 10 "$short_secs"
		echo "$n $l_rate" >>"$out/conns.dat"
		set_fig "conns$n" "$l_rate" records/s "-n $n (lag $lag s)"
		if [ "$n" = 8 ]; then
			w_hot[$workers]=$l_rate
		fi
	done
}

# many idle connections plus the hot load
scenario_idle()
{
	say
	idle_n=$idle_want
	limit=$(ulimit -n)
	if [ "$limit" -lt $((idle_n + 100)) ]; then
		idle_n=$((limit - 100))
		say "# descriptor limit $limit: $idle_n idle connections, not $idle_want"
	fi
	say "# 6. $idle_n idle connections plus the hot-key load (fresh daemon)"
	daemon_start "$workers" conns
	rss_before=$(rss_kb "$master")
	show "$build/idleconns" -H 127.0.0.1 -p "$port" -n "$idle_n" -t 300
	"$build/idleconns" -H 127.0.0.1 -p "$port" -n "$idle_n" -t 300 \
	    >"$out/idleconns.out" 2>&1 &
	idle_pid=$!
	n=0
	until grep -q 'connections open' "$out/idleconns.out"; do
		if ! running "$idle_pid" || [ "$n" -ge 1200 ]; then
			cat "$out/idleconns.out"
			say "$prog: idleconns did not connect"
			exit 1
		fi
		sleep 0.05
		n=$((n + 1))
	done
	say "    $(cat "$out/idleconns.out")"
	sleep 1
	held=$(metric lars_reporter_connections)
	say "    the daemon holds $held connections"
	[ "${held:-0}" -ge "$idle_n" ] ||
	    fail "the daemon holds ${held:-0} connections, not $idle_n"
	rss_idle=$(rss_kb "$master")
	sampler_start
	hot conns 8 10 "$hot_secs"
	sampler_stop
	if running "$idle_pid"; then
		kill "$idle_pid"
		wait "$idle_pid" || true
	else
		wait "$idle_pid" || true
		fail "idle connections were closed: $(cat "$out/idleconns.out")"
	fi
	idle_pid=
	heading "many connections ($idle_n idle from idleconns," \
	    "lars-report -L -j $load_threads -n 8 -r 10 -T $hot_secs)"
	set_fig many_rate "$l_rate" records/s \
	    "accepted with $idle_n idle connections open"
	set_fig many_lag "$lag" s "lag"
	set_fig many_rss0 "$(calc "$rss_before / 1024" 1)" MiB \
	    "master RSS, no connections"
	set_fig many_rss_idle "$(calc "$rss_idle / 1024" 1)" MiB \
	    "master RSS, $idle_n idle connections"
	set_fig many_rss "$(calc "$rss_master / 1024" 1)" MiB \
	    "master RSS, idle connections + load (max)"
	daemon_check
	daemon_stop
}

# worker memory per key while MariaDB is down, and the catch-up
scenario_down()
{
	say
	say "# 7. worker memory per distinct key: MariaDB stopped, 1,000,000 keys sent"
	# queue_max above the records each slot gets, or backpressure stops the load
	daemon_start "$workers" down "queue_max = 4194304"
	wrss0=$(workers_rss)
	mrss0=$(rss_kb "$master")
	sql "TRUNCATE TABLE ServerCallStatus"
	run "$lib/mariadb.sh" stop "$db"
	load down -n 1 -N 100000 -r 10 -k 1000000 -o "$out/expect-down.tsv"
	# until the workers have read it all: their RSS stops growing
	prev=-1 n=0
	while :; do
		sleep 0.5
		wrss1=$(workers_rss)
		[ "$wrss1" = "$prev" ] && break
		prev=$wrss1
		n=$((n + 1))
		[ "$n" -ge 60 ] && break
	done
	mrss1=$(rss_kb "$master")
	per_key=$(calc "($wrss1 - $wrss0) * 1024 / $l_rows")
	say "    workers' RSS $wrss0 -> $wrss1 kB for $l_rows keys: $per_key bytes/key"
	t0=$EPOCHREALTIME
	db_start
	if t=$(wait_table "$out/expect-down.tsv" 120); then
		back=$(calc "$t - $t0" 2)
		say "    all $l_rows rows stored $back s after MariaDB was started again"
	else
		back=timeout
		fail "after MariaDB came back the table never equalled" \
		    "$out/expect-down.tsv: rows lost"
	fi
	heading "cost ($workers workers)"
	set_fig cost_master "$(calc "$hot_rss_master / 1024" 1)" MiB \
	    "master RSS during the hot-key run (max)"
	set_fig cost_worker "$(calc "$hot_rss_worker / 1024" 1)" MiB \
	    "RSS of one worker during the hot-key run (max)"
	set_fig cost_per_key "$per_key" bytes \
	    "worker memory per distinct key held (1M keys, MariaDB down)"
	set_fig cost_master_down "$(calc "($mrss1 - $mrss0) * 1024 / $l_rows")" \
	    bytes "master memory per record queued meanwhile"
	set_fig cost_back "$back" s "MariaDB back: until all 1M rows are stored"
	daemon_check
	daemon_stop
}

# other worker counts
scenario_workers()
{
	w_uniq[$workers]=$main_uniq
	for w in $other_workers; do
		say
		say "# 8. $w workers: hot keys (-n 8 -r 10 -T $short_secs) and unique keys"
		daemon_start "$w" "w$w"
		hot "w$w-hot" 8 10 "$short_secs"
		w_hot[$w]=$l_rate
		unique "w$w-unique"
		w_uniq[$w]=$uniq_rate
		daemon_check
		daemon_stop
	done
	best_w=$workers
	for w in "${!w_uniq[@]}"; do
		[ "${w_uniq[$w]}" -gt "${w_uniq[$best_w]}" ] && best_w=$w
	done
	heading "workers (db_thread_cnt): hot keys -T $short_secs, unique keys"
	for w in $(printf '%s\n' "${!w_uniq[@]}" | sort -n); do
		set_fig "w${w}_hot" "${w_hot[$w]}" records/s "$w workers: hot keys"
		set_fig "w${w}_uniq" "${w_uniq[$w]}" rows/s "$w workers: unique keys"
	done
}

# prev_build: the previous release from git into BUILD/prev (kept there
# between runs; build/ is never committed).
prev_build()
{
	local src=$build/prev/src

	[ -x "$build/prev/lars-reporter" ] && return 0
	rm -rf "$src"
	mkdir -p "$src"
	show git -C "$top" archive "$prev_rev" "|" tar -x -C "$src"
	git -C "$top" archive "$prev_rev" | tar -x -C "$src"
	run make -s -C "$src" B="$build/prev" "$build/prev/lars-reporter" \
	    >"$out/prev-build.log" 2>&1 || { cat "$out/prev-build.log";
	    fail "cannot build $prev_rev"; return 1; }
}

# prev_hot TAG BINARY: the headline hot load on a fresh daemon; sets
# prev_e2e (records/s stored end to end, or 0).
prev_hot()
{
	daemon_start "$workers" "$1" "" "$2"
	hot "$1" 8 "$hot_results" "$hot_secs"
	prev_e2e=0
	if [ "$lag" != timeout ]; then
		prev_e2e=$(calc "$l_records / ($l_secs + $lag)")
	fi
	daemon_check
	daemon_stop
}

# The same hot-key load on $prev_rev and on this build, in turns, three
# times each in this run (the machine's speed drifts over minutes): the
# medians and their ratio, and each pair's ratio.
scenario_prev()
{
	local i was now pairs=
	local -a prev_runs=() cur_runs=()

	say
	say "# 9. the previous release ($prev_rev) against this build:" \
	    "hot keys, -n 8 -r $hot_results -T $hot_secs, in turns, 3 times each"
	prev_build || return 0
	: >"$out/prev.dat"
	for i in 1 2 3; do
		prev_hot "prev$i" "$build/prev/lars-reporter"
		prev_runs+=("$prev_e2e")
		prev_hot "cur$i" "$build/lars-reporter"
		cur_runs+=("$prev_e2e")
		echo "$i ${prev_runs[-1]} $prev_e2e" >>"$out/prev.dat"
		pairs="$pairs $(calc "$prev_e2e / (${prev_runs[-1]} + 0.001)" 2)"
	done
	was=$(median "${prev_runs[@]}")
	now=$(median "${cur_runs[@]}")
	heading "this build against $prev_rev (same load, same run, in turns)"
	set_fig prev_e2e "$was" records/s \
	    "$prev_rev: stored end to end (median of ${prev_runs[*]})"
	set_fig cur_e2e "$now" records/s \
	    "this build: stored end to end (median of ${cur_runs[*]})"
	if [ "$was" -gt 0 ]; then
		set_fig prev_ratio "$(calc "$now / $was" 2)" x \
		    "this build / $prev_rev (each pair:$pairs)"
	fi
}

# median N...: the middle one of three (or more, odd) integers
median()
{
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 }
	    END { print v[int((NR + 1) / 2)] }'
}

# the ratios of what came before
scenario_ratios()
{
	best_uniq=${w_uniq[$best_w]}
	heading "ratios"
	if [ -n "${probe[array:$workers]:-}" ]; then
		set_fig ratio_uniq_array \
		    "$(calc "$main_uniq / ${probe[array:$workers]}" 2)" x \
		    "unique rows/s ($workers workers) / array binding, $workers conns"
	fi
	set_fig ratio_uniq_spread \
	    "$(calc "$main_uniq / ${probe[array-spread:$workers]}" 2)" x \
	    "unique rows/s ($workers workers) / array binding, keys spread"
	set_fig ratio_uniq1 "$(calc "$best_uniq / $best1" 2)" x \
	    "unique rows/s ($best_w workers) / best 1-connection batch ($best1_how)"
	set_fig ratio_uniq2 "$(calc "$best_uniq / $best2" 2)" x \
	    "unique rows/s ($best_w workers) / best 2-connection batch ($best2_how)"
	set_fig ratio_orig "$(calc "$best_uniq / ${probe[single:1]}" 1)" x \
	    "unique rows/s / the original's way (one autocommit row per statement)"
	set_fig ratio_orig_hot "$(calc "$hot_rate / ${probe[single:1]}" 1)" x \
	    "hot-key records/s / the original's way"
}

# the table and results.csv
report_table()
{
	# --- the table, the CSV, the plot --------------------------------------

	runtime=$(since "$started")
	{
		echo "figure,value,unit,description"
		for k in "${order[@]}"; do
			case $k in --*) continue ;; esac
			printf '%s,%s,%s,"%s"\n' "$k" "${fig[$k]}" "${unit[$k]}" \
			    "${desc[$k]//\"/\"\"}"
		done
	} >"$out/results.csv"

	say
	say "lars-reporter benchmark of $rev: $(nproc) cores, $(mariadbd --version |
	    sed 's/.*Ver \([^ ]*\).*/MariaDB \1/'), daemon flush_interval_ms 200," \
	    "batch_rows 1000, $workers workers unless said"
	for k in "${order[@]}"; do
		case $k in
		--*)	say "-- ${k#--}" ;;
		*)	printf '  %-68s %12s %s\n' "${desc[$k]}" "${fig[$k]}" \
			    "${unit[$k]}" ;;
		esac
	done
	say "load average at the end: $(cut -d ' ' -f 1-3 /proc/loadavg) (other" \
	    "processes on the machine make every figure noisy)"
	say "runtime $runtime s; commands in $out/commands.txt, figures in" \
	    "$out/results.csv"
}

# the plot, with gnuplot
report_plot()
{
	if command -v gnuplot >/dev/null; then
		gnuplot <<EOF && say "plot: $out/bench.png" || say "gnuplot failed"
set terminal pngcairo size 1500,450 font ",10"
set output "$out/bench.png"
set multiplot layout 1,3 title "lars-reporter, hot keys ($hot_keys keys),\
 $workers workers, lars-report -L on the same 2 cores"
set grid
set key bottom right
set yrange [0:*]
set format y "%.1s%c"
set ylabel "records/s accepted"
set xlabel "connections (-r 10, -T $short_secs)"
set logscale x 2
plot "$out/conns.dat" using 1:2 with linespoints pt 7 title "records/s"
set xlabel "results per message (8 connections, -T $short_secs)"
set logscale x 10
plot "$out/rpm.dat" using 1:2 with linespoints pt 7 title "records/s"
unset logscale x
set ylabel "records/s stored end to end"
set xlabel "run, in turns (-n 8 -r $hot_results -T $hot_secs)"
set xrange [0.5:3.5]
set xtics 1
set style fill solid 0.6
set boxwidth 0.35
set key top left
plot "$out/prev.dat" using (\$1-0.2):2 with boxes title "$prev_rev", \
    "" using (\$1+0.2):3 with boxes title "this build", \
    ${fig[prev_e2e]:-0} * 2.5 with lines dt 2 title "2.5x the median of $prev_rev"
unset multiplot
EOF
	else
		say "plot skipped: gnuplot is not installed" \
		    "(as root: apt-get install gnuplot-nox)"
	fi
}

main()
{
	setup
	scenario_probe
	daemon_start "$workers" main
	scenario_hot
	scenario_unique
	scenario_rpm
	scenario_conns
	daemon_check
	daemon_stop
	scenario_idle
	scenario_down
	scenario_workers
	scenario_prev
	scenario_ratios
	report_table
	report_plot
	[ "$failures" -eq 0 ] || { say "$failures check(s) FAILED"; exit 1; }
}

main
