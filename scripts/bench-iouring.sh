#!/usr/bin/env bash
# Runs the iouring package's 4 KiB O_DIRECT random-read benchmark and fio's
# io_uring engine with the same parameters on the same file, interleaved over
# several rounds per queue depth, and prints the median IOPS of each; ratio
# is median(vmm/iouring plain) over median(fio). Usage:
#   scripts/bench-iouring.sh [seconds-per-run] [rounds]   (default 5, 5)
# Environment: IOURING_BENCH_FILE (default /var/tmp/vmm-iouring-bench.dat),
# IOURING_BENCH_SIZE in bytes (default 1 GiB), QDS (default "1 8 32"),
# VARIANTS (BenchmarkRandRead4K sub-benchmarks, default
# "plain fixed deferTaskrun locked perSQE fioLike").
#
# The outer host's disk rate drifts from one run to the next, so one fio run
# beside one Go run proves little. Each round runs fio and every Go variant
# once, fio first in odd rounds and last in even ones, so a drift does not
# favour one side. Every single run holds /tmp/vmm-bench.lock (flock), so
# other engineers' benchmarks interleave between runs but never overlap one.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-5}
rounds=${2:-5}
file=${IOURING_BENCH_FILE:-/var/tmp/vmm-iouring-bench.dat}
size=${IOURING_BENCH_SIZE:-$((1 << 30))}
qds=${QDS:-"1 8 32"}
variants=${VARIANTS:-"plain fixed deferTaskrun locked perSQE fioLike"}
lock=/tmp/vmm-bench.lock
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

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Compile once, outside the lock, so a run measures only the benchmark.
go test -c -o "$tmp/iouring.test" ./iouring

# fio's defaults here (fio 3.33): iodepth_batch_submit=1 (one io_uring_enter
# per I/O, with GETEVENTS), iodepth_batch_complete_min=1, no registered
# files or buffers, setup flags CQSIZE|COOP_TASKRUN|SINGLE_ISSUER|DEFER_TASKRUN
# (seen with strace).
fio_iops() { # qd
  flock "$lock" fio --name=randread --filename="$file" --size="$size" --ioengine=io_uring \
    --direct=1 --rw=randread --bs=4k --iodepth="$1" --numjobs=1 \
    --runtime="$secs" --time_based --randrepeat=0 --norandommap \
    --output-format=json | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["jobs"][0]["read"]["iops"]))'
}

go_iops() { # qd variant
  flock "$lock" "$tmp/iouring.test" -test.run '^$' -test.bench "RandRead4K/^QD$1\$/^$2\$" \
    -test.benchtime "${secs}s" -test.count 1 |
    awk '$1 ~ /^BenchmarkRandRead4K/ { for (i = 2; i < NF; i++) if ($(i+1) == "IOPS") { printf "%d\n", $i; exit } }'
}

# results file: "qd column iops" per run.
res=$tmp/results
for qd in $qds; do
  for ((r = 1; r <= rounds; r++)); do
    if ((r % 2)); then order="fio $variants"; else order="$variants fio"; fi
    for v in $order; do
      if [ "$v" = fio ]; then n=$(fio_iops "$qd"); else n=$(go_iops "$qd" "$v"); fi
      echo "QD$qd round $r $v: $n IOPS" >&2
      echo "$qd $v $n" >>"$res"
    done
  done
done

echo
python3 - "$res" "$qds" "fio $variants" "$secs" "$rounds" <<'EOF'
import statistics, sys
res, qds, cols, secs, rounds = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4], sys.argv[5]
runs = {}
for line in open(res):
    qd, col, n = line.split()
    runs.setdefault((qd, col), []).append(int(n))
print(f"median of {rounds} interleaved runs of {secs} s; ratio = median/median(fio); min-max below")
print("| QD | " + " | ".join(cols) + " | " + " | ".join(f"{c}/fio" for c in cols[1:]) + " |")
print("|---:" * (2 * len(cols)) + "|")
for qd in qds:
    med = {c: statistics.median(runs[(qd, c)]) for c in cols}
    cells = [f"{med[c]:,.0f}" for c in cols] + [f"{med[c] / med['fio']:.2f}" for c in cols[1:]]
    print(f"| {qd} | " + " | ".join(cells) + " |")
for qd in qds:
    print(f"QD{qd} ranges: " + ", ".join(f"{c} {min(runs[(qd, c)]):,}-{max(runs[(qd, c)]):,}" for c in cols))
EOF
