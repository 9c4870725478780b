#!/usr/bin/perl
#
# The table fills up (error 1114, "The table is full") under a load in
# which every key is written once, and is given room again 10 s later.
# The table is made a MEMORY table whose size max_heap_table_size bounds
# (4 MiB), so that "full" is a real condition of the server, reached by
# the load itself, and lifted with ALTER TABLE.  Nothing is dropped: every row lands once there is
# room.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Lars;

my $t = Lars->new;
# About 40000 rows fit: the load fills it some 7 s after it starts.
$t->sql('SET SESSION max_heap_table_size = 4194304; '
    . 'ALTER TABLE lars_dns.ServerCallStatus ENGINE=MEMORY');
$t->refusal_under_load(code => 1114, why => qr/1114|is full/, hold => 10,
    break => sub { $t->wait_log(qr/MySQL error 1114\b/, 20) },
    mend => sub { $t->sql('SET SESSION max_heap_table_size = 268435456; '
	. 'ALTER TABLE lars_dns.ServerCallStatus MAX_ROWS = 100000000') });
my $n = $t->sql('SELECT COUNT(*) FROM lars_dns.ServerCallStatus');
diag("rows at the end: $n");
$t->done_testing;
