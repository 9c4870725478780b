#!/usr/bin/perl
#
# MariaDB is down when the reporter starts: it starts anyway (its port
# accepts, its workers run), logs the failed connect, and takes a load
# while it waits; once MariaDB is started, everything lands: the final
# table is exactly the load generator's.

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
$t->conf(socket => 1, 'reporter.db_thread_cnt' => 3);
$t->_stop_db;
ok(!-S $t->db->{SOCKET}, 'MariaDB is down');
$t->run_reporter;		# dies unless the port accepts
pass('the reporter started, its port accepts');
ok($t->wait_log(qr/connect: MySQL error 2002\b/),
    'the failed connect is logged');
ok($t->wait_for(sub { keys %{ $t->workers } == 3 }), 'three workers run');
my %w0 = %{ $t->workers };

my $t0 = time;
my $load = $t->start_load('-n', 4, '-T', 5, '-R', 3000, '-r', 10, '-k', 10000,
    '-o', "$d/expected.tsv");
ok(waitpid($load, 0) == $load && $? == 0,
    'the load generator finished while MariaDB is down')
    or diag($t->read_file('load.err'));
my $out = $t->read_file('load.out') // '';
like($out, qr/expecting 10000 rows/, 'load: 10000 keys') or diag($out);
my ($records) = $out =~ /(\d+) records over/;
diag("load: $out");
my $s = $t->stats;
is($s->{records}, $records, 'stats: the master received every record');
is($s->{rows}, 0, 'stats: no row stored yet');

$t->_start_db;
diag(sprintf "MariaDB started at %.1f s", time - $t0);
my $expected = $t->read_file('expected.tsv');
ok($t->wait_rows($expected, 60), 'the table is exactly the expected one');
diag(sprintf "table complete at %.1f s", time - $t0);
like($t->log, qr/MySQL is back: \d+ rows stored/, 'the log says MySQL is back');
$s = $t->stats;
is($s->{dropped}, 0, 'stats: nothing dropped');
is($s->{worker_restarts}, 0, 'stats: no worker restarts');
is_deeply($t->workers, \%w0, 'the same workers still run');

$t->done_testing;
