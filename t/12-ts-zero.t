#!/usr/bin/perl
#
# ts 0 (the agent did not set it) is stamped with the reporter's receive
# time, whether the field is absent or sent as an explicit 0.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Lars;

my $t = Lars->new;
$t->conf;
$t->run_reporter;

sub stored_ts {
	my ($modid) = @_;
	my $ts;
	$t->wait_for(sub {
		$ts = $t->sql('SELECT ts FROM lars_dns.ServerCallStatus '
		    . "WHERE modid=$modid");
		$ts ne '';
	}, 20);
	chomp $ts;
	return $ts;
}

my $before = time;
$t->report('-m', 1, '-c', 1, '-C', 0, '-t', 0, '1.2.3.4:80:1:0');
my $ts = stored_ts(1);
my $after = time;
ok($ts ne '' && $ts >= $before && $ts <= $after,
    'lars-report -t 0: stamped with receive time')
    or diag("ts '$ts', sent between $before and $after");

my $hip = Lars::ip('1.2.3.4');
my $body = Lars::pb_report(modid => 2, cmdid => 1,
    results => [[$hip, 80, 1, 0, 0]]);
my $s = $t->connect;
$before = time;
print $s Lars::frame(3, $body);
print $s Lars::frame(3, Lars::pb_report(modid => 3, cmdid => 1,
    results => [[$hip, 80, 1, 0, 0]]) . "\x28\x00");
close $s;
for my $m (2, 3) {
	$ts = stored_ts($m);
	$after = time;
	ok($ts ne '' && $ts >= $before && $ts <= $after,
	    $m == 2 ? 'absent ts: stamped' : 'explicit ts 0: stamped')
	    or diag("ts '$ts', sent between $before and $after");
}

$t->done_testing;
