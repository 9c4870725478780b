#!/usr/bin/perl
#
# SIGKILL a worker, five times, while a sustained load runs (8
# connections, ~40k records/s over 20000 keys): nothing a killed worker
# held is lost, because the master keeps every record until a worker acks
# its commit and replays the rest to the replacement.  The final table
# equals the load generator's expected table, row for row.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use Lars;

my $t = Lars->new;
my $d = $t->dir;

$t->conf('reporter.db_thread_cnt' => 3);
$t->run_reporter;
ok($t->wait_for(sub { keys %{ $t->workers } == 3 }), 'three workers');

my $t0 = time;
my $load = $t->start_load('-n', 8, '-T', 8, '-R', 4000, '-r', 10, '-k', 20000,
    '-o', "$d/expected.tsv");
sleep 1.5;
my @killed;
for my $i (1 .. 5) {
	my $w = $t->workers;
	my @pids = sort keys %$w;
	if (!@pids) {
		fail("kill $i: no worker to kill");
		next;
	}
	my $pid = $pids[int rand @pids];
	ok(kill('KILL', $pid), "kill $i: SIGKILL worker $w->{$pid} (pid $pid)");
	push @killed, [$pid, $w->{$pid}];
	sleep 1;
}
my $s = $t->zero_loss($load, keys => 20000, restarts => 5);

my $log = $t->log;
for (@killed) {
	my ($pid, $slot) = @$_;
	like($log, qr/worker $slot \(pid $pid\) killed by signal 9\b/,
	    "the log shows worker $slot (pid $pid) killed");
}
my @replay = $log =~ /worker \d+ of generation \d+ started, pid \d+, (\d+) records to replay/g;
is(scalar @replay, 3 + 5, 'the log shows 3 starts and 5 respawns');
diag("records to replay at each start: @replay");
cmp_ok((sort { $b <=> $a } @replay)[0], '>', 0,
    'a replacement worker was handed its predecessor\'s uncommitted records');
ok($t->wait_for(sub { keys %{ $t->workers } == 3 }, 15),
    'three workers run again');

$t->done_testing;
