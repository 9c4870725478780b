#!/usr/bin/perl
#
# The backpressure bound: MariaDB is down and queue_max is tiny (1024
# records per worker slot) while a load runs over 50000 distinct keys, so
# compacting the queues to one record per key cannot get them under the
# bound.  The master says it stops reading agents, and does: the load
# generator's sends block (it is still running, its records stop
# arriving), and nothing is dropped.  Once MariaDB is back, the master
# reads again, the load generator finishes, and the final table is
# exactly its expected one.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use Lars;

my $KEYS = 50000;
# 600k records, ~16 MB on the wire: well over what two paused loopback
# connections buffer (measured: ~128 KiB received + ~2.7 MiB unsent each,
# plus the generator's 64 KiB), so its sends must block.
my $MSGS = 60000;

my $t = Lars->new;
my $d = $t->dir;

# The unix socket: a restarted MariaDB listens on a new TCP port.
$t->conf(socket => 1, 'reporter.db_thread_cnt' => 3,
    'reporter.queue_max' => 1024);
$t->_stop_db;
$t->run_reporter;
ok($t->wait_for(sub { keys %{ $t->workers } == 3 }), 'three workers');

my $t0 = time;
my $load = $t->start_load('-n', 2, '-N', $MSGS, '-r', 10, '-k', $KEYS,
    '-o', "$d/expected.tsv");
ok($t->wait_log(qr/not reading agents/, 20),
    'the master says it stops reading agents') or diag($t->log_tail);
my ($line) = $t->log =~ /(.*not reading agents.*)/;
diag(sprintf "%.1f s: %s", time - $t0, $line // '');

# The load blocks: give the socket buffers time to fill, then watch.
sleep 3;
my $s1 = $t->stats;
sleep 3;
my $s2 = $t->stats;
is(waitpid($load, WNOHANG), 0, sprintf 'the load generator still runs '
    . 'after %.1f s', time - $t0);
ok(defined $s1->{records} && defined $s2->{records}, 'two stats lines');
is($s2->{records}, $s1->{records}, "no records arrive: $s1->{records} "
    . "then $s2->{records} received, of " . $MSGS * 10);
cmp_ok($s2->{records}, '<', $MSGS * 10 / 2, 'far fewer than were sent');
is($s2->{dropped}, 0, 'stats: nothing dropped');
my @paused = $t->log =~ /not reading agents/g;
is(scalar @paused, 1, 'said once');
unlike($t->log, qr/reading agents again/, 'not reading again yet');
ok(keys %{ $t->workers } == 3, 'the workers still run');

$t->_start_db;
diag(sprintf "MariaDB started at %.1f s", time - $t0);
my $end = time + 60;
my $r;
while (($r = waitpid($load, WNOHANG)) == 0 && time < $end) {
	sleep 0.2;
}
if ($r == 0) {
	kill 'KILL', $load;
	waitpid($load, 0);
	fail('the load generator did not finish within 60 s of MariaDB');
} else {
	is($?, 0, sprintf 'the load generator finished, exit 0, at %.1f s',
	    time - $t0) or diag($t->read_file('load.err'));
}
my $out = $t->read_file('load.out') // '';
like($out, qr/expecting $KEYS rows/, "load: $KEYS keys") or diag($out);
my ($records) = $out =~ /(\d+) records over/;
diag("load: $out");

my $expected = $t->read_file('expected.tsv');
ok($t->wait_rows($expected, 60), 'the table is exactly the expected one');
diag(sprintf "table complete at %.1f s", time - $t0);
like($t->log, qr/reading agents again/, 'the log says it reads agents again');
my $s = $t->stats;
is($s->{records}, $records, 'stats: the master received every record sent');
is($s->{dropped}, 0, 'stats: nothing dropped');
is($s->{worker_restarts}, 0, 'stats: no worker restarts');
my $pauses = () = $t->log =~ /not reading agents/g;
my $resumes = () = $t->log =~ /reading agents again/g;
is($pauses, 1, 'the pause is logged once, though the drain pauses again and again');
like($t->log, qr/reading agents again \(\d+ records waiting, \d+ pauses\)/,
    'the resume line counts the pauses');

$t->done_testing;
