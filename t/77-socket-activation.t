#!/usr/bin/perl
#
# A parent that holds the listening socket, as systemd's .socket does
# (Lars->hold_socket: fd 3, LISTEN_FDS, LISTEN_PID).  Under an agent-like
# load (lars-report -e once: one reconnect at once, then never):
#  - SIGTERM, then a new daemon on the same socket: every agent's one
#    reconnect lands in the accept queue the parent keeps and is served by
#    the next daemon; nothing is dropped; the table is exact.
#  - SIGKILL of the master, then a new daemon: the agents survive (their
#    one reconnect succeeds) and everything they send after it is stored;
#    the table is exact because every key is sent again after the kill
#    (what the killed master held is the documented loss).

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(sleep time);
use Lars;

my $t = Lars->new;
my $d = $t->dir;

$t->conf('reporter.flush_interval_ms' => 100);
my $sock = $t->hold_socket;
$t->run_reporter({ listen => $sock });
like($t->log, qr/listening on 127\.0\.0\.1:\d+ \(a socket the parent holds\)/,
    'the daemon takes the socket from its parent instead of binding');

# --- SIGTERM and a new daemon ---
my $load = $t->start_load('-n', 4, '-T', 6, '-R', 3000, '-r', 3, '-k', 900,
    '-e', 'once', '-o', "$d/expected.tsv");
sleep 1.5;
is($t->stop_reporter, 0, 'SIGTERM: the first daemon exits 0');
unlike($t->log, qr/closed at accept/, 'it refused no connection while stopping');
sleep 0.5;	# nobody accepts now: the reconnects wait in the queue
$t->run_reporter({ listen => $sock });
waitpid($load, 0);
is($? >> 8, 0, 'the load exits 0');
my $out = $t->read_file('load.out') // '';
my $err = $t->read_file('load.err') // '';
my @eof = $err =~ /closed by the reporter \(end of file\)/g;
my @rec = $err =~ /reconnected/g;
is(scalar @eof, 4, 'each agent connection saw end of file') or diag($err);
is(scalar @rec, 4, 'and its one reconnect succeeded') or diag($err);
like($out, qr/could not send 0 messages, 0 records; 4 reconnects, 0 failed/,
    'no report was dropped') or diag($out);
my $expected = $t->read_file('expected.tsv') // 'none';
ok($t->wait_rows($expected), 'the whole table is what the agents sent');
my ($sent) = $out =~ /sent (\d+) messages/;
ok(($sent // 0) > 5000, 'under load: ' . ($sent // '?') . ' messages');

# --- SIGKILL of the master and a new daemon ---
$load = $t->start_load('-n', 4, '-T', 6, '-R', 3000, '-r', 3, '-k', 600,
    '-m', 9000, '-e', 'once', '-o', "$d/expected2.tsv");
sleep 1.5;
my $pid = $t->reporter_pid;
kill 'KILL', $pid;
waitpid($pid, 0);
$t->{rpid} = undef;
# its workers flush what they had and exit by themselves
# (as subreaper, this test inherited them)
$t->wait_for(sub { !grep { /^\s*$$\s+lars-reporter: worker/ }
    `ps -eo ppid=,args=` }, 20);
$t->run_reporter({ listen => $sock });
waitpid($load, 0);
is($? >> 8, 0, 'the load survives the SIGKILL of the master');
$out = $t->read_file('load.out') // '';
$err = $t->read_file('load.err') // '';
@rec = $err =~ /reconnected/g;
is(scalar @rec, 4, 'each agent connection reconnected once, at once')
    or diag($err);
unlike($err, qr/not trying again/, 'no reconnect failed') or diag($err);
like($out, qr/4 reconnects, 0 failed/, 'the load says so') or diag($out);
$expected .= $t->read_file('expected2.tsv') // 'none';
ok($t->wait_rows($expected),
    'the table is exact: every key sent after the reconnect is stored');

$t->done_testing;
