#!/usr/bin/perl
#
# The harness itself: a private MariaDB comes up with the schema and the
# lars user, t/lib/Lars.pm's wire encoder produces the protobuf bytes the
# rules say, and the automatic checks and clean-up work, also when a test
# dies (checked in child perl processes, with a fake lars-reporter).

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Lars;

my $t = Lars->new;
my $db = $t->db;

like($db->{$_}, qr/\S/, "env has $_") for qw(SOCKET PORT USER PASSWORD PID);
ok(-S $db->{SOCKET}, 'socket exists');
cmp_ok(length $db->{SOCKET}, '<', 108, 'socket path fits sockaddr_un');

is($t->sql('SELECT 1+1'), "2\n", 'admin query over the socket');
is($t->rows, '', 'ServerCallStatus starts empty');
like($t->sql('SHOW CREATE TABLE lars_dns.ServerCallStatus'),
    qr/PRIMARY KEY \(`modid`,`cmdid`,`ip`,`port`,`caller`\)/, 'schema');

for my $how (['-h', '127.0.0.1', '-P', $db->{PORT}],
    ["--socket=$db->{SOCKET}"]) {
	my $r = $t->run(['mariadb', '--no-defaults', @$how, '-u', 'lars',
	    "-p$db->{PASSWORD}", '-N', '-B', '-e',
	    'INSERT INTO lars_dns.ServerCallStatus VALUES '
	    . '(1,2,3,4,5,6,7,8,"1") ON DUPLICATE KEY UPDATE succ_cnt=9;'
	    . 'SELECT COUNT(*) FROM lars_dns.ServerCallStatus']);
	is($r->{status} . $r->{out}, "01\n", "user lars writes via @$how[0]")
	    or diag($r->{err});
}
is($t->rows, "1\t2\t3\t4\t5\t9\t7\t8\t1\n", 'rows() format');
$t->sql('DELETE FROM lars_dns.ServerCallStatus');

# The encoder, against bytes worked out by hand from the protobuf rules.
is(unpack('H*', Lars::varint(0)), '00', 'varint 0');
is(unpack('H*', Lars::varint(300)), 'ac02', 'varint 300');
is(unpack('H*', Lars::varint(-1)), 'ffffffffffffffffff01', 'varint -1');
is(unpack('H*', Lars::varint(Lars::ip('192.168.0.1'))),
    '8180a085fcffffffff01', 'varint of 192.168.0.1 is 10 bytes');
is(Lars::ip('192.168.0.1'), -1062731775, 'ip() is host order, signed');
is(Lars::ip('10.0.0.1'), 167772161, 'ip() 10.0.0.1');
is(unpack('H*', Lars::pb_report(modid => 1, cmdid => 2, caller => 3,
    ts => 150, results => [[4, 80, 10, 2, 1], [5, 0, 0, 0, 0]])),
    '080110021803' . '220a' . '0804105018' . '0a2002' . '2801'
    . '22020805' . '289601', 'ReportStatusReq bytes');
is(unpack('H*', Lars::frame(3, 'ab')), '03000000020000006162', 'frame');
is(unpack('H*', Lars::frame(-2, '')), 'feffffff00000000', 'frame, empty');

# Child test files: they run the harness and we look at what it left.
my $fake = $t->dir . '/fakebin';
mkdir $fake;
$t->write_file("$fake/lars-reporter", <<'EOF');
#!/usr/bin/perl
# A misbehaving reporter: logs a fatal line, leaves a child behind.
use IO::Socket::INET;
my ($conf) = grep { -f } @ARGV;
open my $fh, '<', $conf or die "$conf: $!";
my ($port) = join('', <$fh>) =~ /^port = (\d+)/m;
my $l = IO::Socket::INET->new(Listen => 5, LocalAddr => '127.0.0.1',
    LocalPort => $port, ReuseAddr => 1) or die "listen: $!";
print STDERR "2026-01-01 00:00:00.000 [$$] master: fatal: pretend\n";
if (my $pid = fork) {
	open my $p, '>', "$ENV{FAKE_PIDFILE}"; print $p "$pid\n"; close $p;
} else {
	$SIG{TERM} = 'IGNORE';
	sleep 300;
	exit 0;
}
$SIG{TERM} = sub { exit 0 };
while (1) { my $c = $l->accept; close $c if $c; }
EOF
chmod 0755, "$fake/lars-reporter";

sub child {
	my ($code, %env) = @_;
	local @ENV{keys %env} = values %env;
	my $r = $t->run([$^X, '-It/lib', '-MTest::More', '-MLars', '-e',
	    $code], timeout => 90);
	my ($dir) = $r->{out} =~ /^DIR=(\S+)/m;
	return ($r, $dir);
}

{
	my ($r, $dir) = child('my $c = Lars->new; print "DIR=$c->{dir}\n";'
	    . 'print "DBPID=$c->{db}{PID}\n"; die "boom\n";');
	my ($pid) = $r->{out} =~ /^DBPID=(\d+)/m;
	isnt($r->{status}, 0, 'dying test exits nonzero');
	ok($pid && !alive($pid), 'its MariaDB is stopped') or diag($r->{err});
	ok($dir && -d $dir, 'its directory is kept');
	like($r->{err}, qr/kept test directory \Q$dir\E/, 'and named');
	ok($dir && -f "$dir/ServerCallStatus.tsv" && !-e "$dir/data",
	    'with the table saved and without the MariaDB files');
	system('t/lib/mariadb.sh', 'stop', $dir) if $pid && alive($pid);
	File::Path::remove_tree($dir) if $dir && $dir =~ m{^/tmp/lars-};
}

{
	my ($r, $dir) = child('my $c = Lars->new(db => 0);'
	    . 'print "DIR=$c->{dir}\n"; pass("fine"); $c->done_testing;');
	is($r->{status}, 0, 'passing test exits 0') or diag($r->{out});
	ok($dir && !-e $dir, 'its directory is removed');
}

{
	my $pidfile = $t->dir . '/fake.pid';
	my ($r, $dir) = child('my $c = Lars->new(db => 0);'
	    . 'print "DIR=$c->{dir}\n"; $c->conf; $c->run_reporter;'
	    . '$c->write_file("asan.4242", "ERROR: AddressSanitizer: x\n");'
	    . 'pass("fine"); $c->done_testing;',
	    LARS_BUILD => $fake, FAKE_PIDFILE => $pidfile);
	isnt($r->{status}, 0, 'misbehaving reporter fails the test');
	like($r->{out}, qr/^not ok \d+ - no fatal errors/m, 'fatal noticed');
	like($r->{out}, qr/^not ok \d+ - no sanitizer reports/m,
	    'sanitizer report noticed');
	like($r->{err}, qr/AddressSanitizer: x/, 'and shown');
	like($r->{out}, qr/^not ok \d+ - no stray/m, 'stray process noticed');
	my $stray = $t->read_file($pidfile) // '';
	chomp $stray;
	ok($stray && $t->wait_for(sub { !alive($stray) }, 5),
	    'stray process killed');
	File::Path::remove_tree($dir) if $dir && $dir =~ m{^/tmp/lars-};
}

sub alive {
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/stat" or return 0;
	my ($state) = <$fh> =~ /\) (\S)/;
	return $state ne 'Z';
}

$t->done_testing;
