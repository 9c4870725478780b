#!/usr/bin/perl
#
# MariaDB turns read-only for 6 s (a primary in a switchover, or a
# replica) under a load in which every key is written once.  The workers
# keep every row (error 1290 is not about a row), log the refusal once,
# show it in /metrics, and store everything once writes are taken again.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Lars;

my $t = Lars->new;
$t->refusal_under_load(code => 1290, why => qr/read-only|1290/,
    break => sub { $t->sql('SET GLOBAL read_only = 1') },
    mend => sub { $t->sql('SET GLOBAL read_only = 0') });
$t->done_testing;
