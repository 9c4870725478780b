#!/usr/bin/perl
#
# GET /metrics on metrics_listen: after a known load the counters match
# what was sent, dropped and committed; the text passes a strict parser of
# the Prometheus exposition format (t/lib/Prom.pm); anything else is a 404;
# an HTTP client that sends nothing, or a huge request, does not delay
# agent reports; SIGUSR1 logs the same figures.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Lars;
use Prom;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

my $t = Lars->new;
my $mport = Lars::free_port();
$t->conf('reporter.metrics_listen' => "127.0.0.1:$mport",
    'reactor.max_results' => 50);
$t->run_reporter;

sub http {
	my ($req) = @_;
	my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$mport",
	    Timeout => 5) or return;
	print $s $req;
	local $/;
	my $r = <$s>;
	return $r;
}

# a known load, a too-big report, an unknown msgid, a clamped count
my $d = $t->dir;
$t->report('-L', '-n', 4, '-N', 2000, '-r', 10, '-k', 1000, '-o', "$d/expected.tsv");
my $s = $t->connect;
print $s Lars::frame(9, 'abc');
print $s Lars::frame(3, Lars::pb_report(modid => 99, cmdid => 1, ts => 5,
    results => [map { [1, $_, 1, 1, 0] } 1 .. 60]));
close $s;
$t->report('-m', 98, '-c', 1, '-t', 5, '1.2.3.4:80:4294967295:0');
my $expected = $t->read_file('expected.tsv')
    . Lars::row(98, 1, Lars::ip('1.2.3.4'), 80, 0, 2147483647, 0, 5, 0);
# rows sort by modid: 98 comes after the load's modid 1
ok($t->wait_rows($expected), 'the load is stored');

my ($resp, $err, $m);
ok($t->wait_for(sub {
	$resp = http("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n") // '';
	($err, $m) = Prom::parse((split /\r\n\r\n/, $resp, 2)[1] // '');
	!$err && ($m->{'lars_reporter_rows_committed_total{worker="1"}'} // 0)
	    + ($m->{'lars_reporter_rows_committed_total{worker="2"}'} // 0)
	    + ($m->{'lars_reporter_rows_committed_total{worker="3"}'} // 0) >= 1001;
}), 'scrape: every row committed shows up');
like($resp, qr{^HTTP/1\.[01] 200 OK\r\n}, '200 OK');
like($resp, qr{\r\nContent-Type: text/plain; version=0\.0\.4}, 'the exposition content type');
is($err, undef, 'the text passes the strict parser');
is($m->{lars_reporter_records_total}, 20001, 'records: 20000 of the load + 1');
is($m->{lars_reporter_frames_total}, 2003, 'frames: 2000 + 3');
is($m->{'lars_reporter_frames_dropped_total{reason="unknown_msgid"}'}, 1, 'unknown msgid dropped: 1');
is($m->{'lars_reporter_frames_dropped_total{reason="too_many_results"}'}, 1, 'too many results: 1');
is($m->{lars_reporter_records_clamped_total}, 1, 'clamped: 1');
is($m->{'lars_reporter_connections_accepted_total'} >= 6 ? 1 : 0, 1, 'connections accepted counted');
my $read = 0;
$read += $m->{"lars_reporter_worker_records_total{worker=\"$_\"}"} // 0 for 1 .. 3;
is($read, 20001, 'the workers read every record');
ok(defined $m->{'lars_reporter_build_info{version="0.1.0"}'}, 'build info');
ok(defined $m->{'lars_reporter_flush_duration_seconds_count{worker="1"}'}, 'flush histogram');
# a worker cannot have spent longer flushing than the test has run
# (a tv_nsec difference taken unsigned once made it 10^11 s)
for my $id (1 .. 3) {
	my $sum = $m->{"lars_reporter_flush_duration_seconds_sum{worker=\"$id\"}"} // -1;
	ok($sum >= 0 && $sum <= time - $^T, "worker $id: flush time sum $sum s is within the test's " . int(time - $^T + 1) . ' s');
}
is($m->{'lars_reporter_records_in_flight{worker="1"}'}, 0, 'nothing in flight after the commits');

$resp = http("GET /other HTTP/1.0\r\n\r\n") // '';
like($resp, qr{^HTTP/1\.[01] 404 }, 'another path: 404');

# a client that sends nothing, one that sends a huge request: agents unaffected
my @idle = map { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$mport") } 1 .. 20;
my $huge = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$mport");
$huge->blocking(0);
syswrite($huge, "GET /metrics" . ("x" x 100000));
my $t0 = time;
$t->report('-m', 97, '-c', 1, '-t', 6, '1.2.3.4:80:1:0');
ok($t->wait_for(sub { $t->sql("SELECT COUNT(*) FROM lars_dns.ServerCallStatus WHERE modid = 97") eq "1\n" }, 5),
    'a report lands while 20 silent and one huge metrics client hang');
ok(time - $t0 < 3, sprintf('and promptly (%.2f s)', time - $t0));
sleep 5.5;
my $buf;
is(sysread($idle[0], $buf, 10), 0, 'a silent metrics client is closed after 5 s');
ok(http("GET /metrics HTTP/1.0\r\n\r\n") =~ /200 OK/, 'metrics served again afterwards');

$t->signal('USR1');
ok($t->wait_log(qr/stats: .*records 20002 /), 'SIGUSR1 logs the same counters');

$t->done_testing;
