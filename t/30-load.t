#!/usr/bin/perl
#
# Load: lars-report -L sends 20000 messages of 10 records over 8
# connections for 5000 keys, and writes the table it expects; the table
# must end up exactly so.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Lars;

my $t = Lars->new;
$t->conf;
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

$t->done_testing;
