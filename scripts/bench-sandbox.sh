#!/bin/sh
# The sandbox's cost on the hot path: the tiny kernel's latency case (a
# port-I/O and an MMIO exit round trip, timed by the guest's TSC over
# 20,000 exits each) under --seccomp=kill and --seccomp=off, interleaved,
# ROUNDS rounds each (default 11), and the median of each side by side.
# Every KVM_RUN and every other system call passes the BPF filter under
# kill, so this is where its cost would show.
#
#   scripts/bench-sandbox.sh [ROUNDS]     (after make build)
set -eu
rounds=${1:-11}
vmm=${VMM:-bin/vmm}
[ -x "$vmm" ] || { echo "bench-sandbox: $vmm not found: run make build first" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
i=0
while [ "$i" -lt "$rounds" ]; do
	for mode in kill off; do
		out=$("$vmm" run --seccomp=$mode --landlock=false --test-exit --cmdline test=latency 2>&1) || {
			echo "bench-sandbox: vmm run --seccomp=$mode failed:" >&2; echo "$out" >&2; exit 1; }
		echo "$out" | sed -n 's/^latency: pio \([0-9.]*\) ns per exit.*/\1/p' >>"$tmp/pio-$mode"
		echo "$out" | sed -n 's/^latency: mmio \([0-9.]*\) ns per exit.*/\1/p' >>"$tmp/mmio-$mode"
	done
	i=$((i + 1))
done
median() { sort -n "$1" | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else printf "%.1f\n", (v[NR/2]+v[NR/2+1])/2}'; }
printf '%-28s %12s %12s %8s\n' "median of $rounds runs (ns)" "seccomp=kill" "seccomp=off" "kill/off"
for kind in pio mmio; do
	k=$(median "$tmp/$kind-kill"); o=$(median "$tmp/$kind-off")
	printf '%-28s %12s %12s %8s\n' "exit round trip, $kind" "$k" "$o" "$(awk -v k="$k" -v o="$o" 'BEGIN {printf "%.3f", k/o}')"
done
