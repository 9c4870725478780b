#!/usr/bin/perl
#
# Newest wins: largest ts; for equal ts the later-received report; an
# older report never overwrites, also across flushes, a restart and a
# changed worker count.
#
# To know that an older report has been handled, it carries a marker
# result for a new key in the same message: same (modid, cmdid), so the
# same worker and the same or an earlier batch.

use strict;
use warnings;
use lib 't/lib';
use List::Util qw(shuffle);
use Test::More;
use Lars;

my $t = Lars->new;
my $row = \&Lars::row;
my $host = '10.0.0.9';
my $hip = Lars::ip($host);

$t->conf;
$t->run_reporter;

sub get {
	my ($modid, $port) = @_;
	return $t->sql("SELECT succ_cnt, err_cnt, ts FROM "
	    . "lars_dns.ServerCallStatus WHERE modid=$modid AND port=$port");
}

sub wait_get {
	my ($modid, $port, $want, $name) = @_;
	my $got;
	ok($t->wait_for(sub { ($got = get($modid, $port)) eq $want }, 20),
	    $name) or diag("got '$got', want '$want'");
}

# Sequential reports, rising ts: the last one stays.
for my $i (1 .. 10) {
	$t->report('-m', 1, '-c', 1, '-C', 0, '-t', 1000 + $i,
	    "$host:80:$i:" . ($i * 2));
}
wait_get(1, 80, "10\t20\t1010\n", '10 rising reports: the newest stays');

# 200 frames for one key, shuffled ts, in writes spread over many flushes.
my @ts = shuffle(1 .. 200);
my $s = $t->connect;
while (my @chunk = splice @ts, 0, 20) {
	print $s join '', map { Lars::frame(3, Lars::pb_report(modid => 2,
	    cmdid => 1, ts => 5000 + $_,
	    results => [[$hip, 80, $_, $_ + 1, $_ % 2]])) } @chunk;
	select(undef, undef, undef, 0.06);
}
close $s;
wait_get(2, 80, "200\t201\t5200\n",
    '200 reports in shuffled ts order: the largest ts stays');

# Older after newer, the newer already in the table.
$t->report('-m', 3, '-c', 1, '-C', 0, '-t', 9000, "$host:80:1:1:1");
wait_get(3, 80, "1\t1\t9000\n", 'newer stored');
$t->report('-m', 3, '-c', 1, '-C', 0, '-t', 8999, "$host:80:2:2:0",
    "$host:9001:0:0");
wait_get(3, 9001, "0\t0\t8999\n", 'older report handled (marker stored)');
is(get(3, 80), "1\t1\t9000\n", 'older did not overwrite newer');

# Older and newer in one connection, older last: coalescing keeps newer.
$s = $t->connect;
print $s Lars::frame(3, Lars::pb_report(modid => 4, cmdid => 1, ts => 700,
    results => [[$hip, 80, 7, 7, 1]]))
    . Lars::frame(3, Lars::pb_report(modid => 4, cmdid => 1, ts => 600,
    results => [[$hip, 80, 6, 6, 0], [$hip, 9001, 0, 0, 0]]));
close $s;
wait_get(4, 9001, "0\t0\t600\n", 'older frame after newer handled');
is(get(4, 80), "7\t7\t700\n", 'older frame after newer did not overwrite');

# Equal ts: the later-received wins.
$t->report('-m', 5, '-c', 1, '-C', 0, '-t', 3000, "$host:80:1:1");
wait_get(5, 80, "1\t1\t3000\n", 'first of equal ts stored');
$t->report('-m', 5, '-c', 1, '-C', 0, '-t', 3000, "$host:80:2:2");
wait_get(5, 80, "2\t2\t3000\n", 'equal ts, received later: replaces');

$s = $t->connect;
print $s join '', map { Lars::frame(3, Lars::pb_report(modid => 6,
    cmdid => 1, ts => 3000, results => [[$hip, 80, $_, $_, 0]])) } 1 .. 50;
close $s;
wait_get(6, 80, "50\t50\t3000\n",
    '50 frames of equal ts on one connection: the last stays');

$t->report('-m', 7, '-c', 1, '-C', 0, '-t', 3000, "$host:80:1:1",
    "$host:80:2:2");
wait_get(7, 80, "2\t2\t3000\n", 'equal ts within one report: the later');

# A restart with another worker count: the table's ts still guards.
is($t->stop_reporter, 0, 'stopped');
$t->conf('reporter.db_thread_cnt' => 2);
$t->run_reporter;
$t->report('-m', 3, '-c', 1, '-C', 0, '-t', 8000, "$host:80:3:3",
    "$host:9002:0:0");
wait_get(3, 9002, "0\t0\t8000\n", 'after restart: older report handled');
is(get(3, 80), "1\t1\t9000\n", 'after restart: older did not overwrite');
$t->report('-m', 3, '-c', 1, '-C', 0, '-t', 9001, "$host:80:4:4");
wait_get(3, 80, "4\t4\t9001\n", 'after restart: newer does');
is($t->stop_reporter, 0, 'stopped');

$t->done_testing;
