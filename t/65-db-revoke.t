#!/usr/bin/perl
#
# The reporter's user loses INSERT and UPDATE for 6 s (an operator's
# mistake, or a rotation of grants) under a load in which every key is
# written once.  Database grants take effect on new connections, so the
# workers' connections are killed after the REVOKE.  Error 1142 is a
# refusal, not a row's fault: nothing is dropped, and everything lands
# once the grant is back.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Lars;

my $t = Lars->new;

sub kill_lars {
	for my $id (split /\n/, $t->sql("SELECT ID FROM "
	    . "information_schema.PROCESSLIST WHERE USER = 'lars'")) {
		eval { $t->sql("KILL CONNECTION $id") };
	}
}

my @who = ("'lars'\@'localhost'", "'lars'\@'127.0.0.1'");
$t->refusal_under_load(code => 1142, why => qr/1142|denied/,
    break => sub {
	$t->sql("REVOKE INSERT, UPDATE ON lars_dns.* FROM $_") for @who;
	kill_lars();
    },
    mend => sub { $t->sql("GRANT ALL ON lars_dns.* TO $_") for @who });
$t->done_testing;
