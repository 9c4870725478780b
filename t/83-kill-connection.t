#!/usr/bin/perl
#
# The server kills the reporter's MySQL connections (KILL CONNECTION of
# every connection of user lars, from information_schema.PROCESSLIST),
# twice during a load of ~30k records/s over 20000 keys: each worker sees
# the lost connection, reconnects and re-sends what failed; the final
# table is exactly the load generator's.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use Lars;

my $t = Lars->new;
my $d = $t->dir;

sub lars_conns {
	return split ' ', $t->sql("SELECT ID FROM information_schema.PROCESSLIST "
	    . "WHERE USER = 'lars' ORDER BY ID");
}

$t->conf('reporter.db_thread_cnt' => 3);
$t->run_reporter;
ok($t->wait_for(sub { keys %{ $t->workers } == 3 }), 'three workers');
my %w0 = %{ $t->workers };
ok($t->wait_for(sub { lars_conns() == 3 }), 'three connections of lars');

my $load = $t->start_load('-n', 8, '-T', 10, '-R', 3000, '-r', 10, '-k', 20000,
    '-o', "$d/expected.tsv");
my $t0 = time;
sleep 2;
my %killed;
for my $round (1 .. 2) {
	my @ids = lars_conns();
	is(scalar @ids, 3, "round $round: three connections of lars: @ids");
	for my $id (@ids) {
		# a connection may be gone already, or be ending: not an error
		my $r = $t->run(['mariadb', '--no-defaults',
		    "--socket=" . $t->db->{SOCKET}, '-u', scalar getpwuid($<),
		    '-e', "KILL CONNECTION $id"]);
		$killed{$id} = 1 unless $r->{status};
		diag("KILL CONNECTION $id: $r->{err}") if $r->{status};
	}
	cmp_ok(scalar(grep { $killed{$_} } @ids), '>=', 1,
	    sprintf "round %d at %.1f s: killed", $round, time - $t0);
	ok($t->wait_for(sub {
		my @now = lars_conns();
		@now == 3 && !grep { $killed{$_} } @now;
	}, 20), "round $round: three new connections")
	    or diag('now: ' . join ' ', lars_conns());
	sleep 2;
}

my $s = $t->zero_loss($load, keys => 20000, restarts => 0);

my $log = $t->log;
my @lost = $log =~ /(MySQL error (?:2006|2013|1927|1053)\b[^\n]*)/g;
cmp_ok(scalar @lost, '>=', 6, 'the log shows every lost connection')
    or diag($t->log_tail(40));
diag("lost: $_") for (sort { $a cmp $b } keys %{{ map { $_ => 1 } @lost }});
my $connects = () = $log =~ /connected to MySQL/g;
is($connects, 9, 'and every worker reconnecting twice (9 connects)');
is($s->{mysql_connects}, 9, 'stats: 9 MySQL connects');
is_deeply($t->workers, \%w0, 'the same workers still run');

$t->done_testing;
