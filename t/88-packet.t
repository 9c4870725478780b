#!/usr/bin/perl
#
# A server with a small max_allowed_packet (8 KiB): a worker reads it when
# it connects and sizes its statements to fit, instead of sending
# batch_rows rows that the server refuses (error 1153, which closes the
# connection: retried forever, nothing would ever land).  Under a load the
# final table is exactly the load generator's.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use Lars;

my $t = Lars->new;
my $d = $t->dir;

$t->sql('SET GLOBAL max_allowed_packet = 8192');
like($t->sql('SELECT @@GLOBAL.max_allowed_packet'), qr/^8192$/m,
    'max_allowed_packet is 8192');

$t->conf('reporter.db_thread_cnt' => 2, 'reporter.batch_rows' => 5000);
$t->run_reporter;
ok($t->wait_log(qr/max_allowed_packet 8192: (\d+) rows per statement/),
    'the workers size their statements to the server');
my ($rows) = $t->log =~ /max_allowed_packet 8192: (\d+) rows per statement/;
cmp_ok($rows, '>', 0, "$rows rows per statement");
cmp_ok($rows * 128, '<', 8192, 'at 128 bytes a row at most, under 8 KiB');

my ($out) = $t->report('-L', '-n', 4, '-N', 10000, '-r', 10, '-k', 8000,
    '-o', "$d/expected.tsv");
like($out, qr/expecting 8000 rows/, 'load: 8000 keys, 100000 records');
my ($records) = $out =~ /(\d+) records over/;
ok($t->wait_rows($t->read_file('expected.tsv'), 60),
    'the table is exactly the expected one');
unlike($t->log, qr/MySQL error 1153/, 'no packet was too large');
my $s = $t->stats;
is($s->{records}, $records, 'stats: the master received every record sent');
is($s->{dropped}, 0, 'stats: nothing dropped');
is($s->{mysql_connects}, 2, 'stats: one connection per worker, no reconnects');

$t->done_testing;
