#!/usr/bin/perl
#
# MariaDB stopped for 20 s in the middle of a ~30k records/s load over
# 20000 keys, then started again: the final table is exactly the load
# generator's.  While it is down the reporter keeps reading agents and
# coalescing, and its memory is bounded by the number of distinct keys,
# not by the records received: the master's and the workers' RSS growth
# over their pre-outage RSS stays under a bound computed from the key
# count, and the records received during the outage would not fit in it.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use Lars;

my $KEYS = 20000;
my $SLOTS = 3;
my $RECORD = 48;		# sizeof(struct record)
my $MiB = 1024 * 1024;

my $t = Lars->new;
my $d = $t->dir;
# An ASan build keeps freed memory in a quarantine (256 MiB by default) to
# catch uses after free: resident, but not the daemon's.  Keep it small so
# that RSS measures what the reporter holds.
$ENV{ASAN_OPTIONS} .= ':quarantine_size_mb=1';

# VmRSS in bytes, undef if the process is gone.
sub rss {
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/status" or return undef;
	while (my $l = <$fh>) {
		return $1 * 1024 if $l =~ /^VmRSS:\s+(\d+)\s+kB/;
	}
	return undef;
}

# The unix socket: a restarted MariaDB listens on a new TCP port.
my $mport = Lars::free_port();
$t->conf(socket => 1, 'reporter.db_thread_cnt' => $SLOTS,
    'reporter.queue_max' => 50000,
    'reporter.metrics_listen' => "127.0.0.1:$mport");
$t->run_reporter;
ok($t->wait_for(sub { keys %{ $t->workers } == $SLOTS }), "$SLOTS workers");
my $master = $t->reporter_pid;

my $load = $t->start_load('-n', 8, '-T', 30, '-R', 3000, '-r', 10, '-k', $KEYS,
    '-o', "$d/expected.tsv");
my $t0 = time;
sleep 5;	# every key sent a few times; queues and tables at full size

my %base = (master => rss($master));
my %wpid = reverse %{ $t->workers };	# slot => pid
$base{$_} = rss($wpid{$_}) for keys %wpid;
my $before = $t->stats;
diag(sprintf "before the outage: %d records received; RSS master %.1f MiB, "
    . "workers %s", $before->{records},
    $base{master} / $MiB, join ', ', map { sprintf "%.1f MiB", $base{$_} / $MiB }
    sort keys %wpid);

$t->_stop_db;
my $down = time;
diag(sprintf "MariaDB stopped at %.1f s", $down - $t0);
my %peak = %base;
while (time - $down < 20) {
	sleep 1;
	for my $who ('master', keys %wpid) {
		my $pid = $who eq 'master' ? $master : $wpid{$who};
		my $r = rss($pid) // next;
		$peak{$who} = $r if $r > $peak{$who};
	}
}
my $during = $t->stats;
$t->_start_db;
diag(sprintf "MariaDB started at %.1f s", time - $t0);

my $received = $during->{records} - $before->{records};
my $mbound = $KEYS * $RECORD * 2 * $SLOTS + 8 * $MiB;
my $wbound = $KEYS * 100 + 4 * $MiB;
diag(sprintf "outage: %d records received (%.1f MiB as %d-byte records); "
    . "bound on the master's growth %.1f MiB, on a worker's %.1f MiB",
    $received, $received * $RECORD / $MiB, $RECORD, $mbound / $MiB,
    $wbound / $MiB);
cmp_ok($received * $RECORD, '>', $mbound,
    'the records received while MariaDB was down would exceed the bound');
cmp_ok($received / $SLOTS * $RECORD, '>', $wbound,
    "so would a worker's share of them (about 1/$SLOTS)");
cmp_ok($peak{master} - $base{master}, '<', $mbound,
    sprintf "master RSS grew %.1f MiB (%.1f -> %.1f): bounded by the keys",
    ($peak{master} - $base{master}) / $MiB, $base{master} / $MiB,
    $peak{master} / $MiB);
for my $slot (sort keys %wpid) {
	cmp_ok($peak{$slot} - $base{$slot}, '<', $wbound,
	    sprintf "worker %d RSS grew %.1f MiB (%.1f -> %.1f): bounded by "
	    . "the keys", $slot, ($peak{$slot} - $base{$slot}) / $MiB,
	    $base{$slot} / $MiB, $peak{$slot} / $MiB);
}
is_deeply($t->workers, { reverse %wpid }, 'no worker died during the outage');

my $s = $t->zero_loss($load, keys => $KEYS, restarts => 0);
like($t->log, qr/MySQL error (?:2002|2006|2013|1053|1927)\b/,
    'the log shows the lost server');
like($t->log, qr/rows held; retrying in \d+ ms/, 'and the retries');
like($t->log, qr/MySQL is back: \d+ rows stored/, 'and its return');
like($t->log, qr/kept the newest per key/, 'the master compacted its queues');
my ($compacted) = ($t->metrics // '') =~ /^lars_reporter_records_compacted_total (\d+)$/m;
# 30000 records/s over 20000 keys, 20 s down: 600000 records, of which
# the queues kept about one per key
ok(($compacted // 0) > 300000, 'records_compacted_total counts them: '
    . ($compacted // 'none'));

$t->done_testing;
