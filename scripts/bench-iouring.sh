#!/usr/bin/env bash
# Runs the iouring package's 4 KiB O_DIRECT random-read benchmark and fio's
# io_uring engine with the same parameters on the same file, and prints the
# IOPS side by side; ratio is plain vmm/iouring over fio. Usage:
#   scripts/bench-iouring.sh [seconds-per-run]      (default 10)
# Environment: IOURING_BENCH_FILE (default /var/tmp/vmm-iouring-bench.dat),
# IOURING_BENCH_SIZE in bytes (default 1 GiB), QDS (default "1 8 32").
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-10}
file=${IOURING_BENCH_FILE:-/var/tmp/vmm-iouring-bench.dat}
size=${IOURING_BENCH_SIZE:-$((1 << 30))}
qds=${QDS:-"1 8 32"}
export IOURING_BENCH_FILE=$file IOURING_BENCH_SIZE=$size

if ! command -v fio >/dev/null; then
  echo "installing fio..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq fio >/dev/null
fi

# Lay the file out once (written, not sparse, so reads reach the disk).
if [ ! -f "$file" ] || [ "$(stat -c %s "$file")" -lt "$size" ]; then
  echo "writing $size-byte test file $file..." >&2
  dd if=/dev/urandom of="$file" bs=1M count=$((size >> 20)) conv=fsync status=none
fi

gobench=$(mktemp)
trap 'rm -f "$gobench"' EXIT

fio_iops() { # qd
  fio --name=randread --filename="$file" --size="$size" --ioengine=io_uring \
    --direct=1 --rw=randread --bs=4k --iodepth="$1" --numjobs=1 \
    --runtime="$secs" --time_based --randrepeat=0 --norandommap \
    --output-format=json | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["jobs"][0]["read"]["iops"]))'
}

go_iops() { # qd suffix
  awk -v name="BenchmarkRandRead4K/QD$1$2-" 'index($1, name) == 1 {
      for (i = 2; i < NF; i++) if ($(i+1) == "IOPS") { printf "%d\n", $i; exit } }' "$gobench"
}

rows=$(printf '%-6s %10s %12s %10s %14s %8s' "QD" "fio IOPS" "vmm/iouring" "+fixed" "+deferTaskrun" "ratio")
# Interleaved per queue depth, so the Go and fio runs of one row see the
# same machine load.
for qd in $qds; do
  go test -run '^$' -bench "RandRead4K/^QD$qd\$" -benchtime "${secs}s" -count=1 ./iouring >"$gobench"
  grep IOPS "$gobench" >&2
  f=$(fio_iops "$qd")
  g=$(go_iops "$qd" "")
  gf=$(go_iops "$qd" "/fixed")
  gd=$(go_iops "$qd" "/deferTaskrun")
  ratio=$(python3 -c "print(f'{$g/$f:.2f}')")
  rows+=$'\n'$(printf '%-6s %10s %12s %10s %14s %8s' "$qd" "$f" "$g" "$gf" "$gd" "$ratio")
done
echo
echo "$rows"
