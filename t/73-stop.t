#!/usr/bin/perl
#
# SIGTERM while a load runs: everything agents delivered before the signal
# is in the table when the reporter has exited 0, even with a flush
# interval longer than the test and reports still in the sockets.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Lars;

my $t = Lars->new;
my $d = $t->dir;
my $ip = Lars::ip('10.2.2.2');

$t->conf('reporter.flush_interval_ms' => 60000, 'reporter.batch_rows' => 7000);
$t->run_reporter;
my $out = $t->report('-L', '-n', 8, '-N', 40000, '-r', 10, '-k', 20000,
    '-o', "$d/expected.tsv");
like($out, qr/expecting 20000 rows/, 'load sent: 400000 records');

# and a connection that stays open with reports in its socket buffer
my $s = $t->connect;
print $s join '', map { Lars::frame(3, Lars::pb_report(modid => 900000,
    cmdid => $_, ts => 77, results => [[$ip, 80, $_, 0, 0]])) } 1 .. 50;
$s->flush;
select(undef, undef, undef, 0.2);
is($t->stop_reporter, 0, 'SIGTERM: exit 0');
my $expected = $t->read_file('expected.tsv')
    . join('', map { Lars::row(900000, $_, $ip, 80, 0, $_, 0, 77, 0) } 1 .. 50);
is($t->rows, $expected, 'every delivered record is in the table');
like($t->log, qr/all records committed/, 'the master waited for the commits');

$t->done_testing;
