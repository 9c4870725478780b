#!/usr/bin/perl
#
# SIGHUP: a valid file starts a new generation (here 2 -> 5 workers, keys
# move on the ring) while a load runs, and every record lands, newest per
# key; an invalid file logs "configuration reloading FAILED" with the
# reason and changes nothing; a new listen address is taken only when it
# changed.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Lars;

my $t = Lars->new;
my $d = $t->dir;

$t->conf('reporter.db_thread_cnt' => 2);
$t->run_reporter;
ok($t->wait_for(sub { scalar(keys %{ $t->workers }) == 2 }), 'two workers');

# a load across the reload: 5 s at a modest rate over many keys
my $pid = fork // die;
if ($pid == 0) {
	exec($t->bin('lars-report'), '-H', '127.0.0.1', '-p', $t->port, '-L',
	    '-n', 4, '-T', 4, '-R', 5000, '-r', 10, '-k', 3000,
	    '-o', "$d/expected.tsv") or die;
}
sleep 1;
$t->conf('reporter.db_thread_cnt' => 5, 'reporter.flush_interval_ms' => 20);
$t->signal('HUP');
ok($t->wait_log(qr/configuration reloaded: generation 2 with 5 workers/),
    'reload with 5 workers');
ok($t->wait_for(sub { scalar(keys %{ $t->workers }) == 5 }), 'five workers run now');
ok($t->wait_log(qr/generation 1: every record committed, workers gone/),
    'the old generation drained and left');

sleep 1;
$t->write_file('reporter.conf', $t->read_file('reporter.conf') . "bogus_key = 1\n");
$t->signal('HUP');
ok($t->wait_log(qr/configuration reloading FAILED/), 'a bad file: reloading FAILED');
like($t->log, qr/unknown key "bogus_key"/, 'with the reason');
waitpid($pid, 0);
is($?, 0, 'the load ran through both reloads');
is(scalar(keys %{ $t->workers }), 5, 'still five workers after the failed reload');
my $expected = $t->read_file('expected.tsv');
ok(length $expected, 'the load generator wrote its expected table');
ok($t->wait_rows($expected, 30), 'every record landed, newest per key');

# the listen address: a new port is taken, the old one released
my $old = $t->port;
my $new = Lars::free_port();
$t->conf('reactor.port' => $new, 'reporter.db_thread_cnt' => 5);
$t->signal('HUP');
ok($t->wait_log(qr/listening on 127.0.0.1:$new instead of 127.0.0.1:$old/),
    'a changed port is reopened');
ok(IO::Socket::INET->new(PeerAddr => "127.0.0.1:$new"), 'the new port accepts');
ok(!IO::Socket::INET->new(PeerAddr => "127.0.0.1:$old"), 'the old one is closed');
$t->{port} = $new;

$t->done_testing;
