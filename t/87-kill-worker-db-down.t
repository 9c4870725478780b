#!/usr/bin/perl
#
# Both at once: MariaDB is down, the master has compacted the queues to
# one record per key (queue_max 4096), and then every worker is killed
# in turn.  Each replacement is handed the compacted queue of its slot
# ("records to replay"), cannot connect either, and keeps reading and
# coalescing; once MariaDB is back the final table is exactly the load
# generator's.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use Lars;

my $t = Lars->new;
my $d = $t->dir;

# The unix socket: a restarted MariaDB listens on a new TCP port.
$t->conf(socket => 1, 'reporter.db_thread_cnt' => 3,
    'reporter.queue_max' => 4096);
$t->run_reporter;
ok($t->wait_for(sub { keys %{ $t->workers } == 3 }), 'three workers');

my $t0 = time;
my $load = $t->start_load('-n', 4, '-T', 14, '-R', 2000, '-r', 10, '-k', 6000,
    '-o', "$d/expected.tsv");
sleep 2;
$t->_stop_db;
diag(sprintf "MariaDB stopped at %.1f s", time - $t0);
ok($t->wait_log(qr/kept the newest per key/, 10),
    'the master compacts the queues') or diag($t->log_tail);

my %done;
for my $i (1 .. 3) {
	my $w = $t->workers;
	my ($pid) = grep { !$done{$w->{$_}} } sort keys %$w;
	if (!$pid) {
		fail("kill $i: no worker left to kill");
		next;
	}
	my $slot = $w->{$pid};
	$done{$slot} = 1;
	ok(kill('KILL', $pid), sprintf "kill %d at %.1f s: worker %d (pid %d)",
	    $i, time - $t0, $slot, $pid);
	ok($t->wait_log(qr/worker $slot of generation 1 started, pid \d+, \d+ records to replay/, 10),
	    "worker $slot respawned");
	sleep 1;
}
my @replay = $t->log =~ /worker \d+ of generation 1 started, pid \d+, (\d+) records to replay/g;
diag("records to replay: @replay");
is(scalar @replay, 6, 'three starts and three respawns');
my @respawned = @replay[3 .. $#replay];
ok(!grep({ $_ == 0 || $_ > 6000 } @respawned),
    'each replacement got its slot\'s records, at most one per key');

sleep 1;
$t->_start_db;
diag(sprintf "MariaDB started at %.1f s", time - $t0);

my $s = $t->zero_loss($load, keys => 6000, restarts => 3);

$t->done_testing;
