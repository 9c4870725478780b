#!/usr/bin/perl
#
# The C unit tests: every t/unit/test_NAME.c is built into
# $LARS_BUILD/t/test_NAME; each runs here as one subtest, its TAP shown
# indented.  In a build without sanitizers they run under valgrind
# (errors or leaks fail them); in the ASan build the sanitizers watch.

use strict;
use warnings;
use File::Temp qw(tempdir);
use POSIX qw(WNOHANG);
use TAP::Parser;
use Test::More;
use Time::HiRes qw(sleep time);

my $build = $ENV{LARS_BUILD} // 'build';
my @srcs = sort glob 't/unit/test_*.c';
plan skip_all => 'no unit tests' unless @srcs;

my $valgrind = grep { -x "$_/valgrind" } split /:/, $ENV{PATH};
my $tmp = tempdir('lars-unit-XXXXXX', DIR => '/tmp', CLEANUP => 1);
my $out_fh = Test::More->builder->output;

for my $src (@srcs) {
	my ($name) = $src =~ m{(test_\w+)\.c$};
	my $bin = "$build/t/$name";
	if (!-x $bin) {
		fail("$name: $bin is not built");
		next;
	}
	my @cmd = ($bin);
	my $how = 'plain';
	if (!sanitized($bin) && $valgrind) {
		@cmd = ('valgrind', '--error-exitcode=99', '--leak-check=full',
		    '--errors-for-leak-kinds=definite,indirect', '-q', $bin);
		$how = 'valgrind';
	} elsif (sanitized($bin)) {
		$how = 'sanitizers';
	}
	my ($status, $tap, $err) = run(\@cmd, 300);
	print $out_fh "    # Subtest: $name ($how)\n";
	print $out_fh map { "    $_\n" } split /\n/, $tap;

	my $p = TAP::Parser->new({ tap => $tap });
	1 while $p->next;
	my $good = $status == 0 && $p->is_good_plan && !$p->failed
	    && ($p->tests_run > 0 || $p->skip_all);
	ok($good, "$name ($how)") or diag(sprintf "exit status %s, plan %s, "
	    . "failed: %s\n%s", $status, $p->plan || 'none',
	    join(',', $p->failed) || 'none', $err);
}

done_testing;

sub sanitized {
	my ($bin) = @_;
	open my $fh, '<:raw', $bin or return 0;
	local $/;
	my $data = <$fh>;
	return $data =~ /__asan_init|__ubsan_handle_/ ? 1 : 0;
}

sub run {
	my ($cmd, $timeout) = @_;
	my ($out, $err) = ("$tmp/out", "$tmp/err");
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		open STDIN, '<', '/dev/null';
		open STDOUT, '>', $out or POSIX::_exit(127);
		open STDERR, '>', $err or POSIX::_exit(127);
		exec @$cmd or POSIX::_exit(127);
	}
	my $t0 = time;
	my $status;
	while (1) {
		if (waitpid($pid, WNOHANG) == $pid) {
			$status = $? & 127 ? 128 + ($? & 127) : $? >> 8;
			last;
		}
		if (time - $t0 > $timeout) {
			kill 'KILL', $pid;
			waitpid($pid, 0);
			$status = "killed after $timeout s";
			last;
		}
		sleep 0.02;
	}
	my @r = ($status);
	for my $f ($out, $err) {
		open my $fh, '<', $f or die "$f: $!";
		local $/;
		push @r, scalar(<$fh>) // '';
	}
	return @r;
}
