package Lars;

# Lars: the harness of the end-to-end tests, in the manner of nginx-tests.
#
#	use lib 't/lib';
#	use Test::More;
#	use Lars;
#
#	my $t = Lars->new;		# temp dir + private MariaDB
#	$t->conf('reporter.db_thread_cnt' => 2);
#	$t->run_reporter('-v');
#	$t->report('-m', 1, '-c', 2, '192.168.0.1:80:10:2');
#	ok($t->wait_rows("1\t2\t-1062731775\t80\t...\n"), 'row stored');
#	$t->done_testing;		# automatic checks, then done_testing
#
# Binaries come from $ENV{LARS_BUILD} (default "build"); everything a test
# file starts is private to it (temp dir, ports, MariaDB), so files can run
# in parallel.
#
# Constructor and state
#   Lars->new(%opt)	make a temp dir /tmp/lars-XXXXXXXX and, unless
#			db => 0, start a MariaDB in it (t/lib/mariadb.sh).
#			expect_fatal => 1: a "fatal: " log line is no failure.
#			db_tls => 1: the MariaDB speaks TLS, certificates in
#			$t->db->{TLS_DIR} (LARS_DB_TLS of mariadb.sh); 0: it
#			does not, whatever the environment says.
#			Sets ASAN_OPTIONS/UBSAN_OPTIONS so that sanitizer
#			reports of every binary started land in the temp dir.
#   $t->dir, $t->port (the reporter's), $t->db (hash: SOCKET PORT USER
#   PASSWORD PID from DIR/env), $t->bin('lars-report') (path in LARS_BUILD)
#   $t->expect_fatal(1)	declare that the reporter log may hold "fatal: "
#
# Database
#   $t->sql($query)	run it as the admin over the socket with -N -B;
#			returns the output, dies on error
#   $t->rows		the whole ServerCallStatus table, "modid cmdid ip port
#			caller succ_cnt err_cnt ts overload" tab-separated,
#			ordered by key: the format of lars-report -o
#   $t->wait_rows($expected, $timeout = 20, $rows_sub)
#			poll rows() (or $rows_sub) until it equals $expected;
#			true if it did; if not, diag the first differing lines
#
# Reporter
#   $t->conf(%over)	write DIR/reporter.conf (mode 0600), return its path.
#			Defaults: [reactor] ip 127.0.0.1, port a free port;
#			[mysql] db_host 127.0.0.1, db_port, db_user lars,
#			db_passwd, db_name lars_dns; [reporter]
#			db_thread_cnt 3, flush_interval_ms 50, batch_rows 1000,
#			max_clock_skew 0 (the tests send made-up ts such as
#			5, 9000 or lars-report -L's 1700000000 + round, which
#			the default 300 would replace by the receive time;
#			t/13-clock-skew.t drops the key to test the default).
#			Overrides: 'section.key' => value (undef drops the key),
#			socket => 1 (db_host localhost + db_socket), file =>
#			name, extra => text appended verbatim.
#   $t->run_reporter([\%opt,] @flags)
#			start "lars-reporter -d @flags -f conf" in its own
#			process group, output appended to DIR/reporter.log,
#			wait (20 s) until it logs "listening on ...:PORT" and
#			the port accepts; dies with the log tail if not.  If
#			a parallel test took the port, rewrites conf() with a
#			new one and retries.  opt: wait => 0 returns at once;
#			bin => path runs that binary; listen => socket passes
#			it as fd 3 with LISTEN_FDS=1 and LISTEN_PID, the way
#			systemd's socket activation does.
#   $t->hold_socket	a listening socket on 127.0.0.1:port(), made and
#			kept by the test process: the parent that holds the
#			address across restarts, as systemd's .socket does
#   $t->upgraded($n)	after SIGUSR2: wait for the new master's "ready"
#			(the $n-th upgrade of the test), reap the old one and
#			follow the new one; returns (new pid, old status)
#   $t->stop_reporter	SIGTERM, wait up to 30 s (then KILL the group and
#			fail the automatic "stopped" check); returns the exit
#			code (128 + signal if killed by a signal)
#   $t->reporter_pid, $t->signal($name)
#   $t->log		the reporter log text
#   $t->wait_log(qr/.../, $timeout = 10)
#
# Clients and processes
#   $t->report([\%opt,] @args)
#			run "lars-report -H 127.0.0.1 -p PORT @args"; returns
#			stdout, or (stdout, status, stderr) in list context;
#			dies on a nonzero exit unless opt may_fail => 1
#   $t->run(\@cmd, timeout => 60)
#			run a command, return {status, out, err}
#   $t->spawn(\@cmd, stdout => ">file", stderr => ">file"|'stdout',
#			stdin => file, group => 1): the one way every child
#			is started (reporter, run, start_load); returns the pid
#   $t->connect		an IO::Socket::INET to the reporter
#   $t->wait_for(sub { ... }, $timeout = 10)
#			poll every 0.1 s until the sub returns true
#   $t->write_file($name, $text)  write DIR/name, return the path
#   $t->read_file($name)	its text, undef if missing; $t->log_tail($n)
#   Lars::free_port()	a port of 127.0.0.1 free at the moment
#
# Children get SIGPIPE at its default, as in production.  The test process
# makes itself a subreaper, so the detached MariaDB and orphaned workers
# are reaped here and no zombie outlives the test.
#
# Wire helpers (functions, no object): Lars::frame($msgid, $body),
# Lars::pb_report(modid => , cmdid => , caller => , ts => , results =>
# [[ip, port, succ, err, overload], ...]), Lars::varint($n), Lars::ip($dotted)
# (the host-order int32 the agents send, signed), Lars::row(@nine_fields)
# (one line of rows()), Lars::diff_text($got, $expected).
#
# Load and figures (the zero-loss tests)
#   $t->workers		{ pid => worker number } of the running master's
#			workers, from ps
#   $t->start_load(@args)  "lars-report -L @args" in the background against
#			the reporter, output in DIR/load.out and DIR/load.err;
#			returns its pid (waitpid it)
#   $t->zero_loss($load_pid, keys => N, restarts => 0, rows => sub)
#			the shared end of a zero-loss test: the load exits 0,
#			the table is exactly DIR/expected.tsv, every record
#			sent was received, nothing dropped, no restarts
#   $t->unique_load(rate => , seconds => , modid => )
#			start_load with every key written once
#   $t->metrics		GET /metrics (reporter.metrics_listen of conf())
#   $t->refusal_under_load(break => sub, mend => sub, code => , why => qr//)
#			MySQL refusing writes for a while under unique_load:
#			the refusal in /metrics and the log, then zero_loss
#   $t->stats		send SIGUSR1, wait for the new "stats:" log line, return
#			it as a hash (records, rows, dropped, ...)
#
# Ending: $t->done_testing runs the automatic checks and then
# Test::More::done_testing; with a fixed plan use $t->plan($n), which adds
# the checks ($Lars::CHECKS tests per Lars object).  An END block stops the
# reporter and MariaDB even when the test dies, runs the checks if they did
# not run yet, and removes the temp dir unless something failed (then it
# is kept, without MariaDB's files but with the table in
# ServerCallStatus.tsv, and named in a diag) or LARS_KEEP is set.  The checks: no
# "fatal: " line in the reporter log, no sanitizer report files, the
# reporter stopped on SIGTERM in time (and no command timed out), no
# process of its process groups and no lars-reporter child left.

use strict;
use warnings;

use Cwd qw(abs_path getcwd);
use Errno qw(EINTR);
use File::Basename qw(dirname);
use File::Path qw(remove_tree);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(WNOHANG _exit);
use Test::More ();
use Time::HiRes qw(sleep time);

our $CHECKS = 4;

my $LIBDIR = dirname(abs_path(__FILE__));
my $TOP = dirname(dirname($LIBDIR));
our $BUILD = abs_path($ENV{LARS_BUILD} // "$TOP/build")
    // ($ENV{LARS_BUILD} // "$TOP/build");

my @instances;

sub new {
	my ($class, %opt) = @_;

	my $self = bless {
		creator => $$,
		db_on => $opt{db} // 1,
		expect_fatal => $opt{expect_fatal} // 0,
		db_tls => $opt{db_tls},
		pgids => [],
		checked => 0,
		problems => [],
	}, $class;
	$self->{dir} = tempdir('lars-XXXXXXXX', DIR => '/tmp');
	push @instances, $self;

	$SIG{PIPE} = 'IGNORE';
	_subreaper();
	$SIG{INT} = $SIG{TERM} = sub { die "killed by SIG$_[0]\n" }
	    unless ref $SIG{TERM};

	my $d = $self->{dir};
	$ENV{ASAN_OPTIONS} = "log_path=$d/asan:abort_on_error=0:detect_leaks=1";
	$ENV{UBSAN_OPTIONS} = "print_stacktrace=1:log_path=$d/ubsan";

	$self->_start_db if $self->{db_on};
	return $self;
}

sub dir { $_[0]{dir} }
sub port { $_[0]{port} }
sub db { $_[0]{db} }
sub bin { "$BUILD/$_[1]" }
sub reporter_pid { $_[0]{rpid} }

sub expect_fatal {
	my ($self, $on) = @_;
	$self->{expect_fatal} = $on // 1;
}

sub write_file {
	my ($self, $name, $text) = @_;
	my $path = $name =~ m{^/} ? $name : "$self->{dir}/$name";
	open my $fh, '>', $path or die "$path: $!";
	print $fh $text;
	close $fh or die "$path: $!";
	return $path;
}

sub read_file {
	my ($self, $name) = @_;
	my $path = $name =~ m{^/} ? $name : "$self->{dir}/$name";
	open my $fh, '<', $path or return undef;
	local $/;
	return scalar <$fh>;
}

###########################################################################
# MariaDB

sub _start_db {
	my ($self) = @_;
	local $ENV{LARS_DB_TLS} = $ENV{LARS_DB_TLS};
	$ENV{LARS_DB_TLS} = $self->{db_tls} ? 1 : 0 if defined $self->{db_tls};
	my $r = $self->run(["$LIBDIR/mariadb.sh", 'start', $self->{dir}],
	    timeout => 90);
	$self->{db_started} = 1;
	die "mariadb.sh start failed:\n$r->{out}$r->{err}" if $r->{status};
	my %env;
	open my $fh, '<', "$self->{dir}/env" or die "env: $!";
	while (<$fh>) {
		chomp;
		$env{$1} = $2 if /^(\w+)=(.*)$/;
	}
	$self->{db} = \%env;
	$self->{admin} = getpwuid($<) // 'root';
}

sub _stop_db {
	my ($self) = @_;
	return unless $self->{db_started};
	my $r = $self->run(["$LIBDIR/mariadb.sh", 'stop', $self->{dir}],
	    timeout => 60);
	$self->{db_started} = 0 unless $r->{status};
	Test::More::diag("mariadb.sh stop: $r->{out}$r->{err}")
	    if $r->{status};
	# As subreaper we inherited the detached server: reap it, so no
	# zombie outlives the test.
	waitpid($self->{db}{PID}, WNOHANG) if $self->{db} && $self->{db}{PID};
}

# PR_SET_CHILD_SUBREAPER: orphans of what we start (the detached MariaDB,
# workers of a dead master) become our children, so we can reap them.
sub _subreaper {
	my %nr = (x86_64 => 157, aarch64 => 167);
	my ($arch) = (POSIX::uname())[4];
	my $nr = $nr{$arch} or return;
	syscall($nr, 36, 1, 0, 0, 0);
}

sub sql {
	my ($self, $query) = @_;
	die "no database" unless $self->{db};
	my $r = $self->run(['mariadb', '--no-defaults',
	    "--socket=$self->{db}{SOCKET}", '-u', $self->{admin},
	    '--default-character-set=utf8mb4', '--connect-timeout=10', '-N', '-B',
	    '-e', $query],
	    timeout => 60);
	die "sql failed ($query): $r->{err}" if $r->{status};
	return $r->{out};
}

sub rows {
	my ($self) = @_;
	return $self->sql('SELECT modid,cmdid,ip,port,caller,succ_cnt,'
	    . 'err_cnt,ts,overload FROM lars_dns.ServerCallStatus '
	    . 'ORDER BY modid,cmdid,ip,port,caller');
}

sub wait_rows {
	my ($self, $expected, $timeout, $rows) = @_;
	$rows //= sub { $self->rows };
	my $got;
	my $ok = $self->wait_for(sub { ($got = $rows->()) eq $expected },
	    $timeout // 20);
	Test::More::diag(diff_text($got, $expected)) unless $ok;
	return $ok;
}

# The first differing lines of two texts, for a diag.
sub diff_text {
	my ($got, $exp, $max) = @_;
	my @g = split /\n/, $got // '';
	my @e = split /\n/, $exp // '';
	my @out = (sprintf "got %d lines, expected %d", scalar @g, scalar @e);
	my $n = @g > @e ? @g : @e;
	for my $i (0 .. $n - 1) {
		my ($a, $b) = ($g[$i] // '<none>', $e[$i] // '<none>');
		next if $a eq $b;
		push @out, "line " . ($i + 1) . ":", "     got: $a",
		    "expected: $b";
		last if @out > 3 * ($max // 5);
	}
	return join "\n", @out;
}

###########################################################################
# The reporter

sub free_port {
	my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
	    LocalPort => 0, Proto => 'tcp') or die "bind: $@";
	my $port = $s->sockport;
	close $s;
	return $port;
}

my @SECTIONS = qw(reactor mysql reporter);

sub conf {
	my ($self, %over) = @_;
	$self->{conf_over} = { %over };
	my $db = $self->{db} // {};
	my %conf = (
		reactor => [ ip => '127.0.0.1', port => free_port() ],
		mysql => [ db_host => '127.0.0.1', db_port => $db->{PORT} // 3306,
		    db_user => 'lars', db_passwd => $db->{PASSWORD} // '',
		    db_name => 'lars_dns' ],
		reporter => [ db_thread_cnt => 3, flush_interval_ms => 50,
		    batch_rows => 1000, max_clock_skew => 0 ],
	);
	if (delete $over{socket}) {
		$over{'mysql.db_host'} = 'localhost';
		$over{'mysql.db_socket'} = $db->{SOCKET};
		$over{'mysql.db_port'} = undef;
	}
	my $file = delete $over{file} // 'reporter.conf';
	my $extra = delete $over{extra} // '';
	my @order = @SECTIONS;
	for my $k (sort keys %over) {
		my ($sec, $key) = $k =~ /^(\w+)\.(\w+)$/
		    or die "conf: bad override '$k' (want section.key)";
		push @order, $sec unless grep { $_ eq $sec } @order;
		my $kv = $conf{$sec} //= [];
		my $found;
		for (my $i = 0; $i < @$kv; $i += 2) {
			next unless $kv->[$i] eq $key;
			$found = 1;
			if (defined $over{$k}) {
				$kv->[$i + 1] = $over{$k};
			} else {
				splice @$kv, $i, 2;
			}
			last;
		}
		push @$kv, $key, $over{$k} if !$found && defined $over{$k};
	}

	my $text = "# written by t/lib/Lars.pm\n";
	for my $sec (@order) {
		$text .= "\n[$sec]\n";
		my $kv = $conf{$sec};
		for (my $i = 0; $i < @$kv; $i += 2) {
			$text .= "$kv->[$i] = $kv->[$i + 1]\n";
		}
	}
	$text .= $extra;
	my $path = $self->write_file($file, $text);
	chmod 0600, $path;
	my %r = @{ $conf{reactor} };
	$self->{port} = $r{port};
	$self->{conf_path} = $path;
	return $path;
}

sub run_reporter {
	my ($self, @flags) = @_;
	my $opt = ref $flags[0] eq 'HASH' ? shift @flags : {};
	die "run_reporter: already running" if $self->{rpid};
	$self->conf unless $self->{conf_path};
	my $log = "$self->{dir}/reporter.log";

	for my $try (1 .. 5) {
		my $off = -s $log // 0;
		my $pid = $self->_spawn_reporter($log, $opt, @flags);
		return $pid if defined $opt->{wait} && !$opt->{wait};

		# Up when it says it listens and the port answers; a port that
		# answers without that line (someone else's?) counts after 3 s.
		my $open_since;
		my $up = $self->wait_for(sub {
			return 1 if !$self->_alive_child;
			return 0 unless $self->_port_open;
			return 1 if substr($self->log, $off)
			    =~ /listening on \S*:\Q$self->{port}\E\b/;
			$open_since //= time;
			return time - $open_since > 3;
		}, 20);
		return $pid if $up && $self->{rpid};
		die "lars-reporter does not accept on port $self->{port} "
		    . "after 20 s:\n" . $self->log_tail if $self->{rpid};

		# A parallel test may have taken the free port we picked: pick
		# another, if the file is ours to rewrite.
		my $new = substr($self->log, $off);
		if ($new =~ /Address already in use/ && $self->{conf_over}
		    && !exists $self->{conf_over}{'reactor.port'} && $try < 5) {
			$self->conf(%{ $self->{conf_over} });
			# Its fatal line is no failure of the test: set it aside.
			$self->write_file("reporter.log.port-clash.$try", $new);
			truncate $log, $off;
			next;
		}
		die "lars-reporter exited during start-up (status "
		    . "$self->{rstatus}):\n" . $self->log_tail;
	}
}

sub _spawn_reporter {
	my ($self, $log, $opt, @flags) = @_;
	my $pid = $self->spawn([$opt->{bin} // $self->bin('lars-reporter'),
	    '-d', @flags, '-f', $self->{conf_path}], stdout => ">>$log",
	    stderr => 'stdout', group => 1, listen => $opt->{listen});
	$self->{rpid} = $pid;
	return $pid;
}

# The one way children are started: stdin from /dev/null (or stdin =>
# file), stdout and stderr to files (">file" writes, ">>file" appends,
# stderr => 'stdout' joins them), SIGPIPE at its default as in production;
# group => 1 puts it in a process group of its own, checked for strays at
# the end; listen => a listening socket passes it as fd 3 the way
# sd_listen_fds(3) expects (LISTEN_FDS, LISTEN_PID).
sub spawn {
	my ($self, $cmd, %opt) = @_;
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		setpgrp(0, 0) if $opt{group};
		$SIG{PIPE} = 'DEFAULT';
		open STDIN, '<', $opt{stdin} // '/dev/null' or _exit(127);
		open STDOUT, $opt{stdout} // '>/dev/null' or _exit(127);
		if (($opt{stderr} // '') eq 'stdout') {
			open STDERR, '>&', \*STDOUT or _exit(127);
		} else {
			open STDERR, $opt{stderr} // '>/dev/null' or _exit(127);
		}
		if (my $ls = $opt{listen}) {
			if (fileno($ls) == 3) {
				fcntl($ls, POSIX::F_SETFD(), 0) // _exit(127);
			} else {
				POSIX::dup2(fileno($ls), 3) // _exit(127);
			}
			$ENV{LISTEN_FDS} = 1;
			$ENV{LISTEN_PID} = $$;
		}
		no warnings q(exec);
		exec @$cmd;
		print STDERR "exec $cmd->[0]: $!\n";
		_exit(127);
	}
	if ($opt{group}) {
		eval { setpgrp($pid, $pid) };
		push @{ $self->{pgids} }, $pid;
	}
	return $pid;
}

sub hold_socket {
	my ($self) = @_;
	$self->conf unless $self->{conf_path};
	my $s = IO::Socket::INET->new(Listen => 128, LocalAddr => '127.0.0.1',
	    LocalPort => $self->{port}, Proto => 'tcp', ReuseAddr => 1)
	    or die "hold_socket: bind 127.0.0.1:$self->{port}: $@";
	$self->{held} = $s;
	return $s;
}

sub upgraded {
	my ($self, $n, $timeout) = @_;
	my @ready;
	$self->wait_for(sub {
		@ready = $self->log =~ /upgrade: ready, serving as pid (\d+)/g;
		@ready >= $n;
	}, $timeout // 30) or return;
	my $new = $ready[$n - 1];
	my $old = $self->{rpid};
	waitpid($old, 0);
	my $st = _status($?);
	$self->{rpid} = $new;
	return ($new, $st);
}

sub _port_open {
	my ($self) = @_;
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
	    PeerPort => $self->{port}, Proto => 'tcp', Timeout => 1);
	return 0 unless $s;
	close $s;
	return 1;
}

# Reap the reporter if it exited; true while it runs.
sub _alive_child {
	my ($self) = @_;
	my $pid = $self->{rpid} or return 0;
	my $r = waitpid($pid, WNOHANG);
	return 1 if $r == 0;
	$self->{rstatus} = $r == $pid ? _status($?) : -1;
	$self->{rpid} = undef;
	return 0;
}

sub _status {
	my ($st) = @_;
	return $st & 127 ? 128 + ($st & 127) : $st >> 8;
}

sub signal {
	my ($self, $sig) = @_;
	die "signal: reporter not running" unless $self->{rpid};
	kill $sig, $self->{rpid};
}

sub stop_reporter {
	my ($self) = @_;
	return $self->{rstatus} unless $self->{rpid};
	my $pid = $self->{rpid};
	kill 'TERM', $pid;
	my $t0 = time;
	while ($self->_alive_child) {
		if (time - $t0 > 30) {
			push @{ $self->{problems} },
			    "lars-reporter $pid still running 30 s after TERM";
			Test::More::diag("lars-reporter $pid ignored SIGTERM"
			    . " for 30 s; killing its group\n" . $self->log_tail);
			kill 'KILL', -$pid;
			kill 'KILL', $pid;
			waitpid($pid, 0);
			$self->{rstatus} = _status($?);
			$self->{rpid} = undef;
			last;
		}
		sleep 0.05;
	}
	return $self->{rstatus};
}

sub log {
	my ($self) = @_;
	return $self->read_file('reporter.log') // '';
}

sub log_tail {
	my ($self, $n) = @_;
	my @l = split /\n/, $self->log;
	$n //= 30;
	@l = @l[-$n .. -1] if @l > $n;
	return join '', map { "    $_\n" } @l;
}

sub wait_log {
	my ($self, $re, $timeout) = @_;
	return $self->wait_for(sub { $self->log =~ $re }, $timeout // 10);
}

###########################################################################
# Clients and processes

sub wait_for {
	my ($self, $sub, $timeout) = @_;
	my $end = time + ($timeout // 10);
	while (1) {
		return 1 if $sub->();
		return 0 if time > $end;
		sleep 0.1;
	}
}

my $runs = 0;

sub run {
	my ($self, $cmd, %opt) = @_;
	my $timeout = $opt{timeout} // 60;
	my $n = $runs++;
	my ($out, $err) = map { "$self->{dir}/.run$n.$_" } qw(out err);

	my $pid = $self->spawn($cmd, stdin => $opt{stdin},
	    stdout => ">$out", stderr => ">$err");
	my $t0 = time;
	my $status;
	while (1) {
		my $r = waitpid($pid, WNOHANG);
		if ($r == $pid) {
			$status = _status($?);
			last;
		}
		if (time - $t0 > $timeout) {
			kill 'KILL', $pid;
			waitpid($pid, 0);
			$status = -1;
			push @{ $self->{problems} },
			    "timeout after $timeout s: @$cmd";
			last;
		}
		sleep 0.02;
	}
	my %r = (status => $status,
	    out => $self->read_file($out) // '',
	    err => $self->read_file($err) // '');
	unlink $out, $err;
	$r{err} .= "(killed after $timeout s)\n" if $status == -1;
	return \%r;
}

sub report {
	my ($self, @args) = @_;
	my $opt = ref $args[0] eq 'HASH' ? shift @args : {};
	my @cmd = ($self->bin('lars-report'), '-H', '127.0.0.1',
	    '-p', $self->{port}, @args);
	my $r = $self->run(\@cmd, timeout => $opt->{timeout} // 120);
	die "lars-report failed (status $r->{status}): @args\n$r->{err}"
	    if $r->{status} && !$opt->{may_fail};
	return wantarray ? ($r->{out}, $r->{status}, $r->{err}) : $r->{out};
}

sub connect {
	my ($self) = @_;
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
	    PeerPort => $self->{port}, Proto => 'tcp', Timeout => 5)
	    or die "connect 127.0.0.1:$self->{port}: $@";
	$s->autoflush(1);
	return $s;
}

###########################################################################
# Wire encoding, written from the protobuf encoding rules, not the client.

sub varint {
	my ($n) = @_;
	# A negative int32 is sign-extended to 64 bits: ten bytes.
	my $v = $n < 0 ? ($n & ~0) : $n;
	my $out = '';
	while ($v >= 0x80) {
		$out .= chr(($v & 0x7f) | 0x80);
		$v >>= 7;
	}
	return $out . chr($v);
}

# Field helpers; like protoc's encoders, they omit proto3 defaults (0).
sub pb_varint_field {
	my ($field, $v) = @_;
	return '' unless $v;
	return varint($field << 3) . varint($v);
}

sub pb_bytes_field {
	my ($field, $bytes) = @_;
	return varint($field << 3 | 2) . varint(length $bytes) . $bytes;
}

sub pb_result {
	my ($ip, $port, $succ, $err, $overload) = @_;
	return pb_varint_field(1, $ip) . pb_varint_field(2, $port)
	    . pb_varint_field(3, $succ) . pb_varint_field(4, $err)
	    . pb_varint_field(5, $overload ? 1 : 0);
}

sub pb_report {
	my (%m) = @_;
	my $body = pb_varint_field(1, $m{modid}) . pb_varint_field(2, $m{cmdid})
	    . pb_varint_field(3, $m{caller});
	$body .= pb_bytes_field(4, pb_result(@$_)) for @{ $m{results} // [] };
	$body .= pb_varint_field(5, $m{ts});
	return $body;
}

sub frame {
	my ($msgid, $body) = @_;
	return pack('l<l<', $msgid, length $body) . $body;
}

# One line of rows(): row(modid, cmdid, ip, port, caller, succ, err, ts,
# overload).
sub row {
	return join("\t", @_) . "\n";
}

# 192.168.0.1 -> 0xC0A80001 as a signed int32: -1062731775.
sub ip {
	my ($dotted) = @_;
	my $u = unpack 'N', pack 'C4', split /\./, $dotted;
	return unpack 'l', pack 'L', $u;
}

###########################################################################
# Automatic checks and the end

sub plan {
	my ($self, $n) = @_;
	Test::More::plan(tests => $n + $CHECKS);
}

sub workers {
	my ($self) = @_;
	my $master = $self->reporter_pid;
	my %w;
	for (split /\n/, `ps -eo pid=,ppid=,args=`) {
		$w{$1} = $2 if /^\s*(\d+)\s+$master\s+lars-reporter: worker (\d+)\b/;
	}
	return \%w;
}

sub start_load {
	my ($self, @args) = @_;
	my $d = $self->{dir};
	return $self->spawn([$self->bin('lars-report'), '-H', '127.0.0.1',
	    '-p', $self->{port}, '-L', @args], stdout => ">$d/load.out",
	    stderr => ">$d/load.err");
}

# The end of every zero-loss test: the load generator started by
# start_load (pid $load, run with -o DIR/expected.tsv) exits 0, the whole
# table becomes exactly the expected one, the master received every
# record sent, nothing was dropped (no "dropped the row" line either) and
# no worker restarted.  opt: keys => the rows expected, restarts => n
# (default 0), timeout => s for the table (60), rows => a sub giving the
# table instead of rows() (another server), name => a prefix for the test
# names.  Returns the final stats.
sub zero_loss {
	my ($self, $load, %opt) = @_;
	my $n = defined $opt{name} ? "$opt{name}: " : '';
	Test::More::ok(waitpid($load, 0) == $load && $? == 0,
	    "${n}the load generator finished")
	    or Test::More::diag($self->read_file('load.err'));
	my $out = $self->read_file('load.out') // '';
	Test::More::diag("${n}load: $out");
	my ($records) = $out =~ /(\d+) records over/;
	my ($keys) = $out =~ /expecting (\d+) rows/;
	Test::More::is($keys, $opt{keys}, "${n}load: $opt{keys} keys")
	    if defined $opt{keys};
	my $expected = $self->read_file('expected.tsv') // '';
	my $t0 = time;
	Test::More::ok($self->wait_rows($expected, $opt{timeout} // 60,
	    $opt{rows}), "${n}the table is exactly the expected one");
	Test::More::diag(sprintf "%stable complete %.1f s after the load",
	    $n, time - $t0);
	my $s = $self->stats;
	Test::More::is($s->{records}, $records,
	    "${n}stats: the master received every record sent");
	Test::More::is($s->{dropped}, 0, "${n}stats: nothing dropped");
	Test::More::unlike($self->log, qr/dropped the row/,
	    "${n}no 'dropped the row' in the log");
	Test::More::is($s->{worker_restarts}, $opt{restarts} // 0,
	    sprintf "%sstats: %d worker restarts", $n, $opt{restarts} // 0);
	return $s;
}

# A load in which every key is written once: one connection, $o{rate}
# reports a second (default 600) of 10 results for $o{seconds} (12),
# modids from $o{modid} (100); the expected table goes to
# DIR/expected.tsv.  Returns the pid, as start_load.
sub unique_load {
	my ($self, %o) = @_;
	my $n = ($o{rate} // 600) * ($o{seconds} // 12);
	# one connection: with more, a fast one starts its second round
	return $self->start_load('-n', 1, '-N', $n, '-R', $o{rate} // 600,
	    '-r', 10, '-k', $n * 10, '-m', $o{modid} // 100,
	    '-o', "$self->{dir}/expected.tsv");
}

# GET /metrics from the reporter's metrics_listen (set in conf()); the
# body, or undef.
sub metrics {
	my ($self) = @_;
	my $addr = ($self->{conf_over} // {})->{'reporter.metrics_listen'}
	    or die "metrics: no reporter.metrics_listen in conf()";
	my $s = IO::Socket::INET->new(PeerAddr => $addr, Timeout => 5)
	    or return undef;
	print $s "GET /metrics HTTP/1.0\r\n\r\n";
	local $/;
	my $r = <$s> // return undef;
	return $r =~ /\A\S+ 200 .*?\r\n\r\n(.*)\z/s ? $1 : undef;
}

# The database refuses writes for a while under a unique-key load:
# conf(%{$o{conf}}) with 3 workers and metrics, the reporter, the load;
# 3 s in, $o{break}->(); while it refuses, /metrics shows a refusal
# with code $o{code} and the log its reason ($o{why}, a regexp), once per
# worker; $o{hold} s later (6) $o{mend}->(); then zero_loss: nothing
# lost, nothing dropped.  Returns the stats.
sub refusal_under_load {
	my ($self, %o) = @_;
	my $mport = free_port();
	$self->conf('reporter.db_thread_cnt' => 3,
	    'reporter.metrics_listen' => "127.0.0.1:$mport", %{ $o{conf} // {} });
	$self->run_reporter;
	my $load = $self->unique_load(%{ $o{load} // {} });
	sleep 3;
	my $off = length $self->log;
	$o{break}->();
	my $t0 = time;
	my $re = qr/lars_reporter_mysql_refusing_since_seconds\{worker="\d+",code="$o{code}"\} \d+/;
	my $m;
	Test::More::ok($self->wait_for(sub { ($m = $self->metrics // '') =~ $re }, 15),
	    "/metrics shows the refusal, code $o{code}")
	    or Test::More::diag($m =~ /(.*refusing.*)/g);
	sleep 0.5 while time - $t0 < ($o{hold} // 6);
	my $during = substr $self->log, $off;
	my @why = $during =~ /(MySQL takes no writes: [^\n]*)/g;
	my @now = $during =~ /(MySQL still takes no writes, now: [^\n]*)/g;
	# once per worker and episode: a worker's next "takes no writes"
	# comes only after its "takes writes again"
	my (%open, @twice);
	for ($during =~ /(worker \d+: MySQL (?:takes no writes|\S+ takes writes again))/g) {
		my ($w, $again) = /worker (\d+): MySQL (\S+ takes writes again)?/;
		push @twice, $_ if !$again && $open{$w};
		$open{$w} = !$again;
	}
	Test::More::ok(@why >= 1 && !@twice,
	    sprintf "the refusal is logged once per worker and episode "
	    . "(%d lines)", scalar @why) or Test::More::diag(join "\n", @why);
	Test::More::ok((grep { $_ =~ $o{why} } @why, @now),
	    'with its reason') or Test::More::diag(join "\n", @why, @now);
	Test::More::diag("refusal: $_") for grep { defined } $why[0], @now[0 .. ($#now > 2 ?
	    2 : $#now)];
	$o{mend}->();
	my $s = $self->zero_loss($load, %{ $o{zero} // {} });
	Test::More::like(substr($self->log, $off), qr/takes writes again/,
	    'the end of the refusal is logged');
	Test::More::unlike($self->metrics // '', qr/refusing_since_seconds\{/,
	    '/metrics shows no refusal any more');
	return $s;
}

sub stats {
	my ($self) = @_;
	my $n = () = $self->log =~ /stats: /g;
	$self->signal('USR1');
	$self->wait_for(sub { (() = $self->log =~ /stats: /g) > $n }) or do {
		Test::More::diag("no stats line 10 s after SIGUSR1:\n"
		    . $self->log_tail(10));
		return {};
	};
	my @l = $self->log =~ /stats: (.*)/g;
	return { $l[-1] =~ /(\w+) (\d+)/g };
}

sub done_testing {
	my ($self) = @_;
	$_->_checks for @instances;
	Test::More::done_testing();
}

# Live processes in the given process groups, and lars-reporter
# processes that are our children: as subreaper we inherit the workers of
# a master that is gone, even if they left its process group.
sub _strays {
	my (@pgids) = @_;
	my %pg = map { $_ => 1 } @pgids;
	my @found;
	for my $stat (glob '/proc/[0-9]*/stat') {
		open my $fh, '<', $stat or next;
		my $line = <$fh> // next;
		my ($pid, $comm, $rest) = $line =~ /^(\d+) \((.*)\) (.*)$/s
		    or next;
		my ($state, $ppid, $pgrp) = split ' ', $rest;
		next if $state eq 'Z' || $state eq 'X';
		my $exe = readlink("/proc/$pid/exe") // '';
		push @found, "$pid ($comm)" if $pg{$pgrp}
		    || ($ppid == $$ && $exe =~ m{/lars-reporter(?: \(deleted\))?$});
	}
	return @found;
}

sub _checks {
	my ($self) = @_;
	return if $self->{checked}++;
	$self->stop_reporter if $self->{rpid};

	my @fatal = grep { /fatal: / } split /\n/, $self->log;
	if ($self->{expect_fatal}) {
		Test::More::pass('no unexpected fatal errors (fatal allowed)');
	} else {
		Test::More::ok(!@fatal, 'no fatal errors in reporter log')
		    or Test::More::diag(join "\n", @fatal[0 .. ($#fatal > 9 ?
		    9 : $#fatal)]);
	}

	my @san = grep { -s } glob "$self->{dir}/asan.* $self->{dir}/ubsan.*";
	Test::More::ok(!@san, 'no sanitizer reports')
	    or Test::More::diag(map { "$_:\n" . _san_text($self->read_file($_))
	    } @san);

	Test::More::ok(!@{ $self->{problems} },
	    'reporter stopped on SIGTERM, no timeouts')
	    or Test::More::diag(join "\n", @{ $self->{problems} });

	my @stray;
	$self->wait_for(sub {
		@stray = _strays(@{ $self->{pgids} });
		!@stray;
	}, 2) if @{ $self->{pgids} };
	Test::More::ok(!@stray, 'no stray lars-reporter processes')
	    or Test::More::diag("left: @stray");
	kill 'KILL', -$_ for @{ $self->{pgids} };
	kill 'KILL', map { /^(\d+)/ } @stray;
}

# A sanitizer report without its shadow-byte legend, at most 60 lines.
sub _san_text {
	my ($text) = @_;
	$text //= '';
	$text =~ s/^Shadow bytes around.*//ms;
	my @l = split /\n/, $text;
	splice @l, 60, @l - 60, '...' if @l > 60;
	return join("\n", @l) . "\n";
}

# A failed test keeps its directory, but not the 30 MB of MariaDB files:
# the table is saved as DIR/ServerCallStatus.tsv instead (LARS_KEEP=1
# keeps everything).
sub _cleanup {
	my ($self, $failed) = @_;
	kill 'KILL', -$_ for @{ $self->{pgids} };
	if ($failed && !$ENV{LARS_KEEP} && $self->{db_started}) {
		eval { $self->write_file('ServerCallStatus.tsv', $self->rows) };
	}
	$self->_stop_db;
	if ($ENV{LARS_KEEP}) {
		Test::More::diag("kept test directory $self->{dir}");
	} elsif ($failed) {
		remove_tree("$self->{dir}/data", "$self->{dir}/tmp")
		    unless $self->{db_started};
		Test::More::diag("kept test directory $self->{dir}");
	} else {
		remove_tree($self->{dir});
	}
}

END {
	my $exit = $?;
	local $?;
	my @mine = grep { $_->{creator} == $$ } @instances;
	for my $t (@mine) {
		eval { $t->_checks; 1 }
		    or Test::More::diag("automatic checks: $@");
	}
	my $tb = Test::More->builder;
	my $failed = $exit != 0 || !$tb->is_passing;
	for my $t (@mine) {
		eval { $t->_cleanup($failed); 1 }
		    or Test::More::diag("cleanup: $@");
	}
	1 while waitpid(-1, WNOHANG) > 0;
}

1;
