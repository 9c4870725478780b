#!/usr/bin/perl
#
# Lock waits: another session holds every row of the table locked for
# 4 s (SELECT ... FOR UPDATE in an open transaction) while a load runs and
# innodb_lock_wait_timeout is 1 s.  The workers' upserts time out (1205),
# are rolled back and tried again, then wait and retry, and are never
# split or dropped as if a row were bad: once the lock is gone the final
# table is exactly the load generator's.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use Lars;

my $t = Lars->new;
my $d = $t->dir;

sub start {
	my ($name, @cmd) = @_;
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		open STDOUT, '>', "$d/$name.out" or POSIX::_exit(127);
		open STDERR, '>', "$d/$name.err" or POSIX::_exit(127);
		exec(@cmd) or POSIX::_exit(127);
	}
	return $pid;
}

$t->sql('SET GLOBAL innodb_lock_wait_timeout = 1');
$t->conf('reporter.db_thread_cnt' => 2);
$t->run_reporter;

# every key once (one connection, one round of 400 messages), so that the
# lock covers rows that exist
my @load = ($t->bin('lars-report'), '-H', '127.0.0.1', '-p', $t->port, '-L',
    '-n', 4, '-r', 10, '-k', 4000);
like($t->report('-L', '-n', 1, '-N', 400, '-r', 10, '-k', 4000),
    qr/expecting 4000 rows/, 'a first load sends every key once');
ok($t->wait_for(sub { $t->sql('SELECT COUNT(*) FROM lars_dns.ServerCallStatus')
    == 4000 }), 'every key stored once');

my $t0 = time;
my $lock = start('lock', 'mariadb', '--no-defaults',
    '--socket=' . $t->db->{SOCKET}, '-u', scalar getpwuid($<), '-N', '-B', '--unbuffered',
    '-e', 'BEGIN; SELECT COUNT(*) FROM lars_dns.ServerCallStatus FOR UPDATE; '
    . 'SELECT SLEEP(4); COMMIT;');
ok($t->wait_for(sub { ($t->read_file('lock.out') // '') =~ /^4000$/m }),
    'another session locks every row');
my $load = start('load', @load, '-T', 6, '-R', 1000, '-t', 1800000000,
    '-o', "$d/expected.tsv");

ok($t->wait_log(qr/MySQL error 1205/, 10), 'the upserts time out on the lock')
    or diag($t->log_tail);
waitpid($lock, 0);
is($?, 0, sprintf 'the lock is released at %.1f s', time - $t0)
    or diag($t->read_file('lock.err'));
ok(waitpid($load, 0) == $load && $? == 0, 'the load generator finished')
    or diag($t->read_file('load.err'));
my $out = $t->read_file('load.out') // '';
like($out, qr/expecting 4000 rows/, 'load: 4000 keys') or diag($out);

ok($t->wait_rows($t->read_file('expected.tsv'), 60),
    'the table is exactly the expected one');
diag(sprintf "table complete at %.1f s", time - $t0);
unlike($t->log, qr/dropped the row/, 'no row dropped');
unlike($t->log, qr/storing it in parts/, 'no batch split as if a row were bad');
my $s = $t->stats;
cmp_ok($s->{retries}, '>', 0, "stats: $s->{retries} retries");
is($s->{dropped}, 0, 'stats: nothing dropped');

$t->done_testing;
