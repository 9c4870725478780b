#!/usr/bin/perl
#
# A db_host list of two servers, A first: A is down when the reporter
# starts, so the workers write to B; A comes back read-only, and they stay
# on B; A takes writes again, and every worker moves back to A within
# db_failback_interval.  All under a load in which every key is written
# once: the rows of A and B together are exactly the expected table, and
# nothing is dropped; lars-status reads the host the workers write to.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(sleep time);
use Lars;

my $t = Lars->new;		# A, and the reporter
my $tb = Lars->new;		# B
my ($pa, $pb) = ($t->db->{PORT}, $tb->db->{PORT});
my $pw = $t->db->{PASSWORD};
for my $h ('localhost', '127.0.0.1') {
	$tb->sql("ALTER USER 'lars'\@'$h' IDENTIFIED BY '$pw'");
}

sub hosts {
	my $m = $t->metrics // '';
	return join ',', $m =~ /^lars_reporter_mysql_host\{worker="\d+"\} (\d+)$/mg;
}

$t->_stop_db;
my $mport = Lars::free_port();
$t->conf('mysql.db_host' => "127.0.0.1:$pa, 127.0.0.1:$pb",
    'mysql.db_failback_interval' => 1, 'mysql.db_connect_timeout' => 2,
    'reporter.metrics_listen' => "127.0.0.1:$mport");
$t->run_reporter;
ok($t->wait_for(sub { hosts() eq '2,2,2' }, 20),
    'A is down: every worker writes to B (host 2)') or diag(hosts());
like($t->log, qr/connected to MySQL lars\@127\.0\.0\.1:$pb\/lars_dns \(host 2 of 2\)/,
    'the log names B as host 2 of 2');

my $load = $t->unique_load(seconds => 15);
sleep 3;
{
	local $ENV{LARS_DB_OPTS} = '--read-only';
	$t->_start_db;
}
is($t->db->{PORT}, $pa, 'A is back on its port, read-only');
like($t->sql('SELECT @@GLOBAL.read_only'), qr/^1$/m, 'A is read-only');
sleep 4;
is(hosts(), '2,2,2', 'A is read-only: the workers stay on B');
unlike($t->log, qr/moved from MySQL/, 'no move yet');
# lars-status reads where the workers write: B, not the empty read-only A
my $r = $t->run([$t->bin('lars-status'), '-r', '-f', $t->dir . '/reporter.conf']);
my $shown = () = $r->{out} =~ /^\d+\t/mg;
is($t->sql('SELECT COUNT(*) FROM lars_dns.ServerCallStatus'), "0\n",
    'A holds no row yet');
cmp_ok($shown, '>', 0, "lars-status reads B, the host written to ($shown rows)")
    or diag($r->{err});

$t->sql('SET GLOBAL read_only = 0');
my $t0 = time;
ok($t->wait_for(sub { hosts() eq '1,1,1' }, 10),
    'A takes writes: every worker is back on A (host 1)') or diag(hosts());
diag(sprintf "moved back %.1f s after read_only = 0", time - $t0);
like($t->log, qr/moved from MySQL \S+:$pb\S* \(host 2\) back to \S+:$pa\S* \(host 1\)/,
    'the log says so');

my $rows = sub {
	my %u = map { $_ => 1 } split /^/, $t->rows . $tb->rows;
	return join '', sort {
		my @x = split /\t/, $a; my @y = split /\t/, $b;
		$x[0] <=> $y[0] || $x[1] <=> $y[1] || $x[2] <=> $y[2]
		    || $x[3] <=> $y[3] || $x[4] <=> $y[4] } keys %u;
};
$t->zero_loss($load, rows => $rows);
my $na = () = $t->rows =~ /\n/g;
my $nb = () = $tb->rows =~ /\n/g;
ok($na > 0 && $nb > 0, "rows on both servers: A $na, B $nb");

$t->done_testing;
