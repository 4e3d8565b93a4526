#!/bin/sh
# The sandbox's cost on the hot path: the tiny kernel's latency case (a
# port-I/O and an MMIO exit round trip, timed by the guest's TSC over
# 20,000 exits each) under --seccomp=kill and --seccomp=off, interleaved,
# ROUNDS rounds each (default 11), and the median of each side by side.
# Every KVM_RUN and every other system call passes the BPF filter under
# kill, so this is where its cost would show. Then the tiny kernel's
# blk_perf case on an O_DIRECT image with the whole sandbox (the default:
# seccomp kill, Landlock, no capabilities) against none, for block IOPS.
#
#   scripts/bench-sandbox.sh [ROUNDS]     (after make build)
# BLK_IMAGE: the image (default /var/tmp/vmm-sandbox-bench.img, written
# once, 64 MiB, on a real disk: O_DIRECT does not work on tmpfs).
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
img=${BLK_IMAGE:-/var/tmp/vmm-sandbox-bench.img}
if [ ! -f "$img" ]; then
	dd if=/dev/urandom of="$img" bs=1M count=64 conv=fsync status=none
fi
i=0
while [ "$i" -lt "$rounds" ]; do
	for mode in on off; do
		if [ "$mode" = on ]; then flags=""; else flags="--seccomp=off --landlock=false"; fi
		# shellcheck disable=SC2086
		out=$("$vmm" run $flags --test-exit --cmdline test=blk_perf --disk "$img,direct" 2>&1) || {
			echo "bench-sandbox: blk_perf with the sandbox $mode failed:" >&2; echo "$out" >&2; exit 1; }
		for job in "randread 4k qd1" "randread 4k qd32" "randwrite 4k qd32"; do
			f=$(echo "$job" | tr ' ' '-')
			echo "$out" | sed -n "s/^blk_perf: $job: .* \([0-9]*\) IOPS.*/\1/p" >>"$tmp/$f-$mode"
		done
	done
	i=$((i + 1))
done
median() { sort -n "$1" | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else printf "%.1f\n", (v[NR/2]+v[NR/2+1])/2}'; }
printf '%-28s %12s %12s %8s\n' "median of $rounds runs (ns)" "seccomp=kill" "seccomp=off" "kill/off"
for kind in pio mmio; do
	k=$(median "$tmp/$kind-kill"); o=$(median "$tmp/$kind-off")
	printf '%-28s %12s %12s %8s\n' "exit round trip, $kind" "$k" "$o" "$(awk -v k="$k" -v o="$o" 'BEGIN {printf "%.3f", k/o}')"
done
printf '%-28s %12s %12s %8s\n' "median of $rounds runs (IOPS)" "sandbox on" "sandbox off" "on/off"
for job in randread-4k-qd1 randread-4k-qd32 randwrite-4k-qd32; do
	k=$(median "$tmp/$job-on"); o=$(median "$tmp/$job-off")
	printf '%-28s %12s %12s %8s\n' "blk_perf $job" "$k" "$o" "$(awk -v k="$k" -v o="$o" 'BEGIN {printf "%.3f", k/o}')"
done
