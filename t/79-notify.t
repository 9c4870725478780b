#!/usr/bin/perl
#
# sd_notify(3), as a Type=notify service manager sees it: a datagram
# socket named by NOTIFY_SOCKET receives READY=1 once the workers run,
# RELOADING=1 and READY=1 around SIGHUP, MAINPID= of the new master after
# a SIGUSR2 upgrade (from both masters), STOPPING=1 on SIGTERM; all under
# an agent-like load whose table is compared whole at the end.  Then the
# real systemd-socket-activate(1), where there is one, passes the socket
# the sd_listen_fds(3) way and the daemon serves on it.

use strict;
use warnings;
use lib 't/lib';
use File::Copy qw(copy);
use IO::Select;
use IO::Socket::UNIX;
use Socket qw(SOCK_DGRAM);
use Test::More;
use Time::HiRes qw(sleep);
use Lars;

my $t = Lars->new;
my $d = $t->dir;
my $path = "$d/notify";
my $ns = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => $path)
    or die "notify socket: $!";
$ENV{NOTIFY_SOCKET} = $path;
my $sel = IO::Select->new($ns);

# Every datagram within $timeout s until one matches $re: the matching one.
sub expect_msg {
	my ($re, $timeout) = @_;
	my $end = time + ($timeout // 20);
	while (time < $end) {
		next unless $sel->can_read(0.5);
		my $m;
		defined $ns->recv($m, 4096) or next;
		return $m if $m =~ $re;
	}
	return undef;
}

my $bin = "$d/lars-reporter";
copy($t->bin('lars-reporter'), $bin) or die "copy: $!";
chmod 0755, $bin;
$t->conf;
$t->run_reporter({ bin => $bin });
my $old = $t->reporter_pid;
like(expect_msg(qr/READY=1/) // '', qr/^READY=1\nSTATUS=3 workers$/,
    'READY=1 once the workers run');

my $load = $t->start_load('-n', 2, '-T', 4, '-R', 2000, '-r', 3, '-k', 300,
    '-e', 'never', '-o', "$d/expected.tsv");
sleep 0.5;
$t->signal('HUP');
ok(expect_msg(qr/^RELOADING=1$/), 'SIGHUP: RELOADING=1');
ok(expect_msg(qr/^READY=1$/), 'and READY=1 when the reload is done');

copy($t->bin('lars-reporter'), "$bin.new") or die;
chmod 0755, "$bin.new";
rename "$bin.new", $bin or die;
$t->signal('USR2');
my ($new) = $t->upgraded(1);
ok($new, 'SIGUSR2: upgraded');
my @mainpid;
while (defined(my $m = expect_msg(qr/MAINPID=/, 3))) {
	push @mainpid, $m;
	last if @mainpid == 2;
}
is_deeply([sort @mainpid], [sort("MAINPID=$new", "MAINPID=$new\nREADY=1")],
    'MAINPID= of the new master, from the old one and the new one');

waitpid($load, 0);
is($t->read_file('load.err') // '', '', 'no load connection closed');
ok($t->wait_rows($t->read_file('expected.tsv') // 'none'),
    'the table is what the load sent');
$t->signal('TERM');
ok(expect_msg(qr/^STOPPING=1$/), 'SIGTERM: STOPPING=1');
is($t->stop_reporter, 0, 'exit 0');

SKIP: {
	my ($sa) = grep { -x } map { "$_/systemd-socket-activate" }
	    split /:/, $ENV{PATH};
	skip 'no systemd-socket-activate', 3 unless $sa;
	delete $ENV{NOTIFY_SOCKET};
	$t->conf;
	my $port = $t->port;
	my $log = "$d/activate.log";
	my $pid = fork // die;
	if ($pid == 0) {
		setpgrp(0, 0);
		open STDOUT, '>', $log;
		open STDERR, '>&', \*STDOUT;
		exec $sa, '-l', "127.0.0.1:$port", $t->bin('lars-reporter'),
		    '-d', '-f', "$d/reporter.conf";
		exit 127;
	}
	push @{ $t->{pgids} }, $pid;
	# it listens first and starts the daemon at the first connection
	ok($t->wait_for(sub { $t->_port_open }), 'systemd-socket-activate listens');
	$t->report('-m', 7, '-c', 7, '-t', 77, '10.1.1.1:70:7:0');
	ok($t->wait_rows($t->read_file('expected.tsv')
	    . Lars::row(7, 7, Lars::ip('10.1.1.1'), 70, 0, 7, 0, 77, 0)),
	    'the activated daemon stores it');
	like($t->read_file('activate.log') // '',
	    qr/listening on 127\.0\.0\.1:$port \(a socket the parent holds\)/,
	    'on the socket systemd-socket-activate passed');
	kill 'TERM', $pid;
	waitpid($pid, 0);
}

$t->done_testing;
