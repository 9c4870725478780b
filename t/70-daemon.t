#!/usr/bin/perl
#
# Daemon mode: without -d the starting process returns once the daemon is
# ready, the pidfile names the master, a second instance refuses and names
# it, the processes carry their titles, a worker killed with SIGKILL comes
# back and the slot keeps storing, a worker that dies right after start
# again and again is respawned with a growing delay, SIGTERM removes the
# pidfile.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Lars;

my $t = Lars->new;
my $d = $t->dir;
my $bin = $t->bin('lars-reporter');

# As root the daemon refuses to run without a user to drop to.
my $conf = $t->conf('reporter.pidfile' => "$d/refused.pid");
my $r = $t->run([$bin, '-f', $conf]);
if ($> == 0) {
	is($r->{status}, 1, 'as root without [reporter] user: exit 1');
	like($r->{err}, qr/refusing to run as root: set \[reporter\] user/,
	    'and says why');
}

# It runs as nobody: its pidfile in a directory nobody may write (so it
# can remove it), the test directory open for sanitizer logs.
my ($uid, $gid) = (getpwnam('nobody'))[2, 3];
mkdir "$d/run";
chown $uid, $gid, "$d/run";
chmod 01777, $d;
my $pidfile = "$d/run/lars.pid";
$conf = $t->conf('reporter.pidfile' => $pidfile,
    'reporter.log_file' => "$d/reporter.log", 'reporter.user' => 'nobody');
chown $uid, $gid, $conf;

sub titles {
	my %t;
	for (split /\n/, `ps -eo pid=,ppid=,args=`) {
		my ($pid, $ppid, $args) = /^\s*(\d+)\s+(\d+)\s+(.*?)\s*$/ or next;
		$t{$pid} = { ppid => $ppid, title => $args };
	}
	return \%t;
}

sub workers_of {
	my ($master) = @_;
	my $ps = titles();
	return { map { $ps->{$_}{title} =~ /^lars-reporter: worker (\d+)/
	    ? ($1 => $_) : () } grep { $ps->{$_}{ppid} == $master } keys %$ps };
}

$r = $t->run([$bin, '-f', $conf]);
is($r->{status}, 0, 'daemon start returns 0 once ready');
ok(-s $pidfile, 'pidfile written before the starter returned');
chomp(my $master = $t->read_file('run/lars.pid') // '');
ok($master =~ /^\d+$/ && kill(0, $master), "pidfile names a live master ($master)");
my $ps = titles();
like($ps->{$master}{title} // '', qr/^lars-reporter: master\b/, 'master title');
my $w = workers_of($master);
is_deeply([sort keys %$w], [1, 2, 3], 'three workers titled "worker N"');
my @owners = map { (stat "/proc/$_")[4] } $master, values %$w;
is_deeply(\@owners, [($uid) x 4], 'master and workers run as nobody');
like($t->log, qr/running as nobody \(uid $uid/, 'the drop is logged');

$r = $t->run([$bin, '-f', $conf]);
is($r->{status}, 1, 'a second instance exits 1');
like($r->{err}, qr/already running as pid $master\b/, 'and names the running pid');

# a worker killed with SIGKILL comes back in its slot and keeps storing
$t->report('-m', 1, '-c', 1, '-t', 100, '10.0.0.1:80:1:1');
ok($t->wait_rows(Lars::row(1, 1, Lars::ip('10.0.0.1'), 80, 0, 1, 1, 100, 0)),
    'a report is stored');
kill 'KILL', values %$w;
ok($t->wait_for(sub { keys %{ workers_of($master) } == 3 &&
    !grep { $w->{$_} == workers_of($master)->{$_} } 1 .. 3 }, 15),
    'all three killed workers respawned with new pids');
$t->report('-m', 1, '-c', 1, '-t', 101, '10.0.0.1:80:5:6');
ok($t->wait_rows(Lars::row(1, 1, Lars::ip('10.0.0.1'), 80, 0, 5, 6, 101, 0)),
    'the respawned workers store');
like($t->log, qr/worker \d \(pid \d+\) killed by signal 9/, 'the death is logged with its signal');

# crash loop: kill worker 2 as soon as it is back, four times
my $last = workers_of($master)->{2};
for my $i (1 .. 4) {
	kill 'KILL', $last;
	$t->wait_for(sub { my $n = workers_of($master)->{2};
	    defined $n && $n != $last }, 20);
	$last = workers_of($master)->{2};
}
my @delays = $t->log =~ /worker 2: respawning in (\d+) ms \(\d+ quick deaths/g;
ok(@delays >= 3, 'quick deaths are throttled: ' . join(' ', @delays) . ' ms');
ok(@delays >= 3 && $delays[-1] > $delays[0], 'with a growing delay');

is(kill('TERM', $master), 1, 'SIGTERM sent to the master');
ok($t->wait_for(sub { !kill(0, $master) || `ps -o stat= -p $master` =~ /Z/ }, 30),
    'the master exits');
ok(!-e $pidfile, 'the pidfile is removed');
like($t->log, qr/exiting with status 0/, 'exit status 0 logged');
ok($t->wait_for(sub { !grep { $_->{title} =~ /^lars-reporter: worker/ &&
    $_->{ppid} == $master } values %{ titles() } }, 10), 'no worker left');

$t->done_testing;
