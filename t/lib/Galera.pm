package Galera;

# Galera: a private 3-node MariaDB Galera cluster for a test file, started
# and stopped with t/lib/galera.sh.  Independent of Lars.pm, and meant to
# be used beside it: Lars->new(db => 0) for the reporter, and its
# [mysql] db_host pointed at the cluster's host list.
#
#	use lib 't/lib';
#	use Test::More;
#	use Lars;
#	use Galera;
#
#	my $t = Lars->new(db => 0);
#	my $g = Galera->new;		# 3 nodes Synced, schema, user lars
#	$t->conf('mysql.db_host' => $g->hosts, 'mysql.db_port' => undef,
#	    'mysql.db_passwd' => $g->password);
#	$g->kill(1);			# SIGKILL node 1
#	$g->rejoin(1);			# recover its position, IST, Synced
#	is($g->rows(1), $g->rows(2), 'same table');
#
# Galera->new($dir)	start a fresh cluster in $dir (default: a new
#			/tmp/lars-galera-XXXXXXXX); dies with galera.sh's
#			output if it does not come up.  start_secs: how long.
# $g->dir, $g->hosts ("127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3"),
# $g->user ('lars'), $g->password, $g->start_secs
# $g->node($n)		{ port, socket, pid } of node n (1..3), current
# $g->sql($n, $query)	run it as the admin over node n's socket with -N -B;
#			returns the output, dies on error
# $g->try_sql($n, $query, lars => 1)  the same, never dies: { status, out,
#			err }; lars => 1: as the user lars over TCP
# $g->state($n)		"Synced Primary ON" when usable (local state
#			comment, cluster status, wsrep_ready), undef if the
#			node does not answer
# $g->wait_state($n, $re, $timeout = 30)  poll state() until it matches
# $g->rows($n)		node n's ServerCallStatus ordered by key, the format
#			of Lars.pm's rows(); a causal read (wsrep_sync_wait),
#			so it sees every commit the cluster made before
# $g->kill($n)		SIGKILL node n and reap it
# $g->rejoin($n)	start a killed or stopped node n again, wait Synced
#			(--wsrep-recover first after a kill, so it joins by
#			IST, not a full transfer)
# $g->stop_node($n)	stop node n (TERM, then KILL)
# $g->isolate($n, $on)	gmcast.isolate=1/0: cut node n off / let it back;
#			does not wait (see wait_state, wait_synced)
# $g->wait_synced($n, $timeout = 90)  true when Synced Primary ON
# $g->procs		live processes naming the cluster's dir (nodes,
#			state transfers), as "pid (comm)"
# $g->stop		stop every node; also done by DESTROY and by an END
#			block even when the test dies.  The dir is removed
#			unless the test failed or LARS_KEEP is set (then it
#			is kept without the data dirs, and named in a diag).

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(remove_tree);
use File::Temp qw(tempdir);
use POSIX qw(WNOHANG _exit);
use Time::HiRes qw(sleep time);

my $LIBDIR = dirname(abs_path(__FILE__));
my $SCRIPT = "$LIBDIR/galera.sh";
my @instances;

sub new {
	my ($class, $dir) = @_;
	my $self = bless { creator => $$, own_dir => !defined $dir }, $class;
	$dir //= tempdir('lars-galera-XXXXXXXX', DIR => '/tmp');
	-d $dir or mkdir $dir or die "mkdir $dir: $!";
	$self->{dir} = $dir;
	$self->{admin} = getpwuid($<) // 'root';
	push @instances, $self;
	# A test killed by a signal still runs END, and so stops the nodes.
	$SIG{INT} = $SIG{TERM} = sub { die "killed by SIG$_[0]\n" }
	    unless ref $SIG{TERM};

	$self->{started} = 1;	# from here on, stop() has work to do
	my $t0 = time;
	my $r = $self->_script(['start'], 300);
	die "galera.sh start failed:\n$r->{out}$r->{err}" if $r->{status};
	$self->{start_secs} = time - $t0;
	$self->_load_env;
	return $self;
}

sub dir { $_[0]{dir} }
sub hosts { $_[0]{env}{HOSTS} }
sub user { $_[0]{env}{USER} }
sub password { $_[0]{env}{PASSWORD} }
sub start_secs { $_[0]{start_secs} }

sub node {
	my ($self, $n) = @_;
	my $e = $self->{env};
	die "node: no node $n" unless defined $e->{"N${n}_PORT"};
	return { port => $e->{"N${n}_PORT"}, socket => $e->{"N${n}_SOCKET"},
	    pid => $e->{"N${n}_PID"} };
}

sub _load_env {
	my ($self) = @_;
	my %env;
	open my $fh, '<', "$self->{dir}/env" or die "$self->{dir}/env: $!";
	while (<$fh>) {
		chomp;
		$env{$1} = $2 if /^(\w+)=(.*)$/;
	}
	$self->{env} = \%env;
}

# Run a command with stdout and stderr in files; bounded by timeout(1).
sub _run {
	my ($self, $cmd, $secs) = @_;
	my $base = "$self->{dir}/.run$$." . $self->{runs}++;
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		open STDIN, '<', '/dev/null' or _exit(127);
		open STDOUT, '>', "$base.out" or _exit(127);
		open STDERR, '>', "$base.err" or _exit(127);
		exec 'timeout', '-k', '5', $secs, @$cmd or _exit(127);
	}
	waitpid($pid, 0);
	my $st = $? & 127 ? 128 + ($? & 127) : $? >> 8;
	my %r = (status => $st);
	for my $k (qw(out err)) {
		local $/;
		open my $fh, '<', "$base.$k" or next;
		$r{$k} = <$fh>;
		unlink "$base.$k";
	}
	$r{$_} //= '' for qw(out err);
	$r{err} .= "(killed after $secs s: @$cmd)\n" if $st == 124;
	return \%r;
}

sub _script {
	my ($self, $args, $secs) = @_;
	my ($cmd, @rest) = @$args;
	return $self->_run([$SCRIPT, $cmd, $self->{dir}, @rest], $secs);
}

sub _action {
	my ($self, $secs, @args) = @_;
	my $r = $self->_script(\@args, $secs);
	$self->_load_env;
	$self->_reap;
	die "galera.sh @args failed:\n$r->{out}$r->{err}" if $r->{status};
	return 1;
}

# Nodes are detached; if a subreaper (Lars.pm makes the test one) inherited
# them, reap the dead ones, and only them: other children are not ours.
sub _reap {
	my ($self) = @_;
	for my $pid (values %{ $self->{pids} }) {
		waitpid($pid, WNOHANG) if $pid;
	}
	$self->{pids}{$_} = $self->{env}{"N${_}_PID"} || $self->{pids}{$_}
	    for 1 .. 3;
}

sub try_sql {
	my ($self, $n, $query, %opt) = @_;
	my $node = $self->node($n);
	my @who = $opt{lars}
	    ? ('-h', '127.0.0.1', '-P', $node->{port}, '-u', $self->user,
	      '-p' . $self->password)
	    : ("--socket=$node->{socket}", '-u', $self->{admin});
	return $self->_run(['mariadb', '--no-defaults', @who,
	    '--default-character-set=utf8mb4', '--connect-timeout=5', '-N',
	    '-B', '-e', $query], 60);
}

sub sql {
	my ($self, $n, $query) = @_;
	my $r = $self->try_sql($n, $query);
	die "sql on node $n failed ($query): $r->{err}" if $r->{status};
	return $r->{out};
}

sub state {
	my ($self, $n) = @_;
	my $r = $self->try_sql($n, "SELECT GROUP_CONCAT(VARIABLE_VALUE ORDER BY"
	    . " FIELD(VARIABLE_NAME, 'WSREP_LOCAL_STATE_COMMENT',"
	    . " 'WSREP_CLUSTER_STATUS', 'WSREP_READY') SEPARATOR ' ')"
	    . " FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN"
	    . " ('WSREP_LOCAL_STATE_COMMENT', 'WSREP_CLUSTER_STATUS',"
	    . " 'WSREP_READY')");
	return undef if $r->{status};
	chomp(my $s = $r->{out});
	return $s;
}

sub wait_state {
	my ($self, $n, $re, $timeout) = @_;
	my $end = time + ($timeout // 30);
	while (1) {
		my $s = $self->state($n);
		return 1 if defined $s && $s =~ $re;
		return 0 if time > $end;
		sleep 0.2;
	}
}

sub rows {
	my ($self, $n) = @_;
	# Without the sync wait a node may not have applied yet what
	# another one committed: replication is synchronous only up to the
	# certification.
	return $self->sql($n, 'SET SESSION wsrep_sync_wait=1; '
	    . 'SELECT modid,cmdid,ip,port,caller,succ_cnt,'
	    . 'err_cnt,ts,overload FROM lars_dns.ServerCallStatus '
	    . 'ORDER BY modid,cmdid,ip,port,caller');
}

sub kill { $_[0]->_action(30, 'kill', $_[1]) }
sub rejoin { $_[0]->_action(200, 'start-node', $_[1]) }
sub stop_node { $_[0]->_action(60, 'stop-node', $_[1]) }
sub isolate { $_[0]->_action(60, 'isolate', $_[1], $_[2] ? 1 : 0) }

sub wait_synced {
	my ($self, $n, $timeout) = @_;
	$timeout //= 90;
	my $r = $self->_script(['wait-synced', $n, $timeout], $timeout + 30);
	Test::More::diag("wait-synced $n: $r->{err}")
	    if $r->{status} && Test::More->can('diag');
	return !$r->{status};
}

sub procs {
	my ($self) = @_;
	my @found;
	for my $f (glob '/proc/[0-9]*/cmdline') {
		my ($pid) = $f =~ m{^/proc/(\d+)/} or next;
		next if $pid == $$;
		open my $fh, '<', $f or next;
		my $cmd = do { local $/; <$fh> } // next;
		next unless index($cmd, "$self->{dir}/") >= 0;
		open my $sf, '<', "/proc/$pid/stat" or next;
		my ($comm, $state) = (<$sf> // '') =~ /\((.*)\) (\S)/s or next;
		next if $state eq 'Z' || $state eq 'X';
		push @found, "$pid ($comm)";
	}
	return @found;
}

sub stop {
	my ($self) = @_;
	return 1 unless $self->{started} && $self->{creator} == $$;
	my $r = $self->_script(['stop'], 90);
	$self->_reap;
	if ($r->{status}) {
		warn "galera.sh stop: $r->{out}$r->{err}";
		return 0;
	}
	$self->{started} = 0;
	return 1;
}

sub _cleanup {
	my ($self, $failed) = @_;
	return if $self->{creator} != $$ || $self->{cleaned}++;
	$self->stop;
	my $d = $self->{dir};
	if ($ENV{LARS_KEEP} || $failed) {
		remove_tree(glob "$d/n[123]/data") unless $ENV{LARS_KEEP};
		print STDERR "# kept cluster directory $d\n";
	} elsif ($self->{own_dir}) {
		remove_tree($d);
	}
}

sub DESTROY {
	my ($self) = @_;
	local ($?, $@, $!);
	$self->stop;
}

END {
	my $exit = $?;
	local $?;
	my $failed = $exit != 0;
	$failed ||= !Test::More->builder->is_passing
	    if Test::More->can('builder');
	for my $g (@instances) {
		eval { $g->_cleanup($failed); 1 } or warn "Galera cleanup: $@";
	}
}

1;
