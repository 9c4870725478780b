#!/usr/bin/perl
#
# Load: lars-report -L sends 20000 messages of 10 records over 8
# connections for 5000 keys, and writes the table it expects; the table
# must end up exactly so, though the master compacted what the workers
# could not take at once.  Then the same from 3 threads (-j 3) over 7
# connections, at a rate: every key again, newer, and the shares of -N and
# -R add up.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Lars;

my $t = Lars->new;
my $mport = Lars::free_port();
$t->conf('reporter.metrics_listen' => "127.0.0.1:$mport");
$t->run_reporter;

my $file = $t->dir . '/expected.tsv';
my $out = $t->report({ timeout => 300 }, '-L', '-n', 8, '-N', 20000,
    '-r', 10, '-k', 5000, '-o', $file);
note($out);
my $summary = qr/^sent (\d+) messages, (\d+) records over (\d+) connections/
    . qr/ in [\d.]+ s: [\d.]+ records\/s; expecting (\d+) rows$/;
like($out, qr/$summary/m, 'load summary line');
my ($msgs, $recs, $conns, $rows) = $out =~ /$summary/m;
is($msgs, 20000, '20000 messages');
is($recs, 200000, '200000 records');
is($conns, 8, '8 connections');

my $expected = $t->read_file($file) // '';
my $lines = () = $expected =~ /\n/g;
is($lines, $rows, 'expected.tsv has as many rows as announced');
cmp_ok($lines, '>', 0, 'some rows expected');
ok($t->wait_rows($expected, 120), 'table equals expected.tsv');
# 200000 records over 5000 keys faster than a worker takes them (1365 a
# millisecond at most): the master's queues back up and are compacted,
# and the table above is exact all the same
my ($compacted) = ($t->metrics // '') =~ /^lars_reporter_records_compacted_total (\d+)$/m;
ok(($compacted // 0) > 0, 'the master compacted the hot backlog: '
    . ($compacted // 'no metric') . ' records');

# -j 3: connections 0-6 over threads of 3, 2 and 2; newer ts than above
my $t0 = time;
$out = $t->report({ timeout => 300 }, '-L', '-j', 3, '-n', 7, '-N', 7001,
    '-R', 3500, '-r', 10, '-k', 5000, '-t', 1800000000, '-o', $file);
note($out);
($msgs, $recs, $conns, $rows) = $out =~ /$summary/m;
is($msgs, 7001, '-j 3: 7001 messages, the shares add up');
is($conns, 7, '-j 3: 7 connections');
is($rows, 5000, '-j 3: every key sent');
cmp_ok(time - $t0, '>=', 1.5, '-j 3: -R 3500 paces 7001 messages over 2 s');
$expected = $t->read_file($file) // '';
ok($t->wait_rows($expected, 120), '-j 3: table equals the new expected.tsv');

$t->done_testing;
