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
    lib/systemd/system/lars-reporter.service)) {
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
