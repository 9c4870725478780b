#!/usr/bin/perl
#
# A real 3-node MariaDB Galera cluster (t/lib/Galera.pm), the reporter's
# db_host its three nodes in order, under a load in which every key is
# written once:
#  - SIGKILL the node the workers write to (node 1): they move to node 2;
#    node 1 rejoins (IST) and takes writes again: they move back;
#  - cut node 1 off the cluster (gmcast.isolate): it leaves the primary
#    component (1047, 1180 for a COMMIT in flight): they move to node 2
#    again, and back once it rejoins;
# and at the end every node holds exactly the expected table, nothing
# dropped.  The figures (time to fail over, rows held, time until exact)
# are printed as diag lines.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(sleep time);
use Lars;
use Galera;

my $t = Lars->new(db => 0);
my $g = Galera->new;
diag(sprintf "cluster up in %.1f s", $g->start_secs);
my $mport = Lars::free_port();
$t->conf('mysql.db_host' => $g->hosts, 'mysql.db_port' => undef,
    'mysql.db_passwd' => $g->password, 'mysql.db_failback_interval' => 2,
    'mysql.db_connect_timeout' => 2, 'mysql.db_read_timeout' => 10,
    'mysql.db_write_timeout' => 10,
    'reporter.metrics_listen' => "127.0.0.1:$mport");

sub hosts {
	my $m = $t->metrics // '';
	return join ',', $m =~ /^lars_reporter_mysql_host\{worker="\d+"\} (\d+)$/mg;
}

# Wait until every worker writes to node $n; the seconds it took.
sub on_node {
	my ($n, $what, $timeout) = @_;
	my $t0 = time;
	my $want = join ',', ($n) x 3;
	ok($t->wait_for(sub { hosts() eq $want }, $timeout // 30),
	    "$what: every worker writes to node $n") or diag(hosts());
	return time - $t0;
}

$t->run_reporter;
on_node(1, 'start');
my $load = $t->unique_load(rate => 300, seconds => 40);
sleep 4;

$g->kill(1);
my $fail = on_node(2, 'node 1 killed');
diag(sprintf "failed over to node 2 in %.1f s after SIGKILL", $fail);
sleep 2;
my $t0 = time;
$g->rejoin(1);
diag(sprintf "node 1 rejoined in %.1f s", time - $t0);
my $back = on_node(1, 'node 1 rejoined');
diag(sprintf "back on node 1 %.1f s after it was Synced", $back);

sleep 2;
$t0 = time;
$g->isolate(1, 1);
ok($g->wait_state(1, qr/non-Primary/, 30), 'node 1 is cut off: non-Primary')
    or diag($g->state(1) // 'no answer');
diag(sprintf "node 1 non-Primary %.1f s after gmcast.isolate", time - $t0);
my $away = on_node(2, 'node 1 non-Primary', 40);
diag(sprintf "on node 2 %.1f s after the isolation", time - $t0);
$g->isolate(1, 0);
ok($g->wait_synced(1, 90), 'node 1 is back in the cluster');
on_node(1, 'node 1 back', 40);

my $s = $t->zero_loss($load, rows => sub { $g->rows(1) }, timeout => 90);
my $expected = $t->read_file('expected.tsv');
is($g->rows($_), $expected, "node $_ holds exactly the expected table")
    for 2, 3;
my @held = $t->log =~ /(\d+) rows held; retrying/g;
my $held = 0;
$held += $_ for @held;
diag("rows held by workers when their node failed (re-sent): $held, in "
    . scalar(@held) . " episodes");
my @codes = $t->log =~ /MySQL error (\d+)/g;
my %c = map { $_ => 1 } @codes;
diag("MySQL errors met: " . join ' ', sort keys %c);
like($t->log, qr/moved from MySQL \S+ \(host 2\) back to \S+ \(host 1\)/,
    'the log shows the move back to node 1');

$t->done_testing;
