#!/usr/bin/perl
#
# lars-reporter -n checks a configuration: "configuration OK" and exit 0,
# or FILE:LINE: message and exit 1.  The original's [repoter] spelling is
# accepted with a warning.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Lars;

my $t = Lars->new(db => 0);

my @good = split /^/m, <<'EOF_CONF';
# lars-reporter test configuration
; both comment styles

[reactor]
ip = 127.0.0.1
port = 7779

[mysql]
db_host = 127.0.0.1
db_port = 3306
db_user = lars
db_passwd = secret
db_name = lars_dns

[reporter]
db_thread_cnt = 3
flush_interval_ms = 200
batch_rows = 1000
EOF_CONF

# check(name, lines): write, run -n; returns (status, stderr, path).
my $n = 0;
sub check {
	my ($lines) = @_;
	my $path = $t->write_file('c' . $n++ . '.conf', join '', @$lines);
	chmod 0600, $path;
	my $r = $t->run([$t->bin('lars-reporter'), '-n', '-f', $path],
	    timeout => 30);
	return ($r->{status}, $r->{err} . $r->{out}, $r->{err}, $path);
}

# The 1-based line number of the first line matching $re.
sub line_of {
	my ($lines, $re) = @_;
	for my $i (0 .. $#$lines) {
		return $i + 1 if $lines->[$i] =~ $re;
	}
	die "no line matches $re";
}

my ($status, $all, $err, $path) = check(\@good);
is($status, 0, 'good configuration: exit 0') or diag($all);
like($err, qr/configuration OK/, 'good configuration: "configuration OK"');

my @cases = (
	['unknown key', qr/^port =/, sub { ("bogus_key = 1\n", $_[0]) }, 1],
	['bad number', qr/^port =/, sub { "port = abc\n" }],
	['out of range', qr/^port =/, sub { "port = 70000\n" }],
	['bad address', qr/^ip =/, sub { "ip = 300.1.1.1\n" }],
	['bad worker count', qr/^db_thread_cnt =/,
	    sub { "db_thread_cnt = -2\n" }],
);
for my $c (@cases) {
	my ($name, $re, $edit, $before) = @$c;
	my @lines = @good;
	my $i = line_of(\@lines, $re) - 1;
	splice @lines, $i, 1, $edit->($lines[$i]);
	my $line = $i + 1;	# the new or replaced line is at $i either way
	($status, $all, $err, $path) = check(\@lines);
	is($status, 1, "$name: exit 1");
	like($err, qr/\Q$path\E:$line: /, "$name: names $path:$line")
	    or diag($all);
}

my $missing = $t->dir . '/no-such.conf';
my $r = $t->run([$t->bin('lars-reporter'), '-n', '-f', $missing],
    timeout => 30);
is($r->{status}, 1, 'missing file: exit 1');
like($r->{err}, qr/\Q$missing\E/, 'missing file: names the file')
    or diag($r->{err} . $r->{out});
unlike($r->{err}, qr/\Q$missing\E:\d+:/, 'missing file: no line number');

my @repoter = map { s/^\[reporter\]/[repoter]/r } @good;
($status, $all, $err, $path) = check(\@repoter);
is($status, 0, '[repoter]: accepted, exit 0') or diag($all);
like($err, qr/repoter/, '[repoter]: a warning mentions it');
like($err, qr/configuration OK/, '[repoter]: configuration OK');

$t->done_testing;
