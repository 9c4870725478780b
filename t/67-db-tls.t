#!/usr/bin/perl
#
# TLS to the database (ssl_mode, ssl_ca, ssl_cert, ssl_key), against the
# harness's MariaDB with TLS on (certificates made by openssl for the
# test) and one without:
#  - VERIFY_IDENTITY with the right CA and a client certificate: the
#    workers log the TLS version and cipher of their session, a
#    unique-key load lands exactly, and lars-status reads the table over
#    the same kind of connection;
#  - VERIFY_IDENTITY with an unrelated CA: refused (2026), the worker
#    exits "can never work" and is retried slowly, nothing is stored;
#    lars-status fails naming the error;
#  - REQUIRED against a server without TLS: the same loud refusal;
#  - PREFERRED against it: a connection in clear, logged "no TLS".

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Lars;

my $t = Lars->new(db_tls => 1);
my $tls = $t->db->{TLS_DIR};
my %verify = ('mysql.ssl_mode' => 'VERIFY_IDENTITY',
    'mysql.ssl_ca' => "$tls/ca.pem", 'mysql.ssl_cert' => "$tls/client-cert.pem",
    'mysql.ssl_key' => "$tls/client-key.pem");

$t->conf(%verify, 'reporter.db_thread_cnt' => 2);
$t->run_reporter;
my @tls;
ok($t->wait_for(sub {
	@tls = $t->log =~ /connected to MySQL [^\n]*?, (TLSv[\d.]+, cipher \S+);/g;
	@tls == 2;
}, 15), 'both workers connect over TLS and log their session: '
    . ($tls[0] // 'none'));
my $load = $t->unique_load(seconds => 5);
$t->zero_loss($load);
my $r = $t->run([$t->bin('lars-status'), '-r', '-f', $t->dir . '/reporter.conf']);
is($r->{status}, 0, 'lars-status reads the table over TLS') or diag($r->{err});
my $n = () = $r->{out} =~ /\n/g;
my $want = () = ($t->read_file('expected.tsv') // '') =~ /\n/g;
cmp_ok($n, '>=', $want, "lars-status printed $n lines, a row of $want each");
is($t->stop_reporter, 0, 'stopped');

# The server's certificate does not verify against an unrelated CA.
my $t2 = Lars->new(db => 0);
$t2->{db} = $t->db;
$t2->conf(%verify, 'mysql.ssl_ca' => "$tls/other-ca.pem",
    'reporter.db_thread_cnt' => 1);
$t2->run_reporter;
ok($t2->wait_log(qr/worker 1 \(pid \d+\) exited with status 3: it can never work/, 15),
    'wrong CA: the worker can never work');
like($t2->log, qr/MySQL error 2026\b/, 'the log shows the TLS error 2026');
like($t2->log, qr/worker 1: respawning in 30000 ms/, 'retried slowly');
$r = $t2->run([$t2->bin('lars-status'), '-f', $t2->dir . '/reporter.conf']);
isnt($r->{status}, 0, 'lars-status with the wrong CA fails');
like($r->{err}, qr/2026/, 'naming the TLS error') or diag($r->{err});

# A server without TLS.
my $t3 = Lars->new(db_tls => 0);
$t3->conf('mysql.ssl_mode' => 'REQUIRED', 'reporter.db_thread_cnt' => 1);
$t3->run_reporter;
ok($t3->wait_log(qr/worker 1 \(pid \d+\) exited with status 3: it can never work/, 15),
    'REQUIRED, server without TLS: the worker can never work');
like($t3->log, qr/MySQL error 2026\b/, 'the log shows error 2026')
    or diag($t3->log_tail(10));
is($t3->stop_reporter, 0, 'stopped');
truncate $t3->dir . '/reporter.log', 0;
$t3->conf('mysql.ssl_mode' => 'PREFERRED', 'reporter.db_thread_cnt' => 1);
$t3->run_reporter;
ok($t3->wait_log(qr/connected to MySQL [^\n]*, no TLS;/, 10),
    'PREFERRED, server without TLS: connected in clear');
$t3->report('-m', 1, '-c', 1, '10.0.0.1:80:1:0');
ok($t3->wait_for(sub { $t3->rows =~ /^1\t1\t/ }), 'and storing');

$t2->stop_reporter;
$t3->stop_reporter;
$t->done_testing;
