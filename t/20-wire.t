#!/usr/bin/perl
#
# Wire compatibility with the original reactor, frames built byte by byte
# here (t/lib/Lars.pm's encoder, not the client) and written to raw
# sockets: negative int32 as 10-byte varints, several frames per write,
# a frame spread over writes, empty and unknown frames, undecodable
# bodies, the largest body, and bad lengths that close only their own
# connection.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Lars;

my $t = Lars->new;
my $row = \&Lars::row;
my $ip = \&Lars::ip;

$t->conf;
$t->run_reporter;

sub report_frame {
	my ($modid, $cmdid, $caller, $ts, @results) = @_;
	return Lars::frame(3, Lars::pb_report(modid => $modid, cmdid => $cmdid,
	    caller => $caller, ts => $ts, results => \@results));
}

sub pause { select(undef, undef, undef, $_[0]) }

# True if the peer closes the socket within $timeout seconds.
sub closed_by_peer {
	my ($s, $timeout) = @_;
	my $end = time + $timeout;
	while (time <= $end) {
		my $rin = '';
		vec($rin, fileno($s), 1) = 1;
		next unless select(my $rout = $rin, undef, undef, 0.5);
		my $n = sysread($s, my $buf, 64);
		return 1 if !defined $n || $n == 0;
	}
	return 0;
}

my $bystander = $t->connect;
my $s = $t->connect;
my $expected = '';

# Negative ip and caller: 10-byte varints.
my $f = report_frame(100, 1, $ip->('200.0.0.1'), 1000,
    [$ip->('192.168.0.1'), 80, 5, 1, 1]);
is(length $f, 8 + 2 + 2 + 11 + (2 + 19) + 3,
    'frame with two 10-byte varints has the expected size');
print $s $f;
$expected .= $row->(100, 1, $ip->('192.168.0.1'), 80, $ip->('200.0.0.1'),
    5, 1, 1000, 1);

# Several frames in one write.
print $s join '', map { report_frame(101, $_, 7, 1001,
    [$ip->("10.0.0.$_"), 8000 + $_, $_, 0, 0]) } 1 .. 3;
$expected .= $row->(101, $_, $ip->("10.0.0.$_"), 8000 + $_, 7, $_, 0, 1001, 0)
    for 1 .. 3;

# One frame over five writes, with pauses, cut inside header and body.
$f = report_frame(102, 1, 7, 1002, [$ip->('10.0.1.1'), 80, 2, 2, 0],
    [$ip->('10.0.1.2'), 80, 3, 3, 1]);
for my $piece (substr($f, 0, 3), substr($f, 3, 5), substr($f, 8, 10),
    substr($f, 18, 1), substr($f, 19)) {
	print $s $piece;
	pause(0.3);
}
$expected .= $row->(102, 1, $ip->('10.0.1.1'), 80, 7, 2, 2, 1002, 0)
    . $row->(102, 1, $ip->('10.0.1.2'), 80, 7, 3, 3, 1002, 1);

# msgid 3 with an empty body: a report of nothing.  Then an unknown msgid
# with a body: skipped.  A valid frame after each.
print $s Lars::frame(3, '');
print $s report_frame(103, 1, 7, 1003, [1, 2, 3, 4, 0]);
print $s Lars::frame(77, 'x' x 20);
print $s report_frame(103, 2, 7, 1003, [1, 2, 3, 4, 0]);
$expected .= $row->(103, 1, 1, 2, 7, 3, 4, 1003, 0)
    . $row->(103, 2, 1, 2, 7, 3, 4, 1003, 0);

# A body that does not decode, then a report without results.
print $s Lars::frame(3, "\xff\xff\xff\xff");
print $s Lars::frame(3, Lars::pb_report(modid => 105, cmdid => 1,
    caller => 7, ts => 1005));
print $s report_frame(104, 1, 7, 1004, [1, 2, 3, 4, 1]);
$expected .= $row->(104, 1, 1, 2, 7, 3, 4, 1004, 1);

# The largest body the original accepts: 65527 bytes, padded with an
# unknown field (15, length-delimited) that a decoder must skip.
my $base = Lars::pb_report(modid => 106, cmdid => 1, caller => 7,
    ts => 1006, results => [[1, 2, 3, 4, 0]]);
my $padlen = 65527 - length($base) - 1 - 3;
my $body = $base . Lars::varint(15 << 3 | 2) . Lars::varint($padlen)
    . ('z' x $padlen);
is(length $body, 65527, 'padded body is 65527 bytes');
print $s Lars::frame(3, $body);
$expected .= $row->(106, 1, 1, 2, 7, 3, 4, 1006, 0);

# Bad lengths close their own connection, nobody else's.
my $bad1 = $t->connect;
print $bad1 pack('l<l<', 3, 65528);
ok(closed_by_peer($bad1, 10), 'msglen 65528: connection closed');
my $bad2 = $t->connect;
print $bad2 pack('l<l<', 3, -1) . ('y' x 16);
ok(closed_by_peer($bad2, 10), 'msglen -1: connection closed');

print $s report_frame(108, 1, 7, 1008, [1, 2, 3, 4, 0]);
print $bystander report_frame(107, 1, 7, 1007, [1, 2, 3, 4, 0]);
$expected .= $row->(107, 1, 1, 2, 7, 3, 4, 1007, 0)
    . $row->(108, 1, 1, 2, 7, 3, 4, 1008, 0);

ok($t->wait_rows($expected), 'table holds exactly the valid reports');
ok(!closed_by_peer($s, 0.5), 'the connection that sent odd frames is open');
ok(!closed_by_peer($bystander, 0.1), 'the bystander connection is open');
close $_ for $s, $bystander, $bad1, $bad2;

$t->done_testing;
