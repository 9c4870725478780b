#!/usr/bin/perl
#
# The stop paths no other file takes: SIGINT stops like SIGTERM (exit 0,
# everything committed); with MariaDB down, a stop is bounded by
# drain_timeout: the master says how many records are lost, kills the
# workers and exits 1.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(time);
use Lars;

my $t = Lars->new;
my $ip = Lars::ip('10.5.5.5');

$t->conf(socket => 1, 'reporter.flush_interval_ms' => 60000);
$t->run_reporter;
$t->report('-m', 5, '-c', 5, '-t', 50, '10.5.5.5:80:1:2');
$t->signal('INT');
ok($t->wait_log(qr/Interrupt from pid \d+: stopping/), 'SIGINT: stopping, the sender named');
is($t->stop_reporter, 0, 'SIGINT: exit 0');
is($t->rows, Lars::row(5, 5, $ip, 80, 0, 1, 2, 50, 0),
    'the report held for a 60 s flush was committed before the exit');

$t->conf(socket => 1, 'reporter.drain_timeout' => 2);
$t->run_reporter;
$t->_stop_db;
$t->report('-L', '-n', 2, '-N', 100, '-r', 10, '-k', 500);
sleep 1;
my $t0 = time;
my $code = $t->stop_reporter;
my $took = time - $t0;
is($code, 1, 'MariaDB down: the stop ends with exit 1');
ok($took >= 1.5 && $took < 10, sprintf('after drain_timeout (2 s): %.1f s', $took));
like($t->log, qr/drain_timeout \(2 s\) expired: [1-9]\d* records not committed to MySQL are lost; killing the workers/,
    'the log says how many records are lost');
like($t->log, qr/exiting with status 1/, 'and the exit status');
$t->_start_db;

$t->done_testing;
