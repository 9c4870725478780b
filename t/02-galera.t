#!/usr/bin/perl
#
# The Galera part of the harness (t/lib/galera.sh, t/lib/Galera.pm): a
# private 3-node cluster comes up Synced and Primary with the schema and
# the user lars on every node, replicates, survives a SIGKILLed node that
# then rejoins by IST, turns a cut-off node non-Primary (1047 on writes)
# and takes it back, and leaves no process behind, also when the test
# using it dies (checked in a child perl).  Timings go to diag.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(time);
use Lars;
use Galera;

# Beside a Lars object without its own MariaDB, as the failover tests use
# it: Lars makes the test a subreaper, so Galera must reap its nodes.
my $t = Lars->new(db => 0);
my $g = Galera->new;
diag(sprintf 'cluster start: %.1f s', $g->start_secs);

my $all = 'Synced Primary ON';
for my $n (1 .. 3) {
	is($g->state($n), $all, "node $n Synced Primary ready");
	is($g->sql($n, "SHOW STATUS LIKE 'wsrep_cluster_size'"),
	    "wsrep_cluster_size\t3\n", "node $n sees 3 members");
	cmp_ok(length $g->node($n)->{socket}, '<', 108, "node $n socket fits");
}
my @ports = map { $g->node($_)->{port} } 1 .. 3;
is($g->hosts, join(',', map { "127.0.0.1:$_" } @ports), 'hosts list');
is(scalar(grep { /\((mariadbd)\)/ } $g->procs), 3, 'three node processes');

# The reporter's view: user lars over TCP on every node, schema there.
my $n = 0;
sub put {
	my ($node) = @_;
	$n++;
	return $g->try_sql($node, 'INSERT INTO lars_dns.ServerCallStatus '
	    . "VALUES ($n,$node,3,4,5,6,7,8,'0')", lars => 1);
}
sub row { join("\t", $_[0], $_[1], 3, 4, 5, 6, 7, 8, 0) . "\n" }

my $r = put(1);
is($r->{status}, 0, 'user lars writes on node 1') or diag($r->{err});
my $want = row(1, 1);
is($g->rows($_), $want, "node $_ holds the row written on node 1")
    for 2, 3;

# SIGKILL node 2: the others keep a primary component and take writes
# (after a stall until node 2 is evicted).
my $pid2 = $g->node(2)->{pid};
$g->kill(2);
ok(!grep({ /^$pid2 / } $g->procs), 'node 2 is gone');
my $t0 = time;
$r = put(1);
is($r->{status}, 0, 'node 1 writable with node 2 dead') or diag($r->{err});
diag(sprintf 'first commit after the kill: %.1f s', time - $t0);
$want .= row(2, 1);
$r = put(3);
is($r->{status}, 0, 'node 3 writable with node 2 dead') or diag($r->{err});
$want .= row(3, 3);
for my $m (1, 3) {
	ok($g->wait_state($m, qr/^Synced Primary ON$/, 5), "node $m Primary");
	# The view change may trail the commit it unblocked: poll.
	ok($t->wait_for(sub { $g->sql($m, "SHOW STATUS LIKE "
	    . "'wsrep_cluster_size'") eq "wsrep_cluster_size\t2\n" }, 10),
	    "node $m sees 2 members");
}

$t0 = time;
ok(eval { $g->rejoin(2) }, 'node 2 rejoins') or diag($@);
diag(sprintf 'rejoin after SIGKILL: %.1f s', time - $t0);
is($g->state(2), $all, 'node 2 Synced again');
isnt($g->node(2)->{pid}, $pid2, 'as a new process');
is($g->rows(2), $want, 'node 2 holds the rows written while it was dead');
like(scalar `cat $g->{dir}/n2/mariadbd.err`, qr/IST received/,
    'by an incremental transfer, not a full one');

# Cut node 3 off: non-Primary, writes refused with 1047; the other two
# stay Primary.  Back: Synced, with what it missed.
$t0 = time;
$g->isolate(3, 1);
ok($g->wait_state(3, qr/non-Primary/, 20), 'isolated node 3 non-Primary');
diag(sprintf 'non-Primary after isolate: %.1f s', time - $t0);
$r = put(3);
like($r->{err}, qr/^ERROR 1047 /m, 'a write to it fails with 1047');
for my $m (1, 2) {
	ok($g->wait_state($m, qr/^Synced Primary ON$/, 5),
	    "node $m stays Primary");
}
$r = put(2);
is($r->{status}, 0, 'node 2 writable meanwhile') or diag($r->{err});
$want .= row($n, 2);
$t0 = time;
$g->isolate(3, 0);
ok($g->wait_synced(3, 60), 'node 3 Synced again after isolate 0');
diag(sprintf 'Synced after unisolate: %.1f s', time - $t0);
is($g->rows($_), $want, "node $_ holds the exact table") for 1 .. 3;

# Stop: nothing of the cluster left in /proc.
my @pids = map { $g->node($_)->{pid} } 1 .. 3;
$t0 = time;
ok($g->stop, 'stop');
diag(sprintf 'stop: %.1f s', time - $t0);
is_deeply([$g->procs], [], 'no process of the cluster left');
is_deeply([grep { -e "/proc/$_" } @pids], [], 'node pids gone (reaped)');

# A test that dies with a cluster up: its END stops the cluster and keeps
# the logs (not the data) for a look.
{
	$r = $t->run([$^X, '-It/lib', '-MTest::More', '-MLars', '-MGalera',
	    '-e', 'my $t = Lars->new(db => 0); my $g = Galera->new;'
	    . 'print "DIR=", $g->dir, "\n";'
	    . 'print "PIDS=", join(",", map { $g->node($_)->{pid} } 1..3),'
	    . '"\n"; die "boom\n";'], timeout => 200);
	my ($dir) = $r->{out} =~ /^DIR=(\S+)/m;
	my ($pids) = $r->{out} =~ /^PIDS=([\d,]+)/m;
	my @p = split /,/, $pids // '';
	isnt($r->{status}, 0, 'dying test exits nonzero');
	is(scalar @p, 3, 'it had three nodes') or diag($r->{out} . $r->{err});
	is_deeply([grep { -e "/proc/$_" } @p], [], 'its nodes are stopped');
	like($r->{err}, qr/kept cluster directory \Q$dir\E/, 'dir named')
	    if $dir;
	ok($dir && -s "$dir/n1/mariadbd.err" && !-e "$dir/n1/data",
	    'logs kept, data removed');
	File::Path::remove_tree($dir) if $dir && $dir =~ m{^/tmp/lars-galera-};
	# It also kept its Lars dir: named in its diag.
	my ($ldir) = $r->{err} =~ /kept test directory (\/tmp\/lars-\w+)/;
	File::Path::remove_tree($ldir) if $ldir;
}

$t->done_testing;
