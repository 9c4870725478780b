#!/usr/bin/perl
#
# The harness's MariaDB with TLS (Lars->new(db_tls => 1), LARS_DB_TLS=1 of
# t/lib/mariadb.sh): the certificates it makes chain as they should; a
# client that verifies the server against ca.pem gets a TLS session
# (Ssl_cipher set), one that verifies against the unrelated CA is refused;
# the client certificate satisfies REQUIRE X509.  A default server has no
# TLS (have_ssl DISABLED): a client that verifies is refused, and plain
# --ssl, which MariaDB's client treats as "if offered" (its default, ssl
# TRUE, takes TLS whenever the server offers it), goes on in clear.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Lars;

# mariadb as lars over TCP with these options; returns the run result.
sub client {
	my ($t, $sql, @opt) = @_;
	my $db = $t->db;
	return $t->run(['mariadb', '--no-defaults', @opt, '-h', '127.0.0.1',
	    '-P', $db->{PORT}, '-u', $db->{USER}, "-p$db->{PASSWORD}",
	    '--connect-timeout=10', '-N', '-B', '-e', $sql], timeout => 30);
}

sub status_of {
	my ($t, $var, @opt) = @_;
	my $r = client($t, "SHOW STATUS LIKE '$var'", @opt);
	return $r->{status} == 0 ? ($r->{out} =~ /^\Q$var\E\t(.*)$/m)[0] //
	    '' : undef;
}

my $t = Lars->new(db_tls => 1);
my $tls = $t->db->{TLS_DIR};
is($tls, $t->dir . '/tls', 'env: TLS_DIR is DIR/tls');
ok(-s "$tls/$_", "tls/$_ made") for qw(ca.pem server-cert.pem
    server-key.pem client-cert.pem client-key.pem other-ca.pem);

my $r = $t->run(['openssl', 'verify', '-CAfile', "$tls/ca.pem",
    "$tls/server-cert.pem", "$tls/client-cert.pem"]);
is($r->{status}, 0, 'server and client certificates verify against ca.pem')
    or diag($r->{out}, $r->{err});
$r = $t->run(['openssl', 'verify', '-CAfile', "$tls/other-ca.pem",
    "$tls/server-cert.pem"]);
isnt($r->{status}, 0, 'and not against other-ca.pem');
$r = $t->run(['openssl', 'x509', '-noout', '-subject', '-ext',
    'subjectAltName', '-in', "$tls/server-cert.pem"]);
like($r->{out}, qr/CN\s*=\s*127\.0\.0\.1/, 'server certificate: CN 127.0.0.1');
like($r->{out}, qr/IP Address:127\.0\.0\.1/, 'SAN IP 127.0.0.1');
like($r->{out}, qr/DNS:localhost/, 'SAN DNS localhost');

is($t->sql("SHOW VARIABLES LIKE 'have_ssl'"), "have_ssl\tYES\n",
    'db_tls: have_ssl YES');
my @verify = ('--ssl', "--ssl-ca=$tls/ca.pem", '--ssl-verify-server-cert');
my $cipher = status_of($t, 'Ssl_cipher', @verify);
ok(defined $cipher && length $cipher, 'verified against ca.pem: a TLS '
    . 'session, Ssl_cipher ' . ($cipher // 'none'));
like(status_of($t, 'Ssl_version', @verify) // '', qr/^TLSv1\.[23]$/,
    'TLS 1.2 or 1.3');
$r = client($t, 'SELECT 1', '--ssl', "--ssl-ca=$tls/other-ca.pem",
    '--ssl-verify-server-cert');
isnt($r->{status}, 0, 'verified against other-ca.pem: refused');
like($r->{err}, qr/ERROR 2026 .*TLS\/SSL error/, 'with a TLS error (2026)')
    or diag($r->{err});
is(status_of($t, 'Ssl_cipher', '--skip-ssl'), '',
    'a client that asks for no TLS is not forced into it');
like(status_of($t, 'Ssl_cipher') // '', qr/\S/,
    'the mariadb client without options takes TLS when offered (ssl TRUE)');

# the client certificate, for a user that requires one
my $pw = $t->db->{PASSWORD};
$t->sql("CREATE USER 'lars_x509'\@'127.0.0.1' IDENTIFIED BY '$pw' "
    . "REQUIRE X509");
{
	local $t->db->{USER} = 'lars_x509';
	$r = client($t, "SHOW STATUS LIKE 'Ssl_cipher'", @verify,
	    "--ssl-cert=$tls/client-cert.pem", "--ssl-key=$tls/client-key.pem");
	like($r->{out}, qr/^Ssl_cipher\t\S+$/m,
	    'REQUIRE X509: the client certificate gets in') or diag($r->{err});
	$r = client($t, 'SELECT 1', @verify);
	like($r->{err}, qr/ERROR 1045 /, 'and without it access is denied');
}

my $p = Lars->new(db_tls => 0);
is($p->db->{TLS_DIR}, '', 'default server: TLS_DIR empty');
ok(!-e $p->dir . '/tls', 'and no certificates made');
is($p->sql("SHOW VARIABLES LIKE 'have_ssl'"), "have_ssl\tDISABLED\n",
    'default server: have_ssl DISABLED (built with TLS, given no certificate)');
$r = client($p, 'SELECT 1', @verify);
isnt($r->{status}, 0, 'a client that verifies the server is refused');
like($r->{err}, qr/ERROR 2026 /, 'with 2026 (TLS/SSL error)') or diag($r->{err});
is(status_of($p, 'Ssl_cipher', '--ssl'), '',
    'plain --ssl is "if offered": it connects in clear');

$t->done_testing;
