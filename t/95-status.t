#!/usr/bin/perl
#
# lars-status against a table filled with known rows: the exact --raw
# output (order, error rate, age, staleness), each filter, the table for
# people, the unsigned schema, the unix socket, usage, configuration and
# database errors, the man page against the code, and --watch in a
# terminal through tmux: header, overloaded rows first, a refresh after
# the table changes, q, and the terminal left as it was.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(time sleep);
use Lars;

my $t = Lars->new;
my $bin = $t->bin('lars-status');
if (!-x $bin) {
	fail("$bin is built (make $bin)");
	$t->done_testing;
	exit;
}
my $conf = $t->conf;
my $db = $t->db;

sub uip { unpack 'N', pack 'C4', split /\./, $_[0] }

sub slurp {
	my ($path) = @_;
	open my $fh, '<', $path or die "$path: $!\n";
	local $/;
	return scalar <$fh>;
}

# modid cmdid ip port caller succ err age overload: what goes in.
my @in = (
	[1, 2, '192.168.0.1', 8080, '10.0.0.1', 10, 2, 5, 0],
	[1, 2, '192.168.0.2', 80, '10.0.0.1', 5, 5, 3, 1],
	[1, 2, '192.168.0.1', 8080, '10.0.0.2', 0, 0, 200, 0],
	[1, 2, '10.1.2.3', 80, '10.0.0.1', 0, 7, 30, 0],
	[1, 2, '255.255.255.255', 65535, '255.255.255.255', 1, 2, 50, 0],
	[1, 2, '10.9.9.9', 81, '10.0.0.2', 1, 0, 70, 1],
	[1, 3, '192.168.0.1', 80, '10.0.0.1', 100, 0, 7200, 1],
	[2, 1, '10.0.0.1', 80, '0.0.0.0', 3, 1, 4 * 86400, 0],
	[10, 1, '172.16.0.1', 443, '10.0.0.2', 2147483647, 1, 0, 0],
	[-1, 5, '1.2.3.4', 1, '10.0.0.1', 1, 2, 10, 0],
);

# What --raw must print, in its order: modid cmdid ip port caller succ
# err err_rate overload age_s stale, ages as inserted (the test adds the
# seconds that passed).
my @out = (
	[-1, 5, '1.2.3.4', 1, '10.0.0.1', 1, 2, '66.67', 0, 10, 0],
	[1, 2, '10.9.9.9', 81, '10.0.0.2', 1, 0, '0.00', 1, 70, 1],
	[1, 2, '192.168.0.2', 80, '10.0.0.1', 5, 5, '50.00', 1, 3, 0],
	[1, 2, '10.1.2.3', 80, '10.0.0.1', 0, 7, '100.00', 0, 30, 0],
	[1, 2, '192.168.0.1', 8080, '10.0.0.1', 10, 2, '16.67', 0, 5, 0],
	[1, 2, '192.168.0.1', 8080, '10.0.0.2', 0, 0, '-', 0, 200, 1],
	[1, 2, '255.255.255.255', 65535, '255.255.255.255', 1, 2, '66.67', 0,
	    50, 0],
	[1, 3, '192.168.0.1', 80, '10.0.0.1', 100, 0, '0.00', 1, 7200, 1],
	[2, 1, '10.0.0.1', 80, '0.0.0.0', 3, 1, '25.00', 0, 345600, 1],
	[10, 1, '172.16.0.1', 443, '10.0.0.2', 2147483647, 1, '0.00', 0, 0, 0],
);

# Fill the table; ts = now - age.  Returns the base time.
sub fill {
	my ($unsigned) = @_;
	my $base = int(time);
	my $addr = $unsigned ? \&uip : \&Lars::ip;
	my @v = map {
		my ($m, $c, $ip, $port, $caller, $s, $e, $age, $o) = @$_;
		sprintf "(%d,%d,%s,%d,%s,%d,%d,%d,'%d')", $m, $c, $addr->($ip),
		    $port, $addr->($caller), $s, $e, $base - $age, $o;
	} @in;
	$t->sql('DELETE FROM lars_dns.ServerCallStatus');
	$t->sql('INSERT INTO lars_dns.ServerCallStatus (modid,cmdid,ip,port,'
	    . 'caller,succ_cnt,err_cnt,ts,overload) VALUES ' . join(',', @v));
	return $base;
}

# Run lars-status within one second of the clock, so that its "now" is
# known: returns the result and the seconds since $base.
sub status_at {
	my ($base, @args) = @_;
	for (1 .. 5) {
		my $t0 = int(time);
		my $r = $t->run([$bin, @args], timeout => 20);
		return ($r, $t0 - $base) if int(time) == $t0;
	}
	die "cannot run lars-status within one second\n";
}

# The expected --raw text of rows of @out, $d seconds later, stale after
# $stale seconds.
sub raw_text {
	my ($d, $stale, @rows) = @_;
	return join '', map {
		my @f = @$_;
		my $age = $f[9] + $d;
		join("\t", @f[0 .. 8], $age, $age > $stale ? 1 : 0) . "\n";
	} @rows;
}

sub raw_is {
	my ($base, $args, $rows, $name, $stale) = @_;
	my ($r, $d) = status_at($base, '-f', $conf, '-r', @$args);
	my $exp = raw_text($d, $stale // 60, @$rows);
	is($r->{status}, 0, "$name: exit 0") or diag($r->{err});
	is($r->{out}, $exp, $name)
	    or diag(Lars::diff_text($r->{out}, $exp));
}

# --- exact --raw output, filters, staleness ---

my $base = fill(0);
raw_is($base, [], \@out,
    'raw: every row, overloaded first in each group, rate, age, stale');
raw_is($base, ['-m', 1], [grep { $_->[0] == 1 } @out], 'raw: -m 1');
raw_is($base, ['-m', -1], [grep { $_->[0] == -1 } @out], 'raw: -m -1');
raw_is($base, ['-c', 1], [grep { $_->[1] == 1 } @out], 'raw: -c 1');
raw_is($base, ['-m', 1, '-c', 3],
    [grep { $_->[0] == 1 && $_->[1] == 3 } @out], 'raw: -m 1 -c 3');
my @by_10_0_0_2 = grep { $_->[4] eq '10.0.0.2' } @out;
raw_is($base, ['-C', '10.0.0.2'], \@by_10_0_0_2, 'raw: -C 10.0.0.2');
raw_is($base, ['-C', 167772162], \@by_10_0_0_2, 'raw: -C 167772162');
raw_is($base, ['-C', -1], [grep { $_->[4] eq '255.255.255.255' } @out],
    'raw: -C -1 is 255.255.255.255');
raw_is($base, ['-C', '10.0.0.2', '-m', 10], [grep { $_->[0] == 10 }
    @by_10_0_0_2], 'raw: -C and -m together');
raw_is($base, ['-m', 99], [], 'raw: a filter without rows prints nothing');
raw_is($base, ['-s', 3600], \@out, 'raw: -s 3600 moves the stale mark',
    3600);
raw_is($base, ['-s', 0], \@out, 'raw: -s 0', 0);

# --- the table for people (not a terminal: no colors) ---

my ($r, $d) = status_at($base, '-f', $conf, '-m', 1, '-c', 2);
is($r->{status}, 0, 'table: exit 0') or diag($r->{err});
my @lines = split /\n/, $r->{out};
like($lines[0], qr/^MODID\s+CMDID\s+HOST\s+CALLER\s+SUCC\s+ERR\s+ERR%\s+
    OVERLOAD\s+AGE\s+STALE$/x, 'table: heading');
is(scalar @lines, 7, 'table: heading and six rows');
like($lines[1], qr/^\s+1\s+2\s+10\.9\.9\.9:81\s+10\.0\.0\.2\s+1\s+0\s+
    0\.0%\s+yes\s+1m\s+stale$/x, 'table: overloaded, stale row first');
like($lines[2], qr/^\s+1\s+2\s+192\.168\.0\.2:80\s+10\.0\.0\.1\s+5\s+5\s+
    50\.0%\s+yes\s+\d+s$/x, 'table: then the other overloaded row');
like($lines[5], qr/192\.168\.0\.1:8080\s+10\.0\.0\.2\s+0\s+0\s+-\s+no\s+
    3m\s+stale$/x, 'table: no calls: rate "-"; 200 s is 3m');
unlike($r->{out}, qr/\e/, 'table: no escape sequences into a file');
($r) = status_at($base, '-f', $conf, '-m', 1, '-c', 3);
like($r->{out}, qr/\s2h\s+stale\n\z/, 'table: 7200 s is 2h');
($r) = status_at($base, '-f', $conf, '-m', 2);
like($r->{out}, qr/\s4d\s+stale\n\z/, 'table: 4 days is 4d');
($r) = status_at($base, '-f', $conf, '-m', 99);
is($r->{out} =~ tr/\n//, 1, 'table: only the heading without rows');

# --- over the unix socket ---

my $sock_conf = $t->conf(socket => 1, file => 'socket.conf');
($r, $d) = status_at($base, '-f', $sock_conf, '-r');
is($r->{out}, raw_text($d, 60, @out), 'raw over db_socket')
    or diag($r->{err});

# --- usage ---

$r = $t->run([$bin, '-V']);
is_deeply([$r->{status}, $r->{out}], [0, "lars-status 0.1.0\n"], '-V');
$r = $t->run([$bin, '--version']);
is($r->{out}, "lars-status 0.1.0\n", '--version');
my $usage = "usage: lars-status [-hrV] [-C caller] [-c cmdid] [-f file] "
    . "[-m modid] [-s seconds] [-w [interval]]\n";
$r = $t->run([$bin, '-h']);
is_deeply([$r->{status}, $r->{out}], [0, $usage], '-h: usage, exit 0');
$r = $t->run([$bin, '--help']);
is($r->{out}, $usage, '--help');
for my $bad (['-x'], ['--bogus'], ['-m', 'one'], ['-C', '1.2.3'],
    ['-c'], ['-s', -1], ['-w', 0], ['-r', '-w'], ['--raw', '--watch=3'],
    ['extra']) {
	$r = $t->run([$bin, '-f', $conf, @$bad]);
	is($r->{status}, 2, "usage error: @$bad: exit 2");
	like($r->{err}, qr/^lars-status: .*\nusage: lars-status /,
	    "usage error: @$bad: says why, then the usage");
}

# --- configuration errors ---

my $bad = $t->conf(file => 'bad.conf', extra => "bogus = 1\n");
my $nlines = () = $t->read_file('bad.conf') =~ /\n/g;
$r = $t->run([$bin, '-f', $bad, '-r']);
is($r->{status}, 1, 'config error: exit 1');
like($r->{err}, qr/\Q$bad\E:$nlines: unknown key "bogus" in \[reporter\]/,
    'config error: names file:line and the key');
is($r->{out}, '', 'config error: nothing on stdout');
$bad = $t->conf(file => 'bad-port.conf', 'mysql.db_port' => 'none');
$r = $t->run([$bin, '-f', $bad]);
like($r->{err}, qr/\Q$bad\E:\d+: db_port = "none"/,
    'config error: a bad [mysql] value is named');
$r = $t->run([$bin, '-f', $t->dir . '/missing.conf']);
is($r->{status}, 1, 'missing config file: exit 1');
like($r->{err}, qr/missing\.conf: No such file or directory/,
    'missing config file: says so');

# --- database errors ---

my $secret = 'not-the-password-7f3a';
my $wrong = $t->conf(file => 'wrong.conf', 'mysql.db_passwd' => $secret);
$r = $t->run([$bin, '-f', $wrong, '-r']);
is($r->{status}, 1, 'wrong password: exit 1');
like($r->{err}, qr/lars\@127\.0\.0\.1:$db->{PORT}\/lars_dns: connect: MySQL error 1045: Access denied/,
    'wrong password: the server and the MySQL error');
unlike($r->{err} . $r->{out}, qr/\Q$secret\E/, 'wrong password: not shown');
unlike($r->{err} . $r->{out}, qr/\Q$db->{PASSWORD}\E/,
    'the real password is not shown either');
is($r->{out}, '', 'wrong password: nothing on stdout');

my $down = $t->conf(file => 'down.conf', 'mysql.db_port' => Lars::free_port());
$r = $t->run([$bin, '-f', $down, '-r']);
is($r->{status}, 1, 'no server: exit 1');
like($r->{err}, qr/connect: MySQL error 2002: /, 'no server: MySQL error');

$t->sql('RENAME TABLE lars_dns.ServerCallStatus TO lars_dns.Elsewhere');
$r = $t->run([$bin, '-f', $conf, '-r']);
$t->sql('RENAME TABLE lars_dns.Elsewhere TO lars_dns.ServerCallStatus');
is($r->{status}, 1, 'no table: exit 1');
like($r->{err}, qr/table lars_dns\.ServerCallStatus does not exist/,
    'no table: says so');

# --- the man page against the code ---

SKIP: {
	skip 'mandoc is not installed', 4
	    unless grep { -x "$_/mandoc" } split /:/, $ENV{PATH} // '';
	$r = $t->run(['mandoc', '-T', 'lint', '-W', 'warning',
	    'man/lars-status.1']);
	is($r->{out} . $r->{err}, '', 'mandoc -T lint: clean');
	$r = $t->run(['mandoc', '-T', 'ascii', 'man/lars-status.1']);
	(my $man = $r->{out}) =~ s/.\x08//g;
	my ($syn) = $man =~ /^SYNOPSIS\n(.*?)\n\n/ms;
	(my $u = $usage) =~ s/^usage: //;
	s/\s+/ /g, s/^ | $//g for $syn, $u;
	is($syn, $u, 'man: SYNOPSIS is the usage text');
	my $page = slurp('man/lars-status.1');
	my ($opts) = slurp('contrib/lars-status/lars-status.c')
	    =~ /OPTSTRING\s+"([^"]+)"/;
	my @missing = grep { $page !~ /^\.It Fl \Q$_\E\b/m }
	    ($opts =~ /(\w)/g);
	is("@missing", '', 'man: every flag has its .It');
	@missing = grep { $page !~ /Fl \\-\Q$_\E\b/ }
	    qw(help raw version watch);
	is("@missing", '', 'man: every long option is named');
}

# --- the unsigned schema ---

$t->sql('DELETE FROM lars_dns.ServerCallStatus');
$t->sql('ALTER TABLE lars_dns.ServerCallStatus '
    . 'MODIFY ip int(11) unsigned NOT NULL, '
    . 'MODIFY port int(11) unsigned NOT NULL, '
    . 'MODIFY caller int(11) unsigned NOT NULL');
$base = fill(1);
is($t->sql('SELECT ip FROM lars_dns.ServerCallStatus WHERE modid=1 AND '
    . 'cmdid=3'), "3232235521\n", 'unsigned: 192.168.0.1 is 3232235521');
raw_is($base, [], \@out, 'unsigned: the same raw output');
raw_is($base, ['-C', '10.0.0.2'], \@by_10_0_0_2, 'unsigned: -C 10.0.0.2');
raw_is($base, ['-C', -1], [grep { $_->[4] eq '255.255.255.255' } @out],
    'unsigned: -C -1');
raw_is($base, ['-C', 4294967295],
    [grep { $_->[4] eq '255.255.255.255' } @out], 'unsigned: -C 4294967295');

# --- --watch in a terminal ---

our $tmux_kill;

SKIP: {
	my $tmux = (grep { -x "$_/tmux" } split /:/, $ENV{PATH} // '')[0];
	skip 'tmux is not installed (apt-get install tmux)', 13 unless $tmux;
	watch_test("$tmux/tmux");
}

sub watch_test {
	my ($tmux) = @_;
	my @tm = ($tmux, '-S', $t->dir . '/tmux.sock', '-f', '/dev/null');
	$tmux_kill = [@tm, 'kill-server'];
	my $pane = sub {
		my $r = $t->run([@tm, 'capture-pane', '-p', @_], timeout => 10);
		return $r->{out};
	};
	fill(1);		# fresh ages: the stale count below is exact
	local $ENV{SHELL} = '/bin/sh';
	delete local $ENV{NO_COLOR};
	my $cmd = qq{trap '' INT; before=\$(stty -g); $bin -f $conf }
	    . qq{-m 1 -c 2 -w 1; st=\$?; }
	    . qq{[ "\$before" = "\$(stty -g)" ] && echo 'tty restored'; }
	    . qq{echo "exit status \$st"; sleep 60};
	my $r = $t->run([@tm, 'new-session', '-d', '-x', 120, '-y', 30, $cmd],
	    timeout => 10);
	is($r->{status}, 0, 'tmux: session started') or diag($r->{err});

	my $text = '';
	my $hdr = qr/^lars-status  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d  lars\@127\.0\.0\.1:\d+\/lars_dns  hosts (\d+)  overloaded (\d+)  stale (\d+)$/m;
	ok($t->wait_for(sub { ($text = $pane->()) =~ $hdr }, 10),
	    'watch: header line with time, server and counts')
	    or diag($text);
	my @n = $text =~ $hdr;
	is("@n", '6 2 2', 'watch: 6 hosts, 2 overloaded, 2 stale');
	my @rows = grep { /^\s+1\s+2\s/ } split /\n/, $text;
	like($rows[0] // '', qr/10\.9\.9\.9:81 .* yes /, 'watch: an overloaded '
	    . 'row first') or diag($text);
	like($rows[1] // '', qr/192\.168\.0\.2:80 .* yes /,
	    'watch: then the other overloaded row');
	my ($tty) = $t->run([@tm, 'display-message', '-p', '#{pane_tty}'])
	    ->{out} =~ /(\S+)/;
	my $mode = $t->run(['stty', '-a', '-F', $tty])->{out};
	ok($mode =~ /(?<!\S)-icanon\b/ && $mode =~ /(?<!\S)-echo\b/,
	    'watch: the terminal is in non-canonical mode without echo')
	    or diag($mode);
	my $esc = $pane->('-e');
	my ($ovl) = grep { /10\.9\.9\.9:81/ } split /\n/, $esc;
	like($ovl // '', qr/\e\[[\d;]*31m/, 'watch: overloaded row in red');

	$t->sql('UPDATE lars_dns.ServerCallStatus SET overload=\'1\', '
	    . 'succ_cnt=4242, ts=UNIX_TIMESTAMP() WHERE modid=1 AND cmdid=2 '
	    . 'AND ip=' . uip('10.1.2.3'));
	ok($t->wait_for(sub {
		($text = $pane->()) =~ /overloaded 3 /
	}, 10), 'watch: refreshed after the table changed') or diag($text);
	@rows = grep { /^\s+1\s+2\s/ } split /\n/, $text;
	like($rows[0] // '', qr/10\.1\.2\.3:80\s+10\.0\.0\.1\s+4242\s+7\s.*yes/,
	    'watch: the updated row moved up, with its new count')
	    or diag($text);

	$t->run([@tm, 'send-keys', 'q']);
	ok($t->wait_for(sub { ($text = $pane->()) =~ /exit status/ }, 10),
	    'watch: q ends it') or diag($text);
	like($text, qr/^exit status 0$/m, 'watch: exit status 0 after q');
	like($text, qr/^tty restored$/m, 'watch: terminal modes restored');
	unlike($text, qr/^lars-status  /m,
	    'watch: the alternate screen is gone');
	$t->run($tmux_kill);
	$tmux_kill = undef;
}

# A test that died half-way leaves no tmux server behind.
END {
	system(@$tmux_kill) if $tmux_kill;
}

$t->done_testing;
