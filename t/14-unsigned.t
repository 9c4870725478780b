#!/usr/bin/perl
#
# The original project's later schema has ip, port and caller unsigned:
# the reporter stores the unsigned bit pattern of the int32 it got.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Lars;

my $t = Lars->new;
my $row = \&Lars::row;

$t->sql('ALTER TABLE lars_dns.ServerCallStatus '
    . 'MODIFY ip int(11) unsigned NOT NULL, '
    . 'MODIFY port int(11) unsigned NOT NULL, '
    . 'MODIFY caller int(11) unsigned NOT NULL');
$t->conf;
$t->run_reporter;

$t->report('-m', 1, '-c', 1, '-C', '10.0.0.1', '-t', 1000,
    '192.168.0.1:8080:1:2:1');
my $s = $t->connect;
print $s Lars::frame(3, Lars::pb_report(modid => 1, cmdid => 2,
    caller => -1, ts => 1001, results => [[-1, -1, 3, 4, 0]]));
close $s;

ok($t->wait_rows(
    $row->(1, 1, 3232235521, 8080, 167772161, 1, 2, 1000, 1)
    . $row->(1, 2, 4294967295, 4294967295, 4294967295, 3, 4, 1001, 0)),
    'ip, port, caller stored as unsigned bit patterns');

$t->done_testing;
