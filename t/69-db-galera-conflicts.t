#!/usr/bin/perl
#
# Galera certification conflicts: the reporter writes hot keys through
# node 1 while another client, through node 2, keeps rewriting a quarter
# of the same rows (cmdid <= 50) in transactions that leave every value as
# it found it (each row's overload flipped twice).  The reporter's COMMITs that lose certification
# fail with 1213; they are retried, never taken for a row's fault, and the
# table on every node ends exactly as the load generator expects.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(sleep time);
use Lars;
use Galera;

my $t = Lars->new(db => 0);
my $g = Galera->new;
$t->conf('mysql.db_host' => $g->hosts, 'mysql.db_port' => undef,
    'mysql.db_passwd' => $g->password);
$t->run_reporter;
my $d = $t->dir;
my $load = $t->start_load('-n', 4, '-T', 12, '-R', 1000, '-r', 10, '-k', 2000,
    '-o', "$d/expected.tsv");
sleep 2;

my $flip = "UPDATE lars_dns.ServerCallStatus SET overload = "
    . "IF(overload = '1', '0', '1') WHERE cmdid <= 50";
my ($ok, $lost, $t0) = (0, 0, time);
while (time - $t0 < 8) {
	my $r = $g->try_sql(2, "START TRANSACTION; $flip; $flip; COMMIT");
	$r->{status} ? $lost++ : $ok++;
}
diag("the other writer: $ok transactions committed, $lost lost");
cmp_ok($ok, '>', 0, 'the other writer committed through node 2');

my $s = $t->zero_loss($load, rows => sub { $g->rows(1) }, timeout => 90);
my $expected = $t->read_file('expected.tsv');
is($g->rows($_), $expected, "node $_ holds exactly the expected table")
    for 2, 3;
my $conflicts = () = $t->log =~ /MySQL error 1213\b/g;
diag("the reporter's 1213 lines: $conflicts; retries: $s->{retries}");
cmp_ok($conflicts, '>', 0, 'the reporter met certification conflicts (1213)');
cmp_ok($s->{retries}, '>', 0, 'and retried them');
unlike($t->log, qr/storing it in parts/, 'never taken for a bad row');

$t->done_testing;
