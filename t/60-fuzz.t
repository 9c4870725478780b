#!/usr/bin/perl
#
# The libFuzzer target t/fuzz/fuzz_report.c (frame splitting, report
# decoding and records): the seed corpus is what t/fuzz/make-corpus.pl
# writes; the target replays every seed without a crash; then it fuzzes
# for LARS_FUZZ_TIME seconds (default 20) from a copy of the seeds and
# must end with exit 0, no crash-, leak-, timeout- or oom- file and no
# sanitizer report.  The final stats go to diag().
#
# Needs clang and its libFuzzer runtime (make deps installs clang and
# libclang-rt-14-dev); without them the test is skipped, or fails when
# CI is set in the environment.  Artifacts of a failure are kept in
# $LARS_BUILD/fuzz/.

use strict;
use warnings;
use File::Copy qw(copy);
use File::Temp qw(tempdir);
use POSIX qw(WNOHANG);
use Test::More;

my $build = $ENV{LARS_BUILD} // 'build';
my $time = $ENV{LARS_FUZZ_TIME} // 20;
my $cc = $ENV{FUZZ_CC} // 'clang';
my $bin = "$build/fuzz/fuzz_report";
my $seeds = 't/fuzz/corpus';
my $tmp = tempdir('lars-fuzz-XXXXXX', DIR => '/tmp', CLEANUP => 1);

sub slurp {
	my ($path) = @_;
	open(my $fh, '<:raw', $path) or die "$path: $!\n";
	local $/;
	return scalar <$fh>;
}

sub files { my ($dir) = @_; return sort map { s{.*/}{}r } glob "$dir/*" }

# Why a fuzzer cannot be built here, or undef.
sub no_fuzzer {
	my $src = "$tmp/probe.c";
	open(my $fh, '>', $src) or die "$src: $!\n";
	print $fh "#include <stddef.h>\n#include <stdint.h>\n",
	    "int LLVMFuzzerTestOneInput(const uint8_t *, size_t);\n",
	    "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)\n",
	    "{ (void)d; (void)n; return 0; }\n";
	close $fh;
	return "no $cc in PATH"
	    unless grep { -x "$_/$cc" } split /:/, $ENV{PATH};
	return "$cc cannot link -fsanitize=fuzzer (libclang-rt-14-dev)"
	    if system("$cc -fsanitize=fuzzer,address,undefined -o $tmp/probe " .
	    "$src >$tmp/probe.log 2>&1") != 0;
	return undef;
}

# Run a command with output to $log; kill it after $limit seconds.
sub run {
	my ($cmd, $log, $limit) = @_;
	my $pid = fork // die "fork: $!\n";
	if ($pid == 0) {
		open(STDOUT, '>', $log) or die "$log: $!\n";
		open(STDERR, '>&', \*STDOUT) or die "dup: $!\n";
		exec(@$cmd) or die "exec $cmd->[0]: $!\n";
	}
	my $end = time + $limit;
	while (waitpid($pid, WNOHANG) == 0) {
		if (time > $end) {
			kill 'KILL', $pid;
			waitpid($pid, 0);
			return -1;
		}
		select(undef, undef, undef, 0.2);
	}
	return $?;
}

sub tail_diag {
	my ($log) = @_;
	my @lines = split /\n/, slurp($log);
	diag(join("\n", @lines > 40 ? @lines[-40 .. -1] : @lines));
}

if (my $why = no_fuzzer()) {
	if ($ENV{CI}) {
		fail("fuzzer toolchain: $why");
		done_testing();
		exit;
	}
	plan skip_all => $why;
}

# The seeds are reproducible.
is(system("$^X t/fuzz/make-corpus.pl $tmp/seeds >/dev/null"), 0,
    'make-corpus.pl runs');
my @want = files("$tmp/seeds");
is_deeply([ files($seeds) ], \@want, "$seeds holds the files " .
    'make-corpus.pl writes');
my @differ = grep { -f "$seeds/$_" &&
    slurp("$seeds/$_") ne slurp("$tmp/seeds/$_") } @want;
is_deeply(\@differ, [], "$seeds is what make-corpus.pl writes");

if (!is(system('make', '-s', "B=$build", $bin), 0, "make $bin")) {
	done_testing();
	exit;
}

# Every seed once.
my @seeds = map { "$seeds/$_" } files($seeds);
my $log = "$tmp/replay.log";
my $st = run([ $bin, "-artifact_prefix=$tmp/", @seeds ], $log, 300);
is($st, 0, 'the target replays ' . scalar(@seeds) . ' seeds') or
    tail_diag($log);
my $ran = () = slurp($log) =~ /^Executed /mg;
is($ran, scalar @seeds, 'each seed ran');

# Fuzz from a copy: the target adds to its first corpus directory.
mkdir "$tmp/corpus" or die "mkdir: $!\n";
copy($_, "$tmp/corpus/") or die "copy $_: $!\n" for @seeds;
$log = "$tmp/fuzz.log";
$st = run([ $bin, "-max_total_time=$time", '-print_final_stats=1',
    '-timeout=30', "-artifact_prefix=$tmp/art-", "$tmp/corpus" ], $log,
    2 * $time + 120);
my $out = slurp($log);
is($st, 0, "fuzzing for $time s exits 0") or tail_diag($log);
my @art = grep { m{/art-(crash|leak|timeout|oom)-} }
    glob "$tmp/art-*";
is_deeply(\@art, [], 'no crash, leak, timeout or oom input') or do {
	system('mkdir', '-p', "$build/fuzz");
	for my $a (@art) {
		my $keep = "$build/fuzz/" . ($a =~ s{.*/art-}{}r);
		copy($a, $keep);
		diag("kept $keep: " . unpack('H*', substr(slurp($a), 0, 256)));
	}
};
unlike($out, qr/ERROR:\s(?:(?:Address|Leak)Sanitizer|libFuzzer)|
    runtime\serror:/x, 'no sanitizer or libFuzzer error');

my %stat = $out =~ /^stat::(\w+):\s+(\d+)/mg;
my ($done) = $out =~ /^(#\d+\s+DONE\s.*)$/m;
ok(($stat{number_of_executed_units} // 0) > 0, 'the fuzzer ran inputs');
diag(sprintf('%s execs, %s exec/s, %s new units, peak rss %s MB',
    map { $stat{$_} // '?' } qw(number_of_executed_units
    average_exec_per_sec new_units_added peak_rss_mb)));
diag($done) if defined $done;

done_testing();
