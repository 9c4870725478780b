#!/usr/bin/perl
#
# Key affinity: every (modid, cmdid) is upserted by one worker only, and
# the keys are spread over more than one worker.  At -vv each worker logs
# "worker N: row modid=M cmdid=C ..." for every row it upserts.

use strict;
use warnings;
use lib 't/lib';
use List::Util qw(shuffle);
use Test::More;
use Lars;

my $t = Lars->new;
$t->conf('reporter.db_thread_cnt' => 3);
$t->run_reporter('-vv');

my @keys = map { [1000 + $_, $_ % 7 - 3] } 1 .. 100;
my @conns = map { $t->connect } 1 .. 4;
for my $round (1 .. 2) {
	for my $c (0 .. $#conns) {
		my $s = $conns[$c];
		print $s join '', map { Lars::frame(3, Lars::pb_report(
		    modid => $_->[0], cmdid => $_->[1], caller => 9,
		    ts => 1000 + $round,
		    results => [[$c + 1, 80, $round, 0, 0]])) } shuffle @keys;
	}
}
close $_ for @conns;

ok($t->wait_for(sub { $t->sql('SELECT MIN(succ_cnt), COUNT(*) FROM '
    . 'lars_dns.ServerCallStatus') eq "2\t400\n" }, 30),
    '400 rows, all from the second round');

my %workers;	# "modid cmdid" -> { worker => count }
my $parse = sub {
	%workers = ();
	my $log = $t->log;
	while ($log =~ /worker (\d+): row modid=(-?\d+) cmdid=(-?\d+) /g) {
		$workers{"$2 $3"}{$1}++;
	}
	return keys %workers == @keys;
};
ok($t->wait_for($parse, 10), 'debug lines name every key')
    or diag(scalar(keys %workers) . ' keys seen');

my @split = grep { keys %{ $workers{$_} } > 1 } sort keys %workers;
ok(!@split, 'each (modid, cmdid) went to exactly one worker')
    or diag(map { "$_: workers " . join(',', sort keys %{ $workers{$_} })
    . "\n" } @split[0 .. ($#split > 9 ? 9 : $#split)]);

my %load;
for my $k (keys %workers) {
	$load{$_}++ for keys %{ $workers{$k} };
}
cmp_ok(scalar keys %load, '>', 1, 'more than one worker got keys')
    or diag(explain \%load);
note('keys per worker: ' . join(', ', map { "$_: $load{$_}" }
    sort keys %load));

$t->done_testing;
