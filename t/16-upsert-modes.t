#!/usr/bin/perl
#
# Both ways of sending the upsert, forced by [mysql] upsert: bulk
# (MariaDB's array binding of a prepared one-row statement) and text
# (multi-row statements).  Each runs against its own MariaDB with a table
# whose ip, port and caller are unsigned and whose succ_cnt is a
# MEDIUMINT: a load, one row strict mode rejects (error 1264, isolated by
# halving and dropped alone) and one frame of -1 keys and a ts above
# 2^31.  The table must be exactly the load's expected one plus that
# frame's row, the keys stored as unsigned bit patterns, and every
# worker's connect line must say which way it sends.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Lars;

my $BASE = 100;
my $FAR = 100000;	# a modid beyond the load's

# The table with ip, port, caller read back as the int32 the agent sent.
sub signed_rows {
	my ($t) = @_;
	my $s = sub { "IF($_[0] > 2147483647, CAST($_[0] AS SIGNED) - 4294967296, $_[0])" };
	return $t->sql('SELECT modid,cmdid,' . $s->('ip') . ','
	    . $s->('port') . ',' . $s->('caller') . ',succ_cnt,err_cnt,ts,'
	    . 'overload FROM lars_dns.ServerCallStatus ORDER BY 1,2,3,4,5');
}

sub mode {
	my ($mode, $says) = @_;
	my $t = Lars->new;
	my $d = $t->dir;

	$t->sql('ALTER TABLE lars_dns.ServerCallStatus '
	    . 'MODIFY ip int(11) unsigned NOT NULL, '
	    . 'MODIFY port int(11) unsigned NOT NULL, '
	    . 'MODIFY caller int(11) unsigned NOT NULL, '
	    . 'MODIFY succ_cnt MEDIUMINT NOT NULL');
	$t->conf('mysql.upsert' => $mode, 'reporter.db_thread_cnt' => 3);
	$t->run_reporter;
	my $re = qr/connected to MySQL [^\n]*; upsert \Q$says\E\n/;
	ok($t->wait_for(sub { (() = $t->log =~ /$re/g) == 3 }, 20),
	    "$mode: each of 3 workers says at connect: upsert $says");

	my $load = $t->start_load('-n', 4, '-T', 4, '-R', 2000, '-r', 10,
	    '-k', 5000, '-m', $BASE, '-o', "$d/expected.tsv");
	sleep 1.5;
	$t->report('-m', $BASE, '-c', 1, '-C', '10.0.0.1',
	    '10.9.9.9:80:9000000:1');
	my $s = $t->connect;
	print $s Lars::frame(3, Lars::pb_report(modid => $FAR, cmdid => 2,
	    caller => -1, ts => 3000000000, results => [[-1, -1, 3, 4, 1]]));
	close $s;
	my $name = sprintf 'modid=%d cmdid=1 ip=%d port=80 caller=%d', $BASE,
	    Lars::ip('10.9.9.9'), Lars::ip('10.0.0.1');
	ok($t->wait_log(qr/dropped the row \Q$name\E .*MySQL error 1264\b/,
	    20), "$mode: the rejected row is dropped and named: $name");

	ok(waitpid($load, 0) == $load && $? == 0,
	    "$mode: the load generator finished");
	my $expected = ($t->read_file('expected.tsv') // '')
	    . Lars::row($FAR, 2, -1, -1, -1, 3, 4, 3000000000, 1);
	ok($t->wait_rows($expected, 60, sub { signed_rows($t) }),
	    "$mode: the table is the expected one, without the rejected row");
	is($t->sql("SELECT ip, port, caller FROM lars_dns.ServerCallStatus "
	    . "WHERE modid = $FAR"), "4294967295\t4294967295\t4294967295\n",
	    "$mode: -1 keys stored as unsigned bit patterns");
	my $log = $t->log;
	like($log, qr/storing it in parts to find the rows that cannot be/,
	    "$mode: the batch was stored in parts");
	my %dropped = map { $_ => 1 } $log =~
	    /dropped the row (modid=\S+ cmdid=\S+ ip=\S+ port=\S+ caller=\d+)/g;
	is_deeply([keys %dropped], [$name], "$mode: and no other row")
	    or diag(join "\n", keys %dropped);
	my $st = $t->stats;
	is($st->{dropped}, 1, "$mode: stats: one row dropped");
	is($st->{worker_restarts}, 0, "$mode: stats: no worker restarts");
	# its checks now: the next mode's daemon would be its stray
	$t->_checks;
}

mode('bulk', 'bulk (array binding)');
mode('text', 'text (multi-row statements)');
done_testing();
