#!/usr/bin/perl
#
# A wrong agent clock never hides an overloaded host.  With the default
# max_clock_skew (300 s): a report far in the future is stored with the
# receive time and the current report after it wins; a clock stepped back
# an hour is stored with the receive time too; a row poisoned directly in
# the table (ts a year ahead of the database's clock) is marked by
# lars-status and overwritten by the next report, one only 100 s ahead is
# not; a report a few seconds older than the row, within the skew, does
# not overwrite it.  Each replaced ts is counted by direction (/metrics,
# SIGUSR1) and logged with the peer and the skew, at most 10 lines per
# peer.  A load whose ts lie within the skew is stored exactly as sent.
# With max_clock_skew = 0 the agent's ts is trusted, as before.
#
# To know that a report that must not change a row has been handled, it
# carries a marker result for a new key: same (modid, cmdid), so the same
# worker and the same or an earlier batch.

use strict;
use warnings;
use lib 't/lib';
use IO::Socket::INET;
use Test::More;
use Lars;

my $t = Lars->new;
my $host = '10.0.0.9';
my $hip = Lars::ip($host);
my $y2096 = 3976214400;		# 2096-01-01
my $mport = Lars::free_port();

# The harness turns the check off for the other tests: drop the key, so
# the default applies.
my $conf = $t->conf('reporter.metrics_listen' => "127.0.0.1:$mport",
    'reporter.max_clock_skew' => undef);
$t->run_reporter;

sub get {
	my ($modid, $port) = @_;
	return $t->sql("SELECT succ_cnt, err_cnt, ts, overload FROM "
	    . "lars_dns.ServerCallStatus WHERE modid=$modid AND port=$port");
}

sub wait_get {
	my ($modid, $port, $want, $name) = @_;
	my $got;
	ok($t->wait_for(sub { ($got = get($modid, $port)) =~ $want }, 20),
	    $name) or diag("got '$got', want $want");
	return $got;
}

# The stored row is (succ, err, overload) with a ts from $lo to $hi.
sub wait_now {
	my ($modid, $port, $se, $lo, $hi, $name) = @_;
	my ($s, $e, $o) = @$se;
	my $got = wait_get($modid, $port, qr/^$s\t$e\t\d+\t$o\n$/, $name);
	my ($ts) = $got =~ /^\d+\t\d+\t(\d+)/;
	ok(defined $ts && $ts >= $lo && $ts <= $hi,
	    "$name: ts is the receive time")
	    or diag("ts " . ($ts // 'none') . ", want $lo-$hi");
}

sub metric {
	my ($dir) = @_;
	my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$mport",
	    Timeout => 5) or return -1;
	print $s "GET /metrics HTTP/1.0\r\n\r\n";
	local $/;
	my $r = <$s> // '';
	return $r =~ /^lars_reporter_clock_skew_reports_total
	    \{direction="$dir"\}\ (\d+)$/mx ? $1 : -1;
}

sub skew_lines { scalar(() = $t->log =~ /max_clock_skew/g) }

# --- a load with ts inside the skew: stored as sent, row for row ---
# (multi-row statements carry the guard with the clock clause)

my $d = $t->dir;
$t->report('-L', '-n', 2, '-N', 400, '-r', 10, '-k', 200, '-m', 100,
    '-t', time - 40, '-o', "$d/expected.tsv");
ok($t->wait_rows($t->read_file('expected.tsv')),
    'a load of 20 rounds within the skew: the expected table');
is(metric('ahead') + metric('behind'), 0, 'no report of it restamped');

# --- a far-future report, then the current one, overloaded, 7 errors ---

my $t0 = time;
$t->report('-m', 1, '-c', 1, '-t', $y2096, "$host:80:1:0:0");
wait_now(1, 80, [1, 0, 0], $t0, time, 'ts of 2096');
ok($t->wait_log(qr/127\.0\.0\.1:\d+: modid 1 cmdid 1: ts $y2096 is \d+ s /
    . qr/ahead of the receive time, more than max_clock_skew 300: /
    . qr/stored as \d+$/m), 'logged: peer, ts, skew, stamp');
my ($ahead) = $t->log =~ /ts $y2096 is (\d+) s ahead/;
ok(defined $ahead && abs($ahead - ($y2096 - $t0)) <= 2,
    'logged: the size of the skew') or diag("skew " . ($ahead // 'none'));
$t->report('-m', 1, '-c', 1, '-t', time, "$host:80:0:7:1");
wait_get(1, 80, qr/^0\t7\t\d+\t1\n$/, 'then the current report wins');
is(metric('ahead'), 1, 'metric: ahead 1');

# --- the agent's clock steps back an hour ---

$t0 = time;
$t->report('-m', 2, '-c', 1, '-t', $t0, "$host:80:10:0:0");
wait_get(2, 80, qr/^10\t0\t$t0\t0\n$/, 'clock back: a current report');
for my $i (1 .. 5) {
	$t->report('-m', 2, '-c', 1, '-t', $t0 - 3600 + $i,
	    "$host:80:0:$i:1");
}
wait_now(2, 80, [0, 5, 1], $t0, time,
    'an hour behind: each of five overloaded reports overwrites');
is(metric('behind'), 5, 'metric: behind 5');
my $behind = qr/127\.0\.0\.1:\d+: modid 2 cmdid 1: ts \d+ is 3[56]\d\d s /
    . qr/behind the receive time/;
like($t->log, qr/$behind/, 'logged: behind, by an hour');

# --- within the skew, ts still orders the reports ---

$t0 = time;
$t->report('-m', 3, '-c', 1, '-t', $t0, "$host:80:3:3:1");
wait_get(3, 80, qr/^3\t3\t$t0\t1\n$/, 'within: newer stored');
$t->report('-m', 3, '-c', 1, '-t', $t0 - 5, "$host:80:4:0:0",
    "$host:9001:0:0");
wait_get(3, 9001, qr/^0\t0\t\d+\t0\n$/, 'within: older report handled');
is(get(3, 80), "3\t3\t$t0\t1\n",
    'a report 5 s older than the row does not overwrite it');
is(get(3, 9001), "0\t0\t" . ($t0 - 5) . "\t0\n",
    'within the skew the agent\'s ts is kept');
$t->report('-m', 3, '-c', 1, '-t', $t0, "$host:80:5:5:0");
wait_get(3, 80, qr/^5\t5\t$t0\t0\n$/, 'within: equal ts, the later wins');

# --- a row poisoned in the table heals with the next report ---

$t0 = time;
$t->report('-m', 4, '-c', 1, '-t', $t0, "$host:80:1:1:0", "$host:81:1:1:0");
wait_get(4, 81, qr/^1\t1\t$t0\t0\n$/, 'poison: rows stored');
my $year = $t0 + 365 * 86400;
$t->sql("UPDATE lars_dns.ServerCallStatus SET ts=$year WHERE modid=4 "
    . "AND port=80");
$t->sql("UPDATE lars_dns.ServerCallStatus SET ts=" . ($t0 + 100)
    . " WHERE modid=4 AND port=81");
my $st = $t->run([$t->bin('lars-status'), '-f', $conf, '-m', 4],
    timeout => 20);
like($st->{out}, qr/\Q$host\E:80\s.*\s-36[45]d\s+future$/m,
    'lars-status marks the row a year ahead') or diag($st->{out} . $st->{err});
like($st->{out}, qr/\Q$host\E:81\s.*\s-1m\s+future$/m,
    'and the row 100 s ahead');
$t->report('-m', 4, '-c', 1, '-t', time, "$host:80:0:9:1", "$host:81:0:9:1",
    "$host:9001:0:0");
wait_get(4, 9001, qr/^0\t0\t/, 'poison: next report handled');
like(get(4, 80), qr/^0\t9\t\d+\t1\n$/,
    'a row a year ahead of the database is overwritten');
unlike(get(4, 80), qr/\t$year\t/, 'its ts replaced');
is(get(4, 81), "1\t1\t" . ($t0 + 100) . "\t0\n",
    'a row 100 s ahead, within the skew, is not');

# --- the log is rate-limited per peer, the count is not ---

my $before = skew_lines();
my $s = $t->connect;
print $s join '', map { Lars::frame(3, Lars::pb_report(modid => 5,
    cmdid => 1, ts => $y2096, results => [[$hip, 80, $_, 0, 0]])) } 1 .. 30;
close $s;
wait_get(5, 80, qr/^30\t0\t/, '30 skewed frames on one connection');
ok($t->wait_for(sub { metric('ahead') == 31 }), 'metric: ahead 31');
is(skew_lines() - $before, 10, 'logged 10 of them');
ok($t->wait_log(qr/more warnings about bad input suppressed/),
    'the rest summed up');
my $stats = $t->stats;
is("$stats->{skew_ahead} $stats->{skew_behind}", '31 5',
    'SIGUSR1: skew_ahead 31 skew_behind 5');

# --- max_clock_skew = 0: the agent's ts is trusted, as before ---

is($t->stop_reporter, 0, 'stopped');
$t->conf('reporter.metrics_listen' => "127.0.0.1:$mport",
    'reporter.max_clock_skew' => 0);
$t->run_reporter;
$before = skew_lines();
$t->report('-m', 6, '-c', 1, '-t', $y2096, "$host:80:1:0:0");
wait_get(6, 80, qr/^1\t0\t$y2096\t0\n$/, 'off: 2096 is stored as sent');
$t->report('-m', 6, '-c', 1, '-t', time, "$host:80:0:7:1", "$host:9001:0:0");
wait_get(6, 9001, qr/^0\t0\t/, 'off: current report handled');
is(get(6, 80), "1\t0\t$y2096\t0\n", 'off: and it does not overwrite');
$t0 = time;
$t->report('-m', 6, '-c', 1, '-t', $t0 - 3600, "$host:81:0:1:1");
wait_get(6, 81, qr/^0\t1\t@{[$t0 - 3600]}\t1\n$/,
    'off: an hour behind is stored as sent');
$t->report('-m', 4, '-c', 1, '-t', time, "$host:80:0:0:0");
wait_get(4, 80, qr/^0\t0\t\d+\t0\n$/, 'off: a current report stored');
$t->sql("UPDATE lars_dns.ServerCallStatus SET ts=$year WHERE modid=4 "
    . "AND port=80");
$t->report('-m', 4, '-c', 1, '-t', time, "$host:80:2:2:1", "$host:9002:0:0");
wait_get(4, 9002, qr/^0\t0\t/, 'off: report after the poison handled');
is(get(4, 80), "0\t0\t$year\t0\n", 'off: the poisoned row stays');
is(metric('ahead'), 0, 'off: metric 0');
is(skew_lines(), $before, 'off: nothing logged');

$t->done_testing;
