#!/usr/bin/perl
#
# A row MySQL's strict mode rejects: succ_cnt is made a MEDIUMINT (at
# most 8388607), and one report among a load carries succ 9000000 for a
# key of its own, beside the load's keys of the same (modid, cmdid), so
# the same worker.  Error 1264 is about that row's values: the batch is
# halved until the row is alone, it is dropped and logged with its key,
# and every other row is stored.  The final table is the load
# generator's expected table, without the rejected row.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Lars;

my $t = Lars->new;
my $d = $t->dir;
my $BASE = 100;

$t->sql('ALTER TABLE lars_dns.ServerCallStatus MODIFY succ_cnt MEDIUMINT '
    . 'NOT NULL');
like($t->sql('SELECT @@GLOBAL.sql_mode'), qr/STRICT_TRANS_TABLES/,
    'the server is in strict mode');

$t->conf('reporter.db_thread_cnt' => 3);
$t->run_reporter;

# The load's first group is modid BASE, cmdid 1; 10.9.9.9 is not one of
# its hosts.
my $load = $t->start_load('-n', 4, '-T', 5, '-R', 2000, '-r', 10, '-k', 5000,
    '-m', $BASE, '-o', "$d/expected.tsv");
sleep 2;
$t->report('-m', $BASE, '-c', 1, '-C', '10.0.0.1', '10.9.9.9:80:9000000:1');
my $name = sprintf 'modid=%d cmdid=1 ip=%d port=80 caller=%d', $BASE,
    Lars::ip('10.9.9.9'), Lars::ip('10.0.0.1');
ok($t->wait_log(qr/dropped the row \Q$name\E .*MySQL error 1264\b/, 20),
    "the log names the key and the error: $name");

ok(waitpid($load, 0) == $load && $? == 0, 'the load generator finished');
my $expected = $t->read_file('expected.tsv');
ok($t->wait_rows($expected, 60),
    'the table is the expected one: every row but the rejected one');
my $log = $t->log;
like($log, qr/storing it in parts to find the rows that cannot be stored/,
    'the batch was stored in parts');
my @dropped = $log =~ /dropped the row (modid=\S+ cmdid=\S+ ip=\S+ port=\S+ caller=\d+)/g;
my %names = map { $_ => 1 } @dropped;
is_deeply([keys %names], [$name], 'and no other key')
    or diag(join "\n", keys %names);
my ($records) = ($t->read_file('load.out') // '') =~ /(\d+) records over/;
my $s = $t->stats;
is($s->{records}, $records + 1,
    'stats: the master received every record sent');
is($s->{dropped}, 1, 'stats: one row dropped');
is($s->{worker_restarts}, 0, 'stats: no worker restarts');

$t->done_testing;
