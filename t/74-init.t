#!/usr/bin/perl
#
# make install into a temporary DESTDIR, then its LSB init script drives a
# real daemon: start, status, reload (checked with -n first), stop, with
# the LSB exit codes, and status 1 for a dead daemon's pidfile.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Lars;

my $t = Lars->new;
my $d = $t->dir;
my $root = "$d/root";
my $build = $Lars::BUILD;

my $r = $t->run(['make', '-s', "B=$build", "DESTDIR=$root", 'PREFIX=/usr/local',
    'install'], timeout => 300);
is($r->{status}, 0, 'make install DESTDIR=... PREFIX=/usr/local') or diag($r->{err});
for my $f (qw(usr/local/sbin/lars-reporter usr/local/bin/lars-report
    usr/local/share/man/man8/lars-reporter.8
    usr/local/share/man/man5/lars-reporter.conf.5
    usr/local/share/man/man1/lars-report.1 etc/lars/reporter.conf
    etc/init.d/lars-reporter etc/default/lars-reporter
    lib/systemd/system/lars-reporter.service
    lib/systemd/system/lars-reporter.socket)) {
	ok(-e "$root/$f", "installed $f");
}
is((stat "$root/etc/lars/reporter.conf")[2] & 0777, 0600,
    'the installed config is not readable by others');

my ($uid, $gid) = (getpwnam('nobody'))[2, 3];
mkdir "$d/run";
chown $uid, $gid, "$d/run";
chmod 01777, $d;
my $pidfile = "$d/run/init.pid";
my @common = ('reporter.pidfile' => $pidfile,
    'reporter.log_file' => "$d/reporter.log", 'reporter.user' => 'nobody');
my $conf = $t->conf(@common);
chown $uid, $gid, $conf;
my %env = (DAEMON => "$root/usr/local/sbin/lars-reporter", CONFIG => $conf,
    PIDFILE => $pidfile, STOP_RETRY => 'TERM/30/KILL/5');
sub init {
	my ($action) = @_;
	local @ENV{keys %env} = values %env;
	my $r = $t->run(["$root/etc/init.d/lars-reporter", $action], timeout => 60);
	return $r->{status};
}

is(init('status'), 3, 'status before start: 3 (not running)');
is(init('start'), 0, 'start: 0');
chomp(my $pid = $t->read_file('run/init.pid') // '');
ok($pid =~ /^\d+$/ && kill(0, $pid), "the daemon runs (pid $pid)");
is(init('start'), 0, 'start when running: 0');
is(init('status'), 0, 'status: 0 (running)');
$t->report('-m', 3, '-c', 4, '-t', 9, '10.9.9.9:53:1:0');
ok($t->wait_rows(Lars::row(3, 4, Lars::ip('10.9.9.9'), 53, 0, 1, 0, 9, 0)),
    'it stores reports');

is(init('reload'), 0, 'reload: 0');
ok($t->wait_log(qr/configuration reloaded: generation 2/), 'the daemon reloaded');
$t->write_file('reporter.conf', $t->read_file('reporter.conf') . "nonsense = 1\n");
is(init('reload'), 1, 'reload with an invalid config: 1');
unlike($t->log, qr/generation 3/, 'and the daemon was not signalled');
$t->conf(@common);
is(init('force-reload'), 0, 'force-reload: 0');
is(init('restart'), 0, 'restart: 0');
chomp(my $pid2 = $t->read_file('run/init.pid') // '');
ok($pid2 =~ /^\d+$/ && $pid2 != $pid && kill(0, $pid2), 'restart made a new master');

# upgrade: a new binary in place, under an agent-like load that would say
# if a connection closed
my $daemon = $env{DAEMON};
sub replace_binary {
	my ($text) = @_;
	if (defined $text) {
		open my $fh, '>', "$daemon.new" or die "$daemon.new: $!";
		print $fh $text;
		close $fh;
	} else {
		system('cp', "$build/lars-reporter", "$daemon.new") == 0 or die "cp";
	}
	chmod 0755, "$daemon.new";
	rename "$daemon.new", $daemon or die "rename: $!";
}
my $load = $t->start_load('-n', 2, '-T', 4, '-R', 2000, '-r', 3, '-k', 300,
    '-m', 100, '-e', 'never', '-o', "$d/expected.tsv");
sleep 1;
replace_binary();
is(init('upgrade'), 0, 'upgrade: 0');
chomp(my $pid3 = $t->read_file('run/init.pid') // '');
ok($pid3 =~ /^\d+$/ && $pid3 != $pid2 && kill(0, $pid3)
    && $t->wait_for(sub { !kill(0, $pid2) || `ps -o stat= -p $pid2` =~ /Z/ }),
    "the pidfile names the new master ($pid3), the old one ($pid2) is gone");
is(readlink("/proc/$pid3/exe"), $daemon, 'which runs the new binary');
replace_binary("#!/bin/sh\nexit 1\n");
is(init('upgrade'), 1, 'upgrade to a binary that fails -n: 1');
unlike($t->log, qr/SIGUSR2 from pid \d+: upgrading.*\n(?:.*\n)*.*SIGUSR2 from/,
    'and the daemon was not signalled');
# passes the script's -n, then cannot start
replace_binary("#!/bin/sh\ncase \" \$* \" in *' -n '*) exit 0;; esac\nexit 1\n");
is(init('upgrade'), 1, 'upgrade to a binary that cannot start: 1');
chomp(my $pid4 = $t->read_file('run/init.pid') // '');
ok($pid4 eq $pid3 && kill(0, $pid3), 'the same master serves on');
like($t->log, qr/upgrade FAILED: the new master \(pid \d+\) exited with status 1/,
    'and its log says why');
replace_binary();
waitpid($load, 0);
is($t->read_file('load.err') // '', '', 'no load connection closed');
ok($t->wait_rows(Lars::row(3, 4, Lars::ip('10.9.9.9'), 53, 0, 1, 0, 9, 0)
    . ($t->read_file('expected.tsv') // 'none')),
    'the whole table is what was sent across both upgrades');

is(init('stop'), 0, 'stop: 0');
ok(!-e $pidfile, 'the pidfile is gone');
is(init('status'), 3, 'status after stop: 3');
is(init('stop'), 0, 'stop when stopped: 0');
is(init('bogus'), 2, 'an unknown action: 2');

# a daemon that died without removing its pidfile
is(init('start'), 0, 'start again');
chomp($pid = $t->read_file('run/init.pid') // '');
kill 'KILL', $pid;
$t->wait_for(sub { !kill(0, $pid) || `ps -o stat= -p $pid` =~ /Z/ });
is(init('status'), 1, 'status with a dead master and its pidfile: 1');
# its workers see EOF and leave on their own
ok($t->wait_for(sub { !grep { /lars-reporter: worker/ && !/defunct/ }
    map { `ps -o args= -p $_` } split /\n/, `pgrep -P $pid` }, 10),
    'the orphaned workers exited');
init('stop');

$t->done_testing;
