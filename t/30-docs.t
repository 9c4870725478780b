#!/usr/bin/perl
#
# The documentation against the code: the man pages are clean under
# mandoc -T lint; every flag of lars-reporter and lars-report (their getopt
# strings) is in the options list of its page and back; each SYNOPSIS is
# the program's usage text; every key of cfg_keys in reporter/config.c is
# in lars-reporter.conf(5), in its section, with its type, default and
# range, and in its "Reloading" list, and back; the example configuration
# shows every key with its default and passes -n; the init script, the
# /etc/default file and the systemd units agree on the paths and pass
# sh -n and systemd-analyze verify (when there is one).
#
# No database and no daemon: this reads files and runs -h and -n.

use strict;
use warnings;
use File::Temp qw(tempdir);
use Test::More;

my $build = $ENV{LARS_BUILD} // 'build';
my $tmp = tempdir('lars-docs-XXXXXX', DIR => '/tmp', CLEANUP => 1);
my @pages = ('man/lars-reporter.8', 'man/lars-reporter.conf.5',
    'man/lars-report.1');

sub slurp {
	my ($path) = @_;
	open(my $fh, '<', $path) or die "$path: $!\n";
	local $/;
	return scalar <$fh>;
}

sub have {
	my ($cmd) = @_;
	return grep { -x "$_/$cmd" } split /:/, $ENV{PATH} // '';
}

# Run a command (a list), return (status, stdout and stderr together).
sub run {
	my (@cmd) = @_;
	my $pid = open(my $fh, '-|') // die "fork: $!\n";
	if ($pid == 0) {
		open(STDERR, '>&', \*STDOUT) or die "dup: $!\n";
		exec(@cmd) or do { print "exec $cmd[0]: $!\n"; exit 127 };
	}
	local $/;
	my $out = <$fh> // '';
	close($fh);
	return ($? >> 8, $out);
}

# The sections of an mdoc page: name => [lines].
sub sections {
	my ($text) = @_;
	my (%sh, $cur);
	for my $l (split /\n/, $text) {
		if ($l =~ /^\.Sh\s+(.*?)\s*$/) {
			$cur = $1;
			$sh{$cur} = [];
			next;
		}
		push @{$sh{$cur}}, $l if defined $cur;
	}
	return \%sh;
}

# An mdoc line as words, without quotes.
sub words {
	my ($l) = @_;
	$l =~ s/^\.//;
	return grep { length } map { s/^"|"$//gr } split /\s+/, $l;
}

# Flags named on .It lines: ("d", "f", "-help", ...) => takes an argument.
sub it_flags {
	my ($lines) = @_;
	my %f;
	for my $l (grep { /^\.It\s/ && /\bFl\b/ } @$lines) {
		my @w = words($l);
		for my $i (0 .. $#w - 1) {
			next unless $w[$i] eq 'Fl';
			my $name = $w[$i + 1] =~ s/^\\-/-/r;
			my $arg = $i + 2 <= $#w && $w[$i + 2] eq 'Ar';
			$f{$name} = $arg;
		}
	}
	return \%f;
}

# SYNOPSIS blocks (one per .Nm) as items "[-f file]", "-m modid",
# "result", in order.
sub synopsis_items {
	my ($lines) = @_;
	my (@blocks, $items);
	my %macro = map { $_ => 1 } qw(Fl Ar Op Oo Oc Ns No Pa Ek Bk);
	for my $l (@$lines) {
		if ($l =~ /^\.Nm\b/) {
			push @blocks, $items = [];
			next;
		}
		next unless $items && $l =~ /^\./;
		my @w = words($l);
		my $opt = $w[0] eq 'Op';
		shift @w if $opt;
		my $last;
		for (my $i = 0; $i < @w; $i++) {
			if ($w[$i] eq 'Fl') {
				my $f = $w[++$i];
				my @f = length($f) > 1 && $f !~ /^\\-/ ?
				    split(//, $f) : ($f);
				for (@f) {
					push @$items, $last =
					    { flag => $_, opt => $opt };
				}
				$last = undef if @f > 1;
			} elsif ($w[$i] eq 'Ar') {
				while ($i + 1 < @w && !$macro{$w[$i + 1]} &&
				    $w[$i + 1] ne '|') {
					my $a = $w[++$i];
					if ($last && !defined $last->{arg}) {
						$last->{arg} = $a;
					} else {
						push @$items,
						    { pos => $a, opt => $opt };
					}
				}
				$last = undef;
			} elsif ($w[$i] eq '|') {
				$last = undef;
			}
		}
	}
	return [map { [map { item_str($_) } @$_] } @blocks];
}

# The usage text of a program in the same items, one list per line.
sub usage_items {
	my ($text) = @_;
	my @blocks;
	for my $line (grep { /\S/ } split /\n/, $text) {
		$line =~ s/^\s*(?:usage:)?\s*\S+//;
		my @t = $line =~ /(\[|\]|\||[^\s\[\]|]+)/g;
		my ($depth, @items, $last) = (0);
		for (my $i = 0; $i < @t; $i++) {
			my $t = $t[$i];
			if ($t eq '[') {
				$depth++;
			} elsif ($t eq ']') {
				$depth--;
			} elsif ($t eq '|') {
				$last = undef;
			} elsif ($t =~ /^-(\w+)$/) {
				my @f = split //, $1;
				for (@f) {
					push @items, $last =
					    { flag => $_, opt => $depth > 0 };
				}
				$last = undef if @f > 1;
			} elsif ($last && !defined $last->{arg}) {
				$last->{arg} = $t;
				$last = undef;
			} else {
				push @items, { pos => $t, opt => $depth > 0 };
			}
		}
		push @blocks, [map { item_str($_) } @items];
	}
	return \@blocks;
}

sub item_str {
	my ($it) = @_;
	my $s = defined $it->{pos} ? $it->{pos} :
	    '-' . $it->{flag} . (defined $it->{arg} ? " $it->{arg}" : '');
	return $it->{opt} ? "[$s]" : $s;
}

# getopt string => { letter => takes an argument }
sub getopt_flags {
	my ($s) = @_;
	$s =~ s/^[+:-]+//;
	my %f;
	while ($s =~ /(\w)(:?)/g) {
		$f{$1} = $2 eq ':' ? 1 : 0;
	}
	return \%f;
}

# Both directions between the code's flags and the page's options list.
sub check_flags {
	my ($prog, $code, $page) = @_;
	for my $f (sort keys %$code) {
		if (!exists $page->{$f}) {
			fail("$prog: flag -$f is documented");
			next;
		}
		is($page->{$f} ? 1 : 0, $code->{$f} ? 1 : 0,
		    "$prog: -$f " . ($code->{$f} ? 'takes' : 'takes no') .
		    ' argument in the page too');
	}
	for my $f (sort keys %$page) {
		ok(exists $code->{$f}, "$prog: documented -$f is accepted");
	}
}

# --- the man pages are lint-clean ---

SKIP: {
	skip 'mandoc is not installed', scalar @pages unless have('mandoc');
	for my $p (@pages) {
		my ($st, $out) = run('mandoc', '-T', 'lint', '-W', 'warning', $p);
		is($out, '', "mandoc -T lint -W warning $p: no output");
	}
}

# --- lars-reporter: flags, long options, usage ---

my $rsrc = slurp('reporter/reporter.c');
my ($ropt) = $rsrc =~ /getopt_long\s*\([^"]*"([^"]+)"/s;
ok(defined $ropt, 'reporter.c: getopt_long string found');
my %rflags = %{getopt_flags($ropt // '')};
my ($lblock) = $rsrc =~ /reporter_longopts\[\]\s*=\s*\{(.*?)\};/s;
ok(defined $lblock, 'reporter.c: reporter_longopts found');
while (($lblock // '') =~ /\{\s*"([\w-]+)",\s*(\w+)/g) {
	$rflags{"-$1"} = $2 eq 'no_argument' ? 0 : 1;
}
ok(exists $rflags{'-help'} && exists $rflags{'-version'},
    'reporter.c: --help and --version parsed');

my $r8 = sections(slurp('man/lars-reporter.8'));
check_flags('lars-reporter', \%rflags, it_flags($r8->{DESCRIPTION}));

my $rsyn = synopsis_items($r8->{SYNOPSIS});
for my $it (map { @$_ } @$rsyn) {
	next unless $it =~ /^\[?-(\w)/;
	ok(exists $rflags{$1}, "lars-reporter: SYNOPSIS -$1 is accepted");
}

SKIP: {
	my $bin = "$build/lars-reporter";
	skip "$bin is not built", 3 unless -x $bin;
	my ($st, $out) = run($bin, '-h');
	is($st, 0, 'lars-reporter -h exits 0');
	my $usage = usage_items($out);
	is_deeply($rsyn, $usage, 'lars-reporter: SYNOPSIS is the usage text')
	    or diag("usage: $out");
	my @uf = grep { !exists $rflags{$_} }
	    map { /^\[?-(\w)/ ? $1 : () } map { @$_ } @$usage;
	is("@uf", '', 'lars-reporter: the usage names only accepted flags');
}

# --- lars-report: flags, usage ---

my $csrc = slurp('contrib/lars-report/lars-report.c');
my ($copt) = $csrc =~ /#define\s+OPTSTRING\s+"([^"]+)"/;
ok(defined $copt, 'lars-report.c: OPTSTRING found');
my %cflags = %{getopt_flags($copt // '')};
my $r1 = sections(slurp('man/lars-report.1'));
check_flags('lars-report', \%cflags, it_flags($r1->{DESCRIPTION}));
my $csyn = synopsis_items($r1->{SYNOPSIS});
is(scalar @$csyn, 2, 'lars-report: SYNOPSIS has two forms');

SKIP: {
	my $bin = "$build/lars-report";
	skip "$bin is not built", 3 unless -x $bin;
	my ($st, $out) = run($bin, '-h');
	is($st, 0, 'lars-report -h exits 0');
	my $usage = usage_items($out);
	is_deeply($csyn, $usage, 'lars-report: SYNOPSIS is the usage text')
	    or diag("usage: $out");
	my @uf = grep { !exists $cflags{$_} }
	    map { /^\[?-(\w)/ ? $1 : () } map { @$_ } @$usage;
	is("@uf", '', 'lars-report: the usage names only accepted flags');
}

# --- lars-reporter.conf(5) against cfg_keys ---

my $hdr = slurp('reporter/reporter.h');
my %define = $hdr =~ /^#define\s+(\w+)\s+(\S+)/mg;
my $csrc2 = slurp('reporter/config.c');
my ($table) = $csrc2 =~ /cfg_keys\[\]\s*=\s*\{(.*?)\n\};/s;
ok(defined $table, 'config.c: cfg_keys found');
my (%keys, @order);
while (($table // '') =~ /\{\s*"(\w+)",\s*"(\w+)",\s*(CFG_\w+),\s*[^,]+,
    \s*(NULL|"[^"]*"),\s*([\w-]+),\s*([\w-]+)\s*(?:,\s*\w+\s*)?\}/gx) {
	my ($min, $max) = ($5, $6);
	$min = $define{$min} // $min;
	$max = $define{$max} // $max;
	$keys{$2} = { section => $1, type => $3,
	    dflt => $4 eq 'NULL' ? undef : substr($4, 1, -1),
	    min => $min, max => $max };
	push @order, $2;
}
my @declared = ($table // '') =~ /^\s*\{\s*"\w+",\s*"(\w+)",/mg;
is(scalar @order, scalar @declared,
    'config.c: every line of cfg_keys parsed (' . scalar(@declared) .
    ' keys)');

my %typeword = (CFG_INT => 'number', CFG_STR => 'string',
    CFG_ADDR => 'address', CFG_PATH => 'path', CFG_IGNORED => 'value',
    CFG_CIDRS => 'cidr', CFG_LISTEN => 'address', CFG_HOSTS => 'hosts',
    CFG_ENUM => 'mode');

# The keys of "The [x] section" lists, their text, and the Reloading list.
my (%doc, %reload, $sect, $cur);
for my $l (@{sections(slurp('man/lars-reporter.conf.5'))->{DESCRIPTION}}) {
	if ($l =~ /^\.Ss\s+(.*)$/) {
		my $t = $1;
		$sect = $t =~ /^The \[(\w+)\] section$/ ? $1 :
		    $t eq 'Reloading' ? '*reload' : undef;
		$cur = undef;
		next;
	}
	next unless defined $sect;
	if ($sect eq '*reload') {
		if ($l =~ /^\.It\s+Ic\s+(.*)$/) {
			$reload{$_}++ for grep { /^\w+$/ && $_ ne 'Ic' }
			    split /[\s,]+/, $1;
		}
		next;
	}
	if ($l =~ /^\.It\s+Ic\s+(\w+)(?:\s+Ar\s+(\w+))?/) {
		$cur = $1;
		$doc{$cur}{section} = $sect;
		$doc{$cur}{type} = $2 // '';
		$doc{$cur}{text} = '';
		$doc{$cur}{count}++;
		next;
	}
	if ($l =~ /^\.(It|El)\b/) {
		$cur = undef;
		next;
	}
	$doc{$cur}{text} .= "$l\n" if defined $cur;
}

for my $k (@order) {
	my $c = $keys{$k};
	my $d = $doc{$k};
	if (!$d) {
		fail("conf(5): key $k is documented as .It Ic $k");
		next;
	}
	is($d->{count}, 1, "conf(5): $k is documented once");
	is($d->{section}, $c->{section}, "conf(5): $k is under [$c->{section}]");
	is($d->{type}, $typeword{$c->{type}},
	    "conf(5): $k has type $typeword{$c->{type}}");
	(my $text = $d->{text}) =~ s/^\.\w+\s+//mg;
	$text =~ s/\s+/ /g;
	if (!defined $c->{dflt}) {
		like($text, qr/\bno default\b/, "conf(5): $k has no default");
	} elsif ($c->{dflt} eq '') {
		like($text, qr/\bDefault empty\b/, "conf(5): $k defaults to empty");
	} else {
		like($text, qr/\bDefault \Q$c->{dflt}\E(?![\w\/-])(?!\.\w)/,
		    "conf(5): $k defaults to $c->{dflt}");
	}
	if ($c->{type} eq 'CFG_INT') {
		like($text, qr/\b\Q$c->{min}\E to \Q$c->{max}\E\b/,
		    "conf(5): $k ranges $c->{min} to $c->{max}");
	}
	ok($reload{$k}, "conf(5): Reloading says how $k takes effect");
}
for my $k (sort keys %doc) {
	ok(exists $keys{$k}, "conf(5): documented key $k is in cfg_keys");
}
for my $k (sort keys %reload) {
	ok(exists $keys{$k}, "conf(5): Reloading's $k is in cfg_keys");
}

# --- the example configuration ---

my $example = slurp('contrib/lars-reporter.conf');
my (%shown, $esect);
for my $l (split /\n/, $example) {
	if ($l =~ /^\[(\w+)\]\s*$/) {
		$esect = $1;
	} elsif ($l =~ /^#(\w+)\s*=\s*(.*?)\s*$/) {
		$shown{$1} = { section => $esect, value => $2 };
	}
}
for my $k (grep { defined $keys{$_}{dflt} } @order) {
	my $s = $shown{$k};
	ok($s && $s->{section} eq $keys{$k}{section} &&
	    $s->{value} eq $keys{$k}{dflt},
	    "example conf: #$k = $keys{$k}{dflt} under [$keys{$k}{section}]");
}
for my $k (sort keys %shown) {
	ok(defined $keys{$k} && defined $keys{$k}{dflt},
	    "example conf: shown key $k is in cfg_keys with a default");
}

SKIP: {
	my $bin = "$build/lars-reporter";
	skip "$bin is not built", 2 unless -x $bin;
	my ($st, $out) = run($bin, '-n', '-f', 'contrib/lars-reporter.conf');
	is($st, 0, 'example conf passes lars-reporter -n') or diag($out);
	(my $on = $example) =~ s/^#(\w+ = )/$1/mg;
	my $path = "$tmp/uncommented.conf";
	open(my $fh, '>', $path) or die "$path: $!\n";
	print $fh $on;
	close($fh);
	chmod 0600, $path;
	($st, $out) = run($bin, '-n', '-f', $path);
	is($st, 0, 'example conf with every key uncommented passes -n')
	    or diag($out);
}

# --- init script, /etc/default, systemd unit ---

my $init = 'contrib/init.d/lars-reporter';
my $is = slurp($init);
ok(-x $init, "$init is executable");
my ($st, $out) = run('sh', '-n', $init);
is($st, 0, "sh -n $init") or diag($out);
like($is, qr/^### BEGIN INIT INFO\n(?:#.*\n)+### END INIT INFO$/m,
    "$init: LSB header");
for my $a (qw(start stop restart reload force-reload upgrade status)) {
	like($is, qr/^\s*\Q$a\E\)/m, "$init: action $a");
}
unlike($is, qr/--exec|--name/, "$init: matches by pidfile only");
like($is, qr/-n -f "\$CONFIG"/, "$init: reload checks with -n first");
my ($conf_path) = $hdr =~ /#define\s+CONF_DEFAULT_PATH\s+"([^"]+)"/;
my $pidfile = $keys{pidfile}{dflt} // '';
like($is, qr/DAEMON:=\/usr\/local\/sbin\/lars-reporter\}/,
    "$init: DAEMON defaults to /usr/local/sbin/lars-reporter");
like($is, qr/CONFIG:=\Q$conf_path\E\}/, "$init: CONFIG defaults to $conf_path");
like($is, qr/PIDFILE:=\Q$pidfile\E\}/, "$init: PIDFILE defaults to $pidfile");

my $def = slurp('contrib/default/lars-reporter');
like($def, qr/^#DAEMON=\/usr\/local\/sbin\/lars-reporter$/m,
    'default file: DAEMON');
like($def, qr/^#CONFIG=\Q$conf_path\E$/m, 'default file: CONFIG');
like($def, qr/^#PIDFILE=\Q$pidfile\E$/m, 'default file: PIDFILE');
like($def, qr/^#DAEMON_OPTS=/m, 'default file: DAEMON_OPTS');
($st, $out) = run('sh', '-n', 'contrib/default/lars-reporter');
is($st, 0, 'sh -n contrib/default/lars-reporter') or diag($out);

my $unit = 'contrib/systemd/lars-reporter.service';
my $us = slurp($unit);
like($us, qr/^Type=notify$/m, "$unit: Type=notify");
like($us, qr/^Requires=lars-reporter\.socket$/m, "$unit: the socket unit holds its socket");
like($us, qr/--signal=SIGUSR2/, "$unit: says how to upgrade");
my $sock = slurp('contrib/systemd/lars-reporter.socket');
my ($lport) = $sock =~ /^ListenStream=(\d+)$/m;
is($lport, $keys{port}{dflt}, 'lars-reporter.socket: ListenStream= is the default [reactor] port');
like($us, qr/^ExecStartPre=\/usr\/local\/sbin\/lars-reporter -n -f \Q$conf_path\E$/m,
    "$unit: ExecStartPre checks the configuration");
like($us, qr/^ExecStart=\/usr\/local\/sbin\/lars-reporter -d -f \Q$conf_path\E$/m,
    "$unit: ExecStart");
like($us, qr/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m, "$unit: ExecReload");
like($us, qr/^KillSignal=SIGTERM$/m, "$unit: KillSignal");
my ($tss) = $us =~ /^TimeoutStopSec=(\d+)$/m;
ok(defined $tss && $tss > ($keys{drain_timeout}{dflt} // 0),
    "$unit: TimeoutStopSec outlasts drain_timeout's default");
my ($retry) = $is =~ /STOP_RETRY:=TERM\/(\d+)\//;
ok(defined $retry && $retry > ($keys{drain_timeout}{dflt} // 0),
    "$init: the stop waits longer than drain_timeout's default");

SKIP: {
	skip 'systemd-analyze is not installed', 1
	    unless have('systemd-analyze');
	my $bin = "$build/lars-reporter";
	skip "$bin is not built", 1 unless -x $bin;
	# As make install would put it: /usr/local rewritten to a prefix.
	my $pre = "$tmp/prefix";
	mkdir $_ for $pre, "$pre/sbin", "$pre/man", "$pre/man/man5",
	    "$pre/man/man8";
	system('cp', $bin, "$pre/sbin/lars-reporter") == 0 or die "cp\n";
	system('cp', 'man/lars-reporter.8', "$pre/man/man8/") == 0 or die;
	system('cp', 'man/lars-reporter.conf.5', "$pre/man/man5/") == 0 or die;
	(my $u = $us) =~ s{/usr/local}{$pre}g;
	open(my $fh, '>', "$tmp/lars-reporter.service") or die "$!\n";
	print $fh $u;
	close($fh);
	system('cp', 'contrib/systemd/lars-reporter.socket', $tmp) == 0
	    or die "cp\n";
	local $ENV{MANPATH} = "$pre/man";
	($st, $out) = run('systemd-analyze', 'verify',
	    "$tmp/lars-reporter.socket", "$tmp/lars-reporter.service");
	ok($st == 0 && $out eq '', 'systemd-analyze verify: clean')
	    or diag($out);
}

SKIP: {
	skip 'shellcheck is not installed', 1 unless have('shellcheck');
	($st, $out) = run('shellcheck', '-s', 'sh', $init);
	is($out, '', "shellcheck $init");
}

done_testing;
