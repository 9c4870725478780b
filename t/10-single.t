#!/usr/bin/perl
#
# A single report through lars-report lands in ServerCallStatus with
# exact values, over TCP to MariaDB and again over its unix socket.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Lars;

my $t = Lars->new;
my $ip = \&Lars::ip;
my $row = \&Lars::row;

$t->conf;
$t->run_reporter;

$t->report('-m', 1, '-c', 2, '-C', '10.0.0.1', '-t', 1700000000,
    '192.168.0.1:8080:10:2:1', '10.1.2.3:80:7:0:0');
$t->report('-m', 1, '-c', 3, '-C', 42, '-t', 1700000001,
    '--', '-1:65535:5:6', '1.2.3.4:81:0:9');

my $expected =
    $row->(1, 2, $ip->('192.168.0.1'), 8080, $ip->('10.0.0.1'), 10, 2,
	1700000000, 1)
    . $row->(1, 2, $ip->('10.1.2.3'), 80, $ip->('10.0.0.1'), 7, 0,
	1700000000, 0)
    . $row->(1, 3, -1, 65535, 42, 5, 6, 1700000001, 0)
    . $row->(1, 3, $ip->('1.2.3.4'), 81, 42, 0, 9, 1700000001, 0);
ok($t->wait_rows($expected), 'reports over TCP to MariaDB stored exactly');
is($ip->('192.168.0.1'), -1062731775, '192.168.0.1 is stored as -1062731775');
is($t->sql('SELECT overload FROM lars_dns.ServerCallStatus WHERE '
    . 'modid=1 AND cmdid=2 ORDER BY ip'), "1\n0\n", "overload '1' and '0'");
is($t->stop_reporter, 0, 'SIGTERM: exit 0');

$t->conf(socket => 1);
like($t->read_file('reporter.conf'), qr/^db_socket = \S+mysql\.sock$/m,
    'second run uses db_socket');
$t->run_reporter;
$t->report('-m', 7, '-c', 8, '-C', 0, '-t', 1700000002,
    '172.16.0.1:1:2:3:1');
$expected .= $row->(7, 8, $ip->('172.16.0.1'), 1, 0, 2, 3, 1700000002, 1);
ok($t->wait_rows($expected), 'report over the MariaDB unix socket stored');
is($t->stop_reporter, 0, 'SIGTERM: exit 0');

$t->done_testing;
