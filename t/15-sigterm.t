#!/usr/bin/perl
#
# SIGTERM is a graceful stop: what connections delivered is read and
# flushed to MariaDB before the reporter exits 0, even with a long flush
# interval.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Lars;

my $t = Lars->new;
my $row = \&Lars::row;
my $ip = Lars::ip('1.2.3.4');

$t->conf('reporter.flush_interval_ms' => 10000);
$t->run_reporter;

$t->report('-m', 1, '-c', 1, '-C', 0, '-t', 1000, '1.2.3.4:80:1:2');
my $s = $t->connect;
print $s join '', map { Lars::frame(3, Lars::pb_report(modid => 2,
    cmdid => $_, ts => 1000, results => [[$ip, 80, $_, 0, 0]])) } 1 .. 20;
close $s;
is($t->stop_reporter, 0, 'SIGTERM: exit 0');
is($t->rows, $row->(1, 1, $ip, 80, 0, 1, 2, 1000, 0)
    . join('', map { $row->(2, $_, $ip, 80, 0, $_, 0, 1000, 0) } 1 .. 20),
    'everything sent before SIGTERM is in the table at exit');

$t->done_testing;
