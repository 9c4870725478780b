#!/usr/bin/perl
#
# succ/err above 2147483647 are clamped to it, logged, and never fail the
# batch they are in.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Lars;

my $t = Lars->new;
my $row = \&Lars::row;
my $ip = Lars::ip('1.2.3.4');
$t->conf;
$t->run_reporter;

$t->report('-m', 1, '-c', 1, '-C', 0, '-t', 1000,
    '1.2.3.4:80:4294967295:2147483648', '1.2.3.4:81:2147483647:0',
    '1.2.3.4:82:3:4:1');
ok($t->wait_rows(
    $row->(1, 1, $ip, 80, 0, 2147483647, 2147483647, 1000, 0)
    . $row->(1, 1, $ip, 81, 0, 2147483647, 0, 1000, 0)
    . $row->(1, 1, $ip, 82, 0, 3, 4, 1000, 1)),
    'clamped to 2147483647; the rest of the batch stored');
ok($t->wait_log(qr/clamped/), 'the log says clamped');

$t->done_testing;
