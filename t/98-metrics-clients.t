#!/usr/bin/perl
#
# metrics_listen keeps answering while idle, slow or hostile HTTP clients
# hold it: with metrics_clients = 4, 300 idle connections and then a real
# scrape get a 200 with a valid exposition (the newest idle ones stay, the
# older are closed, one log line says so, the counters say how many); 4
# clients dribbling bytes do not delay a scrape; a request sent one byte
# at a time is still served; bytes that are not HTTP get a 400 at once,
# another method a 405; a silent client is closed after metrics_timeout.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Lars;
use Prom;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

my $t = Lars->new;
my $mport = Lars::free_port();
$t->conf('reporter.metrics_listen' => "127.0.0.1:$mport",
    'reporter.metrics_clients' => 4, 'reporter.metrics_timeout' => 3);
$t->run_reporter;

sub mconnect {
	return IO::Socket::INET->new(PeerAddr => "127.0.0.1:$mport",
	    Timeout => 5) // die "connect to metrics: $!\n";
}

# Send the request on a fresh connection, return the whole answer.
sub http {
	my ($req) = @_;
	my $s = mconnect();
	syswrite($s, $req);
	return slurp($s, 5);
}

# Everything until the server closes, or undef if it does not in time.
sub slurp {
	my ($s, $timeout) = @_;
	my ($r, $buf, $n) = ('');
	my $sel = IO::Select->new($s);
	my $end = time + $timeout;
	while (time < $end) {
		next unless $sel->can_read($end - time);
		$n = sysread($s, $buf, 65536);
		return $r if !$n;	# EOF, or a reset after the answer
		$r .= $buf;
	}
	return undef;
}

sub closed {
	my ($s) = @_;
	my $buf;
	return 0 unless IO::Select->new($s)->can_read(0);
	return !sysread($s, $buf, 1);
}

sub scrape {
	my $r = http("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n") // '';
	my ($head, $body) = split /\r\n\r\n/, $r, 2;
	my ($err, $m) = Prom::parse($body // '');
	return ($head // '', $err, $m);
}

# --- 1: a silent client is closed after metrics_timeout (3 s) ---
my $t0 = time;
my $silent = mconnect();
my $left = slurp($silent, 8);
my $took = time - $t0;
is($left, '', 'a silent client gets no answer and is closed');
ok($took >= 2.5 && $took < 5, sprintf('after metrics_timeout 3 s (%.2f s)',
    $took));

# --- 2: 300 idle connections, then a scrape ---
my @idle = map { mconnect() } 1 .. 300;
$t0 = time;
my ($head, $err, $m) = scrape();
my $scrape_s = time - $t0;
like($head, qr{^HTTP/1\.0 200 OK\r\n}, '300 idle clients: a scrape gets 200 OK');
like($head, qr{\r\nContent-Type: text/plain; version=0\.0\.4}, 'the exposition content type');
is($err, undef, 'and a valid exposition');
ok($scrape_s < 2, sprintf('at once (%.3f s)', $scrape_s));
is($m->{'lars_reporter_metrics_clients_closed_total{reason="evicted"}'}, 297,
    'evicted: 296 idle ones for the idle, 1 for the scrape');
is($m->{'lars_reporter_metrics_clients_closed_total{reason="timeout"}'}, 1,
    'timeout: the silent client');
is($m->{lars_reporter_metrics_clients_accepted_total}, 302,
    'accepted: silent + 300 idle + this scrape');
is($m->{lars_reporter_metrics_clients}, 4, 'connected: metrics_clients');
is($m->{'lars_reporter_metrics_responses_total{code="200"}'}, 1,
    'this scrape is the first 200');
ok($t->wait_for(sub { !grep { !closed($_) } @idle[0 .. 296] }, 5),
    'the 297 oldest idle clients are closed');
is(scalar(grep { closed($_) } @idle[297 .. 299]), 0,
    'the 3 newest are still connected');
my @ev = $t->log =~ /(closed the oldest waiting one)/g;
is(scalar @ev, 1, 'one log line for the evictions (rate-limited)');
like($t->log, qr/metrics_listen: 4 clients at once \(metrics_clients\), closed the oldest waiting one; 1 closed so far/,
    'it names the limit');
$t->report('-m', 97, '-c', 1, '-t', 6, '1.2.3.4:80:1:0');
ok($t->wait_rows(Lars::row(97, 1, Lars::ip('1.2.3.4'), 80, 0, 1, 0, 6, 0)),
    'agents are served meanwhile');
close $_ for @idle;

# --- 3: clients dribbling bytes that never end a request ---
my @drib = map { mconnect() } 1 .. 4;
my $req = "GET /metrics HTTP/1.1\r\nX-Slow: " . ('a' x 40);
for my $i (0 .. 9) {
	syswrite($_, substr($req, $i, 1)) for @drib;
	sleep 0.05;
}
$t0 = time;
($head, $err) = scrape();
like($head, qr{^HTTP/1\.0 200 OK\r\n}, '4 dribbling clients: a scrape gets 200 OK');
is($err, undef, 'and a valid exposition');
ok(time - $t0 < 2, sprintf('at once (%.3f s)', time - $t0));
close $_ for @drib;

# --- 4: a whole request sent one byte every 40 ms (1 s) is served ---
my $slow = mconnect();
my $sreq = "GET /metrics HTTP/1.0\r\n\r\n";
for my $c (split //, $sreq) {
	syswrite($slow, $c);
	sleep 0.04;
}
like(slurp($slow, 5) // '', qr{^HTTP/1\.0 200 OK\r\n}, 'a slow but whole request gets 200');

# --- 5: what is not HTTP ---
my $r;
my $bad = mconnect();
syswrite($bad, Lars::frame(3, 'x' x 20));
$t0 = time;
$r = slurp($bad, 5);
like($r // '', qr{^HTTP/1\.0 400 Bad Request\r\n}, 'a Lars frame: 400 Bad Request');
ok(time - $t0 < 1, sprintf('at once, without waiting for more (%.3f s)', time - $t0));
like(http("hello\r\n\r\n") // '', qr{^HTTP/1\.0 400 }, 'a line that is no request line: 400');
like(http("GET /metrics\r\n\r\n") // '', qr{^HTTP/1\.0 400 }, 'no HTTP version: 400');
like(http("GET /metrics HTTP/1.0\r\nX: " . ('y' x 5000) . "\r\n\r\n") // '',
    qr{^HTTP/1\.0 400 }, 'more than 4095 bytes of headers: 400 (and it is read to the end)');
like(http("POST /metrics HTTP/1.1\r\n\r\n") // '', qr{^HTTP/1\.0 405 .*\r\nAllow: GET\r\n}s,
    'another method: 405 with Allow');
like(http("GET /other HTTP/1.0\r\n\r\n") // '', qr{^HTTP/1\.0 404 }, 'another path: 404');
like(http("GET /metrics?x=1 HTTP/1.0\n\n") // '', qr{^HTTP/1\.0 200 }, 'bare LF line ends and a query: 200');

($head, $err, $m) = scrape();
is($err, undef, 'a last scrape');
is($m->{'lars_reporter_metrics_responses_total{code="400"}'}, 4, 'four 400s counted');
is($m->{'lars_reporter_metrics_responses_total{code="405"}'}, 1, 'one 405');
is($m->{'lars_reporter_metrics_responses_total{code="404"}'}, 1, 'one 404');
is($m->{'lars_reporter_metrics_responses_total{code="200"}'}, 5, 'five 200s, this one too');

$t->done_testing;
