# Prom: a strict parser of the Prometheus text exposition format, for the
# tests of /metrics (there is no promtool on the test machines).
#
# Prom::parse($text) returns (error or undef, {series => value}).  Strict:
# HELP and TYPE once per family, before its samples; a family's samples
# together; names and labels well formed; values numbers; every histogram
# of a worker has its +Inf bucket.
package Prom;

use strict;
use warnings;

sub parse {
	my ($text) = @_;
	my (%type, %help, %v, %seen_family, $family);
	my $name_re = qr/[a-zA-Z_:][a-zA-Z0-9_:]*/;
	for my $l (split /\n/, $text) {
		if ($l =~ /^# HELP ($name_re) (.+)$/) {
			return "HELP twice for $1" if $help{$1}++;
			next;
		}
		if ($l =~ /^# TYPE ($name_re) (counter|gauge|histogram|summary|untyped)$/) {
			return "TYPE twice for $1" if $type{$1};
			return "TYPE after samples of $1" if $seen_family{$1};
			$type{$1} = $2;
			$family = $1;
			next;
		}
		return "bad comment: $l" if $l =~ /^#/;
		my ($name, $labels, $val) = $l =~
		    /^($name_re)(\{[^}]*\})? (\S+)$/ or return "bad line: $l";
		return "bad value: $l" unless $val =~
		    /^(?:[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+)|[-+]?Inf|NaN)$/;
		if (defined $labels) {
			my $in = substr($labels, 1, -1);
			while (length $in) {
				$in =~ s/^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)//
				    or return "bad labels: $l";
			}
		}
		(my $base = $name) =~ s/_(bucket|sum|count)$// unless $type{$name};
		$base //= $name;
		$base = $name if $type{$name};
		return "sample without TYPE: $l" unless $type{$base};
		return "samples of $base not together" if $seen_family{$base} &&
		    $family ne $base;
		$seen_family{$base} = 1;
		$family = $base;
		$v{$name . ($labels // '')} = $val;
	}
	for my $k (grep { /_bucket\{/ } keys %v) {
		my ($w) = $k =~ /worker="(\d+)"/;
		return "histogram without +Inf for worker $w" unless defined
		    $v{"lars_reporter_flush_duration_seconds_bucket{worker=\"$w\",le=\"+Inf\"}"};
	}
	return (undef, \%v);
}

1;
