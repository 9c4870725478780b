#!/usr/bin/perl
#
# Every statement killed by max_statement_time (error 1969) for 6 s under
# a load in which every key is written once: the global limit is set and
# the workers' connections are killed, so that they reconnect under it.
# Nothing is dropped; once the limit is lifted every row lands.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Lars;

my $t = Lars->new;

sub kill_lars {
	for my $id (split /\n/, $t->sql("SET SESSION max_statement_time = 0; SELECT ID FROM "
	    . "information_schema.PROCESSLIST WHERE USER = 'lars'")) {
		eval { $t->sql("KILL CONNECTION $id") };
	}
}

$t->refusal_under_load(code => 1969, why => qr/1969|max_statement_time/,
    break => sub {
	$t->sql('SET GLOBAL max_statement_time = 0.000001');
	kill_lars();
    },
    mend => sub { $t->sql('SET GLOBAL max_statement_time = 0') });
$t->done_testing;
