#!/usr/bin/perl
#
# A row the database refuses: a trigger rejects one key of the load's
# layout (SIGNAL SQLSTATE '45000').  Every batch holding that key fails;
# the worker splits it until the bad row is alone, logs it with its key,
# drops it, and stores every other row.  The final table is the load
# generator's expected table minus exactly that row.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use Lars;

my $t = Lars->new;
my $d = $t->dir;

sub s32 { unpack 'l', pack 'L', $_[0] }

# The load's key layout (contrib/lars-report/load.c): group g of -r
# results, result j: modid base + g / 1000, cmdid g % 1000 + 1, caller
# 10.0.0.1 + g % 7, ip 192.168.0.1 + j, port 8000 + j % 50.
my ($BASE, $G, $J) = (100, 123, 4);
my %bad = (modid => $BASE + int($G / 1000), cmdid => $G % 1000 + 1,
    ip => s32(0xC0A80001 + $J), port => 8000 + $J % 50,
    caller => s32(0x0A000001 + $G % 7));
my $where = join ' AND ', map { "NEW.$_ = $bad{$_}" }
    qw(modid cmdid ip port caller);

my $trigger = <<"SQL";
CREATE TRIGGER lars_dns.reject_one BEFORE INSERT ON lars_dns.ServerCallStatus
FOR EACH ROW BEGIN
  IF $where THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'rejected by the test';
  END IF;
END//
SQL
my $r = $t->run(['mariadb', '--no-defaults', "--socket=" . $t->db->{SOCKET},
    '-u', scalar getpwuid($<), '--delimiter=//', '-e', $trigger]);
is($r->{status}, 0, 'trigger created') or diag($r->{err});
like($t->sql("SHOW TRIGGERS FROM lars_dns"), qr/reject_one/,
    'the trigger exists');

$t->conf('reporter.db_thread_cnt' => 3);
$t->run_reporter;

my $load = $t->start_load('-n', 4, '-T', 5, '-R', 2000, '-r', 10, '-k', 5000,
    '-m', $BASE, '-o', "$d/expected.tsv");
ok(waitpid($load, 0) == $load && $? == 0, 'the load generator finished')
    or diag($t->read_file('load.err'));
my $out = $t->read_file('load.out') // '';
like($out, qr/expecting 5000 rows/, 'load: 5000 keys') or diag($out);
my ($records) = $out =~ /(\d+) records over/;

my $all = $t->read_file('expected.tsv');
my $prefix = join("\t", @bad{qw(modid cmdid ip port caller)}) . "\t";
my @badrow = grep { index($_, $prefix) == 0 } split /^/, $all;
is(scalar @badrow, 1, "the rejected key is in the load: $prefix")
    or diag("not found: $prefix");
my $expected = join '', grep { index($_, $prefix) != 0 } split /^/, $all;
ok($t->wait_rows($expected, 60),
    'the table is the expected one minus exactly the rejected row');

my $log = $t->log;
my $name = sprintf 'modid=%d cmdid=%d ip=%d port=%d caller=%d',
    @bad{qw(modid cmdid ip port caller)};
like($log, qr/dropped the row \Q$name\E .*rejected by the test/,
    "the log names the key: $name");
my @dropped = $log =~ /dropped the row (modid=\S+ cmdid=\S+ ip=\S+ port=\S+ caller=\d+)/g;
my %names = map { $_ => 1 } @dropped;
is_deeply([keys %names], [$name], 'and no other key')
    or diag(join "\n", keys %names);
my $s = $t->stats;
is($s->{records}, $records, 'stats: the master received every record sent');
cmp_ok($s->{dropped}, '>=', 1, "stats: dropped $s->{dropped} (that row, "
    . 'once per batch holding it)');
is($s->{dropped}, scalar @dropped, 'as many as the log names');
is($s->{worker_restarts}, 0, 'stats: no worker restarts');

$t->done_testing;
