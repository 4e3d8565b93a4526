#!/usr/bin/env bash
# Boot our Linux guest several times under vmm and print, per run and as a
# median: the wall time from starting `vmm run` to the console line
# "Run /init as init process", the kernel's own timestamp on that line, and
# the total runtime until vmm exits (after the guest's reset).
#
#   scripts/boot-time.sh [--runs N] [--cpus N] [KERNEL [INITRD]]
#
# KERNEL/INITRD default to our own kernel (scripts/guest-linux.sh build).
# Console lines are timestamped as they arrive; logs stay in build/boot-time/.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
runs=3
cpus=1
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) break ;;
  esac
done
if [ $# -ge 1 ]; then
  kernel=$1
  initrd=${2:-}
else
  dir=$(scripts/guest-linux.sh build)
  kernel=$dir/vmlinux
  initrd=$dir/initramfs.cpio.gz
fi
[ -x bin/vmm ] || make build >/dev/null
logs=$repo/build/boot-time
mkdir -p "$logs"

args=(run --kernel "$kernel" --mem 512M --cpus "$cpus" --cmdline "console=ttyS0 reboot=k panic=-1" --log-level info)
[ -n "$initrd" ] && args+=(--initrd "$initrd")

# median prints the middle of its numeric arguments (the lower middle for
# an even count).
median() {
  printf '%s\n' "$@" | sort -n | sed -n "$(((($# + 1) / 2)))p"
}

to_init=()
kernel_init=()
total=()
for i in $(seq 1 "$runs"); do
  out=$logs/run$i.console
  start=$EPOCHREALTIME
  # Each console line gets the seconds since start at which it arrived.
  set +e
  bin/vmm "${args[@]}" 2>"$logs/run$i.log" </dev/null |
    while IFS= read -r line; do
      printf '%s %s\n' "$(echo "$EPOCHREALTIME - $start" | bc)" "$line"
    done >"$out"
  rc=${PIPESTATUS[0]}
  set -e
  end=$(echo "$EPOCHREALTIME - $start" | bc)
  line=$(grep -a -m1 'Run /init as init process' "$out" || true)
  if [ -z "$line" ]; then
    echo "run $i: no 'Run /init' after ${end}s (exit $rc); last line: $(tail -n1 "$out")" >&2
    exit 1
  fi
  t=${line%% *}
  k=$(echo "$line" | sed -n 's/^[^ ]* \[ *\([0-9.]*\)\].*/\1/p')
  printf 'run %d: Run /init at %6.2f s (kernel clock %s s), vmm exited %d after %6.2f s\n' "$i" "$t" "${k:-?}" "$rc" "$end"
  to_init+=("$t")
  kernel_init+=("${k:-0}")
  total+=("$end")
done
printf 'median of %d (cpus=%d): Run /init at %.2f s (kernel clock %.2f s), total %.2f s\n' \
  "$runs" "$cpus" "$(median "${to_init[@]}")" "$(median "${kernel_init[@]}")" "$(median "${total[@]}")"
