#!/usr/bin/env bash
# Runs the virtio-blk backends alone (BenchmarkBackend in
# devices/virtio/block) and fio's io_uring engine on the same O_DIRECT file
# with the same jobs, interleaved over several rounds, and prints the median
# of each side by side with ratios and the backends' allocs/op. Usage:
#   scripts/bench-blk-backend.sh [seconds-per-run] [rounds]   (default 5, 5)
# Environment:
#   BLK_BENCH_FILE  the file (default /var/tmp/vmm-blk-bench.dat, on a real
#                   disk: O_DIRECT does not work on tmpfs)
#   BLK_BENCH_SIZE  its size in bytes (default 1 GiB)
#   WORKLOADS       default "randread4k-qd1 randread4k-qd32 seqread1m-qd8 seqwrite1m-qd8"
#   ENGINES         columns, default "device uring": "device" is the whole
#                   virtio-blk device (BenchmarkDevice: queue, worker, io_uring
#                   backend, driven in-process through its rings); the others
#                   are BenchmarkBackend engines, the backend alone: uring,
#                   uring-eager, uring-fixed, uring-coop, sync
#
# The host's disk rate drifts by tens of percent between runs, so one run of
# each proves little: every round runs fio and each engine once, fio first in
# odd rounds and last in even ones, and the table shows medians (and the
# min-max of each column below it). Every single run holds
# /tmp/vmm-bench.lock (flock), so other benchmarks on this machine interleave
# between runs but never overlap one.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-5}
rounds=${2:-5}
file=${BLK_BENCH_FILE:-/var/tmp/vmm-blk-bench.dat}
size=${BLK_BENCH_SIZE:-$((1 << 30))}
workloads=${WORKLOADS:-"randread4k-qd1 randread4k-qd32 seqread1m-qd8 seqwrite1m-qd8"}
engines=${ENGINES:-"device uring"}
lock=/tmp/vmm-bench.lock
export BLK_BENCH_FILE=$file BLK_BENCH_SIZE=$size

if ! command -v fio >/dev/null; then
  echo "installing fio..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq fio >/dev/null
fi

# Lay the file out once, written rather than sparse, so reads reach the disk.
if [ ! -f "$file" ] || [ "$(stat -c %s "$file")" -lt "$size" ]; then
  echo "writing $size-byte test file $file..." >&2
  flock "$lock" dd if=/dev/urandom of="$file" bs=1M count=$((size >> 20)) conv=fsync status=none
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Compile once, outside the lock, so a run measures only the benchmark.
go test -c -o "$tmp/block.test" ./devices/virtio/block

# fio job for each workload: the same request size, depth and pattern as
# BenchmarkBackend's (its benchWorkloads table).
fio_args() {
  case $1 in
  randread4k-qd1) echo "--rw=randread --bs=4k --iodepth=1 --randrepeat=0 --norandommap" ;;
  randread4k-qd32) echo "--rw=randread --bs=4k --iodepth=32 --randrepeat=0 --norandommap" ;;
  seqread1m-qd8) echo "--rw=read --bs=1M --iodepth=8" ;;
  seqwrite1m-qd8) echo "--rw=write --bs=1M --iodepth=8" ;;
  *) echo "unknown workload $1" >&2; exit 2 ;;
  esac
}

# Prints "iops MB/s allocs cpu-ns/op" of one fio run (MB = 10^6 bytes, as
# Go's benchmarks; CPU = fio's usr+sys share of the run, per I/O).
fio_run() { # workload
  # shellcheck disable=SC2046
  flock "$lock" fio --name="$1" --filename="$file" --size="$size" --ioengine=io_uring \
    --direct=1 $(fio_args "$1") --numjobs=1 --runtime="$secs" --time_based \
    --output-format=json | python3 -c '
import json, sys
j = json.load(sys.stdin)["jobs"][0]
d = j["write"] if j["write"]["io_bytes"] > 0 else j["read"]
cpu = (j["usr_cpu"] + j["sys_cpu"]) / 100 * j["job_runtime"] * 1e6 / max(d["total_ios"], 1)
print(int(d["iops"]), round(d["bw_bytes"] / 1e6, 1), "-", int(cpu))'
}

# Prints "iops MB/s allocs/op cpu-ns/op" of one Go run.
go_run() { # workload engine
  local bench="^BenchmarkBackend\$/^$2\$/^$1\$"
  [ "$2" = device ] && bench="^BenchmarkDevice\$/^$1\$"
  flock "$lock" "$tmp/block.test" -test.run '^$' -test.bench "$bench" \
    -test.benchtime "${secs}s" -test.count 1 |
    awk '$1 ~ /^Benchmark(Backend|Device)/ {
      for (i = 2; i < NF; i++) {
        if ($(i+1) == "IOPS") iops = $i
        if ($(i+1) == "MB/s") mbs = $i
        if ($(i+1) == "allocs/op") allocs = $i
        if ($(i+1) == "cpu-ns/op") cpu = $i
      }
      printf "%d %s %s %d\n", iops, mbs, allocs, cpu; exit
    }'
}

res=$tmp/results # "workload column iops mbs allocs cpu" per run
for w in $workloads; do
  for ((r = 1; r <= rounds; r++)); do
    if ((r % 2)); then order="fio $engines"; else order="$engines fio"; fi
    for c in $order; do
      if [ "$c" = fio ]; then out=$(fio_run "$w"); else out=$(go_run "$w" "$c"); fi
      echo "$w round $r $c: $out (IOPS MB/s allocs/op cpu-ns/op)" >&2
      echo "$w $c $out" >>"$res"
    done
  done
done

echo
python3 - "$res" "$workloads" "fio $engines" "$secs" "$rounds" <<'EOF'
import statistics, sys
res, wls, cols, secs, rounds = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4], sys.argv[5]
runs = {}
allocs = {}
for line in open(res):
    w, c, iops, mbs, al, cpu = line.split()
    runs.setdefault((w, c), []).append((int(iops), float(mbs), int(cpu)))
    if al != "-":
        allocs.setdefault((w, c), set()).add(al)
print(f"median of {rounds} interleaved runs of {secs} s; ratio = median/median(fio)")
print("| workload | unit | " + " | ".join(cols) + " | " + " | ".join(f"{c}/fio" for c in cols[1:]) +
      " | " + " | ".join(f"{c} allocs/op" for c in cols[1:]) +
      " | " + " | ".join(f"{c} CPU µs/op" for c in cols) + " |")
print("|---|---|" + "---:|" * (4 * len(cols) - 2))
for w in wls:
    k = 0 if w.startswith("randread") else 1  # IOPS for small random reads, MB/s for 1 MiB
    unit = "IOPS" if k == 0 else "MB/s"
    med = {c: statistics.median(x[k] for x in runs[(w, c)]) for c in cols}
    cells = [f"{med[c]:,.0f}" for c in cols] + [f"{med[c] / med['fio']:.2f}" for c in cols[1:]]
    cells += ["/".join(sorted(allocs.get((w, c), {"?"}))) for c in cols[1:]]
    cells += [f"{statistics.median(x[2] for x in runs[(w, c)]) / 1000:.1f}" for c in cols]
    print(f"| {w} | {unit} | " + " | ".join(cells) + " |")
print()
for w in wls:
    k = 0 if w.startswith("randread") else 1
    print(f"{w} min-max: " + ", ".join(
        f"{c} {min(x[k] for x in runs[(w, c)]):,.0f}-{max(x[k] for x in runs[(w, c)]):,.0f}" for c in cols))
EOF
