#!/usr/bin/perl
#
# A worker that can never work (access denied) exits with its distinct
# status; the master says so loudly and retries slowly instead of
# spinning.  Records wait; a SIGHUP with the right password stores them.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Lars;

my $t = Lars->new;
my $ip = Lars::ip('10.1.1.1');

$t->conf('mysql.db_passwd' => 'wrong', 'reporter.db_thread_cnt' => 2);
$t->run_reporter;
ok($t->wait_log(qr/worker \d \(pid \d+\) exited with status 3: it can never work/, 15),
    'access denied: the worker exits 3 and the master says it can never work');
like($t->log, qr/MySQL error 1045: Access denied/, 'the MySQL error is logged');
like($t->log, qr/worker \d: respawning in 30000 ms/, 'retried slowly: 30 s');
sleep 2;
my $exits = () = $t->log =~ /exited with status 3/g;
is($exits, 2, 'no tight loop: one exit per worker in 2 s');
unlike($t->log, qr/wrong/, 'the password is not in the log');

$t->report('-m', 7, '-c', 7, '-t', 50, '10.1.1.1:80:3:4');
$t->conf;	# the right password
$t->signal('HUP');
ok($t->wait_rows(Lars::row(7, 7, $ip, 80, 0, 3, 4, 50, 0)),
    'after SIGHUP with the right password the waiting record is stored');
like($t->log, qr/generation 1 cannot work with its configuration/,
    'the old generation is abandoned');
like($t->log, qr/generation 1: 1 uncommitted records moved to generation 2/,
    'its record moved to the new generation');

$t->done_testing;
