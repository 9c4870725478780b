#!/usr/bin/perl
#
# make-corpus.pl [dir]: write the seed corpus of fuzz_report into dir
# (default: the corpus/ beside this script), replacing what is there.
#
# Each file is one input of the target: byte 0 the chunk schedule (0: the
# stream in one read, 1-127: reads of that many bytes, 128-255: reads of
# pseudo-random sizes), then a TCP stream of Lars frames (int32 msgid,
# int32 msglen, little-endian, then the body).  Bodies are protobuf
# encoded by hand, varint by varint, so that they can be wrong on purpose
# and do not depend on the client.  The output is the same on every run.

use strict;
use warnings;
use File::Basename qw(dirname);

my $dir = shift // dirname($0) . '/corpus';

# Schedules.
my $WHOLE = 0;
my $BYTES = 1;		# split at every byte

# protobuf wire types
my ($VARINT, $I64, $LEN, $I32) = (0, 1, 2, 5);

sub varint {
	my ($v) = @_;
	my $u = unpack('Q<', pack('q<', $v));	# int32 < 0: 10 bytes
	my $s = '';

	while ($u >= 0x80) {
		$s .= chr(($u & 0x7f) | 0x80);
		$u >>= 7;
	}
	return $s . chr($u);
}

sub key { my ($field, $wt) = @_; return varint($field << 3 | $wt) }
sub vfield { my ($f, $v) = @_; return key($f, $VARINT) . varint($v) }
sub lfield { my ($f, $b) = @_; return key($f, $LEN) . varint(length $b) . $b }

# HostCallResult: proto3 leaves out fields that are 0.
sub result {
	my (%r) = @_;
	my $b = '';
	my $i = 1;
	for my $k (qw(ip port succ err overload)) {
		$b .= vfield($i, $r{$k}) if $r{$k};
		$i++;
	}
	return $b;
}

# ReportStatusReq from modid, cmdid, caller, ts and a list of results.
sub report {
	my (%q) = @_;
	my $b = '';
	$b .= vfield(1, $q{modid}) if $q{modid};
	$b .= vfield(2, $q{cmdid}) if $q{cmdid};
	$b .= vfield(3, $q{caller}) if $q{caller};
	$b .= lfield(4, result(%$_)) for @{ $q{results} // [] };
	$b .= vfield(5, $q{ts}) if $q{ts};
	return $b;
}

sub frame {
	my ($id, $body) = @_;
	return pack('l<l<', $id, length $body) . $body;
}
sub report_frame { return frame(3, report(@_)) }

# n results of host 10.0.0.k:8000+k, like an agent's.
sub hosts {
	my ($n) = @_;
	return [ map { { ip => 0x0a000000 + $_, port => 8000 + $_,
	    succ => 3 * $_, err => $_ % 3, overload => $_ % 7 == 0 } }
	    1 .. $n ];
}

# A deterministic byte source (not perl's rand, which differs by build).
my $lcg = 12345;
sub garbage {
	my ($n) = @_;
	my $s = '';
	for (1 .. $n) {
		$lcg = ($lcg * 1103515245 + 12345) % 2**31;
		$s .= chr($lcg >> 16 & 0xff);
	}
	return $s;
}

my $std = report(modid => 1, cmdid => 1, caller => 7, ts => 1700000000,
    results => hosts(1));
my %seed;

$seed{'one-result'} = [$WHOLE, report_frame(modid => 1, cmdid => 1,
    caller => 7, ts => 1700000000, results => hosts(1))];
$seed{'ten-results'} = [$BYTES, report_frame(modid => 2, cmdid => 3,
    caller => 1, ts => 1700000001, results => hosts(10))];
$seed{'hundred-results'} = [200, report_frame(modid => 70001,
    cmdid => 9, caller => 2, ts => 1700000002, results => hosts(100))];
$seed{'negative-ip'} = [$WHOLE, report_frame(modid => 1, cmdid => 1,
    caller => 1, ts => 1700000003, results => [ { ip => -1062731775,
    port => 80, succ => 1 }, { ip => -1, port => -1, err => 1 } ])];
$seed{'negative-ids'} = [7, report_frame(modid => -2147483648,
    cmdid => 2147483647, caller => -1, ts => 4294967295,
    results => hosts(2))];
$seed{'max-counts'} = [5, report_frame(modid => 1, cmdid => 2, caller => 3,
    ts => 1700000004, results => [ { ip => 1, port => 2,
    succ => 4294967295, err => 4294967295, overload => 1 },
    { ip => 2, succ => 2147483648, err => 2147483647 } ])];
$seed{'ts-zero'} = [$WHOLE, report_frame(modid => 5, cmdid => 6,
    caller => 1, results => hosts(3))];
# ts = 0 written out, not left out: still 0.
$seed{'ts-zero-explicit'} = [3, frame(3, vfield(1, 5) . vfield(2, 6) .
    lfield(4, result(ip => 1, port => 2, succ => 1)) . vfield(5, 0))];
$seed{'empty-body-middle'} = [$BYTES, frame(3, $std) . frame(3, '') .
    frame(3, $std)];
$seed{'empty-body-end'} = [2, frame(3, $std) . frame(3, '')];
$seed{'empty-report'} = [$WHOLE, report_frame(modid => 1, cmdid => 1,
    ts => 1700000005)];
$seed{'unknown-msgid'} = [$WHOLE, frame(1, vfield(1, 1) . vfield(2, 1)) .
    frame(3, $std)];
$seed{'unknown-msgid-negative'} = [150, frame(-1, garbage(40)) .
    frame(0, '') . frame(2, 'x' x 10) . frame(3, $std)];
$seed{'truncated-body'} = [$WHOLE, pack('l<l<', 3, length($std) + 20) .
    $std];
$seed{'truncated-header'} = [$BYTES, frame(3, $std) . substr(frame(3, $std),
    0, 5)];
$seed{'truncated-protobuf'} = [$WHOLE, frame(3, substr($std, 0, -3)) .
    frame(3, $std)];
$seed{'bad-result-length'} = [$WHOLE, frame(3, vfield(1, 1) . key(4, $LEN) .
    varint(100) . result(ip => 1))];
$seed{'garbage'} = [$WHOLE, garbage(300)];
$seed{'garbage-body'} = [9, frame(3, garbage(200)) . frame(3, $std)];
$seed{'negative-length'} = [$WHOLE, frame(3, $std) .
    pack('l<l<', 3, -1) . $std];
$seed{'negative-length-min'} = [4, pack('l<l<', 3, -2147483648) . $std];
# The largest body, and the most results one can hold: the decoder's
# worst case, which dispatch.c's arena must fit (over max_results).
$seed{'max-body'} = [$WHOLE, frame(3, vfield(1, 128) .
    (key(4, $LEN) . varint(0)) x 32762)];
# 65528 closes the stream: what follows is never read.
$seed{'over-max-body'} = [$WHOLE, frame(3, $std) . pack('l<l<', 3, 65528) .
    'x' x 64];
$seed{'max-body-header-only'} = [$WHOLE, pack('l<l<', 3, 65527) .
    'x' x 64];
$seed{'several-frames'} = [$WHOLE, join('', map { report_frame(modid => $_,
    cmdid => $_ * 2, caller => 1, ts => 1700000000 + $_,
    results => hosts($_)) } 1 .. 6)];
$seed{'several-frames-random'} = [231, $seed{'several-frames'}[1]];
$seed{'several-frames-7'} = [7, $seed{'several-frames'}[1]];
# Fields in an odd order, repeated (the last wins), of unknown numbers and
# every wire type, a bool that is not 1, an overlong uint32.
$seed{'odd-fields'} = [$WHOLE, frame(3, vfield(5, 1) . vfield(1, 9) .
    vfield(1, 10) . key(9, $I32) . 'abcd' . key(10, $I64) . 'abcdefgh' .
    lfield(11, 'zz') . vfield(12, 1) . lfield(4, key(6, $I32) . 'abcd' .
    vfield(5, 2) . vfield(3, -1) . vfield(4, 2**40 + 5) . vfield(1, 3)) .
    vfield(2, 4) . vfield(3, 1))];
$seed{'wrong-wire-type'} = [$WHOLE, frame(3, lfield(1, 'ab') .
    lfield(4, result(ip => 1)))];
$seed{'overlong-varint'} = [$WHOLE, frame(3, key(1, $VARINT) .
    "\xff" x 10 . "\x01" . lfield(4, result(ip => 1)))];
$seed{'field-zero'} = [$WHOLE, frame(3, "\x00\x01" . lfield(4,
    result(ip => 1)))];
$seed{'nested-garbage'} = [$WHOLE, frame(3, vfield(1, 1) . lfield(4,
    garbage(30)) . lfield(4, result(ip => 2)))];

mkdir $dir or die "mkdir $dir: $!\n" unless -d $dir;
opendir(my $dh, $dir) or die "opendir $dir: $!\n";
for my $f (grep { -f "$dir/$_" } readdir $dh) {
	unlink "$dir/$f" or die "unlink $dir/$f: $!\n";
}
closedir $dh;
for my $name (sort keys %seed) {
	my ($sched, $stream) = @{ $seed{$name} };
	open(my $fh, '>:raw', "$dir/$name") or die "open $dir/$name: $!\n";
	print $fh chr($sched), $stream;
	close $fh or die "close $dir/$name: $!\n";
}
printf "%s: %d files\n", $dir, scalar keys %seed;
