#!/usr/bin/perl
#
# Hostile input against the running daemon (SPEC section 2).  Every case
# is followed by a valid report that must still be stored; each bad input
# is counted (USR1 stats) and logged with the peer's address.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Lars;
use Time::HiRes qw(sleep);

my $t = Lars->new;
my $ip = Lars::ip('10.7.7.7');
my $n = 0;

$t->conf('reactor.max_results' => 100);
$t->run_reporter;

sub good {
	my ($cmdid) = @_;
	return Lars::frame(3, Lars::pb_report(modid => 500, cmdid => $cmdid,
	    ts => 1000 + $cmdid, results => [[$ip, 80, $cmdid, 1, 0]]));
}

# after each case: a valid report on a fresh connection lands
sub still_stores {
	my ($name) = @_;
	$n++;
	my $s = $t->connect;
	print $s good($n);
	close $s;
	ok($t->wait_for(sub { $t->sql("SELECT succ_cnt FROM lars_dns.ServerCallStatus "
	    . "WHERE modid = 500 AND cmdid = $n") eq "$n\n" }), "$name: a valid report is still stored");
}

sub closed_by_peer {
	my ($s) = @_;
	my $buf;
	$s->blocking(1);
	local $SIG{ALRM} = sub { die "alarm\n" };
	alarm 5;
	my $r = eval { sysread($s, $buf, 1) };
	alarm 0;
	return defined $r && $r == 0;
}


my $s = $t->connect;
print $s "GET / HTTP/1.0\r\n\r\n" . ("\xff" x 100);
ok(closed_by_peer($s), 'garbage: the connection is closed (bad length)');
like($t->log, qr/127\.0\.0\.1:\d+: closed: frame length \d+ out of range/, 'and logged with the peer');
still_stores('garbage');

$s = $t->connect;
print $s pack('l<l<', 3, 65528);
ok(closed_by_peer($s), 'length 65528: closed');
still_stores('oversized length');

$s = $t->connect;
print $s pack('l<l<', 3, -1);
ok(closed_by_peer($s), 'negative length: closed');
still_stores('negative length');

# zero-length frames in the middle of a read and at its end, then valid
$n++;
$s = $t->connect;
print $s Lars::frame(3, '') . good($n) . Lars::frame(3, '') . Lars::frame(3, '');
sleep 0.2;
print $s Lars::frame(3, '');
close $s;
ok($t->wait_for(sub { $t->sql("SELECT succ_cnt FROM lars_dns.ServerCallStatus "
    . "WHERE modid = 500 AND cmdid = $n") eq "$n\n" }),
    'zero-length frames in the middle and at the end of reads: the valid one lands');

$n++;
$s = $t->connect;
print $s Lars::frame(77, 'x' x 300) . good($n);
close $s;
ok($t->wait_for(sub { $t->sql("SELECT COUNT(*) FROM lars_dns.ServerCallStatus "
    . "WHERE modid = 500 AND cmdid = $n") eq "1\n" }),
    'unknown msgid: skipped, the next frame on the same connection is stored');
like($t->log, qr/skipped a frame of unknown msgid 77 \(300 bytes\)/, 'unknown msgid logged');

# a body that does not decode: a length-delimited field cut short
$n++;
$s = $t->connect;
print $s Lars::frame(3, "\x22\x10\x08\x01") . good($n);
close $s;
ok($t->wait_for(sub { $t->sql("SELECT COUNT(*) FROM lars_dns.ServerCallStatus "
    . "WHERE modid = 500 AND cmdid = $n") eq "1\n" }),
    'truncated body: dropped, the next frame is stored');
like($t->log, qr/do not decode as ReportStatusReq/, 'undecodable body logged');

# a huge repeated count: 20000 empty results (over max_results 100)
$n++;
$s = $t->connect;
print $s Lars::frame(3, Lars::pb_varint_field(1, 501) . ("\x22\x00" x 20000)) . good($n);
close $s;
ok($t->wait_for(sub { $t->sql("SELECT COUNT(*) FROM lars_dns.ServerCallStatus "
    . "WHERE modid = 500 AND cmdid = $n") eq "1\n" }),
    'a huge repeated count: dropped, the next frame is stored');
like($t->log, qr/20000 results, max_results is 100/, 'too many results logged');
is($t->sql("SELECT COUNT(*) FROM lars_dns.ServerCallStatus WHERE modid = 501"), "0\n",
    'nothing of the oversized report stored');

# a valid frame one byte at a time
$n++;
$s = $t->connect;
for my $b (split //, good($n)) {
	print $s $b;
	sleep 0.01;
}
close $s;
ok($t->wait_for(sub { $t->sql("SELECT succ_cnt FROM lars_dns.ServerCallStatus "
    . "WHERE modid = 500 AND cmdid = $n") eq "$n\n" }), 'a frame sent one byte at a time is stored');

my $st = $t->stats;
ok($st->{bad_length} >= 3, "bad lengths counted ($st->{bad_length})");
ok($st->{bad_msgid} >= 1, 'unknown msgid counted');
ok($st->{bad_body} >= 1, 'undecodable body counted');
ok($st->{too_many} >= 1, 'too many results counted');
ok($st->{empty} >= 4, 'empty reports counted');

$t->stop_reporter;

# 2,000 connections at once against max_conns 100
$t->conf('reactor.max_conns' => 100);
$t->run_reporter;
my @conns;
for (1 .. 2000) {
	my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port,
	    Proto => 'tcp') or last;
	push @conns, $c;
}
is(scalar @conns, 2000, '2000 connections opened (the kernel accepts them)');
$st = $t->stats;
ok($st->{connections} <= 100, "at most max_conns held ($st->{connections})");
ok($st->{rejected} >= 1800, "the rest closed at accept and counted ($st->{rejected})");
my $logged = () = $t->log =~ /closed at accept: max_conns reached/g;
ok($logged >= 1 && $logged < 20, "refusals logged, rate-limited ($logged lines)");
close $_ for @conns;
@conns = ();
$t->wait_for(sub { $t->stats->{connections} == 0 });
still_stores('2000 connections');
$t->stop_reporter;

# 200 slowloris connections while an agent keeps reporting
$t->conf('reactor.frame_timeout' => 2);
$t->run_reporter;
for (1 .. 200) {
	my $c = $t->connect;
	print $c substr(good(1), 0, 5);	# half a header, then nothing
	push @conns, $c;
}
my $agent = $t->connect;
my $landed = 0;
for my $i (1 .. 30) {
	$n++;
	print $agent good($n);
	sleep 0.1;
}
ok($t->wait_for(sub { $t->sql("SELECT COUNT(*) FROM lars_dns.ServerCallStatus "
    . "WHERE modid = 500 AND cmdid > " . ($n - 30)) eq "30\n" }),
    'the agent\'s 30 reports land while 200 slow connections hang');
ok($t->wait_for(sub { $t->stats->{timeouts} >= 200 }, 10),
    'the 200 slow connections are closed by frame_timeout');
ok(closed_by_peer($conns[0]), 'a slow connection sees the close');
close $_ for @conns;
$n++;
print $agent good($n);
close $agent;
ok($t->wait_for(sub { $t->sql("SELECT COUNT(*) FROM lars_dns.ServerCallStatus "
    . "WHERE modid = 500 AND cmdid = $n") eq "1\n" }), 'the agent\'s connection stayed usable');
$t->stop_reporter;

# a peer outside the allow list
$t->conf('reactor.allow' => '10.0.0.0/8, ::1');
$t->run_reporter;
$s = $t->connect;
ok(closed_by_peer($s), '127.0.0.1 outside allow: closed at once');
like($t->log, qr/127\.0\.0\.1:\d+: closed at accept: not in the allow list/, 'logged with the peer');
ok($t->stats->{denied} >= 1, 'counted');
$t->stop_reporter;
$t->conf('reactor.allow' => '10.0.0.0/8', extra => "[reactor]\nallow = 127.0.0.0/8\n");
$t->run_reporter;
still_stores('allow 127.0.0.0/8 (a second allow line adds)');

$t->done_testing;
