#!/usr/bin/perl
#
# SIGUSR2 under load: the master hands its listening socket and every
# agent connection, with the bytes of a partial frame, to the binary now
# on disk.  The agent-like load (lars-report -e never) would say so if a
# connection closed; none does, the new image serves (/proc/PID/exe is the
# new file), and the table is exactly what the load and a raw connection
# sent.  Then a missing binary, one that exits at once, one that dies
# while starting, and a configuration that does not load: each leaves the
# serving master in place, says why, and loses nothing of a load that runs
# across all of them.

use strict;
use warnings;
use lib 't/lib';
use File::Copy qw(copy);
use Test::More;
use Time::HiRes qw(sleep);
use Lars;

my $t = Lars->new;
my $d = $t->dir;
my $ip = Lars::ip('10.8.8.8');
my $bin = "$d/sbin/lars-reporter";
mkdir "$d/sbin";

# the binary on disk is replaced the way install(1) does: a new file
sub install_binary {
	my ($from) = @_;
	copy($from, "$bin.new") or die "copy: $!";
	chmod 0755, "$bin.new";
	rename "$bin.new", $bin or die "rename: $!";
	return (stat $bin)[1];
}

sub frame {
	my ($modid, $cmdid) = @_;
	return Lars::frame(3, Lars::pb_report(modid => $modid, cmdid => $cmdid,
	    ts => 42, results => [[$ip, 80, $cmdid, 2, 1]]));
}

install_binary($t->bin('lars-reporter'));
$t->conf('reporter.flush_interval_ms' => 200);
$t->run_reporter({ bin => $bin });
my $old = $t->reporter_pid;

my $load = $t->start_load('-n', 4, '-T', 5, '-R', 4000, '-r', 3, '-k', 900,
    '-e', 'never', '-o', "$d/expected.tsv");
my $s = $t->connect;
my $f = frame(700000, 1);
print $s frame(700000, 2), substr($f, 0, 11);	# a frame and a half
sleep 1.5;

my $inode = install_binary($t->bin('lars-reporter'));
like(readlink("/proc/$old/exe") // '', qr/\(deleted\)$/,
    'the running master\'s image is no longer the file on disk');
$t->signal('USR2');
my ($new, $oldst) = $t->upgraded(1);
ok($new && $new != $old, 'SIGUSR2: a new master is ready (pid '
    . ($new // '?') . ')');
is($oldst, 0, 'the old master exited 0');
is(readlink("/proc/$new/exe"), $bin, '/proc/PID/exe of the new master is the file');
is((stat "/proc/$new/exe")[1], $inode, 'and it is the new file (inode)');
like($t->log, qr/upgrade: every record committed; started \Q$bin\E as pid $new with 5 agent connections/,
    'the old master committed everything before it handed 5 connections over');
print $s substr($f, 11), frame(700000, 3);	# the rest, to the new master
$s->flush;

waitpid($load, 0);
is($? >> 8, 0, 'the load exits 0');
my $out = $t->read_file('load.out') // '';
my $err = $t->read_file('load.err') // '';
is($err, '', 'no load connection was closed or reset') or diag($err);
like($out, qr/could not send 0 messages, 0 records; 0 reconnects/,
    'the load sent every report') or diag($out);
close $s;
my $expected = ($t->read_file('expected.tsv') // 'none')
    . join('', map { Lars::row(700000, $_, $ip, 80, 0, $_, 2, 42, 1) } 1 .. 3);
ok($t->wait_rows($expected), 'the whole table is what the agents sent, '
    . 'the frame split across the upgrade included');

# --- what cannot start leaves the serving master serving ---
my $serving = $t->reporter_pid;
$load = $t->start_load('-n', 2, '-T', 8, '-R', 2000, '-r', 3, '-k', 300,
    '-m', 5000, '-e', 'never', '-o', "$d/expected2.tsv");
sleep 0.5;
my @cases = (
    [ 'missing', sub { unlink $bin },
      qr/upgrade FAILED: \Q$bin\E: No such file or directory; still serving/ ],
    [ 'exits at once', sub { $t->write_file($bin, "#!/bin/sh\necho broken binary >&2\nexit 1\n"); chmod 0755, $bin },
      qr/upgrade FAILED: the new master \(pid \d+\) exited with status 1 before it was ready.*; still serving/ ],
    [ 'dies while starting', sub { $t->write_file($bin, "#!/bin/sh\nsleep 0.3\nkill -9 \$\$\n"); chmod 0755, $bin },
      qr/upgrade FAILED: the new master \(pid \d+\) was killed by signal 9 before it was ready; still serving/ ],
    [ 'bad configuration', sub {
	install_binary($t->bin('lars-reporter'));
	$t->write_file('reporter.conf', $t->read_file('reporter.conf') . "nonsense = 1\n") },
      qr/upgrade FAILED: the new master \(pid \d+\) exited with status 1 before it was ready.*; still serving/ ],
);
my $good = $t->read_file('reporter.conf');
my $n = 0;
for my $c (@cases) {
	my ($name, $break, $re) = @$c;
	$break->();
	my $off = length $t->log;
	$t->signal('USR2');
	ok($t->wait_for(sub { substr($t->log, $off) =~ $re }, 20),
	    "$name: the upgrade fails and says why")
	    or diag(substr($t->log, $off));
	ok(kill(0, $serving) && $t->reporter_pid == $serving,
	    "$name: the same master serves on");
	if ($name eq 'missing') {
		unlike(substr($t->log, $off), qr/not reading agents/,
		    "$name: checked before it stopped reading agents");
	} else {
		ok($t->wait_for(sub { substr($t->log, $off)
		    =~ /FAILED.*\n(?:.*\n)*.*worker 1 of generation \d+ started/ }),
		    "$name: with a new generation of workers");
	}
	$n++;
}
$t->write_file('reporter.conf', $good);
$t->report('-m', 6, '-c', 6, '-t', 66, '10.8.8.8:81:1:1');
waitpid($load, 0);
is($? >> 8, 0, 'the load across the failed upgrades exits 0');
$err = $t->read_file('load.err') // '';
is($err, '', 'and none of its connections closed') or diag($err);
$expected = $t->read_file('expected.tsv')
    . join('', map { Lars::row(700000, $_, $ip, 80, 0, $_, 2, 42, 1) } 1 .. 3);
my $all = join '', sort { my @a = split /\t/, $a; my @b = split /\t/, $b;
    $a[0] <=> $b[0] || $a[1] <=> $b[1] || $a[2] <=> $b[2] || $a[3] <=> $b[3]
    || $a[4] <=> $b[4] } map { "$_\n" } split /\n/, $expected
    . Lars::row(6, 6, $ip, 81, 0, 1, 1, 66, 0)
    . ($t->read_file('expected2.tsv') // 'none');
ok($t->wait_rows($all), 'the whole table is exact after the failed upgrades');
is($t->stop_reporter, 0, 'the upgraded master stops with 0');

$t->done_testing;
