#!/usr/bin/perl
#
# The clean paths under valgrind: start, a load, SIGHUP (a new generation),
# SIGUSR1, SIGTERM.  Master and every worker: no memory errors, nothing
# definitely or indirectly lost.  (Skipped for the sanitizer build.)

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Lars;
use POSIX qw(WNOHANG);

plan skip_all => 'valgrind does not run sanitizer builds'
    if $Lars::BUILD =~ m{/asan$};
plan skip_all => 'valgrind is not installed' unless `which valgrind` =~ /valgrind/;

my $t = Lars->new;
my $d = $t->dir;
my $conf = $t->conf;
my $pid = fork // die;
if ($pid == 0) {
	open STDOUT, '>', "$d/reporter.log";
	open STDERR, '>&', \*STDOUT;
	exec('valgrind', '--leak-check=full', '--errors-for-leak-kinds=definite,indirect',
	    "--log-file=$d/vg.%p", $t->bin('lars-reporter'), '-d', '-f', $conf) or die;
}
ok($t->wait_log(qr/listening on/, 60), 'the daemon runs under valgrind');
ok($t->wait_for(sub { (() = $t->log =~ /connected to MySQL/g) == 3 }, 60), 'three workers connected');
$t->report('-L', '-n', 2, '-N', 2000, '-r', 10, '-k', 500, '-o', "$d/expected.tsv");
ok($t->wait_rows($t->read_file('expected.tsv'), 60), 'the load is stored');
kill 'HUP', $pid;
ok($t->wait_log(qr/generation 1: every record committed/, 60), 'reloaded: the old generation left');
kill 'USR1', $pid;
ok($t->wait_log(qr/stats: /, 30), 'USR1 logged');
kill 'TERM', $pid;
my $done = $t->wait_for(sub { waitpid($pid, WNOHANG) == $pid }, 60);
ok($done, 'exited after SIGTERM');
is($? >> 8, 0, 'exit status 0') if $done;

my @logs = glob "$d/vg.*";
ok(@logs >= 7, scalar(@logs) . ' valgrind logs: the master and six workers');
for my $f (@logs) {
	my $v = $t->read_file($f =~ s{.*/}{}r);
	my ($who) = $f =~ /vg\.(\d+)/;
	like($v, qr/ERROR SUMMARY: 0 errors/, "process $who: no memory errors")
	    or diag($v);
	unlike($v, qr/(definitely|indirectly) lost: [1-9]/, "process $who: nothing lost");
}

$t->done_testing;
