#!/usr/bin/perl
#
# MariaDB restarted (stop, start) three times in a row, about 2 s apart,
# during a load of ~30k records/s over 20000 keys: each worker loses its
# connection, reconnects with backoff and re-sends what failed; the final
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

# The unix socket: a restarted MariaDB listens on a new TCP port.
$t->conf(socket => 1, 'reporter.db_thread_cnt' => 3);
$t->run_reporter;
ok($t->wait_for(sub { keys %{ $t->workers } == 3 }), 'three workers');
my %w0 = %{ $t->workers };

my $load = $t->start_load('-n', 8, '-T', 12, '-R', 3000, '-r', 10, '-k', 20000,
    '-o', "$d/expected.tsv");
my $t0 = time;
sleep 2;
for my $i (1 .. 3) {
	my $db0 = $t->db->{PID};
	$t->_stop_db;
	$t->_start_db;
	isnt($t->db->{PID}, $db0, sprintf "restart %d at %.1f s: a new server "
	    . "(pid %d)", $i, time - $t0, $t->db->{PID});
	sleep 2;
}

my $s = $t->zero_loss($load, keys => 20000, restarts => 0);

my $log = $t->log;
my $lost = () = $log =~ /MySQL error (?:2002|2006|2013|1053|1927)\b/g;
cmp_ok($lost, '>=', 3, "the log shows the lost server ($lost lines)");
my $connects = () = $log =~ /connected to MySQL/g;
cmp_ok($connects, '>=', 3 + 3, "and the workers reconnecting ($connects "
    . 'connects, 3 at start)');
cmp_ok($s->{mysql_connects}, '>=', 6, "stats: $s->{mysql_connects} MySQL "
    . 'connects');
is_deeply($t->workers, \%w0, 'the same workers still run');

$t->done_testing;
