#!/usr/bin/perl
#
# SIGTERM under load half-closes every agent connection: each agent sees
# end of file (not a reset) while the reporter still reads; what an agent
# writes after that end of file, until it closes its side, is stored too.
# The agent-like load (lars-report -e once) then tries its one reconnect,
# which fails with nobody listening; the table is exactly what the load
# says it sent, plus what the raw connection sent before and after the
# end of file.

use strict;
use warnings;
use lib 't/lib';
use IO::Select;
use Test::More;
use Time::HiRes qw(sleep time);
use Lars;

my $t = Lars->new;
my $d = $t->dir;
my $ip = Lars::ip('10.7.7.7');

sub frames {
	my ($modid, @cmdids) = @_;
	return join '', map { Lars::frame(3, Lars::pb_report(modid => $modid,
	    cmdid => $_, ts => 99, results => [[$ip, 80, $_, 1, 0]])) } @cmdids;
}

# a flush interval longer than the test: the stop must commit what is held
$t->conf('reporter.flush_interval_ms' => 60000);
$t->run_reporter;

my $load = $t->start_load('-n', 4, '-T', 4, '-R', 4000, '-r', 3, '-k', 900,
    '-e', 'once', '-o', "$d/expected.tsv");
my $s = $t->connect;
print $s frames(800000, 1 .. 20);
sleep 1.5;

my $t0 = time;
$t->signal('TERM');
my $sel = IO::Select->new($s);
my ($got, $buf) = (undef, '');
$got = sysread($s, $buf, 100) if $sel->can_read(10);
is($got, 0, 'the raw connection sees end of file after SIGTERM');
# the reporter half-closed: it still reads what comes now
ok(print($s frames(800001, 1 .. 30)), 'and can still write after it');
$s->flush;
sleep 0.3;
close $s;

is($t->stop_reporter, 0, 'the reporter exits 0');
my $took = time - $t0;
ok($took < 4, sprintf('it stopped as soon as the agents closed: %.1f s '
    . '(close_timeout is 5 s)', $took));
waitpid($load, 0);
is($? >> 8, 0, 'the load exits 0');
my $out = $t->read_file('load.out') // '';
my $err = $t->read_file('load.err') // '';
my @eof = $err =~ /closed by the reporter \(end of file\)/g;
is(scalar @eof, 4, 'each of the 4 load connections saw end of file')
    or diag($err);
unlike($err, qr/reset|Broken pipe/, 'none saw a reset');
like($err, qr/reconnect: Connection refused/,
    'the one reconnect found nobody listening');
my ($unsent) = $out =~ /could not send (\d+) messages/;
ok(defined $unsent && $unsent > 0,
    "the agent-like load dropped what came later: " . ($unsent // '?'))
    or diag($out);
like($t->log, qr/half-closed \d+ agent connections/, 'the log says so');

my $expected = ($t->read_file('expected.tsv') // 'none')
    . join('', map { Lars::row(800000, $_, $ip, 80, 0, $_, 1, 99, 0) } 1 .. 20)
    . join('', map { Lars::row(800001, $_, $ip, 80, 0, $_, 1, 99, 0) } 1 .. 30);
my $rows = $t->rows;
is($rows, $expected, 'the whole table is what the agents sent')
    or diag(Lars::diff_text($rows, $expected));
my ($sent) = $out =~ /sent (\d+) messages/;
ok(($sent // 0) > 1000, 'under load: ' . ($sent // '?') . ' messages stored');

$t->done_testing;
