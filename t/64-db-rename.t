#!/usr/bin/perl
#
# The table renamed away for 6 s and back (a migration gone wrong, or
# done in two steps) under a load in which every key is written once.
# Error 1146 and a reconnect that finds no table are refusals: the rows
# are kept, no worker exits, and everything lands once the table is back.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Lars;

my $t = Lars->new;
$t->refusal_under_load(code => 1146, why => qr/1146|missing/,
    break => sub { $t->sql('RENAME TABLE lars_dns.ServerCallStatus TO '
	. 'lars_dns.ServerCallStatus_away') },
    mend => sub { $t->sql('RENAME TABLE lars_dns.ServerCallStatus_away TO '
	. 'lars_dns.ServerCallStatus') });
$t->done_testing;
